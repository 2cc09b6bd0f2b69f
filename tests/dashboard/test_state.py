"""The dashboard's shared state: one data-version read per update, and the same counts as the service."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from booking_service.services import availability, invitations, queries
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import User, utcnow
from dashboard import state

from .conftest import SECRET_KEY


def _draft(org, **changes) -> invitations.InvitationDraft:
    today = utcnow().date()
    base = invitations.InvitationDraft(
        customer_name="Grace Hopper", customer_email="grace@example.com", subject="Introduction call",
        duration_minutes=30, frame_start=today + dt.timedelta(days=1), frame_end=today + dt.timedelta(days=10),
        members=(org.ada,), pools=(org.sales,), rooms=(org.blue,), min_capacity=2, zone="Europe/London",
    )
    return invitations.InvitationDraft(**{**base.__dict__, **changes})


def _counting_versions(monkeypatch) -> list[int]:
    reads: list[int] = []
    real = queries.data_version

    def counted(session):
        reads.append(1)
        return real(session)

    monkeypatch.setattr(queries, "data_version", counted)
    return reads


def test_a_live_update_reads_the_data_version_once_and_counts_like_the_service(org, monkeypatch):
    reads = _counting_versions(monkeypatch)
    now = utcnow()
    for buffer in (0, 5, 10):  # each a new draft: no cache hit
        draft = _draft(org, buffer_before_minutes=buffer)
        reads.clear()
        view = state.live_view(draft, None, now)
        assert len(reads) == 1
        engine = make_engine(org.url)
        with session_scope(engine) as s:
            spec = invitations.validate_draft(s, draft, by=None, now=now, default_zone="Europe/London")
            assert view.count == availability.count_slots_for(s, spec, now) > 0
            assert len(view.starts) == view.count
        engine.dispose()


def test_the_invitation_list_reads_the_data_version_once(org, monkeypatch):
    engine = make_engine(org.url)
    with session_scope(engine, write=True) as s:
        admin = s.get(User, org.admin_id)
        ids = tuple(
            invitations.create_invitation(
                s, _draft(org, customer_email=f"c{n}@example.com", duration_minutes=30 + 15 * n),
                secret_key=SECRET_KEY, by=admin, public_url="http://booking.test",
            ).invitation.id
            for n in range(3)
        )
    reads = _counting_versions(monkeypatch)
    monkeypatch.setattr(state, "current_user", lambda: SimpleNamespace(id=org.admin_id))
    counts = state.invitation_slot_counts(ids)
    assert len(reads) == 1
    assert set(counts) == set(ids)
    now = utcnow()
    with session_scope(engine) as s:
        for invitation_id in ids:
            invitation = s.get(invitations.Invitation, invitation_id)
            # The list is cached by the minute: allow for the count of a minute ago.
            assert counts[invitation_id] in {
                availability.count_slots_for(s, invitation, now),
                availability.count_slots_for(s, invitation, now - dt.timedelta(minutes=1)),
            }
    engine.dispose()
