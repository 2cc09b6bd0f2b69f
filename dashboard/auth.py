"""The dashboard's sign-in gate: nothing else renders until a scheduler has signed in.

``streamlit_app.py`` calls :func:`require_sign_in` before it builds the navigation. The gate

- shows the password form (email and password, checked by
  :func:`booking_service.services.accounts.authenticate` with its per-account and per-client rate
  limits and its one message for every failure), then stops the script;
- once signed in, keeps the user's id in ``st.session_state`` and the time of the last
  interaction; after ``SESSION_IDLE_MINUTES`` without one the session ends and the form is shown
  again (a fragment checks once a minute, so an idle screen locks by itself). A disabled or
  deleted account is signed out at its next interaction;
- puts the signed-in name and a "Sign out" button in the sidebar.

The sign-in lives in the browser session: reloading the page or opening a new tab asks again.

OpenID Connect
--------------
When ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's own configuration for an
OIDC provider: ``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``; it needs the ``Authlib`` package, ``pip install 'slotwise[oidc]'``), the
gate uses Streamlit's built-in ``st.login`` instead of the password form. The provider proves
who the person is; Slotwise still decides what they may do: the email the provider returns
must belong to an active Slotwise user (created with ``slotwise create-user`` or on the Users
page), whose role then applies. Without that section the password form is used.

The client for the per-client rate limit is the connection's IP address
(``st.context.ip_address``); Streamlit gives none for connections from the same machine, and
then the browser session stands in for the client.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

import streamlit as st

from booking_service.core.clock import utcnow
from booking_service.services import accounts, audit
from dashboard import state

if TYPE_CHECKING:
    from booking_service.store.models import User


__all__ = ["require_sign_in", "sign_out", "client_id", "oidc_configured", "admin_pages", "LAST_ACTIVITY_KEY"]

#: ``st.session_state`` key: when the signed-in user last interacted (tz-aware UTC).
LAST_ACTIVITY_KEY = "last_activity"
_CLIENT_KEY = "sign_in_client"
_NOTICE_KEY = "sign_in_notice"
_ERROR_KEY = "sign_in_error"


def oidc_configured() -> bool:
    """Whether an OpenID Connect provider is configured (an ``[auth]`` section in secrets)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all
        return False


def client_id() -> str:
    """Who is trying to sign in, for the per-client limit: the IP address, else this browser session."""
    ip = st.context.ip_address
    if ip:
        return f"ip:{ip}"
    if _CLIENT_KEY not in st.session_state:
        st.session_state[_CLIENT_KEY] = f"session:{secrets.token_hex(8)}"
    return st.session_state[_CLIENT_KEY]


def _signed_in_user() -> User | None:
    """The user of this browser session if still signed in, active and not idle for too long."""
    user_id = st.session_state.get(state.USER_KEY)
    if user_id is None:
        return None
    idle = dt.timedelta(minutes=state.settings().session_idle_minutes)
    if accounts.session_expired(st.session_state.get(LAST_ACTIVITY_KEY), idle):
        sign_out(notice=f"Your session ended after {idle.total_seconds() / 60:g} minutes without "
                        "activity. Please sign in again.", reason="idle")
        return None
    with state.session() as s:
        user = accounts.user_by_id(s, user_id)
    if user is None or not user.active:
        sign_out(notice="Your account is no longer active. Ask an admin.", reason="disabled")
        return None
    return user


def sign_out(*, notice: str | None = None, reason: str = "signed out") -> None:
    """End the dashboard session (also used as the "Sign out" button's callback)."""
    user_id = st.session_state.pop(state.USER_KEY, None)
    st.session_state.pop(LAST_ACTIVITY_KEY, None)
    if user_id is not None:
        with state.session() as s:
            user = accounts.user_by_id(s, user_id)
            if user is not None:
                audit.record(s, user, "user.signed_out", user, reason=reason)
    if notice:
        st.session_state[_NOTICE_KEY] = notice
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _start(user: User) -> None:
    st.session_state[state.USER_KEY] = user.id
    st.session_state[LAST_ACTIVITY_KEY] = utcnow()


def _attempt_sign_in() -> None:
    """The sign-in button's callback: it runs before the script, so it can clear the password."""
    email = st.session_state.get("sign-in-email", "")
    password = st.session_state.get("sign-in-password", "")
    # Forget the typed password at once: it must not linger in the server's session state.
    st.session_state["sign-in-password"] = ""
    with state.session() as s:
        result = accounts.authenticate(s, email, password, client=client_id())
    if result.ok:
        _start(result.user)
    else:
        st.session_state[_ERROR_KEY] = result.message


def _password_form() -> None:
    st.title("Sign in to Slotwise")
    with state.session() as s:
        has_users = bool(accounts.list_users(s))
    if not has_users:
        st.info(
            "No dashboard account exists yet. Create the first admin with "
            "`slotwise create-user --role admin --email you@example.com --name 'Your Name'`, "
            "or run `make run` on an empty database: the demo seed prints an admin's password once."
        )
    error = st.session_state.pop(_ERROR_KEY, None)
    if error:
        st.error(error)
    with st.form("sign-in"):
        st.text_input("Email", key="sign-in-email", autocomplete="username")
        st.text_input("Password", type="password", key="sign-in-password", autocomplete="current-password")
        st.form_submit_button("Sign in", type="primary", on_click=_attempt_sign_in)


def _oidc_gate() -> None:
    st.title("Sign in to Slotwise")
    # st.user has no is_logged_in before Streamlit has read an identity cookie: not signed in.
    if not getattr(st.user, "is_logged_in", False):
        st.button("Sign in with your organisation account", type="primary", on_click=st.login)
        return
    email = str(st.user.get("email") or "")
    with state.session() as s:
        user = accounts.record_external_sign_in(s, email, client=client_id(), via="openid connect")
    if user is None:
        st.error(f"{email or 'This account'} has no active Slotwise account. Ask an admin to create one.")
        st.button("Sign out", on_click=st.logout)
        return
    _start(user)
    st.rerun()


@st.fragment(run_every=dt.timedelta(seconds=60))
def _idle_watch() -> None:
    """Once a minute, without counting as activity: lock an idle screen as soon as it expires."""
    idle = dt.timedelta(minutes=state.settings().session_idle_minutes)
    if accounts.session_expired(st.session_state.get(LAST_ACTIVITY_KEY), idle):
        st.rerun(scope="app")


def _sidebar(user: User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        st.button("Sign out", key="sign-out", on_click=sign_out, kwargs={"reason": "signed out"},
                  icon=":material/logout:")
        _idle_watch()


def require_sign_in() -> User:
    """Return the signed-in user, or show the sign-in form and stop the script.

    Call it at the top of ``streamlit_app.py``, after ``st.set_page_config`` and before any
    page renders. Every call counts as activity for the idle timeout.
    """
    user = _signed_in_user()
    if user is not None:
        st.session_state[LAST_ACTIVITY_KEY] = utcnow()
        _sidebar(user)
        return user
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.info(notice)
    if oidc_configured():
        _oidc_gate()
    else:
        _password_form()
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - st.stop never returns


def admin_pages(user: User) -> dict[str, list[st.Page]]:
    """The admin-only pages (Users, Audit log) as a navigation section; empty for schedulers."""
    if user.role != "admin":
        return {}
    from dashboard.navigation import PAGES_DIR

    return {
        "Admin": [
            st.Page(PAGES_DIR / "users.py", title="Users", icon=":material/manage_accounts:", url_path="users"),
            st.Page(PAGES_DIR / "audit.py", title="Audit log", icon=":material/history:", url_path="audit"),
        ]
    }
