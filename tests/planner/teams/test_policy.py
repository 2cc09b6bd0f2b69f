"""Assignment policies: pooled, strict round robin, weighted; the sentences that explain them."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import PlannerInputError
from planner.teams import PoolState, choose, turn_order


def test_turn_order_rotates_after_the_last_member_and_puts_owed_members_first() -> None:
    assert turn_order(("1", "2", "3"), None) == ("1", "2", "3")
    assert turn_order(("1", "2", "3"), "2") == ("3", "1", "2")
    assert turn_order(("1", "2", "3"), "9") == ("1", "2", "3")  # left the pool: from the start
    assert turn_order(("1", "2", "3"), "1", owed=("3", "9")) == ("3", "2", "1")


def test_pooled_takes_the_fewest_meetings_then_the_pool_order() -> None:
    state = PoolState(members=("1", "2", "3"), counts={"1": 2, "2": 0, "3": 0}, names={"2": "Bo"})
    choice = choose("pooled", ["3", "1", "2"], 1, state)
    assert choice.members == ("2",)
    assert choice.explanation == "assigned by pooled availability: Bo (fewest meetings in the frame: Bo 0)"
    assert choose("pooled", ["1", "2", "3"], 2, state).members == ("2", "3")


def test_round_robin_takes_the_turn_in_rotation_order() -> None:
    state = PoolState(members=("1", "2", "3"))
    assert choose("round_robin", ["3", "2"], 2, state).members == ("2", "3")
    assert "strict round robin" in choose("round_robin", ["3"], 1, state).explanation


def test_weighted_explains_share_against_weight() -> None:
    state = PoolState(members=("a", "b"), weights={"a": 3, "b": 7}, counts={"a": 3, "b": 6}, names={"a": "Ana"})
    choice = choose("weighted", ["a", "b"], 1, state)
    # Targets after this booking (10 in all): a 3, b 7; b is one short.
    assert choice.members == ("b",)
    assert choice.explanation == "assigned by weighted round robin: b, 70% of bookings against a 70% weight"


def test_weighted_ties_go_to_priority_then_least_recently_booked() -> None:
    base = dict(members=("a", "b", "c"), counts={"a": 1, "b": 1, "c": 1})
    assert choose("weighted", ["a", "b", "c"], 1, PoolState(**base, priorities={"c": 2})).members == ("c",)
    recent = PoolState(**base, last_booked={"a": 30, "b": 10, "c": 20})
    assert choose("weighted", ["a", "b", "c"], 1, recent).members == ("b",)
    never = PoolState(**base, last_booked={"a": 30, "b": 10})
    assert choose("weighted", ["a", "b", "c"], 1, never).members == ("c",)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=5).filter(lambda w: sum(w) > 0),
    st.integers(1, 3),
    st.integers(0, 2**32),
)
def test_weighted_shares_approach_the_weights(weights, k, seed) -> None:
    """Over many bookings, with a member busy now and then, each share tends to its weight share.

    With k members per booking no member can have more than 1/k of the assignments, so the
    weights are capped there first (a share above 1/k is out of reach for any policy).
    """
    members = tuple(f"m{i}" for i in range(len(weights)))
    k = min(k, len(members) - 1) or 1
    if max(weights) / sum(weights) > 1 / k:
        k = 1
    counts = {m: 0 for m in members}
    last: dict[str, int] = {}
    rnd = random.Random(seed)
    for step in range(300):
        busy = rnd.randrange(20)  # one member busy for one booking in four at most
        free = [m for i, m in enumerate(members) if i != busy]
        state = PoolState(members=members, weights=dict(zip(members, weights, strict=True)), counts=counts,
                          last_booked=last)  # fmt: skip
        for m in choose("weighted", free, k, state).members:
            counts[m] += 1
            last[m] = step
    total = sum(counts.values())
    for m, w in zip(members, weights, strict=True):
        assert abs(counts[m] / total - w / sum(weights)) <= 0.1, (counts, weights, k)


def test_bad_policy_and_too_few_free_are_refused() -> None:
    with pytest.raises(PlannerInputError, match="policy must be one of"):
        choose("random", ["a"], 1, PoolState(members=("a",)))
    with pytest.raises(PlannerInputError, match="2 members are needed but only 1"):
        choose("pooled", ["a"], 2, PoolState(members=("a", "b")))
