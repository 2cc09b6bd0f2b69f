"""Free capacity: meetings packed greedily on hand-built organisations."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from planner.analytics import free_capacity, pack_meetings
from tests.planner.analytics.helpers import MON, TEAM, make_tables, request

# --- free capacity ------------------------------------------------------------------------


def test_pack_meetings_with_buffers_on_one_member():
    # Hour meetings with a 15-minute buffer after, every 15 minutes: 09:00, 10:15 before the
    # 12:00 busy hour, then 13:00, 14:15, 15:30 (16:45 would end after 17:00).
    req = request(buffer_after=pd.Timedelta(minutes=15), interval=pd.Timedelta(minutes=15),
                  frame_end=MON + dt.timedelta(days=1))
    packed = pack_meetings(TEAM, req)
    assert [t.strftime("%H:%M") for t in packed["start"]] == ["09:00", "10:15", "13:00", "14:15", "15:30"]
    assert set(packed["resources"]) == {("ann",)}
    assert free_capacity(TEAM, req).values.tolist() == [[MON, 5], [MON + dt.timedelta(days=1), 0]]


def test_pack_meetings_runs_pool_members_side_by_side():
    twins = make_tables(
        resources=[("p", "member", "Europe/London", 1), ("q", "member", "Europe/London", 1)],
        hours=[("p", 0, 540, 660), ("q", 0, 540, 660)],  # both 09-11
    )
    req = request(members=(), pools=(("p", "q"),))
    packed = pack_meetings(twins, req)
    assert [(t.hour, r) for t, r in zip(packed["start"], packed["resources"], strict=True)] == [
        (9, ("p",)), (9, ("q",)), (10, ("p",)), (10, ("q",)),
    ]
    assert free_capacity(twins, req)["meetings"].tolist() == [4]


def test_pack_meetings_takes_the_smallest_room_that_fits():
    req = request(members=(), rooms=("green", "blue", "tiny"), min_capacity=4,
                  frame_start=MON, frame_end=MON)
    packed = pack_meetings(TEAM, req)
    # Green is free 08-18 (10 meetings), blue too except 09-10 (9 meetings); tiny is too small.
    assert len(packed) == 19
    # When both are free, the smaller blue room goes first.
    assert pack_meetings(TEAM, req, limit=3)["resources"].tolist() == [("blue",), ("green",), ("green",)]
    assert free_capacity(TEAM, req)["meetings"].tolist() == [19]
