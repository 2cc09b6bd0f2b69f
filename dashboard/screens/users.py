"""Users (admins only): who may sign in to the dashboard, their roles; add users, reset passwords."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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


#: The Add user form's fields, read by its action from the session state (the button's click).
_ADD = {"name": "add-user-name", "email": "add-user-email", "role": "add-user-role", "zone": "add-user-zone",
        "password": "add-user-password"}


def _show_password(email: str, password: str) -> None:
    st.session_state[_SHOW_ONCE] = (email, password)


def _added(name: str, role: str, email: str, generated: str | None) -> None:
    """The Add user action's outcome: the message, the generated password, the form emptied."""
    if generated is not None:
        _show_password(email, generated)
    views.flash(f"Added {name} ({role}).")
    for field in ("name", "email", "password"):  # the zone stays: the next person is likely in it too
        st.session_state[_ADD[field]] = ""
    st.session_state[_ADD["role"]] = "scheduler"


@state.reads(*_ADD.values())
def _add_user(admin_id: int) -> Callable[[], None]:
    """The Add user button's action (:func:`state.one_at_a_time`): a double click adds one user, and
    the generated password reaches the page in the outcome. A refusal keeps what was typed."""
    typed = {field: st.session_state[key] for field, key in _ADD.items()}
    password = typed["password"] or accounts.generate_password()
    try:
        with state.session(write=True) as s:
            user = accounts.create_user(
                s, email=typed["email"], name=typed["name"], password=password, role=typed["role"],
                zone=typed["zone"], by=accounts.user_by_id(s, admin_id),
            )
            name, role, email = user.name, user.role, user.email
    except (accounts.AccountError, *state.REFUSED) as exc:
        return state.Refused(partial(views.refuse, "add-user", str(exc)))
    return partial(_added, name, role, email, None if typed["password"] else password)


def _reset_password(admin_id: int, email: str) -> Callable[[], None]:
    """The Reset password button's action (:func:`state.one_at_a_time`): one new password, shown in the outcome."""
    password = accounts.generate_password()
    try:
        with state.session(write=True) as s:
            accounts.reset_password(s, email, password, by=accounts.user_by_id(s, admin_id))
    except (accounts.AccountError, *state.REFUSED) as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    return partial(_show_password, email, password)


zones = display.zone_names()
st.subheader("Add a user")
with st.form("add-user"):
    left, right = st.columns(2)
    left.text_input("Name", key=_ADD["name"])
    right.text_input("Email", key=_ADD["email"])
    st.session_state.setdefault(_ADD["role"], "scheduler")  # set here, not as a default: the outcome resets it
    left.selectbox("Role", accounts.ROLES, key=_ADD["role"])
    right.selectbox("Zone", zones, index=zones.index(zone) if zone in zones else 0, key=_ADD["zone"])
    st.text_input(
        "Password", type="password", key=_ADD["password"],
        help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters. Leave empty to generate one.",
    )
    st.form_submit_button("Add user", type="primary", on_click=state.one_at_a_time, args=(_add_user, me.id))
    views.show_refusal("add-user")  # under the button, as the other pages' forms

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
st.button("Reset password", key=f"reset-password-{picked}",
          help="Sets a new generated password, shown once, and unlocks the account.",
          on_click=state.one_at_a_time, args=(_reset_password, me.id, target.email))
