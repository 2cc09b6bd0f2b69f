"""Scheduler profile: the zone times are shown in and the confirmation settings."""

from __future__ import annotations

import streamlit as st

from booking_service.core import display
from booking_service.services import accounts
from dashboard import state, views

st.title("Profile")
views.show_flash()
user = state.current_user()
if user is None:
    st.info("No scheduler account exists yet. Create one with `slotwise seed-demo` or the admin commands.")
    st.stop()

st.caption(f"Signed in as **{user.name}** ({user.email}), role {user.role}.")
zones = display.zone_names()
with st.form(f"profile-{user.id}"):
    name = st.text_input("Name", value=user.name, key="profile-name")
    zone = st.selectbox(
        "Zone",
        zones,
        index=zones.index(user.zone) if user.zone in zones else 0,
        help="Times in the dashboard are shown in this zone; new invitations default to it.",
        key="profile-zone",
    )
    st.subheader("When a customer books")
    send_confirmation = st.checkbox(
        "Send confirmation email", value=user.send_confirmation, key="profile-send-confirmation"
    )
    attach_invite = st.checkbox(
        "Attach calendar invite (.ics)", value=user.attach_invite, key="profile-attach-invite"
    )
    if st.form_submit_button("Save profile", type="primary"):
        try:
            with state.session() as s:
                me = accounts.user_by_id(s, user.id)
                accounts.update_user(
                    s, user.id, by=me, name=name, zone=zone,
                    send_confirmation=send_confirmation, attach_invite=attach_invite,
                )
        except accounts.AccountError as exc:
            st.error(str(exc))
        else:
            state.data_changed()
            views.flash("Profile saved.")
            st.rerun()
