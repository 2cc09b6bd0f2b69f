"""Benchmark of the promoted-slots optimizer (planner.promote).

(a) Solve time: ``promote_slots`` with k=5 on 200, 2,000 and 10,000 candidate slots of one
    invitation (a required member, a pool of six, three rooms, busy calendars and other
    invitations' promoted slots in the context). Reports the end-to-end time (scoring,
    pre-filter, model, CP-SAT), CP-SAT's own wall time, the status and the model size, and
    for reference CP-SAT on the unfiltered model. Targets: under 200 ms at 2,000 candidates,
    under 1 s at 10,000, status OPTIMAL or FEASIBLE.

(b) Contention: an organisation from ``planner.synthetic.generate_organisation``, 50 active
    invitations that share one pool and two rooms, each promoting k=5 slots, created one
    after the other (each sees the earlier ones' promoted slots). Customers then arrive in a
    random order (seeded) and each picks one of their promoted slots; the pick fails when the
    slot is no longer available because earlier customers booked its pool members or rooms.
    A customer whose pick fails opens the full list and books the earliest time still free
    there. The re-check uses the slot's free pool members and rooms as the engine reported them
    minus this simulation's bookings (no buffers), which is the engine's own rule for them.
    The optimizer and the "earliest k" baseline run in the same simulation with the same
    arrival order and the same pick positions. Targets: the optimizer's failure share at most
    half the baseline's, and its average local-time quality higher.

Run from the repository root::

    .venv/bin/python benchmarks/bench_promote.py            # both parts
    .venv/bin/python benchmarks/bench_promote.py --part a
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.promote import (  # noqa: E402
    PromoteContext,
    build_model,
    contention_claims,
    local_time_quality,
    promote_slots,
    score_slots,
    solve,
)

K = 5
SEED = 20261123


# --------------------------------------------------------------------------------------------
# (a) solve time
# --------------------------------------------------------------------------------------------


def synthetic_candidates(n: int, seed: int) -> tuple[pd.DataFrame, PromoteContext]:
    """``n`` available slots of one invitation and a realistic context.

    Starts lie on a 5-minute grid inside 09:00-17:00 Europe/Berlin on weekdays, about 60% of
    grid points available; each start has a random subset of a six-member pool and of three
    rooms free, as the engine would report.
    """
    rng = np.random.default_rng(seed)
    zone = "Europe/Berlin"
    offsets = pd.to_timedelta(np.arange(9 * 60, 16 * 60 + 1, 5), unit="min")  # 60-minute slots
    n_days = int(np.ceil(n / (0.6 * len(offsets)))) + 1
    days = pd.bdate_range("2026-11-23", periods=n_days, tz=zone)  # from a Monday
    grid = days.repeat(len(offsets)) + np.tile(offsets, len(days))
    keep = np.sort(rng.choice(len(grid), size=n, replace=False))
    start = pd.Series(grid[keep].tz_convert("UTC")).astype("datetime64[ns, UTC]")
    pool = [f"p{i}" for i in range(6)]
    rooms = ["r_small", "r_mid", "r_large"]
    pool_members = [
        (tuple(sorted(rng.choice(pool, size=rng.integers(1, 7), replace=False).tolist())),) for _ in range(n)
    ]
    free_rooms = [
        tuple(sorted(rng.choice(rooms, size=rng.integers(1, 4), replace=False).tolist())) for _ in range(n)
    ]
    slots = pd.DataFrame(
        {
            "start": start,
            "end": start + pd.Timedelta(minutes=60),
            "members": [("m0",)] * n,
            "pool_members": pool_members,
            "rooms": free_rooms,
        }
    )
    horizon = (start.iloc[-1] - start.iloc[0]).total_seconds()
    busy_start = start.iloc[0] + pd.to_timedelta(rng.uniform(0, horizon, size=30 * n_days), unit="s").round(
        "15min"
    )
    busy = pd.DataFrame(
        {
            "resource_id": rng.choice(["m0", *pool], size=len(busy_start)),
            "start": busy_start,
            "end": busy_start + pd.Timedelta(minutes=45),
        }
    )
    other = slots.iloc[np.sort(rng.choice(n, size=min(100, n // 2), replace=False))]
    context = PromoteContext(
        zone=zone,
        now=(start.iloc[0] - pd.Timedelta(hours=12)).to_pydatetime(),
        customer_zone="America/New_York",
        meeting_counts={m: int(c) for m, c in zip(pool, rng.integers(0, 12, size=6), strict=True)},
        room_capacities={"r_small": 4, "r_mid": 8, "r_large": 20},
        min_capacity=3,
        other_promoted=contention_claims(other),
        busy=busy,
    )
    return slots, context


def part_a(repeats: int = 5) -> list[dict[str, object]]:
    """Time ``promote_slots`` (k=5) at 200, 2,000 and 10,000 candidates."""
    rows = []
    for n in (200, 2_000, 10_000):
        slots, context = synthetic_candidates(n, SEED + n)
        promote_slots(slots, context, k=K)  # warm-up (imports, caches)
        times, cpu_times, solver_times, statuses = [], [], [], set()
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            result = promote_slots(slots, context, k=K)
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            solver_times.append(result.wall_time)
            statuses.add(result.status)
        table = score_slots(slots, context)
        t0 = time.perf_counter()
        full = solve(build_model(table, K))
        full_time = time.perf_counter() - t0
        rows.append(
            {
                "candidates": n,
                "status": "/".join(sorted(statuses)),
                "modelled": result.n_modelled,
                "median_ms": 1000 * statistics.median(times),
                "max_ms": 1000 * max(times),
                "cpu_ms": 1000 * statistics.median(cpu_times),
                "cp_sat_ms": 1000 * statistics.median(solver_times),
                "unfiltered_ms": 1000 * full_time,
                "unfiltered_status": full.solver_status,
                "same_objective": full.objective == round(result.objective * 1000),
            }
        )
    return rows


def print_a(rows: list[dict[str, object]]) -> None:
    print(
        "(a) promote_slots, k=5, median of 5 runs, end to end (scoring, pre-filter, model, CP-SAT): "
        "wall and CPU time of the process"
    )
    print()
    print(
        "| candidates | status | modelled | median ms | max ms | CPU ms | CP-SAT ms "
        "| unfiltered model ms (status, same optimum) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(
            f"| {r['candidates']:,} | {r['status']} | {r['modelled']} | {r['median_ms']:.0f} | {r['max_ms']:.0f} "
            f"| {r['cpu_ms']:.0f} "
            f"| {r['cp_sat_ms']:.1f} | {r['unfiltered_ms']:.0f} ({r['unfiltered_status']}, {r['same_objective']}) |"
        )
    print()


# --------------------------------------------------------------------------------------------
# (b) contention simulation
# --------------------------------------------------------------------------------------------


@dataclass
class Booker:
    """Bookings made so far in one simulated world (optimizer or baseline)."""

    member_busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]
    room_busy: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]
    meetings: dict[str, int]
    capacities: dict[str, int]

    def _free(self, table: dict, resource: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
        return all(not (s < end and start < e) for s, e in table.get(resource, ()))

    def try_book(self, slot: pd.Series) -> bool:
        """Book ``slot`` if a pool member and a room are still free; assign as the service does.

        The slot was available when the invitation was made (its ``pool_members`` and
        ``rooms`` lists say who was free); since then only this simulation's bookings (no
        buffers) have changed availability, so this check is the booking re-check.
        """
        start, end = slot["start"], slot["end"]
        members = [m for m in slot["pool_members"][0] if self._free(self.member_busy, m, start, end)]
        rooms = [r for r in slot["rooms"] if self._free(self.room_busy, r, start, end)]
        if not members or (slot["rooms"] and not rooms):
            return False
        member = min(members, key=lambda m: (self.meetings.get(m, 0), m))
        self.member_busy.setdefault(member, []).append((start, end))
        self.meetings[member] = self.meetings.get(member, 0) + 1
        if rooms:
            room = min(rooms, key=lambda r: (self.capacities[r], r))
            self.room_busy.setdefault(room, []).append((start, end))
        return True


CUSTOMER_ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
)


def part_b(n_invitations: int = 50, seed: int = SEED) -> dict[str, object]:
    """Simulate customers picking promoted slots; compare the optimizer with earliest-k."""
    from planner import OrgGrid, SlotRequest, generate_organisation

    rng = np.random.default_rng(seed)
    start_date = dt.date(2026, 11, 23)
    org = generate_organisation(n_members=12, n_rooms=5, start_date=start_date, days=28, seed=seed)
    pool_id = sorted(org.pools["pool_id"].unique())[0]
    pool = org.pool_members(pool_id)
    resources = org.resources.set_index("resource_id")
    capacities = {r: int(resources.loc[r, "capacity"]) for r in org.room_ids}
    rooms = tuple(sorted(org.room_ids, key=lambda r: (capacities[r], r))[-2:])  # the two largest
    zone = "Europe/London"
    now = dt.datetime(2026, 11, 22, 18, 0, tzinfo=dt.UTC)
    frame_start, frame_end = start_date, start_date + dt.timedelta(days=13)
    in_frame = (org.busy["start"] < pd.Timestamp(frame_end + dt.timedelta(days=1), tz="UTC")) & (
        org.busy["end"] > pd.Timestamp(frame_start, tz="UTC")
    )
    counts = org.busy.loc[in_frame & org.busy["resource_id"].isin(pool)].groupby("resource_id").size()
    meeting_counts = {m: int(counts.get(m, 0)) for m in pool}
    busy = org.busy.loc[org.busy["resource_id"].isin(pool), ["resource_id", "start", "end"]]

    invitations = []
    t0 = time.perf_counter()
    grid = OrgGrid.build(
        org.resources,
        org.hours,
        org.busy,
        org.overrides,
        start=pd.Timestamp(frame_start, tz="UTC") - pd.Timedelta(days=1),
        end=pd.Timestamp(frame_end, tz="UTC") + pd.Timedelta(days=2),
    )
    for i in range(n_invitations):
        request = SlotRequest(
            members=(),
            pools=(pool,),
            rooms=rooms,
            min_capacity=2,
            duration=pd.Timedelta(minutes=int(rng.choice([30, 45, 60]))),
            interval=pd.Timedelta(minutes=15),
            frame_start=frame_start,
            frame_end=frame_end,
            zone=zone,
            now=now,
        )
        slots = grid.find_slots(request)
        invitations.append({"slots": slots, "customer_zone": str(rng.choice(CUSTOMER_ZONES)), "index": i})
    find_time = time.perf_counter() - t0

    promoted_opt: list[pd.DataFrame] = []
    promoted_base: list[pd.DataFrame] = []
    claims: list[pd.DataFrame] = []
    statuses: list[str] = []
    solve_times: list[float] = []
    for inv in invitations:
        context = PromoteContext(
            zone=zone,
            now=now,
            customer_zone=inv["customer_zone"],
            meeting_counts=meeting_counts,
            room_capacities={r: capacities[r] for r in rooms},
            min_capacity=2,
            other_promoted=pd.concat(claims, ignore_index=True) if claims else None,
            busy=busy,
        )
        t0 = time.perf_counter()
        result = promote_slots(inv["slots"], context, k=K)
        solve_times.append(time.perf_counter() - t0)
        statuses.append(result.status)
        chosen = result.slots[["start", "end", "members", "pool_members", "rooms"]]
        promoted_opt.append(chosen)
        claims.append(contention_claims(chosen))
        promoted_base.append(inv["slots"].sort_values("start").head(K))

    order = rng.permutation(n_invitations)
    picks = rng.integers(0, K, size=n_invitations)
    worlds = {}
    for name, promoted in (("optimizer", promoted_opt), ("earliest k", promoted_base)):
        booker = Booker({}, {}, dict(meeting_counts), capacities)
        failed = 0
        picked_quality = []
        for i in order:
            choice = promoted[i].sort_values("start").iloc[min(picks[i], len(promoted[i]) - 1)]
            zone_i = invitations[i]["customer_zone"]
            picked_quality.append(
                local_time_quality(pd.Series([choice["start"]]), pd.Series([choice["end"]]), zone_i)[0]
            )
            if not booker.try_book(choice):
                failed += 1
                # The customer opens the full list and books the earliest time still free.
                for _, slot in invitations[i]["slots"].iterrows():
                    if booker.try_book(slot):
                        break
        promoted_quality = np.concatenate(
            [
                local_time_quality(p["start"], p["end"], invitations[i]["customer_zone"])
                for i, p in enumerate(promoted)
            ]
        )
        worlds[name] = {
            "failed_share": failed / n_invitations,
            "picked_quality": float(np.mean(picked_quality)),
            "promoted_quality": float(np.mean(promoted_quality)),
        }
    return {
        "worlds": worlds,
        "pool_size": len(pool),
        "rooms": rooms,
        "candidates_median": int(np.median([len(inv["slots"]) for inv in invitations])),
        "statuses": sorted(set(statuses)),
        "solve_ms_median": 1000 * statistics.median(solve_times),
        "solve_ms_max": 1000 * max(solve_times),
        "find_s": find_time,
    }


def print_b(res: dict[str, object]) -> None:
    print(
        f"(b) contention: {len(CUSTOMER_ZONES)} customer zones, 50 invitations, one pool of {res['pool_size']} "
        f"members, rooms {', '.join(res['rooms'])}; median {res['candidates_median']} candidates per invitation"
    )
    print(
        f"    optimizer status {'/'.join(res['statuses'])}, promote_slots median {res['solve_ms_median']:.0f} ms, "
        f"max {res['solve_ms_max']:.0f} ms; find_slots for all invitations {res['find_s']:.1f} s"
    )
    print()
    print(
        "| promoted slots | picked slot no longer available | local-time quality of picked | of all promoted |"
    )
    print("| --- | ---: | ---: | ---: |")
    for name, w in res["worlds"].items():
        print(
            f"| {name} | {100 * w['failed_share']:.0f}% | {w['picked_quality']:.2f} | {w['promoted_quality']:.2f} |"
        )
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "b", "all"], default="all")
    parser.add_argument(
        "--extra-seeds", type=int, default=2, help="repeat (b) with this many further seeds (summary lines)"
    )
    args = parser.parse_args(argv)
    import ortools

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"ortools {ortools.__version__}, pandas {pd.__version__}, {os.cpu_count()} cores, load average {load}"
    )
    print()
    if args.part in ("a", "all"):
        print_a(part_a())
    if args.part in ("b", "all"):
        print_b(part_b())
        for offset in range(1, args.extra_seeds + 1):
            res = part_b(seed=SEED + offset)
            opt, base = res["worlds"]["optimizer"], res["worlds"]["earliest k"]
            print(
                f"    seed {SEED + offset}: unavailable {100 * opt['failed_share']:.0f}% (optimizer) vs "
                f"{100 * base['failed_share']:.0f}% (earliest k); local-time quality of picked "
                f"{opt['picked_quality']:.2f} vs {base['picked_quality']:.2f}; statuses {'/'.join(res['statuses'])}; "
                f"median {res['candidates_median']} candidates, rooms {', '.join(res['rooms'])}"
            )


if __name__ == "__main__":
    main()
