"""Property tests for panels (k of n), strict rotation and per-person limits against the oracle.

Every way of asking is covered: the raw tables, :class:`planner.OrgTables` (with decoy
resources) and :class:`planner.OrgGrid` with its per-shape cache (cold, filled by the plain
request, hit again, too small to hold the rows, off).

The instances are those of ``test_properties`` (zones with DST changes, odd offsets, split and
overnight hours, overrides, buffers, notice) with larger pools, a ``k`` per pool, rotating
pools, and limits on meetings and meeting minutes per local day and week over random meetings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from planner.index import OrgTables
from planner.teams.limits import LIMIT_COLUMNS
from tests.planner.helpers import UTC, Tables
from tests.planner.oracle import Oracle
from tests.planner.test_index import with_decoys
from tests.planner.test_properties import ANCHORS, SETTINGS, SMALL, ZONES, engine_rows, oracle_rows, resource


@st.composite
def team_instances(draw) -> tuple[Tables, planner.SlotRequest, pd.DataFrame, pd.DataFrame]:
    first = draw(st.sampled_from(ANCHORS)) + dt.timedelta(days=draw(st.integers(-2, 1)))
    last = first + dt.timedelta(days=draw(st.integers(0, 2)))
    tables = Tables()
    members = [f"m{i}" for i in range(draw(st.integers(0, 1)))]
    pools = [[f"p{i}{j}" for j in range(draw(st.integers(1, 5)))] for i in range(draw(st.integers(1, 2)))]
    rooms = [f"r{i}" for i in range(draw(st.integers(0, 2)))]
    # Half the time the team shares a zone and long hours, so that panels often have k free.
    shared = draw(st.one_of(st.none(), st.sampled_from(ZONES)))
    for rid in members + [m for pool in pools for m in pool]:
        if shared is None:
            draw(resource(rid, "member", first, last, tables))
            continue
        tables.member(rid, shared, windows=(draw(st.sampled_from([(0, 1440), (360, 1320), (480, 1080)])),))
        origin = pd.Timestamp(first, tz="UTC")
        for _ in range(draw(st.integers(0, 4))):
            a = origin + pd.Timedelta(minutes=draw(st.integers(-600, ((last - first).days + 2) * 1440)))
            tables.block(rid, a, a + pd.Timedelta(minutes=draw(st.integers(1, 600))))
    for rid in rooms:
        draw(resource(rid, "room", first, last, tables))
    everyone = members + [m for pool in pools for m in pool] + rooms
    # Limits on some resources, meetings around the frame (a week either side reaches the
    # neighbouring local weeks).
    limited = draw(st.lists(st.sampled_from(everyone), unique=True, max_size=len(everyone)))
    caps = st.one_of(st.none(), st.integers(0, 3))
    minute_caps = st.one_of(st.none(), st.sampled_from([0, 30, 60, 90, 120, 240, 480]))
    limit_rows = []
    for rid in limited:
        row = {"resource_id": rid}
        for col in LIMIT_COLUMNS:
            row[col] = draw(minute_caps if "minutes" in col else caps)
        limit_rows.append(row)
    limits = pd.DataFrame(limit_rows, columns=["resource_id", *LIMIT_COLUMNS]).astype(
        {c: "Int64" for c in LIMIT_COLUMNS}
    )
    origin = pd.Timestamp(first, tz="UTC")
    meeting_rows = []
    for rid in limited:
        for _ in range(draw(st.integers(0, 4))):
            a = origin + pd.Timedelta(minutes=draw(st.integers(-8 * 1440, (last - first).days * 1440 + 8 * 1440)))
            meeting_rows.append((rid, a, a + pd.Timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60, 90])))))
    meetings = pd.DataFrame(
        {
            "resource_id": pd.array([m[0] for m in meeting_rows], dtype="str"),
            "start": pd.DatetimeIndex([m[1] for m in meeting_rows], dtype="datetime64[ns, UTC]"),
            "end": pd.DatetimeIndex([m[2] for m in meeting_rows], dtype="datetime64[ns, UTC]"),
        }
    )
    request = planner.SlotRequest(
        members=tuple(members),
        pools=tuple(tuple(p) for p in pools),
        pool_k=tuple(draw(st.integers(1, len(p))) for p in pools),
        pool_turns=tuple(draw(st.booleans()) for _ in pools),
        rooms=tuple(rooms),
        min_capacity=draw(st.integers(1, 5)),
        duration=pd.Timedelta(minutes=draw(st.sampled_from([5, 15, 30, 45, 60, 90]))),
        buffer_before=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 5, 7, 15]))),
        buffer_after=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 5, 10, 13]))),
        minimum_notice=pd.Timedelta(minutes=draw(st.sampled_from([0, 0, 240, 1440]))),
        interval=pd.Timedelta(minutes=draw(st.sampled_from([5, 15, 30, 45, 60]))),
        frame_start=first,
        frame_end=last,
        zone=draw(st.sampled_from(ZONES)),
        now=dt.datetime.combine(first, dt.time(), tzinfo=UTC) + dt.timedelta(minutes=draw(st.integers(-2880, 2880))),
    )
    return tables, request, limits, meetings


@SETTINGS
@given(team_instances())
def test_panels_turns_and_limits_match_the_oracle(instance) -> None:
    tables, request, limits, meetings = instance
    frames = tables.frames()
    expected = oracle_rows(Oracle(*frames, limits=limits, meetings=meetings), request)
    lim = planner.Limits(limits, meetings)
    assert engine_rows(planner.find_slots(request, *frames, limits=lim)) == expected
    assert planner.count_slots(request, *frames, limits=lim) == len(expected)


@SETTINGS
@given(team_instances(), st.integers(-3, 1), st.integers(0, 5))
def test_org_grid_with_panels_and_limits_matches_the_oracle(instance, start_shift: int, extra_days: int) -> None:
    tables, request, limits, meetings = instance
    frames = tables.frames()
    start = pd.Timestamp(request.frame_start, tz="UTC") + pd.Timedelta(days=start_shift)
    end = max(pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=extra_days), start + pd.Timedelta(days=1))
    grid = planner.OrgGrid.build(*frames, start=start, end=end)
    expected = oracle_rows(Oracle(*frames, limits=limits, meetings=meetings), request)
    lim = planner.Limits(limits, meetings)
    assert engine_rows(grid.find_slots(request, limits=lim)) == expected
    assert grid.count_slots(request, limits=lim) == len(expected)


@SETTINGS
@given(team_instances(), st.randoms(use_true_random=False))
def test_check_slot_with_panels_and_limits_matches_the_oracle(instance, rnd) -> None:
    tables, request, limits, meetings = instance
    frames = tables.frames()
    oracle = Oracle(*frames, limits=limits, meetings=meetings)
    lim = planner.Limits(limits, meetings)
    candidates = oracle.candidates(request)
    available = {s.start: s for s in oracle.slots(request)}
    picks = rnd.sample(candidates, min(6, len(candidates))) + rnd.sample(sorted(available), min(3, len(available)))
    for start in picks:
        check = planner.check_slot(request, *frames, start=pd.Timestamp(start), limits=lim)
        assert check.available == (start in available), check.reason
        if check.available:
            assert check.pool_members == available[start].pool_members
            assert check.rooms == available[start].rooms


@SMALL
@given(team_instances(), st.randoms(use_true_random=False))
def test_org_tables_with_panels_turns_and_limits_match_the_oracle(instance, rnd) -> None:
    tables, request, limits, meetings = instance
    oracle = Oracle(*tables.frames(), limits=limits, meetings=meetings)
    expected = oracle_rows(oracle, request)
    available = {s.start: s for s in oracle.slots(request)}
    candidates = oracle.candidates(request)
    with_decoys(tables, request, rnd)
    org = OrgTables.load(*tables.frames())
    lim = planner.Limits(limits, meetings)
    assert engine_rows(org.find_slots(request, limits=lim)) == expected
    assert org.count_slots(request, limits=lim) == len(expected)
    for start in rnd.sample(candidates, min(4, len(candidates))) + sorted(available)[:2]:
        check = org.check_slot(request, start=pd.Timestamp(start), limits=lim)
        assert check.available == (start in available), check.reason
        if check.available:
            assert (check.pool_members, check.rooms) == (available[start].pool_members, available[start].rooms)


@SETTINGS
@given(team_instances(), st.sampled_from([0, 1, 2**40]))
def test_grid_cache_with_panels_turns_and_limits_equals_the_cold_result(instance, cache_bytes: int) -> None:
    """The per-shape cache filled by the plain request serves the team request, hit after hit."""
    tables, request, limits, meetings = instance
    frames = tables.frames()
    start = pd.Timestamp(request.frame_start, tz="UTC") - pd.Timedelta(days=2)
    end = pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=3)
    grid = planner.OrgGrid.build(*frames, start=start, end=end, cache_bytes=cache_bytes)
    lim = planner.Limits(limits, meetings)
    plain = dataclasses.replace(request, pool_k=(), pool_turns=())
    assert engine_rows(grid.find_slots(plain)) == engine_rows(planner.find_slots(plain, *frames))
    expected = oracle_rows(Oracle(*frames, limits=limits, meetings=meetings), request)
    assert engine_rows(grid.find_slots(request, limits=lim)) == expected  # rows cached by the plain request
    assert engine_rows(grid.find_slots(request, limits=lim)) == expected  # hit
    assert grid.count_slots(request, limits=lim) == len(expected)
    assert grid.cache_nbytes <= cache_bytes
    # The cached rows are the query's copies: limits and panels leave them as they were.
    assert engine_rows(grid.find_slots(plain)) == engine_rows(planner.find_slots(plain, *frames))
    assert grid.count_slots(request) == planner.count_slots(request, *frames)


def _two_of_three() -> tuple[Tables, planner.SlotRequest]:
    tables = Tables()
    for m in ("a", "b", "c"):
        tables.member(m, "Europe/London", windows=((540, 720),))
    tables.block("a", "2026-11-02 09:00", "2026-11-02 10:00")
    tables.block("b", "2026-11-02 09:30", "2026-11-02 11:00")
    request = planner.SlotRequest(
        members=(), pools=(("a", "b", "c"),), pool_k=(2,), duration=pd.Timedelta(minutes=30),
        frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 2), zone="Europe/London",
        now=dt.datetime(2026, 11, 1, tzinfo=UTC), interval=pd.Timedelta(minutes=30),
    )
    return tables, request


def test_a_panel_needs_k_members_free() -> None:
    tables, request = _two_of_three()
    starts = [t.strftime("%H:%M") for t in tables.starts(request)]
    # 09:00: b and c; 09:30: only c (a busy until 10:00, b from 09:30); 10:00, 10:30: a and c.
    assert starts == ["09:00", "10:00", "10:30", "11:00", "11:30"]
    check = planner.check_slot(request, *tables.frames(), start=pd.Timestamp("2026-11-02 09:30", tz="UTC"))
    assert not check.available
    assert "only 1 of pool 0" in check.reason and "2 needed" in check.reason


def test_limits_make_a_required_member_unavailable_and_say_why() -> None:
    tables = Tables().member("a", "America/New_York", windows=((540, 1020),))
    request = planner.SlotRequest(
        members=("a",), duration=pd.Timedelta(minutes=60), frame_start=dt.date(2026, 11, 2),
        frame_end=dt.date(2026, 11, 3), zone="America/New_York", now=dt.datetime(2026, 11, 1, tzinfo=UTC),
        interval=pd.Timedelta(minutes=60),
    )
    meetings = pd.DataFrame({"resource_id": ["a"], "start": [pd.Timestamp("2026-11-02 10:00", tz="America/New_York")],
                             "end": [pd.Timestamp("2026-11-02 11:00", tz="America/New_York")]})  # fmt: skip
    meetings["start"] = meetings["start"].dt.tz_convert("UTC")
    meetings["end"] = meetings["end"].dt.tz_convert("UTC")
    limits = planner.Limits(pd.DataFrame({"resource_id": ["a"], "max_meetings_day": [1]}), meetings)
    days = {t.tz_convert("America/New_York").date() for t in planner.find_slots(request, *tables.frames(),
                                                                                 limits=limits)["start"]}  # fmt: skip
    assert days == {dt.date(2026, 11, 3)}
    check = planner.check_slot(request, *tables.frames(), limits=limits,
                               start=pd.Timestamp("2026-11-02 14:00", tz="America/New_York"))  # fmt: skip
    assert not check.available
    assert "limit of 1 meetings per day" in check.reason and "America/New_York" in check.reason


@pytest.mark.parametrize("pair_limit", [0, 10**9], ids=["bit rows", "per start"])
def test_a_pool_member_past_a_day_limit_is_off_that_day_only_on_both_stages(pair_limit: int) -> None:
    """A day's run of starts is blocked up to its last start and no further: on a 5-minute grid
    the next day's first start is one quantum after it."""
    from unittest import mock

    from planner import slots

    tables = Tables().member("p", "UTC", windows=((0, 1440),))
    request = planner.SlotRequest(
        members=(), pools=(("p",),), duration=pd.Timedelta(minutes=5), interval=pd.Timedelta(minutes=5),
        frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 3), zone="UTC",
        now=dt.datetime(2026, 11, 1, tzinfo=UTC),
    )
    meetings = pd.DataFrame({"resource_id": ["p"], "start": [pd.Timestamp("2026-11-02 08:00", tz="UTC")],
                             "end": [pd.Timestamp("2026-11-02 08:30", tz="UTC")]})  # fmt: skip
    limits = planner.Limits(pd.DataFrame({"resource_id": ["p"], "max_meetings_day": [1]}), meetings)
    with mock.patch.object(slots, "PAIR_LIMIT", pair_limit):
        found = planner.find_slots(request, *tables.frames(), limits=limits)
    tuesday = pd.date_range("2026-11-03 00:00", "2026-11-03 23:55", freq="5min", tz="UTC", unit="ns")
    assert list(found["start"]) == list(tuesday)


@pytest.mark.parametrize("pair_limit", [0, 10**9], ids=["bit rows", "per start"])
def test_a_single_free_start_is_found_whole_on_both_stages(pair_limit: int) -> None:
    from unittest import mock

    from planner import slots

    tables = Tables().member("a", "UTC", windows=((540, 600),)).member("p", "UTC").room("r", "UTC", 4)
    request = planner.SlotRequest(
        members=("a",), pools=(("p",),), rooms=("r",), duration=pd.Timedelta(minutes=60),
        frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 2), zone="UTC",
        now=dt.datetime(2026, 11, 1, tzinfo=UTC), interval=pd.Timedelta(minutes=30),
    )
    with mock.patch.object(slots, "PAIR_LIMIT", pair_limit):
        found = planner.find_slots(request, *tables.frames())
    utc = "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(found, pd.DataFrame({
        "start": pd.Series([pd.Timestamp("2026-11-02 09:00", tz="UTC")], dtype=utc),
        "end": pd.Series([pd.Timestamp("2026-11-02 10:00", tz="UTC")], dtype=utc),
        "members": pd.Series([("a",)], dtype=object),
        "pool_members": pd.Series([(("p",),)], dtype=object),
        "rooms": pd.Series([("r",)], dtype=object),
    }))  # fmt: skip


def test_the_bit_row_stage_lays_out_only_the_quanta_of_the_candidates_windows() -> None:
    from unittest import mock

    from planner import bits, slots
    from planner.tables import prepare

    tables = Tables().member("a", "UTC", windows=((0, 1440),)).member("p", "UTC", windows=((0, 1440),))
    request = planner.SlotRequest(
        members=("a",), pools=(("p",),), duration=pd.Timedelta(minutes=60), interval=pd.Timedelta(minutes=60),
        buffer_before=pd.Timedelta(minutes=10), buffer_after=pd.Timedelta(minutes=20),
        frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 2), zone="UTC",
        now=dt.datetime(2026, 11, 1, tzinfo=UTC),
    )
    with mock.patch.object(slots, "PAIR_LIMIT", 0):
        layout, ev, origin, q = slots.solve_tables(request, prepare(*tables.frames()))
    # Starts 00:00 to 23:00 on a 5-minute quantum, with their buffers: from 23:50 the day before
    # to 00:20 the day after, 24 * 12 + 6 quanta.
    assert (origin, q) == (pd.Timestamp("2026-11-01 23:50", tz="UTC").value, 5 * 60 * 10**9)
    assert ev.final.shape == (bits.n_words(24 * 12 + 6),)
    assert slots._count(ev) == 24


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (pd.DataFrame({"resource_id": ["a", "a"]}), "lists a resource twice"),
        (pd.DataFrame({"resource_id": ["a"], "max_meetings_day": [-1]}), "whole numbers >= 0"),
        (pd.DataFrame({"resource_id": ["a"], "max_hours": [3]}), "unknown columns"),
    ],
)
def test_bad_limits_are_refused_by_name(limits, message) -> None:
    with pytest.raises(planner.PlannerInputError, match=message):
        planner.Limits(limits)


def test_rotation_skips_members_off_for_the_frame() -> None:
    tables = Tables().member("a", "UTC", days=(5, 6)).member("b", "UTC").member("c", "UTC")
    request = planner.SlotRequest(
        members=(), pools=(("a", "b", "c"),), pool_turns=(True,), duration=pd.Timedelta(minutes=30),
        frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 2), zone="UTC",
        now=dt.datetime(2026, 11, 1, tzinfo=UTC),
    )
    slots = tables.find(request)
    # a works only at weekends: off for this Monday, so it is b's turn, and only b counts.
    assert set(slots["pool_members"]) == {(("b",),)}
    tables.block("b", "2026-11-02 00:00", "2026-11-03 00:00")
    assert tables.find(request).empty  # b is on duty but busy: c does not stand in


@SETTINGS
@given(st.sampled_from(ZONES), st.lists(st.integers(0, 400 * 86_400), min_size=1, max_size=300))
def test_day_runs_give_each_instants_local_day(zone, seconds) -> None:
    """Limits look days up per run of starts; the runs give every instant its own local day."""
    import numpy as np

    from planner.teams.limits import _day_runs, _day_week

    t = np.sort((np.array(seconds, dtype=np.int64) + 1_767_225_600) * 10**9)  # from 2026-01-01, over DST changes
    days, lengths = _day_runs(t, zone)
    assert np.array_equal(np.repeat(days, lengths), _day_week(t, zone)[0])


@SETTINGS
@given(team_instances(), st.sampled_from([0, 1, 10**9]), st.randoms(use_true_random=False))
def test_both_stages_of_the_cold_path_match_the_oracle(instance, pair_limit: int, rnd) -> None:
    """Pool members and rooms checked per surviving start, or laid out as bit rows (the pair limit
    decides), give the oracle's slots, with panels, rotation and limits."""
    from unittest import mock

    from planner import slots

    tables, request, limits, meetings = instance
    expected = oracle_rows(Oracle(*tables.frames(), limits=limits, meetings=meetings), request)
    lim = planner.Limits(limits, meetings)
    with mock.patch.object(slots, "PAIR_LIMIT", pair_limit):
        assert engine_rows(planner.find_slots(request, *tables.frames(), limits=lim)) == expected
        with_decoys(tables, request, rnd)
        org = OrgTables.load(*tables.frames())
        assert engine_rows(org.find_slots(request, limits=lim)) == expected
        assert org.count_slots(request, limits=lim) == len(expected)


@SMALL
@given(team_instances(), st.integers(-3, 1), st.integers(0, 5))
def test_limit_masks_kept_on_the_grid_equal_fresh_ones(instance, start_shift: int, extra_days: int) -> None:
    """The grid's kept masks of one Limits object answer like a fresh Limits object, also after
    busy time changes."""
    tables, request, limits, meetings = instance
    frames = tables.frames()
    start = pd.Timestamp(request.frame_start, tz="UTC") + pd.Timedelta(days=start_shift)
    end = max(pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=extra_days), start + pd.Timedelta(days=1))
    grid = planner.OrgGrid.build(*frames, start=start, end=end)
    kept = planner.Limits(limits, meetings)
    for _ in range(2):
        assert engine_rows(grid.find_slots(request, limits=kept)) == engine_rows(
            grid.find_slots(request, limits=planner.Limits(limits, meetings)))
        assert grid.count_slots(request, limits=kept) == grid.count_slots(request, limits=planner.Limits(limits, meetings))
        member = (request.members + tuple(m for p in request.pools for m in p) + request.rooms)[0]
        grid.add_busy(member, start + pd.Timedelta(hours=10), start + pd.Timedelta(hours=11))
    assert grid.cache_nbytes >= 0
