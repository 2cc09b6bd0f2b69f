"""Calendar invites for confirmed meetings: RFC 5545 iCalendar built with ``icalendar``.

This module *writes* invites (the ``.ics`` attached to confirmation mails and offered for
download on the scheduled page). Reading people's calendars into busy time is a different job
and lives in :mod:`booking_service.calendars`.

An invite is one ``VEVENT`` inside a ``VCALENDAR`` with an iTIP ``METHOD``:

- ``REQUEST`` for a new or changed meeting; ``CANCEL`` (with ``STATUS:CANCELLED``) when it is
  called off. The event's ``UID`` is the meeting's stored ``uid``, so every message about one
  meeting (the first invite, a resend, the cancellation) updates the same calendar entry;
  ``SEQUENCE`` is the meeting's revision number.
- ``DTSTART``/``DTEND`` are written in UTC (``...Z``): every calendar client converts them to
  its reader's zone, and no ``VTIMEZONE`` is needed.
- ``ORGANIZER`` is the scheduler who created the invitation (or the service's sender address);
  every team member, room and the customer is an ``ATTENDEE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

import icalendar

PRODID = "-//Slotwise//Booking service//EN"
METHODS = ("REQUEST", "CANCEL")


@dataclass(frozen=True)
class Person:
    """Someone on an invite: display name, email address and iCalendar ``CUTYPE``."""

    name: str
    email: str
    cutype: str = "INDIVIDUAL"


def _address(
    person: Person, *, attendee: bool, partstat: str, schedule_agent: str | None
) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = person.name
    if attendee:
        address.params["CUTYPE"] = person.cutype
        address.params["ROLE"] = "REQ-PARTICIPANT" if person.cutype == "INDIVIDUAL" else "NON-PARTICIPANT"
        address.params["PARTSTAT"] = partstat
        address.params["RSVP"] = "FALSE"
    if schedule_agent is not None:
        address.params["SCHEDULE-AGENT"] = schedule_agent
    return address


def add_people(
    event: icalendar.Event,
    organizer: Person,
    attendees: Sequence[Person],
    *,
    partstat: str = "NEEDS-ACTION",
    schedule_agent: str | None = None,
) -> None:
    """Add the ``ORGANIZER`` and one ``ATTENDEE`` per person to ``event``.

    Parameters
    ----------
    partstat : str
        Every attendee's ``PARTSTAT`` (``NEEDS-ACTION`` in an invite; ``ACCEPTED`` in a copy
        stored in a booked person's calendar).
    schedule_agent : str, optional
        ``SCHEDULE-AGENT`` on every address (RFC 6638). ``"CLIENT"`` tells a CalDAV server that
        schedules implicitly to send no invitations of its own for an event written to it.
    """
    event.add("organizer", _address(organizer, attendee=False, partstat=partstat, schedule_agent=schedule_agent))
    for person in attendees:
        event.add("attendee", _address(person, attendee=True, partstat=partstat, schedule_agent=schedule_agent))


def build_invite(
    *,
    uid: str,
    sequence: int,
    start: dt.datetime,
    end: dt.datetime,
    summary: str,
    description: str,
    location: str,
    organizer: Person,
    attendees: Sequence[Person],
    method: str = "REQUEST",
    url: str | None = None,
    stamp: dt.datetime | None = None,
    language: str | None = None,
) -> str:
    """Return one meeting as an iCalendar document (text, CRLF line ends).

    Parameters
    ----------
    uid : str
        The meeting's stable ``UID`` (the same for every message about this meeting).
    sequence : int
        Revision number (``SEQUENCE``), raised when the meeting changes or is cancelled.
    start, end : datetime.datetime
        The meeting's instants, tz-aware; written in UTC.
    summary, description, location : str
        Subject, description and conferencing details of the meeting.
    organizer : Person
        The ``ORGANIZER``.
    attendees : sequence of Person
        Every ``ATTENDEE`` (customer, team members, rooms with ``cutype="ROOM"``).
    method : {"REQUEST", "CANCEL"}
        iTIP method. ``CANCEL`` also sets ``STATUS:CANCELLED``.
    url : str, optional
        A link back to the booking page.
    stamp : datetime.datetime, optional
        ``DTSTAMP`` (default: now).
    language : str, optional
        The language ``SUMMARY`` and ``DESCRIPTION`` are written in (their ``LANGUAGE`` parameter,
        RFC 5545 3.2.10): the customer's, ``de``.

    Raises
    ------
    ValueError
        If ``method`` is unknown, an instant is naive, or ``end`` is not after ``start``.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of {', '.join(METHODS)}")
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name}={value!r} is naive; pass a tz-aware instant")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", (stamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC))
    event.add("dtstart", start.astimezone(dt.UTC))
    event.add("dtend", end.astimezone(dt.UTC))
    text = {"LANGUAGE": language} if language else {}
    event.add("summary", summary, parameters=text)
    if description:
        event.add("description", description, parameters=text)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    add_people(event, organizer, attendees)
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def organizer_from(mail_from: str, name: str | None = None, email: str | None = None) -> Person:
    """The organizer: the scheduler when known, else the service's sender address."""
    if email:
        return Person(name or email, email)
    sender_name, sender_email = parseaddr(mail_from)
    return Person(name or sender_name or sender_email, sender_email)
