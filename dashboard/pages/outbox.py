"""Outbox: the messages sent or waiting about what the user may see, readable as the recipient sees them.

Each message is shown as stored for reading: with every link replaced by "link sent". The
message with its working links exists only encrypted, and only until it is sent.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service.services import queries
from dashboard import state, views

STATUSES = {"All": None, "Waiting": "pending", "Sent": "sent", "Failed": "failed", "Withdrawn": "superseded"}
#: How a status reads: a withdrawn invitation mail carried a link that was replaced, or its
#: invitation was booked, cancelled or expired before it went out.
STATUS_WORDS = {"pending": "waiting", "superseded": "withdrawn (link replaced or invitation closed)"}

st.title("Outbox")
me = state.current_user()
zone = state.user_zone()
choice = st.segmented_control("Show", list(STATUSES), default="All", key="outbox-status")
with state.session() as s:
    messages = queries.outbox_messages(s, me, status=STATUSES[choice or "All"])

if not messages:
    st.info("No messages here yet. Invitations, confirmations and cancellations appear as they are queued.")
    st.stop()

table = pd.DataFrame(
    [
        {
            f"Queued ({zone})": views.short_when(m.created_at, zone),
            "To": m.to_addr,
            "Subject": m.subject,
            "Kind": m.kind,
            "Status": STATUS_WORDS.get(m.status, m.status),
            "Attempts": m.attempts,
            "Last error": m.last_error or "",
        }
        for m in messages
    ]
)
st.dataframe(table, hide_index=True, width="stretch")

by_id = {m.id: m for m in messages}
picked = st.selectbox(
    "Read a message",
    list(by_id),
    format_func=lambda i: f"{by_id[i].subject} — to {by_id[i].to_addr}",
    key="outbox-message",
)
message = by_id[picked]
with st.container(border=True):
    st.markdown(f"**{message.subject}**")
    st.caption(
        f"To: {message.to_addr} · queued {views.short_when(message.created_at, zone)} ({zone}) · links read "
        "“link sent”: the working links go only to the recipient and are not kept"
    )
    html_tab, text_tab = st.tabs(["As the recipient reads it", "Plain text"])
    with html_tab:
        if message.body_html:
            st.html(message.body_html)
        else:
            st.text(message.body_text)
    with text_tab:
        st.text(message.body_text)
    if message.ics:
        st.download_button(
            "Download the calendar invite (invite.ics)", message.ics, file_name="invite.ics",
            mime="text/calendar", key=f"outbox-ics-{message.id}",
        )
