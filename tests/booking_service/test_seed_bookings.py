"""The demo seed's invitations and meetings come from the booking services themselves."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from booking_service.seed import seed_demo
from booking_service.store.models import Invitation, Meeting, OutboxMessage, PromotedSlot, Reservation

from .factories import SECRET_KEY

TODAY = dt.date(2026, 11, 23)


def test_demo_has_active_invitations_and_confirmed_meetings(session):
    summary = seed_demo(session, secret_key=SECRET_KEY, seed=7, today=TODAY, public_url="http://demo.example")
    session.commit()
    assert (summary.invitations, summary.meetings) == (4, 3)
    assert "4 active invitations, 3 confirmed meetings" in summary.describe()
    statuses = session.scalars(select(Invitation.status).order_by(Invitation.id)).all()
    assert sorted(statuses) == ["active"] * 4 + ["scheduled"] * 3
    meetings = session.scalars(select(Meeting)).all()
    assert len(meetings) == 3 and all(m.status == "confirmed" and m.reservations for m in meetings)
    assert all(m.start >= dt.datetime.combine(TODAY, dt.time(), dt.UTC) for m in meetings)
    assert session.scalar(select(func.count()).select_from(PromotedSlot)) > 0
    kinds = set(session.scalars(select(OutboxMessage.kind)))
    assert {"invitation", "confirmation", "notification"} <= kinds
    # Every reservation of a meeting holds the meeting's time plus its buffers.
    for meeting in meetings:
        invitation = meeting.invitation
        for hold in session.scalars(select(Reservation).where(Reservation.meeting_id == meeting.id)):
            assert hold.start == meeting.start - dt.timedelta(minutes=invitation.buffer_before_minutes)
            assert hold.end == meeting.end + dt.timedelta(minutes=invitation.buffer_after_minutes)
