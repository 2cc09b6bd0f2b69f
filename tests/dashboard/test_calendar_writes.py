"""The Calendars page shows calendar writes that failed, and stops showing them once they succeed."""

from __future__ import annotations

import datetime as dt

from booking_service.store.db import session_scope
from booking_service.store.models import CalendarConnection, CalendarWrite, Invitation, Meeting

from .conftest import open_page

T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


def _meeting_with_failed_write(engine, org) -> int:
    with session_scope(engine) as s:
        connection = CalendarConnection(resource_id=org.ada, kind="caldav", name="Ada CalDAV",
                                        url="https://dav.test/ada/", write_back=True, last_status="ok")
        invitation = Invitation(token_hash="f" * 64, customer_name="Cy", customer_email="cy@example.com",
                                subject="Demo", duration_minutes=30, frame_start=T0.date(), frame_end=T0.date(),
                                zone="Europe/London", status="scheduled")
        meeting = Meeting(invitation=invitation, start=T0, end=T0 + dt.timedelta(minutes=30), uid="m-1@test",
                          customer_name="Cy", customer_email="cy@example.com")
        s.add_all([connection, meeting])
        s.flush()
        write = CalendarWrite(meeting_id=meeting.id, connection_id=connection.id, action="put", status="pending",
                              attempts=2, next_attempt_at=T0, last_error="dav.test refused the user name or password")
        s.add(write)
        s.flush()
        return write.id


def test_failed_calendar_write_is_listed_until_it_succeeds(org, engine):
    write_id = _meeting_with_failed_write(engine, org)
    at = open_page(org, "calendars")
    assert not at.exception
    assert "1 calendar write(s) failed" in at.warning[-1].value
    table = at.dataframe[-1].value
    assert list(table["Calendar"]) == ["Ada CalDAV"]
    assert table.loc[0, "Status"] == "retrying"
    assert table.loc[0, "Change"] == "add meeting"
    assert "refused the user name or password" in table.loc[0, "Last error"]

    with session_scope(engine) as s:
        write = s.get(CalendarWrite, write_id)
        write.status, write.last_error = "done", None
    at.run()
    assert not any("calendar write" in w.value for w in at.warning)
    assert len(at.dataframe) == 1  # only the connections table


def test_failed_writes_can_be_queued_again(org, engine):
    write_id = _meeting_with_failed_write(engine, org)
    at = open_page(org, "calendars")
    assert not [b for b in at.button if b.key == "retry-writes"]  # still retrying: nothing to do
    with session_scope(engine) as s:
        s.get(CalendarWrite, write_id).status = "failed"
    at.run()
    at.button(key="retry-writes").click().run()
    assert "1 calendar write(s) queued again." in [m.value for m in at.success]
    with session_scope(engine) as s:
        write = s.get(CalendarWrite, write_id)
        assert (write.status, write.attempts) == ("pending", 0)
