"""Fairness view: bookings per pool member against target share, overall and over time."""

from __future__ import annotations

import pandas as pd
import pytest

from planner import PlannerInputError
from planner.teams import fairness, fairness_over_time


def _tables():
    at = pd.to_datetime(["2026-11-02 10:00", "2026-11-03 10:00", "2026-11-10 10:00", "2026-11-11 10:00"], utc=True)
    assignments = pd.DataFrame({"pool_id": ["1"] * 4, "member_id": ["a", "a", "b", "a"], "at": at,
                                "counted": [True, True, True, False]})  # fmt: skip
    targets = pd.DataFrame({"pool_id": ["1", "1", "1"], "member_id": ["a", "b", "c"], "weight": [2.0, 1.0, 1.0]})
    return assignments, targets


def test_fairness_counts_shares_against_weights() -> None:
    out = fairness(*_tables())
    assert out["member_id"].tolist() == ["a", "b", "c"]
    assert out["bookings"].tolist() == [2, 1, 0]  # the given-back one does not count
    assert out["share"].round(3).tolist() == [0.667, 0.333, 0.0]
    assert out["target_share"].tolist() == [0.5, 0.25, 0.25]
    assert out["gap"].round(3).tolist() == [0.167, 0.083, -0.25]
    recent = fairness(*_tables(), since=pd.Timestamp("2026-11-09", tz="UTC"))
    assert recent["bookings"].tolist() == [0, 1, 0]


def test_fairness_over_time_is_cumulative_per_week() -> None:
    out = fairness_over_time(*_tables(), freq="W-MON", zone="Europe/London")
    a = out[out["member_id"] == "a"]
    assert [str(p) for p in a["period"]] == ["2026-11-02", "2026-11-09"]
    assert a["bookings"].tolist() == [2, 0]
    assert a["cumulative"].tolist() == [2, 2]
    assert a["share"].round(3).tolist() == [1.0, 0.667]


def test_fairness_refuses_missing_columns() -> None:
    assignments, targets = _tables()
    with pytest.raises(PlannerInputError, match="missing weight"):
        fairness(assignments, targets.drop(columns="weight"))
