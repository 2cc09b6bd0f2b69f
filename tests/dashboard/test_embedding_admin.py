"""The team page's Embedding tab: an admin edits the sites that may frame the booking pages; nobody else sees it."""

from __future__ import annotations

from sqlalchemy import select

from booking_service.services import embedding
from booking_service.store.db import session_scope
from booking_service.store.models import AuditEntry, User

from .conftest import open_page


def _tabs(at) -> list[str]:
    return [t.label for t in at.tabs]


def test_an_admin_saves_the_sites_and_sees_them_as_stored(org, engine):
    at = open_page(org, "team")
    assert "Embedding" in _tabs(at)
    assert at.text_area(key="embed-origins").value == ""
    at.text_area(key="embed-origins").input("https://WWW.Example.com/\nhttps://shop.example.com:8443")
    at.button(key="FormSubmitter:embed-origins-form-Save sites").click().run()
    assert not at.exception, at.exception
    assert "2 sites may embed the booking pages." in [s.value for s in at.success]
    assert at.text_area(key="embed-origins").value == "https://www.example.com\nhttps://shop.example.com:8443"
    with session_scope(engine) as s:
        assert embedding.organisation_origins(s) == ("https://www.example.com", "https://shop.example.com:8443")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "team.embed_origins")).one()
        assert entry.user_id == org.admin_id


def test_a_bad_site_is_refused_with_the_services_words_and_nothing_saved(org, engine):
    at = open_page(org, "team")
    at.text_area(key="embed-origins").input("https://www.example.com/booking")
    at.button(key="FormSubmitter:embed-origins-form-Save sites").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "allowed origin 'https://www.example.com/booking' is not a web origin; write it as http(s)://host with an "
        "optional port and nothing after it, e.g. https://www.example.com or https://example.com:8443"]
    with session_scope(engine) as s:
        assert embedding.organisation_origins(s) == ()


def test_the_installations_own_sites_are_shown_beside_the_list(org, monkeypatch):
    monkeypatch.setenv("EMBED_ALLOWED_ORIGINS", "https://partner.example.org")
    at = open_page(org, "team")
    assert any("EMBED_ALLOWED_ORIGINS" in c.value and "https://partner.example.org" in c.value for c in at.caption)
    at.button(key="FormSubmitter:embed-origins-form-Save sites").click().run()
    assert not at.exception
    assert "No site may embed the booking pages beyond the installation's." in [s.value for s in at.success]


def test_a_scheduler_does_not_see_the_setting(org, engine):
    with session_scope(engine) as s:
        sue = User(email="sue@example.com", name="Sue", zone="Europe/London", role="scheduler")
        s.add(sue)
        s.flush()
        sue_id = sue.id
    at = open_page(org, "team", sue_id)
    assert "Embedding" not in _tabs(at)
    assert not [t for t in at.text_area if t.key == "embed-origins"]
