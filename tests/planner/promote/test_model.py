"""The CP-SAT model: spread constraints, optimality against brute force, the pre-filter, the
greedy fallback, determinism.

Solutions are checked with code that does not use the solver (tests/planner/promote/helpers.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from planner.errors import PlannerInputError
from planner.promote import (
    PromoteWeights,
    SolveConfig,
    build_model,
    day_cap,
    greedy_select,
    prefilter,
    promote_slots,
    score_slots,
    solve,
)
from tests.planner.promote.helpers import (
    ZONE,
    brute_force_best,
    context,
    make_slots,
    random_instance,
    starts_of,
    ts,
    violations,
)

# ------------------------------------------------------------------------------------------
# Validation at the boundary
# ------------------------------------------------------------------------------------------


def test_bad_config_is_named():
    with pytest.raises(PlannerInputError, match="time_limit=-1"):
        SolveConfig(time_limit=-1)


# ------------------------------------------------------------------------------------------
# Spread constraints
# ------------------------------------------------------------------------------------------


def test_no_two_promoted_slots_on_one_day_while_enough_days_exist():
    # Monday is packed with perfect slots; the other days have one slot each, later.
    monday = [f"2026-11-23 {h:02d}:00" for h in range(9, 17)]
    others = [f"2026-11-{d} 15:00" for d in (24, 25, 26, 27)]
    slots = make_slots(monday + others)
    result = promote_slots(slots, context(), k=5)
    days = {s.date() for s in result.slots["start"]}
    assert len(days) == 5
    assert not violations(slots["start"], starts_of(result), 5, ZONE)


def test_spread_is_as_even_as_the_days_allow():
    # Day counts 1, 1 and 10: k=5 needs 3 slots on the busy day, no more.
    slots = make_slots(
        ["2026-11-24 10:00", "2026-11-25 14:00"] + [f"2026-11-23 {h:02d}:00" for h in range(7, 17)]
    )
    table = score_slots(slots, context())
    assert day_cap(table.groupby("local_day").size().to_numpy(), 5) == 3
    result = promote_slots(slots, context(), k=5)
    assert pd.Series([s.date() for s in result.slots["start"]]).value_counts().max() == 3
    assert not violations(slots["start"], starts_of(result), 5, ZONE)


def test_morning_and_afternoon_mix_where_both_exist():
    mornings = [f"2026-11-{d} 10:00" for d in (24, 25, 26)]
    slots = make_slots(mornings + ["2026-11-27 15:00"])
    result = promote_slots(slots, context(), k=2)
    halves = {s.hour >= 12 for s in result.slots["start"]}
    assert halves == {False, True}
    only_mornings = make_slots(mornings)
    assert {s.hour for s in promote_slots(only_mornings, context(), k=2).slots["start"]} == {10}


def test_morning_and_afternoon_are_read_in_the_customer_zone():
    # All three are mornings in London; in Tokyo the last one is 14:00, an afternoon.
    slots = make_slots(["2026-11-24 01:00", "2026-11-25 01:00", "2026-11-26 05:00"])
    customer = context(customer_zone="Asia/Tokyo")
    result = promote_slots(slots, customer, k=2)
    assert ts("2026-11-26 05:00") in starts_of(result)


# ------------------------------------------------------------------------------------------
# Optimality against brute force, pre-filter, greedy
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_cp_sat_matches_brute_force_optimum_and_is_feasible(seed, k):
    slots, ctx = random_instance(seed, n=12)
    table = score_slots(slots, ctx)
    result = promote_slots(slots, ctx, k=k)
    assert result.status == "OPTIMAL"
    chosen = starts_of(result)
    assert not violations(slots["start"], chosen, k, ctx.display_zone)
    assert round(result.objective * 1000) == brute_force_best(table, k, ctx.display_zone)


@pytest.mark.parametrize("seed", range(5))
def test_prefilter_keeps_the_optimum(seed):
    slots, ctx = random_instance(seed, n=40)
    table = score_slots(slots, ctx)
    k = 3
    cap = day_cap(table.groupby("local_day").size().to_numpy(), k)
    kept = prefilter(table, k, cap)
    assert len(kept) < len(table)
    full = solve(build_model(table, k))
    filtered = solve(build_model(kept, k, cap))
    assert full.solver_status == filtered.solver_status == "OPTIMAL"
    assert full.objective == filtered.objective


def test_cp_sat_beats_greedy_on_a_mix_trap():
    # k=2, two days. Greedy takes Tuesday morning (best), then must add an afternoon on
    # another day: only Wednesday's weak afternoon is left. The optimum takes Tuesday afternoon
    # and Wednesday morning.
    slots = make_slots(
        ["2026-11-24 10:00", "2026-11-24 14:00", "2026-11-25 09:00", "2026-11-25 16:30"],
    )
    ctx = context()
    table = score_slots(slots, ctx).sort_values("start")
    # Sanity: the scores have the trap's order (Tue am > Tue pm > Wed am > Wed pm).
    assert list(table["points"].rank(ascending=False).astype(int)) == [1, 2, 3, 4]
    positions, mixed = greedy_select(table, 2)
    greedy_points = int(table["points"].iloc[list(positions)].sum())
    assert mixed
    best = brute_force_best(table, 2, ZONE)
    assert greedy_points < best
    result = promote_slots(slots, ctx, k=2)
    assert result.status == "OPTIMAL"
    assert round(result.objective * 1000) == best
    assert starts_of(result) == [ts("2026-11-24 14:00"), ts("2026-11-25 09:00")]


# ------------------------------------------------------------------------------------------
# Determinism
# ------------------------------------------------------------------------------------------


def test_same_input_same_output_regardless_of_row_order():
    slots, ctx = random_instance(3, n=40)
    first = promote_slots(slots, ctx, k=5)
    again = promote_slots(slots, ctx, k=5)
    pd.testing.assert_frame_equal(first.slots, again.slots)
    shuffled = slots.sample(frac=1.0, random_state=7)
    assert starts_of(promote_slots(shuffled, ctx, k=5)) == starts_of(first)


def test_many_equal_slots_give_a_stable_choice():
    # Every slot scores the same: any choice is optimal, the solver must still repeat itself.
    slots = make_slots([f"2026-11-{d} {h}:00" for d in (24, 25, 26, 27) for h in (10, 11, 14, 15)])
    ctx = context(now=datetime(2026, 11, 23, tzinfo=UTC))
    weights = PromoteWeights(soonness=0)
    choices = {tuple(starts_of(promote_slots(slots, ctx, k=3, weights=weights))) for _ in range(3)}
    assert len(choices) == 1
