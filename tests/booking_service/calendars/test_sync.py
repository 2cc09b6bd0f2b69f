"""Syncing connections into busy blocks (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.calendars import sync as sync_module
from booking_service.calendars.connections import (
    add_caldav_connection,
    add_ics_file_connection,
    add_ics_url_connection,
)
from booking_service.calendars.sync import (
    invitation_resource_ids,
    refresh_stale_calendars,
    sync_connection,
    sync_connections,
    sync_window,
)
from booking_service.store.models import BusyBlock, CalendarConnection, ResourcePool

from .helpers import (
    SECRET_KEY,
    UNDEFINED_ZONE_ICS,
    add_meeting,
    add_member,
    add_room,
    admin,
    busy_calendar,
    ics,
    stored_file,
    utc,
    vevent,
)

NOW = utc(2030, 1, 6, 12)  # a Sunday


def blocks(engine, connection_id: int) -> list[tuple[dt.datetime, dt.datetime]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(BusyBlock).where(BusyBlock.connection_id == connection_id).order_by(BusyBlock.start)
        )
        return [(b.start, b.end) for b in rows]


def connection(engine, connection_id: int) -> CalendarConnection:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(CalendarConnection, connection_id)


def file_connection(engine, data: str, zone: str = "Europe/Berlin") -> tuple[int, int]:
    with Session(engine) as session, session.begin():
        member = add_member(session, zone=zone)
        conn = add_ics_file_connection(session, member.id, "Work", data, by=admin(session))
        return member.id, conn.id


TWO_EVENTS = ics(
    vevent("a", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)),
    vevent("b", utc(2030, 1, 8, 14), utc(2030, 1, 8, 15)),
)


def test_sync_window_reads_from_a_day_ago():
    assert sync_window(NOW, 30) == (utc(2030, 1, 5, 12), utc(2030, 2, 5, 12))
    with pytest.raises(ValueError, match="tz-aware"):
        sync_window(dt.datetime(2030, 1, 1), 30)


def test_file_sync_stores_busy_blocks_and_status(engine):
    member_id, conn_id = file_connection(engine, TWO_EVENTS)
    result = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert result.ok and result.blocks == 2
    assert blocks(engine, conn_id) == [
        (utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)),
        (utc(2030, 1, 8, 14), utc(2030, 1, 8, 15)),
    ]
    stored = connection(engine, conn_id)
    assert (stored.last_status, stored.last_error, stored.last_synced_at) == ("ok", None, NOW)
    with Session(engine) as session:
        assert {b.resource_id for b in session.scalars(select(BusyBlock))} == {member_id}


def test_resync_replaces_the_blocks(engine):
    _, conn_id = file_connection(engine, TWO_EVENTS)
    sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    with Session(engine) as session, session.begin():
        session.get(CalendarConnection, conn_id).ics_data = ics(
            vevent("c", utc(2030, 1, 9, 8), utc(2030, 1, 9, 9))
        )
    assert sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW).blocks == 1
    assert blocks(engine, conn_id) == [(utc(2030, 1, 9, 8), utc(2030, 1, 9, 9))]


def test_malformed_calendar_keeps_previous_blocks_and_records_the_error(engine):
    _, conn_id = file_connection(engine, TWO_EVENTS)
    sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    with Session(engine) as session, session.begin():
        session.get(CalendarConnection, conn_id).ics_data = UNDEFINED_ZONE_ICS.read_text()
    later = NOW + dt.timedelta(hours=1)
    result = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=later)
    assert result.status == "error"
    assert result.error.startswith("line 60, DTSTART: TZID 'Customized Time Zone'")
    assert len(blocks(engine, conn_id)) == 2
    stored = connection(engine, conn_id)
    assert (stored.last_status, stored.last_error, stored.last_synced_at) == ("error", result.error, later)


def test_subscription_error_then_recovery(engine, ics_server):
    url = ics_server.publish("/ada.ics", TWO_EVENTS)
    with Session(engine) as session, session.begin():
        conn_id = add_ics_url_connection(
            session, add_member(session).id, "Ada's Google", url, by=admin(session)
        ).id
    assert sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW).blocks == 2

    ics_server.publish("/ada.ics", "Service unavailable", status=503)
    failed = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert failed.status == "error" and "HTTP 503" in failed.error
    assert len(blocks(engine, conn_id)) == 2  # untouched
    assert connection(engine, conn_id).last_error == failed.error

    ics_server.publish("/ada.ics", "<html>Please sign in</html>")
    assert "not iCalendar data" in sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW).error
    assert len(blocks(engine, conn_id)) == 2

    ics_server.publish("/ada.ics", ics(vevent("z", utc(2030, 1, 10, 9), utc(2030, 1, 10, 11))))
    assert sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW).ok
    assert blocks(engine, conn_id) == [(utc(2030, 1, 10, 9), utc(2030, 1, 10, 11))]
    assert (connection(engine, conn_id).last_status, connection(engine, conn_id).last_error) == ("ok", None)


def test_subscription_timeout_is_an_error(engine, ics_server):
    url = ics_server.publish("/slow.ics", TWO_EVENTS, delay=1.0)
    with Session(engine) as session, session.begin():
        conn_id = add_ics_url_connection(session, add_member(session).id, "Slow", url, by=admin(session)).id
    result = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW, timeout=0.2)
    assert result.status == "error" and ("did not answer" in result.error or "timed out" in result.error)


def test_events_outside_the_window_are_not_stored(engine):
    _, conn_id = file_connection(
        engine,
        ics(
            vevent("past", utc(2030, 1, 1, 9), utc(2030, 1, 1, 10)),
            vevent("far", utc(2031, 1, 1, 9), utc(2031, 1, 1, 10)),
            vevent("edge", utc(2030, 1, 5, 11), utc(2030, 1, 5, 13)),
        ),
    )
    sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert blocks(engine, conn_id) == [(utc(2030, 1, 5, 12), utc(2030, 1, 5, 13))]


def test_own_meetings_in_the_calendar_are_not_busy_twice(engine):
    with Session(engine) as session, session.begin():
        member = add_member(session)
        other = add_member(session, name="Bo")
        own = add_meeting(session, [member], utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))
        not_ours = add_meeting(session, [other], utc(2030, 1, 7, 11), utc(2030, 1, 7, 12))
        data = ics(
            vevent(own.uid, own.start, own.end),
            vevent(not_ours.uid, not_ours.start, not_ours.end),  # the member really attends this one
        )
        conn_id = add_ics_file_connection(session, member.id, "Work", data, by=admin(session)).id
    sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert blocks(engine, conn_id) == [(utc(2030, 1, 7, 11), utc(2030, 1, 7, 12))]


def test_caldav_connection_reads_busy_time(engine, caldav_calendar):
    from booking_service.calendars.caldav_client import CalDAVAccount, put_event

    account = CalDAVAccount(url=caldav_calendar.url, username="alice", password=caldav_calendar.password)
    put_event(account, ics(vevent("cal-1", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))))
    with Session(engine) as session, session.begin():
        member = add_member(session)
        conn = add_caldav_connection(
            session,
            member.id,
            "Work",
            caldav_calendar.server_url + "alice/",
            "alice",
            caldav_calendar.password,
            secret_key=SECRET_KEY,
            by=admin(session),
        )
        conn.calendar_url = caldav_calendar.url
        conn_id = conn.id
        assert caldav_calendar.password not in conn.password_encrypted
    result = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert result.ok, result.error
    assert blocks(engine, conn_id) == [(utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))]

    wrong_key = sync_connection(engine, conn_id, secret_key="another-key", now=NOW)
    assert wrong_key.status == "error" and "enter the password again" in wrong_key.error
    assert len(blocks(engine, conn_id)) == 1


def test_caldav_wrong_password_is_recorded(engine, caldav_calendar):
    with Session(engine) as session, session.begin():
        conn_id = add_caldav_connection(
            session,
            add_member(session).id,
            "Work",
            caldav_calendar.url,
            "alice",
            "wrong",
            secret_key=SECRET_KEY,
            by=admin(session),
        ).id
    result = sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW)
    assert result.status == "error" and "refused the user name or password" in result.error
    assert connection(engine, conn_id).last_error == result.error


def test_demo_connections_are_skipped_and_unknown_ids_reported(engine):
    with Session(engine) as session, session.begin():
        member = add_member(session)
        demo = CalendarConnection(resource_id=member.id, kind="demo", name="Demo")
        session.add(demo)
        session.flush()
        demo_id = demo.id
    assert sync_connection(engine, demo_id, secret_key=SECRET_KEY, now=NOW).status == "skipped"
    assert connection(engine, demo_id).last_status == "never"
    missing = sync_connection(engine, 9999, secret_key=SECRET_KEY, now=NOW)
    assert missing.status == "skipped" and "no calendar connection 9999" in missing.error


def test_sync_connections_goes_on_after_a_failure(engine):
    _, good = file_connection(engine, TWO_EVENTS)
    with Session(engine) as session, session.begin():
        bad = stored_file(session, add_member(session, name="Bo"), UNDEFINED_ZONE_ICS.read_text()).id
    results = {r.connection_id: r.status for r in sync_connections(engine, secret_key=SECRET_KEY, now=NOW)}
    assert results == {good: "ok", bad: "error"}


def test_invitation_resource_ids_cover_members_pools_and_rooms(engine):
    with Session(engine) as session, session.begin():
        ada, bo, cy = (add_member(session, name=n) for n in ("Ada", "Bo", "Cy"))
        room = add_room(session)
        meeting = add_meeting(session, [ada], utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))
        invitation = meeting.invitation
        pool = ResourcePool(name="Sales", members=[bo, cy])
        session.add(pool)
        invitation.members = [ada]
        invitation.pools = [pool]
        invitation.rooms = [room]
        session.flush()
        assert invitation_resource_ids(invitation) == sorted([ada.id, bo.id, cy.id, room.id])


def test_refresh_syncs_only_stale_calendars(engine):
    member_id, stale_id = file_connection(engine, TWO_EVENTS)
    with Session(engine) as session, session.begin():
        fresh = add_ics_file_connection(session, member_id, "Fresh", TWO_EVENTS, by=admin(session))
        fresh.last_synced_at = NOW - dt.timedelta(minutes=5)
        fresh_id = fresh.id
        other_id = add_ics_file_connection(
            session, add_member(session, name="Bo").id, "Other", TWO_EVENTS, by=admin(session)
        ).id
    outcome = refresh_stale_calendars(
        engine, [member_id], secret_key=SECRET_KEY, max_age=dt.timedelta(minutes=15), budget=10, now=NOW
    )
    assert outcome.stale == (stale_id,) and outcome.finished
    assert [r.connection_id for r in outcome.results] == [stale_id]
    assert len(blocks(engine, stale_id)) == 2
    assert blocks(engine, fresh_id) == [] and blocks(engine, other_id) == []


def test_refresh_never_waits_longer_than_its_budget(engine, ics_server):
    url = ics_server.publish("/slow.ics", TWO_EVENTS, delay=1.5)
    with Session(engine) as session, session.begin():
        member_id = add_member(session).id
        conn_id = add_ics_url_connection(session, member_id, "Slow", url, by=admin(session)).id
    began = time.monotonic()
    outcome = refresh_stale_calendars(
        engine, [member_id], secret_key=SECRET_KEY, max_age=dt.timedelta(minutes=15), budget=0.3, now=NOW
    )
    waited = time.monotonic() - began
    assert waited < 1.2, waited
    assert outcome.started == (conn_id,) and not outcome.finished and outcome.results == ()

    # A second page opened meanwhile does not start another fetch of the same calendar.
    again = refresh_stale_calendars(
        engine, [member_id], secret_key=SECRET_KEY, max_age=dt.timedelta(minutes=15), budget=0, now=NOW
    )
    assert again.stale == (conn_id,) and again.started == ()

    # The sync finishes in the background and commits on its own.
    deadline = time.monotonic() + 10
    while conn_id in sync_module._IN_FLIGHT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(blocks(engine, conn_id)) == 2


def test_refresh_invitation_calendars_uses_the_configured_age_and_budget(engine):
    from booking_service.calendars.sync import refresh_invitation_calendars
    from booking_service.core.config import Settings

    with Session(engine) as session, session.begin():
        ada, bo = add_member(session), add_member(session, name="Bo")
        ada_conn = add_ics_file_connection(session, ada.id, "Work", TWO_EVENTS, by=admin(session))
        bo_conn = add_ics_file_connection(session, bo.id, "Work", TWO_EVENTS, by=admin(session))
        bo_conn.last_synced_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
        meeting = add_meeting(session, [ada], utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))
        meeting.invitation.members = [ada, bo]
        invitation_id, ada_id, bo_id = meeting.invitation.id, ada_conn.id, bo_conn.id

    def refresh(max_age_minutes: int, *, own_session: bool = False):
        settings = Settings(
            secret_key=SECRET_KEY,
            calendar_max_age_minutes=max_age_minutes,
            calendar_refresh_budget_seconds=5.0,
        )
        with Session(engine) as session:
            from booking_service.store.models import Invitation

            invitation = session.get(Invitation, invitation_id)
            # The page passes its own session for the stale query; the syncs commit on theirs.
            return refresh_invitation_calendars(engine, invitation, settings, session=None if own_session else session)

    assert refresh(30).stale == (ada_id,)  # never synced; Bo's is 20 minutes old
    assert refresh(10, own_session=True).stale == (bo_id,)  # Ada's is now fresh, Bo's older than 10 minutes
    assert refresh(10).stale == ()


def test_concurrent_syncs_of_one_connection_leave_one_set_of_blocks(engine):
    _, conn_id = file_connection(engine, TWO_EVENTS)
    results = []
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        results.append(sync_connection(engine, conn_id, secret_key=SECRET_KEY, now=NOW))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r.status for r in results] == ["ok"] * 4
    assert blocks(engine, conn_id) == [
        (utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)),
        (utc(2030, 1, 8, 14), utc(2030, 1, 8, 15)),
    ]


def test_a_small_calendar_syncs_while_a_huge_one_is_being_parsed(sqlite_engine, monkeypatch):
    engine = sqlite_engine
    with Session(engine) as session, session.begin():
        huge = stored_file(session, add_member(session), busy_calendar(8_000, NOW)).id
        small = stored_file(session, add_member(session, name="Bo"), TWO_EVENTS).id
    started = threading.Event()
    read = sync_module.sandbox.read

    def observed_read(texts, **kwargs):
        if len(texts[0]) > 100_000:
            started.set()
        return read(texts, **kwargs)

    monkeypatch.setattr(sync_module.sandbox, "read", observed_read)
    results = {}
    thread = threading.Thread(
        target=lambda: results.setdefault(huge, sync_connection(engine, huge, secret_key=SECRET_KEY, now=NOW))
    )
    thread.start()
    assert started.wait(30)
    time.sleep(0.3)  # the huge file is being parsed in its child process
    assert sync_connection(engine, small, secret_key=SECRET_KEY, now=NOW).blocks == 2
    assert thread.is_alive(), "the small calendar waited for the huge one"
    thread.join(timeout=120)
    assert results[huge].ok and results[huge].events == 8_000 and results[huge].blocks == 1
