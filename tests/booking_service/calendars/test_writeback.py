"""Writing meetings back to CalDAV calendars: queue, delivery, retries, cancellation (Radicale)."""

from __future__ import annotations

import datetime as dt
import time

import icalendar
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.calendars.caldav_client import CalDAVAccount, read_calendar
from booking_service.calendars.connections import add_caldav_connection, set_caldav_password
from booking_service.calendars.sync import sync_connection
from booking_service.calendars.writeback import (
    MAX_ATTEMPTS,
    backoff,
    deliver_due_writes,
    meeting_event,
    retry_failed_writes,
    writeback_problems,
)
from booking_service.services.calendar_writes import queue_meeting_writeback
from booking_service.store.models import BusyBlock, CalendarWrite, Meeting, User

from .helpers import SECRET_KEY, add_meeting, add_member, add_room, admin, utc

NOW = utc(2030, 1, 6, 12)
START, END = utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)


def account_of(cal) -> CalDAVAccount:
    return CalDAVAccount(url=cal.url, username=cal.username, password=cal.password)


def uids_in(cal) -> list[str]:
    objects = read_calendar(account_of(cal), utc(2030, 1, 1), utc(2030, 2, 1)).objects
    return sorted(
        str(e["UID"]) for text in objects for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
    )


def writes(engine) -> list[CalendarWrite]:
    with Session(engine) as session:
        return list(session.scalars(select(CalendarWrite).order_by(CalendarWrite.id)))


@pytest.fixture
def second_calendar(radicale):
    """Another calendar of alice's, for the room."""
    import uuid

    import caldav

    from .conftest import CalDAVCalendar

    password = radicale.users["alice"]
    with caldav.DAVClient(
        url=radicale.url, username="alice", password=password, enable_rfc6764=False
    ) as client:
        url = str(client.principal().make_calendar(name=f"room-{uuid.uuid4().hex[:6]}").url)
    return CalDAVCalendar(server_url=radicale.url, url=url, username="alice", password=password)


def setup_meeting(engine, member_cal, room_cal, *, member_password=None) -> tuple[int, dict[str, int]]:
    with Session(engine) as session, session.begin():
        member, room, other = add_member(session), add_room(session), add_member(session, name="Bo")
        ids = {}
        for key, resource, cal, write_back, password in (
            ("member", member, member_cal, True, member_password or member_cal.password),
            ("room", room, room_cal, True, room_cal.password),
            ("read_only", member, member_cal, False, member_cal.password),
            ("other", other, member_cal, True, member_cal.password),
        ):
            conn = add_caldav_connection(
                session,
                resource.id,
                key,
                cal.url,
                cal.username,
                password,
                secret_key=SECRET_KEY,
                write_back=write_back,
                by=admin(session),
            )
            conn.calendar_url = cal.url
            ids[key] = conn.id
        meeting = add_meeting(session, [member, room], START, END)
        queue_meeting_writeback(session, meeting, "put", now=NOW)
        return meeting.id, ids


def test_confirmed_meeting_is_written_to_member_and_room_calendars(engine, caldav_calendar, second_calendar):
    meeting_id, ids = setup_meeting(engine, caldav_calendar, second_calendar)
    queued = writes(engine)
    assert sorted(w.connection_id for w in queued) == sorted([ids["member"], ids["room"]])
    assert {(w.action, w.status) for w in queued} == {("put", "pending")}

    report = deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW)
    assert (report.done, report.retrying, report.failed) == (2, 0, 0)
    with Session(engine) as session:
        uid = session.get(Meeting, meeting_id).uid
    assert uids_in(caldav_calendar) == [uid]
    assert uids_in(second_calendar) == [uid]
    assert {w.status for w in writes(engine)} == {"done"}

    # Read back by the member's own sync, the meeting is not busy time a second time.
    assert sync_connection(engine, ids["member"], secret_key=SECRET_KEY, now=NOW).ok
    with Session(engine) as session:
        assert session.scalars(select(BusyBlock)).all() == []


def test_cancelled_meeting_is_removed_after_its_reservations_are_released(
    engine, caldav_calendar, second_calendar
):
    meeting_id, _ = setup_meeting(engine, caldav_calendar, second_calendar)
    deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW)
    with Session(engine) as session, session.begin():
        meeting = session.get(Meeting, meeting_id)
        meeting.status = "cancelled"
        meeting.reservations.clear()  # what cancelling does before queueing the removal
        session.flush()
        deletes = queue_meeting_writeback(session, meeting, "delete", now=NOW)
        assert len(deletes) == 2
    assert deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW).done == 2
    assert uids_in(caldav_calendar) == [] and uids_in(second_calendar) == []


def test_queueing_does_no_network_io_and_failures_retry_with_backoff(
    engine, caldav_calendar, second_calendar
):
    began = time.monotonic()
    meeting_id, ids = setup_meeting(engine, caldav_calendar, second_calendar, member_password="wrong")
    assert time.monotonic() - began < 5  # only rows were added; nothing was sent

    report = deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW)
    assert (report.done, report.retrying) == (1, 1)
    failing = next(w for w in writes(engine) if w.connection_id == ids["member"])
    assert (failing.status, failing.attempts) == ("pending", 1)
    assert failing.next_attempt_at == NOW + backoff(1) == NOW + dt.timedelta(minutes=1)
    assert "refused the user name or password" in failing.last_error
    with Session(engine) as session:
        problems = writeback_problems(session, admin(session))
        assert [(p.connection_id, p.status) for p in problems] == [(ids["member"], "pending")]
        # A scheduler sees the problems of the meetings they may see, no others.
        olga = User(email="olga@example.com", name="Olga", zone="UTC", role="scheduler")
        session.add(olga)
        session.flush()
        assert writeback_problems(session, olga) == [] and writeback_problems(session, None) == []
        session.get(Meeting, meeting_id).created_by_id = olga.id
        assert [p.meeting_id for p in writeback_problems(session, olga)] == [meeting_id]
        session.rollback()

    # Not due yet: nothing happens.
    assert deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW + dt.timedelta(seconds=30)).retrying == 0
    # The password is fixed; the retry succeeds and the error is cleared.
    with Session(engine) as session, session.begin():
        from booking_service.store.models import CalendarConnection

        set_caldav_password(
            session,
            session.get(CalendarConnection, ids["member"]),
            caldav_calendar.password,
            secret_key=SECRET_KEY,
            by=admin(session),
        )
    assert deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW + dt.timedelta(minutes=2)).done == 1
    fixed = next(w for w in writes(engine) if w.connection_id == ids["member"])
    assert (fixed.status, fixed.last_error, fixed.attempts) == ("done", None, 2)
    with Session(engine) as session:
        assert writeback_problems(session, admin(session)) == []


def test_write_fails_after_max_attempts_and_can_be_retried(engine, caldav_calendar, second_calendar):
    setup_meeting(engine, caldav_calendar, second_calendar, member_password="wrong")
    moment = NOW
    for _ in range(MAX_ATTEMPTS):
        deliver_due_writes(engine, secret_key=SECRET_KEY, now=moment)
        moment += dt.timedelta(days=1)
    failed = [w for w in writes(engine) if w.status == "failed"]
    assert len(failed) == 1 and failed[0].attempts == MAX_ATTEMPTS
    with Session(engine) as session, session.begin():
        assert [p.status for p in writeback_problems(session, admin(session))] == ["failed"]
        assert retry_failed_writes(session, now=moment) == 1
    again = next(w for w in writes(engine) if w.id == failed[0].id)
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, moment)


def test_a_newer_write_supersedes_an_unsent_one(engine, caldav_calendar, second_calendar):
    meeting_id, _ = setup_meeting(engine, caldav_calendar, second_calendar)
    with Session(engine) as session, session.begin():
        meeting = session.get(Meeting, meeting_id)
        meeting.reservations.clear()
        session.flush()
        queue_meeting_writeback(session, meeting, "delete", now=NOW)
    assert [(w.action, w.status) for w in writes(engine)] == [
        ("put", "superseded"),
        ("put", "superseded"),
        ("delete", "pending"),
        ("delete", "pending"),
    ]
    assert deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW).done == 2
    assert uids_in(caldav_calendar) == []


def people_of(event: icalendar.Event) -> tuple[tuple[str, dict], list[tuple[str, dict]]]:
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    organizer = event["ORGANIZER"]
    return (str(organizer), dict(organizer.params)), [(str(a), dict(a.params)) for a in attendees]


def test_meeting_event_names_organizer_and_attendees_for_the_client_only(session):
    member = add_member(session)
    meeting = add_meeting(session, [member, add_room(session)], START, END, subject="Demo")
    meeting.invitation.created_by = admin(session)
    text = meeting_event(session, meeting, now=NOW)
    parsed = icalendar.Calendar.from_ical(text)
    (event,) = parsed.walk("VEVENT")
    assert str(event["UID"]) == meeting.uid
    assert (event.start, event.end) == (START, END)
    assert str(event["SUMMARY"]) == "Demo — Grace Customer"
    assert "https://meet.example/abc" in str(event["DESCRIPTION"])
    assert "METHOD" not in parsed
    organizer, attendees = people_of(event)
    assert organizer == ("mailto:admin@example.com", {"CN": "Sam Admin", "SCHEDULE-AGENT": "CLIENT"})
    assert [(address, params["CN"], params["PARTSTAT"], params["SCHEDULE-AGENT"]) for address, params in attendees] == [
        ("mailto:grace@customer.example", "Grace Customer", "ACCEPTED", "CLIENT"),
        ("mailto:ada@example.com", "Ada", "ACCEPTED", "CLIENT"),
    ]


def test_written_meeting_keeps_its_people_on_the_server_and_is_not_busy_twice(engine, caldav_calendar, second_calendar):
    meeting_id, ids = setup_meeting(engine, caldav_calendar, second_calendar)
    assert deliver_due_writes(engine, secret_key=SECRET_KEY, now=NOW).done == 2
    (stored,) = read_calendar(account_of(caldav_calendar), utc(2030, 1, 1), utc(2030, 2, 1)).objects
    (event,) = icalendar.Calendar.from_ical(stored).walk("VEVENT")
    organizer, attendees = people_of(event)
    assert organizer[0] == "mailto:no-reply@slotwise.local" and organizer[1]["SCHEDULE-AGENT"] == "CLIENT"
    assert [(address, params["SCHEDULE-AGENT"]) for address, params in attendees] == [
        ("mailto:grace@customer.example", "CLIENT"),
        ("mailto:ada@example.com", "CLIENT"),
    ]
    # The member's own calendar holds the meeting, with its people; a re-sync leaves it out.
    result = sync_connection(engine, ids["member"], secret_key=SECRET_KEY, now=NOW)
    assert result.ok and result.events == 1 and result.blocks == 0
