"""Demand against supply on small invitation histories, with the expected numbers written out,
and properties that hold for any history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.analytics.demand import HISTORY_COLUMNS, SHAPE_COLUMNS
from planner.errors import PlannerInputError
from tests.planner.analytics.helpers import MON, TEAM, ts

SHAPE = {"members": ("ann",), "pools": (), "rooms": (), "min_capacity": 1, "duration_minutes": 60,
         "buffer_before_minutes": 0, "buffer_after_minutes": 0, "slot_interval_minutes": 60,
         "zone": "Europe/London"}


def history(rows: list[dict]) -> pd.DataFrame:
    base = {c: pd.NaT for c in ("booked_at", "meeting_start", "cancelled_at", "expired_at")} | {"booked_from": None}
    frame = pd.DataFrame([{**base, **SHAPE, "invitation_id": i + 1, **r} for i, r in enumerate(rows)],
                         columns=list(HISTORY_COLUMNS))
    for column in ("created_at", "booked_at", "meeting_start", "cancelled_at", "expired_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


H = history([
    # Week of 19 Oct: three invitations; one booked within the hour from a promoted slot.
    {"created_at": ts("2026-10-19 09:00"), "status": "scheduled", "booked_at": ts("2026-10-19 09:30"),
     "meeting_start": ts("2026-10-21 10:00"), "booked_from": "promoted"},
    {"created_at": ts("2026-10-20 09:00"), "status": "scheduled", "booked_at": ts("2026-10-22 09:00"),
     "meeting_start": ts("2026-11-03 10:00"), "booked_from": "more times"},
    {"created_at": ts("2026-10-21 09:00"), "status": "expired", "expired_at": ts("2026-10-29 00:00")},
    # Week of 26 Oct: one, cancelled the same week; a Sunday evening one in London is Monday in Kolkata.
    {"created_at": ts("2026-10-26 09:00"), "status": "cancelled", "cancelled_at": ts("2026-10-27 09:00")},
    {"created_at": ts("2026-11-01 20:00"), "status": "active", "booked_from": None},
])


def test_flow_counts_each_event_in_its_week():
    assert planner.invitation_flow(H, zone="Europe/London").to_dict("records") == [
        {"week": dt.date(2026, 10, 19), "created": 3, "booked": 2, "expired": 0, "cancelled": 0},
        {"week": dt.date(2026, 10, 26), "created": 2, "booked": 0, "expired": 1, "cancelled": 1},
    ]
    kolkata = planner.invitation_flow(H, zone="Asia/Kolkata")
    assert kolkata["created"].tolist() == [3, 1, 1]  # 01:30 on Monday 2 Nov in Kolkata
    padded = planner.invitation_flow(H, zone="Europe/London", first_week=dt.date(2026, 10, 14),
                                     last_week=dt.date(2026, 11, 4))
    assert padded["week"].tolist()[0] == dt.date(2026, 10, 12) and len(padded) == 4
    assert padded["created"].sum() == 5


def test_time_to_booking_lead_time_and_sources():
    waits = planner.time_to_booking(H)
    assert waits.set_index("bucket")["bookings"].to_dict()["under 1 hour"] == 1
    assert waits.set_index("bucket")["bookings"].to_dict()["1-3 days"] == 1
    assert waits.attrs["bookings"] == 2 and waits["cumulative"].iloc[-1] == pytest.approx(1.0)
    leads = planner.lead_time(H).set_index("bucket")["bookings"].to_dict()
    assert leads["1-3 days"] == 1 and leads["1-2 weeks"] == 1
    sources = planner.booking_sources(H).set_index("source")
    assert sources.loc["promoted", "share"] == pytest.approx(0.5)
    assert sources.loc["not promoted", "bookings"] == 0


def test_forecast_is_the_stated_mean_of_the_last_weeks():
    flow = planner.invitation_flow(H, zone="Europe/London")
    forecast = planner.forecast_demand(flow, weeks=3, window=2)
    assert forecast["forecast"].tolist() == [2.5, 2.5, 2.5]
    assert forecast["week"].tolist() == [dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16)]
    assert "mean of invitations created in the last 2 week(s) (3, 2)" in forecast["method"].iloc[0]


def test_supply_packs_meetings_per_week_and_demand_exceeds_it_when_it_should():
    shapes = planner.request_shapes(H)
    assert shapes[["shape", "invitations", "share"]].values.tolist() == [["S1", 5, 1.0]]
    # Ann works Mondays 09-17 with a busy hour: 7 one-hour meetings fit in the week of 2 Nov.
    supply = planner.weekly_supply(TEAM, shapes, now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), weeks=2)
    # "now" is Sunday 1 Nov: its week has no time left; the week of 2 Nov has 7.
    assert supply[["week", "supply"]].values.tolist() == [[dt.date(2026, 10, 26), 0], [MON, 7]]
    # On Sunday 1 Nov the coming week is the week of 2 Nov; the two whole weeks before the current
    # one (12 and 19 Oct) had 0 and 3 invitations: 1.5 a week.
    table = planner.demand_vs_supply(TEAM, H, now=dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC), weeks=1, window=2)
    assert table[["shape", "week", "supply"]].values.tolist() == [["S1", MON, 7]]
    assert table["demand"].tolist() == [1.5] and not table["short"].any()
    crowded = pd.concat([H] * 6, ignore_index=True).assign(invitation_id=range(1, 31))
    table = planner.demand_vs_supply(TEAM, crowded, now=dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC), weeks=1, window=2)
    assert table["demand"].tolist() == [9.0] and table["short"].tolist() == [True]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: planner.invitation_flow("history"), "must be a pandas DataFrame"),
        (lambda: planner.invitation_flow(H.drop(columns="booked_at")), r"lacks the column\(s\) \['booked_at'\]"),
        (lambda: planner.invitation_flow(H.assign(status="done")), "unknown value"),
        (lambda: planner.invitation_flow(H.assign(created_at=H["created_at"].dt.tz_localize(None))), "tz-aware"),
        (lambda: planner.invitation_flow(H, zone="Mars/Base"), "zone"),
        (lambda: planner.forecast_demand(planner.invitation_flow(H), weeks=0), "weeks must be a whole number"),
        (lambda: planner.request_shapes(H, top=0), "top must be"),
        (lambda: planner.weekly_supply(TEAM, planner.request_shapes(H), now=dt.datetime(2026, 11, 1)), "tz-aware"),
        (lambda: planner.booking_sources(H.assign(booked_from="email")), "unknown value"),
    ],
)
def test_bad_input_is_named_at_the_boundary(call, match):
    with pytest.raises(PlannerInputError, match=match):
        call()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    weeks=st.integers(1, 10),
    per_week=st.floats(0.5, 30),
    zone=st.sampled_from(["UTC", "Europe/London", "Asia/Kolkata", "America/St_Johns"]),
)
def test_flow_and_distributions_account_for_every_invitation(seed, weeks, per_week, zone):
    end = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    h = planner.generate_invitation_history([SHAPE], end=end, weeks=weeks, per_week=per_week, seed=seed)
    flow = planner.invitation_flow(h, zone=zone)
    assert flow["created"].sum() == len(h)
    assert flow["booked"].sum() == h["booked_at"].notna().sum()
    assert flow["expired"].sum() == (h["status"] == "expired").sum()
    assert flow["cancelled"].sum() == (h["status"] == "cancelled").sum()
    if len(flow):
        weeks_seen = pd.Series(flow["week"])
        assert (weeks_seen.map(lambda d: d.weekday()) == 0).all()
        assert (np.diff([d.toordinal() for d in weeks_seen]) == 7).all()
    for table in (planner.time_to_booking(h), planner.lead_time(h)):
        assert table["bookings"].sum() == h["booked_at"].notna().sum()
        assert table["cumulative"].is_monotonic_increasing
    sources = planner.booking_sources(h)
    shares = sources["share"].iloc[:2]
    assert shares.isna().all() or shares.sum() == pytest.approx(1.0)
    forecast = planner.forecast_demand(flow, weeks=2, window=4) if len(flow) else None
    if forecast is not None:
        assert forecast["forecast"].iloc[0] == pytest.approx(flow["created"].tail(4).mean())


def test_capacity_overview_adds_pools_to_members_and_rooms():
    org = TEAM.__class__(**{**TEAM.__dict__, "pools": pd.DataFrame(
        {"pool_id": ["p", "p"], "name": ["Sales", "Sales"], "member_id": ["bob", "cat"]})})
    table = planner.capacity_overview(org, MON, MON, by="day")
    assert table["level"].value_counts().to_dict() == {"member": 3, "room": 3, "pool": 1}
    pool = table[table["level"] == "pool"].iloc[0]
    members = table[table["id"].isin(["bob", "cat"])]
    assert (pool["name"], pool["size"]) == ("Sales", 2)
    assert pool["hours"] == members["hours"].sum() == 7.0  # Bob 09-12, Cat 13-17
    assert pool["busy"] == 1.0 and pool["utilization"] == pytest.approx(1 / 7)
    weekly = planner.capacity_overview(org, MON, MON + dt.timedelta(days=6))
    assert "week" in weekly.columns and weekly.loc[weekly["level"] == "pool", "days"].tolist() == [7]


def test_reprs_are_short_summaries():
    grid = planner.OrgGrid.build(TEAM.resources, TEAM.hours, TEAM.busy, TEAM.overrides,
                                 start=ts("2026-11-02"), end=ts("2026-11-03"))
    assert repr(grid).startswith("OrgGrid(6 resources x 288 quanta of 5 min") and len(repr(grid)) < 200
    assert "<code>" in grid._repr_html_()
    snapshot = grid.availability()
    assert repr(snapshot).startswith("AvailabilityGrid(6 resources x 288 quanta") and len(repr(snapshot)) < 200
    assert "array" not in repr(snapshot)
    req = planner.SlotRequest(members=("ann",), duration=pd.Timedelta(minutes=60), interval=pd.Timedelta(minutes=60),
                              frame_start=MON, frame_end=MON, zone="Europe/London",
                              now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    slots = planner.find_slots(req, TEAM.resources, TEAM.hours, TEAM.busy, TEAM.overrides)
    promotion = planner.promote_slots(slots, planner.PromoteContext(zone="Europe/London", now=req.now), k=3)
    assert repr(promotion).startswith("Promotion(3 of 7 slots") and "Mon 02 Nov" in repr(promotion)
    assert promotion._repr_html_().count("<tr>") == 4  # a header and the three picks


def test_shape_columns_are_the_request_fields():
    assert set(SHAPE_COLUMNS) <= set(HISTORY_COLUMNS)
