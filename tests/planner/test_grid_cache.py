"""The organisation grid's fast paths answer exactly like the cold path.

* the per-shape cache: a repeated shape (cache hit), other fields changed (now, notice, frame,
  resources), busy time added or removed between queries (the row's cached entries dropped),
  a cache too small for every row (evictions);
* the chunked build: any chunk size gives the same two layers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from tests.planner.helpers import Tables, request
from tests.planner.oracle import Oracle
from tests.planner.test_properties import SETTINGS, SMALL, engine_rows, instances, oracle_rows

START = pd.Timestamp("2026-11-02", tz="UTC")


def horizon(request: planner.SlotRequest) -> dict:
    return {
        "start": pd.Timestamp(request.frame_start, tz="UTC") - pd.Timedelta(days=2),
        "end": pd.Timestamp(request.frame_end, tz="UTC") + pd.Timedelta(days=3),
    }


@SETTINGS
@given(instances(), st.integers(-600, 600), st.sampled_from([0, 30, 240]), st.sampled_from([0, 1, 2**40]))
def test_cache_hits_equal_the_cold_result(instance, shift: int, notice: int, cache_bytes: int) -> None:
    tables, request = instance
    frames = tables.frames()
    grid = planner.OrgGrid.build(*frames, **horizon(request), cache_bytes=cache_bytes)
    expected = oracle_rows(Oracle(*frames), request)
    assert engine_rows(grid.find_slots(request)) == expected  # miss: fills the cache
    assert engine_rows(grid.find_slots(request)) == expected  # hit
    assert grid.count_slots(request) == len(expected)
    assert grid.cache_nbytes <= cache_bytes
    # Same shape, other fields: now and notice move, the frame shrinks, a pool or room is dropped.
    other = dataclasses.replace(
        request, now=request.now + dt.timedelta(minutes=shift), minimum_notice=pd.Timedelta(minutes=notice)
    )
    assert engine_rows(grid.find_slots(other)) == engine_rows(planner.find_slots(other, *frames))
    if request.pools:
        fewer = dataclasses.replace(request, pools=request.pools[1:])
        assert grid.count_slots(fewer) == planner.count_slots(fewer, *frames)
    if request.rooms:
        fewer = dataclasses.replace(request, rooms=request.rooms[:-1])
        assert grid.count_slots(fewer) == planner.count_slots(fewer, *frames)


@SMALL
@given(instances(), st.data())
def test_cache_follows_added_and_removed_busy_time(instance, data) -> None:
    tables, request = instance
    if not tables.resources:
        return
    resources, hours, busy, overrides = tables.frames()
    grid = planner.OrgGrid.build(resources, hours, busy, overrides, **horizon(request))
    grid.find_slots(request)  # cache every row of the request
    blocks = [tuple(b) for b in busy[["resource_id", "start", "end"]].itertuples(index=False)]
    ids = resources["resource_id"].tolist()
    base = pd.Timestamp(request.frame_start, tz="UTC")
    for _ in range(data.draw(st.integers(1, 4))):
        if blocks and data.draw(st.booleans()):
            rid, a, b = blocks.pop(data.draw(st.integers(0, len(blocks) - 1)))
            grid.remove_busy(rid, a, b)
        else:
            rid = data.draw(st.sampled_from(ids))
            a = base + pd.Timedelta(minutes=data.draw(st.integers(-600, 3 * 1440)))
            b = a + pd.Timedelta(minutes=data.draw(st.integers(1, 300)))
            grid.add_busy(rid, a, b)
            blocks.append((rid, a, b))
        current = pd.DataFrame(
            {
                "resource_id": pd.array([r for r, _, _ in blocks], dtype="str"),
                "start": pd.DatetimeIndex([a for _, a, _ in blocks], dtype="datetime64[ns, UTC]"),
                "end": pd.DatetimeIndex([b for _, _, b in blocks], dtype="datetime64[ns, UTC]"),
            }
        )
        cold = planner.find_slots(request, resources, hours, current, overrides)
        assert engine_rows(grid.find_slots(request)) == engine_rows(cold)


@SMALL
@given(instances(), st.integers(1, 4), st.integers(1, 3))
def test_chunked_build_equals_one_chunk(instance, chunk: int, workers: int) -> None:
    tables, request = instance
    if not tables.resources:
        return
    frames = tables.frames()
    whole = planner.OrgGrid.build(*frames, **horizon(request), chunk=10_000, workers=1).availability()
    parts = planner.OrgGrid.build(*frames, **horizon(request), chunk=chunk, workers=workers).availability()
    assert np.array_equal(whole.in_hours_bits, parts.in_hours_bits)
    assert np.array_equal(whole.busy_bits, parts.busy_bits)
    flat = planner.build_grid(*frames, **horizon(request))
    assert np.array_equal(whole.in_hours, flat.in_hours) and np.array_equal(whole.busy, flat.busy)


def test_chunks_built_in_threads_equal_one_thread_on_an_organisation(monkeypatch) -> None:
    from planner import grid

    monkeypatch.setattr(grid, "_THREADED_BUILD_WORDS", 0)  # the default takes threads for this grid too
    org = planner.generate_organisation(300, 40, dt.date(2026, 10, 19), 28, seed=9)
    frames = (org.resources, org.hours, org.busy, org.overrides)
    span = {"start": pd.Timestamp("2026-10-19", tz="UTC"), "end": pd.Timestamp("2026-11-16", tz="UTC")}
    one = planner.OrgGrid.build(*frames, **span, workers=1).availability()
    for workers, chunk in ((2, 16), (4, 7), (None, 128)):
        threads = planner.OrgGrid.build(*frames, **span, workers=workers, chunk=chunk).availability()
        assert np.array_equal(one.in_hours_bits, threads.in_hours_bits)
        assert np.array_equal(one.busy_bits, threads.busy_bits)


def test_cache_memory_is_bounded_and_reported() -> None:
    org = planner.generate_organisation(40, 8, dt.date(2026, 10, 19), 28, seed=5)
    frames = (org.resources, org.hours, org.busy, org.overrides)
    start = pd.Timestamp("2026-10-19", tz="UTC")
    grid = planner.OrgGrid.build(*frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=0)
    row_bytes = grid.nbytes // (2 * len(org.resources))
    grid = planner.OrgGrid.build(
        *frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=10 * row_bytes
    )
    req = planner.SlotRequest(
        members=("m0000",), pools=(tuple(org.member_ids[1:6]),), rooms=tuple(org.room_ids[:4]), min_capacity=1,
        duration=pd.Timedelta(minutes=30), interval=pd.Timedelta(minutes=15),
        frame_start=dt.date(2026, 10, 20), frame_end=dt.date(2026, 11, 10), zone="Europe/London",
        now=dt.datetime(2026, 10, 19, tzinfo=dt.UTC),
    )  # fmt: skip
    cold = planner.find_slots(req, *frames)
    pd.testing.assert_frame_equal(grid.find_slots(req), cold)  # 10 rows fit: cached
    assert grid.cache_nbytes == 10 * row_bytes
    for minutes in (45, 60, 90):  # other shapes push the older rows out
        other = dataclasses.replace(req, duration=pd.Timedelta(minutes=minutes))
        pd.testing.assert_frame_equal(grid.find_slots(other), planner.find_slots(other, *frames))
        assert grid.cache_nbytes <= 10 * row_bytes
    pd.testing.assert_frame_equal(grid.find_slots(req), cold)
    grid.clear_cache()
    assert grid.cache_nbytes == 0
    pd.testing.assert_frame_equal(grid.find_slots(req), cold)


def test_threads_sharing_a_grid_get_the_cold_answers() -> None:
    import concurrent.futures

    org = planner.generate_organisation(30, 6, dt.date(2026, 10, 19), 28, seed=9)
    frames = (org.resources, org.hours, org.busy, org.overrides)
    start = pd.Timestamp("2026-10-19", tz="UTC")
    # A cache of a few rows, so that threads evict each other's rows all the time.
    grid = planner.OrgGrid.build(*frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=1)
    row_bytes = grid.nbytes // (2 * len(org.resources))
    grid = planner.OrgGrid.build(
        *frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=12 * row_bytes
    )
    requests = [
        planner.SlotRequest(
            members=(org.member_ids[i],), pools=(tuple(org.member_ids[i + 1 : i + 4]),), rooms=tuple(org.room_ids[:3]),
            duration=pd.Timedelta(minutes=minutes), buffer_after=pd.Timedelta(minutes=5),
            interval=pd.Timedelta(minutes=15), frame_start=dt.date(2026, 10, 20), frame_end=dt.date(2026, 11, 6),
            zone="Europe/Berlin", now=dt.datetime(2026, 10, 19, tzinfo=dt.UTC),
        )
        for i in range(6)
        for minutes in (30, 60)
    ]  # fmt: skip
    expected = [planner.count_slots(r, *frames) for r in requests]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for _ in range(5):
            assert list(pool.map(grid.count_slots, requests)) == expected
    assert grid.cache_nbytes <= 12 * row_bytes


def test_a_repeated_shape_reuses_its_candidates_and_rows(monkeypatch) -> None:
    # The cache's point is work not done again: one shape's starts are found once, and its
    # members' rows of "free for this shape" are computed once, however often it is asked.
    from planner import grid as grid_module

    org = planner.generate_organisation(12, 3, dt.date(2026, 10, 19), 14, seed=3)
    frames = (org.resources, org.hours, org.busy, org.overrides)
    start = pd.Timestamp("2026-10-19", tz="UTC")
    grid = planner.OrgGrid.build(*frames, start=start, end=start + pd.Timedelta(days=14))
    calls = {"candidates": 0, "rows": 0}
    real, real_rows = grid_module._candidates, grid_module._ok_rows

    def counted(request):
        calls["candidates"] += 1
        return real(request)

    def counted_rows(in_hours, busy, *shape):
        calls["rows"] += len(in_hours)
        return real_rows(in_hours, busy, *shape)

    monkeypatch.setattr(grid_module, "_candidates", counted)
    monkeypatch.setattr(grid_module, "_ok_rows", counted_rows)
    req = planner.SlotRequest(
        members=tuple(org.member_ids[:1]), pools=(), rooms=(), min_capacity=1, duration=pd.Timedelta(minutes=30),
        interval=pd.Timedelta(minutes=15), frame_start=dt.date(2026, 10, 20), frame_end=dt.date(2026, 10, 30),
        zone="Europe/London", now=dt.datetime(2026, 10, 19, tzinfo=dt.UTC),
    )  # fmt: skip
    first = grid.count_slots(req)
    cached = grid.cache_nbytes
    assert first > 0 and calls == {"candidates": 1, "rows": 1} and cached > 0
    later = dataclasses.replace(req, now=dt.datetime(2026, 10, 21, 12, tzinfo=dt.UTC))  # another "now": same shape
    assert grid.count_slots(later) == planner.count_slots(later, *frames) < first
    assert grid.count_slots(req) == first == planner.count_slots(req, *frames)
    assert calls == {"candidates": 1, "rows": 1} and grid.cache_nbytes == cached


def test_busy_time_added_after_a_query_shows_in_the_next_answer_whoever_it_is_for() -> None:
    # The query caches its members' rows; busy time added to them afterwards, one at a time or
    # several before the next query, must show, and busy time of others must change nothing.
    tables = Tables()
    for rid in "abcde":
        tables.member(rid, "UTC")  # 09:00-17:00
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    req = request(("a", "b", "c"), duration=60, interval=60)
    assert grid.count_slots(req) == 8

    def busy(rid: str, hour: int) -> None:
        grid.add_busy(rid, START + pd.Timedelta(hours=hour), START + pd.Timedelta(hours=hour + 1))

    for rid, hour in (("d", 9), ("e", 10), ("d", 11), ("e", 12)):  # people the query does not involve
        busy(rid, hour)
    assert grid.count_slots(req) == 8
    busy("a", 9)
    _assert_books_balance(grid)  # a's row dropped, and counted as dropped
    assert grid.count_slots(req) == 7
    busy("b", 10)
    busy("c", 11)
    _assert_books_balance(grid)
    assert grid.count_slots(req) == 5
    busy("a", 12)
    busy("b", 13)
    busy("c", 14)
    assert [t.hour for t in grid.find_slots(req)["start"]] == [15, 16]
    _assert_books_balance(grid)


def test_rows_pushed_out_of_a_small_cache_after_busy_time_changed_leave_no_stale_answer() -> None:
    # A cache that holds one query's rows: busy time added, then another shape's query pushes
    # the first one's rows out; busy time added to a row still cached must show all the same.
    tables = Tables()
    for rid in "abcd":
        tables.member(rid, "UTC")  # 09:00-17:00
    frames = tables.frames()
    req = request(("a", "b", "c"), duration=60, interval=60)
    roomy = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1))
    roomy.count_slots(req)
    grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1),
                                 cache_bytes=roomy.cache_nbytes)  # fmt: skip
    assert grid.count_slots(req) == 8 and grid.cache_nbytes == roomy.cache_nbytes
    grid.add_busy("a", START + pd.Timedelta(hours=9), START + pd.Timedelta(hours=10))
    assert grid.count_slots(request(("d",), duration=30, interval=30)) == 16
    grid.add_busy("c", START + pd.Timedelta(hours=11), START + pd.Timedelta(hours=12))
    assert [t.hour for t in grid.find_slots(req)["start"]] == [10, 12, 13, 14, 15, 16]
    assert grid.cache_nbytes <= roomy.cache_nbytes
    _assert_books_balance(grid)


def _rows_computed(monkeypatch) -> list[int]:
    """How many resources' "free for this shape" rows each call of the grid computes, in order."""
    from planner import grid as grid_module

    computed: list[int] = []
    real = grid_module._ok_rows

    def counted(in_hours, busy, *shape):
        computed.append(len(in_hours))
        return real(in_hours, busy, *shape)

    monkeypatch.setattr(grid_module, "_ok_rows", counted)
    return computed


def test_a_full_cache_keeps_as_many_rows_as_fit_and_drops_the_least_recently_used(monkeypatch) -> None:
    tables = Tables()
    for rid in "abcdefghi":
        tables.member(rid, "UTC")
    frames = tables.frames()
    many = request(tuple("abcdefgh"), duration=60, interval=60)
    one = request(("i",), duration=30, interval=30)
    roomy = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1))
    roomy.count_slots(many)
    roomy.count_slots(one)
    row_bytes = roomy.nbytes // (2 * 9)  # one resource's row of one layer
    full = roomy.cache_nbytes  # the nine rows and both queries' starts
    grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1), cache_bytes=full - 1)
    computed = _rows_computed(monkeypatch)
    assert grid.count_slots(many) == 8 and grid.count_slots(one) == 16
    assert grid.cache_nbytes == full - row_bytes  # one row short of room: the oldest is dropped
    assert grid.count_slots(one) == 16 and computed == [8, 1]  # the row just used is kept
    assert grid.count_slots(many) == 8 and computed == [8, 1, 1]  # the dropped one is computed again
    assert grid.cache_nbytes == full - row_bytes
    for hour, rid in enumerate("abcdefgh", start=9):  # each row, cached or dropped, loses one hour
        grid.add_busy(rid, START + pd.Timedelta(hours=hour), START + pd.Timedelta(hours=hour + 1))
    assert grid.count_slots(many) == 0


def test_a_query_whose_rows_would_not_fit_the_cache_computes_none_for_it(monkeypatch) -> None:
    # Rows computed to be cached span the whole horizon; when the query's rows could not all
    # be kept, the grid evaluates only the query's own words instead.
    tables = Tables()
    for rid in "abcdefgh":
        tables.member(rid, "UTC")
    frames = tables.frames()
    roomy = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1))
    row_bytes = roomy.nbytes // (2 * 8)
    grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=1), cache_bytes=row_bytes)
    computed = _rows_computed(monkeypatch)
    assert grid.count_slots(request(tuple("abcdefgh"), duration=60, interval=60)) == 8
    assert computed == [] and grid.cache_nbytes == 0


def test_many_frames_starts_and_rows_together_stay_within_the_bound() -> None:
    """Each frame has starts of its own to keep; with the shape's rows, they never hold more than
    the bound, the newest stay, and every answer is the cold path's."""
    org = planner.generate_organisation(20, 4, dt.date(2026, 10, 19), 28, seed=11)
    frames = (org.resources, org.hours, org.busy, org.overrides)
    start = pd.Timestamp("2026-10-19", tz="UTC")
    grid = planner.OrgGrid.build(*frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=0)
    row_bytes = grid.nbytes // (2 * len(org.resources))
    bound = 20 * row_bytes
    grid = planner.OrgGrid.build(*frames, start=start, end=start + pd.Timedelta(days=28), cache_bytes=bound)
    base = planner.SlotRequest(
        members=(org.member_ids[0],), pools=(tuple(org.member_ids[1:4]),), rooms=(), min_capacity=1,
        duration=pd.Timedelta(minutes=30), interval=pd.Timedelta(minutes=5),
        frame_start=dt.date(2026, 10, 20), frame_end=dt.date(2026, 10, 21), zone="Europe/London",
        now=dt.datetime(2026, 10, 19, tzinfo=dt.UTC),
    )  # fmt: skip
    for day in range(20):
        req = dataclasses.replace(base, frame_start=dt.date(2026, 10, 20) + dt.timedelta(days=day),
                                  frame_end=dt.date(2026, 10, 21) + dt.timedelta(days=day))
        assert grid.count_slots(req) == planner.count_slots(req, *frames), day
        assert 0 < grid.cache_nbytes <= bound, (day, grid.cache_nbytes, bound)
    calls = []
    real = planner.grid._candidates
    try:
        planner.grid._candidates = lambda request: calls.append(request) or real(request)
        assert grid.count_slots(req) == planner.count_slots(req, *frames)  # the newest frame's starts stayed
    finally:
        planner.grid._candidates = real
    assert calls == []


def _eviction(entries: int, rows: int, slack: int, monkeypatch) -> tuple[int, int, list[str], list[int]]:
    """Fill a grid's cache with ``rows`` rows of one shape and ``entries`` frames' candidate starts,
    then ask for one more frame's starts with the bound set ``slack`` bytes above what that takes.

    Returns how many rows and entries of starts were given up for it, whose rows stayed, and the
    rows the last query had to compute again.
    """
    members = tuple("abcdef")
    tables = Tables()
    for rid in members:
        tables.member(rid, "UTC", windows=((0, 1440),))
    frames = tables.frames()
    # Every query has the same shape and frame; a new interval makes a new entry of starts. The
    # later queries use the first member, so its row is the most recently used.
    setup = [request(members[:rows], interval=60)]
    setup += [request(("a",), interval=iv) for iv in (30, 20, 15, 10)[: entries - 1]]
    final = request(("a",), interval=5)

    def filled(cache_bytes: int) -> tuple[planner.OrgGrid, int, list[int]]:
        grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=2), cache_bytes=cache_bytes)
        for req in setup:
            assert grid.count_slots(req) == planner.count_slots(req, *frames)
        used = grid.cache_nbytes
        with monkeypatch.context() as patch:
            computed = _rows_computed(patch)
            assert grid.count_slots(final) == planner.count_slots(final, *frames)
        return grid, used, computed

    roomy, roomy_used, _ = filled(2**30)
    grid, used, computed = filled(roomy.cache_nbytes + slack)
    assert used == roomy_used  # the set-up fit whole: only the last query had to make room
    assert grid.cache_nbytes <= roomy.cache_nbytes + slack
    _assert_books_balance(grid)
    kept = [grid.resource_ids[key[3]] for key in grid._ok_cache]
    intervals = [key[1] // 60_000_000_000 for key in grid._cands]
    return (len(roomy._ok_cache) - len(grid._ok_cache), len(roomy._cands) - len(grid._cands), kept, computed,
            intervals)


def test_starts_whose_windows_leave_the_horizon_are_kept_without_a_row_and_counted_so() -> None:
    # The frame runs a day past the grid's horizon: the starts are kept for the cold path, with no bit row.
    tables = Tables()
    tables.member("a", "UTC")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    req = request(("a",), duration=30, interval=15, last=dt.date(2026, 11, 3))
    assert grid.count_slots(req) == planner.count_slots(req, *tables.frames()) > 0
    (entry,) = grid._cands.values()
    assert entry[-1] is None
    _assert_books_balance(grid)


def _assert_books_balance(grid: planner.OrgGrid) -> None:
    """What the cache counts of itself is what it holds: rows per shape, and bytes of starts."""
    from collections import Counter

    assert grid._ok_shapes == dict(Counter(key[:3] for key in grid._ok_cache))
    # An entry holds its candidate starts, their positions and (when starts were left) their row.
    assert grid._cands_nbytes == sum(cands.nbytes + pos.nbytes + (0 if row is None else row.nbytes)
                                     for cands, _firsts, pos, _lo, _hi, row in grid._cands.values())


@pytest.mark.parametrize(
    ("entries", "rows", "rows_given_up", "entries_given_up", "kept", "computed", "intervals"),
    [
        # One row, one entry: the row goes (and is computed again for the query, then not kept).
        (1, 1, 1, 0, [], [1], [60, 5]),
        # Two entries against four rows: the oldest entry goes.
        (2, 4, 0, 1, ["b", "c", "d", "a"], [], [30, 5]),
        # A fifth row tips it: the least recently used row goes.
        (2, 5, 1, 0, ["c", "d", "e", "a"], [], [60, 30, 5]),
        # Entries outnumber the rows: the oldest entry goes.
        (3, 1, 0, 1, ["a"], [], [30, 20, 5]),
    ],
)
def test_a_full_cache_gives_up_rows_first_while_they_outnumber_the_frames_starts(
    entries, rows, rows_given_up, entries_given_up, kept, computed, intervals, monkeypatch
) -> None:
    """Rows (one per resource and shape, the whole horizon each) are given up first while there are
    fewer entries of starts than a quarter of the rows plus one; otherwise the oldest entry of starts.
    One byte short of room gives up exactly one of them."""
    assert _eviction(entries, rows, -1, monkeypatch) == (
        rows_given_up, entries_given_up, kept, computed, intervals
    )


def test_a_cache_bound_met_exactly_gives_up_nothing(monkeypatch) -> None:
    assert _eviction(1, 1, 0, monkeypatch) == (0, 0, ["a"], [], [60, 5])
    assert _eviction(2, 5, 0, monkeypatch) == (0, 0, ["b", "c", "d", "e", "a"], [], [60, 30, 5])


def test_a_frames_starts_that_do_not_fit_beside_the_rows_kept_are_not_kept() -> None:
    """A frame's starts too large for the bound on their own are not kept, nor is a later frame's
    that fits the bound alone but not beside the rows already kept: the rows stay, and the cache
    never holds more than its bound."""
    members = tuple("abcdef")
    tables = Tables()
    for rid in members:
        tables.member(rid, "UTC", windows=((0, 1440),))
    frames = tables.frames()
    horizon = {"start": START, "end": START + pd.Timedelta(days=3)}
    wide = request(members, first=START.date(), last=START.date() + dt.timedelta(days=1), duration=30, interval=5)
    small = request(("a",), first=START.date() + dt.timedelta(days=2), duration=30, interval=60)
    roomy = planner.OrgGrid.build(*frames, **horizon)
    row_bytes = roomy.nbytes // (2 * len(members))
    roomy.count_slots(wide)
    wide_bytes = roomy.cache_nbytes - len(members) * row_bytes
    roomy.count_slots(small)
    small_bytes = roomy.cache_nbytes - len(members) * row_bytes - wide_bytes
    bound = len(members) * row_bytes + small_bytes - 1
    assert small_bytes < bound < wide_bytes
    grid = planner.OrgGrid.build(*frames, **horizon, cache_bytes=bound)
    for req in (wide, small, small):
        assert grid.count_slots(req) == planner.count_slots(req, *frames)
        assert grid.cache_nbytes == len(members) * row_bytes  # the rows, and no starts
        assert len(grid._cands) == 0 and len(grid._ok_cache) == len(members)
        _assert_books_balance(grid)


def _limited_grid(monkeypatch, cache_bytes: int):
    """Six members working all day, ``a`` allowed one meeting a day and holding one on the first day;
    and a counter of the limit masks the grid computes."""
    from planner import grid as grid_module

    tables = Tables()
    for rid in "abcdef":
        tables.member(rid, "UTC", windows=((0, 1440),))
    frames = tables.frames()
    limits = planner.Limits(
        pd.DataFrame({"resource_id": ["a"], "max_meetings_day": [1]}),
        pd.DataFrame({"resource_id": ["a"], "start": [START + pd.Timedelta(hours=9)],
                      "end": [START + pd.Timedelta(hours=10)]}),
    )
    computed: list[int] = []
    real = grid_module.allowed_rows
    monkeypatch.setattr(grid_module, "allowed_rows", lambda *a: computed.append(1) or real(*a))
    grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=3), cache_bytes=cache_bytes)
    return grid, frames, limits, computed


def _limited(first_day: int = 0, members=("a",), interval: int = 60):
    return request(members, first=START.date() + dt.timedelta(days=first_day),
                   last=START.date() + dt.timedelta(days=first_day + 1), interval=interval)


def test_a_limit_mask_is_kept_before_rows_when_it_fits_the_bound_and_computed_again_when_it_does_not(
    monkeypatch,
) -> None:
    """A query keeps its frame's starts, then its limit mask, then its rows, each if it fits."""
    req = _limited()
    roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
    row_bytes = roomy.nbytes // (2 * 6)
    roomy.count_slots(req)
    starts = roomy.cache_nbytes - row_bytes
    assert roomy.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits) == 24
    mask = roomy.cache_nbytes - row_bytes - starts
    assert mask > 0  # the mask counts
    for bound, held, masks_computed in (
        (starts + mask + row_bytes, starts + mask + row_bytes, [1]),  # everything fits
        (starts + mask + row_bytes - 1, starts + mask, [1]),  # the row gives way to the mask
        (starts + mask - 1, starts, [1, 1]),  # the mask does not fit: computed for each query
    ):
        grid, frames, limits, computed = _limited_grid(monkeypatch, bound)
        for _ in range(2):
            assert grid.count_slots(req, limits=limits) == 24  # the first day is full for a
        assert grid.cache_nbytes == held <= bound
        assert computed == masks_computed, bound
        _assert_books_balance(grid)


def test_a_request_without_limited_members_keeps_its_empty_mask_at_no_cost(monkeypatch) -> None:
    req = _limited(members=("b",))
    roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
    roomy.count_slots(req, limits=limits)
    grid, frames, limits, computed = _limited_grid(monkeypatch, roomy.cache_nbytes)
    for _ in range(2):
        assert grid.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits) == 48
    assert computed == [1] and grid.cache_nbytes == roomy.cache_nbytes


def test_a_second_mask_that_fits_only_without_the_first_is_not_kept(monkeypatch) -> None:
    first, second = _limited(0), _limited(0, interval=30)
    roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
    roomy.count_slots(first)
    roomy.count_slots(second)
    plain = roomy.cache_nbytes  # the row and both frames' starts
    roomy.count_slots(first, limits=limits)
    one_mask = roomy.cache_nbytes - plain
    grid, frames, limits, computed = _limited_grid(monkeypatch, plain + one_mask)
    for req in (first, second, first, second):
        assert grid.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits)
        assert grid.cache_nbytes <= plain + one_mask
    assert computed == [1, 1, 1]  # the first's mask kept, the second's computed each time
    _assert_books_balance(grid)


def test_each_set_of_limits_keeps_the_masks_of_its_sixteen_latest_requests(monkeypatch) -> None:
    grid, frames, limits, computed = _limited_grid(monkeypatch, 2**30)
    requests = [_limited(0, interval=iv) for iv in (5, 10, 15, 20, 30, 60)]
    requests += [_limited(1, interval=iv) for iv in (5, 10, 15, 20, 30, 60)]
    requests += [_limited(0, members=("a", m)) for m in "bcdef"]
    assert len(requests) == 17
    for req in requests:
        assert grid.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits)
    assert len(computed) == 17
    grid.count_slots(requests[-1], limits=limits)  # the latest is kept
    grid.count_slots(requests[1], limits=limits)  # so is the second
    assert len(computed) == 17
    grid.count_slots(requests[0], limits=limits)  # the oldest was given up for the seventeenth
    assert len(computed) == 18


def test_starts_of_a_new_frame_make_room_beside_the_kept_masks(monkeypatch) -> None:
    """The masks count when starts make room: a new frame's starts make the rows give way as much
    as the masks need, and are kept beside the older frame's."""
    first, other = _limited(0), _limited(1, interval=30)
    roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
    roomy.count_slots(first, limits=limits)
    full = roomy.cache_nbytes
    roomy.count_slots(other)
    grid, frames, limits, computed = _limited_grid(monkeypatch, roomy.cache_nbytes - 1)
    assert grid.count_slots(first, limits=limits) == planner.count_slots(first, *frames, limits=limits)
    assert grid.cache_nbytes == full
    assert grid.count_slots(other) == planner.count_slots(other, *frames)
    assert grid.cache_nbytes <= roomy.cache_nbytes - 1
    assert [key[1] // 60_000_000_000 for key in grid._cands] == [60, 30]  # the new frame's starts are kept
    assert len(grid._ok_cache) == 0  # the row gave way
    _assert_books_balance(grid)


def test_a_mask_that_fills_the_bound_beside_rows_already_kept_is_kept(monkeypatch) -> None:
    """With the rows kept by an earlier query, a mask (or a request's empty one) that brings the
    cache exactly to its bound is kept."""
    for members, mask_held in ((("a",), True), (("b",), False)):  # b has no limit: an empty mask, no bytes
        req = _limited(members=members)
        roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
        roomy.count_slots(req)
        roomy.count_slots(req, limits=limits)
        full = roomy.cache_nbytes  # read now: a mask is held only while its limits are
        grid, frames, limits, computed = _limited_grid(monkeypatch, full)
        assert grid.count_slots(req) == planner.count_slots(req, *frames)
        for _ in range(2):
            assert grid.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits)
        assert computed == [1] and grid.cache_nbytes == full, members
        assert (grid._masks_nbytes() > 0) is mask_held


def test_a_request_with_one_start_left_keeps_a_mask_of_its_own(monkeypatch) -> None:
    grid, frames, limits, computed = _limited_grid(monkeypatch, 2**30)
    late = dataclasses.replace(_limited(1), now=(START + pd.Timedelta(hours=70, minutes=30)).to_pydatetime())
    later = dataclasses.replace(late, now=(START + pd.Timedelta(hours=69, minutes=30)).to_pydatetime())
    for req, count in ((late, 1), (later, 2), (late, 1)):  # only 23:00 of the last day, then 22:00 too
        assert grid.count_slots(req, limits=limits) == planner.count_slots(req, *frames, limits=limits) == count
    assert computed == [1, 1]


def test_starts_that_fit_only_if_the_masks_were_not_counted_are_not_kept(monkeypatch) -> None:
    """No starts kept (a first frame's were too large), a row and a mask kept: a new frame's starts
    that would fit beside the row but not beside the row and the mask are not kept."""
    wide = _limited(interval=5)
    small = _limited(interval=60)
    roomy, frames, limits, _ = _limited_grid(monkeypatch, 2**30)
    row_bytes = roomy.nbytes // (2 * 6)
    roomy.count_slots(wide, limits=limits)
    wide_bytes = roomy.cache_nbytes - row_bytes - roomy._masks_nbytes()
    mask = roomy._masks_nbytes()
    roomy.count_slots(small)
    small_bytes = roomy.cache_nbytes - row_bytes - mask - wide_bytes
    bound = small_bytes + row_bytes + mask - 1
    assert wide_bytes > bound and mask > 0
    grid, frames, limits, computed = _limited_grid(monkeypatch, bound)
    assert grid.count_slots(wide, limits=limits) == planner.count_slots(wide, *frames, limits=limits)
    assert grid.cache_nbytes == row_bytes + mask and len(grid._cands) == 0
    assert grid.count_slots(small) == planner.count_slots(small, *frames)
    assert grid.cache_nbytes == row_bytes + mask and len(grid._cands) == 0
    _assert_books_balance(grid)
