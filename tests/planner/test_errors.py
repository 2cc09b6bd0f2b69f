"""Bad inputs raise PlannerInputError (a ValueError) saying what to fix."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import numpy as np
import pandas as pd
import pytest

import planner
from planner.slots import check_slot_in, count_slots_in, find_slots_in
from planner.tables import prepare
from tests.planner.helpers import UTC, Tables, request

DAY = dt.date(2026, 11, 2)


def base_kwargs() -> dict:
    return dict(
        members=("a",),
        duration=pd.Timedelta(minutes=30),
        frame_start=DAY,
        frame_end=DAY,
        zone="UTC",
        now=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_error_is_a_value_error() -> None:
    assert issubclass(planner.PlannerInputError, ValueError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"zone": "Mars/Olympus_Mons"}, "not an IANA time zone"),
        ({"zone": ""}, "IANA zone name"),
        ({"frame_end": DAY - dt.timedelta(days=1)}, "before frame_start"),
        ({"frame_start": dt.datetime(2026, 11, 2)}, "datetime.date"),
        ({"duration": pd.Timedelta(hours=25)}, "longer than the frame"),
        ({"duration": pd.Timedelta(0)}, "duration must be positive"),
        ({"duration": pd.Timedelta(seconds=90)}, "whole number of minutes"),
        ({"duration": "soon"}, "duration must be a duration"),
        ({"interval": pd.Timedelta(minutes=7)}, "must divide 24 hours"),
        ({"interval": pd.Timedelta(minutes=25)}, "must divide 24 hours"),
        ({"buffer_before": pd.Timedelta(minutes=-5)}, "buffer_before must not be negative"),
        ({"buffer_after": pd.Timedelta(minutes=-1)}, "buffer_after must not be negative"),
        ({"minimum_notice": pd.Timedelta(minutes=-1)}, "minimum_notice must not be negative"),
        ({"now": dt.datetime(2026, 1, 1)}, "tz-aware"),
        ({"now": "2026-01-01"}, "tz-aware datetime"),
        ({"members": "a"}, "not the single string"),
        ({"members": ("a", "a")}, "lists a resource twice"),
        ({"members": (1,)}, "str(id)"),
        ({"pools": (("a",), ())}, "pools[1] is empty"),
        ({"min_capacity": 0}, "min_capacity must be an int >= 1"),
    ],
)
def test_bad_request_fields(change: dict, message: str) -> None:
    with pytest.raises(planner.PlannerInputError) as info:
        planner.SlotRequest(**{**base_kwargs(), **change})
    assert message in str(info.value)


def test_duration_longer_than_a_short_dst_frame() -> None:
    # 2026-03-08 in New York has 23 hours.
    with pytest.raises(planner.PlannerInputError, match="longer than the frame"):
        planner.SlotRequest(**{**base_kwargs(), "zone": "America/New_York", "frame_start": dt.date(2026, 3, 8),
                               "frame_end": dt.date(2026, 3, 8), "duration": pd.Timedelta(hours=23, minutes=30)})  # fmt: skip


def frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return Tables().member("a", "UTC").room("r", "UTC", 4).block("a", "2026-11-02 10:00", "2026-11-02 11:00").frames()


#: The three questions a request can ask of the tables, each refusing bad input the same way.
ASKS = (planner.find_slots, planner.count_slots,
        functools.partial(planner.check_slot, start=pd.Timestamp("2026-11-02 10:00", tz="UTC")))


@pytest.mark.parametrize(
    ("members", "pools", "rooms", "message"),
    [
        (("r",), (), (), "members names 'r', which is a room, not a member"),
        (("a",), (("a",), ("r",)), (), "pools[1] names 'r', which is a room, not a member"),
        (("a",), (), ("a",), "rooms names 'a', which is a member, not a room"),
    ],
)
def test_a_resource_of_the_wrong_kind_is_named_where_the_request_lists_it(members, pools, rooms, message) -> None:
    req = request(members, pools=pools, rooms=rooms)
    for ask in ASKS:
        with pytest.raises(planner.PlannerInputError) as info:
            ask(req, *frames())
        assert str(info.value) == message


@pytest.mark.parametrize(
    ("members", "pools", "rooms", "message"),
    [
        (("zz",), (), (), "members names 'zz', which is not in resources"),
        (("a",), (("a",), ("zz",)), (), "pools[1] names 'zz', which is not in resources"),
        (("a",), (), ("zz",), "rooms names 'zz', which is not in resources"),
    ],
)
def test_an_unknown_resource_is_named_where_the_request_lists_it(members, pools, rooms, message) -> None:
    req = request(members, pools=pools, rooms=rooms)
    with pytest.raises(planner.PlannerInputError) as info:
        planner.find_slots(req, *frames())
    assert str(info.value) == "resource 'zz' is not in resources; add it or remove it from the request"
    start = pd.Timestamp("2026-11-01", tz="UTC")
    grid = planner.OrgGrid.build(*frames(), start=start, end=start + pd.Timedelta(days=7))
    with pytest.raises(planner.PlannerInputError) as info:
        grid.find_slots(req)
    assert str(info.value) == message


@pytest.mark.parametrize("turns", [False, True])
@pytest.mark.parametrize(
    "ask",
    [find_slots_in, count_slots_in, functools.partial(check_slot_in, start=pd.Timestamp("2026-11-02 10:00", tz="UTC"))],
)
def test_prepared_tables_without_a_resource_of_the_request_are_refused(ask, turns: bool) -> None:
    """Tables a loader prepared itself must hold every resource the request names; a rotating
    pool's turn is worked out before the layout, so it must not meet a missing member first."""
    tables = prepare(*frames())
    req = dataclasses.replace(request(("a",), pools=(("a", "zz"),)), pool_turns=(turns,))
    with pytest.raises(planner.PlannerInputError) as info:
        ask(req, tables)
    assert str(info.value) == "resource 'zz' is not in resources; add it or remove it from the request"


def test_bad_tables() -> None:
    resources, hours, busy, overrides = frames()
    req = request(("a",))
    bad_zone = resources.assign(zone=["Europe/Atlantis", "UTC"])
    with pytest.raises(planner.PlannerInputError, match="'Europe/Atlantis' is not an IANA time zone"):
        planner.find_slots(req, bad_zone, hours, busy, overrides)
    naive = busy.assign(start=busy["start"].dt.tz_localize(None), end=busy["end"].dt.tz_localize(None))
    with pytest.raises(planner.PlannerInputError, match="naive datetimes"):
        planner.find_slots(req, resources, hours, naive, overrides)
    reversed_busy = busy.assign(start=busy["end"], end=busy["start"])
    with pytest.raises(planner.PlannerInputError, match="ends before it starts"):
        planner.find_slots(req, resources, hours, reversed_busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="start < end <= start \\+ 1440"):
        planner.find_slots(req, resources, hours.assign(end=hours["start"]), busy, overrides)
    with pytest.raises(planner.PlannerInputError, match=r"\[0, 1440\)"):
        planner.find_slots(req, resources, hours.assign(start=1440, end=1500), busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="weekday must be 0"):
        planner.find_slots(req, resources, hours.assign(weekday=7), busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="missing column"):
        planner.find_slots(req, resources, hours.drop(columns=["weekday"]), busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="must be unique"):
        planner.find_slots(req, pd.concat([resources, resources]), hours, busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="'member' or 'room'"):
        planner.find_slots(req, resources.assign(kind=["person", "room"]), hours, busy, overrides)
    with pytest.raises(planner.PlannerInputError, match="must be a pandas DataFrame"):
        planner.find_slots(req, resources.to_dict(), hours, busy, overrides)


def test_bad_overrides() -> None:
    resources, hours, busy, _ = frames()
    req = request(("a",))
    half = pd.DataFrame({"resource_id": ["a"], "date": [DAY], "start": pd.array([600], dtype="Int64"),
                         "end": pd.array([None], dtype="Int64")})  # fmt: skip
    with pytest.raises(planner.PlannerInputError, match="both start and end, or neither"):
        planner.find_slots(req, resources, hours, busy, half)
    stamp = half.assign(date=[pd.Timestamp(DAY)], end=pd.array([660], dtype="Int64"))
    with pytest.raises(planner.PlannerInputError, match="datetime.date"):
        planner.find_slots(req, resources, hours, busy, stamp)


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (dt.datetime(2026, 11, 2, 10), "start must be tz-aware, got naive datetime.datetime(2026, 11, 2, 10, 0)"),
        ("2026-11-02 10:00+00:00", "start must be a tz-aware datetime, got '2026-11-02 10:00+00:00'"),
        (dt.date(2026, 11, 2), "start must be a tz-aware datetime, got datetime.date(2026, 11, 2)"),
    ],
)
def test_check_slot_needs_an_aware_start(start, message: str) -> None:
    with pytest.raises(planner.PlannerInputError) as info:
        planner.check_slot(request(("a",)), *frames(), start=start)
    assert str(info.value) == message


def test_request_must_be_a_slot_request() -> None:
    for ask in ASKS:
        with pytest.raises(planner.PlannerInputError) as info:
            ask({"members": ("a",)}, *frames())
        assert str(info.value) == "request must be a planner.SlotRequest, got dict"


def test_limits_must_be_limits_or_none() -> None:
    for ask in ASKS:
        with pytest.raises(planner.PlannerInputError) as info:
            ask(request(("a",)), *frames(), limits=pd.DataFrame({"resource_id": ["a"], "max_meetings_day": [1]}))
        assert str(info.value) == "limits must be a planner.Limits (or None), got DataFrame"


def test_grid_arguments() -> None:
    resources, hours, busy, overrides = frames()
    start = pd.Timestamp("2026-11-02", tz="UTC")
    with pytest.raises(planner.PlannerInputError, match="naive"):
        planner.build_grid(resources, hours, busy, overrides, start=pd.Timestamp("2026-11-02"), end=start)
    with pytest.raises(planner.PlannerInputError, match="must be after start"):
        planner.build_grid(resources, hours, busy, overrides, start=start, end=start)
    with pytest.raises(planner.PlannerInputError, match="dividing 24 hours"):
        planner.build_grid(resources, hours, busy, overrides, start=start, end=start + pd.Timedelta(days=1),
                           quantum="7min")  # fmt: skip


@pytest.mark.parametrize("walls", [np.zeros(0, np.int64), np.array([29_000_000], np.int64)])
def test_a_wrong_side_is_refused_whatever_the_input(walls):
    from planner.zones import wall_to_utc, wall_to_utc_zones

    with pytest.raises(planner.PlannerInputError, match="side must be 'start' or 'end', got 'middle'"):
        wall_to_utc(walls, "Europe/London", side="middle")
    with pytest.raises(planner.PlannerInputError, match="side must be 'start' or 'end', got 'middle'"):
        wall_to_utc_zones(walls, np.zeros(walls.size, np.int64), ("Europe/London",), side="middle")
