"""The ``slotwise`` command: help texts, database set-up, demo seed, and one-line errors."""

from __future__ import annotations

import datetime as dt
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner

from booking_service import seed as seed_module
from booking_service.cli import main

from ..ports import free_port

COMMANDS = ["init-db", "seed-demo", "serve", "dashboard", "up", "check"]


@pytest.fixture
def env(tmp_path):
    return {"SLOTWISE_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def run(env, *args):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_help_names_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 20, summary


def test_init_db_then_seed_once(env):
    first = run(env, "init-db")
    assert first.exit_code == 0 and "migrated from empty" in first.output
    assert "up to date" in run(env, "init-db").output
    seeded = run(env, "seed-demo", "--seed", "3")
    assert seeded.exit_code == 0 and "team members" in seeded.output
    again = run(env, "seed-demo")
    assert again.exit_code == 1
    assert again.output.strip() == (
        "Error: the database already holds data; seed-demo only fills an empty database. "
        "Use --reset to delete everything and seed again."
    )
    quiet = run(env, "seed-demo", "--if-empty")
    assert quiet.exit_code == 0 and "leaving it as it is" in quiet.output
    assert run(env, "seed-demo", "--reset").exit_code == 0


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"DATABASE_URL": "nonsense"}, "Error: DATABASE_URL='nonsense' is not a SQLite or PostgreSQL URL"),
        ({"DATABASE_URL": "postgresql://x@127.0.0.1:1/none"}, "Error: cannot connect to the database"),
        ({"BOOKING_PORT": "web"}, "Error: BOOKING_PORT='web' is not a whole number"),
    ],
)
def test_configuration_errors_are_one_line(env, variables, expected):
    result = CliRunner().invoke(main, ["init-db"], env={**env, **variables})
    assert result.exit_code == 1
    assert result.output.startswith(expected)
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_unknown_zone_in_seed_data_is_one_line(env, monkeypatch):
    run(env, "init-db")
    monkeypatch.setattr(seed_module, "DEMO_MEMBER_ZONES", ("Europe/London", "Mars/Olympus_Mons"))
    result = CliRunner().invoke(main, ["seed-demo"], env=env)
    assert result.exit_code == 1
    assert result.output == (
        "Error: seed data zone 'Mars/Olympus_Mons' is not an IANA time zone; "
        "use a name like 'Europe/Berlin'\n"
    )


def test_serve_refuses_a_port_in_use(env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: port {port} on 127.0.0.1 is in use; stop what runs there or set BOOKING_PORT to a free port\n"
    )


def _get(url: str, timeout: float = 2) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status


@pytest.mark.slow
def test_up_starts_both_services_and_stops_them_on_ctrl_c(env):
    booking_port, dashboard_port = free_port(), free_port()
    booking_line = f"Booking service: http://127.0.0.1:{booking_port}"
    dashboard_line = f"Dashboard:       http://127.0.0.1:{dashboard_port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "booking_service.cli", "up"],
        env={**os.environ, **env, "BOOKING_PORT": str(booking_port), "DASHBOARD_PORT": str(dashboard_port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    output = ""
    try:
        # `up` announces each URL only once its service answers: wait for its words, then check them.
        deadline = time.monotonic() + 90
        while not (booking_line in output and dashboard_line in output):
            output += lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert _get(f"http://127.0.0.1:{booking_port}/healthz") == 200
        assert _get(f"http://127.0.0.1:{dashboard_port}/_stcore/health") == 200
        assert _get(f"http://127.0.0.1:{dashboard_port}/sign-in", timeout=30) == 200  # the dashboard's own sign-in form
        # Ctrl-C reaches the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0
    except queue.Empty:
        pytest.fail(f"`slotwise up` did not announce both URLs within 90 s; it printed:\n{output}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    reader.join(timeout=10)  # the rest of what it printed, up to its end
    process.stdout.close()
    while not lines.empty():
        output += lines.get()
    assert "Stopped." in output
    for port in (booking_port, dashboard_port):
        with pytest.raises(OSError):
            _get(f"http://127.0.0.1:{port}/")


def test_check_says_no_problems_or_names_each_one(env):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from booking_service.store.db import make_engine
    from booking_service.store.models import Invitation, OutboxMessage, TeamMember, WorkingHours

    assert run(env, "init-db").exit_code == 0
    assert "check" in CliRunner().invoke(main, ["--help"]).output
    clean = run(env, "check")
    assert (clean.exit_code, clean.output) == (0, "no problems found\n")
    engine = make_engine(env["DATABASE_URL"])
    with Session(engine) as session, session.begin():
        ana = TeamMember(name="Ana", zone="Europe/Berlin", hours=[WorkingHours(weekday=0, start_minute=540, end_minute=1020)])
        session.add(ana)
        for n in (1, 2):
            invitation = Invitation(token_hash=f"{n}" * 64, customer_name="Ada", customer_email="ada@example.com",
                                    subject="Intro", duration_minutes=30, frame_start=dt.date(2030, 1, 7),
                                    frame_end=dt.date(2030, 1, 11), zone="Europe/Berlin", status="active", members=[ana])
            session.add(invitation)
            session.flush()
            session.add(OutboxMessage(kind="invitation", to_addr="ada@example.com", subject="Pick a time",
                                      body_text="…", invitation_id=invitation.id, link_hash=invitation.token_hash))
        # Two broken rows: a scheduled invitation without a meeting, a cancelled one whose mail waits.
        session.execute(update(Invitation).where(Invitation.id == 1).values(status="scheduled"))
        session.execute(update(Invitation).where(Invitation.id == 2).values(status="cancelled"))
    engine.dispose()
    broken = run(env, "check")
    assert broken.exit_code == 1
    assert broken.output.splitlines() == [
        "invitation 1 is scheduled but has no confirmed meeting (no meeting)",
        "outbox message 1 waits to mail invitation 1, which is scheduled",
        "outbox message 2 waits to mail invitation 2, which is cancelled",
    ]
