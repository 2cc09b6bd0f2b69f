"""Screenshots of every dashboard page in headless Chromium, against the dashboard's server on loopback.

The dashboard runs as a real server on a free 127.0.0.1 port over a seeded temp database (the
demo organisation plus a few invitations and a booked meeting); Playwright drives the system's
Chromium (never a downloaded browser), signs in, opens each page from the sidebar and saves a
full-page PNG into ``test-output/dashboard/``. Without Chromium the test skips, except with
``CI=true``, where it fails.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from booking_service.seed import seed_demo
from booking_service.services import accounts, availability, booking
from booking_service.services.invitations import InvitationDraft, create_invitation
from booking_service.services.queries import pools, team_members
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, utcnow

from ..ports import free_port
from .conftest import ROOT, SECRET_KEY

CHROMIUM = Path("/usr/bin/chromium")
SERVER = ROOT / "dashboard" / "server.py"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
OUTPUT = ROOT / "test-output" / "dashboard"
EMAIL, PASSWORD = "screens@example.com", "screenshot-password-1"
PAGES = [  # sidebar title, file name
    ("Invite to self-schedule", "invite"),
    ("Invitations", "invitations"),
    ("Meetings", "meetings"),
    ("Team and rooms", "team"),
    ("Calendars", "calendars"),
    ("Profile", "profile"),
    ("Capacity", "capacity"),
    ("Outbox", "outbox"),
]

pytestmark = pytest.mark.browser


def _seed(url: str) -> list[str]:
    """Seed the demo organisation plus invitations and a meeting; return two members' labels."""
    started = time.perf_counter()
    engine = make_engine(url)
    with session_scope(engine, write=True) as s:
        seed_demo(s, secret_key=SECRET_KEY, seed=7, public_url="http://127.0.0.1:5000")
        user = accounts.create_user(s, email=EMAIL, name="Sam Scheduler", password=PASSWORD, role="admin")
        members, pool = team_members(s), pools(s)[0]
        same_zone = [m for m in members if m.zone == members[0].zone]  # people who share working hours
        london = [f"{m.name} ({m.zone})" for m in (same_zone if len(same_zone) > 1 else members)[:2]]
        today = utcnow().date()
        created = []
        for n, (name, team) in enumerate(
            [("Grace Hopper", {"members": (members[0].id,)}), ("Alan Turing", {"pools": (pool.id,)}),
             ("Katherine Johnson", {"members": (members[1].id,)})]
        ):
            created.append(create_invitation(
                s,
                InvitationDraft(
                    customer_name=name, customer_email=f"{name.split()[0].lower()}@example.com",
                    subject=["Introduction call", "Product demo", "Contract review"][n], duration_minutes=30 + 15 * n,
                    frame_start=today + dt.timedelta(days=1), frame_end=today + dt.timedelta(days=10),
                    promote=n == 0, promote_count=3, zone="Europe/London", **team,
                ),
                secret_key=SECRET_KEY, by=user, public_url="http://127.0.0.1:5000",
            ).invitation.id)
    with session_scope(engine, write=True) as s:
        invitation = s.get(Invitation, created[-1])
        first = availability.find_slots_for(s, invitation)["start"].iloc[3].to_pydatetime()
        assert booking.confirm_slot(s, invitation.id, first, secret_key=SECRET_KEY).outcome == "booked"
    engine.dispose()
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    return london


@contextmanager
def serve_dashboard(database_url: str, tmp_path: Path, **env: str) -> Iterator[str]:
    """``streamlit run dashboard/server.py`` on a free loopback port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "screenshot-secret",
        **env,
    }
    log_path = tmp_path / f"streamlit-{port}.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         # Source files may change while the test runs (a working tree); the server must not reload.
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a shared machine may be slow to start it
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    output = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"streamlit did not start: {output}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def dashboard_url(sqlite_url, tmp_path):
    """The dashboard served over a seeded database (``serve_dashboard``); yields its URL and two members."""
    members = _seed(sqlite_url)
    with serve_dashboard(sqlite_url, tmp_path) as base:
        yield base, members


def _settle(page) -> None:
    """Wait until the script run has finished and charts have drawn."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute("data-test-script-state") === "notRunning";
        }""",
        timeout=120_000,
    )
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=120_000)
    page.wait_for_timeout(1500)  # tables and charts paint after the script run ends


def _enter(page, label: str, text: str) -> None:
    """Type into a text field and apply it (Enter), then wait for the run that applying starts.

    Clicking a button while a changed field still has the focus makes Streamlit apply the field
    and handle the click in overlapping runs; under load the click can land on the button as the
    first run redraws it, and is lost. Applying first leaves nothing for the click to race.
    """
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Enter")
    _settle(page)


def to_time_frame(page, name: str, email: str, members: list[str], *, timeout: int = 120_000) -> None:
    """Walk the invitation wizard from its first step to the time frame with its live count."""
    _enter(page, "Participant name", name)
    _enter(page, "Email", email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Subject", exact=True).wait_for(timeout=timeout)
    _enter(page, "Subject", "Introduction call")
    for label in members:
        page.get_by_label("Team members (all attend)").click()
        page.get_by_role("option", name=label, exact=True).click()
        page.keyboard.press("Escape")
    _settle(page)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("Available slots").wait_for(timeout=timeout)
    _settle(page)


def test_screenshot_of_every_page(dashboard_url):
    base, members = dashboard_url
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("Chromium is missing at /usr/bin/chromium (CI=true requires it)")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.goto(base)
        page.get_by_role("textbox", name="Email").fill(EMAIL)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Invite to self-schedule").wait_for(timeout=120_000)
        for title, name in PAGES:
            page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
            page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
            _settle(page)
            assert not page.locator('[data-testid="stException"]').count(), f"{title} shows an exception"
            page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
        # The wizard at its second step: the live count and the heatmap.
        page.locator('[data-testid="stSidebarNav"]').get_by_text(PAGES[0][0], exact=True).click()
        _settle(page)
        try:
            to_time_frame(page, "Grace Hopper", "grace@example.com", members)
        except Exception:
            page.screenshot(path=str(OUTPUT / "failure.png"), full_page=True)  # for whoever reads CI logs
            raise
        assert not page.locator('[data-testid="stException"]').count()
        page.screenshot(path=str(OUTPUT / "invite-time-frame.png"), full_page=True)
        browser.close()
    saved = sorted(path.name for path in OUTPUT.glob("*.png"))
    assert saved == sorted([f"{name}.png" for _, name in PAGES] + ["invite-time-frame.png"])
    assert all((OUTPUT / name).stat().st_size > 10_000 for name in saved)
