"""Write confirmed meetings into CalDAV calendars, and remove cancelled ones.

Writing back never blocks or undoes a booking. The booking transaction only *queues* the work
(:func:`booking_service.services.calendar_writes.queue_meeting_writeback` adds
:class:`~booking_service.store.models.CalendarWrite` rows, like the mail outbox);
:func:`deliver_due_writes` later does the network I/O outside any
transaction, retries failures with exponential backoff, and gives up after
:data:`MAX_ATTEMPTS`. A write that failed keeps its ``last_error`` for the dashboard
(:func:`writeback_problems`); a later success clears it, and so does a newer write of the same
meeting to the same calendar (which supersedes it).

What is written: one ``VEVENT`` whose ``UID`` is the meeting's, so a second write replaces it
and a cancellation removes exactly it, into every CalDAV calendar with write-back enabled of
each resource the meeting reserves (the assigned members and the room). The event names its
``ORGANIZER`` and every ``ATTENDEE`` (the customer, the members, the room) as the customer's
invite does, so that team members see in their own calendar apps whom they meet. Each address
carries ``SCHEDULE-AGENT=CLIENT`` (RFC 6638): a server that schedules implicitly (sends
invitations for events with attendees) leaves this one alone, because Slotwise mails the
customer's invite itself. A re-sync of the calendar does not count the event as busy time a
second time: its ``UID`` is a Slotwise meeting's, and the sync leaves those out.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

import icalendar
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..core import sandbox
from ..core.crypto import SecretDecryptionError
from ..services.booking import meeting_names, meeting_people
from ..services.invites import add_people
from ..services.permissions import meeting_scope
from ..store.db import session_scope
from ..store.models import CalendarConnection, CalendarWrite, Meeting, User, utcnow
from ..store.queue import claim_due, exponential_backoff, record_outcome
from .caldav_client import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, CalDAVError, delete_event, put_event
from .connections import caldav_account

__all__ = [
    "MAX_ATTEMPTS",
    "WriteReport",
    "backoff",
    "deliver_due_writes",
    "deliver_in_background",
    "meeting_event",
    "meeting_vevent",
    "retry_failed_writes",
    "writeback_problems",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
"""Attempts before a write is marked ``failed`` (about 17 hours with :func:`backoff`)."""

BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=4)
LEASE = dt.timedelta(minutes=5)
"""How long a claimed write is hidden from other deliverers while it is being sent."""

PRODID = "-//Slotwise//Calendar write-back//EN"


def backoff(attempts: int) -> dt.timedelta:
    """Wait after ``attempts`` failures: 1, 2, 4 ... minutes, at most 4 hours."""
    return exponential_backoff(attempts, BACKOFF_BASE, BACKOFF_MAX)


def meeting_vevent(session: Session, meeting: Meeting, *, now: dt.datetime | None = None) -> icalendar.Event:
    """The ``VEVENT`` that stands for a meeting in people's calendars.

    ``UID`` and ``SEQUENCE`` are the meeting's, times are UTC, the event is opaque and
    confirmed; the summary names the subject and the customer. ``ORGANIZER`` and ``ATTENDEE``
    are those of the customer's invite (:func:`booking_service.services.booking.meeting_people`),
    every attendee ``ACCEPTED`` (they are booked) and every address with
    ``SCHEDULE-AGENT=CLIENT`` (see the module docstring). Used for write-back and for the
    private feeds.

    Parameters
    ----------
    session : Session
        To look up the meeting's reserved members and room.
    meeting : Meeting
        With its invitation loaded (for the subject, description and conferencing).
    """
    invitation = meeting.invitation
    event = icalendar.Event()
    event.add("uid", meeting.uid)
    event.add("dtstamp", (now or utcnow()).astimezone(dt.UTC))
    event.add("dtstart", meeting.start.astimezone(dt.UTC))
    event.add("dtend", meeting.end.astimezone(dt.UTC))
    event.add("sequence", meeting.sequence)
    event.add("summary", f"{invitation.subject} — {meeting.customer_name}")
    details = [
        invitation.description.strip(),
        invitation.conferencing.strip(),
        f"Customer: {meeting.customer_name} <{meeting.customer_email}>",
        "Booked with Slotwise.",
    ]
    event.add("description", "\n\n".join(part for part in details if part))
    organizer, attendees = meeting_people(session, meeting)
    room = meeting_names(session, meeting)[1]
    conferencing = invitation.conferencing.strip().splitlines()[0] if invitation.conferencing.strip() else ""
    location = ", ".join(x for x in (room, conferencing) if x)
    if location:
        event.add("location", location)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    add_people(event, organizer, attendees, partstat="ACCEPTED", schedule_agent="CLIENT")
    return event


def meeting_event(session: Session, meeting: Meeting, *, now: dt.datetime | None = None) -> str:
    """The iCalendar object stored in a CalDAV calendar for a meeting.

    Returns
    -------
    str
        One ``VCALENDAR`` (no ``METHOD``: it is stored, not sent) holding
        :func:`meeting_vevent`.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(meeting_vevent(session, meeting, now=now))
    return calendar.to_ical().decode("utf-8")


# --- delivery ---------------------------------------------------------------------------------


@dataclass
class WriteReport:
    """What one delivery pass did."""

    done: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    left: int = 0
    """Due writes not tried because the pass's time was up."""

    def describe(self) -> str:
        """One line for the CLI."""
        text = f"Calendar writes: {self.done} done, {self.retrying} waiting to retry, {self.failed} failed."
        if self.left:
            text += f" {self.left} left for the next pass (out of time)."
        return text + ("" if not self.errors else f" Last error: {self.errors[-1]}")


@dataclass(frozen=True)
class _Claimed:
    write_id: int
    action: str
    uid: str
    ics: str | None
    connection: CalendarConnection  # detached


def _claim(engine: Engine, write_id: int, now: dt.datetime) -> _Claimed | None:
    """Take a due write: count the attempt and lease it, in one short write transaction."""
    with session_scope(engine, write=True) as session:
        write = claim_due(session, CalendarWrite, write_id, now, LEASE)
        if write is None:
            return None
        meeting = session.get(Meeting, write.meeting_id)
        connection = session.get(CalendarConnection, write.connection_id)
        body = meeting_event(session, meeting, now=now) if write.action == "put" else None
        session.flush()
        session.expunge(connection)
        return _Claimed(write.id, write.action, meeting.uid, body, connection)


def _send(claimed: _Claimed, secret_key: str, timeout: float, deadline: float) -> None:
    account = caldav_account(claimed.connection, secret_key)
    if claimed.action == "put":
        put_event(account, claimed.ics, timeout=timeout, deadline=deadline)
    else:
        delete_event(account, claimed.uid, timeout=timeout, deadline=deadline)


def deliver_due_writes(
    engine: Engine,
    *,
    secret_key: str,
    now: dt.datetime | None = None,
    limit: int = 100,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    until: float | None = None,
) -> WriteReport:
    """Send every pending calendar write that is due; return what happened.

    Each write is claimed (attempt counted, leased for :data:`LEASE`), sent outside any
    transaction, and its outcome recorded: done (error cleared), waiting for a retry after
    :func:`backoff`, or failed after :data:`MAX_ATTEMPTS`. Writes are sent in the order they
    were queued, so a meeting's removal follows its creation.

    Parameters
    ----------
    engine : Engine
        The Slotwise database.
    secret_key : str
        The installation's ``SECRET_KEY`` (to decrypt CalDAV passwords).
    now : datetime, optional
        Which writes are due (default: the current instant).
    limit : int
        At most this many writes per pass.
    timeout : float
        Seconds allowed for each read from the CalDAV server.
    deadline : float
        Seconds one write may take in all (``CALENDAR_DEADLINE_SECONDS``).
    until : float, optional
        A :func:`time.monotonic` instant: no write is started after it, and none may take
        longer than what is left before it. The writes not reached stay due.
    """
    now = now or utcnow()
    with Session(engine) as session:
        due = list(
            session.scalars(
                select(CalendarWrite.id)
                .where(CalendarWrite.status == "pending", CalendarWrite.next_attempt_at <= now)
                .order_by(CalendarWrite.id)
                .limit(limit)
            )
        )
    report = WriteReport()
    for position, write_id in enumerate(due):
        seconds = sandbox.seconds_left(until, deadline)
        if seconds <= 0:
            report.left = len(due) - position
            break
        claimed = _claim(engine, write_id, now)
        if claimed is None:
            continue
        error: str | None = None
        try:
            _send(claimed, secret_key, timeout, seconds)
        except (CalDAVError, SecretDecryptionError) as exc:
            error = str(exc)
            log.warning("calendar write %s (%s) not done: %s", write_id, claimed.action, error)
            report.errors.append(error)
        outcome = record_outcome(
            engine, CalendarWrite, write_id, error, now,
            done_status="done", done_at="done_at", max_attempts=MAX_ATTEMPTS, backoff=backoff,
        )
        if outcome == "done":
            report.done += 1
        elif outcome == "retrying":
            report.retrying += 1
        elif outcome == "failed":
            report.failed += 1
    return report


def deliver_in_background(engine: Engine, *, secret_key: str) -> threading.Thread:
    """Run one :func:`deliver_due_writes` pass in a daemon thread (after a booking commits).

    The periodic ``slotwise sync-calendars`` pass delivers anything this misses.
    """
    thread = threading.Thread(
        target=deliver_due_writes,
        kwargs={"engine": engine, "secret_key": secret_key},
        name="calendar-writeback",
        daemon=True,
    )
    thread.start()
    return thread


# --- for the dashboard ------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteProblem:
    """A calendar write that has not succeeded: still retrying after an error, or failed."""

    write_id: int
    meeting_id: int
    connection_id: int
    connection_name: str
    resource_id: int
    action: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None


def writeback_problems(session: Session, user: User | None) -> list[WriteProblem]:
    """Writes that failed or are waiting to retry after an error, newest first.

    Only writes of meetings ``user`` may see
    (:func:`booking_service.services.permissions.meeting_scope`).
    """
    rows = session.execute(
        select(CalendarWrite, CalendarConnection)
        .join(CalendarConnection, CalendarConnection.id == CalendarWrite.connection_id)
        .where(
            (CalendarWrite.status == "failed")
            | ((CalendarWrite.status == "pending") & CalendarWrite.last_error.is_not(None))
        )
        .where(CalendarWrite.meeting_id.in_(select(Meeting.id).where(meeting_scope(user))))
        .order_by(CalendarWrite.id.desc())
    )
    return [
        WriteProblem(
            w.id,
            w.meeting_id,
            w.connection_id,
            c.name,
            c.resource_id,
            w.action,
            w.status,
            w.attempts,
            w.next_attempt_at,
            w.last_error,
        )
        for w, c in rows
    ]


def retry_failed_writes(session: Session, *, now: dt.datetime | None = None) -> int:
    """Put every ``failed`` write back in the queue (after fixing a password, say).

    Returns the number of writes re-queued; their attempt count starts again.
    """
    now = now or utcnow()
    failed = list(session.scalars(select(CalendarWrite).where(CalendarWrite.status == "failed")))
    for write in failed:
        write.status = "pending"
        write.attempts = 0
        write.next_attempt_at = now
    session.flush()
    return len(failed)
