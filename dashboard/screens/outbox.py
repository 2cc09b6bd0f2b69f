"""Outbox: the messages sent or waiting about what the user may see, readable as the recipient sees them.

Each message is shown as stored for reading: with every link replaced by "link sent". The
message with its working links exists only encrypted, and only until it is sent.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service.services import queries
from dashboard import state, views

STATUSES = {"All": None, "Waiting": "pending", "Sent or written": "sent", "Failed": "failed",
            "Withdrawn": "superseded"}
#: How a status reads: a withdrawn invitation mail carried a link that was replaced, or its
#: invitation was booked, cancelled or expired before it went out.
STATUS_WORDS = {"pending": "waiting", "superseded": "withdrawn (link replaced or invitation closed)"}


def status_words(message) -> str:
    """What happened to a message, in words: "sent" only when a mail server took it."""
    if message.status == "sent" and message.delivered_via == "file":
        return f"written to {outbox_dir} (no SMTP configured)"
    return STATUS_WORDS.get(message.status, message.status)


st.title("Outbox")
me = state.current_user()
zone = state.user_zone()
settings = state.settings()
outbox_dir = settings.var_dir / "outbox"
if not settings.smtp_url:
    st.warning(
        f"**No SMTP is configured, so no email reaches anyone.** Messages are written as `.eml` files to "
        f"`{outbox_dir}` instead. To send them, set `SMTP_URL` (for example "
        "`smtp+starttls://user:password@mail.example.com:587`) in the environment of `slotwise up` or "
        "`slotwise worker` and restart it; messages still waiting then go out by email.",
        icon=":material/mail_lock:",
    )
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
            "Status": status_words(m),
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
