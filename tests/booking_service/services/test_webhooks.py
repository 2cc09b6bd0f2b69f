"""Webhook events: every transition names its event, each is queued in the transaction of its change."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core.config import Settings
from booking_service.services import lifecycle, webhooks
from booking_service.services.booking import (
    cancel_by_customer,
    cancel_meeting,
    confirm_slot,
    reschedule_meeting,
)
from booking_service.services.invitations import (
    cancel_invitation,
    create_invitation,
    expire_invitations,
    resend_invitation,
)
from booking_service.store.db import session_scope
from booking_service.store.models import User, WebhookDelivery

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

UTC = dt.UTC


def test_every_transition_says_which_event_it_emits():
    assert set(lifecycle.TRANSITIONS) <= set(webhooks.TRANSITION_EVENTS)
    named = {e for e in webhooks.TRANSITION_EVENTS.values() if e is not None}
    assert named <= set(webhooks.EVENTS)
    emitting = {t for t, e in webhooks.TRANSITION_EVENTS.items() if e is not None}
    assert emitting <= set(webhooks.TRANSITION_ACTORS)
    assert set(webhooks.TRANSITION_ACTORS.values()) <= {"customer", "scheduler", "system"}


def test_the_events_of_each_transition(engine):
    with Session(engine, expire_on_commit=False) as session:
        org = make_org(session)
    with session_scope(engine) as session:
        webhooks.create_subscription(session, session.get(User, org.scheduler), "https://hooks.example.com/x",
                                     webhooks.EVENTS, secret_key=SECRET_KEY)
    now = dt.datetime.now(UTC)
    monday = next_monday(now)
    ids = []
    with session_scope(engine, write=True) as session:
        me = session.get(User, org.scheduler)
        for _ in range(4):
            ids.append(create_invitation(session, draft(org, now), by=me, public_url="http://x",
                                         secret_key=SECRET_KEY, deliver="links").invitation.id)
        resend_invitation(session, ids[0], by=me, public_url="http://x", secret_key=SECRET_KEY)
        cancel_invitation(session, ids[0], by=me, secret_key=SECRET_KEY)
        meeting = confirm_slot(session, ids[1], berlin(monday, 9), secret_key=SECRET_KEY).meeting
        cancel_meeting(session, meeting.id, by=me, secret_key=SECRET_KEY)
        anytime = Settings(change_cutoff_hours=0)
        moved = confirm_slot(session, ids[3], berlin(monday, 9), secret_key=SECRET_KEY).meeting
        reschedule_meeting(session, moved.id, berlin(monday, 11), secret_key=SECRET_KEY, settings=anytime)
        reschedule_meeting(session, moved.id, berlin(monday, 13), secret_key=SECRET_KEY, by=me)
        cancel_by_customer(session, moved.id, secret_key=SECRET_KEY, settings=anytime)
    with session_scope(engine, write=True) as session:
        expire_invitations(session, now + dt.timedelta(days=30))
    with Session(engine) as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    found = [(r.event_type, json.loads(r.payload)["data"]["invitation"]["id"]) for r in rows]
    assert found == [
        ("invitation.created", ids[0]), ("invitation.created", ids[1]), ("invitation.created", ids[2]),
        ("invitation.created", ids[3]),
        ("invitation.cancelled", ids[0]), ("meeting.confirmed", ids[1]), ("meeting.cancelled", ids[1]),
        ("meeting.confirmed", ids[3]), ("meeting.rescheduled", ids[3]), ("meeting.rescheduled", ids[3]),
        ("meeting.cancelled", ids[3]),
        ("invitation.expired", ids[2]),
    ]
    by = [json.loads(r.payload)["data"]["by"] for r in rows]
    # The customer moves the meeting, then its scheduler does: each move says who made it.
    assert by == ["scheduler"] * 5 + ["customer", "scheduler"] + ["customer", "customer", "scheduler", "customer"] + ["system"]
    assert json.loads(rows[-1].payload)["data"]["invitation"]["status"] == "expired"
    assert len({r.event_id for r in rows}) == len(rows)


@pytest.mark.parametrize(
    ("text", "allowed"),
    [("", ()), ("127.0.0.0/8", ("127.0.0.0/8",)), ("10.0.0.1, ::1", ("10.0.0.1/32", "::1/128"))],
)
def test_allow_list_setting(text, allowed):
    assert tuple(str(n) for n in webhooks.parse_networks(text)) == allowed


def test_addresses_allowed():
    assert webhooks.address_allowed("93.184.216.34")
    for private in ("127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "::1", "fc00::1", "0.0.0.0",
                    "::ffff:127.0.0.1"):
        assert not webhooks.address_allowed(private), private
    assert webhooks.address_allowed("127.0.0.1", webhooks.parse_networks("127.0.0.0/8"))
