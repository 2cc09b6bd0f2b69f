"""Test helper: start an AppTest already signed in, as the sign-in gate would leave it."""

from __future__ import annotations

import os

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import User, utcnow


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


def sign_in(at: AppTest, user_id: int | None = None) -> AppTest:
    """Mark ``at``'s session as signed in as ``user_id`` (default: the first active admin).

    Call before the first ``at.run()``. The sign-in form itself is tested in ``test_auth.py``.
    """
    at.session_state["user_id"] = first_admin_id() if user_id is None else user_id
    at.session_state["last_activity"] = utcnow()
    return at
