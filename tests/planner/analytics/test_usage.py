"""Utilization and availability by hour, on hand-built masks and organisations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from planner import build_grid
from planner.analytics import availability_by_hour, free_count_by_hour, partition_hours, utilization
from planner.errors import PlannerInputError
from tests.planner.analytics.helpers import MON, TEAM, make_tables, ts

# --- utilization from masks -----------------------------------------------------------------


def test_partition_hours_splits_each_local_day_into_four_categories():
    # Hourly quanta from 2026-11-01 15:00 UTC (= 2026-11-02 00:00 in Tokyo) for 33 hours, so
    # that 2026-11-02 is covered both in London (UTC+0) and in Tokyo (UTC+9).
    quanta = pd.date_range("2026-11-01 15:00", periods=33, freq="h", tz="UTC")
    utc_hour = (quanta - ts("2026-11-02 00:00")) // pd.Timedelta(hours=1)  # -9 .. 23
    ann_hours = (utc_hour >= 9) & (utc_hour < 17)
    ann_booked = (utc_hour >= 10) & (utc_hour < 11)
    # Calendar busy 10-12 (10-11 already booked) and 20-21 (outside hours).
    ann_busy = ((utc_hour >= 10) & (utc_hour < 12)) | ((utc_hour >= 20) & (utc_hour < 21))
    tok_hours = (utc_hour >= 0) & (utc_hour < 8)  # 09:00-17:00 in Tokyo
    table = partition_hours(
        ["ann", "tok"],
        ["Europe/London", "Asia/Tokyo"],
        quanta.as_unit("ns").asi8,
        pd.Timedelta(hours=1),
        np.array([ann_hours, tok_hours]),
        np.array([ann_booked, np.zeros(33, bool)]),
        np.array([ann_busy, np.zeros(33, bool)]),
        MON,
        MON,
    )
    assert table.to_dict("records") == [
        {"resource_id": "ann", "date": MON, "booked": 1.0, "busy": 1.0, "free": 6.0, "outside": 16.0},
        {"resource_id": "tok", "date": MON, "booked": 0.0, "busy": 0.0, "free": 8.0, "outside": 16.0},
    ]


def test_partition_hours_counts_a_25_hour_fall_back_day():
    # 2026-10-25: Europe/Berlin falls back from UTC+2 to UTC+1; the local day lasts 25 hours.
    quanta = pd.date_range("2026-10-24 22:00", "2026-10-25 23:00", freq="30min", tz="UTC", inclusive="left")
    n = len(quanta)
    table = partition_hours(
        ["room"], ["Europe/Berlin"], quanta.as_unit("ns").asi8, pd.Timedelta(minutes=30),
        np.ones((1, n), bool), np.zeros((1, n), bool), np.zeros((1, n), bool),
        dt.date(2026, 10, 25), dt.date(2026, 10, 25),
    )
    assert table[["free", "outside"]].values.tolist() == [[25.0, 0.0]]


# --- utilization on the engine's grid -------------------------------------------------------

UTIL_ORG = make_tables(
    resources=[("ann", "member", "Europe/London", 1), ("blue", "room", "Europe/Berlin", 8)],
    hours=[("ann", 0, 540, 1020), ("blue", 6, 0, 1440)],
    busy=[
        ("ann", "2026-11-02 10:00", "2026-11-02 12:00", "calendar"),
        ("ann", "2026-11-02 10:00", "2026-11-02 11:00", "reservation"),
        ("ann", "2026-11-02 15:02", "2026-11-02 15:07", "calendar"),  # rounds out to 15:00-15:10
        ("ann", "2026-11-02 20:00", "2026-11-02 21:00", "calendar"),  # outside hours
    ],
)


def test_utilization_per_local_day():
    table = utilization(UTIL_ORG, MON, MON, resource_ids=["ann"])
    (row,) = table.to_dict("records")
    assert row["resource_id"] == "ann" and row["name"] == "ANN" and row["date"] == MON
    assert row["booked"] == 1.0
    assert row["busy"] == pytest.approx(1 + 10 / 60)
    assert row["free"] == pytest.approx(6 - 10 / 60)
    assert row["outside"] == 16.0
    assert row["hours"] == 8.0
    assert row["utilization"] == pytest.approx((2 + 10 / 60) / 8)


def test_utilization_per_week_counts_days_and_keeps_the_partition():
    week = utilization(UTIL_ORG, MON, MON + dt.timedelta(days=6), by="week")
    ann = week.set_index("resource_id").loc["ann"]
    assert ann["week"] == MON and ann["days"] == 7
    assert (ann["booked"], ann["hours"], ann["outside"]) == (1.0, 8.0, 160.0)
    # The room opens Sundays around the clock in Berlin: 24 h of free time, nothing else.
    blue = week.set_index("resource_id").loc["blue"]
    assert (blue["free"], blue["outside"], blue["utilization"]) == (24.0, 144.0, 0.0)


def test_utilization_follows_each_zone_across_dst():
    # Sunday 2026-10-25: Berlin falls back, so the room's Sunday has 25 opening hours.
    table = utilization(UTIL_ORG, dt.date(2026, 10, 25), dt.date(2026, 10, 26), resource_ids=["blue"])
    assert table[["date", "free", "outside"]].values.tolist() == [
        [dt.date(2026, 10, 25), 25.0, 0.0],
        [dt.date(2026, 10, 26), 0.0, 24.0],
    ]
    assert np.isnan(table["utilization"].iloc[1])  # no opening hours on Monday


def test_utilization_rejects_a_bad_period_and_grouping():
    with pytest.raises(PlannerInputError, match="before start_date"):
        utilization(UTIL_ORG, MON, MON - dt.timedelta(days=1))
    with pytest.raises(PlannerInputError, match="'month'"):
        utilization(UTIL_ORG, MON, MON, by="month")
    with pytest.raises(PlannerInputError, match="quantum"):
        kolkata = make_tables([("k", "member", "Asia/Kolkata", 1)], [("k", 0, 540, 1020)])
        utilization(kolkata, MON, MON, quantum="60min")


# --- availability by hour ---------------------------------------------------------------------


def monday_grid():
    return build_grid(
        TEAM.resources, TEAM.hours, TEAM.busy, TEAM.overrides,
        start=ts("2026-11-02 00:00"), end=ts("2026-11-03 00:00"),
    )


def test_availability_by_hour_in_own_zone_and_in_another():
    grid = monday_grid()
    own = availability_by_hour(grid, ["ann"], weekdays=(0,))
    assert own.loc["ann"].tolist() == [0.0] * 9 + [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0] + [0.0] * 7
    # Kolkata is 5:30 ahead: free 14:30-17:30 and 18:30-22:30 there.
    kolkata = availability_by_hour(grid, ["ann"], zone="Asia/Kolkata", weekdays=(0,)).loc["ann"]
    assert kolkata[[13, 14, 15, 16, 17, 18, 19, 22, 23]].tolist() == [0.0, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0, 0.5, 0.0]


def test_free_count_by_hour_counts_the_team():
    table = free_count_by_hour(monday_grid(), ["ann", "bob"], zone="Europe/London")
    assert table.index.tolist() == [MON]
    assert table.loc[MON, [8, 9, 10, 11, 12, 13]].tolist() == [0.0, 2.0, 1.0, 2.0, 0.0, 1.0]
