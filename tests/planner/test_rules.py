"""One hand-written case per slot rule (DESIGN.md "Slot semantics")."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import planner
from tests.planner.helpers import UTC, Tables, request, ts

DAY = dt.date(2026, 11, 2)  # a Monday


def hhmm(starts: list[pd.Timestamp]) -> list[str]:
    return [t.strftime("%H:%M") for t in starts]


def test_busy_block_blocks_overlapping_starts_and_half_open_edges_touch() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 720),)).block("a", "2026-11-02 10:00", "2026-11-02 11:00")
    # A meeting ending at 10:00 and one starting at 11:00 do not clash with 10:00-11:00.
    assert hhmm(tables.starts(request(duration=60, interval=60))) == ["09:00", "11:00"]


def test_a_single_busy_minute_blocks_every_slot_overlapping_it() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 660),)).block("a", "2026-11-02 10:01", "2026-11-02 10:02")
    starts = hhmm(tables.starts(request(duration=30, interval=15)))
    assert starts == ["09:00", "09:15", "09:30", "10:15", "10:30"]  # 09:45 and 10:00 overlap 10:01


def test_buffers_of_neighbouring_meetings_add_up() -> None:
    # DESIGN.md rule 6: a reservation 09:00-10:00 with a 15-minute after-buffer
    # holds 09:00-10:15; a new meeting with a 10-minute before-buffer starts 10:25 at the earliest.
    tables = Tables().member("a", "UTC", windows=((540, 720),)).block("a", "2026-11-02 09:00", "2026-11-02 10:15")
    starts = hhmm(tables.starts(request(duration=30, interval=5, before=10)))
    assert starts[0] == "10:25"


def test_after_buffer_keeps_a_gap_before_the_next_busy_block() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 720),)).block("a", "2026-11-02 11:00", "2026-11-02 12:00")
    starts = hhmm(tables.starts(request(duration=30, interval=15, after=15)))
    assert starts == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15"]  # 10:15-10:45 + 15 = 11:00


def test_a_busy_block_anywhere_in_a_long_after_buffer_blocks_the_start() -> None:
    # A 5-minute meeting with a 20-minute after-buffer needs 09:00-09:25 free: 09:10-09:15 is inside it.
    tables = Tables().member("a", "UTC", windows=((480, 600),)).block("a", "2026-11-02 09:10", "2026-11-02 09:15")
    req = request(duration=5, interval=60, after=20)
    assert hhmm(tables.starts(req)) == ["08:00"]
    assert tables.check(req, ts("2026-11-02 09:00")).reason == "member 'a' is busy (buffers included) for this slot"


def test_buffers_may_reach_outside_working_hours() -> None:
    # Rule 2: only [t, t + duration) must be inside hours; buffers need only be free.
    tables = Tables().member("a", "UTC", windows=((540, 600),))
    assert hhmm(tables.starts(request(duration=60, before=30, after=30))) == ["09:00"]


def test_seven_minute_buffer_is_exact_not_rounded_to_the_quantum() -> None:
    req = request(duration=30, interval=30, before=7)
    ends_0953 = Tables().member("a", "UTC", windows=((600, 630),)).block("a", "2026-11-02 09:00", "2026-11-02 09:53")
    ends_0954 = Tables().member("a", "UTC", windows=((600, 630),)).block("a", "2026-11-02 09:00", "2026-11-02 09:54")
    assert hhmm(ends_0953.starts(req)) == ["10:00"]
    assert ends_0954.starts(req) == []


def test_working_hours_edges_inside_a_quantum_are_exact() -> None:
    # Hours 09:03-10:02: a 1-minute-aligned 30-minute meeting on a 1-minute grid.
    tables = Tables().member("a", "UTC", windows=((543, 602),))
    starts = tables.starts(request(duration=30, interval=1))
    assert starts[0] == ts("2026-11-02 09:03") and starts[-1] == ts("2026-11-02 09:32")
    assert len(starts) == 30


def test_minimum_notice_counts_from_now() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 1020),))
    now = dt.datetime(2026, 11, 2, 10, 7, tzinfo=UTC)
    assert hhmm(tables.starts(request(duration=30, interval=15, notice=60, now=now)))[0] == "11:15"
    later = dt.datetime(2026, 11, 2, 16, 40, tzinfo=UTC)
    assert tables.starts(request(duration=30, interval=15, notice=0, now=later)) == []


def test_room_for_a_single_start_between_now_and_the_frames_end_offers_that_start() -> None:
    from planner.slots import candidate_starts

    tables = Tables().member("a", "UTC", windows=((0, 1440),))
    req = request(duration=60, interval=60, now=dt.datetime(2026, 11, 2, 23, 0, tzinfo=UTC))
    assert candidate_starts(req).tolist() == [ts("2026-11-02 23:00").value]
    assert tables.starts(req) == [ts("2026-11-02 23:00")]


@pytest.mark.parametrize(
    "now",
    [dt.datetime(2026, 11, 2, 23, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, 22, 10, tzinfo=UTC)],
    ids=["no room left", "room but no grid time in it"],
)
def test_no_candidate_start_is_an_empty_int64_array(now: dt.datetime) -> None:
    from planner.slots import candidate_starts

    # 90 minutes must end by midnight: the last start is 22:30, and the hourly grid has none after 22:00.
    got = candidate_starts(request(duration=90, interval=60, now=now))
    assert got.dtype == np.int64 and got.shape == (0,)


def test_frame_is_whole_local_dates_and_slots_end_by_the_last_midnight() -> None:
    tables = Tables().member("a", "UTC", windows=((0, 1440),))
    starts = tables.starts(request(zone="Asia/Tokyo", duration=60, interval=60, first=DAY))
    assert starts[0] == ts("2026-11-02 00:00", "Asia/Tokyo") and starts[-1] == ts("2026-11-02 23:00", "Asia/Tokyo")
    assert len(starts) == 24


def test_slot_grid_counts_from_local_midnight_not_from_free_windows() -> None:
    # 45-minute interval: 00:00, 00:45, 01:30, ... 09:00, 09:45, 10:30 local.
    tables = Tables().member("a", "UTC", windows=((560, 720),))  # 09:20-12:00
    assert hhmm(tables.starts(request(duration=30, interval=45))) == ["09:45", "10:30", "11:15"]


def test_every_required_member_must_be_free() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 720),))
        .member("b", "UTC", windows=((600, 780),))
        .block("b", "2026-11-02 10:00", "2026-11-02 11:00")
    )
    assert hhmm(tables.starts(request(("a", "b"), duration=60))) == ["11:00"]


def test_pool_needs_one_free_member_and_reports_who() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 720),))
        .member("p1", "UTC", windows=((540, 600),))
        .member("p2", "UTC", windows=((600, 720),))
        .block("p2", "2026-11-02 11:00", "2026-11-02 12:00")
    )
    slots = tables.find(request(("a",), pools=[("p1", "p2")], duration=60))
    assert hhmm(list(slots["start"])) == ["09:00", "10:00"]
    assert list(slots["pool_members"]) == [(("p1",),), (("p2",),)]


@pytest.mark.parametrize("size", [3, 40, 70])
def test_a_pool_of_any_size_reports_who_is_free_sorted_whatever_the_request_order(size: int) -> None:
    # Even members work 09:00-11:00, odd ones 10:00-12:00; the pool is listed backwards.
    names = [f"p{i:02d}" for i in range(size)]
    tables = Tables()
    for i, rid in enumerate(names):
        tables.member(rid, "UTC", windows=((540, 660) if i % 2 == 0 else (600, 720),))
    slots = tables.find(request((), pools=[names[::-1]], duration=60))
    assert hhmm(list(slots["start"])) == ["09:00", "10:00", "11:00"]
    assert list(slots["pool_members"]) == [
        (tuple(names[0::2]),),
        (tuple(names),),
        (tuple(names[1::2]),),
    ]


def test_rooms_are_reported_sorted_whatever_the_request_order() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 720),)).room("r2", "UTC", 4).room("r1", "UTC", 4)
    tables.block("r1", "2026-11-02 10:00", "2026-11-02 11:00")
    slots = tables.find(request(("a",), rooms=("r2", "r1"), duration=60))
    assert list(slots["rooms"]) == [("r1", "r2"), ("r2",), ("r1", "r2")]


def test_a_pool_members_block_ending_at_a_start_does_not_hide_a_later_one_inside_the_slot() -> None:
    tables = (
        Tables()
        .member("p", "UTC", windows=((540, 720),))
        .block("p", "2026-11-02 08:00", "2026-11-02 09:00")  # touches 09:00, does not clash
        .block("p", "2026-11-02 09:30", "2026-11-02 09:45")  # inside 09:00-10:00
    )
    slots = tables.find(request((), pools=[("p",)], duration=60))
    assert hhmm(list(slots["start"])) == ["10:00", "11:00"]


def test_two_pools_each_need_a_member() -> None:
    tables = (
        Tables()
        .member("x", "UTC", windows=((540, 660),))
        .member("y", "UTC", windows=((600, 720),))
    )
    slots = tables.find(request((), pools=[("x",), ("y",)], duration=60))
    assert hhmm(list(slots["start"])) == ["10:00"]
    assert list(slots["pool_members"]) == [(("x",), ("y",))]


def test_room_needs_capacity_opening_hours_and_free_time() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 780),))
        .room("small", "UTC", 2)
        .room("big", "UTC", 10, windows=((600, 720),))
        .room("big2", "UTC", 12)
        .block("big2", "2026-11-02 09:30", "2026-11-02 11:30")
    )
    slots = tables.find(request(("a",), rooms=("small", "big", "big2"), min_capacity=6, duration=60))
    assert hhmm(list(slots["start"])) == ["10:00", "11:00", "12:00"]
    assert list(slots["rooms"]) == [("big",), ("big",), ("big2",)]


def test_a_room_exactly_as_big_as_asked_is_big_enough() -> None:
    tables = Tables().member("a", "UTC", windows=((540, 600),)).room("five", "UTC", 5).room("four", "UTC", 4)
    slots = tables.find(request(("a",), rooms=("four", "five"), min_capacity=5))
    assert list(slots["rooms"]) == [("five",)]
    check = tables.check(request(("a",), rooms=("four", "five"), min_capacity=5), ts("2026-11-02 09:00"))
    assert check.rooms == ("five",)


def test_listed_rooms_all_too_small_means_no_slot() -> None:
    tables = Tables().member("a", "UTC").room("small", "UTC", 2)
    assert tables.starts(request(("a",), rooms=("small",), min_capacity=3)) == []


def test_a_request_for_a_room_alone_with_every_room_too_small_has_no_slot_and_says_why() -> None:
    tables = Tables().room("small", "UTC", 2)
    req = request((), rooms=("small",), min_capacity=3)
    assert tables.starts(req) == []
    assert tables.check(req, ts("2026-11-02 09:00")) == planner.SlotCheck(
        False, ts("2026-11-02 09:00"), ts("2026-11-02 10:00"), (), (), (),
        "no room among ('small',) with capacity >= 3 is free for this slot",
    )  # fmt: skip


def test_no_rooms_listed_needs_no_room() -> None:
    slots = Tables().member("a", "UTC", windows=((540, 600),)).find(request(("a",)))
    assert list(slots["rooms"]) == [()]


def test_room_buffers_apply_too() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 720),))
        .room("r", "UTC", 4)
        .block("r", "2026-11-02 08:00", "2026-11-02 09:00")
    )
    assert hhmm(tables.starts(request(("a",), rooms=("r",), before=15, duration=60))) == ["10:00", "11:00"]


def test_override_replaces_the_weekly_hours_on_its_date_only() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 600),))
        .override("a", DAY, 720, 780)
        .override("a", DAY + dt.timedelta(days=1))
    )
    req = request(("a",), first=DAY, last=DAY + dt.timedelta(days=2))
    got = [t.strftime("%m-%d %H:%M") for t in tables.starts(req)]
    assert got == ["11-02 12:00", "11-04 09:00"]


def test_window_crossing_midnight_belongs_to_the_day_it_starts() -> None:
    # Monday only, 22:00-02:00: runs into Tuesday morning, not Monday morning.
    tables = Tables().member("a", "UTC", days=[0], windows=((1320, 1560),))
    req = request(("a",), first=DAY, last=DAY + dt.timedelta(days=1), interval=60)
    got = [t.strftime("%m-%d %H:%M") for t in tables.starts(req)]
    assert got == ["11-02 22:00", "11-02 23:00", "11-03 00:00", "11-03 01:00"]


def test_split_shift_touching_windows_merge() -> None:
    # 09:00-10:02 and 10:02-11:00 together cover 09:00-11:00.
    tables = Tables().member("a", "UTC", windows=((540, 602), (602, 660)))
    assert hhmm(tables.starts(request(duration=120, interval=60))) == ["09:00"]


def test_resource_without_hours_is_never_available() -> None:
    tables = Tables().member("a", "UTC", days=[])
    assert tables.starts(request(("a",))) == []


def test_find_count_and_check_agree() -> None:
    tables = (
        Tables()
        .member("a", "UTC", windows=((540, 1020),))
        .member("p", "UTC", windows=((600, 900),))
        .room("r", "UTC", 4)
        .block("a", "2026-11-02 12:10", "2026-11-02 12:20")
    )
    req = request(("a",), pools=[("p",)], rooms=("r",), duration=30, interval=15, before=5, after=5)
    frames = tables.frames()
    slots = planner.find_slots(req, *frames)
    assert planner.count_slots(req, *frames) == len(slots) > 0
    for start in pd.date_range("2026-11-02 00:00", "2026-11-02 23:45", freq="15min", tz="UTC"):
        check = planner.check_slot(req, *frames, start=start)
        assert check.available == (start in set(slots["start"]))
        if check.available:
            row = slots.loc[slots["start"] == start].iloc[0]
            assert check.pool_members == row["pool_members"] and check.rooms == row["rooms"]


REASON_TABLES = (
    Tables()
    .member("a", "UTC", windows=((540, 1020),))
    .member("p", "UTC", windows=((540, 600),))
    .room("r", "UTC", 4, windows=((540, 660),))
    .block("a", "2026-11-02 13:00", "2026-11-02 14:00")
)
REASON_REQUEST = request(("a",), pools=[("p",)], rooms=("r",), duration=60, interval=30, notice=60,
                         now=dt.datetime(2026, 11, 2, 8, 0, tzinfo=UTC))  # fmt: skip
FRAME = "is outside the frame 2026-11-02..2026-11-02 (UTC)"


@pytest.mark.parametrize(
    ("start", "pool_members", "rooms", "reason"),
    [
        ("2026-11-02 09:00", (("p",),), ("r",), None),
        ("2026-11-02 13:00", ((),), (), "member 'a' is busy (buffers included) for this slot"),
        ("2026-11-02 16:30", ((),), (), "member 'a' is outside working hours for this slot"),
        ("2026-11-02 10:00", ((),), ("r",), "no member of pool 0 ('p',) is free for this slot"),
        ("2026-11-02 09:10", ((),), (),
         "2026-11-02 09:10:00+00:00 is not on the slot grid (every 30 min from local midnight in UTC)"),
        ("2026-11-02 08:30", ((),), (),
         "2026-11-02 08:30:00+00:00 starts sooner than the minimum notice (0 days 01:00:00) from now"),
        ("2026-11-03 09:00", ((),), (), f"2026-11-03 09:00:00+00:00 {FRAME}"),
        ("2026-11-01 23:00", ((),), (), f"2026-11-01 23:00:00+00:00 {FRAME}"),
        ("2026-11-02 23:30", ((),), (), f"2026-11-02 23:30:00+00:00 {FRAME}"),  # ends after the frame
    ],
)
def test_check_slot_answers_the_whole_slot_and_names_the_reason(start, pool_members, rooms, reason) -> None:
    check = REASON_TABLES.check(REASON_REQUEST, ts(start))
    assert check == planner.SlotCheck(
        reason is None, ts(start), ts(start) + pd.Timedelta(minutes=60), ("a",), pool_members, rooms, reason
    )


def test_check_slot_answers_in_utc_for_a_start_given_in_another_zone() -> None:
    check = REASON_TABLES.check(REASON_REQUEST, pd.Timestamp("2026-11-02 10:00", tz="Europe/Berlin"))
    assert check == planner.SlotCheck(
        True, ts("2026-11-02 09:00"), ts("2026-11-02 10:00"), ("a",), (("p",),), ("r",), None
    )
    assert str(check.start.tz) == str(check.end.tz) == "UTC"


def test_check_slot_names_a_missing_room_with_the_capacity_asked() -> None:
    no_room = request(("a",), rooms=("r",), duration=60, interval=30, min_capacity=2)
    check = REASON_TABLES.check(no_room, ts("2026-11-02 11:00"))
    assert check == planner.SlotCheck(
        False, ts("2026-11-02 11:00"), ts("2026-11-02 12:00"), ("a",), (), (),
        "no room among ('r',) with capacity >= 2 is free for this slot",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "block", "available"),
    [
        (7, 0, ("2026-11-02 09:00", "2026-11-02 09:53"), True),
        (7, 0, ("2026-11-02 09:00", "2026-11-02 09:54"), False),
        (0, 7, ("2026-11-02 10:37", "2026-11-02 11:00"), True),
        (0, 7, ("2026-11-02 10:36", "2026-11-02 11:00"), False),
    ],
)
def test_check_slot_keeps_odd_buffers_exact(before: int, after: int, block, available: bool) -> None:
    # Buffers of 7 minutes on a 30-minute meeting: the check works in minutes, not in 30-minute steps.
    tables = Tables().member("a", "UTC", windows=((600, 630),)).block("a", *block)
    check = tables.check(request(duration=30, interval=30, before=before, after=after), ts("2026-11-02 10:00"))
    reason = None if available else "member 'a' is busy (buffers included) for this slot"
    assert check == planner.SlotCheck(available, ts("2026-11-02 10:00"), ts("2026-11-02 10:30"), ("a",), (), (), reason)


def test_results_are_sorted_utc_with_end_equal_start_plus_duration() -> None:
    tables = Tables().member("a", "Pacific/Auckland", windows=((0, 1440),))
    slots = tables.find(request(("a",), zone="America/Los_Angeles", duration=45, interval=30))
    assert str(slots["start"].dtype) == "datetime64[ns, UTC]" and str(slots["end"].dtype) == "datetime64[ns, UTC]"
    assert slots["start"].is_monotonic_increasing
    assert (slots["end"] - slots["start"] == pd.Timedelta(minutes=45)).all()
    assert list(slots.columns) == list(planner.SLOT_COLUMNS)
    assert set(slots["members"]) == {("a",)}


def empty_slot_table() -> pd.DataFrame:
    utc = pd.Series([], dtype="datetime64[ns, UTC]")
    objects = {c: pd.Series([], dtype=object) for c in planner.SLOT_COLUMNS[2:]}
    return pd.DataFrame({"start": utc, "end": utc, **objects})


def test_no_slot_is_an_empty_table_with_the_columns_and_dtypes_of_a_full_one() -> None:
    def team() -> Tables:
        return Tables().member("a", "UTC", windows=((540, 600),)).member("p", "UTC").room("r", "UTC", 4)

    req = request(("a",), pools=[("p",)], rooms=("r",), duration=60)
    full = team().find(req)
    assert len(full) == 1
    too_late = request(("a",), pools=[("p",)], rooms=("r",), duration=60, now=dt.datetime(2026, 11, 3, tzinfo=UTC))
    all_busy = team().block("a", "2026-11-02 00:00", "2026-11-03 00:00")
    for empty in (team().find(too_late), all_busy.find(req)):  # no candidate start; none available
        pd.testing.assert_frame_equal(empty, empty_slot_table())
        pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
