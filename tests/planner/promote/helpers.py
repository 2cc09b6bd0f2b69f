"""Slot tables, contexts and solver-independent checks the promote tests share.

Solutions are checked with code that does not use the solver: the constraints are recomputed
here from the slot starts, and optima are found by enumerating every k-subset.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from planner.promote import PromoteContext

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
ZONE = "Europe/London"  # UTC+0 in November, so local and UTC wall times coincide


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def make_slots(
    starts: list[str],
    minutes: int = 60,
    members: tuple[str, ...] = ("m1",),
    pool_members: list[tuple[tuple[str, ...], ...]] | None = None,
    rooms: list[tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """A slot table in the planner contract's shape."""
    start = pd.Series([ts(s) for s in starts], dtype="datetime64[ns, UTC]")
    n = len(starts)
    return pd.DataFrame(
        {
            "start": start,
            "end": start + pd.Timedelta(minutes=minutes),
            "members": [members] * n,
            "pool_members": pool_members if pool_members is not None else [()] * n,
            "rooms": rooms if rooms is not None else [()] * n,
        }
    )


def context(**kwargs) -> PromoteContext:
    kwargs.setdefault("zone", ZONE)
    kwargs.setdefault("now", NOW)
    return PromoteContext(**kwargs)


def intervals(rows: list[tuple[str, str, str]], demand: list[float] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "resource_id": [r for r, _, _ in rows],
            "start": pd.Series([ts(s) for _, s, _ in rows], dtype="datetime64[ns, UTC]"),
            "end": pd.Series([ts(e) for _, _, e in rows], dtype="datetime64[ns, UTC]"),
        }
    )
    if demand is not None:
        frame["demand"] = demand
    return frame


def starts_of(result) -> list[pd.Timestamp]:
    return list(result.slots["start"])


# ------------------------------------------------------------------------------------------
# Solver-independent checks
# ------------------------------------------------------------------------------------------


def local_day_half(starts: pd.Series, zone: str) -> tuple[list, list[bool]]:
    local = [s.tz_convert(zone) for s in starts]
    return [t.date() for t in local], [t.hour >= 12 for t in local]


def violations(all_starts: pd.Series, chosen_starts: list, k: int, zone: str) -> list[str]:
    """Constraint violations of a choice, recomputed from starts only."""
    days, afternoon = local_day_half(pd.Series(list(all_starts)), zone)
    day_of = dict(zip(all_starts, days, strict=True))
    half_of = dict(zip(all_starts, afternoon, strict=True))
    problems = []
    if len(chosen_starts) != min(k, len(all_starts)) or len(set(chosen_starts)) != len(chosen_starts):
        problems.append("wrong number of slots")
    counts = pd.Series(days).value_counts()
    cap = next(c for c in range(1, k + 1) if np.minimum(counts.to_numpy(), c).sum() >= min(k, len(days)))
    per_day = pd.Series([day_of[s] for s in chosen_starts]).value_counts()
    if len(per_day) and per_day.max() > cap:
        problems.append(f"{per_day.max()} slots on one day, cap {cap}")
    if k >= 2 and len(set(afternoon)) == 2 and len({half_of[s] for s in chosen_starts}) < 2:
        problems.append("no morning/afternoon mix")
    return problems


def brute_force_best(table: pd.DataFrame, k: int, zone: str) -> int:
    """Best total points over every feasible k-subset (constraints recomputed from starts)."""
    starts = list(table["start"])
    days, afternoon = local_day_half(pd.Series(starts), zone)
    points = table["points"].to_list()
    counts = pd.Series(days).value_counts().to_numpy()
    cap = next(c for c in range(1, k + 1) if np.minimum(counts, c).sum() >= k)
    need_mix = k >= 2 and len(set(afternoon)) == 2
    best = -math.inf
    for combo in itertools.combinations(range(len(starts)), k):
        if max(Counter(days[i] for i in combo).values()) > cap:
            continue
        if need_mix and len({afternoon[i] for i in combo}) < 2:
            continue
        best = max(best, sum(points[i] for i in combo))
    return best


def random_instance(seed: int, n: int) -> tuple[pd.DataFrame, PromoteContext]:
    rng = np.random.default_rng(seed)
    day = rng.integers(0, 4, size=n)
    quarter = rng.choice(np.arange(6 * 4, 19 * 4), size=n, replace=False)  # 06:00-19:00
    starts = sorted(
        {
            ts("2026-11-24") + pd.Timedelta(days=int(d), minutes=15 * int(q))
            for d, q in zip(day, quarter, strict=True)
        }
    )
    slots = make_slots(
        [s.strftime("%Y-%m-%d %H:%M") for s in starts],
        members=("m1",),
        pool_members=[
            (tuple(sorted(rng.choice(["a", "b", "c"], size=rng.integers(1, 4), replace=False))),)
            for _ in starts
        ],
        rooms=[
            tuple(sorted(rng.choice(["r1", "r2"], size=rng.integers(1, 3), replace=False))) for _ in starts
        ],
    )
    busy = intervals(
        [("m1", "2026-11-24 12:00", "2026-11-24 13:00"), ("a", "2026-11-25 09:00", "2026-11-25 10:00")]
    )
    other = intervals(
        [("b", "2026-11-24 10:00", "2026-11-24 12:00"), ("r1", "2026-11-26 14:00", "2026-11-26 15:00")]
    )
    ctx = context(
        customer_zone="America/New_York",
        meeting_counts={"a": 2, "b": 0, "c": 5},
        room_capacities={"r1": 4, "r2": 10},
        busy=busy,
        other_promoted=other,
    )
    return slots, ctx
