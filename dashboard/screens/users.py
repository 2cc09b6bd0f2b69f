"""Users (admins only): who may sign in to the dashboard, their roles; add users, reset passwords."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from booking_service.core import display
from booking_service.services import accounts
from booking_service.services.permissions import is_admin
from dashboard import state, views

if TYPE_CHECKING:
    from booking_service.store.models import User


_SHOW_ONCE = "users-show-password"

st.title("Users")
views.show_flash()
me = state.current_user()
if not is_admin(me):
    st.error("Only an admin may manage users.")
    st.stop()
zone = state.user_zone()

once = st.session_state.pop(_SHOW_ONCE, None)
if once is not None:
    email, password = once
    st.success(f"Password for **{email}** (shown this once; pass it on privately):")
    st.code(password, language=None)

with state.session() as s:
    users = accounts.list_users(s)

st.dataframe(
    pd.DataFrame(
        [
            {
                "Name": u.name,
                "Email": u.email,
                "Role": u.role,
                "Zone": u.zone,
                "Active": u.active,
                f"Last sign-in ({zone})": views.short_when(u.last_login_at, zone),
            }
            for u in users
        ]
    ),
    hide_index=True,
    width="stretch",
)


def _acting(s) -> User:
    return accounts.user_by_id(s, me.id)


zones = display.zone_names()
st.subheader("Add a user")
with st.form("add-user", clear_on_submit=True):
    left, right = st.columns(2)
    new_name = left.text_input("Name", key="add-user-name")
    new_email = right.text_input("Email", key="add-user-email")
    new_role = left.selectbox("Role", accounts.ROLES, index=accounts.ROLES.index("scheduler"), key="add-user-role")
    new_zone = right.selectbox("Zone", zones, index=zones.index(zone) if zone in zones else 0, key="add-user-zone")
    new_password = st.text_input(
        "Password", type="password", key="add-user-password",
        help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters. Leave empty to generate one.",
    )
    if st.form_submit_button("Add user", type="primary"):
        password = new_password or accounts.generate_password()
        try:
            with state.session() as s:
                user = accounts.create_user(
                    s, email=new_email, name=new_name, password=password, role=new_role, zone=new_zone,
                    by=_acting(s),
                )
        except accounts.AccountError as exc:
            st.error(str(exc))
        else:
            if not new_password:
                st.session_state[_SHOW_ONCE] = (user.email, password)
            views.flash(f"Added {user.name} ({user.role}).")
            st.rerun()

st.subheader("Change a user")
by_id = {u.id: u for u in users}
picked = st.selectbox("User", list(by_id), format_func=lambda i: f"{by_id[i].name} <{by_id[i].email}>",
                      key="edit-user")
target = by_id[picked]
with st.form(f"edit-user-{picked}"):
    role = st.selectbox("Role", accounts.ROLES, index=accounts.ROLES.index(target.role), key=f"edit-user-role-{picked}")
    active = st.checkbox("May sign in", value=target.active, key=f"edit-user-active-{picked}")
    if st.form_submit_button("Save"):
        try:
            with state.session() as s:
                accounts.update_user(s, picked, by=_acting(s), role=role, active=active)
        except accounts.AccountError as exc:
            st.error(str(exc))
        else:
            views.flash(f"Saved {target.name}.")
            st.rerun()
if st.button("Reset password", key=f"reset-password-{picked}",
             help="Sets a new generated password, shown once, and unlocks the account."):
    password = accounts.generate_password()
    try:
        with state.session() as s:
            accounts.reset_password(s, target.email, password, by=_acting(s))
    except accounts.AccountError as exc:
        st.error(str(exc))
    else:
        st.session_state[_SHOW_ONCE] = (target.email, password)
        st.rerun()
