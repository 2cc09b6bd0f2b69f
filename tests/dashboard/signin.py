"""Test helper: start an AppTest already signed in, as the sign-in gate would leave it."""

from __future__ import annotations

import os

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from booking_service.services import dashboard_sessions
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import User
from dashboard.auth import SESSION_KEY


def first_admin_id(database_url: str | None = None) -> int:
    """Id of the first active admin of ``database_url`` (default: ``DATABASE_URL``)."""
    engine = make_engine(database_url or os.environ["DATABASE_URL"])
    try:
        with session_scope(engine) as s:
            user_id = s.scalar(
                select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).limit(1)
            )
    finally:
        engine.dispose()
    if user_id is None:
        raise LookupError("the test database has no active admin to sign in as; create one first")
    return user_id


def start_session(user_id: int, database_url: str | None = None) -> tuple[int, str]:
    """Start a dashboard session for ``user_id`` as the sign-in form does; returns its id and token."""
    engine = make_engine(database_url or os.environ["DATABASE_URL"])
    try:
        with session_scope(engine) as s:
            row, token = dashboard_sessions.start(s, s.get(User, user_id))
            return row.id, token
    finally:
        engine.dispose()


def sign_in(at: AppTest, user_id: int | None = None) -> AppTest:
    """Mark ``at``'s session as signed in as ``user_id`` (default: the first active admin).

    Starts a dashboard session on the server, as the sign-in form does, and hands its id to the
    browser session, as the gate does after reading the cookie. Call before the first ``at.run()``.
    The form and the cookie are tested in ``test_sign_in_routes.py`` and ``test_sign_in_browser.py``.
    """
    session_id, _ = start_session(first_admin_id() if user_id is None else user_id)
    at.session_state[SESSION_KEY] = session_id
    return at
