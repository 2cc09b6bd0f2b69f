"""What only a real browser shows: typed dates, the confirmation dialog, the copy button, double clicks.

The dashboard runs as a real server (the ``dashboard_url`` fixture of ``test_screenshots``: the
demo organisation plus a few invitations on a temp database) and Playwright drives Debian's
Chromium. Without Chromium the tests skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from booking_service.services import accounts, api_keys
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import (
    ApiKey,
    AuditEntry,
    Invitation,
    OutboxMessage,
    TeamMember,
    User,
    WebhookSubscription,
    utcnow,
)

from .test_screenshots import (
    CHROMIUM,
    EMAIL,
    IN_CI,
    PASSWORD,
    _settle,
    dashboard_url,  # noqa: F401 - the fixture: the dashboard served over the demo data
    to_time_frame,
)

pytestmark = pytest.mark.browser


@contextmanager
def _signed_in(base: str):
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
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        page.goto(base)
        page.get_by_role("textbox", name="Email").fill(EMAIL)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Invite to self-schedule").wait_for(timeout=60_000)
        try:
            yield page
        except Exception:
            page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "slotwise-browser-failure.png"))
            raise
        finally:
            browser.close()


def _open(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    _settle(page)


def _to_time_frame(page, members: list[str]) -> None:
    _open(page, "Invite to self-schedule")
    to_time_frame(page, "Ada Lovelace", "ada@example.com", members)


def _count(page) -> int:
    return int(page.get_by_test_id("stMetricValue").first.inner_text())


def _rows(url: str, model=Invitation) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return s.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


def _click_twice_while_the_first_waits(page, button, url: str) -> None:
    """Click ``button``, then again a second later while the first click's write still waits.

    SQLite's write lock (``BEGIN IMMEDIATE``) is held through both clicks, so the first click's
    action is still waiting for the database when the second arrives: Streamlit then handles the
    second in a new run beside the first (fast reruns), and both would act at once.
    """
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        button.click()
        page.wait_for_timeout(1000)
        button.click()
        page.wait_for_timeout(2000)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def _fill_and_click_twice(page, url: str, title: str, fields: dict[str, str], button: str, done: str) -> None:
    """On the page ``title``, fill ``fields`` (label: text), click ``button`` twice while the first
    click waits (:func:`_click_twice_while_the_first_waits`), and wait until ``done`` shows."""
    _open(page, title)
    for label, text in fields.items():
        page.get_by_label(label, exact=True).first.fill(text)
    _click_twice_while_the_first_waits(page, page.get_by_role("button", name=button), url)
    page.get_by_text(done).wait_for(timeout=60_000)
    _settle(page)


def test_a_typed_date_updates_the_count_without_leaving_the_field(dashboard_url, sqlite_url):  # noqa: F811
    base, members = dashboard_url
    with _signed_in(base) as page:
        _to_time_frame(page, members)
        before = _count(page)
        assert before > 0
        # Type a new last day (three days after the first) into the date field, and stay in it.
        first = utcnow().date() + dt.timedelta(days=1)
        last = first + dt.timedelta(days=3)
        page.get_by_role("spinbutton", name="year, Dates (first and last day) end date").click()
        page.keyboard.type(f"{last:%Y%m%d}", delay=40)
        page.wait_for_function(
            f"() => document.querySelector('[data-testid=\"stMetricValue\"]')?.innerText !== '{before}'",
            timeout=15_000,
        )
        _settle(page)
        after = _count(page)
        assert 0 < after < before
        # Still typing where they were: the focus did not leave the date field.
        assert "end date" in page.evaluate("document.activeElement.getAttribute('aria-label') || ''")


def test_invite_sends_once_even_when_clicked_twice(dashboard_url, sqlite_url):  # noqa: F811
    base, members = dashboard_url
    with _signed_in(base) as page:
        _to_time_frame(page, members)
        page.get_by_role("button", name="Continue").click()
        page.get_by_text("Preview of the email").wait_for(timeout=60_000)
        _settle(page)
        before = _rows(sqlite_url)
        _click_twice_while_the_first_waits(page, page.get_by_role("button", name="Invite", exact=True), sqlite_url)
        page.get_by_text("Invitation sent to Ada Lovelace").wait_for(timeout=60_000)
        _settle(page)
        assert _rows(sqlite_url) == before + 1
        # The success message shows with the Invite button disabled, and a copy button in plain view.
        assert page.get_by_role("button", name="Invite", exact=True).is_disabled()
        copy = page.get_by_role("button", name="Copy link")
        assert copy.is_visible()
        link = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
        copy.click()
        page.get_by_role("button", name="Copied").wait_for(timeout=5_000)
        assert page.evaluate("navigator.clipboard.readText()") == link


def test_make_key_makes_one_key_even_when_clicked_twice(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        _fill_and_click_twice(page, sqlite_url, "API keys and webhooks", {"Name": "CRM sync"}, "Make key",
                              "Copy the key now")
        assert _rows(sqlite_url, ApiKey) == 1
        shown = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
        engine = make_engine(sqlite_url)
        try:
            with session_scope(engine) as s:
                assert api_keys.authenticate(s, shown) is not None  # the key shown is the key made
        finally:
            engine.dispose()


def test_add_webhook_adds_one_subscription_even_when_clicked_twice(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        _fill_and_click_twice(page, sqlite_url, "API keys and webhooks", {"URL": "https://hooks.example.com/slotwise"},
                              "Add webhook", "Copy the signing secret now")
        assert _rows(sqlite_url, WebhookSubscription) == 1
        assert page.locator('[data-testid="stCode"] code').first.inner_text().strip().startswith("whsec_")


def test_resend_sends_one_email_even_when_clicked_twice(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    to_grace = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.to_addr == "grace@example.com")
    with _signed_in(base) as page:
        _open(page, "Invitations")
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option").filter(has_text="Grace Hopper — Introduction call").first.click()
        _settle(page)
        engine = make_engine(sqlite_url)
        try:
            with session_scope(engine) as s:
                before = s.scalar(to_grace)
            _click_twice_while_the_first_waits(page, page.get_by_role("button", name="Resend with a new link"),
                                               sqlite_url)
            page.get_by_text("Sent again to grace@example.com").wait_for(timeout=60_000)
            _settle(page)
            with session_scope(engine) as s:
                assert s.scalar(to_grace) == before + 1
        finally:
            engine.dispose()


def test_add_user_clicked_twice_adds_one_and_shows_its_generated_password(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        users = _rows(sqlite_url, User)
        _fill_and_click_twice(page, sqlite_url, "Users", {"Name": "Cleo Clerk", "Email": "cleo@example.com"},
                              "Add user", "Password for cleo@example.com")
        assert _rows(sqlite_url, User) == users + 1
        assert "already" not in page.locator('[data-testid="stMain"]').inner_text()
        password = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
        engine = make_engine(sqlite_url)
        try:
            with session_scope(engine, write=True) as s:
                assert accounts.authenticate(s, "cleo@example.com", password, client="t").ok
        finally:
            engine.dispose()
        # The form starts afresh for the next person.
        assert page.get_by_label("Email", exact=True).input_value() == ""


def test_reset_password_clicked_twice_resets_once_and_shows_the_password_in_force(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    resets = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.password_reset")
    with _signed_in(base) as page:
        _open(page, "Users")
        engine = make_engine(sqlite_url)
        try:
            with session_scope(engine) as s:
                before = s.scalar(resets)
            _click_twice_while_the_first_waits(page, page.get_by_role("button", name="Reset password"), sqlite_url)
            shown = page.get_by_text("Password for ")
            shown.wait_for(timeout=60_000)
            _settle(page)
            target = re.search(r"Password for (\S+@\S+?) ", shown.inner_text()).group(1)
            password = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
            with session_scope(engine, write=True) as s:
                assert s.scalar(resets) == before + 1
                assert accounts.authenticate(s, target, password, client="t").ok
        finally:
            engine.dispose()


def test_add_team_member_clicked_twice_adds_one_and_empties_the_form(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        _open(page, "Team and rooms")
        members = _rows(sqlite_url, TeamMember)
        page.get_by_text("Add a team member").click()
        page.get_by_label("Name", exact=True).first.fill("Cleo Consultant")
        page.get_by_label("Email", exact=True).first.fill("cleo@example.com")
        _click_twice_while_the_first_waits(page, page.get_by_role("button", name="Add team member"), sqlite_url)
        page.get_by_text("Added Cleo Consultant.").wait_for(timeout=60_000)
        _settle(page)
        assert _rows(sqlite_url, TeamMember) == members + 1
        assert "already" not in page.locator('[data-testid="stMain"]').inner_text()
        assert page.get_by_label("Name", exact=True).first.input_value() == ""


def test_a_room_added_on_the_rooms_tab_is_shown_there(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        _open(page, "Team and rooms")
        page.get_by_role("tab", name="Rooms").click()
        page.get_by_text("Add a room").click()
        name = page.locator(".st-key-add-room-name input")
        name.fill("Green room")
        name.press("Enter")  # the name's own rerun done before the click, which it could swallow
        _settle(page)
        page.get_by_role("button", name="Add room").click()
        page.get_by_text("Added Green room.").wait_for(timeout=60_000)
        _settle(page)
        # The page reran with its message above the tabs: the Rooms tab is still the one open.
        assert page.get_by_role("tab", name="Rooms").get_attribute("aria-selected") == "true"
        assert page.get_by_role("tab", name="Team members").get_attribute("aria-selected") == "false"


def test_cancelling_an_invitation_asks_in_a_dialog(dashboard_url, sqlite_url):  # noqa: F811
    base, _members = dashboard_url
    with _signed_in(base) as page:
        _open(page, "Invitations")
        active = _rows(sqlite_url)
        # The table fits the page: no column runs off to the right.
        scroller = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first
        assert scroller.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the table needs a sideways scroll"
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option").filter(has_text="Grace Hopper — Introduction call").first.click()
        _settle(page)
        page.get_by_role("button", name="Cancel invitation…").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for(timeout=30_000)
        assert "Cancel the invitation of Grace Hopper (grace@example.com)" in dialog.inner_text()
        assert "Grace Hopper is told by email (grace@example.com) that the invitation was withdrawn" in dialog.inner_text()
        dialog.get_by_role("button", name="Keep it").click()
        dialog.wait_for(state="detached", timeout=30_000)
        _settle(page)
        engine = make_engine(sqlite_url)
        try:
            with session_scope(engine) as s:
                grace = s.scalars(select(Invitation).where(Invitation.customer_email == "grace@example.com")).one()
                assert grace.status == "active"
            page.get_by_role("button", name="Cancel invitation…").click()
            page.get_by_role("dialog").get_by_role("button", name="Cancel invitation").click()
            page.get_by_text("Cancelled the invitation of Grace Hopper").wait_for(timeout=30_000)
            with session_scope(engine) as s:
                assert s.get(Invitation, grace.id).status == "cancelled"
                assert s.scalar(select(func.count()).select_from(Invitation)) == active
        finally:
            engine.dispose()
