"""Fixtures for the dashboard: a small hand-built organisation in a temp SQLite file, and the app.

The dashboard reads ``DATABASE_URL`` from the environment, so each test points it at its own
database before creating the :class:`~streamlit.testing.v1.AppTest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from booking_service.services import team
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import User
from dashboard import state

from .signin import sign_in


@pytest.fixture(autouse=True)
def _clicks_forgotten():
    """Every ``AppTest`` has the same browser session id, and each test's rows start again at id 1:
    without this, a click in one test could pass for the second click of one in the test before."""
    calls = state._callbacks()
    with calls.lock:
        calls.acted.clear()
        calls.outcomes.clear()


LONDON = ZoneInfo("Europe/London")
ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "streamlit_app.py"
EVERY_DAY = {d: "08:00-18:00" for d in range(7)}
SECRET_KEY = "test-secret"


@dataclass(frozen=True)
class Org:
    """Ids of the hand-built organisation."""

    url: str
    admin_id: int
    ada: int  # member, works every day 08:00-18:00 London
    bob: int  # member, works every day 08:00-18:00 London
    nobody: int  # member without working hours: never available
    blue: int  # room, 6 seats, open every day 08:00-18:00
    sales: int  # pool of Ada and Bob


@pytest.fixture
def org(sqlite_url, tmp_path, monkeypatch) -> Org:
    """A small organisation, with the environment pointing the dashboard at it."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PUBLIC_URL", "http://booking.test")
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        admin = User(email="sam@example.com", name="Sam Scheduler", zone="Europe/London", role="admin")
        s.add(admin)
        s.flush()
        ada = team.create_member(s, "Ada", "Europe/London", email="ada@example.com", hours=EVERY_DAY, by=admin)
        bob = team.create_member(s, "Bob", "Europe/London", email="bob@example.com", hours=EVERY_DAY, by=admin)
        nobody = team.create_member(s, "Nora Nohours", "Europe/London", by=admin)
        blue = team.create_room(s, "Blue room", "Europe/London", 6, hours=EVERY_DAY, by=admin)
        sales = team.create_pool(s, "Sales", [ada.id, bob.id], by=admin)
        ids = Org(sqlite_url, admin.id, ada.id, bob.id, nobody.id, blue.id, sales.id)
    engine.dispose()
    return ids


@pytest.fixture
def engine(org):
    """An engine on the organisation's database (for assertions)."""
    eng = make_engine(org.url)
    yield eng
    eng.dispose()


def signed_in_app(user_id: int) -> AppTest:
    """The app with ``user_id`` signed in (as the sign-in gate leaves it)."""
    return sign_in(AppTest.from_file(str(APP), default_timeout=60), user_id)


def open_page(org: Org, page: str, user_id: int | None = None) -> AppTest:
    """Run the app signed in as the organisation's admin (or ``user_id``) and open ``page``."""
    at = signed_in_app(org.admin_id if user_id is None else user_id).run()
    assert not at.exception, at.exception
    at.switch_page(f"dashboard/screens/{page}.py").run()
    assert not at.exception, at.exception
    return at
