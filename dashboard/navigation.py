"""The dashboard's pages and their sections, for ``st.navigation`` in ``streamlit_app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Not "pages": Streamlit runs the scripts of a ``pages/`` folder beside the main script on its own,
# before the router's sign-in gate, and the router (dashboard/streamlit_app.py) sits in this folder.
PAGES_DIR = Path(__file__).with_name("screens")

#: Section -> (script, title, icon, url path); the first page is the default.
LAYOUT: dict[str, list[tuple[str, str, str, str]]] = {
    "Schedule": [
        ("invite.py", "Invite to self-schedule", ":material/send:", "invite"),
    ],
    "Activity": [
        ("invitations.py", "Invitations", ":material/mail:", "invitations"),
        ("meetings.py", "Meetings", ":material/event:", "meetings"),
    ],
    "Organisation": [
        ("team.py", "Team and rooms", ":material/groups:", "team"),
        ("calendars.py", "Calendars", ":material/calendar_month:", "calendars"),
        ("profile.py", "Profile", ":material/person:", "profile"),
        ("integrations.py", "API keys and webhooks", ":material/webhook:", "integrations"),
    ],
    "Insight": [
        ("capacity.py", "Capacity", ":material/monitoring:", "capacity"),
        ("outbox.py", "Outbox", ":material/outbox:", "outbox"),
    ],
}


def pages() -> dict[str, list[st.Page]]:
    """The ``st.Page`` objects by section, ready for ``st.navigation``."""
    first = True
    result: dict[str, list[st.Page]] = {}
    for section, entries in LAYOUT.items():
        result[section] = []
        for script, title, icon, url_path in entries:
            result[section].append(
                st.Page(PAGES_DIR / script, title=title, icon=icon, url_path=url_path, default=first)
            )
            first = False
    return result
