"""``slotwise sync-calendars``: sync all or one connection, report, run periodically."""

from __future__ import annotations

import datetime as dt
import re

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking_service.calendars.command import Duration, run_sync
from booking_service.calendars.connections import add_ics_file_connection
from booking_service.cli import main
from booking_service.store.models import BusyBlock

from .helpers import SECRET_KEY, UNDEFINED_ZONE_ICS, add_member, admin, ics, stored_file, vevent


def soon(hours: int) -> dt.datetime:
    base = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    return base + dt.timedelta(hours=hours)


@pytest.fixture
def connections(engine) -> dict[str, int]:
    with Session(engine) as session, session.begin():
        ada, bo = add_member(session), add_member(session, name="Bo")
        good = add_ics_file_connection(
            session, ada.id, "Work", ics(vevent("a", soon(1), soon(2))), by=admin(session)
        )
        other = add_ics_file_connection(
            session, bo.id, "Home", ics(vevent("b", soon(3), soon(4))), by=admin(session)
        )
        bad = stored_file(session, bo, UNDEFINED_ZONE_ICS.read_text())
        return {"good": good.id, "other": other.id, "bad": bad.id}


def block_count(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(BusyBlock))


def invoke(engine, *args: str):
    env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "SECRET_KEY": SECRET_KEY}
    return CliRunner().invoke(main, ["sync-calendars", *args], env=env)


def test_syncs_every_connection_and_reports_failures(engine, connections):
    result = invoke(engine)
    assert result.exit_code == 1, result.output  # one calendar failed
    assert result.output.splitlines()[-1] == "Calendars: 2 synced, 1 failed, 0 skipped (2 busy blocks)."
    assert f"#{connections['bad']} Bo / Exchange: error after " in result.output
    assert "line 60, DTSTART: TZID 'Customized Time Zone'" in result.output
    assert block_count(engine) == 2


def test_syncs_one_connection_by_id(engine, connections):
    result = invoke(engine, "--connection", str(connections["good"]))
    assert result.exit_code == 0, result.output
    assert "Calendars: 1 synced, 0 failed" in result.output
    assert block_count(engine) == 1


def test_unknown_connection_id_is_an_error(engine, connections):
    result = invoke(engine, "--connection", "999")
    assert result.exit_code != 0
    assert "no calendar connection with id 999" in result.output


@pytest.mark.parametrize("value", ["10", "ten minutes", "0m", "5w"])
def test_every_needs_a_duration(value):
    result = CliRunner().invoke(main, ["sync-calendars", "--every", value], env={"SECRET_KEY": "x"})
    assert result.exit_code == 2
    assert "is not a duration; use e.g. 90s, 10m, 1h or 1d" in result.output


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("1d", 86400)])
def test_duration_parses(text, seconds):
    assert Duration().convert(text, None, None) == dt.timedelta(seconds=seconds)


def test_every_repeats_until_interrupted(engine, connections):
    lines: list[str] = []
    waits: list[float] = []

    def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt

    run_sync(
        engine,
        [connections["good"]],
        secret_key=SECRET_KEY,
        every=dt.timedelta(minutes=10),
        echo=lines.append,
        sleep=fake_sleep,
    )
    assert sum(line.startswith("Calendars: 1 synced") for line in lines) == 2
    assert lines[-1] == "Stopped."
    assert all(590 < w <= 600 for w in waits)


def test_duration_rejects_bad_values_through_click():
    with pytest.raises(click.BadParameter):
        Duration().convert("abc", None, None)


def test_calendar_feed_prints_a_working_url_and_revokes_it(engine):
    from booking_service.calendars.feeds import resource_for_feed_token

    with Session(engine) as session, session.begin():
        member_id = add_member(session).id
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": "https://book.example.com",
    }
    result = CliRunner().invoke(main, ["calendar-feed", str(member_id)], env=env)
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("https://book.example.com/feeds/") and url.endswith(".ics")
    token = url.removeprefix("https://book.example.com/feeds/").removesuffix(".ics")
    with Session(engine) as session:
        assert resource_for_feed_token(session, token).id == member_id

    revoked = CliRunner().invoke(main, ["calendar-feed", str(member_id), "--revoke"], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with Session(engine) as session:
        assert resource_for_feed_token(session, token) is None

    missing = CliRunner().invoke(main, ["calendar-feed", "999"], env=env)
    assert missing.exit_code == 1 and "no team member or room with id 999" in missing.output


def test_piped_output_has_a_line_per_calendar(engine, connections):
    result = invoke(engine)
    lines = result.output.splitlines()
    good = next(line for line in lines if line.startswith(f"#{connections['good']} Ada / Work: "))
    assert re.fullmatch(rf"#{connections['good']} Ada / Work: 1 events, 1 busy blocks, \d+\.\d s", good)
    bad = next(line for line in lines if line.startswith(f"#{connections['bad']} Bo / Exchange: "))
    assert re.fullmatch(
        rf"#{connections['bad']} Bo / Exchange: error after \d+\.\d s: line 60, DTSTART: TZID 'Customized Time Zone'.*",
        bad,
    )
    assert "Syncing calendars" not in result.output


def test_a_terminal_gets_a_progress_bar(engine, connections):
    import os
    import pty
    import subprocess
    import sys

    env = {
        **os.environ,
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "SECRET_KEY": SECRET_KEY,
    }
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", "from booking_service.cli import main; main()", "sync-calendars"],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 1, output  # one calendar failed
    text = output.decode()
    assert "Syncing calendars" in text and "Calendars: 2 synced, 1 failed" in text
    assert "busy blocks, " not in text  # no per-calendar lines: the bar shows the progress


def test_a_failed_calendar_write_makes_the_exit_status_non_zero(engine, connections):
    from booking_service.calendars.connections import add_caldav_connection
    from booking_service.services.calendar_writes import queue_meeting_writeback

    from ..smtp_server import free_port
    from .helpers import add_meeting

    with Session(engine) as session, session.begin():
        member = add_member(session, name="Cy")
        add_caldav_connection(
            session, member.id, "Cy's calendar", f"http://127.0.0.1:{free_port()}/cy/cal/", "cy", "pw",
            secret_key=SECRET_KEY, by=admin(session),
        )
        meeting = add_meeting(session, [member], soon(5), soon(6))
        queue_meeting_writeback(session, meeting, "put", now=dt.datetime.now(dt.UTC))
    # Only a calendar that reads well is synced; the write to the unreachable server fails.
    result = invoke(engine, "--connection", str(connections["good"]))
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == (
        "Calendars: 1 synced, 0 failed, 0 skipped (1 busy blocks). Calendar writes: 0 done, 1 failed (1 to retry)."
    )
    assert "Last calendar write error: cannot reach http://127.0.0.1:" in result.output
