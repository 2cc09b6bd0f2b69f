"""Meetings: the scheduled meetings, filtered by date and team member; cancel one.

Cancelling acts through the form's callback on the meeting that was picked, so a meeting a
colleague cancelled a moment before is refused with what happened (not a traceback, and never
another meeting of the list).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from booking_service.core.clock import utcnow
from booking_service.services import assignment, booking, queries
from dashboard import state, views

ALL = 0

st.title("Meetings")
views.show_flash()
me = state.current_user()
zone = state.user_zone()
today = utcnow().astimezone(ZoneInfo(zone)).date()

with state.session() as s:
    members = queries.team_members(s, include_inactive=True)
member_names = {ALL: "Everyone", **{m.id: m.name for m in members}}

left, right = st.columns([2, 1])
picked_dates = left.date_input(
    f"Dates ({zone})", value=(today, today + dt.timedelta(days=27)), key="meetings-dates",
)
if "meetings-member" not in st.session_state:  # a shared link names the member: ?member=<id>
    wanted = st.query_params.get("member", "")
    st.session_state["meetings-member"] = int(wanted) if wanted.isdigit() and int(wanted) in member_names else ALL


def _share_member() -> None:
    chosen = st.session_state["meetings-member"]
    if chosen:
        st.query_params["member"] = str(chosen)
    else:
        st.query_params.pop("member", None)


member_id = right.selectbox(
    "Team member", list(member_names), format_func=member_names.get, key="meetings-member", on_change=_share_member
)
if not isinstance(picked_dates, tuple | list) or len(picked_dates) != 2:
    st.info("Pick the last date of the range too.")
    st.stop()
first, last = picked_dates
start = dt.datetime.combine(first, dt.time(), ZoneInfo(zone))
end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), ZoneInfo(zone))

with state.session() as s:
    meetings = queries.meetings(s, me, start=start, end=end, resource_id=member_id or None)
    assigned = assignment.explanations(s, [m.id for m in meetings])

if not meetings:
    st.info(
        "No meetings in this range"
        + (f" for {member_names[member_id]}" if member_id else "")
        + ". Meetings appear here as soon as a customer confirms a time."
    )
    st.stop()


def attendees(meeting, kind: str) -> str:
    return ", ".join(sorted(r.resource.name for r in meeting.reservations if r.resource.kind == kind)) or "—"


table = pd.DataFrame(
    [
        {
            "Customer": f"{m.customer_name} <{m.customer_email}>",
            "Subject": m.invitation.subject,
            f"When ({zone})": f"{views.short_when(m.start, zone)}–{views.short_when(m.end, zone)[-5:]}",
            "Team member": attendees(m, "member"),
            "Room": attendees(m, "room"),
            "Assigned": "; ".join(assigned.get(m.id, [])) or "—",
        }
        for m in meetings
    ]
)
st.caption(f"{len(meetings)} meeting(s) from {views.frame_text(first, last)}.")
st.dataframe(table, hide_index=True, width="stretch")

st.subheader("Cancel a meeting")
by_id = {m.id: m for m in meetings}


def _cancel(who: dict[int, tuple[str, str]]) -> None:
    chosen = st.session_state["cancel-meeting-pick"]
    reason = st.session_state["cancel-meeting-reason"]
    try:
        with state.session(write=True) as s:
            settings = state.settings()
            booking.cancel_meeting(s, chosen, by=state.current_user(), secret_key=settings.secret_key,
                                   reason=reason, settings=settings)
    except state.REFUSED as exc:
        views.flash(str(exc), "error")
        return
    state.data_changed()
    name, email = who[chosen]
    views.flash(
        f"Cancelled the meeting with {name}; the time is free again and the cancellation is in the outbox for {email}."
    )


with st.form("cancel-meeting"):
    st.selectbox(
        "Meeting",
        list(by_id),
        format_func=lambda i: f"{by_id[i].customer_name} — {views.when(by_id[i].start, by_id[i].end, zone)}",
        key="cancel-meeting-pick",
    )
    st.text_input("Reason (sent to the customer)", key="cancel-meeting-reason")
    st.form_submit_button(
        "Cancel meeting", type="primary", on_click=_cancel,
        args=({m.id: (m.customer_name, m.customer_email) for m in meetings},),
    )
