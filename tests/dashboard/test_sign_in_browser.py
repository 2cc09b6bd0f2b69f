"""Sign-in in a real browser: it survives a reload, a new tab and a deep link; it ends when it should.

The dashboard runs as ``slotwise dashboard`` runs it (``dashboard/server.py``, the
``serve_dashboard`` helper of ``test_screenshots``) over a small temp database, and Playwright
drives Debian's Chromium. Without Chromium the tests skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import update

from booking_service.services import accounts
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import DashboardSession, utcnow

from .test_screenshots import CHROMIUM, IN_CI, serve_dashboard

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "rita@example.com", "browser password 123"
NEW_PASSWORD = "browser password 456"
COOKIE = "slotwise_session"


@pytest.fixture
def database(sqlite_url):
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        accounts.create_user(s, email=EMAIL, name="Rita Root", password=PASSWORD, role="admin")
    engine.dispose()
    return sqlite_url


@contextmanager
def _chromium():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("Chromium is missing at /usr/bin/chromium (CI=true requires it)")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _heading(page, name: str) -> None:
    page.get_by_role("heading", name=name, exact=True).first.wait_for(timeout=60_000)


def _fill_form(page, password: str = PASSWORD) -> None:
    _heading(page, "Sign in to Slotwise")
    page.get_by_role("textbox", name="Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _cookie(context) -> dict:
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    return cookie


def _on_the_form(page, base: str) -> None:
    _heading(page, "Sign in to Slotwise")
    assert page.url.startswith(f"{base}/sign-in")


@contextmanager
def _screenshot_on_failure(page):
    try:
        yield
    except Exception:
        page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "slotwise-sign-in-failure.png"))
        raise


def test_sign_in_survives_reload_new_tab_and_deep_link_and_ends_on_sign_out(database, tmp_path):
    with serve_dashboard(database, tmp_path) as base, _chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        with _screenshot_on_failure(page):
            # A deep link asks for the password once, then lands on its page.
            page.goto(f"{base}/invitations")
            _on_the_form(page, base)
            assert "next=%2Finvitations" in page.url
            _fill_form(page)
            _heading(page, "Invitations")
            assert page.url == f"{base}/invitations"

            cookie = _cookie(context)
            assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
            assert cookie["path"] == "/" and cookie["expires"] == -1  # ends with the browser at the latest
            assert COOKIE not in page.evaluate("document.cookie")  # no script can read it

            page.reload()
            _heading(page, "Invitations")
            tab = context.new_page()
            tab.goto(f"{base}/meetings")
            _heading(tab, "Meetings")
            tab.goto(base)
            _heading(tab, "Invite to self-schedule")
            assert page.get_by_role("heading", name="Sign in to Slotwise").count() == 0

            # The cookie alone carries the sign-in (another browser given it is signed in)...
            elsewhere = browser.new_context()
            elsewhere.add_cookies([cookie])
            other = elsewhere.new_page()
            other.goto(f"{base}/capacity")
            _heading(other, "Capacity")

            # ...until sign-out ends the session on the server: the old cookie works nowhere.
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
            page.get_by_text("You have signed out.").first.wait_for(timeout=60_000)
            page.get_by_test_id("sign-in-link").click()
            _on_the_form(page, base)
            assert page.get_by_text("You have signed out.").count() == 1
            other.reload()
            _on_the_form(other, base)
            assert "ended=revoked" in other.url
            assert other.get_by_text("Your session was ended").count() == 1
            tab.goto(f"{base}/meetings")
            _on_the_form(tab, base)


def test_a_password_change_ends_other_sessions_and_idle_time_ends_any(database, tmp_path):
    with serve_dashboard(database, tmp_path, SESSION_IDLE_MINUTES="30") as base, _chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        with _screenshot_on_failure(page):
            page.goto(f"{base}/profile")
            _fill_form(page)
            _heading(page, "Profile")
            elsewhere = browser.new_context()
            elsewhere.add_cookies([_cookie(context)])
            other = elsewhere.new_page()
            other.goto(f"{base}/profile")
            _heading(other, "Profile")
            # A second sign-in of the same account, in its own browser.
            third = browser.new_context().new_page()
            third.goto(f"{base}/team")
            _fill_form(third)
            _heading(third, "Team and rooms")

            page.get_by_label("Current password").fill(PASSWORD)
            page.get_by_label(re.compile(r"^New password \(at least")).fill(NEW_PASSWORD)
            page.get_by_label("New password again").fill(NEW_PASSWORD)
            page.get_by_role("button", name="Change password").click()
            page.get_by_text("Password changed.").first.wait_for(timeout=60_000)

            page.reload()  # the browser it was changed in stays signed in
            _heading(page, "Profile")
            third.reload()  # every other sign-in of the account has ended
            _on_the_form(third, base)
            _fill_form(third, NEW_PASSWORD)
            _heading(third, "Team and rooms")

            # Idle for longer than SESSION_IDLE_MINUTES: ended, whichever browser.
            engine = make_engine(database)
            try:
                with session_scope(engine) as s:
                    s.execute(update(DashboardSession).where(DashboardSession.revoked_at.is_(None))
                              .values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
            finally:
                engine.dispose()
            page.reload()
            _on_the_form(page, base)
            assert page.get_by_text("Your session ended after 30 minutes without activity").count() == 1
            third.goto(f"{base}/team")
            _on_the_form(third, base)


def test_the_cookie_is_secure_under_an_https_public_url(database, tmp_path):
    with serve_dashboard(database, tmp_path, PUBLIC_URL="https://slotwise.example.com") as base, \
            _chromium() as browser:
        page = browser.new_context().new_page()
        with _screenshot_on_failure(page):
            page.goto(f"{base}/meetings")
            with page.expect_response(lambda r: r.request.method == "POST" and "/sign-in" in r.url) as answer:
                _fill_form(page)
            set_cookie = answer.value.header_value("set-cookie") or ""
            session = next(line for line in set_cookie.split("\n") if line.startswith(f"{COOKIE}="))
            flags = {part.strip().lower() for part in session.split(";")}
            assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
