"""The calendar write queue (delivery through a real CalDAV server: tests/booking_service/calendars/test_writeback.py)."""

from __future__ import annotations

import pytest

from booking_service.services.calendar_writes import queue_meeting_writeback

from ..calendars.helpers import add_meeting, add_member, utc

START, END = utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)


def test_no_write_back_calendar_queues_nothing(session):
    member = add_member(session)
    meeting = add_meeting(session, [member], START, END)
    assert queue_meeting_writeback(session, meeting, "put") == []
    with pytest.raises(ValueError, match="'move' is not a write-back action"):
        queue_meeting_writeback(session, meeting, "move")
