"""Hand-written wall-clock cases: DST changes and non-hour offsets, local times written out."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tests.planner.helpers import Tables, request, ts
from tests.planner.oracle import Oracle

NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
KOLKATA = "Asia/Kolkata"
ST_JOHNS = "America/St_Johns"
KATHMANDU = "Asia/Kathmandu"


def local(starts: list[pd.Timestamp], zone: str) -> list[str]:
    """Starts as local wall-clock text with the UTC offset, e.g. '2026-11-01 09:00-05:00'."""
    return [t.tz_convert(zone).strftime("%Y-%m-%d %H:%M%z") for t in starts]


def agrees_with_oracle(tables: Tables, req) -> bool:
    got = [t.to_pydatetime() for t in tables.starts(req)]
    return got == [s.start for s in Oracle(*tables.frames()).slots(req)]


def test_new_york_hours_stay_at_nine_local_across_fall_back() -> None:
    tables = Tables().member("a", NY, windows=((540, 600),))
    req = request(zone=NY, first=dt.date(2026, 10, 31), last=dt.date(2026, 11, 2))
    starts = tables.starts(req)
    assert local(starts, NY) == ["2026-10-31 09:00-0400", "2026-11-01 09:00-0500", "2026-11-02 09:00-0500"]
    assert [t.strftime("%H:%M") for t in starts] == ["13:00", "14:00", "14:00"]  # UTC shifts by an hour


def test_new_york_fall_back_window_spanning_the_repeated_hour_is_three_hours() -> None:
    # Sunday 2026-11-01 01:00-03:00 local: 01:00 EDT (05:00Z) to 03:00 EST (08:00Z).
    tables = Tables().member("a", NY, days=[6], windows=((60, 180),))
    req = request(zone="UTC", first=dt.date(2026, 11, 1))
    starts = tables.starts(req)
    assert [t.strftime("%H:%M") for t in starts] == ["05:00", "06:00", "07:00"]
    assert local(starts, NY) == ["2026-11-01 01:00-0400", "2026-11-01 01:00-0500", "2026-11-01 02:00-0500"]
    assert agrees_with_oracle(tables, req)


def test_new_york_fall_back_day_offers_both_occurrences_of_the_repeated_wall_times() -> None:
    tables = Tables().member("a", "UTC", windows=((0, 1440),))
    req = request(("a",), zone=NY, first=dt.date(2026, 11, 1), interval=60, duration=60)
    starts = tables.starts(req)
    assert len(starts) == 25  # a 25-hour day
    assert local(starts, NY)[:4] == [
        "2026-11-01 00:00-0400",
        "2026-11-01 01:00-0400",
        "2026-11-01 01:00-0500",
        "2026-11-01 02:00-0500",
    ]
    assert agrees_with_oracle(tables, req)


def test_new_york_spring_forward_day_has_no_two_o_clock() -> None:
    tables = Tables().member("a", "UTC", windows=((0, 1440),))
    req = request(("a",), zone=NY, first=dt.date(2026, 3, 8), interval=30, duration=30)
    starts = local(tables.starts(req), NY)
    assert len(starts) == 46  # a 23-hour day
    assert starts[3:6] == ["2026-03-08 01:30-0500", "2026-03-08 03:00-0400", "2026-03-08 03:30-0400"]
    assert agrees_with_oracle(tables, req)


def test_london_hours_across_2026_10_25() -> None:
    tables = Tables().member("a", LONDON, windows=((540, 570),))
    req = request(zone=LONDON, first=dt.date(2026, 10, 24), last=dt.date(2026, 10, 26), duration=30, interval=30)
    starts = tables.starts(req)
    assert local(starts, LONDON) == ["2026-10-24 09:00+0100", "2026-10-25 09:00+0000", "2026-10-26 09:00+0000"]
    assert [t.strftime("%m-%d %H:%M") for t in starts] == ["10-24 08:00", "10-25 09:00", "10-26 09:00"]


def test_lord_howe_half_hour_spring_forward() -> None:
    # 2026-10-04 02:00 +10:30 becomes 02:30 +11:00. Window 01:00-04:00 local is
    # 14:30Z..17:00Z (two and a half real hours).
    tables = Tables().member("a", LORD_HOWE, days=[6], windows=((60, 240),))
    req = request(zone=LORD_HOWE, first=dt.date(2026, 10, 4), duration=30, interval=30)
    starts = tables.starts(req)
    assert local(starts, LORD_HOWE) == [
        "2026-10-04 01:00+1030",
        "2026-10-04 01:30+1030",
        "2026-10-04 02:30+1100",
        "2026-10-04 03:00+1100",
        "2026-10-04 03:30+1100",
    ]
    assert agrees_with_oracle(tables, req)


def test_lord_howe_window_starting_in_the_gap_starts_at_the_transition() -> None:
    # 02:00 does not exist on 2026-10-04; the window starts at the transition
    # (02:30 +11:00 = 15:30Z), not half an hour later as pandas' shift_forward would.
    tables = Tables().member("a", LORD_HOWE, days=[6], windows=((120, 180),))
    req = request(zone="UTC", first=dt.date(2026, 10, 3), duration=30, interval=30)
    starts = tables.starts(req)
    assert [t.strftime("%H:%M") for t in starts] == ["15:30"]
    assert agrees_with_oracle(tables, req)


def test_lord_howe_half_hour_fall_back() -> None:
    # 2026-04-05 02:00 +11:00 becomes 01:30 +10:30: 01:00-03:00 local is 14:00Z..16:30Z.
    tables = Tables().member("a", LORD_HOWE, days=[6], windows=((60, 180),))
    req = request(zone="UTC", first=dt.date(2026, 4, 4), duration=30, interval=30)
    starts = tables.starts(req)
    assert [t.strftime("%H:%M") for t in starts] == ["14:00", "14:30", "15:00", "15:30", "16:00"]
    assert local(starts, LORD_HOWE)[1:4] == ["2026-04-05 01:30+1100", "2026-04-05 01:30+1030", "2026-04-05 02:00+1030"]
    assert agrees_with_oracle(tables, req)


def test_kolkata_half_hour_offset_on_a_utc_grid() -> None:
    # 09:00-17:00 IST is 03:30Z-11:30Z; hourly UTC starts fit 04:00Z..10:00Z.
    tables = Tables().member("a", KOLKATA)
    req = request(zone="UTC", first=dt.date(2026, 11, 2), duration=60, interval=60)
    starts = tables.starts(req)
    assert [t.strftime("%H:%M") for t in starts] == ["04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00"]
    half_hourly = tables.starts(request(zone="UTC", first=dt.date(2026, 11, 2), duration=60, interval=30))
    assert half_hourly[0].strftime("%H:%M") == "03:30" and half_hourly[-1].strftime("%H:%M") == "10:30"


def test_st_johns_minus_two_thirty_then_minus_three_thirty() -> None:
    # Newfoundland leaves DST on 2026-11-01: 09:00 NDT is 11:30Z, 09:00 NST is 12:30Z.
    tables = Tables().member("a", ST_JOHNS, windows=((540, 570),))
    req = request(zone=ST_JOHNS, first=dt.date(2026, 10, 31), last=dt.date(2026, 11, 1), duration=30, interval=30)
    starts = tables.starts(req)
    assert local(starts, ST_JOHNS) == ["2026-10-31 09:00-0230", "2026-11-01 09:00-0330"]
    assert [t.strftime("%H:%M") for t in starts] == ["11:30", "12:30"]


def test_kathmandu_quarter_hour_offset() -> None:
    # 09:00-17:00 +05:45 is 03:15Z-11:15Z.
    tables = Tables().member("a", KATHMANDU)
    quarter = tables.starts(request(zone="UTC", first=dt.date(2026, 11, 2), duration=30, interval=15))
    assert quarter[0] == ts("2026-11-02 03:15") and quarter[-1] == ts("2026-11-02 10:45")
    assert len(quarter) == 31
    hourly = tables.starts(request(zone="UTC", first=dt.date(2026, 11, 2), duration=30, interval=60))
    assert [t.strftime("%H:%M") for t in hourly] == ["04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00"]


def test_members_in_three_zones_meet_only_in_their_common_hours() -> None:
    # London 09:00-17:00 GMT (09-17Z), New York 09:00-17:00 EST (14-22Z),
    # Kolkata 18:30-23:00 IST (13-17:30Z): common 14:00Z-17:00Z.
    tables = (
        Tables()
        .member("lon", LONDON)
        .member("ny", NY)
        .member("kol", KOLKATA, windows=((1110, 1380),))
    )
    req = request(("lon", "ny", "kol"), zone=KOLKATA, first=dt.date(2026, 11, 3), duration=60, interval=30)
    starts = tables.starts(req)
    assert local(starts, KOLKATA) == [
        "2026-11-03 19:30+0530",
        "2026-11-03 20:00+0530",
        "2026-11-03 20:30+0530",
        "2026-11-03 21:00+0530",
        "2026-11-03 21:30+0530",
    ]


def test_candidate_starts_list_both_occurrences_of_a_repeated_hour_and_none_of_a_skipped_one() -> None:
    from planner.slots import candidate_starts

    def walls(first: dt.date) -> list[str]:
        got = candidate_starts(request(zone=LONDON, first=first, duration=60, interval=60))
        assert got.dtype == "int64" and (got[1:] > got[:-1]).all()
        return local(list(pd.to_datetime(got, utc=True)), LONDON)

    fall_back = walls(dt.date(2026, 10, 25))
    assert fall_back[:4] == ["2026-10-25 00:00+0100", "2026-10-25 01:00+0100", "2026-10-25 01:00+0000",
                             "2026-10-25 02:00+0000"]
    assert len(fall_back) == 25 and fall_back[-1] == "2026-10-25 23:00+0000"  # a day of 25 hours
    spring = walls(dt.date(2026, 3, 29))
    assert spring[:3] == ["2026-03-29 00:00+0000", "2026-03-29 02:00+0100", "2026-03-29 03:00+0100"]
    assert len(spring) == 23 and spring[-1] == "2026-03-29 23:00+0100"  # a day of 23 hours


def test_monrovia_minus_forty_four_thirty_then_utc_keeps_each_days_starts_on_its_own_grid() -> None:
    # Africa/Monrovia kept -00:44:30 until 1972-01-07; local whole hours then fall at :44:30 UTC,
    # and at :00 UTC after the change.
    zone = "Africa/Monrovia"
    tables = Tables().member("a", zone, windows=((480, 660),))
    req = request(zone=zone, first=dt.date(1972, 1, 6), last=dt.date(1972, 1, 7), now=dt.datetime(1972, 1, 1, tzinfo=dt.UTC))
    starts = tables.starts(req)
    assert starts == [ts(t) for t in ("1972-01-06 08:44:30", "1972-01-06 09:44:30", "1972-01-06 10:44:30",
                                       "1972-01-07 08:00", "1972-01-07 09:00", "1972-01-07 10:00")]  # fmt: skip
    assert agrees_with_oracle(tables, req)


def test_windows_convert_as_their_starts_and_ends_do_one_side_at_a_time() -> None:
    import numpy as np

    from planner.zones import wall_to_utc_zones, windows_to_utc_zones

    zones = (NY, LONDON, LORD_HOWE, ST_JOHNS, KATHMANDU)
    rng = np.random.default_rng(7)
    # Windows up to a day long starting on days of DST changes (both ways, in both hemispheres)
    # and around a new year.
    dates = ("2025-10-05", "2025-12-31", "2026-01-01", "2026-03-08", "2026-03-29", "2026-04-05",
             "2026-10-25", "2026-11-01", "2026-12-31")  # fmt: skip
    days = np.array([(dt.date.fromisoformat(d) - dt.date(1970, 1, 1)).days for d in dates], dtype=np.int64)
    start = rng.choice(days, 5000) * 1440 + rng.integers(0, 1440, 5000)
    end = start + rng.integers(1, 1441, 5000)
    code = rng.integers(0, len(zones), 5000)
    got_start, got_end = windows_to_utc_zones(start, end, code, zones)
    assert np.array_equal(got_start, wall_to_utc_zones(start, code, zones, "start"))
    assert np.array_equal(got_end, wall_to_utc_zones(end, code, zones, "end"))
