"""Models: UTC round trips, and the database itself refusing double bookings."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, StatementError

from booking_service.store.models import (
    Invitation,
    Meeting,
    Reservation,
    Room,
    TeamMember,
    TeamSettings,
)

UTC = dt.UTC


def _invitation(token: str = "a" * 64) -> Invitation:
    return Invitation(
        token_hash=token,
        customer_name="Ada",
        customer_email="ada@example.com",
        subject="Intro",
        duration_minutes=30,
        frame_start=dt.date(2026, 12, 1),
        frame_end=dt.date(2026, 12, 5),
        zone="Europe/Berlin",
    )


def _meeting(invitation: Invitation, uid: str, start: dt.datetime) -> Meeting:
    return Meeting(
        invitation=invitation,
        start=start,
        end=start + dt.timedelta(minutes=30),
        uid=uid,
        customer_name="Ada",
        customer_email="ada@example.com",
    )


def test_instants_come_back_tz_aware_utc(session):
    berlin = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2026, 12, 1, 10, 0, tzinfo=berlin)
    inv = _invitation()
    session.add_all([inv, _meeting(inv, "uid-1", start)])
    session.commit()
    session.expunge_all()
    meeting = session.scalars(select(Meeting)).one()
    assert meeting.start.tzinfo is not None
    assert meeting.start.utcoffset() == dt.timedelta(0)
    assert meeting.start == dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_naive_instants_are_refused(session):
    inv = _invitation()
    session.add_all([inv, _meeting(inv, "uid-1", dt.datetime(2026, 12, 1, 10, 0))])
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()


def test_an_invitation_has_at_most_one_meeting(session):
    inv = _invitation()
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    session.add_all([inv, _meeting(inv, "uid-1", start)])
    session.commit()
    session.add(Meeting(invitation_id=inv.id, start=start, end=start + dt.timedelta(minutes=30),
                        uid="uid-2", customer_name="Ada", customer_email="ada@example.com"))
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.only_on("postgresql", reason="SQLite relies on the booking path's write lock; see the booking tests")
def test_overlapping_reservations_of_one_resource_are_refused_on_postgres(session):
    member = TeamMember(name="Bo", zone="Europe/Berlin")
    room = Room(name="Oak", zone="Europe/Berlin", capacity=6)
    first, second = _invitation("a" * 64), _invitation("b" * 64)
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    m1, m2 = _meeting(first, "uid-1", start), _meeting(second, "uid-2", start + dt.timedelta(minutes=20))
    session.add_all([member, room, first, second, m1, m2])
    session.flush()
    session.add(Reservation(meeting=m1, resource_id=member.id, start=start, end=start + dt.timedelta(minutes=30)))
    # Touching end to start is not an overlap (half-open intervals) ...
    session.add(Reservation(meeting=m2, resource_id=member.id, start=start + dt.timedelta(minutes=30),
                            end=start + dt.timedelta(minutes=60)))
    # ... and another resource at the same time is fine.
    session.add(Reservation(meeting=m2, resource_id=room.id, start=start, end=start + dt.timedelta(minutes=30)))
    session.commit()
    session.add(Reservation(meeting=m2, resource_id=member.id, start=start + dt.timedelta(minutes=20),
                            end=start + dt.timedelta(minutes=50)))
    with pytest.raises(IntegrityError, match="ex_reservations_no_overlap"):
        session.commit()


def test_team_settings_are_read_once_per_session_row_or_not(session):
    """Until an admin changes a setting there is no row; a page asks twice (frame origins, a
    pool's policy) and the database is read once. The row a session creates is what it reads next."""
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(session.get_bind(), "before_cursor_execute", listen)
    try:
        assert TeamSettings.of(session) is None
        assert TeamSettings.of(session) is None
        assert len([s for s in statements if "team_settings" in s]) == 1
        row = TeamSettings.create(session)
        assert TeamSettings.of(session) is row
        session.flush()
        assert TeamSettings.of(session) is row and row.default_pool_policy == "pooled"
        assert row.embed_allowed_origins == ""
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listen)
