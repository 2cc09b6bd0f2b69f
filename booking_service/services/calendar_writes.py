"""The calendar write queue: meetings to write to, or remove from, team members' and rooms' calendars.

Called in the transaction that confirms or cancels a meeting (:func:`queue_meeting_writeback`) or
moves one (:func:`queue_move_writeback`), they only add
:class:`~booking_service.store.models.CalendarWrite` rows, like the mail outbox;
:mod:`booking_service.calendars.writeback` delivers them later, so a slow or broken calendar
server can never delay or undo a booking.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import CalendarConnection, CalendarWrite, Meeting, Reservation, utcnow

__all__ = ["ACTIONS", "queue_meeting_writeback", "queue_move_writeback"]

ACTIONS = ("put", "delete")


def _write_back_connection_ids(session: Session, resource_ids: set[int]) -> set[int]:
    if not resource_ids:
        return set()
    return set(
        session.scalars(
            select(CalendarConnection.id).where(
                CalendarConnection.resource_id.in_(resource_ids),
                CalendarConnection.kind == "caldav",
                CalendarConnection.write_back.is_(True),
            )
        )
    )


def queue_meeting_writeback(
    session: Session, meeting: Meeting, action: str, *, now: dt.datetime | None = None
) -> list[CalendarWrite]:
    """Queue writing a meeting to its resources' CalDAV calendars, or removing it.

    Call it in the transaction that confirms (``"put"``) or cancels (``"delete"``) the
    meeting. It only adds rows; nothing is sent until
    :func:`booking_service.calendars.writeback.deliver_due_writes` runs, so a
    slow or broken calendar server can never delay or undo the booking.

    Targets: for ``"put"``, every write-back CalDAV connection of each resource the meeting
    reserves; for ``"delete"``, every connection the meeting was written to (found from the
    earlier writes, so it works after the reservations are released) plus those of any
    resource still reserved. Earlier unfinished writes of the meeting to the same connection
    are superseded.

    Parameters
    ----------
    session : Session
        The caller's session; the caller commits.
    meeting : Meeting
        The meeting (flushed: it needs its id).
    action : {"put", "delete"}

    Returns
    -------
    list of CalendarWrite
        The queued writes (empty when no resource has a write-back calendar).

    Raises
    ------
    ValueError
        If ``action`` is not ``"put"`` or ``"delete"``.
    """
    if action not in ACTIONS:
        raise ValueError(f"{action!r} is not a write-back action; use 'put' or 'delete'")
    now = now or utcnow()
    if meeting.id is None:
        session.flush()
    reserved = set(
        session.scalars(select(Reservation.resource_id).where(Reservation.meeting_id == meeting.id))
    )
    targets = _write_back_connection_ids(session, reserved)
    earlier = _writes_of(session, meeting)
    if action == "delete":
        # Where it was written, whoever holds it now (a disconnected calendar's writes are gone with it).
        targets |= {write.connection_id for write in earlier if write.action == "put"}
    return _queue(session, meeting, targets, action, earlier, now)


def queue_move_writeback(session: Session, meeting: Meeting, *, now: dt.datetime | None = None) -> list[CalendarWrite]:
    """Queue a moved meeting's calendar writes: the same event rewritten (``"put"``) on the
    calendars of the resources it now reserves, and removed (``"delete"``) from each calendar it
    was written to that it no longer belongs on (a member or room the move took off it).

    Call it in the transaction that moves the meeting, after its reservations are replaced.
    Returns the queued writes, the puts first.
    """
    now = now or utcnow()
    earlier = _writes_of(session, meeting)
    written = {w.connection_id for w in earlier if w.action == "put"}
    puts = queue_meeting_writeback(session, meeting, "put", now=now)
    # A calendar disconnected since takes its writes with it (ON DELETE CASCADE): none to remove from.
    gone = written - {w.connection_id for w in puts}
    return puts + _queue(session, meeting, gone, "delete", earlier, now)


def _writes_of(session: Session, meeting: Meeting) -> list[CalendarWrite]:
    return list(session.scalars(
        select(CalendarWrite).where(CalendarWrite.meeting_id == meeting.id).order_by(CalendarWrite.id)
    ))


def _queue(session: Session, meeting: Meeting, connection_ids: set[int], action: str,
           earlier: list[CalendarWrite], now: dt.datetime) -> list[CalendarWrite]:
    """One pending write per connection; the meeting's unfinished earlier writes there superseded."""
    for write in earlier:
        if write.connection_id in connection_ids and write.status in ("pending", "failed"):
            write.status = "superseded"
            write.done_at = now
    queued = [
        CalendarWrite(
            meeting_id=meeting.id, connection_id=cid, action=action, status="pending", next_attempt_at=now,
            created_at=now,
        )
        for cid in sorted(connection_ids)
    ]
    session.add_all(queued)
    session.flush()
    return queued
