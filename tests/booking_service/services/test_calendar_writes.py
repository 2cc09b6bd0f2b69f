"""The calendar write queue (delivery through a real CalDAV server: tests/booking_service/calendars/test_writeback.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from booking_service.services.calendar_writes import queue_meeting_writeback, queue_move_writeback
from booking_service.store.models import CalendarConnection, CalendarWrite, Reservation

from ..calendars.helpers import add_meeting, add_member, utc

START, END = utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)
DAY = dt.timedelta(days=1)


def test_no_write_back_calendar_queues_nothing(session):
    member = add_member(session)
    meeting = add_meeting(session, [member], START, END)
    assert queue_meeting_writeback(session, meeting, "put") == []
    with pytest.raises(ValueError, match="'move' is not a write-back action"):
        queue_meeting_writeback(session, meeting, "move")


def _write_back(session, resource) -> int:
    connection = CalendarConnection(resource_id=resource.id, kind="caldav", name=f"{resource.name}'s calendar",
                                    url="http://caldav.test/", write_back=True)
    session.add(connection)
    session.flush()
    return connection.id


def test_a_move_rewrites_where_the_meeting_stays_and_removes_it_where_it_left(session):
    ada, bo, cy = (add_member(session, name) for name in ("Ada", "Bo", "Cy"))
    to_ada, to_bo, to_cy = (_write_back(session, m) for m in (ada, bo, cy))
    meeting = add_meeting(session, [ada, bo], START, END)
    booked, moved = utc(2030, 1, 1, 8), utc(2030, 1, 2, 8)
    first = queue_meeting_writeback(session, meeting, "put", now=booked)
    assert [(w.connection_id, w.action) for w in first] == [(to_ada, "put"), (to_bo, "put")]

    # The move takes Bo off the meeting and puts Cy on it; Bo's put has not been delivered yet.
    meeting.start, meeting.end = START + DAY, END + DAY
    meeting.reservations = [Reservation(resource_id=r.id, start=START + DAY, end=END + DAY) for r in (ada, cy)]
    session.flush()
    queued = queue_move_writeback(session, meeting, now=moved)
    assert [(w.connection_id, w.action) for w in queued] == [(to_ada, "put"), (to_cy, "put"), (to_bo, "delete")]
    assert all((w.status, w.created_at, w.next_attempt_at) == ("pending", moved, moved) for w in queued)
    # What was still waiting for Ada's and Bo's calendars is superseded at the move's instant.
    assert [(w.status, w.done_at) for w in first] == [("superseded", moved), ("superseded", moved)]
    assert session.scalar(select(func.count()).select_from(CalendarWrite)) == 5


def test_nothing_is_removed_from_a_calendar_disconnected_since_it_was_written(session):
    ada, bo = add_member(session, "Ada"), add_member(session, "Bo")
    to_ada, to_bo = _write_back(session, ada), _write_back(session, bo)
    meeting = add_meeting(session, [ada], START, END)
    queue_meeting_writeback(session, meeting, "put")
    session.delete(session.get(CalendarConnection, to_ada))  # Ada's calendar disconnected since
    meeting.reservations = [Reservation(resource_id=bo.id, start=START + DAY, end=END + DAY)]
    session.flush()
    assert [(w.connection_id, w.action) for w in queue_move_writeback(session, meeting)] == [(to_bo, "put")]
    # Cancelled after that: removed from Bo's calendar only.
    assert [(w.connection_id, w.action) for w in queue_meeting_writeback(session, meeting, "delete")] == [(to_bo, "delete")]
