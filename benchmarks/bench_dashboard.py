"""Benchmark of the invitation wizard's live slot count on the demo organisation.

What the dashboard does when a field of Step 2 changes (the time-frame step reruns as a
fragment) is, on the server:

1. ``data_version``: one query fingerprinting the availability data (the cache key);
2. ``validate``: the invitation service's checks of the draft (a few indexed reads);
3. ``count``: the count on the organisation's prebuilt :class:`planner.OrgGrid` (held in
   ``st.cache_resource``, rebuilt only when the data version changes; picked by the version
   read in step 1);
4. ``find`` + ``heatmap``: the slot starts and the day x hour table of the heatmap.

Each step is timed for many different drafts (buffers, durations, teams), so that no step is a
cache hit; the grid build, done once per data version, is timed separately. Medians and 95th
percentiles are printed; the target is the whole update under 300 ms.

The baseline, measured in the same rounds, is the count without the kept grid: the booking
service's :func:`booking_service.services.availability.count_slots_for`, which reads the draft's tables
from the database and counts on them (what the customer pages do). Both counts must agree in
every round; the ratio of the medians says what keeping the grid saves.

Usage::

    python benchmarks/bench_dashboard.py [--rounds 40] [--database-url URL]

Without ``--database-url`` the demo organisation is seeded into a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="different drafts to time")
    parser.add_argument("--database-url", help="an existing Slotwise database (default: seed a temp one)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="slotwise-bench-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SLOTWISE_VAR_DIR", folder)
    logging.disable(logging.WARNING)  # st.cache_* outside a running app says so on every call

    from booking_service.services import availability, invitations, queries
    from booking_service.store.db import make_engine, session_scope
    from booking_service.store.models import utcnow
    from dashboard import state, views

    if args.database_url is None:
        from booking_service.seed import seed_demo
        from booking_service.store.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        with session_scope(engine, write=True) as s:
            seed_demo(s, seed=7, secret_key="bench")
        engine.dispose()

    with state.session() as s:
        members = queries.team_members(s)
        pools = queries.pools(s)
        rooms = queries.rooms(s)
    started = time.perf_counter()
    grid = state.org_grid()
    build_ms = (time.perf_counter() - started) * 1000

    today = utcnow().date()
    base = invitations.InvitationDraft(
        customer_name="Grace Hopper", customer_email="grace@example.com", subject="Introduction call",
        duration_minutes=30, frame_start=today + dt.timedelta(days=1), frame_end=today + dt.timedelta(days=14),
        members=(members[0].id,), pools=(pools[0].id,), rooms=tuple(r.id for r in rooms), min_capacity=2,
        zone="Europe/London", minimum_notice_minutes=240,
    )
    timings: dict[str, list[float]] = {k: [] for k in ("data_version", "validate", "count", "find", "heatmap", "total")}
    baseline: list[float] = []
    counts = []
    for n in range(args.rounds):
        draft = replace(
            base,
            buffer_before_minutes=5 * (n % 7),
            duration_minutes=(30, 45, 60)[n % 3],
            members=(members[n % len(members)].id,),
        )
        now = utcnow()
        marks = [time.perf_counter()]
        version = state.data_version()
        marks.append(time.perf_counter())
        _spec, request = state._validated(draft, None, now)
        marks.append(time.perf_counter())
        counts.append(state.count_slots(request, version))
        marks.append(time.perf_counter())
        slots = state.find_slots(request, version)
        marks.append(time.perf_counter())
        views.slot_heatmap(slots["start"], draft.zone)
        marks.append(time.perf_counter())
        for name, a, b in zip(("data_version", "validate", "count", "find", "heatmap"), marks, marks[1:], strict=False):
            timings[name].append((b - a) * 1000)
        timings["total"].append((marks[-1] - marks[0]) * 1000)
        with state.session() as s:
            began = time.perf_counter()
            fresh = availability.count_slots_for(s, _spec, now)
            baseline.append((time.perf_counter() - began) * 1000)
        if fresh != counts[-1]:
            raise SystemExit(f"round {n}: the grid counts {counts[-1]} slots, the tables {fresh}")

    print(f"demo organisation: {len(members)} members, {len(pools)} pools, {len(rooms)} rooms; "
          f"grid {grid.n_quanta} quanta x {len(grid.resource_ids)} resources, built once in {build_ms:.0f} ms")
    print(f"{args.rounds} drafts, {min(counts)}-{max(counts)} slots each")
    for name, values in timings.items():
        print(f"  {name:12s} {_percentiles(values)}")
    ratio = statistics.median(baseline) / statistics.median(timings["count"])
    print(f"baseline: count from the database tables, no kept grid: {_percentiles(baseline)}  "
          f"(x{ratio:.1f} the grid's count; both agree in every round)")


if __name__ == "__main__":
    main()
