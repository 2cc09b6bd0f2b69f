"""Profile: the signed-in user's own name, zone, confirmation settings and password."""

from __future__ import annotations

import streamlit as st

from booking_service.core import display
from booking_service.services import accounts
from dashboard import auth, state, views

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


def _change_password(user_id: int) -> None:
    """The password form's callback: runs before the script, so it can clear the typed passwords."""
    typed = {k: st.session_state.get(f"profile-password-{k}", "") for k in ("current", "new", "again")}
    for k in typed:  # the typed passwords must not linger in the server's session state
        st.session_state[f"profile-password-{k}"] = ""
    if typed["new"] != typed["again"]:
        views.flash("The two new passwords differ; nothing was changed. Type the new one twice.", "error")
        return
    try:
        with state.session(write=True) as s:
            result = accounts.change_password(s, user_id, typed["current"], typed["new"], client=auth.client_id(),
                                             keep_session=auth.session_id())
    except accounts.AccountError as exc:
        views.flash(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "error")
        return
    if result.ok:
        views.flash("Password changed. Every other sign-in of your account has ended; use the new password next time.")
    else:
        views.flash(result.message, "error")


st.subheader("Password")
with st.form(f"profile-password-{user.id}"):
    st.text_input("Current password", type="password", key="profile-password-current",
                  autocomplete="current-password")
    st.text_input(f"New password (at least {accounts.MIN_PASSWORD_LENGTH} characters)", type="password",
                  key="profile-password-new", autocomplete="new-password")
    st.text_input("New password again", type="password", key="profile-password-again", autocomplete="new-password")
    st.form_submit_button("Change password", on_click=_change_password, args=(user.id,))
