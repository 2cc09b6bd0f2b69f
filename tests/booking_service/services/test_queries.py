"""Read-only dashboard queries: the data fingerprint and the listings."""

from __future__ import annotations

import datetime as dt

import pytest

from booking_service.services import queries
from booking_service.store.models import (
    BusyBlock,
    CalendarConnection,
    Invitation,
    Meeting,
    OutboxMessage,
    Reservation,
    ResourcePool,
    Room,
    TeamMember,
    User,
    WorkingHours,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _org(session):
    ada = TeamMember(name="Ada", zone="Europe/Berlin")
    bob = TeamMember(name="Bob", zone="Europe/Berlin", active=False)
    blue = Room(name="Blue", zone="Europe/Berlin", capacity=4)
    session.add_all([ada, bob, blue])
    session.flush()
    ada.hours.append(WorkingHours(weekday=0, start_minute=540, end_minute=1020))
    session.add(ResourcePool(name="Sales", members=[ada, bob]))
    session.commit()
    return ada, bob, blue


def _meeting(session, member, start, n):
    invitation = Invitation(
        token_hash=f"{n:064d}", customer_name=f"C{n}", customer_email="c@example.com", subject="Intro",
        duration_minutes=30, frame_start=start.date(), frame_end=start.date(), zone="Europe/Berlin",
        status="scheduled",
    )
    meeting = Meeting(
        invitation=invitation, start=start, end=start + dt.timedelta(minutes=30), uid=f"uid-{n}",
        customer_name=f"C{n}", customer_email="c@example.com",
    )
    meeting.reservations.append(Reservation(resource_id=member.id, start=meeting.start, end=meeting.end))
    session.add(meeting)
    session.commit()
    return meeting


def test_data_version_changes_with_availability_data(session):
    ada, _bob, _blue = _org(session)
    v0 = queries.data_version(session)
    assert queries.data_version(session) == v0
    connection = CalendarConnection(resource_id=ada.id, kind="demo", name="Work")
    session.add(connection)
    session.commit()
    block = BusyBlock(connection_id=connection.id, resource_id=ada.id, start=T0, end=T0 + dt.timedelta(hours=1))
    session.add(block)
    session.commit()
    v1 = queries.data_version(session)
    assert v1 != v0
    session.delete(block)
    session.commit()
    v2 = queries.data_version(session)
    assert v2 != v1
    meeting = _meeting(session, ada, T0, 1)
    v3 = queries.data_version(session)
    assert v3 != v2
    meeting.reservations.clear()
    meeting.status = "cancelled"
    session.commit()
    assert queries.data_version(session) != v3
    connection.last_synced_at = T0
    session.commit()
    assert queries.data_version(session) not in {v0, v1, v2, v3}


def test_listings(session):
    ada, bob, blue = _org(session)
    admin = User(email="admin@example.com", name="Admin", zone="Europe/London", role="admin")
    session.add(admin)
    assert [m.name for m in queries.team_members(session)] == ["Ada"]
    assert [m.name for m in queries.team_members(session, include_inactive=True)] == ["Ada", "Bob"]
    assert [r.name for r in queries.rooms(session)] == ["Blue"]
    assert [[m.name for m in p.members] for p in queries.pools(session)] == [["Ada", "Bob"]]
    early = _meeting(session, ada, T0, 1)
    late = _meeting(session, bob, T0 + dt.timedelta(days=2), 2)
    assert [m.id for m in queries.meetings(session, admin)] == [early.id, late.id]
    assert [m.id for m in queries.meetings(session, admin, resource_id=bob.id)] == [late.id]
    assert [m.id for m in queries.meetings(session, admin, start=T0 + dt.timedelta(hours=1))] == [late.id]
    assert [m.id for m in queries.meetings(session, admin, end=T0 + dt.timedelta(hours=1))] == [early.id]
    assert queries.invitations(session, admin) == []
    assert len(queries.invitations(session, admin, status="scheduled")) == 2
    assert queries.invitations(session, None, status="scheduled") == []  # nobody signed in sees nothing
    assert queries.meetings(session, None) == []
    with pytest.raises(ValueError, match="naive"):
        queries.meetings(session, admin, start=dt.datetime(2026, 12, 1))
    session.add_all(
        [
            OutboxMessage(kind="invitation", to_addr="a@example.com", subject="s1", body_text="t", created_at=T0),
            OutboxMessage(kind="invitation", to_addr="b@example.com", subject="s2", body_text="t",
                          created_at=T0 + dt.timedelta(minutes=1), status="sent"),
        ]
    )
    session.commit()
    assert [m.subject for m in queries.outbox_messages(session, admin)] == ["s2", "s1"]
    assert [m.subject for m in queries.outbox_messages(session, admin, status="pending")] == ["s1"]


def test_lookups_by_id_and_planner_inputs(session):
    ada, bob, blue = _org(session)
    session.commit()
    assert queries.resource(session, ada.id) is ada and queries.resource(session, blue.id) is blue
    assert queries.resource(session, 10_000) is None and queries.calendar_connection(session, 10_000) is None
    inputs = queries.planner_inputs(session, start=T0)
    # Inactive members (Bob) are left out of availability.
    assert set(inputs.resources["resource_id"]) == {str(ada.id), str(blue.id)}
