"""CalDAV reads and writes against a real Radicale server on loopback."""

from __future__ import annotations

import datetime as dt

import caldav
import pytest

from booking_service.calendars.caldav_client import (
    CalDAVAccount,
    CalDAVError,
    delete_event,
    put_event,
    read_calendar,
)
from booking_service.calendars.ics import busy_intervals

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def vevent(uid: str, *props: str) -> str:
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Slotwise tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20300101T000000Z",
            *props,
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


@pytest.fixture
def account(caldav_calendar) -> CalDAVAccount:
    return CalDAVAccount(
        url=caldav_calendar.url, username=caldav_calendar.username, password=caldav_calendar.password
    )


def test_put_read_and_delete(account):
    put_event(account, vevent("m-1", "DTSTART:20300107T090000Z", "DTEND:20300107T100000Z", "SUMMARY:One"))
    put_event(account, vevent("m-2", "DTSTART:20300301T090000Z", "DTEND:20300301T100000Z", "SUMMARY:Later"))

    data = read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1))
    assert data.calendar_url.rstrip("/") == account.url.rstrip("/")
    assert len(data.objects) == 1 and "UID:m-1" in data.objects[0]

    assert delete_event(account, "m-1") is True
    assert delete_event(account, "m-1") is False  # already gone is fine
    assert read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1)).objects == []


def test_put_twice_replaces_the_event(account):
    put_event(account, vevent("m-1", "DTSTART:20300107T090000Z", "DTEND:20300107T100000Z"))
    put_event(account, vevent("m-1", "DTSTART:20300107T140000Z", "DTEND:20300107T150000Z", "SEQUENCE:1"))
    objects = read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1)).objects
    assert len(objects) == 1 and "DTSTART:20300107T140000Z" in objects[0]


def test_recurring_series_read_back_through_the_ics_reader(account):
    # A weekly series in Berlin (CET, +1) with one occurrence moved and one excluded.
    master = vevent(
        "series",
        "DTSTART;TZID=Europe/Berlin:20300107T090000",
        "DTEND;TZID=Europe/Berlin:20300107T100000",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "EXDATE;TZID=Europe/Berlin:20300121T090000",
    )
    override = (
        "BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20300101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20300114T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20300114T150000\r\nDTEND;TZID=Europe/Berlin:20300114T160000\r\nEND:VEVENT\r\n"
    )
    put_event(account, master.replace("END:VCALENDAR", override + "END:VCALENDAR"))
    window = (utc(2030, 1, 1), utc(2030, 2, 1))
    objects = read_calendar(account, *window).objects
    busy = sorted(
        span
        for text in objects
        for span in busy_intervals(text, zone="Europe/Berlin", window_start=window[0], window_end=window[1])
    )
    assert busy == [
        (utc(2030, 1, 7, 8), utc(2030, 1, 7, 9)),
        (utc(2030, 1, 14, 14), utc(2030, 1, 14, 15)),
        (utc(2030, 1, 28, 8), utc(2030, 1, 28, 9)),
    ]


def test_server_url_finds_the_user_calendar(radicale):
    password = radicale.users["bob"]
    with caldav.DAVClient(
        url=radicale.url, username="bob", password=password, enable_rfc6764=False
    ) as client:
        made = client.principal().make_calendar(name="Bob's work")
    account = CalDAVAccount(url=radicale.url, username="bob", password=password)
    put_event(account, vevent("b-1", "DTSTART:20300107T090000Z", "DTEND:20300107T100000Z"))
    data = read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1))
    assert data.calendar_url.rstrip("/") == str(made.url).rstrip("/")
    assert len(data.objects) == 1


def test_wrong_password_is_reported(caldav_calendar):
    account = CalDAVAccount(url=caldav_calendar.url, username="alice", password="wrong")
    with pytest.raises(CalDAVError, match="refused the user name or password"):
        read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1))


def test_unreachable_server_is_reported():
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = CalDAVAccount(url=f"http://127.0.0.1:{port}/alice/cal/", username="alice", password="x")
    with pytest.raises(CalDAVError, match=f"cannot reach http://127.0.0.1:{port}/alice/cal/"):
        read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1), timeout=2)


def test_account_repr_hides_the_password():
    assert "s3cret" not in repr(CalDAVAccount(url="http://x/", username="u", password="s3cret"))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("action", ["read", "put", "delete"])
def test_a_server_that_sends_one_byte_a_second_is_cut_off_at_the_deadline(action):
    import time

    from ..slow_servers import HTTP_DRIP, SLACK, slow_server

    with slow_server(HTTP_DRIP, interval=1.0) as server:
        account = CalDAVAccount(url=f"{server.url}/alice/cal/", username="alice", password="x")
        calls = {
            "read": lambda: read_calendar(account, utc(2030, 1, 1), utc(2030, 2, 1), timeout=10, deadline=3),
            "put": lambda: put_event(account, vevent("drip@test"), timeout=10, deadline=3),
            "delete": lambda: delete_event(account, "drip@test", timeout=10, deadline=3),
        }
        began = time.monotonic()
        with pytest.raises(CalDAVError, match=r"did not finish answering within 3 s; .*CALENDAR_DEADLINE_SECONDS"):
            calls[action]()
        assert 3 <= time.monotonic() - began < 3 + SLACK
        assert server.connections  # it did talk to the server
