"""Calendars: the connected calendars of team members and rooms, with their last sync and status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service.calendars.writeback import writeback_problems
from booking_service.services import queries
from dashboard import calendar_admin, state, views

KINDS = {"ics_url": "ICS link", "ics_file": "ICS file", "caldav": "CalDAV", "demo": "Demo"}

st.title("Calendars")
views.show_flash()
me = state.current_user()
calendar_admin.render(me)
zone = state.user_zone()
with state.session() as s:
    connections = queries.calendar_connections(s)

if not connections:
    st.info("No calendars connected yet: busy time then comes only from Slotwise's own meetings.")
    st.stop()

table = pd.DataFrame(
    [
        {
            "Member or room": c.resource.name,
            "Calendar": c.name,
            "Kind": KINDS.get(c.kind, c.kind),
            f"Last sync ({zone})": views.short_when(c.last_synced_at, zone),
            "Status": c.last_status,
            "Last error": c.last_error or "",
            "Writes meetings": c.write_back,
        }
        for c in connections
    ]
)
failing = table["Status"].isin(["error", "failed"]).sum()
if failing:
    st.warning(f"{failing} calendar(s) failed at their last sync; their busy time may be out of date.")
st.dataframe(table, hide_index=True, width="stretch")

# Meetings that could not be written to (or removed from) a CalDAV calendar yet. Bookings are
# never held up by this; Slotwise retries, and a later success clears the row.
with state.session() as s:
    write_problems = writeback_problems(s, me)
if write_problems:
    st.subheader("Meetings not yet written to calendars")
    st.warning(
        f"{len(write_problems)} calendar write(s) failed. The bookings stand; Slotwise retries with "
        "backoff (`slotwise sync-calendars` delivers them)."
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Meeting": p.meeting_id,
                    "Calendar": p.connection_name,
                    "Change": "add meeting" if p.action == "put" else "remove meeting",
                    "Status": "retrying" if p.status == "pending" else p.status,
                    "Attempts": p.attempts,
                    f"Next attempt ({zone})": views.short_when(p.next_attempt_at, zone) if p.status == "pending" else "",
                    "Last error": p.last_error or "",
                }
                for p in write_problems
            ]
        ),
        hide_index=True,
        width="stretch",
    )
