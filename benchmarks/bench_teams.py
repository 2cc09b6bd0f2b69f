"""Benchmark of team scheduling: a panel (k of n) and per-person limits against the plain request.

Run: ``python benchmarks/bench_teams.py`` (``--quick`` for a smoke run); ``bench_planner.py``
runs it too, after its own workloads.

The organisations and the invitation are those of ``bench_planner.py`` (2 required members, a
pool of 5, any of 10 rooms, 45 minutes, 90-day frame over the DST changes). The team request
is the same with the pool as a panel (2 of the 5) and limits on every member involved (at most
3 meetings and 5 hours a day, 12 meetings a week, in their zones), over meetings taken from
their calendars (one busy block in three is a Slotwise meeting).

Measured, per workload: ``find_slots`` from the raw tables, ``find_slots`` and ``count_slots``
on the loaded :class:`planner.OrgTables`, and the live count on the prebuilt
:class:`planner.OrgGrid` (its per-shape cache serves both requests: the panel and the limits
only change how the cached rows are combined), each for the plain request (the baseline,
interleaved with it) and the team request; printed as the ratios team / plain of the wall and
the CPU medians (target: at most 2x; on a shared machine the CPU ratio is the steadier one).
The live count is measured twice: with one :class:`planner.Limits` object throughout (the
dashboard keeps one per data version, and the grid keeps its masks per request shape), and with
a new Limits object for every count (nothing of the limits kept: what the first count of a
shape costs).

Before timing, the team request's slots are checked against a reference computed another way:
the starts where at least 2 of the 5 single-member variants of the request are available
(so the panel rule), each filtered by that member's limits counted with pandas in their zone.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_planner import Workload, interleaved, make_request, print_table  # noqa: E402

import planner  # noqa: E402

K = 2
CAPS = {"max_meetings_day": 3, "max_minutes_day": 300, "max_meetings_week": 12}
AUTUMN = dt.date(2026, 9, 30)
WORKLOADS = {"A": Workload("A", 45, 10, AUTUMN, 92), "B": Workload("B", 1000, 200, AUTUMN, 92)}


def team_inputs(
    org: planner.Organisation, request: planner.SlotRequest
) -> tuple[planner.SlotRequest, planner.Limits, pd.DataFrame]:
    """The panel request, its limits, and the meetings they count."""
    team = dataclasses.replace(request, pool_k=(K,))
    limited = list(dict.fromkeys(request.all_members))
    busy = org.busy[org.busy["resource_id"].isin(limited)]
    meetings = busy.iloc[::3][["resource_id", "start", "end"]].reset_index(drop=True)
    limits = pd.DataFrame({"resource_id": limited, **{c: [v] * len(limited) for c, v in CAPS.items()}})
    return team, planner.Limits(limits, meetings), meetings


def reference(org, request: planner.SlotRequest, meetings: pd.DataFrame) -> list[int]:
    """Starts of the team request computed another way (see the module docstring)."""
    tables = (org.resources, org.hours, org.busy, org.overrides)
    zones = org.resources.set_index("resource_id")["zone"]
    minutes = request.duration.value // 60_000_000_000

    def within(rid: str, starts: pd.Series) -> np.ndarray:
        zone = zones[rid]
        mine = meetings[meetings["resource_id"] == rid]
        local = mine["start"].dt.tz_convert(zone)
        day = local.dt.date
        week = local.dt.isocalendar()
        week_key = week["year"] * 100 + week["week"]
        length = (mine["end"] - mine["start"]).dt.total_seconds() // 60
        n_day = day.value_counts()
        m_day = length.groupby(day).sum()
        n_week = week_key.value_counts()
        s_local = starts.dt.tz_convert(zone)
        s_day = s_local.dt.date
        s_week = s_local.dt.isocalendar()
        s_week_key = s_week["year"] * 100 + s_week["week"]
        ok = s_day.map(n_day).fillna(0) + 1 <= CAPS["max_meetings_day"]
        ok &= s_day.map(m_day).fillna(0) + minutes <= CAPS["max_minutes_day"]
        ok &= s_week_key.map(n_week).fillna(0) + 1 <= CAPS["max_meetings_week"]
        return ok.to_numpy()

    plain = planner.find_slots(dataclasses.replace(request, pools=(), pool_k=(), pool_turns=()), *tables)
    required_ok = np.ones(len(plain), dtype=bool)
    for rid in request.members:
        required_ok &= within(rid, plain["start"])
    base = set(plain["start"][required_ok].astype("int64").tolist())
    counts: dict[int, int] = {}
    for member in request.pools[0]:
        single = planner.find_slots(
            dataclasses.replace(request, pools=((member,),), pool_k=(), pool_turns=()), *tables
        )
        ok = within(member, single["start"])
        for t in single["start"][ok].astype("int64").tolist():
            counts[t] = counts.get(t, 0) + 1
    return sorted(t for t, n in counts.items() if n >= K and t in base)


def run_teams_workload(w: Workload, reps: int) -> dict:
    print(f"\n=== team scheduling, workload {w.name}: {w.n_members} members, {w.n_rooms} rooms, panel {K} of 5, "
          f"limits {CAPS} ===", flush=True)  # fmt: skip
    org = planner.generate_organisation(w.n_members, w.n_rooms, w.start, w.days, seed=2026)
    tables = (org.resources, org.hours, org.busy, org.overrides)
    request = make_request(org, w, 0)
    team, limits, meetings = team_inputs(org, request)
    index = planner.OrgTables.load(*tables)
    grid = planner.OrgGrid.from_tables(index, start=w.horizon[0], end=w.horizon[1])

    engine = [int(t.value) for t in planner.find_slots(team, *tables, limits=limits)["start"]]
    got = {
        "OrgTables": [int(t.value) for t in index.find_slots(team, limits=limits)["start"]],
        "grid": [int(t.value) for t in grid.find_slots(team, limits=limits)["start"]],
        "grid again (cache hit)": [int(t.value) for t in grid.find_slots(team, limits=limits)["start"]],
        "reference": reference(org, team, meetings),
    }
    bad = {k: len(v) for k, v in got.items() if v != engine}
    if bad:
        raise SystemExit(f"MISMATCH: engine {len(engine)}, {bad}")
    counts = (planner.count_slots(team, *tables, limits=limits), index.count_slots(team, limits=limits),
              grid.count_slots(team, limits=limits))  # fmt: skip
    if set(counts) != {len(engine)}:
        raise SystemExit(f"MISMATCH between count_slots {counts} and find_slots {len(engine)}")
    plain_n = planner.count_slots(request, *tables)
    print(f"checked: the engine (raw tables, OrgTables, grid miss and hit) and the reference agree on "
          f"{len(engine)} slots for the team request ({plain_n} for the plain one; {len(meetings):,} meetings "
          f"counted against the limits)")  # fmt: skip

    rows = {
        "find_slots (raw tables)": (lambda: planner.find_slots(request, *tables),
                                    lambda: planner.find_slots(team, *tables, limits=limits)),
        "find_slots (OrgTables)": (lambda: index.find_slots(request),
                                   lambda: index.find_slots(team, limits=limits)),
        "count_slots (OrgTables)": (lambda: index.count_slots(request),
                                    lambda: index.count_slots(team, limits=limits)),
        "live count (OrgGrid)": (lambda: grid.count_slots(request), lambda: grid.count_slots(team, limits=limits)),
        "live count (OrgGrid), new Limits each time": (lambda: grid.count_slots(request),
                                                       lambda: grid.count_slots(team, limits=next(fresh))),
    }  # fmt: skip
    # Limits objects made in advance (not timed), one per call: nothing of the limits is kept.
    limits_table = pd.DataFrame({"resource_id": list(dict.fromkeys(request.all_members)),
                                 **{c: [v] * len(request.all_members) for c, v in CAPS.items()}})  # fmt: skip
    fresh = iter([planner.Limits(limits_table, meetings) for _ in range(reps * 5 + 2)])
    out = {}
    for label, (plain_fn, team_fn) in rows.items():
        # Interleaved, so both calls see the same load; the grid's calls are cache hits.
        timings = interleaved({"plain": plain_fn, "panel + limits": team_fn},
                              reps * 5 if "grid" in label.lower() else reps)  # fmt: skip
        print_table(label, timings, "plain")
        p, t = timings["plain"], timings["panel + limits"]
        ratio, cpu_ratio = t.med / p.med, t.cpu_med / max(p.cpu_med, 1e-9)
        out[label] = (ratio, cpu_ratio)
        print(
            f"  team / plain: x{ratio:.2f} wall, x{cpu_ratio:.2f} CPU  {'met' if ratio <= 2 else 'MISSED'} (<= 2x, wall)"
        )
    return out


def run_teams(quick: bool = False) -> None:
    print(f"\nload average {os.getloadavg()[0]:.1f} before the team scheduling workloads")
    if quick:
        run_teams_workload(WORKLOADS["A"], reps=10)
    else:
        run_teams_workload(WORKLOADS["A"], reps=60)
        run_teams_workload(WORKLOADS["B"], reps=20)
    print(f"load average {os.getloadavg()[0]:.1f} after them")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, the small workload only")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, pandas {pd.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    run_teams(args.quick)


if __name__ == "__main__":
    main()
