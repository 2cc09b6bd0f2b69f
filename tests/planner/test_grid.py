"""Availability grids (build_grid) and the prebuilt organisation grid (OrgGrid)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

import planner
from tests.planner.helpers import UTC, Tables, request, ts

START = pd.Timestamp("2026-11-02", tz="UTC")


def small_grid() -> planner.AvailabilityGrid:
    tables = (
        Tables()
        .member("a", "UTC", windows=((543, 602),))  # 09:03-10:02
        .room("r", "Asia/Kolkata", 4, windows=((540, 600),))  # 03:30-04:30Z
        .block("a", "2026-11-02 10:01", "2026-11-02 10:02")
        .block("r", "2026-11-02 04:00", "2026-11-02 04:05")
    )
    return planner.build_grid(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))


def test_grid_shape_index_and_ids() -> None:
    grid = small_grid()
    assert grid.resource_ids == ("a", "r")
    assert grid.free.shape == grid.in_hours.shape == grid.busy.shape == (2, 288)
    assert grid.free.dtype == bool
    assert grid.index[0] == START and grid.index.tz is not None and str(grid.index.tz) == "UTC"
    assert (np.diff(grid.index.asi8) == pd.Timedelta(minutes=5).value).all()


def test_hours_round_inward_and_busy_outward() -> None:
    grid = small_grid()
    index = list(grid.index)
    in_hours_a = [t.strftime("%H:%M") for t, flag in zip(index, grid.in_hours[0], strict=True) if flag]
    assert in_hours_a[0] == "09:05" and in_hours_a[-1] == "09:55"  # 09:03-10:02 covers 09:05..10:00 fully
    busy_a = [t.strftime("%H:%M") for t, flag in zip(index, grid.busy[0], strict=True) if flag]
    assert busy_a == ["10:00"]  # the busy minute 10:01 makes 10:00-10:05 busy
    free_r = [t.strftime("%H:%M") for t, flag in zip(index, grid.free[1], strict=True) if flag]
    assert free_r[0] == "03:30" and "04:00" not in free_r and free_r[-1] == "04:25"


def test_to_frame_is_tidy() -> None:
    grid = small_grid()
    frame = grid.to_frame()
    assert list(frame.columns) == ["resource_id", "start", "in_hours", "busy", "free"]
    assert len(frame) == 2 * 288
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]"
    row = frame[(frame["resource_id"] == "a") & (frame["start"] == ts("2026-11-02 09:30"))].iloc[0]
    assert row["in_hours"] and not row["busy"] and row["free"]


def test_pivot_is_local_day_by_time_of_day_across_dst() -> None:
    tables = Tables().member("lon", "Europe/London", windows=((540, 1020),))
    start = pd.Timestamp("2026-10-24", tz="UTC")
    grid = planner.build_grid(*tables.frames(), start=start, end=start + pd.Timedelta(days=3))
    table = grid.pivot("lon")
    assert dt.date(2026, 10, 25) in table.index and dt.time(9, 0) in table.columns
    # 09:00 local is free on each date although it is 08:00Z before the change and 09:00Z after.
    assert bool(table.loc[dt.date(2026, 10, 24), dt.time(9, 0)]) and bool(table.loc[dt.date(2026, 10, 25), dt.time(9, 0)])
    assert not bool(table.loc[dt.date(2026, 10, 25), dt.time(8, 55)])
    assert table.shape[1] == 288
    with pytest.raises(planner.PlannerInputError, match="not in this grid"):
        grid.pivot("nobody")


def org_and_request():
    org = planner.generate_organisation(
        10, 4, dt.date(2026, 10, 19), 28, seed=5, zones=("Europe/London", "America/New_York", "Asia/Kolkata")
    )
    req = planner.SlotRequest(
        members=(org.member_ids[0],),
        pools=(org.pool_members("p0"),),
        rooms=tuple(org.room_ids),
        min_capacity=2,
        duration=pd.Timedelta(minutes=30),
        buffer_before=pd.Timedelta(minutes=5),
        buffer_after=pd.Timedelta(minutes=10),
        minimum_notice=pd.Timedelta(hours=2),
        interval=pd.Timedelta(minutes=15),
        frame_start=dt.date(2026, 10, 21),
        frame_end=dt.date(2026, 11, 4),
        zone="Europe/London",
        now=dt.datetime(2026, 10, 20, 9, tzinfo=UTC),
    )
    return org, req


def build(org, busy=None) -> planner.OrgGrid:
    return planner.OrgGrid.build(
        org.resources, org.hours, org.busy if busy is None else busy, org.overrides,
        start=pd.Timestamp("2026-10-19", tz="UTC"), end=pd.Timestamp("2026-11-16", tz="UTC"),
    )  # fmt: skip


def test_org_grid_answers_like_the_cold_path() -> None:
    org, req = org_and_request()
    grid = build(org)
    cold = planner.find_slots(req, org.resources, org.hours, org.busy, org.overrides)
    assert len(cold) > 0
    pd.testing.assert_frame_equal(grid.find_slots(req), cold)
    assert grid.count_slots(req) == len(cold)
    assert grid.quantum == pd.Timedelta(minutes=5) and grid.n_quanta == 28 * 288
    assert grid.nbytes < 10 * 28 * 288  # bit-packed: far below one byte per quantum


def test_org_grid_add_and_remove_busy_without_rebuild() -> None:
    org, req = org_and_request()
    grid = build(org)
    before = grid.find_slots(req)
    first = before["start"].iloc[0]
    member = req.members[0]
    grid.add_busy(member, first + pd.Timedelta(minutes=29), first + pd.Timedelta(minutes=31))
    after = grid.find_slots(req)
    assert first not in set(after["start"]) and len(after) < len(before)
    added = pd.concat(
        [org.busy, pd.DataFrame({"resource_id": [member], "start": [first + pd.Timedelta(minutes=29)],
                                 "end": [first + pd.Timedelta(minutes=31)], "source": ["calendar"]})],
        ignore_index=True,
    )  # fmt: skip
    pd.testing.assert_frame_equal(after, planner.find_slots(req, org.resources, org.hours, added, org.overrides))
    grid.remove_busy(member, first + pd.Timedelta(minutes=29), first + pd.Timedelta(minutes=31))
    pd.testing.assert_frame_equal(grid.find_slots(req), before)


def test_removing_one_of_two_overlapping_blocks_keeps_the_other() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 720),))
    tables.block("a", "2026-11-02 10:00", "2026-11-02 11:00").block("a", "2026-11-02 10:30", "2026-11-02 10:40")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=2))
    req = request(("a",), duration=60)
    assert [t.strftime("%H:%M") for t in grid.find_slots(req)["start"]] == ["09:00", "11:00"]
    grid.remove_busy("a", ts("2026-11-02 10:30"), ts("2026-11-02 10:40"))
    assert [t.strftime("%H:%M") for t in grid.find_slots(req)["start"]] == ["09:00", "11:00"]
    grid.remove_busy("a", ts("2026-11-02 10:00"), ts("2026-11-02 11:00"))
    assert [t.strftime("%H:%M") for t in grid.find_slots(req)["start"]] == ["09:00", "10:00", "11:00"]
    assert grid.busy.empty


def test_org_grid_update_errors() -> None:
    tables = Tables().member("a", "UTC")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    with pytest.raises(planner.PlannerInputError, match="no busy block"):
        grid.remove_busy("a", ts("2026-11-02 10:00"), ts("2026-11-02 11:00"))
    with pytest.raises(planner.PlannerInputError, match="not in this grid"):
        grid.add_busy("zz", ts("2026-11-02 10:00"), ts("2026-11-02 11:00"))
    with pytest.raises(planner.PlannerInputError, match="tz-aware"):
        grid.add_busy("a", dt.datetime(2026, 11, 2, 10), ts("2026-11-02 11:00"))
    with pytest.raises(planner.PlannerInputError, match="start < end"):
        grid.add_busy("a", ts("2026-11-02 11:00"), ts("2026-11-02 10:00"))


def test_a_grid_refuses_a_horizon_naming_the_bound_that_is_wrong() -> None:
    frames = Tables().member("a", "UTC").frames()
    day = START + pd.Timedelta(days=1)
    cases = [
        ({"start": dt.datetime(2026, 11, 2), "end": day}, "start must be tz-aware (e.g. pd.Timestamp(..., tz='UTC')), "
                                                          "got naive datetime.datetime(2026, 11, 2, 0, 0)"),
        ({"start": START, "end": "tomorrow"}, "end must be a tz-aware datetime, got 'tomorrow'"),
        ({"start": START, "end": START}, "end 2026-11-02 00:00:00+00:00 must be after start 2026-11-02 00:00:00+00:00"),
        ({"start": day, "end": START}, "end 2026-11-02 00:00:00+00:00 must be after start 2026-11-03 00:00:00+00:00"),
        ({"start": START, "end": day, "chunk": 0}, "chunk must be a positive number of resources, got 0"),
    ]
    for horizon, message in cases:
        with pytest.raises(planner.PlannerInputError) as caught:
            planner.OrgGrid.build(*frames, **horizon)
        assert str(caught.value) == message, horizon


def test_org_grid_update_errors_say_which_bound_and_which_block() -> None:
    tables = Tables().member("a", "UTC").block("a", "2026-11-02 10:00", "2026-11-02 11:00")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    with pytest.raises(planner.PlannerInputError, match=r"^start must be tz-aware, got naive"):
        grid.add_busy("a", dt.datetime(2026, 11, 2, 10), ts("2026-11-02 11:00"))
    with pytest.raises(planner.PlannerInputError, match=r"^end must be tz-aware, got naive"):
        grid.add_busy("a", ts("2026-11-02 10:00"), dt.datetime(2026, 11, 2, 11))
    with pytest.raises(planner.PlannerInputError, match=r"^start must be a tz-aware datetime, got '10:00'"):
        grid.add_busy("a", "10:00", ts("2026-11-02 11:00"))
    with pytest.raises(planner.PlannerInputError, match=r"^end must be a tz-aware datetime, got 11"):
        grid.remove_busy("a", ts("2026-11-02 10:00"), 11)
    with pytest.raises(planner.PlannerInputError, match="start < end"):  # an empty block is refused too
        grid.add_busy("a", ts("2026-11-02 10:00"), ts("2026-11-02 10:00"))
    # Removing needs the very block: the same start with another end (or the reverse) is not it.
    for start, end in (("10:00", "10:30"), ("10:30", "11:00")):
        with pytest.raises(planner.PlannerInputError) as missing:
            grid.remove_busy("a", ts(f"2026-11-02 {start}"), ts(f"2026-11-02 {end}"))
        assert str(missing.value) == (f"'a' has no busy block 2026-11-02 {start}:00+00:00 .. "
                                      f"2026-11-02 {end}:00+00:00 to remove")
    assert len(grid.busy) == 1


def test_org_grid_describes_itself_and_snapshots_its_layout() -> None:
    tables = Tables().member("a", "UTC").room("r", "Asia/Kolkata", 4)
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    text = repr(grid)
    assert text == (f"OrgGrid(2 resources x 288 quanta of 5 min, 2026-11-02 00:00 to 2026-11-03 00:00 UTC, "
                    f"{grid.nbytes / 2**20:.1f} MiB)")
    assert grid._repr_html_() == f"<code>{text}</code>"
    big = planner.OrgGrid.build(*Tables().member("a", "UTC").frames(), start=START,
                                end=START + pd.Timedelta(days=3000), quantum="1min")
    assert repr(big).endswith(f"{big.nbytes / 2**20:.1f} MiB)") and big.nbytes > 2**20
    snapshot = grid.availability()
    assert (snapshot.resource_ids, snapshot.origin, snapshot.quantum, snapshot.zones) == (
        ("a", "r"), START, pd.Timedelta(minutes=5), ("UTC", "Asia/Kolkata"))


def test_adding_blocks_out_of_order_keeps_each_removable() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 720),))
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    req = request(("a",), duration=60)
    grid.add_busy("a", ts("2026-11-02 11:00"), ts("2026-11-02 11:30"))
    grid.add_busy("a", ts("2026-11-02 09:00"), ts("2026-11-02 09:30"))  # earlier than the first
    assert list(grid.busy["start"]) == [ts("2026-11-02 09:00"), ts("2026-11-02 11:00")]
    grid.remove_busy("a", ts("2026-11-02 11:00"), ts("2026-11-02 11:30"))
    assert list(grid.busy["start"]) == [ts("2026-11-02 09:00")]
    assert [t.strftime("%H:%M") for t in grid.find_slots(req)["start"]] == ["10:00", "11:00"]


def test_the_busy_table_after_changing_a_later_row_lists_each_block_once() -> None:
    tables = (Tables().member("a", "UTC").member("b", "UTC")
              .block("a", "2026-11-02 09:00", "2026-11-02 10:00").block("b", "2026-11-02 11:00", "2026-11-02 12:00"))
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    grid.add_busy("b", ts("2026-11-02 13:00"), ts("2026-11-02 14:00"))
    busy = grid.busy.sort_values(["resource_id", "start"], ignore_index=True)
    assert list(zip(busy["resource_id"], busy["start"].dt.strftime("%H:%M"), strict=True)) == [
        ("a", "09:00"), ("b", "11:00"), ("b", "13:00")]


def test_org_grid_falls_back_for_finer_quanta_and_frames_beyond_the_horizon() -> None:
    org, req = org_and_request()
    grid = build(org)
    seven = dataclasses.replace(req, buffer_before=pd.Timedelta(minutes=7))
    pd.testing.assert_frame_equal(
        grid.find_slots(seven), planner.find_slots(seven, org.resources, org.hours, org.busy, org.overrides)
    )
    beyond = dataclasses.replace(req, frame_end=dt.date(2026, 11, 20))
    assert grid.count_slots(beyond) == planner.count_slots(beyond, org.resources, org.hours, org.busy, org.overrides)


def test_org_grid_busy_table_round_trips() -> None:
    org, _ = org_and_request()
    grid = build(org)
    got = grid.busy.sort_values(["resource_id", "start", "end"], ignore_index=True)
    want = org.busy[["resource_id", "start", "end"]].sort_values(["resource_id", "start", "end"], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    snapshot = grid.availability()
    assert snapshot.free.shape == (len(org.resources), grid.n_quanta)


def test_pool_and_room_rows_are_evaluated_only_around_surviving_starts(monkeypatch) -> None:
    from planner import slots

    calls: list[tuple[int, ...]] = []
    real = slots._ok_rows

    def spy(in_hours, busy, d, bb, ba):
        calls.append(in_hours.shape)
        return real(in_hours, busy, d, bb, ba)

    monkeypatch.setattr(slots, "_ok_rows", spy)
    # The required member is free one hour in a 60-day frame; the pool member and room always.
    tables = (
        Tables()
        .member("a", "UTC", days=[], windows=())
        .override("a", dt.date(2026, 11, 20), 600, 660)
        .member("p", "UTC", windows=((0, 1440),))
        .room("r", "UTC", 4)
    )
    frames = tables.frames()
    # Without the per-shape cache (which evaluates whole rows once, to reuse them).
    grid = planner.OrgGrid.build(*frames, start=START, end=START + pd.Timedelta(days=61), cache_bytes=0)
    req = request(("a",), pools=[("p",)], rooms=("r",), first=dt.date(2026, 11, 2), last=dt.date(2026, 12, 31))
    assert [t.strftime("%m-%d %H:%M") for t in grid.find_slots(req)["start"]] == ["11-20 10:00"]
    full_words = calls[0][-1]
    assert calls[0][0] == 1  # the required member alone, over the whole frame
    assert len(calls) == 2 and calls[1][0] == 2  # then the pool member and the room together ...
    assert int(np.prod(calls[1][1:])) <= 4 < full_words  # ... on the few words around the survivor
    calls.clear()
    # The cold path lays out no bit rows at all: the required member's ok starts come from its
    # ranges, and the pool member and the room are then looked up at the surviving starts.
    assert [t.strftime("%m-%d %H:%M") for t in planner.find_slots(req, *frames)["start"]] == ["11-20 10:00"]
    assert calls == []


def test_no_surviving_start_skips_pools_and_rooms(monkeypatch) -> None:
    from planner import slots

    calls: list[tuple[int, ...]] = []
    real = slots._ok_rows
    monkeypatch.setattr(slots, "_ok_rows", lambda *a: calls.append(a[0].shape) or real(*a))
    # With no pair allowed for the per-start stage, looking at the pool or the room at all
    # would lay them out as bit rows.
    monkeypatch.setattr(slots, "PAIR_LIMIT", 0)
    tables = Tables().member("a", "UTC", days=[]).member("p", "UTC").room("r", "UTC", 4)
    assert planner.count_slots(request(("a",), pools=[("p",)], rooms=("r",)), *tables.frames()) == 0
    assert calls == []


def test_one_pass_and_two_pass_rasterization_agree(monkeypatch) -> None:
    from planner import availability

    org, _ = org_and_request()
    one = build(org).availability()
    monkeypatch.setattr(availability, "_ONE_PASS_WORDS", 0)  # as for a large organisation
    two = build(org).availability()
    assert np.array_equal(one.in_hours, two.in_hours) and np.array_equal(one.busy, two.busy)
    assert one.busy.any() and one.in_hours.any()


def test_busy_rounds_outward_to_whole_quanta_however_far_into_the_horizon() -> None:
    tables = Tables().member("a", "UTC")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=365), quantum="1h")
    hour = START + pd.Timedelta(days=300, hours=10)  # quantum 7,210 of the year
    grid.add_busy("a", hour - pd.Timedelta(1, unit="ns"), hour + pd.Timedelta(minutes=1))
    busy = grid.availability().busy[0]
    assert list(np.flatnonzero(busy)) == [7_209, 7_210]  # a nanosecond of 09:00-10:00 makes it busy


def test_a_resources_blocks_are_listed_by_start_whatever_order_they_are_added_in() -> None:
    tables = Tables().member("a", "UTC").block("a", "2026-11-02 11:00", "2026-11-02 12:00")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=1))
    grid.add_busy("a", ts("2026-11-02 09:00"), ts("2026-11-02 09:30"))  # before the block of the build
    grid.add_busy("a", ts("2026-11-02 11:15"), ts("2026-11-02 11:30"))  # inside it: ends before it does
    grid.add_busy("a", ts("2026-11-02 10:00"), ts("2026-11-02 10:30"))
    assert list(grid.busy["start"].dt.strftime("%H:%M")) == ["09:00", "10:00", "11:00", "11:15"]
    grid.remove_busy("a", ts("2026-11-02 11:00"), ts("2026-11-02 12:00"))
    assert list(grid.busy["start"].dt.strftime("%H:%M")) == ["09:00", "10:00", "11:15"]


def test_a_rotating_pool_with_a_single_start_left_takes_whoever_is_on_duty_then() -> None:
    tables = (Tables().member("a", "UTC").member("b", "UTC", windows=((1320, 1440),))  # b works 22:00-24:00
              .member("c", "UTC", windows=((1320, 1440),)))  # fmt: skip
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=2))
    req = dataclasses.replace(request((), pools=[("a", "b", "c")], now=ts("2026-11-02 23:00")), pool_turns=(True,))
    slots = grid.find_slots(req)  # 23:00 is the frame's one start left: a is off then, so it is b's turn
    assert [(t.strftime("%H:%M"), p) for t, p in zip(slots["start"], slots["pool_members"], strict=True)] == [
        ("23:00", (("b",),))]
    pd.testing.assert_frame_equal(slots, planner.find_slots(req, *tables.frames()))


def test_a_panel_of_two_from_a_pool_needs_two_of_its_members_free_at_once() -> None:
    tables = (Tables().member("p", "UTC").member("q", "UTC", windows=((540, 720),))  # q: 09:00-12:00
              .member("r", "UTC", days=[]))  # fmt: skip
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=2))
    req = dataclasses.replace(request((), pools=[("p", "q", "r")]), pool_k=(2,))
    slots = grid.find_slots(req)
    assert [t.hour for t in slots["start"]] == [9, 10, 11]
    pd.testing.assert_frame_equal(slots, planner.find_slots(req, *tables.frames()))


def test_a_member_under_a_limit_is_still_needed_free_on_the_grid() -> None:
    # One meeting a day at most: the 2nd is full; on the 3rd the limit allows every start, and
    # the member's hours and busy hour still decide.
    tables = Tables().member("a", "UTC").block("a", "2026-11-03 10:00", "2026-11-03 11:00")
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(days=3))
    limits = planner.Limits(pd.DataFrame({"resource_id": ["a"], "max_meetings_day": [1]}),
                            pd.DataFrame({"resource_id": ["a"], "start": [ts("2026-11-02 07:00")],
                                          "end": [ts("2026-11-02 07:30")]}))  # fmt: skip
    req = request(("a",), last=dt.date(2026, 11, 3))
    slots = grid.find_slots(req, limits=limits)
    assert [t.strftime("%d %H") for t in slots["start"]] == ["03 09", "03 11", "03 12", "03 13", "03 14", "03 15", "03 16"]
    pd.testing.assert_frame_equal(slots, planner.find_slots(req, *tables.frames(), limits=limits))


def test_the_grid_answers_like_the_cold_path_at_its_edges_and_at_the_notice_cut() -> None:
    """Frames that begin or end with the horizon (a buffer may then leave it), starts a notice cut
    falls between, windows reaching across 64-quantum words:
    the grid, where it answers itself and where it falls back, gives the cold path's slots."""
    rng = np.random.default_rng(7)
    tables = Tables().member("a", "UTC", windows=((0, 1440),)).member("b", "Asia/Kolkata", windows=((0, 1440),))
    for _ in range(40):
        begin = START + pd.Timedelta(minutes=5 * int(rng.integers(0, 3 * 288)))
        tables.block(str(rng.choice(["a", "b"])), begin, begin + pd.Timedelta(minutes=5 * int(rng.integers(1, 30))))
    end = START + pd.Timedelta(days=3)
    tables.block("a", end, end + pd.Timedelta(minutes=20)).block("b", START - pd.Timedelta(minutes=20), START)
    frames = tables.frames()
    grid = planner.OrgGrid.build(*frames, start=START, end=end)
    day = START.date()
    limits = planner.Limits(
        pd.DataFrame({"resource_id": ["a", "b"], "max_meetings_day": [1, 2]}),
        pd.DataFrame({"resource_id": ["a", "b", "b"], "start": [ts("2026-11-03 10:00"), ts("2026-11-02 08:00"),
                                                                 ts("2026-11-02 12:00")],
                      "end": [ts("2026-11-03 10:30"), ts("2026-11-02 09:00"), ts("2026-11-02 13:00")]}),
    )
    checked = answered = restricted = 0
    for _ in range(300):
        first = day + dt.timedelta(days=int(rng.integers(0, 3)))
        req = request(
            [("a",), ("b",), ("a", "b")][int(rng.integers(0, 3))], zone=str(rng.choice(["UTC", "Asia/Kolkata"])),
            first=first, last=first + dt.timedelta(days=int(rng.integers(0, 3 - (first - day).days))),
            duration=int(rng.choice([5, 15, 30, 60, 400])), interval=int(rng.choice([5, 15, 30, 60])),
            before=int(rng.choice([0, 5, 15, 330])), after=int(rng.choice([0, 5, 15, 330])),
            notice=int(rng.choice([0, 20, 420])),
            now=(START + pd.Timedelta(minutes=int(rng.integers(-60, 3 * 1440)))).to_pydatetime(),
        )
        cold = planner.find_slots(req, *frames)
        pd.testing.assert_frame_equal(grid.find_slots(req), cold, obj=str(req))
        assert grid.count_slots(req) == len(cold), req
        # One set of limits for every request: each request keeps a mask of its own.
        limited = planner.find_slots(req, *frames, limits=limits)
        for _ in range(2):  # computed, then from the cache
            pd.testing.assert_frame_equal(grid.find_slots(req, limits=limits), limited, obj=f"limited {req}")
        checked += 1
        answered += len(cold) > 0
        restricted += len(limited) < len(cold)
    assert checked == 300 and 50 < answered < 300  # empty and non-empty answers both
    assert restricted > 20  # the limits took starts away in many


def test_a_buffer_past_the_horizon_and_a_notice_cut_after_the_first_start_answer_as_the_cold_path() -> None:
    """The last start's after-buffer reaches past the horizon's end into busy time the grid never
    rasterized: the grid must leave that frame to the cold path. A notice cut between the frame's
    first two starts drops the first. Both answered exactly as the cold path, by name."""
    end = START + pd.Timedelta(days=1)
    tables = Tables().member("a", "UTC", windows=((0, 1440),)).block("a", end, end + pd.Timedelta(minutes=20))
    frames = tables.frames()
    grid = planner.OrgGrid.build(*frames, start=START, end=end)

    def starts(req) -> list[str]:
        found = grid.find_slots(req)
        pd.testing.assert_frame_equal(found, planner.find_slots(req, *frames), obj=str(req))
        return list(found["start"].dt.strftime("%H:%M"))

    buffered = request(("a",), first=START.date(), duration=60, interval=60, after=5)
    assert starts(buffered)[-2:] == ["21:00", "22:00"]  # 23:00's buffer meets the block after the horizon
    assert grid.count_slots(buffered) == 23
    midnight = START.to_pydatetime()
    cut = request(("a",), first=START.date(), duration=60, interval=60, notice=2, now=midnight)
    assert starts(cut)[:2] == ["01:00", "02:00"]  # 00:00 is two minutes too soon
    assert grid.count_slots(cut) == 23
    assert starts(dataclasses.replace(cut, minimum_notice=pd.Timedelta(0)))[:1] == ["00:00"]


def test_a_grid_from_loaded_tables_refuses_what_is_not_tables_or_a_chunk_in_words() -> None:
    from planner.index import OrgTables

    tables = OrgTables.load(*Tables().member("a", "UTC").frames())
    horizon = {"start": START, "end": START + pd.Timedelta(days=1)}
    with pytest.raises(planner.PlannerInputError) as caught:
        planner.OrgGrid.from_tables(Tables().member("a", "UTC").frames(), **horizon)
    assert str(caught.value) == "tables must be a planner.OrgTables, got tuple"
    for chunk in (0, -3, True, 2.5, "64"):
        with pytest.raises(planner.PlannerInputError) as caught:
            planner.OrgGrid.from_tables(tables, chunk=chunk, **horizon)
        assert str(caught.value) == f"chunk must be a positive number of resources, got {chunk!r}"
    for workers in (0, -1, False, 1.5, "2"):
        with pytest.raises(planner.PlannerInputError) as caught:
            planner.OrgGrid.from_tables(tables, workers=workers, **horizon)
        assert str(caught.value) == f"workers must be a positive number of threads, got {workers!r}"


def test_a_horizon_ending_between_quanta_takes_the_whole_last_quantum() -> None:
    tables = Tables().member("a", "UTC", windows=((0, 1440),))
    grid = planner.OrgGrid.build(*tables.frames(), start=START, end=START + pd.Timedelta(hours=9, minutes=2))
    assert (grid.n_quanta, grid.end) == (109, START + pd.Timedelta(hours=9, minutes=5))
