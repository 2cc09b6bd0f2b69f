"""Invitations: the active invitations, how many slots each still has, resend or cancel one.

Nothing is picked until the scheduler picks it. The buttons act through callbacks bound to the
invitation shown when they were drawn, so an invitation that changes before the click (booked by
its customer, cancelled by a colleague) is refused with what happened, never swapped for another
one of the list. Cancelling asks first, in a dialog that names the invitation and who is told.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
import streamlit as st

from booking_service.core.clock import utcnow
from booking_service.services import invitations as service
from booking_service.services import lifecycle, queries
from dashboard import state, views


def _resend(invitation_id: int, email: str) -> Callable[[], None] | None:
    """The Resend button's action (through :func:`state.one_at_a_time`); the page changes only in the outcome."""
    try:
        with state.session(write=True) as s:
            created = service.resend_invitation(s, invitation_id, by=state.current_user(),
                                                public_url=state.settings().public_url,
                                                secret_key=state.settings().secret_key)
            link, delivery = created.link, created.invitation.delivery
    except (service.InvitationError, *state.REFUSED) as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    state.data_changed()
    if delivery == "links":  # the scheduler delivers this invitation: no email was queued
        message = ("Made a new link (the old one no longer works); no email was sent. "
                   "Copy the link below and send it yourself.")
    else:
        message = f"Sent again to {email} with a new link; the old link no longer works."
    return partial(_resent, invitation_id, link, message)


def _resent(invitation_id: int, link: str, message: str) -> None:
    st.session_state.setdefault(state.LINKS_KEY, {})[invitation_id] = link
    views.flash(message)


def _cancel(payload: dict) -> None:
    try:
        with state.session(write=True) as s:
            service.cancel_invitation(s, payload["id"], by=state.current_user(), secret_key=state.settings().secret_key)
    except state.REFUSED as exc:
        views.flash(str(exc), "error")
        return
    st.session_state.setdefault(state.LINKS_KEY, {}).pop(payload["id"], None)
    state.data_changed()
    views.flash(f"Cancelled the invitation of {payload['customer']}; its link now says so.")


def _cancel_text(payload: dict) -> str:
    return (
        f"Cancel the invitation of **{payload['customer']}** ({payload['email']}) — *{payload['subject']}*?\n\n"
        f"Their booking link will say the invitation was cancelled and no longer offers times. "
        f"{payload['customer']} is told by email ({payload['email']}) that the invitation was withdrawn, "
        "with your address to reply to. An invitation email still waiting in the outbox is withdrawn. "
        "This cannot be undone."
    )


st.title("Invitations")
views.show_flash()
views.confirm_dialog(
    "cancel-invitation", "Cancel this invitation?", _cancel_text, "Cancel invitation", _cancel,
    busy="Cancelling…",
)
me = state.current_user()
zone = state.user_zone()
now = utcnow()
links: dict[int, str] = st.session_state.setdefault(state.LINKS_KEY, {})

with state.session() as s:
    active = [i for i in queries.invitations(s, me, "active") if lifecycle.effective_status(i, now) == "active"]

if not active:
    st.info(
        "No active invitations. Create one under **Invite to self-schedule**; "
        "invitations a customer has confirmed are under **Meetings**."
    )
    st.stop()

with st.spinner("Counting the slots still available…"):
    counts = state.invitation_slot_counts(tuple(i.id for i in active))

table = pd.DataFrame(
    [
        {
            "Customer": i.customer_name,
            "Email": i.customer_email,
            "Subject": i.subject,
            "Created": views.short_when(i.created_at, zone),
            "Frame": views.frame_text(i.frame_start, i.frame_end),
            "Zone": i.zone,
            "Slots now": counts.get(i.id, 0),
            "Promoted": f"{len(i.promoted_slots)} slots" if i.promote else "no",
        }
        for i in active
    ]
)
# Sized to fit the page: no column runs off the right edge, nothing needs a sideways scroll.
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "Customer": st.column_config.TextColumn(width=130),
        "Email": st.column_config.TextColumn(width=160),
        "Subject": st.column_config.TextColumn(width=130),
        "Created": st.column_config.TextColumn(f"Created ({zone})", width=140,
                                               help=f"When it was created, in your zone ({zone})"),
        "Frame": st.column_config.TextColumn(width=125, help="The dates the customer may pick from, in its zone"),
        "Zone": st.column_config.TextColumn(width=110, help="The invitation's zone: its frame and slot grid"),
        "Slots now": st.column_config.NumberColumn(help="Available right now, for the customer to pick", width=75),
        "Promoted": st.column_config.TextColumn(width=75),
    },
)
empty = [i for i in active if counts.get(i.id, 0) == 0]
if empty:
    st.warning(
        f"{len(empty)} invitation(s) have no slot left right now: "
        + ", ".join(f"{i.customer_name} ({i.subject})" for i in empty)
        + ". Cancel them or free some time for the team."
    )

st.subheader("Act on an invitation")
by_id = {i.id: i for i in active}
chosen = st.selectbox(
    "Invitation",
    list(by_id),
    index=None,
    placeholder="Pick an invitation to resend or cancel",
    format_func=lambda i: f"{by_id[i].customer_name} — {by_id[i].subject} (created {views.short_when(by_id[i].created_at, zone)})",
    key="invitations-pick",
)
picked = by_id.get(chosen)
if picked is not None:
    if picked.id in links:
        st.caption("Booking link:")
        views.copyable(links[picked.id], key=f"invitations-link-{picked.id}")
    else:
        st.caption(
            "The booking link is stored only as a hash, so it is shown only in the browser session that created "
            "or resent it: **Resend** mails a new link and shows it here (the old one stops working)."
        )


resend, cancel = st.columns(2)
resend.button(
    "Resend with a new link", key="invitations-resend", width="stretch", disabled=picked is None,
    on_click=state.one_at_a_time, args=(_resend, picked.id, picked.customer_email) if picked else None,
)
cancel.button(
    "Cancel invitation…", key="invitations-cancel", type="primary", width="stretch", disabled=picked is None,
    on_click=views.ask_to_confirm,
    args=("cancel-invitation", {"id": picked.id, "customer": picked.customer_name, "email": picked.customer_email,
                                "subject": picked.subject}) if picked else None,
)
