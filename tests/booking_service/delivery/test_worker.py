"""The background worker: queued mail goes out and stale calendars are re-synced in one pass."""

from __future__ import annotations

import datetime as dt

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
