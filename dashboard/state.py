"""Shared state of the dashboard: settings, the database engine, sessions, the signed-in user.

- The engine is a process-wide resource (``st.cache_resource``), one per database URL, so tests
  that point ``DATABASE_URL`` at their own file each get their own engine.
- :func:`session` opens one transaction around service calls (commit on success).
- :func:`data_version` is the cheap fingerprint (:func:`booking_service.queries.data_version`)
  that keys every cached grid: a booking made on the customer side or a calendar sync changes
  it, so the next rerun rebuilds what depends on it.
- :func:`data_changed` is what a page calls after it changed data itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from booking_service import queries
from booking_service.config import Settings, load_settings
from booking_service.db import make_engine, session_scope
from booking_service.models import User

#: Key in ``st.session_state`` holding the signed-in user's id (set by the sign-in gate).
USER_KEY = "user_id"
#: Key in ``st.session_state`` of a counter bumped by :func:`data_changed`.
EDIT_KEY = "_data_edits"


def settings() -> Settings:
    """The installation's settings (environment read on every rerun: it is cheap)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine for the configured ``DATABASE_URL`` (shared by every session of the process)."""
    return _engine(settings().database_url)


@contextmanager
def session(*, write: bool = False) -> Iterator[Session]:
    """One transaction on the dashboard's database: commit on success, roll back on error."""
    with session_scope(engine(), write=write) as s:
        yield s


def data_version() -> tuple:
    """Fingerprint of the availability data plus this process's own edits (see module docstring)."""
    with session() as s:
        version = queries.data_version(s)
    return (settings().database_url, version, _edits())


@st.cache_resource(show_spinner=False)
def _edit_counter() -> list[int]:
    # Shared by all sessions of the process: an edit by one scheduler invalidates for all.
    return [0]


def _edits() -> int:
    return _edit_counter()[0]


def data_changed() -> None:
    """Call after changing data: drops cached tables so that every page sees the change."""
    _edit_counter()[0] += 1
    st.cache_data.clear()


def current_user() -> User | None:
    """The signed-in scheduler, or ``None`` when the database has no users yet.

    The sign-in gate stores the user's id in ``st.session_state[USER_KEY]``. Without a gate
    (a fresh installation, tests) the first active admin, else the first active user, acts.
    """
    user_id = st.session_state.get(USER_KEY)
    with session() as s:
        if user_id is not None:
            user = s.get(User, user_id)
            if user is not None and user.active:
                return user
        active = [u for u in queries.users(s) if u.active]
    admins = [u for u in active if u.role == "admin"]
    return (admins or active or [None])[0]


def user_zone() -> str:
    """The zone the dashboard shows times in: the scheduler profile's, else the default zone."""
    user = current_user()
    return user.zone if user is not None else settings().default_zone
