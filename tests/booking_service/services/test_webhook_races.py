"""Racing transitions queue exactly the events of what happened: one per change that committed."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services import webhooks
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, User, WebhookDelivery

from ..factories import SECRET_KEY
from . import racing

ROUNDS = 12


def _subscribe(database_url: str) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        admin = User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin")
        session.add(admin)
        session.flush()
        webhooks.create_subscription(session, admin, "https://hooks.example.com/x", webhooks.EVENTS,
                                     secret_key=SECRET_KEY)
    engine.dispose()


def _events(database_url: str, world) -> list[list[str]]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        by_invitation = {r.invitation_id: [] for r in world}
        for row in rows:
            invitation_id = json.loads(row.payload)["data"]["invitation"]["id"]
            by_invitation.setdefault(invitation_id, []).append(row.event_type)
        statuses = {i.id: i.status for i in session.scalars(select(Invitation))}
    engine.dispose()
    return [(statuses[r.invitation_id], by_invitation[r.invitation_id]) for r in world]


def _race(database_url, left, right, *, booked=False):
    world = racing.make_world(database_url, ROUNDS, booked=booked)
    _subscribe(database_url)
    outcomes = racing.race(database_url, world, left, right)
    errors = [o for pair in outcomes for o in pair if o.startswith("error")]
    assert errors == [], errors[:3]
    print(f"{left.__name__} x {right.__name__}: {dict(Counter(outcomes))}")
    return _events(database_url, world)


@pytest.mark.timeout(180)
def test_confirm_races_cancel_invitation_and_one_event_tells_who_won(database_url):
    for status, events in _race(database_url, racing.confirm, racing.cancel_invitation):
        assert events == {"scheduled": ["meeting.confirmed"], "cancelled": ["invitation.cancelled"]}[status]
    assert racing.invariants(database_url) == []


@pytest.mark.timeout(180)
def test_cancel_meeting_twice_is_one_event(database_url):
    for status, events in _race(database_url, racing.cancel_meeting, racing.cancel_meeting, booked=True):
        assert (status, events) == ("cancelled", ["meeting.cancelled"])
    assert racing.invariants(database_url) == []


@pytest.mark.timeout(180)
def test_confirm_races_expire_and_one_event_tells_who_won(database_url):
    for status, events in _race(database_url, racing.confirm, racing.expire):
        assert events == {"scheduled": ["meeting.confirmed"], "expired": ["invitation.expired"]}[status]
    assert racing.invariants(database_url) == []
