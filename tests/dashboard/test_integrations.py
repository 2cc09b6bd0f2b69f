"""API keys and webhooks page: a key shown once and revoked, a webhook added, tested and its log."""

from __future__ import annotations

from sqlalchemy import select

from booking_service.services import api_keys
from booking_service.store.db import session_scope
from booking_service.store.models import ApiKey, WebhookDelivery, WebhookSubscription

from .conftest import open_page


def test_a_key_is_shown_once_stored_hashed_and_revoked(org, engine):
    at = open_page(org, "integrations")
    assert not at.exception and at.title[0].value == "API keys and webhooks"
    at.text_input(key="api-key-name").input("CRM sync")
    at.multiselect(key="api-key-scopes").select("write")
    at.button(key="FormSubmitter:api-key-new-Make key").click().run()
    assert not at.exception
    secret = at.code[0].value
    assert secret.startswith("sw_")
    with session_scope(engine) as s:
        key = s.scalars(select(ApiKey)).one()
        assert (key.name, key.scopes, key.key_hash) == ("CRM sync", ["read", "write"], api_keys.hash_key(secret))
        assert api_keys.authenticate(s, secret) is not None
    at.run()
    assert secret not in [c.value for c in at.code]
    at.button(key="api-key-revoke").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        assert api_keys.authenticate(s, secret) is None


def test_a_webhook_is_added_sent_a_test_event_and_shows_its_log(org, engine):
    at = open_page(org, "integrations")
    at.text_input(key="webhook-url").input("http://10.0.0.5/hook")
    at.button(key="FormSubmitter:webhook-new-Add webhook").click().run()
    assert "private, loopback" in at.error[0].value
    at.text_input(key="webhook-url").input("https://hooks.example.com/slotwise")
    at.button(key="FormSubmitter:webhook-new-Add webhook").click().run()
    assert not at.exception and at.code[0].value.startswith("whsec_")
    with session_scope(engine) as s:
        sub = s.scalars(select(WebhookSubscription)).one()
        assert sub.events == ["meeting.confirmed", "meeting.cancelled"]
    at.button(key=f"webhook-test-{sub.id}").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        assert s.scalars(select(WebhookDelivery.event_type)).all() == ["webhook.test"]
    assert at.dataframe[-1].value["event"].tolist() == ["webhook.test"]
