"""The dashboard's sign-in gate: nothing else renders until a scheduler has signed in.

``streamlit_app.py`` calls :func:`require_sign_in` before it builds the navigation. The gate

- finds the session of the browser's ``slotwise_session`` cookie (set by the sign-in form of
  :mod:`dashboard.web`, HttpOnly and signed; Streamlit passes the cookies of the page load on to
  the script as ``st.context.cookies``) and checks it on the server on every run
  (:mod:`booking_service.services.dashboard_sessions`): it must not be revoked, its account must
  be active, and it must not have been idle for ``SESSION_IDLE_MINUTES``. A reload, a new tab or
  a deep link of the same browser carries the cookie, so it stays signed in;
- counts each run as activity (written at most every :data:`TOUCH_EVERY`); a fragment checks once
  a minute, without counting as activity, so an idle screen locks by itself;
- puts the signed-in name and a "Sign out" button in the sidebar; signing out ends the session
  on the server, so the cookie is worth nothing afterwards, in every tab;
- without a live session shows why (signed out, idle, ended elsewhere) and the way to the form.

OpenID Connect
--------------
When ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's own configuration for an
OIDC provider: ``redirect_uri``, ``cookie_secret``, ``client_id``, ``client_secret``,
``server_metadata_url``; it needs the ``Authlib`` package, ``pip install 'slotwise[oidc]'``), the
gate uses Streamlit's built-in ``st.login`` instead of the password form; Streamlit keeps that
identity in its own signed, HttpOnly cookie. The provider proves who the person is; Slotwise
still decides what they may do: the email the provider returns must belong to an active
Slotwise user (created with ``slotwise create-user`` or on the Users page), whose role then
applies. Without that section the password form is used.

The client for the per-client rate limit of the profile's password form is the connection's IP
address (``st.context.ip_address``); Streamlit gives none for connections from the same machine,
and then the browser session stands in for the client.
"""

from __future__ import annotations

import datetime as dt
import html
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import streamlit as st

from booking_service.core.clock import utcnow
from booking_service.services import accounts, audit, dashboard_sessions
from dashboard import state, web

if TYPE_CHECKING:
    from booking_service.store.models import User


__all__ = ["require_sign_in", "sign_out", "client_id", "oidc_configured", "admin_pages", "session_id",
           "SESSION_KEY", "TOUCH_EVERY"]

#: ``st.session_state`` key: the id of this browser session's dashboard session (``dashboard_sessions``).
SESSION_KEY = "dashboard_session_id"
#: Activity is written to the session at most this often (idle time is exact to this much).
TOUCH_EVERY = dt.timedelta(seconds=15)
_CLIENT_KEY = "sign_in_client"
_NOTICE_KEY = "sign_in_notice"



def oidc_configured() -> bool:
    """Whether an OpenID Connect provider is configured (an ``[auth]`` section in secrets)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all
        return False


def client_id() -> str:
    """Who is trying a password, for the per-client limit: the IP address, else this browser session."""
    ip = st.context.ip_address
    if ip:
        return f"ip:{ip}"
    if _CLIENT_KEY not in st.session_state:
        st.session_state[_CLIENT_KEY] = f"session:{secrets.token_hex(8)}"
    return st.session_state[_CLIENT_KEY]


def session_id() -> int | None:
    """The id of the signed-in dashboard session of this browser session, if any."""
    return st.session_state.get(SESSION_KEY)


def _cookie_token() -> str | None:
    """The session token of the browser's cookie, if it has one with a good signature."""
    value = st.context.cookies.get(web.COOKIE_NAME)
    return web.unsign_token(value, state.settings())


def _idle() -> dt.timedelta:
    return dt.timedelta(minutes=state.settings().session_idle_minutes)


def _forget(reason: str) -> None:
    st.session_state.pop(state.USER_KEY, None)
    st.session_state.pop(SESSION_KEY, None)
    # A notice already set (by the sign-out button) says best what happened.
    st.session_state.setdefault(_NOTICE_KEY, reason)


def _signed_in_user() -> User | None:
    """The user of this browser session if its dashboard session is live; records the activity."""
    known = session_id()
    token = None if known is not None else _cookie_token()
    if known is None and token is None:
        return None
    now = utcnow()
    with state.session() as s:
        row, reason = dashboard_sessions.resume(s, idle=_idle(), token=token, session_id=known, now=now)
        user = row.user if row is not None else None
        stale = row is not None and now - row.last_seen_at >= TOUCH_EVERY
    if reason is not None:
        if row is not None and row.revoked_at is None:  # idle or disabled: end it for good, and say so
            with state.session(write=True) as s:
                dashboard_sessions.revoke(s, s.get(type(row), row.id), reason=reason, now=now)
                audit.record(s, s.get(type(user), user.id), "user.signed_out", user, reason=reason)
        if reason != "unknown":
            _forget(reason)
        return None
    st.session_state[SESSION_KEY] = row.id
    st.session_state[state.USER_KEY] = user.id
    if stale:
        try:
            with state.session(write=True) as s:
                dashboard_sessions.touch(s, row.id, now=now)
        except state.DatabaseBusy:
            pass  # the next run records it; the session is 15 s from idle at the very least
    return user


def sign_out(*, reason: str = "signed out") -> None:
    """End the dashboard session on the server (the "Sign out" button's callback)."""
    known = session_id()
    token = None if known is not None else _cookie_token()
    with state.session(write=True) as s:
        row, _ = dashboard_sessions.resume(s, idle=_idle(), token=token, session_id=known)
        if row is not None and row.revoked_at is None:
            dashboard_sessions.revoke(s, row, reason=reason)
            audit.record(s, row.user, "user.signed_out", row.user, reason=reason)
    st.session_state.pop(state.USER_KEY, None)
    st.session_state.pop(SESSION_KEY, None)
    st.session_state[_NOTICE_KEY] = "signed-out"
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _start(user: User) -> None:
    """Start a dashboard session for a user a provider vouched for (OpenID Connect)."""
    with state.session(write=True) as s:
        row, _ = dashboard_sessions.start(s, s.get(type(user), user.id))
    st.session_state[SESSION_KEY] = row.id
    st.session_state[state.USER_KEY] = user.id


def _current_path() -> str:
    url = st.context.url
    if not url:
        return "/"
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _password_gate(ended: str | None) -> None:
    st.title("Sign in to Slotwise")
    if not web.routes_served():
        st.error(
            "This dashboard was started without its sign-in page. Start it with `slotwise dashboard` "
            "(or `streamlit run dashboard/server.py`)."
        )
        return
    target = web.sign_in_url(_current_path(), ended=ended)
    st.html(f'<a href="{html.escape(target)}" target="_self" data-testid="sign-in-link" style="display:inline-block;'
            'padding:0.45rem 1rem;border-radius:0.5rem;background:#ff4b4b;color:#fff;text-decoration:none">'
            'Sign in</a>')


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
    """Once a minute, without counting as activity: lock an idle or revoked screen as soon as it ends."""
    known = session_id()
    if known is None:
        return
    with state.session() as s:
        _, reason = dashboard_sessions.resume(s, idle=_idle(), session_id=known)
    if reason is not None:
        st.rerun(scope="app")


def _sidebar(user: User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        st.button("Sign out", key="sign-out", on_click=sign_out, kwargs={"reason": "signed out"},
                  icon=":material/logout:")
        _idle_watch()


def require_sign_in() -> User:
    """Return the signed-in user, or show the way to sign in and stop the script.

    Call it at the top of ``streamlit_app.py``, after ``st.set_page_config`` and before any
    page renders. Every call counts as activity for the idle timeout.
    """
    user = _signed_in_user()
    if user is not None:
        st.session_state.pop(_NOTICE_KEY, None)
        _sidebar(user)
        return user
    ended = st.session_state.pop(_NOTICE_KEY, None)
    if ended in web.ENDED_NOTICES:
        st.info(web.ENDED_NOTICES[ended].format(minutes=state.settings().session_idle_minutes))
    if oidc_configured():
        _oidc_gate()
    else:
        _password_gate(ended)
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
