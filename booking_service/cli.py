"""The ``slotwise`` command: set up the database, seed demo data, run the services.

Every command turns configuration problems into one clear line (no traceback).
"""

from __future__ import annotations

import importlib.resources
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import click

from .core.config import ConfigError, Settings, load_settings
from .store.db import check_connection, make_engine, session_scope

#: How long ``slotwise up`` waits for a service to answer before it gives up.
START_TIMEOUT_SECONDS = 300


class SlotwiseGroup(click.Group):
    """A click group that reports ConfigError (and friends) as one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=SlotwiseGroup)
@click.version_option(package_name="slotwise", prog_name="slotwise")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Slotwise: capacity planner and booking service for self-scheduled meetings."""
    ctx.obj = None


def settings() -> Settings:
    """The settings of this run (read once per command)."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    return root.obj


def _engine():
    engine = make_engine(settings().database_url)
    check_connection(engine)
    return engine


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (Alembic migrations to the newest revision)."""
    from .store.migrate import current_revision, upgrade

    engine = _engine()
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"Database {url} is up to date (revision {after}).")
    else:
        click.echo(f"Database {url} migrated from {before or 'empty'} to {after}.")


@main.command("seed-demo")
@click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same data.")
@click.option("--reset", is_flag=True, help="Delete all existing data first.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database already holds data.")
def seed_demo_command(seed: int, reset: bool, if_empty: bool) -> None:
    """Fill the database with a realistic demo organisation (team, rooms, calendars, invitations)."""
    from .seed import DatabaseNotEmpty, seed_demo

    engine = _engine()
    try:
        with session_scope(engine, write=True) as session:
            cfg = settings()
            summary = seed_demo(session, seed=seed, reset=reset, public_url=cfg.public_url, secret_key=cfg.secret_key)
    except DatabaseNotEmpty as exc:
        if if_empty:
            click.echo("Demo data: the database already holds data; leaving it as it is.")
            return
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


def _read_password(from_stdin: bool) -> str:
    """The new password: first line of stdin with ``--password-stdin``, else a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input; pipe one line with the password")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@main.command("create-user")
@click.option("--email", required=True, help="Sign-in email address.")
@click.option("--name", required=True, help="The person's name.")
@click.option("--role", type=click.Choice(["admin", "scheduler"]), default="scheduler", show_default=True)
@click.option("--zone", default=None, help="IANA zone of the user's profile (default: DEFAULT_ZONE).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def create_user_command(email: str, name: str, role: str, zone: str | None, password_stdin: bool) -> None:
    """Create a dashboard user. The password is prompted for (or read from stdin), never an argument."""
    from .services.accounts import AccountError, create_user

    password = _read_password(password_stdin)
    engine = _engine()
    try:
        with session_scope(engine) as session:
            user = create_user(session, email=email, name=name, password=password, role=role,
                               zone=zone or settings().default_zone)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Created {user.role} {user.email}.")


@main.command("reset-password")
@click.option("--email", required=True, help="Email of the user whose password to set.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
def reset_password_command(email: str, password_stdin: bool) -> None:
    """Set a new password for a dashboard user (prompted, or read from stdin)."""
    from .services.accounts import AccountError, reset_password

    password = _read_password(password_stdin)
    engine = _engine()
    try:
        with session_scope(engine) as session:
            user = reset_password(session, email, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Password of {user.email} changed.")


def _check_port_free(host: str, port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(
                f"port {port} on {host} is in use; stop what runs there or set {variable} to a free port"
            ) from None


def _workers_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value.strip().lower() == "auto":
        return None if value is None else "auto"
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is not a number of processes; use e.g. 2, or 'auto' for one per CPU")


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default: BOOKING_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: BOOKING_PORT or 5000).")
@click.option("--workers", callback=_workers_option, default=None, metavar="N|auto",
              help="Worker processes (default: BOOKING_WORKERS or 1); 'auto' is one per CPU.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads per worker process (default: BOOKING_THREADS or 4).")
@click.option("--dev", is_flag=True, help="Run werkzeug's development server instead (one process, threads).")
def serve(host: str | None, port: int | None, workers: int | str | None, threads: int | None, dev: bool) -> None:
    """Run the booking service (customer pages, the API, /healthz, /readyz, /metrics) with gunicorn."""
    from .core import logs
    from .server import resolve_workers

    cfg = settings()
    host = host or cfg.booking_host
    port = port or cfg.booking_port
    _check_port_free(host, port, "BOOKING_PORT")
    _engine().dispose()
    logs.configure(cfg.log_level, cfg.log_format)
    if dev:
        from werkzeug.serving import run_simple

        from .web.app import create_app

        click.echo(f"Booking service (development server) on http://{host}:{port}")
        run_simple(host, port, create_app(), threaded=True, use_reloader=False)
        return
    from .server import run

    count = resolve_workers(workers or cfg.booking_workers)
    threads = threads or cfg.booking_threads
    click.echo(f"Booking service on http://{host}:{port} ({count} worker{'s' * (count > 1)} × {threads} threads)")
    run(host, port, workers=count, threads=threads, log_level=cfg.log_level)


def _dashboard_script() -> str:
    """The dashboard's server (Streamlit plus the sign-in routes), inside the installed package."""
    return str(importlib.resources.files("dashboard") / "server.py")


def _dashboard_command(port: int) -> list[str]:
    return [
        # dashboard/server.py serves dashboard/streamlit_app.py plus the sign-in routes (dashboard/web.py).
        sys.executable, "-m", "streamlit", "run", _dashboard_script(),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        # Code is not edited under a running dashboard; reloading modules would leave cached
        # grids holding objects of the old classes.
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
    ]


@main.command()
@click.option("--port", type=int, default=None, help="Port (default: DASHBOARD_PORT or 8501).")
def dashboard(port: int | None) -> None:
    """Run the scheduler dashboard (Streamlit)."""
    port = port or settings().dashboard_port
    _check_port_free("127.0.0.1", port, "DASHBOARD_PORT")
    _engine()
    click.echo(f"Dashboard on http://127.0.0.1:{port}")
    raise SystemExit(subprocess.call(_dashboard_command(port)))


@main.command()
@click.pass_context
def up(ctx: click.Context) -> None:
    """Migrate, seed the demo on first run, run the booking service, dashboard and worker together.

    The worker delivers mail, webhooks and calendar writes in the background. Ctrl-C stops all three.
    """
    cfg = settings()
    _check_port_free(cfg.booking_host, cfg.booking_port, "BOOKING_PORT")
    _check_port_free("127.0.0.1", cfg.dashboard_port, "DASHBOARD_PORT")
    ctx.invoke(init_db)
    ctx.invoke(seed_demo_command, seed=7, reset=False, if_empty=True)
    # A shell that starts us in the background may have left SIGINT ignored, and children inherit
    # that; restore Ctrl-C for this process and both services.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    booking = subprocess.Popen([sys.executable, "-m", "booking_service", "serve"])
    board = subprocess.Popen(_dashboard_command(cfg.dashboard_port), stdout=subprocess.DEVNULL)
    background = subprocess.Popen([sys.executable, "-m", "booking_service", "worker"])
    children = [booking, board, background]
    probe_host = "127.0.0.1" if cfg.booking_host in ("0.0.0.0", "::", "") else cfg.booking_host
    services = [
        ("Booking service", f"http://{cfg.booking_host}:{cfg.booking_port}",
         f"http://{probe_host}:{cfg.booking_port}/healthz", booking),
        ("Dashboard", f"http://127.0.0.1:{cfg.dashboard_port}",
         f"http://127.0.0.1:{cfg.dashboard_port}/_stcore/health", board),
    ]

    def _stop(*_args: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_stop(), sys.exit(0)))
    try:
        if not _wait_until_answering(services, children):
            _stop()
            raise click.ClickException("a service did not start; see the messages above")
        click.echo("")
        for name, url, _health, _child in services:
            click.echo(f"  {name + ':':17}{url}")
        click.echo("  Mail and calendar work runs in the background. Press Ctrl-C to stop.")
        click.echo("", nl=True)
        sys.stdout.flush()
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        _stop()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed:
        raise click.ClickException("a service stopped unexpectedly; see the messages above")
    click.echo("Stopped.")


def _answers(url: str) -> bool:
    try:
        # A worker's first request may wait for its imports on a busy machine: allow for that.
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _wait_until_answering(services: list[tuple[str, str, str, subprocess.Popen]],
                          children: list[subprocess.Popen]) -> bool:
    """Wait until every service's health URL answers 200; False when a child ends or time runs out."""
    waiting = {health for _name, _url, health, _child in services}
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while waiting and time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        waiting = {health for health in waiting if not _answers(health)}
        if waiting:
            time.sleep(0.3)
    return not waiting


@main.command()
@click.option("--every", default=10.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker(every: float, once: bool) -> None:
    """Deliver queued mail and calendar writes, and re-sync stale calendars, every few seconds.

    Each pass ends within WORKER_BUDGET_SECONDS. With --once, the pass ends with a one-line
    summary, and the exit status is 1 when any item failed.
    """
    from .delivery.worker import run_pass

    cfg = settings()
    engine = _engine()
    try:
        while True:
            report = run_pass(engine, cfg)
            for line in report.lines:
                click.echo(line)
            if once:
                click.echo(report.summary())
                if report.failed:
                    sys.exit(1)
                return
            time.sleep(every)
    except KeyboardInterrupt:
        return
    finally:
        engine.dispose()


@main.command("send-mail")
@click.option("--loop", "loop_seconds", type=float, default=None,
              help="Keep running, delivering due mail every this many seconds (Ctrl-C stops).")
@click.option("--limit", default=100, show_default=True, help="At most this many messages per pass.")
def send_mail(loop_seconds: float | None, limit: int) -> None:
    """Deliver due mail from the outbox: over SMTP_URL, or as .eml files under var/outbox/."""
    from .delivery.mail import MailConfigError, deliver_due, sender_for

    cfg = settings()
    try:
        sender = sender_for(cfg.smtp_url, cfg.var_dir)
    except MailConfigError as exc:
        raise click.ClickException(str(exc)) from None
    engine = _engine()
    try:
        while True:
            report = deliver_due(
                engine, sender, mail_from=cfg.mail_from, secret_key=cfg.secret_key, limit=limit,
                deadline=cfg.smtp_deadline_seconds,
            )
            if loop_seconds is None or report.sent or report.retrying or report.failed:
                click.echo(report.describe())
            if loop_seconds is None:
                return
            time.sleep(loop_seconds)
    except KeyboardInterrupt:
        return
    finally:
        engine.dispose()


def _duration(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    from .calendars.command import Duration

    return Duration().convert(value, param, ctx)


@main.command("sync-calendars")
@click.option("--connection", "connection_ids", type=int, multiple=True, metavar="ID",
              help="Sync only this calendar connection (repeatable). Default: all of them.")
@click.option("--every", callback=_duration, default=None, metavar="DURATION",
              help="Keep running, syncing every DURATION (e.g. 10m, 1h). Ctrl-C stops.")
def sync_calendars(connection_ids: tuple[int, ...], every) -> None:
    """Read every connected calendar into busy blocks, then deliver queued calendar writes.

    Without --every, the exit status is 1 when any calendar or write failed.
    """
    from .calendars.command import run_sync

    cfg = settings()
    engine = _engine()
    try:
        report = run_sync(
            engine, connection_ids or None, secret_key=cfg.secret_key, every=every,
            deadline=cfg.calendar_deadline_seconds,
        )
    finally:
        engine.dispose()
    if report is not None and report.failed:
        sys.exit(1)


@main.command("calendar-feed")
@click.argument("resource_id", type=int)
@click.option("--revoke", is_flag=True, help="Remove the feed instead: its URL stops working.")
def calendar_feed(resource_id: int, revoke: bool) -> None:
    """Print a new private calendar feed URL of a team member or room (the previous one stops working)."""
    from .calendars.feeds import feed_url, issue_feed_token, revoke_feed_token
    from .store.models import Resource

    engine = _engine()
    try:
        with session_scope(engine) as session:
            resource = session.get(Resource, resource_id)
            if resource is None:
                raise click.ClickException(f"there is no team member or room with id {resource_id}")
            name = resource.name
            if revoke:
                revoke_feed_token(session, resource)
            else:
                token = issue_feed_token(session, resource)
    finally:
        engine.dispose()
    if revoke:
        click.echo(f"The calendar feed of {name} is revoked; its URL no longer works.")
    else:
        click.echo(f"Calendar feed of {name} (subscribe to it in any calendar app; keep it private):")
        click.echo(feed_url(settings().public_url, token))


@main.command("check")
def check() -> None:
    """Check the database's invariants (invitations, meetings, reservations, invitation mail).

    Prints "no problems found" and exits 0, or one line per problem and exits 1.
    """
    from .services.integrity import check_invariants
    from .store.db import read_only_session

    engine = _engine()
    try:
        with read_only_session(engine) as session:
            violations = check_invariants(session)
    finally:
        engine.dispose()
    if not violations:
        click.echo("no problems found")
        return
    for violation in violations:
        click.echo(violation.message)
    click.get_current_context().exit(1)


if __name__ == "__main__":
    main()
