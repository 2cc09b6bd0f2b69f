"""Load test of the scale-out shape: ``slotwise serve`` (gunicorn, 1, 2 and 4 workers) on PostgreSQL,
rate limits in Redis, ``slotwise worker`` running, driven by Locust (headless).

For each worker count, on a fresh PostgreSQL database of its own:

1. migrate it (``slotwise init-db``), seed the demo organisation, add ``--invitations`` active
   invitations for a few team members in the same week (so customers contest the earliest
   times) and an API key for a scheduler;
2. start ``slotwise serve --workers N`` and ``slotwise worker``, then Locust with
   ``benchmarks/locustfile.py`` for ``--duration`` seconds (customers opening links, paging
   times, confirming, some cancelling; a scheduler cancelling through the API);
3. check: no 5xx, ``check_invariants`` finds nothing (no double booking, no meeting without its
   reservations, ...), and every booking and cancellation acknowledged to a user is in the
   database as acknowledged.

It prints, per run, requests per second, p50/p95/p99 per route, confirmations per second, the
CPU time of the server, Locust, PostgreSQL and the worker, and the load average; then the ratio
of each run's throughput to the 1-worker run at the same number of users (after checking every
run ended clean), whether each run met the latency targets (p95 under 30 ms for the customer's
pages, under 60 ms for a confirmation), the most it served without errors and the most at which
the targets held. ``--users 1,2,4,8`` runs every worker count at each number of users: the
highest load a host sustains, and the highest within the targets. A run whose customers used up
the invitations before the end (a visit takes one; 8 users take about 26 a second here) says so
and counts for neither: give more ``--invitations``. Exit status 1 on any 5xx, invariant
violation or lost booking.

Usage::

    python benchmarks/loadtest.py [--workers 1,2,4] [--users 1,2,4,8] [--duration 40]
                                  [--invitations 1500] [--json results.json]

``TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``) names the server; the
databases are created beside it (``slotwise_load_<pid>_<n>``) and dropped afterwards.
``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) names Redis; its database 15 is used.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from booking_service.services import api_keys  # noqa: E402
from booking_service.services.integrity import check_invariants  # noqa: E402
from booking_service.services.invitations import (  # noqa: E402
    InvitationDraft,
    NoAvailableSlots,
    create_invitation,
    hash_token,
)
from booking_service.store.db import make_engine, read_only_session, session_scope  # noqa: E402
from booking_service.store.models import Invitation, Meeting, TeamMember, User, WorkingHours  # noqa: E402

SECRET = "loadtest-secret-key"
ROUTES = ("/i/[token]", "/i/[token]/times", "/i/[token]/slot", "/i/[token]/confirm", "/i/[token]/scheduled",
          "/m/[token]/cancel", "/m/[token]/cancel (POST)", "/api/v1/meetings", "/api/v1/meetings/[id]/cancel")


#: The latency targets, on Locust's p95 (what a customer waits): the customer's pages, and a confirmation.
PAGE_ROUTES = ("/i/[token]", "/i/[token]/times", "/i/[token]/slot", "/i/[token]/scheduled", "/m/[token]/cancel")
PAGE_P95_MS = 30.0
CONFIRM_ROUTE = "/i/[token]/confirm"
CONFIRM_P95_MS = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _redis_url() -> str:
    base = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + "/15"


def create_database(name: str) -> str:
    """A new empty PostgreSQL database ``name`` beside the admin URL's; its URL."""
    import psycopg

    admin = make_url(_admin_url())
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    import psycopg

    admin = make_url(_admin_url())
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(env: dict[str, str], invitations: int, seed: int = 7) -> tuple[list[str], str]:
    """Migrate; six team members in three zones, an admin with an API key, and ``invitations``
    invitations of 30 minutes, each for one of the members, all in the same week (so customers
    contest the same times); their tokens and the key."""
    subprocess.run([sys.executable, "-m", "booking_service", "init-db"], env=env, check=True,
                   capture_output=True, cwd=ROOT)
    engine = make_engine(env["DATABASE_URL"])
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    monday = now.date() + dt.timedelta(days=14 - now.date().weekday())
    with session_scope(engine) as session:
        zones_cycle = ["Europe/London", "Europe/Berlin", "America/New_York"]
        members = [TeamMember(name=f"Member {i}", email=f"member{i}@load.example", zone=zones_cycle[i % 3],
                              hours=[WorkingHours(weekday=d, start_minute=9 * 60, end_minute=17 * 60)
                                     for d in range(5)])
                   for i in range(6)]
        admin = User(email="admin@load.example", name="Load Admin", zone="Europe/London", role="admin")
        session.add_all([*members, admin])
        session.flush()
        member_ids = [m.id for m in members]
        zones = {m.id: m.zone for m in members}
        key = api_keys.create_key(session, admin, "load test", ("read", "write")).secret
    tokens: list[str] = []
    i = 0
    while len(tokens) < invitations and i < 3 * invitations:
        i += 1
        member = rng.choice(member_ids)
        draft = InvitationDraft(
            customer_name=f"Customer {i}", customer_email=f"customer{i}@load.example", subject=f"Call {i}",
            duration_minutes=30, frame_start=monday, frame_end=monday + dt.timedelta(days=4),
            members=(member,), zone=zones[member],
        )
        with session_scope(engine, write=True) as session:
            admin = session.get(User, admin.id)
            try:
                tokens.append(create_invitation(session, draft, by=admin, public_url=env["PUBLIC_URL"],
                                                secret_key=SECRET, now=now).token)
            except NoAvailableSlots:
                continue
    engine.dispose()
    return tokens, key


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("slotwise serve stopped before it answered")
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _cpu_seconds(process: subprocess.Popen) -> float:
    try:
        parent = psutil.Process(process.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def _postgres_cpu_seconds() -> float:
    """CPU time of this machine's PostgreSQL processes (a backend that exits between samples is missed)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] in ("postgres", "postmaster") and times is not None:
            total += times.user + times.system
    return total


def _children_cpu_seconds() -> float:
    """CPU time of this process's children that have been waited for (Locust's run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_sample(server: subprocess.Popen, worker: subprocess.Popen) -> tuple[float, float, float, float]:
    """CPU seconds so far of the server, Locust (once it has finished), PostgreSQL and the worker."""
    return _cpu_seconds(server), _children_cpu_seconds(), _postgres_cpu_seconds(), _cpu_seconds(worker)


def verify(database_url: str, acks: dict) -> dict[str, list[str]]:
    """Invariant violations and acknowledged bookings or cancellations the database does not hold."""
    engine = make_engine(database_url)
    problems: dict[str, list[str]] = {"invariants": [], "lost": []}
    try:
        with read_only_session(engine) as session:
            problems["invariants"] = [v.message for v in check_invariants(session)]
            cancelled_meetings = set(acks["cancelled_by_scheduler"])
            cancelled_tokens = set(acks["cancelled_by_customer"])
            attempted = set(acks["cancel_attempts"])
            for token, start in acks["booked"]:
                invitation = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
                meeting = None if invitation is None else session.scalar(
                    select(Meeting).where(Meeting.invitation_id == invitation.id).order_by(Meeting.id.desc()))
                if meeting is None or meeting.start != dt.datetime.fromisoformat(start):
                    problems["lost"].append(f"booking of {token[:8]}… at {start}: not in the database")
                    continue
                if token in cancelled_tokens or meeting.id in cancelled_meetings:
                    if meeting.status != "cancelled":
                        problems["lost"].append(f"meeting {meeting.id}: {meeting.status}, acknowledged cancelled")
                elif meeting.status != "confirmed" and not (token in attempted or meeting.id in attempted):
                    problems["lost"].append(f"meeting {meeting.id}: {meeting.status}, acknowledged confirmed "
                                            "and nobody asked to cancel it")
    finally:
        engine.dispose()
    return problems


def _stats(csv_path: Path) -> dict[str, dict[str, float]]:
    rows = {}
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            rows[row["Name"]] = {
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]), "p50": float(row["50%"]), "p95": float(row["95%"]),
                "p99": float(row["99%"]),
            }
    return rows


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``ordered`` (``q`` in 0..100)."""
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * q // 100) - 1))] if ordered else float("nan")


def _with_server_times(stats: dict[str, dict[str, float]], server_ms: dict[str, list[float]]) -> None:
    """Add the server's own p50/p95/p99 (its ``Server-Timing``) to each route's client figures."""
    for route, values in server_ms.items():
        if route in stats:
            ordered = sorted(values)
            stats[route].update({f"server_p{q}": _percentile(ordered, q) for q in (50, 95, 99)})


def run_once(workers: int, users: int, args: argparse.Namespace, n: int) -> dict:
    name = f"slotwise_load_{os.getpid()}_{n}"
    database_url = create_database(name)
    work = Path(tempfile.mkdtemp(prefix="slotwise-load-"))
    port = _free_port()
    big = "1000000 per minute"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "SLOTWISE_VAR_DIR": str(work / "var"),
           "PUBLIC_URL": f"http://127.0.0.1:{port}", "BOOKING_PORT": str(port),
           "RATELIMIT_STORAGE_URI": _redis_url(), "BOOKING_PAGE_RATE_LIMIT": big,
           "BOOKING_CONFIRM_RATE_LIMIT": big, "API_RATE_LIMIT": big, "CHANGE_CUTOFF_HOURS": "0",
           "CALENDAR_MAX_AGE_MINUTES": "100000", "LOG_LEVEL": "warning"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    processes: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        tokens, key = build(env, args.invitations)
        print(f"  {workers} worker(s): {len(tokens)} invitations ready in {time.perf_counter() - started:.0f} s",
              flush=True)
        spare = 4 * workers
        (work / "tokens.json").write_text(json.dumps(tokens[spare:]))
        server = subprocess.Popen([sys.executable, "-m", "booking_service", "serve", "--workers", str(workers),
                                   "--threads", str(args.threads)], env=env, cwd=work,
                                  stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"))
        processes.append(server)
        _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        background = subprocess.Popen([sys.executable, "-m", "booking_service", "worker", "--every", "2"], env=env,
                                      cwd=work, stdout=subprocess.DEVNULL, stderr=open(work / "worker.log", "w"))
        processes.append(background)
        # Warm every worker up (imports, caches) on links the load does not use.
        for token in tokens[:spare]:
            for path in (f"/i/{token}", f"/i/{token}/times"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120).read()
        cpu_before = _cpu_sample(server, background)
        wall = time.perf_counter()
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
             "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{args.duration}s",
             "--host", f"http://127.0.0.1:{port}", "--csv", str(work / "locust"), "--only-summary",
             "--stop-timeout", "10", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**env, "LOADTEST_TOKENS": str(work / "tokens.json"), "LOADTEST_API_KEY": key,
                 "LOADTEST_ACKS": str(work / "acks.json")},
            cwd=work, capture_output=True, text=True, timeout=args.duration + 120,
        )
        wall = time.perf_counter() - wall
        cpu, locust_cpu, postgres_cpu, worker_cpu = (
            after - before for after, before in zip(_cpu_sample(server, background), cpu_before, strict=True)
        )
        load = os.getloadavg()
        if locust.returncode != 0 or not (work / "acks.json").exists():
            raise RuntimeError(f"locust failed:\n{locust.stdout[-3000:]}\n{locust.stderr[-3000:]}")
        acks = json.loads((work / "acks.json").read_text())
        stats = _stats(work / "locust_stats.csv")
        _with_server_times(stats, acks["server_ms"])
        problems = verify(database_url, acks)
        total = stats.get("Aggregated", {})
        confirms = stats.get("/i/[token]/confirm", {"requests": 0})
        return {
            "workers": workers, "threads": args.threads, "users": users, "wall_s": round(wall, 1),
            "server_cpu_s": round(cpu, 1), "locust_cpu_s": round(locust_cpu, 1),
            "postgres_cpu_s": round(postgres_cpu, 1), "worker_cpu_s": round(worker_cpu, 1),
            "load_average": [round(x, 2) for x in load],
            "rps": total.get("rps", 0.0), "requests": total.get("requests", 0),
            "routes": {r: stats[r] for r in ROUTES if r in stats},
            "confirms_per_s": round(confirms["requests"] / wall, 2),
            "bookings_per_s": round(len(acks["booked"]) / wall, 2),
            "booked": len(acks["booked"]), "conflicts": acks["conflicts"],
            "cancelled_by_customer": len(acks["cancelled_by_customer"]),
            "cancelled_by_scheduler": len(acks["cancelled_by_scheduler"]),
            "refused_cancels": acks["refused_cancels"],
            "links_ran_out_after_s": (round(acks["links_ran_out_at"] - acks["started_at"], 1)
                                      if "links_ran_out_at" in acks else None),
            "server_errors": acks["server_errors"], "invariant_violations": problems["invariants"],
            "lost": problems["lost"],
            "serve_log_errors": [line for line in (work / "serve.log").read_text().splitlines()
                                 if "ERROR" in line or "Traceback" in line][:20],
        }
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        drop_database(name)


def clean(result: dict) -> bool:
    return not (result["server_errors"] or result["invariant_violations"] or result["lost"])


def report(results: list[dict]) -> None:
    print()
    # CPU seconds in the run: the server's (gunicorn and its workers), then Locust's, PostgreSQL's
    # and the background worker's, which share the host's cores with it.
    print("| workers × threads | users | rps | confirms/s | bookings/s | conflicts | server CPU s / wall s "
          "| Locust / PostgreSQL / worker CPU s | load avg (1 min) | 5xx | invariants | lost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['workers']} × {r['threads']} | {r['users']} | {r['rps']:.1f} | {r['confirms_per_s']:.1f} | "
              f"{r['bookings_per_s']:.1f} | {r['conflicts']} | {r['server_cpu_s']:.0f} / {r['wall_s']:.0f} | "
              f"{r['locust_cpu_s']:.0f} / {r['postgres_cpu_s']:.0f} / {r['worker_cpu_s']:.0f} | "
              f"{r['load_average'][0]:.2f} | {len(r['server_errors'])} | {len(r['invariant_violations'])} | "
              f"{len(r['lost'])} |")
    print()
    # Client: Locust's times, which on a small host include waiting for a core Locust shares with
    # the server. Server: the application's own time for the same requests (Server-Timing).
    print("| workers | users | route | requests | client p50 / p95 / p99 ms | server p50 / p95 / p99 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        for route, s in r["routes"].items():
            server = " / ".join(f"{s.get(f'server_p{q}', float('nan')):.0f}" for q in (50, 95, 99))
            print(f"| {r['workers']} | {r['users']} | `{route}` | {s['requests']} | "
                  f"{s['p50']:.0f} / {s['p95']:.0f} / {s['p99']:.0f} | {server} |")
    if all(clean(r) for r in results):
        print()
        for r in results:
            base = next((b for b in results if b["workers"] == 1 and b["users"] == r["users"]), None)
            if base is not None:
                print(f"{r['workers']} workers vs 1 at {_users(r)}: rps × {r['rps'] / base['rps']:.2f}, "
                      f"confirms/s × {r['confirms_per_s'] / max(base['confirms_per_s'], 1e-9):.2f}")
    print()
    for r in results:
        misses = target_misses(r)
        verdict = "targets held" if not misses else "targets missed: " + ", ".join(misses)
        if r["links_ran_out_after_s"] is not None:
            verdict = (f"the links ran out after {r['links_ran_out_after_s']:.0f} s of {r['wall_s']:.0f}, so the load "
                       f"fell before the end (give more --invitations); {verdict}")
        print(f"{r['workers']} × {r['threads']}, {_users(r)}, {r['rps']:.1f} rps: {verdict}")
    print(summary(results))


def target_misses(result: dict) -> list[str]:
    """The routes of a run whose p95 misses its target (pages under 30 ms, confirmations under 60)."""
    misses = []
    for route, figures in result["routes"].items():
        limit = CONFIRM_P95_MS if route == CONFIRM_ROUTE else PAGE_P95_MS if route in PAGE_ROUTES else None
        if limit is not None and figures["p95"] >= limit:
            misses.append(f"{route} p95 {figures['p95']:.0f} ms (target {limit:.0f})")
    return misses


def summary(results: list[dict]) -> str:
    """The highest load served cleanly, and the highest at which the latency targets held too.

    A run whose links ran out is left out: its customers stopped before the end, so its figures
    are not those of its load.
    """
    served = [r for r in results if clean(r) and r.get("links_ran_out_after_s") is None]
    if not served:
        return ("No run ended clean at its full load (5xx, invariant violations, lost bookings, or links "
                "that ran out): no load is shown to be sustained.")
    most = max(served, key=lambda r: r["rps"])
    text = f"Most served without errors: {most['rps']:.1f} rps ({most['workers']} × {most['threads']}, {_users(most)}). "
    held = [r for r in served if not target_misses(r)]
    if not held:
        return text + "The latency targets held in no run."
    best = max(held, key=lambda r: r["rps"])
    return text + f"Targets held up to {best['rps']:.1f} rps ({best['workers']} × {best['threads']}, {_users(best)})."


def _users(result: dict) -> str:
    return f"{result['users']} user" + ("" if result["users"] == 1 else "s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="comma-separated gunicorn worker counts")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--duration", type=int, default=40, help="seconds of load per run")
    parser.add_argument("--users", default="1,2,4,8",
                        help="comma-separated numbers of simultaneous Locust users (each with every worker count)")
    parser.add_argument("--invitations", type=int, default=1500)
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    results = []
    runs = [(int(w), int(u)) for u in args.users.split(",") for w in args.workers.split(",")]
    for n, (workers, users) in enumerate(runs):
        results.append(run_once(workers, users, args, n))
        if args.json:  # after each run, so that a later failure keeps the earlier figures
            args.json.write_text(json.dumps(results, indent=2))
    report(results)
    bad = [r for r in results if not clean(r)]
    for r in bad:
        print(f"{r['workers']} workers, {_users(r)}: 5xx {r['server_errors'][:5]}, invariants {r['invariant_violations'][:5]}, "
              f"lost {r['lost'][:5]}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
