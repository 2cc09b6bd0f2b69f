"""A small organisation for booking tests: members, a pool, rooms, a scheduler, and drafts.

Everyone works Monday to Friday 09:00-17:00 Europe/Berlin; rooms are open 08:00-18:00. Dates are
computed from a given ``now`` so that frames are always in the future, also for the web tests
that run against the real clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from booking_service.services.invitations import InvitationDraft
from booking_service.store import loader
from booking_service.store.models import (
    BusyBlock,
    CalendarConnection,
    ResourcePool,
    Room,
    TeamMember,
    User,
    WorkingHours,
)

ZONE = "Europe/Berlin"
SECRET_KEY = "test-secret-key"
"""The ``SECRET_KEY`` of the tests' installation (the ``app`` fixture's too): queued mail is encrypted with it."""


@dataclass(frozen=True)
class Org:
    """Ids of the test organisation."""

    ana: int
    ben: int
    cleo: int
    dan: int
    pool: int
    small_room: int
    large_room: int
    scheduler: int


def _hours(resource, start: int, end: int) -> None:
    resource.hours = [WorkingHours(weekday=d, start_minute=start, end_minute=end) for d in range(5)]


def make_org(session: Session) -> Org:
    """Create the organisation and commit it."""
    people = {}
    for name in ("Ana", "Ben", "Cleo", "Dan"):
        member = TeamMember(name=name, email=f"{name.lower()}@team.example", zone=ZONE)
        _hours(member, 9 * 60, 17 * 60)
        people[name] = member
    small = Room(name="Small room", zone=ZONE, capacity=2, email="small@rooms.example")
    large = Room(name="Large room", zone=ZONE, capacity=8)
    for room in (large, small):  # large first: lower id, so "smallest" is not "lowest id"
        _hours(room, 8 * 60, 18 * 60)
    pool = ResourcePool(name="Sales", members=[people["Cleo"], people["Dan"]])
    user = User(email="sam@example.com", name="Sam Scheduler", zone=ZONE, role="scheduler")
    session.add_all([*people.values(), large, small, pool, user])
    session.commit()
    return Org(
        ana=people["Ana"].id,
        ben=people["Ben"].id,
        cleo=people["Cleo"].id,
        dan=people["Dan"].id,
        pool=pool.id,
        small_room=small.id,
        large_room=large.id,
        scheduler=user.id,
    )


def next_monday(now: dt.datetime) -> dt.date:
    """The first Monday at least two days after ``now``'s date.

    Two days, so that a meeting on it is always more than the default 24-hour change cutoff
    away: on a Sunday the Monday after next (tomorrow would be inside the cutoff).
    """
    today = now.date()
    ahead = 7 - today.weekday()
    return today + dt.timedelta(days=ahead if ahead >= 2 else ahead + 7)


def draft(org: Org, now: dt.datetime, **changes) -> InvitationDraft:
    """A valid draft: Ana, 30 minutes, Monday to Friday of next week, Berlin."""
    monday = next_monday(now)
    base = InvitationDraft(
        customer_name="Ada Customer",
        customer_email="ada@customer.example",
        subject="Intro call",
        description="Let us talk about the project.",
        conferencing="https://meet.example/intro",
        duration_minutes=30,
        frame_start=monday,
        frame_end=monday + dt.timedelta(days=4),
        members=(org.ana,),
        zone=ZONE,
    )
    return replace(base, **changes)


def add_busy(session: Session, resource_id: int, start: dt.datetime, end: dt.datetime) -> None:
    """A busy block from a demo calendar connection of the resource."""
    connection = CalendarConnection(resource_id=resource_id, kind="demo", name="test calendar")
    connection.busy_blocks = [BusyBlock(resource_id=resource_id, start=start, end=end)]
    session.add(connection)
    session.commit()


def berlin(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``day`` at ``hour:minute`` Berlin wall clock, as UTC."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(ZONE)).astimezone(dt.UTC)


def blind_to_reservations(monkeypatch) -> None:
    """Make every busy read miss Slotwise's own reservations, as a re-check would if the locks had failed."""
    real = loader._busy_rows

    def without_reservations(*args, **kwargs):
        return [row for row in real(*args, **kwargs) if row[3] != "reservation"]

    monkeypatch.setattr(loader, "_busy_rows", without_reservations)
