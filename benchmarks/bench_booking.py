"""Benchmark of the customer's booking pages on the demo organisation with 1,000 active invitations.

Measures the median and 95th percentile server time of

- the invitation page (``GET /i/<token>``),
- the available-times page (``GET /i/<token>/times``),
- a time's page (``GET /i/<token>/slot``: lock, re-check, hold the time for the customer),
- a confirmation (``POST /i/<token>/confirm``: lock, re-check, assign, insert, queue mail),

twice: through Flask's test client (in process, no network) and through a real threaded server
(werkzeug, one HTTP connection per request) running in a process of its own on loopback, as
``slotwise serve`` does. Server time is the request's own time as the application reports it in
its ``Server-Timing`` header (``app``: wall time, ``cpu``: the request thread's CPU time); the
client's wall time (including the loopback round trip) is printed beside it.

The baseline, measured in the same run through the same driver, is the cheapest request:
``GET /healthz`` (routing and a JSON response; it is the liveness check, so it no longer runs the
``SELECT 1`` it did when the figures below were taken: ``/readyz`` reads the database now). Each page's
ratio to it says how much work a page adds to the floor every request pays, whatever the speed
of the machine. Targets: p95 server time under 30 ms for the pages and under 60 ms for a
confirmation.

Usage::

    python benchmarks/bench_booking.py [--invitations 1000] [--requests 200] [--database-url URL]
                                       [--large-organisation 5000]

With ``--large-organisation N`` the pages are measured twice in the same run: on the demo
organisation, then again after N more resources (members and rooms, five in six members) with
eight weeks of calendars (about 20 busy blocks per resource per week) have been added to the
same database. The invitations stay the same; a page reads only its invitation's resources, so
its times should not grow with the organisation.

Without ``--database-url`` a fresh SQLite file in a temporary folder is used. A given database
has every Slotwise table dropped and recreated: give the benchmark a database of its own. The invitations are
created with the real service (:func:`booking_service.services.invitations.create_invitation`), so every
one has computed slots; the set-up time is printed but not measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from booking_service.seed import seed_demo  # noqa: E402
from booking_service.services.invitations import InvitationDraft, NoAvailableSlots, create_invitation  # noqa: E402
from booking_service.store.db import make_engine, session_scope  # noqa: E402
from booking_service.store.models import Base, ResourcePool, Room, TeamMember, User  # noqa: E402
from tests.booking_service.web.pages import slot_paths  # noqa: E402  (the tests' reading of the times page)

PAGE_TARGET_MS = 30.0
CONFIRM_TARGET_MS = 60.0


def build(database_url: str, invitations: int, seed: int = 7) -> tuple[list[str], str]:
    """Seed the demo organisation and add ``invitations`` active invitations; return their tokens."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    today = dt.datetime.now(dt.UTC).date()
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(seed)
    tokens: list[str] = []
    with session_scope(engine, write=True) as session:
        seed_demo(session, seed=seed, today=today, public_url="http://127.0.0.1", secret_key="bench")
    with session_scope(engine) as session:
        members = session.scalars(select(TeamMember).order_by(TeamMember.id)).all()
        rooms = session.scalars(select(Room).order_by(Room.id)).all()
        pools = session.scalars(select(ResourcePool).order_by(ResourcePool.id)).all()
        scheduler = session.scalars(select(User)).first()
        member_ids = [m.id for m in members]
        zones = {m.id: m.zone for m in members}
        room_ids = [r.id for r in rooms if r.capacity >= 4]
        pool_ids = [p.id for p in pools]
    i = 0
    while len(tokens) < invitations:
        # Drafts with no available slot are refused by the service; draw until enough are active.
        i += 1
        if i > 3 * invitations:
            raise RuntimeError(f"only {len(tokens)} of {invitations} drafts had available slots")
        required = rng.sample(member_ids, rng.choice((1, 1, 2)))
        start = today + dt.timedelta(days=rng.randrange(1, 35))
        draft = InvitationDraft(
            customer_name=f"Customer {i}",
            customer_email=f"customer{i}@bench.example",
            subject=f"Meeting {i}",
            duration_minutes=rng.choice((30, 45, 60)),
            buffer_after_minutes=rng.choice((0, 5, 10)),
            frame_start=start,
            frame_end=start + dt.timedelta(days=rng.choice((4, 6, 13))),
            members=tuple(required),
            pools=(rng.choice(pool_ids),) if pool_ids and i % 3 == 0 else (),
            rooms=tuple(room_ids) if room_ids and i % 4 == 0 else (),
            min_capacity=4 if i % 4 == 0 else 1,
            zone=zones[required[0]],
        )
        with session_scope(engine, write=True) as session:
            try:
                tokens.append(
                    create_invitation(
                        session,
                        draft,
                        by=scheduler,
                        public_url="http://127.0.0.1",
                        secret_key="bench",
                        now=now,
                    ).token
                )
            except NoAvailableSlots:
                continue
    engine.dispose()
    return tokens, database_url


def add_large_organisation(database_url: str, n_resources: int, seed: int = 11) -> int:
    """Add ``n_resources`` members and rooms with hours and eight weeks of busy time; return busy rows."""
    from sqlalchemy import insert

    import planner
    from booking_service.store.models import (
        BusyBlock,
        CalendarConnection,
        HoursOverride,
        Resource,
        WorkingHours,
    )

    today = dt.datetime.now(dt.UTC).date()
    n_rooms = n_resources // 6
    org = planner.generate_organisation(n_resources - n_rooms, n_rooms, today, 56, seed=seed)
    engine = make_engine(database_url)
    res = org.resources
    with session_scope(engine, write=True) as session:
        rows = [{"kind": k, "name": f"Large {rid}", "email": None, "zone": z, "capacity": int(c), "active": True}
                for rid, k, z, c in zip(res["resource_id"], res["kind"], res["zone"], res["capacity"], strict=True)]  # fmt: skip
        ids = session.scalars(insert(Resource).returning(Resource.id), rows).all()
        db_id = dict(zip(res["resource_id"].tolist(), ids, strict=True))
        conns = session.scalars(
            insert(CalendarConnection).returning(CalendarConnection.id),
            [{"resource_id": i, "kind": "demo", "name": "Work", "last_status": "ok"} for i in ids],
        ).all()
        conn_of = dict(zip(ids, conns, strict=True))
        h = org.hours
        session.execute(insert(WorkingHours), [
            {"resource_id": db_id[r], "weekday": int(w), "start_minute": int(a), "end_minute": int(b)}
            for r, w, a, b in zip(h["resource_id"], h["weekday"], h["start"], h["end"], strict=True)
        ])  # fmt: skip
        o = org.overrides
        if len(o):
            session.execute(insert(HoursOverride), [
                {"resource_id": db_id[r], "date": d, "start_minute": None, "end_minute": None}
                for r, d in zip(o["resource_id"], o["date"], strict=True)
            ])  # fmt: skip
        b = org.busy
        starts = b["start"].dt.to_pydatetime()
        ends = b["end"].dt.to_pydatetime()
        batch = []
        for r, s, e in zip(b["resource_id"].tolist(), starts, ends, strict=True):
            i = db_id[r]
            batch.append({"connection_id": conn_of[i], "resource_id": i, "start": s, "end": e})
            if len(batch) == 50_000:
                session.execute(insert(BusyBlock), batch)
                batch = []
        if batch:
            session.execute(insert(BusyBlock), batch)
    engine.dispose()
    return len(org.busy)


def _app(database_url: str, var_dir: str):
    from booking_service.web.app import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "SLOTWISE_VAR_DIR": var_dir,
            "BOOKING_PAGE_RATE_LIMIT": "1000000 per minute",
            "BOOKING_CONFIRM_RATE_LIMIT": "1000000 per minute",
        }
    )


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _form(html: str) -> dict[str, str]:
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
        "start": unescape(re.search(r'name="start" value="([^"]+)"', html).group(1)),
    }


def _server_times(header: str | None) -> tuple[float, float]:
    """The request's wall and CPU time from ``Server-Timing: app;dur=..., cpu;dur=...``, in seconds."""
    found = dict(re.findall(r"(app|cpu);dur=([0-9.]+)", header or ""))
    if set(found) != {"app", "cpu"}:
        raise RuntimeError(f"no Server-Timing durations in {header!r}")
    return float(found["app"]) / 1000, float(found["cpu"]) / 1000


def _first_slot(html: str) -> str | None:
    paths = slot_paths(html)
    return paths[0] if paths else None


class TestClientDriver:
    """Requests through Flask's test client."""

    label = "Flask test client"

    def __init__(self, app) -> None:
        self.client = app.test_client()

    def get(self, path: str) -> tuple[int, str]:
        response = self.client.get(path)
        self.server = _server_times(response.headers.get("Server-Timing"))
        return response.status_code, response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, str]) -> int:
        response = self.client.post(path, data=data)
        self.server = _server_times(response.headers.get("Server-Timing"))
        return response.status_code


class HttpDriver:
    """Requests to a real server on loopback (a new connection per request, cookies kept)."""

    label = "real server on loopback"

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                self.server = _server_times(response.headers.get("Server-Timing"))
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:  # redirects are not followed
            self.server = _server_times(exc.headers.get("Server-Timing"))
            return exc.code, ""

    def post(self, path: str, data: dict[str, str]) -> int:
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.base + path, data=body, timeout=30) as response:
                self.server = _server_times(response.headers.get("Server-Timing"))
                return response.status
        except urllib.error.HTTPError as exc:
            self.server = _server_times(exc.headers.get("Server-Timing"))
            return exc.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


PAGES = (("baseline (GET /healthz)", None), ("invitation page", ""), ("available-times page", "/times"))
HOLD = "a time's page (re-check, hold)"


def measure(
    driver, tokens: list[str], requests: int, confirmations: int, rng: random.Random
) -> dict[str, dict]:
    """Time the baseline, the two pages and confirmations; every confirmation books another invitation.

    Returns ``{request name: {"client": [...], "server": [...], "cpu": [...]}}`` in seconds.
    """
    names = [name for name, _ in PAGES] + [HOLD, "confirmation"]
    samples: dict[str, dict] = {name: {"client": [], "server": [], "cpu": []} for name in names}

    def record(name: str, began: float) -> None:
        samples[name]["client"].append(time.perf_counter() - began)
        wall, cpu = driver.server
        samples[name]["server"].append(wall)
        samples[name]["cpu"].append(cpu)

    # Interleaved, so that a slow spell of the shared machine falls on every request alike.
    for _ in range(requests):
        token = rng.choice(tokens)
        for name, suffix in PAGES:
            path = "/healthz" if suffix is None else f"/i/{token}{suffix}"
            began = time.perf_counter()
            status, _ = driver.get(path)
            record(name, began)
            assert status in (200, 410), (path, status)
    booked = 0
    for token in list(tokens):
        if booked >= confirmations:
            break
        status, html = driver.get(f"/i/{token}/times")
        slot = _first_slot(html) if status == 200 else None
        if slot is None:
            continue
        began = time.perf_counter()
        status, html = driver.get(slot)
        record(HOLD, began)
        if status != 200 or "csrf_token" not in html:
            continue
        form = _form(html)
        began = time.perf_counter()
        status = driver.post(f"/i/{token}/confirm", form)
        record("confirmation", began)
        assert status == 303, status
        tokens.remove(token)
        booked += 1
    return samples


def _serve(database_url: str, var_dir: str, ports) -> None:
    """The real server: the app on a threaded werkzeug server in this (child) process."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines in the output
    server = make_server("127.0.0.1", 0, _app(database_url, var_dir), threaded=True)
    ports.put(server.server_port)
    server.serve_forever()


def _start_server(database_url: str, var_dir: str) -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    process = context.Process(target=_serve, args=(database_url, var_dir, ports), daemon=True)
    process.start()
    base = f"http://127.0.0.1:{ports.get(timeout=60)}"
    warm = HttpDriver(base)
    for _ in range(20):  # imports, template compilation, connection pool
        warm.get("/healthz")
    return process, base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200, help="page requests per page and driver")
    parser.add_argument("--confirmations", type=int, default=100, help="confirmations per driver")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--large-organisation", type=int, default=0, metavar="N",
                        help="measure again after adding N resources with calendars")  # fmt: skip
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="slotwise-bench-")
    database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    var_dir = os.path.join(workdir, "var")
    print(
        f"Setting up the demo organisation and {args.invitations} invitations on "
        f"{make_engine(database_url).url.render_as_string(hide_password=True)} ...",
        flush=True,
    )
    began = time.perf_counter()
    tokens, _ = build(database_url, args.invitations)
    print(f"  {len(tokens)} active invitations in {time.perf_counter() - began:.0f} s", flush=True)

    app = _app(database_url, var_dir)
    rng = random.Random(1)
    # Warm up (imports, template compilation, connection pool).
    warm = TestClientDriver(app)
    for token in tokens[:5]:
        warm.get(f"/i/{token}")
        warm.get(f"/i/{token}/times")

    process, base = _start_server(database_url, var_dir)
    load_before = os.getloadavg()
    results = []
    try:
        for driver in (TestClientDriver(app), HttpDriver(base)):
            results.append((driver.label, measure(driver, tokens, args.requests, args.confirmations, rng)))
    finally:
        process.terminate()
        process.join(timeout=10)
    if args.large_organisation:
        began = time.perf_counter()
        n_busy = add_large_organisation(database_url, args.large_organisation)
        print(f"  added {args.large_organisation} resources and {n_busy:,} busy blocks in "
              f"{time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
        app = _app(database_url, var_dir)
        warm = TestClientDriver(app)
        for token in tokens[:5]:
            warm.get(f"/i/{token}")
            warm.get(f"/i/{token}/times")
        process, base = _start_server(database_url, var_dir)
        try:
            for driver in (TestClientDriver(app), HttpDriver(base)):
                label = f"{driver.label}, +{args.large_organisation} resources"
                results.append((label, measure(driver, tokens, args.requests, args.confirmations, rng)))
        finally:
            process.terminate()
            process.join(timeout=10)
    load = os.getloadavg()

    print()
    print(
        f"Load average (1 / 5 / 15 min) before the timed part: {load_before[0]:.1f} / {load_before[1]:.1f} / "
        f"{load_before[2]:.1f}, after it: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"on {os.cpu_count()} CPUs; {len(tokens)} invitations still active."
    )
    print()
    print(
        "| driver | request | n | server median (ms) | server p95 (ms) | target p95 (ms) | met "
        "| × baseline (median) | server CPU median / p95 (ms) | client median / p95 (ms) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for label, samples in results:
        floor, _ = _summary(samples[PAGES[0][0]]["server"])
        for name, times in samples.items():
            median, p95 = _summary(times["server"])
            cpu_median, cpu_p95 = _summary(times["cpu"])
            client_median, client_p95 = _summary(times["client"])
            if name == PAGES[0][0]:
                target, met, ratio = "", "", "1.0"
            else:
                limit = CONFIRM_TARGET_MS if name == "confirmation" else PAGE_TARGET_MS
                target, met = f"{limit:.0f}", "yes" if p95 < limit else "no"
                ratio = f"{median / floor:.0f}" if floor else "—"
            print(
                f"| {label} | {name} | {len(times['server'])} | {median:.2f} | {p95:.2f} | {target} | {met} "
                f"| {ratio} | {cpu_median:.1f} / {cpu_p95:.1f} | {client_median:.1f} / {client_p95:.1f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
