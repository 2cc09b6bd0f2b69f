"""planner.promote on the engine's real output: slots from find_slots on a synthetic organisation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import planner
from planner import PromoteContext, SlotRequest, contention_claims, promote_slots


@pytest.fixture(scope="module")
def org():
    return planner.generate_organisation(
        n_members=8, n_rooms=3, start_date=dt.date(2026, 11, 23), days=21, seed=5
    )


def request_for(org, now: dt.datetime) -> SlotRequest:
    pool = org.pool_members(sorted(org.pools["pool_id"].unique())[0])
    return SlotRequest(
        members=(),
        pools=(pool,),
        rooms=tuple(org.room_ids),
        min_capacity=2,
        duration=pd.Timedelta(minutes=45),
        interval=pd.Timedelta(minutes=15),
        frame_start=dt.date(2026, 11, 23),
        frame_end=dt.date(2026, 12, 4),
        zone="Europe/London",
        now=now,
    )


def test_promoted_slots_are_available_slots_of_the_request(org):
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    request = request_for(org, now)
    slots = planner.find_slots(request, org.resources, org.hours, org.busy, org.overrides)
    assert len(slots) > 5
    capacities = {
        r: int(c)
        for r, c in org.resources.set_index("resource_id").loc[list(org.room_ids), "capacity"].items()
    }
    context = PromoteContext(
        zone=request.zone,
        now=now,
        customer_zone="America/New_York",
        room_capacities=capacities,
        min_capacity=2,
        busy=org.busy,
    )
    result = promote_slots(slots, context)
    assert result.status == "OPTIMAL"
    assert len(result.slots) == 5
    # Every promoted row is one of the engine's rows, unchanged, and still checks as available.
    pd.testing.assert_frame_equal(result.slots[list(slots.columns)], slots.loc[result.slots.index])
    for start in result.slots["start"]:
        check = planner.check_slot(request, org.resources, org.hours, org.busy, org.overrides, start=start)
        assert check.available, check.reason

    # A second invitation on the same resources avoids the first one's promoted times
    # whenever it has equally good alternatives: no promoted time is shared.
    second = promote_slots(
        slots,
        PromoteContext(
            zone=request.zone,
            now=now,
            customer_zone="America/New_York",
            room_capacities=capacities,
            min_capacity=2,
            busy=org.busy,
            other_promoted=contention_claims(result.slots),
        ),
    )
    assert set(second.slots["start"]).isdisjoint(result.slots["start"])
