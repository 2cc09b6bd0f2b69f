"""Property tests: the engine agrees with the brute-force oracle on random instances.

Instances mix zones with DST changes (New York, London, St John's, Lord Howe's
half-hour shift, Auckland, Havana's midnight changes) and fixed odd offsets
(Kolkata +5:30, Kathmandu +5:45), frames that cross DST changes, random
working hours (split, crossing midnight, inside DST gaps), overrides, busy
blocks with minute-level edges, buffers (including ones that are not a
multiple of 5 minutes), notice, pools and rooms.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from tests.planner.helpers import UTC, Tables
from tests.planner.oracle import Oracle

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Pacific/Auckland",
    "America/Havana",
    "UTC",
)
# DST changes of 2026 in those zones.
ANCHORS = tuple(
    dt.date(2026, m, d) for m, d in ((3, 8), (3, 29), (4, 5), (9, 27), (10, 4), (10, 25), (11, 1))
)
# A bounded, reproducible run by default; PLANNER_EXAMPLES=500 explores more
# (with fresh random examples) when changing the engine.
EXAMPLES = int(os.environ.get("PLANNER_EXAMPLES", "0")) or None
SETTINGS = settings(
    max_examples=EXAMPLES or 30,
    deadline=None,
    derandomize=EXAMPLES is None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SMALL = settings(SETTINGS, max_examples=EXAMPLES or 20)

minutes_of_day = st.one_of(
    st.sampled_from([0, 60, 90, 120, 150, 480, 540, 570, 600, 1320, 1380]),
    st.integers(0, 1439),
)
window_lengths = st.one_of(st.sampled_from([30, 60, 120, 180, 240, 480, 1440]), st.integers(1, 1440))


@st.composite
def resource(draw, rid: str, kind: str, first: dt.date, last: dt.date, tables: Tables) -> None:
    zone = draw(st.sampled_from(ZONES))
    capacity = draw(st.integers(1, 8)) if kind == "room" else 1
    tables.resources.append((rid, kind, zone, capacity))
    # Mostly long windows, so that resources in different zones overlap, plus
    # random short ones (split shifts, DST gaps, crossing midnight).
    broad = draw(st.tuples(st.sampled_from([0, 0, 60, 120, 360, 480, 540, 1320]),
                           st.sampled_from([600, 720, 960, 1200, 1440, 1440])))  # fmt: skip
    every_day = draw(st.booleans()) or draw(st.booleans())
    for weekday in range(7):
        windows = draw(st.lists(st.tuples(minutes_of_day, window_lengths), max_size=2 if every_day else 3))
        if every_day:
            windows.append(broad)
        for start, length in windows:
            tables.hours.append((rid, weekday, start, start + length))
    for _ in range(draw(st.integers(0, 2))):
        day = first + dt.timedelta(days=draw(st.integers(-1, (last - first).days + 1)))
        if draw(st.booleans()):
            tables.override(rid, day)
        else:
            start, length = draw(minutes_of_day), draw(window_lengths)
            tables.override(rid, day, start, start + length)
    origin = pd.Timestamp(first, tz="UTC")
    span = ((last - first).days + 3) * 1440
    for _ in range(draw(st.integers(0, 5))):
        a = draw(st.integers(-1440, span))
        b = a + draw(st.one_of(st.integers(1, 240), st.sampled_from([15, 30, 60, 1440])))
        tables.block(rid, origin + pd.Timedelta(minutes=a), origin + pd.Timedelta(minutes=b))


@st.composite
def instances(draw) -> tuple[Tables, planner.SlotRequest]:
    first = draw(st.sampled_from(ANCHORS)) + dt.timedelta(days=draw(st.integers(-2, 1)))
    last = first + dt.timedelta(days=draw(st.integers(0, 2)))
    tables = Tables()
    members = [f"m{i}" for i in range(draw(st.integers(0, 2)))]
    pools = [[f"p{i}{j}" for j in range(draw(st.integers(1, 3)))] for i in range(draw(st.integers(0, 2)))]
    rooms = [f"r{i}" for i in range(draw(st.integers(0, 3)))]
    for rid in members + [m for pool in pools for m in pool]:
        draw(resource(rid, "member", first, last, tables))
    for rid in rooms:
        draw(resource(rid, "room", first, last, tables))
    request = planner.SlotRequest(
        members=tuple(members),
        pools=tuple(tuple(p) for p in pools),
        rooms=tuple(rooms),
        min_capacity=draw(st.integers(1, 5)),
        duration=pd.Timedelta(minutes=draw(st.sampled_from([5, 7, 10, 15, 30, 45, 60, 90, 120]))),
        buffer_before=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 5, 7, 10, 15, 30]))),
        buffer_after=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10, 13, 15]))),
        minimum_notice=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 30, 240, 1440]))),
        interval=pd.Timedelta(minutes=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60, 90, 180]))),
        frame_start=first,
        frame_end=last,
        zone=draw(st.sampled_from(ZONES)),
        now=dt.datetime.combine(first, dt.time(), tzinfo=UTC) + dt.timedelta(minutes=draw(st.integers(-2880, 2880))),
    )
    return tables, request


def oracle_rows(oracle: Oracle, request: planner.SlotRequest) -> list[tuple]:
    return [(s.start, s.pool_members, s.rooms) for s in oracle.slots(request)]


def engine_rows(slots: pd.DataFrame) -> list[tuple]:
    return [(t.to_pydatetime(), p, r) for t, p, r in zip(slots["start"], slots["pool_members"], slots["rooms"], strict=True)]


@SETTINGS
@given(instances())
def test_find_and_count_match_the_oracle(instance) -> None:
    tables, request = instance
    frames = tables.frames()
    expected = oracle_rows(Oracle(*frames), request)
    assert engine_rows(planner.find_slots(request, *frames)) == expected
    assert planner.count_slots(request, *frames) == len(expected)


@SETTINGS
@given(instances(), st.integers(-3, 1), st.integers(0, 5))
def test_org_grid_matches_the_oracle(instance, start_shift: int, extra_days: int) -> None:
    # Horizons that cover the frame and horizons that cut it (cold fallback).
    tables, request = instance
    frames = tables.frames()
    start = pd.Timestamp(request.frame_start, tz="UTC") + pd.Timedelta(days=start_shift)
    end = max(pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=extra_days), start + pd.Timedelta(days=1))
    grid = planner.OrgGrid.build(*frames, start=start, end=end)
    expected = oracle_rows(Oracle(*frames), request)
    assert engine_rows(grid.find_slots(request)) == expected
    assert grid.count_slots(request) == len(expected)


@SETTINGS
@given(instances(), st.randoms(use_true_random=False))
def test_check_slot_matches_the_oracle(instance, rnd) -> None:
    tables, request = instance
    frames = tables.frames()
    oracle = Oracle(*frames)
    candidates = oracle.candidates(request)
    available = {s.start: s for s in oracle.slots(request)}
    picks = rnd.sample(candidates, min(6, len(candidates))) + rnd.sample(sorted(available), min(3, len(available)))
    for start in picks:
        check = planner.check_slot(request, *frames, start=pd.Timestamp(start))
        assert check.available == (start in available), check.reason
        if check.available:
            assert check.pool_members == available[start].pool_members
            assert check.rooms == available[start].rooms
    # Off-grid starts are never available.
    if candidates:
        off = pd.Timestamp(candidates[0]) + pd.Timedelta(minutes=1)
        if off.to_pydatetime() not in set(candidates):
            assert not planner.check_slot(request, *frames, start=off).available


@SMALL
@given(instances(), st.sampled_from([1, 5, 15]))
def test_grid_cells_match_their_definition(instance, quantum_minutes: int) -> None:
    """in_hours: quantum entirely inside the merged windows; busy: any busy minute in it."""
    tables, request = instance
    frames = tables.frames()
    if not tables.resources:
        return
    start = pd.Timestamp(request.frame_start, tz="UTC")
    end = start + pd.Timedelta(days=1)
    grid = planner.build_grid(*frames, start=start, end=end, quantum=pd.Timedelta(minutes=quantum_minutes))
    oracle = Oracle(*frames)
    first, last = request.frame_start - dt.timedelta(days=1), request.frame_end + dt.timedelta(days=1)
    step = dt.timedelta(minutes=quantum_minutes)
    cells = [t.to_pydatetime() for t in grid.index]
    for row, rid in enumerate(grid.resource_ids):
        in_hours = [oracle.in_hours(rid, t, t + step, first, last) for t in cells]
        busy = [not oracle.free(rid, t, t + step) for t in cells]
        assert grid.in_hours[row].tolist() == in_hours
        assert grid.busy[row].tolist() == busy
    assert np.array_equal(grid.free, grid.in_hours & ~grid.busy)


@SMALL
@given(instances(), st.data())
def test_incremental_updates_equal_a_rebuild(instance, data) -> None:
    tables, request = instance
    if not tables.resources:
        return
    resources, hours, busy, overrides = tables.frames()
    horizon = dict(start=pd.Timestamp(request.frame_start, tz="UTC") - pd.Timedelta(days=1),
                   end=pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=2))  # fmt: skip
    grid = planner.OrgGrid.build(resources, hours, busy, overrides, **horizon)
    current = list(busy.itertuples(index=False))
    ids = resources["resource_id"].tolist()
    base = horizon["start"]
    for _ in range(data.draw(st.integers(1, 8))):
        if current and data.draw(st.booleans()):
            victim = current.pop(data.draw(st.integers(0, len(current) - 1)))
            grid.remove_busy(victim.resource_id, victim.start, victim.end)
        else:
            rid = data.draw(st.sampled_from(ids))
            a = base + pd.Timedelta(minutes=data.draw(st.integers(-600, 5 * 1440)))
            b = a + pd.Timedelta(minutes=data.draw(st.integers(1, 300)))
            grid.add_busy(rid, a, b)
            current.append(type(current[0])(rid, a, b) if current else _Row(rid, a, b))
    rebuilt_busy = pd.DataFrame(
        {
            "resource_id": pd.array([c.resource_id for c in current], dtype="str"),
            "start": pd.DatetimeIndex([c.start for c in current], dtype="datetime64[ns, UTC]"),
            "end": pd.DatetimeIndex([c.end for c in current], dtype="datetime64[ns, UTC]"),
        }
    )
    rebuilt = planner.OrgGrid.build(resources, hours, rebuilt_busy, overrides, **horizon)
    assert np.array_equal(grid.availability().busy, rebuilt.availability().busy)
    assert np.array_equal(grid.availability().in_hours, rebuilt.availability().in_hours)
    assert engine_rows(grid.find_slots(request)) == engine_rows(planner.find_slots(request, resources, hours,
                                                                                   rebuilt_busy, overrides))  # fmt: skip


class _Row(tuple):
    """(resource_id, start, end) with attribute access, like an itertuples row."""

    def __new__(cls, resource_id, start, end):
        return super().__new__(cls, (resource_id, start, end))

    resource_id = property(lambda self: self[0])
    start = property(lambda self: self[1])
    end = property(lambda self: self[2])
