"""Calendars: the connected calendars of team members and rooms, with their last sync and status."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service import queries
from dashboard import state, views

KINDS = {"ics_url": "ICS link", "ics_file": "ICS file", "caldav": "CalDAV", "demo": "Demo"}

st.title("Calendars")
views.show_flash()
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
