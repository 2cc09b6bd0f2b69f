"""Meetings: the scheduled meetings, filtered by date and team member; resend a customer's
confirmation or cancel a meeting; the cancelled ones, by whom and why.

Nothing is picked until the scheduler picks it. The buttons act on the meeting bound to them when
they were drawn, so a meeting a colleague cancelled a moment before is refused with what happened
(not a traceback, and never another meeting of the list). Cancelling asks first, in a dialog that
names the meeting and everyone who will be told; resending sends one mail to the customer, the
first confirmation again, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from booking_service.core import display
from booking_service.core.clock import utcnow
from booking_service.services import assignment, booking, queries
from dashboard import state, views

ALL = 0


def _resend(meeting_id: int, customer: str) -> Callable[[], None]:
    """The Resend button's action (through :func:`state.one_at_a_time`); the page changes only in the outcome."""
    try:
        with state.session(write=True) as s:
            settings = state.settings()
            booking.resend_confirmation(s, meeting_id, by=state.current_user(), secret_key=settings.secret_key,
                                        settings=settings)
    except state.REFUSED as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    return partial(views.flash, f"The confirmation is in the outbox for {customer} again: the same calendar invite "
                   "and the same links to reschedule or cancel.")


def _cancel(payload: dict) -> None:
    try:
        with state.session(write=True) as s:
            settings = state.settings()
            booking.cancel_meeting(s, payload["id"], by=state.current_user(), secret_key=settings.secret_key,
                                   reason=payload["reason"], settings=settings)
    except state.REFUSED as exc:
        views.flash(str(exc), "error")
        return
    state.data_changed()
    views.flash(
        f"Cancelled the meeting with {payload['customer']}; the time is free again and the cancellation is in the "
        f"outbox for {', '.join(email for _, email in payload['told'])}."
    )


def _cancel_text(payload: dict) -> str:
    told = "\n".join(f"- {name} <{email}>" for name, email in payload["told"])
    return (
        f"Cancel the meeting with **{payload['customer']}**, {payload['when']}?\n\n"
        f"The time is freed and a cancellation email with a calendar update goes to:\n\n{told}\n\n"
        "This cannot be undone."
    )


def _reason(payload: dict) -> dict:
    reason = st.text_input("Reason (optional; everyone told reads it)", key=f"cancel-meeting-{payload['id']}-reason")
    return {"reason": reason.strip()}


st.title("Meetings")
views.show_flash()
views.confirm_dialog("cancel-meeting", "Cancel this meeting?", _cancel_text, "Cancel meeting", _cancel,
                     busy="Cancelling…", inputs=_reason)
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
    cancelled = queries.meetings(s, me, start=start, end=end, status="cancelled")
    assigned = assignment.explanations(s, [m.id for m in meetings])


def show_cancelled() -> None:
    """Who cancelled, and the customer's reason: what the scheduler needs to follow up."""
    if not cancelled:
        return
    with st.expander(f"Cancelled ({len(cancelled)})"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Customer": f"{m.customer_name} <{m.customer_email}>",
                        "Subject": m.invitation.subject,
                        f"Was ({zone})": views.short_when(m.start, zone),
                        "Cancelled by": {"customer": "the customer", "scheduler": "a scheduler"}.get(
                            m.cancelled_by or "", "—"),
                        "Reason": m.cancel_reason or "",
                    }
                    for m in cancelled
                ]
            ),
            hide_index=True,
            width="stretch",
        )


if not meetings:
    st.info(
        "No meetings in this range"
        + (f" for {member_names[member_id]}" if member_id else "")
        + ". Meetings appear here as soon as a customer confirms a time."
    )
    show_cancelled()
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
per_day = [
    (display.local(m.start, zone).date(), r.resource.name)
    for m in meetings for r in m.reservations if r.resource.kind == "member"
]
if per_day:
    data, spec = views.meetings_per_day(per_day, first, last)
    st.vega_lite_chart(data, spec, width="stretch")
st.dataframe(table, hide_index=True, width="stretch")
show_cancelled()

st.subheader("Resend a confirmation or cancel a meeting")
by_id = {m.id: m for m in meetings}
chosen = st.selectbox(
    "Meeting",
    list(by_id),
    index=None,
    placeholder="Pick a meeting",
    format_func=lambda i: f"{by_id[i].customer_name} — {views.when(by_id[i].start, by_id[i].end, zone)}",
    key="meetings-pick",
)
picked = by_id.get(chosen)
told = []
if picked is not None:
    with state.session() as s:
        told = booking.cancellation_recipients(s, picked.id)
not_picked = None if picked is not None else "Pick a meeting first"
resend, cancel = st.columns(2)
resend.button(
    "Resend the confirmation", key="meetings-resend", width="stretch", disabled=picked is None,
    help=not_picked or f"Send {picked.customer_email} the confirmation again, for a customer who lost it",
    on_click=state.one_at_a_time,
    args=(_resend, picked.id, f"{picked.customer_name} <{picked.customer_email}>") if picked else None,
)
cancel.button(
    "Cancel meeting…", key="cancel-meeting", type="primary", width="stretch", disabled=picked is None,
    help=not_picked, on_click=views.ask_to_confirm,
    args=("cancel-meeting", {"id": picked.id, "customer": picked.customer_name, "told": told,
                             "when": views.when(picked.start, picked.end, zone)}) if picked else None,
)
