"""Calendars: the connected calendars of team members and rooms, their last sync and status.

Syncing and connecting go through :mod:`booking_service.calendars` (admins only).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service import queries
from booking_service.calendars import connections as calendar_connections
from booking_service.calendars import sync
from booking_service.calendars.ics import CalendarParseError
from booking_service.permissions import PermissionDenied, is_admin
from dashboard import state, views

KINDS = {"ics_url": "ICS link", "ics_file": "ICS file", "caldav": "CalDAV", "demo": "Demo"}

st.title("Calendars")
views.show_flash()
me = state.current_user()
zone = state.user_zone()
with state.session() as s:
    connections = queries.calendar_connections(s)
    members = queries.team_members(s)
    rooms = queries.rooms(s)

if not connections:
    st.info("No calendars connected yet: busy time then comes only from Slotwise's own meetings.")
else:
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
    failing = int(table["Status"].isin(["error", "failed"]).sum())
    if failing:
        st.warning(f"{failing} calendar(s) failed at their last sync; their busy time may be out of date.")
    st.dataframe(table, hide_index=True, width="stretch")

    syncable = [c.id for c in connections if c.kind != "demo"]
    if st.button(
        f"Sync {len(syncable)} calendar(s) now", key="calendars-sync", disabled=not syncable or not is_admin(me),
        help="Demo calendars have nothing to read." if not syncable else None,
    ):
        progress = st.progress(0.0, text="Syncing calendars…")
        results = []
        for done, result in enumerate(
            sync.sync_connections(state.engine(), syncable, secret_key=state.settings().secret_key), start=1
        ):
            results.append(result)
            progress.progress(done / len(syncable), text=f"Synced {done} of {len(syncable)}")
        state.data_changed()
        failed = [r for r in results if r.status == "error"]
        views.flash(
            f"Synced {len(results) - len(failed)} calendar(s)" + (f"; {len(failed)} failed (see Last error)." if failed else "."),
            "warning" if failed else "success",
        )
        st.rerun()

if is_admin(me):
    with st.expander("Connect a calendar", expanded=not connections):
        owners = {r.id: r.name for r in [*members, *rooms]}
        with st.form("calendars-add"):
            owner = st.selectbox("Team member or room", list(owners), format_func=owners.get, key="calendars-owner")
            name = st.text_input("Name", value="Work calendar", key="calendars-name")
            url = st.text_input("Subscription link (https:// or webcal://)", key="calendars-url")
            upload = st.file_uploader("…or an .ics file", type=["ics"], key="calendars-file")
            if st.form_submit_button("Connect", type="primary"):
                try:
                    with state.session() as s:
                        if upload is not None:
                            calendar_connections.add_ics_file_connection(s, owner, name, upload.getvalue(), by=me)
                        else:
                            calendar_connections.add_ics_url_connection(s, owner, name, url, by=me)
                except (ValueError, CalendarParseError, PermissionDenied) as exc:
                    st.error(str(exc))
                else:
                    state.data_changed()
                    views.flash(f"Connected {name.strip()} for {owners[owner]}; sync it to read its busy time.")
                    st.rerun()
