"""Calendars page management: connect and sync a subscription, sync again, remove, feeds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from booking_service.calendars.feeds import resource_for_feed_token
from booking_service.store.db import session_scope
from booking_service.store.models import AuditEntry, BusyBlock, CalendarConnection, User
from dashboard import calendar_admin, state
from tests.booking_service.calendars.conftest import IcsServer

from .conftest import ROOT, open_page


def _calendar(start: dt.datetime) -> str:
    end = start + dt.timedelta(hours=1)
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:e1", "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}", f"DTEND:{end:%Y%m%dT%H%M%SZ}", "END:VEVENT", "END:VCALENDAR", "",
        ]
    )


@pytest.fixture
def ada_calendar():
    """A calendar of one event two days ahead on a local server: (the server, its link, the event's start)."""
    server = IcsServer()
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    try:
        yield server, server.publish("/ada.ics", _calendar(start)), start
    finally:
        server.close()


def test_connect_a_subscription_syncs_it_at_once_then_remove_it(org, engine, ada_calendar):
    server, url, start = ada_calendar
    at = open_page(org, "calendars")
    at.radio(key="connect-kind").set_value("ics_url").run()
    at.selectbox(key="connect-resource").select(org.ada)
    at.text_input(key="connect-name").input("Ada's Google")
    at.text_input(key="connect-url").input(url)
    at.button(key="FormSubmitter:connect-calendar-Connect and sync").click().run()
    assert not at.exception
    assert "Connected Ada's Google. Synced Ada's Google: 1 busy block(s)." in [s.value for s in at.success]
    with session_scope(engine) as s:
        (block,) = s.scalars(select(BusyBlock)).all()
        assert (block.resource_id, block.start) == (org.ada, start)
        connection = s.scalars(select(CalendarConnection)).one()
        assert connection.last_status == "ok"
    assert list(at.dataframe[0].value["Calendar"]) == ["Ada's Google"]

    server.publish("/ada.ics", "nope", status=500)
    with session_scope(engine) as s:
        connection_id = s.scalars(select(CalendarConnection.id)).one()
    at.selectbox(key="manage-connection").select(connection_id).run()
    at.button(key=f"sync-connection-{connection_id}").click().run()
    assert any("could not be synced" in w.value and "HTTP 500" in w.value for w in at.warning)

    at.button(key=f"remove-connection-{connection_id}").click().run()
    assert "Remove **Ada's Google** of Ada?" in at.markdown[-1].value
    with session_scope(engine) as s:
        assert len(s.scalars(select(CalendarConnection)).all()) == 1  # asking removes nothing
    at.button(key="remove-calendar-confirm").click().run()
    assert "Removed Ada's Google and its busy time." in [s.value for s in at.success]
    with session_scope(engine) as s:
        assert s.scalars(select(CalendarConnection)).all() == []
        assert s.scalars(select(BusyBlock)).all() == []
        assert [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))][-2:] == [
            "calendar.created", "calendar.deleted",
        ]


def test_connect_clicked_twice_connects_once(org, engine, monkeypatch, ada_calendar):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)  # however slow the machine
    _server, url, _start = ada_calendar
    at = open_page(org, "calendars")
    at.radio(key="connect-kind").set_value("ics_url").run()
    at.text_input(key="connect-url").input(url)
    for _ in range(2):  # the second click after the first had connected and synced
        at.button(key="FormSubmitter:connect-calendar-Connect and sync").click().run()
        assert not at.exception and not at.error
    with session_scope(engine) as s:
        assert len(s.scalars(select(CalendarConnection)).all()) == 1


def test_an_uploaded_file_clicked_twice_is_connected_once(org, engine, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)  # however slow the machine
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    at = _upload(org, _calendar(start).encode())  # the first click
    at.button(key="FormSubmitter:connect-calendar-Connect and sync").click().run()  # the second
    assert not at.exception and not at.error
    with session_scope(engine) as s:
        assert len(s.scalars(select(CalendarConnection)).all()) == 1
        assert len(s.scalars(select(BusyBlock)).all()) == 1


def test_a_click_while_the_first_sync_runs_connects_nothing(org, engine, monkeypatch):
    monkeypatch.setattr(calendar_admin.st, "session_state", {
        calendar_admin.SYNC_PENDING: (1, "Work calendar"), "connect-kind": "ics_url", "connect-resource": org.ada,
        "connect-name": "Work calendar", "connect-url": "https://calendar.example.com/ada.ics",
    })
    with session_scope(engine) as s:
        admin = s.get(User, org.admin_id)
    assert calendar_admin._connect(admin, "secret", 5) is None
    with session_scope(engine) as s:
        assert s.scalars(select(CalendarConnection)).all() == []


def test_bad_subscription_link_is_refused_with_the_services_message(org, engine):
    at = open_page(org, "calendars")
    at.radio(key="connect-kind").set_value("ics_url").run()
    at.text_input(key="connect-url").input("ftp://example.com/cal.ics")
    at.button(key="FormSubmitter:connect-calendar-Connect and sync").click().run()
    assert any("is not an http(s) or webcal URL" in e.value for e in at.error)
    with session_scope(engine) as s:
        assert s.scalars(select(CalendarConnection)).all() == []


def test_new_feed_url_then_revoke(org, engine):
    at = open_page(org, "calendars")
    at.selectbox(key="feed-resource").select(org.bob).run()
    at.button(key=f"feed-new-{org.bob}").click().run()
    assert not at.exception
    (shown,) = [c.value for c in at.code]
    assert shown.startswith("http://booking.test/feeds/")
    token = shown.removeprefix("http://booking.test/feeds/").removesuffix(".ics")
    with session_scope(engine) as s:
        assert resource_for_feed_token(s, token).id == org.bob
    at.button(key=f"feed-revoke-{org.bob}").click().run()
    with session_scope(engine) as s:
        assert resource_for_feed_token(s, token).id == org.bob  # asking revokes nothing
    at.button(key="revoke-feed-confirm").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert resource_for_feed_token(s, token) is None


def test_new_feed_url_clicked_twice_issues_one(org, engine, monkeypatch):
    """Each new URL revokes the one before: a double click must not leave a dead URL shown or
    copied, so the second click issues nothing. Later, another click does issue a new one."""
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)  # however slow the machine
    at = open_page(org, "calendars")
    at.selectbox(key="feed-resource").select(org.bob).run()

    def click() -> str:
        at.button(key=f"feed-new-{org.bob}").click().run()
        assert not at.exception and not at.error
        (shown,) = [c.value for c in at.code]
        return shown.removeprefix("http://booking.test/feeds/").removesuffix(".ics")

    first = click()
    assert click() == first  # the second click after the first had issued its URL
    with session_scope(engine) as s:
        assert resource_for_feed_token(s, first).id == org.bob
    monkeypatch.setattr(state, "REPEAT_SECONDS", 0)  # a later, deliberate click
    newer = click()
    assert newer != first
    with session_scope(engine) as s:
        assert resource_for_feed_token(s, first) is None
        assert resource_for_feed_token(s, newer).id == org.bob


def test_schedulers_see_no_management(org, engine):
    with session_scope(engine) as s:
        scheduler = User(email="sc@example.com", name="Sc", zone="Europe/London", role="scheduler")
        s.add(scheduler)
        s.flush()
        scheduler_id = scheduler.id
    at = open_page(org, "calendars", user_id=scheduler_id)
    assert any("Only an admin can connect" in c.value for c in at.caption)
    assert [b.key for b in at.button] == ["sign-out"]


def _upload(org, data: bytes, filename: str = "calendar.ics"):
    at = open_page(org, "calendars")
    at.radio(key="connect-kind").set_value("ics_file").run()
    at.selectbox(key="connect-resource").select(org.ada)
    at.file_uploader(key="connect-file").set_value((filename, data, "text/calendar"))
    at.button(key="FormSubmitter:connect-calendar-Connect and sync").click().run()
    assert not at.exception
    return at


def test_a_file_the_sync_would_refuse_is_refused_at_the_upload(org, engine):
    malformed = ROOT / "tests/booking_service/calendars/ics/exchange-undefined-tzid.ics"
    at = _upload(org, malformed.read_bytes())
    assert any(e.value.startswith("line 60, DTSTART: TZID 'Customized Time Zone'") for e in at.error)
    with session_scope(engine) as s:
        assert s.scalars(select(CalendarConnection)).all() == []


def test_the_upload_limit_is_shown_and_kept(org, engine, monkeypatch):
    monkeypatch.setenv("CALENDAR_MAX_MB", "1")
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:e{n}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20300107T090000Z\r\n"
        f"DTEND:20300107T100000Z\r\nX-FILLER:{'x' * 80}\r\nEND:VEVENT\r\n"
        for n in range(9_000)
    )
    at = _upload(org, f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{events}END:VCALENDAR\r\n".encode())
    assert at.file_uploader(key="connect-file").label == "Calendar file (.ics, up to 1 MB)"
    assert any("calendar files up to 1 MB can be uploaded (CALENDAR_MAX_MB)" in e.value for e in at.error)
    with session_scope(engine) as s:
        assert s.scalars(select(CalendarConnection)).all() == []
