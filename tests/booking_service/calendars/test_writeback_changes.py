"""A customer's move and cancel reach CalDAV calendars (Radicale): updated in place, never duplicated."""

from __future__ import annotations

import datetime as dt
import uuid

import icalendar
import pytest
from sqlalchemy.orm import Session

from booking_service.calendars.caldav_client import CalDAVAccount, read_calendar
from booking_service.calendars.connections import add_caldav_connection
from booking_service.calendars.writeback import deliver_due_writes
from booking_service.core.config import Settings
from booking_service.services.booking import cancel_by_customer, confirm_slot, reschedule_meeting
from booking_service.services.invitations import create_invitation
from booking_service.store.db import session_scope
from booking_service.store.models import User

from ..factories import SECRET_KEY, add_busy, berlin, draft, make_org, next_monday
from .helpers import admin, utc

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
MONDAY = next_monday(NOW)
SETTINGS = Settings(public_url="https://book.example", secret_key=SECRET_KEY)


def _events(cal) -> dict[str, list[icalendar.Event]]:
    account = CalDAVAccount(url=cal.url, username=cal.username, password=cal.password)
    found: dict[str, list[icalendar.Event]] = {}
    for text in read_calendar(account, utc(2030, 1, 1), utc(2030, 3, 1)).objects:
        for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
            found.setdefault(str(event["UID"]), []).append(event)
    return found


def _calendar(radicale):
    import caldav

    from .conftest import CalDAVCalendar

    password = radicale.users["alice"]
    with caldav.DAVClient(url=radicale.url, username="alice", password=password, enable_rfc6764=False) as client:
        url = str(client.principal().make_calendar(name=f"chg-{uuid.uuid4().hex[:8]}").url)
    return CalDAVCalendar(server_url=radicale.url, url=url, username="alice", password=password)


@pytest.fixture
def org(sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as session:
        return make_org(session)


def _connect(engine, resource_id, cal) -> None:
    with session_scope(engine, write=True) as session:
        conn = add_caldav_connection(session, resource_id, "work", cal.url, cal.username, cal.password,
                                     secret_key=SECRET_KEY, write_back=True, by=admin(session))
        conn.calendar_url = cal.url


def _book(engine, org, start, **changes) -> int:
    with session_scope(engine, write=True) as session:
        created = create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY,
                                    by=session.get(User, org.scheduler), public_url=SETTINGS.public_url, now=NOW)
        result = confirm_slot(session, created.invitation.id, start, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
        assert result.outcome == "booked"
        return result.meeting.id


def _deliver(engine) -> None:
    report = deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW + dt.timedelta(minutes=1))
    assert report.failed == 0 and report.retrying == 0, report.errors


def test_a_move_updates_the_same_event_and_a_customer_cancel_removes_it(sqlite_engine, org, radicale):
    cal = _calendar(radicale)
    _connect(sqlite_engine, org.ana, cal)
    meeting_id = _book(sqlite_engine, org, berlin(MONDAY, 10), rooms=(org.small_room,))
    _deliver(sqlite_engine)
    (uid,) = _events(cal)
    with session_scope(sqlite_engine, write=True) as session:
        moved = reschedule_meeting(session, meeting_id, berlin(MONDAY, 15), secret_key=SECRET_KEY,
                                   settings=SETTINGS, now=NOW)
        assert moved.outcome == "moved"
    _deliver(sqlite_engine)
    events = _events(cal)
    assert list(events) == [uid] and len(events[uid]) == 1  # updated, not duplicated
    (event,) = events[uid]
    assert (event["DTSTART"].dt, int(event["SEQUENCE"])) == (berlin(MONDAY, 15), 1)
    assert str(event["LOCATION"]).startswith("Small room")
    with session_scope(sqlite_engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    _deliver(sqlite_engine)
    assert _events(cal) == {}


def test_a_move_that_changes_the_pool_member_moves_the_event_between_their_calendars(sqlite_engine, org, radicale):
    cleo_cal, dan_cal = _calendar(radicale), _calendar(radicale)
    _connect(sqlite_engine, org.cleo, cleo_cal)
    _connect(sqlite_engine, org.dan, dan_cal)
    meeting_id = _book(sqlite_engine, org, berlin(MONDAY, 10), members=(), pools=(org.pool,))
    _deliver(sqlite_engine)
    (uid,) = _events(cleo_cal)
    assert _events(dan_cal) == {}
    with Session(sqlite_engine) as session:
        add_busy(session, org.cleo, berlin(MONDAY, 15), berlin(MONDAY, 16))
    with session_scope(sqlite_engine, write=True) as session:
        assert reschedule_meeting(session, meeting_id, berlin(MONDAY, 15), secret_key=SECRET_KEY,
                                  settings=SETTINGS, now=NOW).outcome == "moved"
    _deliver(sqlite_engine)
    assert _events(cleo_cal) == {}
    assert list(_events(dan_cal)) == [uid]
