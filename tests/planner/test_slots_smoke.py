"""Engine vs oracle on synthetic organisations (quick end-to-end check)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import planner
from tests.planner.oracle import Oracle

ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_find_slots_matches_oracle_on_synthetic_organisation(seed: int) -> None:
    org = planner.generate_organisation(10, 4, dt.date(2026, 10, 19), 21, seed=seed, zones=ZONES)
    members = org.member_ids
    request = planner.SlotRequest(
        members=(members[0],),
        pools=(org.pool_members("p0"),),
        rooms=tuple(org.room_ids),
        min_capacity=4,
        duration=pd.Timedelta(minutes=45),
        buffer_before=pd.Timedelta(minutes=10),
        buffer_after=pd.Timedelta(minutes=5),
        minimum_notice=pd.Timedelta(hours=4),
        interval=pd.Timedelta(minutes=15),
        frame_start=dt.date(2026, 10, 22),
        frame_end=dt.date(2026, 11, 4),
        zone="America/New_York",
        now=dt.datetime(2026, 10, 22, 13, 7, tzinfo=dt.UTC),
    )
    got = planner.find_slots(request, org.resources, org.hours, org.busy, org.overrides)
    want = Oracle(org.resources, org.hours, org.busy, org.overrides).slots(request)
    assert len(want) > 0
    assert [t.to_pydatetime() for t in got["start"]] == [s.start for s in want]
    assert list(got["pool_members"]) == [s.pool_members for s in want]
    assert list(got["rooms"]) == [s.rooms for s in want]
    assert planner.count_slots(request, org.resources, org.hours, org.busy, org.overrides) == len(want)
    first = planner.check_slot(request, org.resources, org.hours, org.busy, org.overrides, start=got["start"].iloc[0])
    assert first.available and first.reason is None
    assert first.pool_members == want[0].pool_members and first.rooms == want[0].rooms
