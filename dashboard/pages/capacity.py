"""Capacity: utilization and free hours per member and room, and how many meetings still fit per day.

Every number comes from :mod:`planner.analytics` on the cached organisation tables.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

import planner
from booking_service.core.clock import utcnow
from booking_service.services import queries
from dashboard import state, views

KINDS = {"Team members": "member", "Rooms": "room"}
CATEGORY_COLORS = alt.Scale(domain=["booked", "busy", "free"], range=["#2456d6", "#9aa5b8", "#3fae6a"])

st.title("Capacity")
zone = state.user_zone()
now = utcnow().replace(second=0, microsecond=0)
today = now.astimezone(ZoneInfo(zone)).date()

left, right = st.columns([2, 1])
picked = left.date_input(
    "Dates", value=(today, today + dt.timedelta(days=13)), key="capacity-dates",
    min_value=today - dt.timedelta(days=state.HISTORY_DAYS), max_value=today + dt.timedelta(days=365),
)
kind_label = right.segmented_control("Show", list(KINDS), default="Team members", key="capacity-kind")
if not isinstance(picked, tuple | list) or len(picked) != 2:
    st.info("Pick the last date of the range too.")
    st.stop()
first, last = picked
kind = KINDS[kind_label or "Team members"]

with st.spinner("Measuring utilization…"):
    table = state.utilization(first, last)
table = table[table["kind"] == kind]
if table.empty:
    st.info(f"No {kind_label.lower()} yet: add them under **Team and rooms**.")
    st.stop()

st.subheader("Utilization")
totals = table.groupby(["resource_id", "name"], as_index=False)[["booked", "busy", "free"]].sum()
totals["hours"] = totals[["booked", "busy", "free"]].sum(axis=1)
hours = float(totals["hours"].sum())
c1, c2, c3 = st.columns(3)
c1.metric("Working hours" if kind == "member" else "Opening hours", f"{hours:,.0f} h")
c2.metric("Free hours", f"{totals['free'].sum():,.0f} h")
c3.metric("Utilization", f"{(totals['booked'].sum() + totals['busy'].sum()) / hours:.0%}" if hours else "—")
st.caption(
    f"{views.frame_text(first, last)}, each {kind}'s own local days. Booked = Slotwise meetings "
    "(with their buffers); busy = connected calendars; free = within hours and neither."
)

day_table = table.assign(day=pd.to_datetime(table["date"]).dt.strftime("%a %d %b"))
days = list(dict.fromkeys(day_table.sort_values("date")["day"]))
heatmap = (
    alt.Chart(day_table)
    .mark_rect()
    .encode(
        x=alt.X("day:O", sort=days, title=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("name:N", title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        color=alt.Color("utilization:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="utilization"),
        tooltip=["name", "day", alt.Tooltip("utilization:Q", format=".0%"), "booked", "busy", "free"],
    )
    .properties(height=max(120, 26 * table["name"].nunique()))
)
st.altair_chart(heatmap, width="stretch")

long = totals.melt(id_vars=["name"], value_vars=["booked", "busy", "free"], var_name="category", value_name="h")
bars = (
    alt.Chart(long)
    .mark_bar()
    .encode(
        x=alt.X("h:Q", title="hours", stack="zero"),
        y=alt.Y("name:N", title=None, sort=alt.EncodingSortField("h", op="sum", order="descending"),
                axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        color=alt.Color("category:N", scale=CATEGORY_COLORS, title=None),
        tooltip=["name", "category", alt.Tooltip("h:Q", format=".1f")],
    )
    .properties(height=max(120, 26 * len(totals)))
)
st.altair_chart(bars, width="stretch")

# --- fairness in pools ---------------------------------------------------------------------------
st.subheader("Fairness in pools")
shares = state.pool_fairness_over_time(zone)
if shares.empty:
    st.caption("No meeting has been assigned from a pool yet.")
else:
    pool_choice = st.selectbox("Pool", sorted(shares["pool"].unique()), key="capacity-fairness-pool")
    mine = shares[shares["pool"] == pool_choice].assign(period=lambda d: pd.to_datetime(d["period"]))
    st.caption(
        f"Each member's share of the pool's bookings so far, week by week ({zone}), against the share "
        "their weight targets (dashed)."
    )
    line = alt.Chart(mine).mark_line(point=True).encode(
        x=alt.X("period:T", title="week"), y=alt.Y("share:Q", title="share of bookings", axis=alt.Axis(format="%")),
        color=alt.Color("member:N", title=None), tooltip=["member", "period", "bookings", "cumulative", "share", "target_share"],
    )
    target = alt.Chart(mine).mark_line(strokeDash=[4, 4]).encode(x="period:T", y="target_share:Q", color="member:N")
    st.altair_chart(line + target, width="stretch")

# --- meetings that still fit ---------------------------------------------------------------------
st.subheader("Meetings that still fit")
with state.session() as s:
    members = queries.team_members(s)
    pools = queries.pools(s)
member_names = {str(m.id): m.name for m in members}
pool_names = {p.id: p.name for p in pools}
pool_ids = {p.id: tuple(str(m.id) for m in p.members if m.active) for p in pools}
c1, c2, c3 = st.columns([2, 2, 1])
chosen_members = c1.multiselect(
    "Team members (all attend)", list(member_names), format_func=member_names.get, key="capacity-members",
    default=list(member_names)[:1],
)
chosen_pools = c2.multiselect("Pools (any one attends)", list(pool_names), format_func=pool_names.get,
                              key="capacity-pools")
duration = c3.selectbox("Length (minutes)", (15, 30, 45, 60, 90, 120), index=1, key="capacity-duration")
if not chosen_members and not chosen_pools:
    st.info("Choose team members or a pool to see how many meetings still fit.")
    st.stop()
request = planner.SlotRequest(
    members=tuple(chosen_members),
    pools=tuple(pool_ids[p] for p in chosen_pools),
    duration=pd.Timedelta(minutes=duration),
    interval=pd.Timedelta(minutes=15),
    frame_start=max(first, today),
    frame_end=max(last, today),
    zone=zone,
    now=now,
)
with st.spinner("Packing meetings into the free time…"):
    fits = state.free_capacity(request)
st.metric(f"{duration}-minute meetings that still fit", int(fits["meetings"].sum()))
fits = fits.assign(day=pd.to_datetime(fits["date"]).dt.strftime("%a %d %b"))
st.altair_chart(
    alt.Chart(fits)
    .mark_bar(color="#3fae6a")
    .encode(
        x=alt.X("day:O", sort=list(fits["day"]), title=None, axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("meetings:Q", title="meetings"),
        tooltip=["day", "meetings"],
    )
    .properties(height=220),
    width="stretch",
)
st.caption(
    f"Days in {zone}, from today on. Meetings are packed earliest first without overlapping anyone "
    "involved; with pools this is a lower bound."
)
