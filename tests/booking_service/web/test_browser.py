"""The customer's whole flow in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Open the link, More times, pick, View other available times, pick again, confirm, see the
scheduled page, reopen the link and see "already scheduled"; then the same pages on a phone-size
viewport and by keyboard only; then a booking moved and cancelled through the manage pages. Screenshots go to ``test-output/browser/``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services.invitations import create_invitation
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Meeting

from ..factories import SECRET_KEY, draft, make_org
from ..smtp_server import free_port
from .live import serving

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[3] / "test-output" / "browser"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        if IN_CI:
            pytest.fail("chromium is not installed (apt-get install chromium); CI=true requires it")
        pytest.skip("chromium is not installed; apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture
def live(sqlite_url, tmp_path) -> Iterator[tuple[str, str]]:
    """The booking service on a free loopback port; yields its URL and the database URL."""
    from booking_service.web.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(
        {"DATABASE_URL": sqlite_url, "SECRET_KEY": "browser", "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
         "PUBLIC_URL": base}
    )
    with serving(app, port):
        yield base, sqlite_url


def _invitation(database_url: str, base: str, **changes) -> str:
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = make_org(session)
        with session_scope(engine, write=True) as session:
            created = create_invitation(
                session, draft(org, dt.datetime.now(dt.UTC), **changes), secret_key=SECRET_KEY, by=None, public_url=base
            )
            return created.link
    finally:
        engine.dispose()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_customer_books_through_the_whole_flow(browser, live):
    base, database_url = live
    link = _invitation(database_url, base, promote=True, promote_count=3)
    context = browser.new_context(timezone_id="America/New_York", locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(link)
    # The static script detected the browser's zone and put it in the URL.
    page.wait_for_url("**zone=America%2FNew_York**")
    assert page.locator(".zone-name").inner_text() == "Eastern Time (New York)"
    assert page.locator("button.slot").count() == 3
    _shot(page, "01-invitation")

    page.get_by_role("link", name="More times").click()
    page.wait_for_url("**/times**")
    assert "Available times" in page.content()
    _shot(page, "02-times")
    page.locator("button.slot").nth(2).click()
    page.wait_for_url("**/slot**")
    assert page.get_by_role("heading", name="Confirm your meeting").is_visible()
    assert page.locator(".when").inner_text().endswith(", Eastern Time (New York)")
    _shot(page, "03-confirm")

    page.get_by_role("link", name="View other available times").click()
    page.wait_for_url("**/times**")
    page.locator("button.slot").nth(4).click()
    page.wait_for_url("**/slot**")
    chosen = page.locator(".when").inner_text()
    page.get_by_role("button", name="Confirm this time").click()
    page.wait_for_url("**/scheduled")
    assert page.get_by_role("heading", name="Your meeting is scheduled").is_visible()
    assert page.locator(".when").inner_text() == chosen
    assert page.get_by_role("link", name="Download invite (.ics)").is_visible()
    _shot(page, "04-scheduled")

    page.goto(link)
    assert page.get_by_role("heading", name="Your meeting has already been scheduled").is_visible()
    _shot(page, "05-already-scheduled")
    assert errors == []  # no CSP violations or script errors
    context.close()

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        assert len(session.scalars(select(Meeting)).all()) == 1
    engine.dispose()


def test_phone_viewport_and_keyboard_only(browser, live):
    base, database_url = live
    link = _invitation(database_url, base)
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True,
        timezone_id="Europe/Berlin",
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(link)
    assert page.locator("button.slot").count() > 0
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    _shot(page, "06-phone-times")

    # Keyboard only: Tab to the first time, Enter; Tab to the confirm button, Enter.
    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"{selector} cannot be reached with Tab")

    tab_to("button.slot")
    page.keyboard.press("Enter")
    page.wait_for_url("**/slot**")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    _shot(page, "07-phone-confirm")
    tab_to("button.confirm")
    page.keyboard.press("Enter")
    page.wait_for_url("**/scheduled")
    assert page.get_by_role("heading", name="Your meeting is scheduled").is_visible()
    _shot(page, "08-phone-scheduled")
    context.close()


def test_customer_reschedules_then_cancels(browser, live):
    base, database_url = live
    link = _invitation(database_url, base, change_cutoff_hours=0)
    context = browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(link)
    page.locator("button.slot").first.click()
    page.wait_for_url("**/slot**")
    assert "held for you" in page.locator(".hold").inner_text()
    page.get_by_role("button", name="Confirm this time").click()
    page.wait_for_url("**/scheduled")
    booked = page.locator(".when").inner_text()

    page.get_by_role("link", name="Reschedule").click()
    page.wait_for_url("**/reschedule**")
    assert page.get_by_role("heading", name="Move your meeting").is_visible()
    _shot(page, "09-reschedule-times")
    page.locator("button.slot").nth(3).click()
    page.wait_for_url("**/reschedule/slot**")
    new_time = page.locator("dd.when").inner_text()
    assert page.locator(".old-when").inner_text() == booked
    page.get_by_role("button", name="Move to this time").click()
    page.wait_for_url("**/m/*")
    assert "Your meeting has been moved." in page.content()
    assert page.locator(".when").inner_text() == new_time != booked
    _shot(page, "10-moved")

    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/cancel**")
    page.get_by_label("Reason (optional)").fill("Something came up")
    page.get_by_role("button", name="Cancel the meeting").click()
    page.wait_for_url("**/m/*")
    assert page.get_by_role("heading", name="This meeting has been cancelled").is_visible()
    _shot(page, "11-cancelled")
    assert errors == []
    page.goto(link)  # answered 410 Gone, as a closed invitation is
    assert page.get_by_role("heading", name="This invitation has been cancelled").is_visible()
    context.close()

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        (meeting,) = session.scalars(select(Meeting)).all()
        assert (meeting.status, meeting.sequence, meeting.cancel_reason) == ("cancelled", 2, "Something came up")
    engine.dispose()
