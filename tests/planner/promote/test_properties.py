"""Property tests for planner.promote: score ranges and constraints on generated slot tables."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.promote import PART_COLUMNS, PromoteContext, promote_slots, score_slots

ZONES = ("Europe/London", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Auckland")
BASE = pd.Timestamp("2026-10-01", tz="UTC")  # spans several DST changes over the next months
POOL = ("a", "b", "c")
ROOMS = {"r1": 2, "r2": 6, "r3": 12}


@st.composite
def instances(draw):
    quarters = draw(st.lists(st.integers(0, 4 * 24 * 60), min_size=1, max_size=40, unique=True))
    minutes = draw(st.sampled_from([15, 30, 60, 90]))
    start = pd.Series(
        sorted(BASE + pd.Timedelta(minutes=15 * q) for q in quarters), dtype="datetime64[ns, UTC]"
    )
    n = len(start)
    pools = [(tuple(sorted(draw(st.sets(st.sampled_from(POOL), min_size=1)))),) for _ in range(n)]
    rooms = [tuple(sorted(draw(st.sets(st.sampled_from(sorted(ROOMS)), min_size=1)))) for _ in range(n)]
    slots = pd.DataFrame(
        {
            "start": start,
            "end": start + pd.Timedelta(minutes=minutes),
            "members": [("m",)] * n,
            "pool_members": pools,
            "rooms": rooms,
        }
    )
    busy_at = draw(st.lists(st.integers(0, 4 * 24 * 60), max_size=20))
    busy_start = pd.Series(
        [BASE + pd.Timedelta(minutes=15 * q) for q in busy_at], dtype="datetime64[ns, UTC]"
    )
    busy = pd.DataFrame(
        {
            "resource_id": [draw(st.sampled_from(("m", *POOL))) for _ in busy_at],
            "start": busy_start,
            "end": busy_start + pd.Timedelta(minutes=45),
        }
    )
    claims = busy.assign(resource_id=[draw(st.sampled_from(("m", *POOL, *ROOMS))) for _ in busy_at])
    context = PromoteContext(
        zone=draw(st.sampled_from(ZONES)),
        customer_zone=draw(st.sampled_from((None, *ZONES))),
        now=datetime(2026, 9, 30, tzinfo=UTC),
        meeting_counts={m: draw(st.integers(0, 9)) for m in POOL},
        room_capacities=ROOMS,
        min_capacity=draw(st.sampled_from([1, 2, 4])),
        other_promoted=claims,
        busy=busy,
    )
    return slots, context, draw(st.integers(1, 10))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_score_parts_stay_in_their_documented_ranges(instance):
    slots, context, _ = instance
    table = score_slots(slots, context)
    assert table["f_local_time"].between(-1, 1).all()
    assert (table["f_soonness"] > 0).all() and (table["f_soonness"] <= 1).all()
    for part in ("fairness", "room", "calendar_shape"):
        assert table[f"f_{part}"].between(0, 1).all(), part
    assert (table["f_contention"] >= 0).all()
    np.testing.assert_allclose(table["score"], table[list(PART_COLUMNS)].sum(axis=1), atol=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_promotion_keeps_the_spread_rules(instance):
    slots, context, k = instance
    result = promote_slots(slots, context, k=k)
    chosen = list(result.slots["start"])
    assert len(chosen) == min(k, len(slots)) == len(set(chosen))
    if len(slots) <= k:
        assert result.status == "ALL"
        return
    assert result.status == "OPTIMAL"
    local = [s.tz_convert(context.display_zone) for s in slots["start"]]
    days = Counter(t.date() for t in local)
    cap = next(c for c in range(1, k + 1) if sum(min(v, c) for v in days.values()) >= k)
    picked = [s.tz_convert(context.display_zone) for s in chosen]
    assert max(Counter(t.date() for t in picked).values()) <= cap
    if k >= 2 and len({t.hour >= 12 for t in local}) == 2:
        assert len({t.hour >= 12 for t in picked}) == 2
