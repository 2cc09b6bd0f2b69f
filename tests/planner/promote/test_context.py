"""The checks of the slot table and the context: each bad input is named."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from planner.errors import PlannerInputError
from planner.promote import promote_slots
from tests.planner.promote.helpers import context, intervals, make_slots


def test_missing_columns_are_named():
    slots = make_slots(["2026-11-24 10:00"]).drop(columns=["rooms", "members"])
    with pytest.raises(PlannerInputError, match=r"missing columns \['members', 'rooms'\]"):
        promote_slots(slots, context())


def test_naive_slot_datetimes_are_rejected():
    slots = make_slots(["2026-11-24 10:00"])
    slots["start"] = slots["start"].dt.tz_localize(None)
    with pytest.raises(PlannerInputError, match="'start' holds naive datetimes"):
        promote_slots(slots, context())


def test_naive_now_is_rejected():
    with pytest.raises(PlannerInputError, match="now=.* must be a tz-aware datetime"):
        promote_slots(make_slots(["2026-11-24 10:00"]), context(now=datetime(2026, 11, 23)))


def test_naive_other_promoted_is_rejected():
    other = intervals([("m1", "2026-11-24 10:00", "2026-11-24 11:00")])
    other["start"] = other["start"].dt.tz_localize(None)
    with pytest.raises(PlannerInputError, match="other_promoted column 'start' holds naive"):
        promote_slots(make_slots(["2026-11-24 10:00"]), context(other_promoted=other))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": "Mars/Olympus"}, "zone='Mars/Olympus' is not a known IANA zone"),
        ({"customer_zone": "Nowhere"}, "customer_zone='Nowhere' is not a known IANA zone"),
        ({"customer_hours": (1020, 540)}, "customer_hours=.* must be"),
        ({"customer_weekdays": (7,)}, "customer_weekdays=.* must hold weekdays"),
        ({"min_capacity": 0}, "min_capacity=0 must be an int >= 1"),
        ({"meeting_counts": {"m1": -2}}, r"meeting_counts\['m1'\]=-2"),
    ],
)
def test_bad_context_values_are_named(kwargs, message):
    with pytest.raises(PlannerInputError, match=message):
        promote_slots(make_slots(["2026-11-24 10:00", "2026-11-25 10:00"]), context(**kwargs), k=1)


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("rooms", [["r1"], ["r1"]], "'rooms' must hold tuples"),
        ("members", ["m1", "m1"], "'members' must hold tuples of resource ids"),
        ("pool_members", [(("a",),), (("a",), ("b",))], "different number of pools"),
        ("pool_members", [(("a",),), ((),)], "a pool with no free member"),
    ],
)
def test_malformed_slot_columns_are_named(column, values, message):
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"])
    slots[column] = pd.Series(values, dtype=object)
    with pytest.raises(PlannerInputError, match=message):
        promote_slots(slots, context(), k=1)


def test_duplicate_index_labels_are_rejected():
    slots = make_slots(["2026-11-24 10:00", "2026-11-25 10:00"])
    slots.index = [0, 0]
    with pytest.raises(PlannerInputError, match="duplicate index label"):
        promote_slots(slots, context(), k=1)
