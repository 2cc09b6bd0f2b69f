"""The background worker: queued mail goes out and stale calendars are re-synced in one pass."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.cli import main
from booking_service.core.config import load_settings
from booking_service.delivery.worker import run_pass
from booking_service.services.outbox import RenderedMail, queue_mail
from booking_service.store.db import make_engine
from booking_service.store.models import CalendarConnection, OutboxMessage, TeamMember

from ..factories import SECRET_KEY

ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//EN\r
BEGIN:VEVENT\r
UID:one@test\r
DTSTAMP:20261101T000000Z\r
DTSTART:{start}\r
DTEND:{end}\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_one_pass_delivers_mail_and_resyncs_stale_calendars(database_url, tmp_path):
    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY})
    engine = make_engine(database_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = (now + dt.timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    end = (now + dt.timedelta(days=1, hours=1)).strftime("%Y%m%dT%H%M%SZ")
    with Session(engine) as session, session.begin():
        member = TeamMember(name="Ada", email="ada@example.com", zone="Europe/London")
        session.add(member)
        session.flush()
        session.add(
            CalendarConnection(
                resource_id=member.id, kind="ics_file", name="Ada's calendar",
                ics_data=ICS.format(start=start, end=end),
                last_synced_at=now - dt.timedelta(hours=2), last_status="ok",
            )
        )
        queue_mail(session, secret_key=SECRET_KEY, kind="notification", to="ada@example.com",
                   mail=RenderedMail(subject="Hello", text="Hello Ada", html="<p>Hello Ada</p>"), now=now)
    report = run_pass(engine, settings, now=now)
    assert report.lines == [
        f"Mail: 1 written to {tmp_path / 'outbox'} (no SMTP configured), 0 waiting to retry, 0 failed.",
        "Calendars: 1 re-synced, 0 failed.",
    ]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    with Session(engine) as session:
        assert session.scalars(select(OutboxMessage.status)).one() == "sent"
        connection = session.scalars(select(CalendarConnection)).one()
        assert connection.last_synced_at >= now and len(connection.busy_blocks) == 1
    # Nothing left to do: a second pass reports nothing.
    assert run_pass(engine, settings, now=now).lines == []
    engine.dispose()


def test_worker_command_runs_one_pass(tmp_path):
    env = {"SLOTWISE_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"], env=env).exit_code == 0
    result = runner.invoke(main, ["worker", "--once"], env=env)
    assert result.exit_code == 0, result.output


def test_a_pass_records_expired_invitations_and_withdraws_their_mail(database_url, tmp_path):
    from booking_service.services.invitations import create_invitation
    from booking_service.services.lifecycle import frame_end_instant
    from booking_service.store.db import session_scope
    from booking_service.store.models import Invitation

    from ..factories import draft, make_org

    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY})
    engine = make_engine(database_url)
    now = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
    with Session(engine) as session:
        org = make_org(session)
    with session_scope(engine, write=True) as session:
        ending = create_invitation(session, draft(org, now), secret_key=SECRET_KEY, by=None, public_url="http://x", now=now).invitation
        later = create_invitation(session, draft(org, now, frame_end=ending.frame_end + dt.timedelta(days=7)),
                                  secret_key=SECRET_KEY, by=None, public_url="http://x", now=now).invitation
    # Nobody opens the link: the worker's pass at the end of the frame records it, before it
    # would send the invitation mail that still waits.
    report = run_pass(engine, settings, now=frame_end_instant(ending))
    assert report.lines[0] == "Invitations: 1 expired."
    assert report.lines[1] == f"Mail: 1 written to {tmp_path / 'outbox'} (no SMTP configured), 0 waiting to retry, 0 failed."
    with Session(engine) as session:
        assert [session.get(Invitation, i).status for i in (ending.id, later.id)] == ["expired", "active"]
        statuses = {m.invitation_id: m.status for m in session.scalars(select(OutboxMessage))}
        assert statuses == {ending.id: "superseded", later.id: "sent"}
    engine.dispose()


# --- deadlines: no kind of outside work waits for another, and a pass ends within its budget ---


def _slow_world(database_url: str, calendar_url: str, mail_to: str = "ada@example.com") -> dt.datetime:
    """A stale calendar subscription at ``calendar_url`` and one queued mail."""
    from booking_service.store.db import session_scope

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        member = TeamMember(name="Ada", email="ada@example.com", zone="Europe/London")
        session.add(member)
        session.flush()
        session.add(CalendarConnection(resource_id=member.id, kind="ics_url", name="Ada's feed", url=calendar_url))
        queue_mail(session, secret_key=SECRET_KEY, kind="notification", to=mail_to,
                   mail=RenderedMail(subject="Hello", text="Hello Ada", html="<p>Hello Ada</p>"), now=now)
    engine.dispose()
    return now


def _settings(database_url, tmp_path, **env):
    return load_settings(
        {"SLOTWISE_VAR_DIR": str(tmp_path), "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, **env}
    )


@pytest.mark.timeout(90)
def test_mail_goes_out_while_a_calendar_server_drips(database_url, tmp_path):
    from ..slow_servers import HTTP_DRIP, SLACK, slow_server
    from ..smtp_server import smtp_server

    with slow_server(HTTP_DRIP, interval=1.0) as calendar, smtp_server() as (smtp_url, received):
        now = _slow_world(database_url, calendar.url + "/ada.ics")
        settings = _settings(database_url, tmp_path, SMTP_URL=smtp_url, CALENDAR_DEADLINE_SECONDS="4")
        engine = make_engine(database_url)
        began = time.monotonic()
        report = run_pass(engine, settings, now=now)
        took = time.monotonic() - began
    # The mail went out at once, not after the calendar's 4 s; the pass ended at the deadline.
    assert len(received.messages) == 1 and received.arrived[0] - began < 3
    assert 4 <= took < 4 + SLACK
    assert report.lines[0] == "Mail: 1 sent, 0 waiting to retry, 0 failed."
    assert report.lines[1].startswith("Calendars: 0 re-synced, 1 failed. Last error: ")
    assert "did not send the whole calendar within 4 s" in report.lines[1]
    assert report.failed == 1
    assert report.summary() == "Mail: 1 sent, 0 failed. Calendars: 0 synced, 1 failed."
    with Session(engine) as session:
        connection = session.scalars(select(CalendarConnection)).one()
        assert connection.last_status == "error" and "within 4 s" in connection.last_error
    engine.dispose()


@pytest.mark.timeout(90)
def test_calendars_sync_while_the_mail_server_never_answers(database_url, tmp_path):
    from ..slow_servers import SLACK, prompt_server, slow_server

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = (now + dt.timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    end = (now + dt.timedelta(days=1, hours=1)).strftime("%Y%m%dT%H%M%SZ")
    body = ICS.format(start=start, end=end).encode()
    with slow_server(b"", scheme="smtp") as mail_server, prompt_server(body) as calendar:
        now = _slow_world(database_url, calendar.url + "/ada.ics")
        settings = _settings(database_url, tmp_path, SMTP_URL=mail_server.url, SMTP_DEADLINE_SECONDS="4")
        engine = make_engine(database_url)
        began = time.monotonic()
        report = run_pass(engine, settings, now=now)
        took = time.monotonic() - began
    # The calendar was read at once, not after the mail server's 4 s.
    assert len(calendar.connections) == 1 and calendar.connections[0] - began < 3
    assert 4 <= took < 4 + SLACK
    assert report.lines == [
        "Mail: 0 sent, 1 waiting to retry, 0 failed. Last error: TimeoutError: "
        f"127.0.0.1:{mail_server.port} did not finish the SMTP conversation within 4 s",
        "Calendars: 1 re-synced, 0 failed.",
    ]
    with Session(engine) as session:
        assert len(session.scalars(select(CalendarConnection)).one().busy_blocks) == 1
        assert session.scalars(select(OutboxMessage.status)).one() == "pending"
    engine.dispose()


@pytest.mark.timeout(90)
def test_a_pass_ends_within_its_budget_however_much_mail_waits(database_url, tmp_path):
    from ..slow_servers import SLACK, slow_server

    with slow_server(b"", scheme="smtp") as mail_server:
        now = _slow_world(database_url, "http://127.0.0.1:9/unused.ics")
        engine = make_engine(database_url)
        with Session(engine) as session, session.begin():
            session.query(CalendarConnection).delete()
            for i in range(5):
                queue_mail(session, secret_key=SECRET_KEY, kind="notification", to=f"p{i}@example.com",
                           mail=RenderedMail(subject="Hi", text="Hi", html="<p>Hi</p>"), now=now)
        settings = _settings(
            database_url, tmp_path, SMTP_URL=mail_server.url, SMTP_DEADLINE_SECONDS="3", WORKER_BUDGET_SECONDS="5"
        )
        began = time.monotonic()
        report = run_pass(engine, settings, now=now)
        took = time.monotonic() - began
    # Six messages at 3 s each would be 18 s; the pass stops after 5 s with the rest still due.
    assert took < 5 + SLACK
    assert report.lines[0].startswith("Mail: 0 sent, 2 waiting to retry, 0 failed. 4 left for the next pass (out of time).")
    with Session(engine) as session:
        assert sorted(session.scalars(select(OutboxMessage.attempts))) == [0, 0, 0, 0, 1, 1]
    engine.dispose()


# --- the command's exit status and summary ---------------------------------------------------------


def _cli_env(database_url: str, tmp_path, **env: str) -> dict[str, str]:
    return {"SLOTWISE_VAR_DIR": str(tmp_path), "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, **env}


def test_worker_once_succeeds_with_a_summary_when_everything_went_out(database_url, tmp_path):
    from ..slow_servers import prompt_server

    now = dt.datetime.now(dt.UTC)
    body = ICS.format(
        start=(now + dt.timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ"),
        end=(now + dt.timedelta(days=1, hours=1)).strftime("%Y%m%dT%H%M%SZ"),
    ).encode()
    with prompt_server(body) as calendar:
        _slow_world(database_url, calendar.url + "/ada.ics")
        result = CliRunner().invoke(main, ["worker", "--once"], env=_cli_env(database_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Mail: 1 sent, 0 failed. Calendars: 1 synced, 0 failed."


@pytest.mark.timeout(90)
def test_worker_once_exits_non_zero_when_an_item_failed(database_url, tmp_path):
    from ..slow_servers import HTTP_DRIP, SLACK, slow_server

    with slow_server(HTTP_DRIP) as calendar, slow_server(b"", scheme="smtp") as mail_server:
        _slow_world(database_url, calendar.url + "/ada.ics")
        env = _cli_env(
            database_url, tmp_path, SMTP_URL=mail_server.url, SMTP_DEADLINE_SECONDS="3", CALENDAR_DEADLINE_SECONDS="3"
        )
        began = time.monotonic()
        result = CliRunner().invoke(main, ["worker", "--once"], env=env)
        took = time.monotonic() - began
    assert result.exit_code == 1, result.output
    # Both waited 3 s side by side, not 6 s one after the other.
    assert took < 3 + SLACK
    assert result.output.splitlines()[-1] == "Mail: 0 sent, 1 failed. Calendars: 0 synced, 1 failed."


@pytest.mark.timeout(90)
def test_sync_calendars_exits_non_zero_when_a_calendar_failed(database_url, tmp_path):
    from ..slow_servers import HTTP_DRIP, SLACK, slow_server

    with slow_server(HTTP_DRIP) as calendar:
        _slow_world(database_url, calendar.url + "/ada.ics")
        env = _cli_env(database_url, tmp_path, CALENDAR_DEADLINE_SECONDS="3")
        began = time.monotonic()
        result = CliRunner().invoke(main, ["sync-calendars"], env=env)
        took = time.monotonic() - began
    assert result.exit_code == 1, result.output
    assert took < 3 + SLACK
    lines = result.output.splitlines()
    assert "did not send the whole calendar within 3 s" in lines[0]
    assert lines[-1] == "Calendars: 0 synced, 1 failed, 0 skipped (0 busy blocks)."
