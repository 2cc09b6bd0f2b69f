"""The result table of promote_slots: input columns, score parts and a reason per slot."""

from __future__ import annotations

import numpy as np
import pytest

from planner.promote import PART_COLUMNS, promote_slots
from tests.planner.promote.helpers import context, intervals, make_slots


def test_result_has_input_columns_score_parts_and_reason():
    slots = make_slots([f"2026-11-{d} {h}:00" for d in (24, 25, 26, 27) for h in (9, 14)])
    slots.index = [f"row{i}" for i in range(len(slots))]
    result = promote_slots(slots, context(), k=3)
    out = result.slots
    assert list(out.columns[:5]) == list(slots.columns)
    assert set(out.index) <= set(slots.index)
    assert {"score", "reason", *PART_COLUMNS} <= set(out.columns)
    np.testing.assert_allclose(out["score"], out[list(PART_COLUMNS)].sum(axis=1), atol=1e-9)
    assert out["start"].is_monotonic_increasing
    assert result.objective == pytest.approx(out["score"].sum())
    assert all(isinstance(r, str) and r for r in out["reason"])
    assert result.status == "OPTIMAL" and not result.used_fallback


def test_reason_names_day_half_and_local_time():
    slots = make_slots(["2026-11-24 10:00", "2026-11-24 06:00"])  # Tuesday
    busy = intervals([("m1", "2026-11-24 09:00", "2026-11-24 10:00")])
    result = promote_slots(slots, context(busy=busy), k=1)
    assert result.slots["reason"].iloc[0] == "Tue morning, inside customer hours, next to existing meeting"


def test_a_customer_in_another_zone_reads_both_times_each_labelled():
    # 14:00 London is 09:00 in New York: the customer's morning, the scheduler's afternoon.
    slots = make_slots(["2026-11-24 14:00"])
    result = promote_slots(slots, context(customer_zone="America/New_York"), k=1)
    reason = result.slots["reason"].iloc[0]
    assert reason.startswith("Tue 09:00 for the customer (morning, America/New_York), Tue 14:00 in Europe/London")
    assert "afternoon" not in reason
