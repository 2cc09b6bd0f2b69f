"""Capacity: utilization and free hours per member and room, demand against supply, and how many
meetings still fit per day (meetings first, slot starts second).

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
from planner.charts import COLORS, date_labels

KINDS = {"Team members": "member", "Rooms": "room"}
CATEGORY_COLORS = alt.Scale(domain=["booked", "busy", "free"], range=[COLORS[c] for c in ("booked", "busy", "free")])

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

day_names = dict(zip(sorted(set(table["date"])), date_labels(sorted(set(table["date"])), weekday=True), strict=True))
day_table = table.assign(day=table["date"].map(day_names))
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

# --- demand against supply ----------------------------------------------------------------------
st.subheader("Demand against supply")
with st.spinner("Comparing invitations with the meetings that still fit…"):
    flow, outlook, shapes = state.demand_vs_supply(zone, now)
if flow.empty:
    st.caption("No invitation has been sent yet: demand appears here once invitations go out.")
else:
    weekly = flow.melt(id_vars="week", value_vars=["created", "booked", "expired", "cancelled"],
                       var_name="event", value_name="invitations")
    weekly = weekly.assign(label=weekly["week"].map(dict(zip(flow["week"], date_labels(flow["week"]), strict=True))))
    events = ["created", "booked", "expired", "cancelled"]
    st.altair_chart(
        alt.Chart(weekly)
        .mark_bar()
        .encode(
            x=alt.X("label:O", sort=date_labels(flow["week"]), title=f"week starting (Monday, {zone})",
                    axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("event:N", sort=events),
            y=alt.Y("invitations:Q", title="invitations", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color("event:N", sort=events, title=None, legend=alt.Legend(orient="top"),
                            scale=alt.Scale(domain=events, range=[COLORS[e] for e in ("created", "free", "expired", "cancelled")])),
            tooltip=["label", "event", "invitations"],
        )
        .properties(height=220),
        width="stretch",
    )
if not outlook.empty:
    labels = shapes.set_index("shape")["label"]
    outlook = outlook.assign(
        label=outlook["shape"].map(labels), week_label=outlook["week"].map(lambda d: date_labels([d])[0])
    )
    weeks = list(dict.fromkeys(outlook["week_label"]))
    base = alt.Chart(outlook).encode(x=alt.X("week_label:O", sort=weeks, title="week starting", axis=alt.Axis(labelAngle=0)))
    supply_bars = base.mark_bar(color=COLORS["supply"], opacity=0.8).encode(
        y=alt.Y("supply:Q", title="meetings that fit / invitations expected"),
        tooltip=["label", "week_label", "supply", alt.Tooltip("demand:Q", format=".1f")],
    )
    demand_ticks = base.mark_tick(thickness=3, size=30).encode(
        y="demand:Q",
        color=alt.condition("datum.short", alt.value(COLORS["short"]), alt.value(COLORS["demand"])),
    )
    st.altair_chart(
        alt.layer(supply_bars, demand_ticks).properties(height=160).facet(
            row=alt.Row("label:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=400))
        ),
    )
    short = outlook[outlook["short"]]
    st.caption(
        "Bars: meetings of each common request shape that still fit per week (packed, each shape on its own, "
        "so shapes sharing people compete for the same time). Ticks: expected invitations of that shape, "
        f"{outlook['method'].iloc[0]}, split by the shape's share of all invitations; red where demand would "
        "exceed supply."
    )
    if short.empty:
        st.success("Supply covers the expected demand in every coming week.")
    else:
        st.warning("Demand would exceed supply: " + "; ".join(
            f"{r.label}, week of {r.week_label} ({r.demand:.1f} expected, {r.supply} fit)" for r in short.itertuples()
        ))

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
    starts = state.count_slots(request)
m1, m2 = st.columns(2)
m1.metric(f"{duration}-minute meetings that still fit", int(fits["meetings"].sum()))
m2.metric("Slot starts a customer could pick", f"{starts:,}",
          help="Every start time that is free; many overlap, so far fewer meetings fit than there are starts.")
fits = fits.assign(day=date_labels(fits["date"], weekday=True))
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
