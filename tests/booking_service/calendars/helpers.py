"""Small builders shared by the calendar connector tests."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from booking_service.store.models import (
    CalendarConnection,
    Invitation,
    Meeting,
    Reservation,
    Resource,
    Room,
    TeamMember,
    User,
)

UTC = dt.UTC
SECRET_KEY = "test-secret-key"

ICS_FILES = Path(__file__).with_name("ics")
"""The calendars kept in the repository, in the layouts of real programs (see its README)."""

UNDEFINED_ZONE_ICS = ICS_FILES / "exchange-undefined-tzid.ics"
"""An Exchange calendar refused at line 60, DTSTART: TZID 'Customized Time Zone' is not defined."""


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def at(text: str) -> dt.datetime:
    """``"2024-10-08 13:00"`` as an aware UTC datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def spans(*pairs: tuple[str, str]) -> list[tuple[dt.datetime, dt.datetime]]:
    """Busy intervals written as ``("start", "end")`` UTC text pairs."""
    return [(at(start), at(end)) for start, end in pairs]


def ics(*events: str) -> str:
    """A calendar holding the given VEVENT blocks."""
    return "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Slotwise tests//EN", *events, "END:VCALENDAR", ""]
    )


def vevent(uid: str, start: dt.datetime, end: dt.datetime, *props: str) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20300101T000000Z",
            f"DTSTART:{start.strftime(fmt)}",
            f"DTEND:{end.strftime(fmt)}",
            *props,
            "END:VEVENT",
        ]
    )


def add_member(
    session: Session, name: str = "Ada", zone: str = "Europe/Berlin", email: str | None = None
) -> TeamMember:
    member = TeamMember(name=name, zone=zone, email=email or f"{name.lower()}@example.com")
    session.add(member)
    session.flush()
    return member


def add_room(session: Session, name: str = "Room 1", zone: str = "Europe/Berlin") -> Room:
    room = Room(name=name, zone=zone, capacity=6)
    session.add(room)
    session.flush()
    return room


def add_meeting(
    session: Session,
    resources: list,
    start: dt.datetime,
    end: dt.datetime,
    *,
    subject: str = "Intro call",
    status: str = "confirmed",
) -> Meeting:
    """A confirmed meeting with an invitation and one reservation per resource."""
    invitation = Invitation(
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        customer_name="Grace Customer",
        customer_email="grace@customer.example",
        customer_zone="America/New_York",
        subject=subject,
        description="Let us talk.",
        conferencing="https://meet.example/abc",
        duration_minutes=int((end - start).total_seconds() // 60),
        frame_start=start.date(),
        frame_end=end.date(),
        zone="Europe/Berlin",
        status="scheduled",
    )
    meeting = Meeting(
        invitation=invitation,
        start=start,
        end=end,
        status=status,
        uid=f"{uuid.uuid4()}@slotwise.test",
        customer_name=invitation.customer_name,
        customer_email=invitation.customer_email,
        customer_zone=invitation.customer_zone,
    )
    meeting.reservations = [Reservation(resource_id=r.id, start=start, end=end) for r in resources]
    session.add(meeting)
    session.flush()
    return meeting


def admin(session: Session) -> User:
    """The test organisation's admin (created on first use)."""
    from sqlalchemy import select

    user = session.scalars(select(User).where(User.email == "admin@example.com")).one_or_none()
    if user is None:
        user = User(email="admin@example.com", name="Sam Admin", zone="Europe/London", role="admin")
        session.add(user)
        session.flush()
    return user


def stored_file(session: Session, resource: Resource, data: str, name: str = "Exchange") -> CalendarConnection:
    """An ``.ics`` file connection stored as it is, unread, as a file kept from before uploads
    were read: the way to give a sync a file that the upload itself would refuse."""
    connection = CalendarConnection(resource=resource, kind="ics_file", name=name, ics_data=data)
    session.add(connection)
    session.flush()
    return connection


def busy_calendar(events: int, first: dt.datetime) -> str:
    """A calendar of ``events`` back-to-back 30-minute events from ``first`` on: all of them in
    any window that covers them, so a reader has to parse every one (a large, slow read)."""
    blocks = [
        vevent(f"busy-{n}", first + dt.timedelta(minutes=30 * n), first + dt.timedelta(minutes=30 * (n + 1)))
        for n in range(events)
    ]
    return ics(*blocks)
