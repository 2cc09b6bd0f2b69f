"""promote_slots end to end: k, the input, small inputs, the solver's status and the fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import PlannerInputError
from planner.promote import SolveConfig, promote_slots, score_slots
from tests.planner.promote.helpers import (
    context,
    intervals,
    make_slots,
    random_instance,
    starts_of,
    violations,
)

# ------------------------------------------------------------------------------------------
# Validation at the boundary
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 11, -1, 2.5, True, "5"])
def test_k_outside_1_to_10_is_rejected(k):
    slots = make_slots(["2026-11-24 10:00"])
    with pytest.raises(PlannerInputError, match=r"k=.* must be an int from 1 to 10"):
        promote_slots(slots, context(), k=k)


def test_input_frame_is_not_modified():
    slots = make_slots([f"2026-11-{d} {h}:00" for d in (24, 25, 26) for h in (9, 14)])
    before = slots.copy(deep=True)
    promote_slots(slots, context(), k=2)
    pd.testing.assert_frame_equal(slots, before)


# ------------------------------------------------------------------------------------------
# Small inputs, fallback
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 5])
def test_at_most_k_slots_are_all_returned(n):
    slots = make_slots([f"2026-11-24 {9 + h:02d}:00" for h in range(n)])
    result = promote_slots(slots, context(), k=5)
    assert result.status == "ALL"
    assert result.solver_status is None and not result.used_fallback
    assert starts_of(result) == list(slots["start"])
    assert len(result.slots) == n


def test_no_slots_with_a_full_context_gives_an_empty_promotion():
    slots = make_slots([], pool_members=[], rooms=[])
    busy = intervals([("m1", "2026-11-24 09:00", "2026-11-24 10:00")])
    other = intervals([("m1", "2026-11-24 10:00", "2026-11-24 11:00")])
    ctx = context(busy=busy, other_promoted=other, meeting_counts={"m1": 2}, room_capacities={"r1": 4})
    result = promote_slots(slots, ctx)
    assert result.status == "ALL" and result.slots.empty and result.objective == 0


def test_fallback_answers_when_the_solver_has_no_time():
    slots, ctx = random_instance(1, n=40)
    result = promote_slots(slots, ctx, k=5, config=SolveConfig(time_limit=0.0))
    assert result.status == "FALLBACK"
    assert result.used_fallback
    assert result.solver_status == "UNKNOWN"
    assert "greedy fallback" in result.message and "time limit" in result.message
    assert len(result.slots) == 5
    assert not violations(slots["start"], starts_of(result), 5, ctx.display_zone)
    # The fallback uses the same scores as the solver.
    solved = promote_slots(slots, ctx, k=5)
    table = score_slots(slots, ctx).set_index("start")
    for res in (result, solved):
        expected = table.loc[res.slots["start"], "points"].to_numpy() / 1000
        np.testing.assert_allclose(res.slots["score"].to_numpy(), expected)
    assert result.objective <= solved.objective


def test_greedy_reports_when_it_cannot_mix():
    # Tuesday has both halves, Wednesday only a morning: greedy takes Tuesday morning and
    # then has no afternoon on a free day left.
    slots = make_slots(["2026-11-24 10:00", "2026-11-24 14:00", "2026-11-25 09:00"])
    result = promote_slots(slots, context(), k=2, config=SolveConfig(time_limit=0.0))
    assert result.status == "FALLBACK"
    assert "could not mix morning and afternoon" in result.message
    assert promote_slots(slots, context(), k=2).status == "OPTIMAL"
