"""The score parts: room and weight checks, each part deciding the answer, local-time quality,
and the input's time resolution and zone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import PlannerInputError
from planner.promote import (
    PromoteContext,
    PromoteWeights,
    contention_claims,
    local_time_quality,
    promote_slots,
    score_slots,
)
from tests.planner.promote.helpers import (
    context,
    intervals,
    make_slots,
    random_instance,
    starts_of,
    ts,
)

# ------------------------------------------------------------------------------------------
# Validation at the boundary
# ------------------------------------------------------------------------------------------


def test_unknown_room_capacity_is_named():
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"], rooms=[("r1",), ("r9",)])
    with pytest.raises(PlannerInputError, match=r"no capacity for rooms \['r9'\]"):
        promote_slots(slots, context(room_capacities={"r1": 4}), k=1)


def test_room_capacities_without_listed_rooms_are_ignored():
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"])
    table = score_slots(slots, context(room_capacities={"r1": 2}, min_capacity=6))
    assert (table["f_room"] == 0).all()


def test_rooms_listed_but_none_adequate_is_named():
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"], rooms=[("r1",), ("r1",)])
    with pytest.raises(PlannerInputError, match="no room in room_capacities holds min_capacity=6"):
        promote_slots(slots, context(room_capacities={"r1": 2}, min_capacity=6), k=1)


def test_bad_weights_are_named():
    with pytest.raises(PlannerInputError, match="weight soonness=-1"):
        PromoteWeights(soonness=-1)
    with pytest.raises(PlannerInputError, match="soonness_half_life"):
        PromoteWeights(soonness_half_life=pd.Timedelta(0))


# ------------------------------------------------------------------------------------------
# Each score part decides the answer
# ------------------------------------------------------------------------------------------


def test_local_time_decides_against_an_earlier_slot_at_dawn():
    slots = make_slots(["2026-11-24 06:00", "2026-11-24 10:00"])
    assert starts_of(promote_slots(slots, context(), k=1)) == [ts("2026-11-24 10:00")]
    off = PromoteWeights(local_time=0)
    assert starts_of(promote_slots(slots, context(), k=1, weights=off)) == [ts("2026-11-24 06:00")]


def test_customer_zone_is_used_when_known_else_the_invitation_zone():
    # 09:00 UTC is 10:00 in Berlin but 04:00 in New York; 15:00 UTC is 16:00 / 10:00.
    slots = make_slots(["2026-11-24 09:00", "2026-11-24 15:00"])
    berlin = context(zone="Europe/Berlin")
    assert starts_of(promote_slots(slots, berlin, k=1)) == [ts("2026-11-24 09:00")]
    customer = context(zone="Europe/Berlin", customer_zone="America/New_York")
    assert starts_of(promote_slots(slots, customer, k=1)) == [ts("2026-11-24 15:00")]


def test_soonness_decides_between_equal_slots():
    slots = make_slots(["2026-11-26 10:00", "2026-11-24 10:00", "2026-11-25 10:00"])
    result = promote_slots(slots, context(), k=1)
    assert starts_of(result) == [ts("2026-11-24 10:00")]
    assert result.slots["soonness"].iloc[0] == pytest.approx(0.5 ** (34 / 48), abs=1e-3)


def test_soonness_never_beats_customer_hours():
    # Today 07:00 (one hour early) against inside-hours a week later.
    slots = make_slots(["2026-11-23 07:00", "2026-11-30 10:00"])
    assert starts_of(promote_slots(slots, context(), k=1)) == [ts("2026-11-30 10:00")]


def test_fairness_prefers_the_less_booked_likely_assignee():
    slots = make_slots(
        ["2026-12-07 10:00", "2026-12-08 10:00"],
        members=(),
        pool_members=[(("busy_bee",),), (("busy_bee", "idle"),)],
    )
    counts = {"busy_bee": 6, "idle": 1}
    result = promote_slots(slots, context(meeting_counts=counts), k=1)
    assert starts_of(result) == [ts("2026-12-08 10:00")]
    assert result.slots["fairness"].iloc[0] == pytest.approx(1.0)
    assert "least-booked pool member free" in result.slots["reason"].iloc[0]
    equal = {"busy_bee": 1, "idle": 1}
    assert starts_of(promote_slots(slots, context(meeting_counts=equal), k=1)) == [ts("2026-12-07 10:00")]


def test_room_prefers_slots_where_the_smallest_adequate_room_is_free():
    slots = make_slots(
        ["2026-11-24 10:00", "2026-11-25 10:00", "2026-11-26 10:00"],
        rooms=[("hall",), ("tiny", "small"), ("small", "hall")],
    )
    capacities = {"tiny": 2, "small": 4, "hall": 40}
    # Needs 3 seats: "tiny" is not adequate, "small" is the smallest adequate room.
    table = score_slots(slots, context(room_capacities=capacities, min_capacity=3))
    np.testing.assert_allclose(table["f_room"], [4 / 40, 1.0, 1.0])
    result = promote_slots(slots, context(room_capacities=capacities, min_capacity=3), k=1)
    assert starts_of(result) == [ts("2026-11-25 10:00")]
    assert starts_of(promote_slots(slots, context(), k=1)) == [ts("2026-11-24 10:00")]


def test_contention_avoids_times_promoted_to_other_customers():
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"])
    other = intervals([("m1", "2026-11-24 10:30", "2026-11-24 11:30")])
    result = promote_slots(slots, context(other_promoted=other), k=1)
    assert starts_of(result) == [ts("2026-11-25 10:00")]
    assert "offered to no other customer" in result.slots["reason"].iloc[0]
    # Touching (half-open) and other resources' claims do not count.
    harmless = intervals(
        [("m1", "2026-11-24 11:00", "2026-11-24 12:00"), ("m2", "2026-11-24 10:00", "2026-11-24 11:00")]
    )
    assert starts_of(promote_slots(slots, context(other_promoted=harmless), k=1)) == [ts("2026-11-24 10:00")]


def test_contention_pressure_is_expected_occupancy():
    slots = make_slots(
        ["2026-11-24 10:00"],
        members=("m1",),
        pool_members=[(("p1", "p2"),)],
        rooms=[("r1", "r2", "r3", "r4")],
    )
    other = intervals(
        [
            ("m1", "2026-11-24 09:30", "2026-11-24 10:30"),
            ("p1", "2026-11-24 10:00", "2026-11-24 11:00"),
            ("r1", "2026-11-24 10:45", "2026-11-24 12:00"),
            ("r2", "2026-11-24 10:45", "2026-11-24 12:00"),
        ],
        demand=[1.0, 0.5, 0.5, 1.0],
    )
    table = score_slots(slots, context(other_promoted=other))
    # m1: 1; pool: mean(0.5, 0) = 0.25; rooms: mean(0.5, 1, 0, 0) = 0.375.
    assert table["f_contention"].iloc[0] == pytest.approx(1.625)
    assert table["contention"].iloc[0] == pytest.approx(-2 * 1.625)


def test_contention_claims_spread_demand_over_alternatives():
    promoted = make_slots(
        ["2026-11-24 10:00"], members=("m1",), pool_members=[(("p1", "p2"),)], rooms=[("r1", "r2")]
    )
    claims = contention_claims(promoted)
    assert dict(zip(claims["resource_id"], claims["demand"], strict=True)) == {
        "m1": 1.0,
        "p1": 0.5,
        "p2": 0.5,
        "r1": 0.5,
        "r2": 0.5,
    }
    assert (claims["start"] == ts("2026-11-24 10:00")).all()


def test_calendar_shape_prefers_slots_next_to_busy_time():
    slots = make_slots(["2026-11-24 12:00", "2026-11-25 10:00"])
    busy = intervals(
        [
            ("m1", "2026-11-24 08:00", "2026-11-24 09:00"),  # 12:00 would split 09:00-17:00
            ("m1", "2026-11-25 09:00", "2026-11-25 10:00"),  # 10:00 follows a meeting
            ("m2", "2026-11-24 11:00", "2026-11-24 12:00"),  # not an involved member
        ]
    )
    table = score_slots(slots, context(busy=busy))
    np.testing.assert_allclose(table["f_calendar_shape"], [0.0, 1.0])
    assert starts_of(promote_slots(slots, context(busy=busy), k=1)) == [ts("2026-11-25 10:00")]
    assert starts_of(promote_slots(slots, context(), k=1)) == [ts("2026-11-24 12:00")]


def test_calendar_shape_counts_the_pool_assignee_and_decays_with_the_gap():
    slots = make_slots(["2026-11-24 10:00"], members=(), pool_members=[(("a", "b"),)])
    busy = intervals(
        [("a", "2026-11-24 08:00", "2026-11-24 09:00"), ("b", "2026-11-24 11:00", "2026-11-24 12:00")]
    )
    # "a" has fewer meetings, so "a" is the likely assignee: gap 60 min, 45 beyond tolerance.
    table = score_slots(slots, context(busy=busy, meeting_counts={"a": 0, "b": 3}))
    assert table["assignees"].iloc[0] == ("a",)
    assert table["f_calendar_shape"].iloc[0] == pytest.approx(1 - 45 / 120)


# ------------------------------------------------------------------------------------------
# Local-time quality
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "zone", "expected"),
    [
        ("2026-11-24 10:00", 60, "UTC", 1.0),
        ("2026-11-24 08:00", 60, "UTC", 0.5),  # one hour early
        ("2026-11-24 16:30", 60, "UTC", 0.75),  # ends 30 minutes late
        ("2026-11-24 03:00", 60, "UTC", -1.0),  # night
        ("2026-11-24 23:30", 60, "UTC", -1.0),  # crosses midnight: late, not early
        ("2026-11-28 10:00", 60, "UTC", 0.0),  # Saturday: at best neutral
        ("2026-11-24 03:30", 60, "Asia/Kolkata", 1.0),  # 09:00 IST
        ("2026-11-24 03:15", 60, "Asia/Kathmandu", 1.0),  # 09:00 NPT
        ("2026-11-24 03:00", 60, "Asia/Kolkata", 0.75),  # 08:30 IST
        ("2026-03-30 13:00", 60, "America/New_York", 1.0),  # 09:00 EDT after DST
        ("2026-02-02 13:00", 60, "America/New_York", 0.5),  # 08:00 EST before DST
    ],
)
def test_local_time_quality(start, minutes, zone, expected):
    s = pd.Series([ts(start)])
    q = local_time_quality(s, s + pd.Timedelta(minutes=minutes), zone)
    assert q[0] == pytest.approx(expected)


# ------------------------------------------------------------------------------------------
# Time resolution and zone of the input
# ------------------------------------------------------------------------------------------


def test_time_resolution_and_zone_of_the_input_do_not_matter():
    slots, ctx = random_instance(2, n=30)
    expected = promote_slots(slots, ctx, k=4)
    other = slots.assign(
        start=slots["start"].astype("datetime64[us, UTC]").dt.tz_convert("Asia/Tokyo"),
        end=slots["end"].astype("datetime64[s, UTC]"),
    )
    busy = ctx.busy.assign(start=ctx.busy["start"].astype("datetime64[ms, UTC]"))
    got = promote_slots(other, PromoteContext(**{**vars(ctx), "busy": busy}), k=4)
    assert [s.tz_convert("UTC") for s in got.slots["start"]] == starts_of(expected)
    np.testing.assert_allclose(got.slots["score"], expected.slots["score"])
