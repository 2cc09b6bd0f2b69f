"""Synthetic organisations: deterministic, realistic, in the planner's table format."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import planner


@pytest.fixture(scope="module")
def org() -> planner.Organisation:
    return planner.generate_organisation(40, 8, dt.date(2026, 10, 5), 56, seed=11)


def test_same_seed_same_tables_other_seed_other_tables(org) -> None:
    again = planner.generate_organisation(40, 8, dt.date(2026, 10, 5), 56, seed=11)
    for name in ("resources", "hours", "overrides", "busy", "pools"):
        pd.testing.assert_frame_equal(getattr(org, name), getattr(again, name))
    other = planner.generate_organisation(40, 8, dt.date(2026, 10, 5), 56, seed=12)
    assert not other.busy.equals(org.busy)


def test_resources_follow_the_contract(org) -> None:
    res = org.resources
    assert list(res.columns) == ["resource_id", "kind", "zone", "capacity", "name", "email"]
    assert res["resource_id"].is_unique
    assert (res["kind"] == "member").sum() == 40 and (res["kind"] == "room").sum() == 8
    members = res[res["kind"] == "member"]
    assert members["email"].is_unique and members["email"].str.endswith("@example.com").all()
    assert members["name"].str.contains(" ").all()
    assert (members["capacity"] == 1).all()
    rooms = res[res["kind"] == "room"]
    assert rooms["capacity"].nunique() > 1 and rooms["email"].isna().all()
    for zone in res["zone"]:
        ZoneInfo(zone)


def test_default_demo_size_spreads_members_over_odd_offset_zones() -> None:
    demo = planner.generate_organisation(12, 5, dt.date(2026, 10, 5), 56, seed=0)
    zones = set(demo.resources.loc[demo.resources["kind"] == "member", "zone"])
    assert len(zones) >= 3 and {"Asia/Kolkata", "Asia/Kathmandu"} <= zones
    assert demo.pools["pool_id"].nunique() == 2


def test_hours_are_weekday_working_hours_with_variety(org) -> None:
    hours = org.hours
    assert set(hours["weekday"]) == {0, 1, 2, 3, 4}
    assert ((0 <= hours["start"]) & (hours["start"] < hours["end"]) & (hours["end"] <= 1440)).all()
    members = set(org.member_ids)
    member_hours = hours[hours["resource_id"].isin(members)]
    assert (member_hours["start"] == 540).mean() > 0.4  # mostly 09:00
    assert member_hours[["start", "end"]].drop_duplicates().shape[0] > 2
    room_hours = hours[~hours["resource_id"].isin(members)]
    assert room_hours[["start", "end"]].drop_duplicates().shape[0] > 1


def test_busy_looks_like_calendars(org) -> None:
    busy = org.busy
    assert str(busy["start"].dtype) == "datetime64[ns, UTC]" and str(busy["end"].dtype) == "datetime64[ns, UTC]"
    assert (busy["start"] < busy["end"]).all()
    assert busy.sort_values(["resource_id", "start", "end"]).index.equals(busy.index)
    per_resource_week = len(busy) / len(org.resources) / 8
    assert 15 <= per_resource_week <= 25
    minutes = (busy["start"].astype("int64") // 60_000_000_000) % 60
    assert ((minutes % 5) != 0).any()  # some minute-level edges
    lengths = busy["end"] - busy["start"]
    assert (lengths >= pd.Timedelta(hours=23)).any()  # all-day absences
    # Daily stand-ups: the same 15-minute block on most working days.
    member = org.member_ids[0]
    mine = busy[busy["resource_id"] == member]
    assert (mine["end"] - mine["start"] == pd.Timedelta(minutes=15)).sum() >= 30


def test_absences_as_overrides_and_pools(org) -> None:
    ov = org.overrides
    assert list(ov.columns) == ["resource_id", "date", "start", "end"]
    assert len(ov) > 0 and ov["start"].isna().all() and ov["end"].isna().all()
    assert all(isinstance(d, dt.date) for d in ov["date"])
    pools = org.pools
    assert list(pools.columns) == ["pool_id", "name", "member_id"]
    assert set(pools["member_id"]) <= set(org.member_ids)
    assert org.pool_members("p0") == tuple(pools.loc[pools["pool_id"] == "p0", "member_id"])
    with pytest.raises(planner.PlannerInputError, match="unknown pool_id"):
        org.pool_members("nope")


def test_tables_feed_the_engine(org) -> None:
    grid = planner.build_grid(org.resources, org.hours, org.busy, org.overrides,
                              start=pd.Timestamp("2026-10-05", tz="UTC"), end=pd.Timestamp("2026-10-12", tz="UTC"))  # fmt: skip
    assert grid.free.any() and grid.busy.any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_members": -1}, "n_members"), ({"zones": ("Nowhere/City",)}, "not an IANA"), ({"absence_rate": 2}, "absence_rate")],
)
def test_bad_arguments(kwargs, message) -> None:
    with pytest.raises(planner.PlannerInputError, match=message):
        planner.generate_organisation(**kwargs)

