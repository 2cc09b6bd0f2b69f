"""WCAG 2.2 AA on every customer page and every customer mail, in real headless Chromium.

axe-core (the npm package, installed into ``.cache/axe`` by ``make axe``) is injected into each
page state listed in :data:`_states` and into each HTML mail rendered as a page, and must report
no violation of the WCAG 2.0/2.1/2.2 A and AA rules (contrast among them). A keyboard-only walk
books a meeting; the pages are checked at 320 px wide and at 200% zoom; a page is framed from
allowed origins (``EMBED_ALLOWED_ORIGINS``, the organisation's list) and from a refused one.
Without Chromium or axe-core the tests skip with the reason, except with ``CI=true``, where they
fail. ``docs/accessibility.md`` says what is checked and how to re-run it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core.config import load_settings
from booking_service.services import availability
from booking_service.services.booking import (
    cancel_by_customer,
    cancel_meeting,
    confirm_slot,
    reschedule_meeting,
)
from booking_service.services.invitations import (
    cancel_invitation,
    create_invitation,
    hash_token,
    manage_token_for,
    resend_invitation,
)
from booking_service.services.outbox import message_content
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, OutboxMessage, User

from ..factories import SECRET_KEY, ZONE, draft, make_org
from ..smtp_server import free_port
from .live import serving

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
EMBEDDER = "http://127.0.0.1:{port}"


def _skip(reason: str):
    if IN_CI:
        pytest.fail(reason + " (CI=true requires it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _skip("chromium is not installed; apt-get install chromium to run the accessibility tests")
    if not AXE.exists():
        _skip(f"axe-core is not installed at {AXE.relative_to(ROOT)}; run make axe (needs npm)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        yield chromium
        chromium.close()


# --- the site: one organisation with an invitation or meeting in every state ---------------------


@dataclass
class Site:
    base: str
    engine: object
    paths: dict[str, str] = field(default_factory=dict)
    mails: dict[str, str] = field(default_factory=dict)
    embed_port: int = 0


def _starts(session: Session, invitation_id: int) -> list[dt.datetime]:
    slots = availability.find_slots_for(session, session.get(Invitation, invitation_id))
    return [t.to_pydatetime() for t in slots["start"]]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    from booking_service.store.models import Base
    from booking_service.web.app import create_app

    folder = tmp_path_factory.mktemp("a11y")
    url = f"sqlite:///{folder / 'slotwise.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    port, embed_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    config = {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "SLOTWISE_VAR_DIR": str(folder / "var"),
              "PUBLIC_URL": base, "EMBED_ALLOWED_ORIGINS": EMBEDDER.format(port=embed_port)}
    app = create_app(config)
    settings = load_settings({**{k: str(v) for k, v in config.items()}})
    site = Site(base=base, engine=engine, embed_port=embed_port)
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as session:
        org = make_org(session)

    def invite(**changes) -> tuple[str, int]:
        with session_scope(engine, write=True) as session:
            created = create_invitation(session, draft(org, now, **changes), secret_key=SECRET_KEY,
                                        by=session.get(User, org.scheduler), public_url=base)
            return created.token, created.invitation.id

    def book(invitation_id: int, index: int = 0):
        with session_scope(engine, write=True) as session:
            start = _starts(session, invitation_id)[index]
            result = confirm_slot(session, invitation_id, start, secret_key=SECRET_KEY, settings=settings)
            return result.meeting.id

    def manage(token: str) -> str:
        return manage_token_for(SECRET_KEY, hash_token(token))

    token, _ = invite(promote=True, promote_count=3)
    site.paths["invitation"] = f"/i/{token}"
    site.paths["times"] = f"/i/{token}/times"
    site.paths["times-de"] = f"/i/{token}/times?lang=de"
    site.paths["times-fr-12h"] = f"/i/{token}/times?lang=fr&clock=12"
    site.paths["times-es"] = f"/i/{token}/times?lang=es"
    with session_scope(engine) as session:
        first = _starts(session, _)[0].astimezone(dt.UTC)
    day = first.date().isoformat()
    site.paths["times-day"] = f"/i/{token}/times?zone={ZONE}&day={day}"
    site.paths["hold-confirm"] = f"/i/{token}/slot?zone={ZONE}&start={first:%Y-%m-%dT%H:%M:%SZ}"

    token, _ = invite()
    site.paths["walk"] = f"/i/{token}/times?zone={ZONE}"

    token, invitation_id = invite()
    book(invitation_id)
    site.paths["scheduled"] = f"/i/{token}/scheduled"
    site.paths["already-scheduled"] = f"/i/{token}"
    site.paths["manage"] = f"/m/{manage(token)}"
    site.paths["reschedule"] = f"/m/{manage(token)}/reschedule"
    with session_scope(engine) as session:
        later = _starts(session, invitation_id)[5].astimezone(dt.UTC)
    site.paths["reschedule-confirm"] = f"/m/{manage(token)}/reschedule/slot?start={later:%Y-%m-%dT%H:%M:%SZ}"
    site.paths["cancel"] = f"/m/{manage(token)}/cancel"

    token, invitation_id = invite()
    meeting_id = book(invitation_id)
    with session_scope(engine, write=True) as session:
        start = _starts(session, invitation_id)[7]
        reschedule_meeting(session, meeting_id, start, secret_key=SECRET_KEY, manage_token=manage(token),
                           settings=settings)
    with session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, reason="Ill", settings=settings)
    site.paths["cancelled-by-customer"] = f"/m/{manage(token)}"

    token, invitation_id = invite(language="de")
    meeting_id = book(invitation_id)
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, by=None, secret_key=SECRET_KEY, settings=settings)
    site.paths["rebook"] = f"/m/{manage(token)}"
    site.paths["rebook-times"] = f"/m/{manage(token)}/reschedule"

    token, invitation_id = invite(change_cutoff_hours=24 * 60)
    book(invitation_id)
    site.paths["manage-outside-policy"] = f"/m/{manage(token)}"

    token, invitation_id = invite()
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, invitation_id, by=None, secret_key=SECRET_KEY)
    site.paths["closed-cancelled"] = f"/i/{token}"

    token, invitation_id = invite()
    with session_scope(engine, write=True) as session:
        invitation = session.get(Invitation, invitation_id)
        invitation.frame_start = invitation.frame_end = now.date() - dt.timedelta(days=3)
    site.paths["closed-expired"] = f"/i/{token}"

    token, invitation_id = invite()
    with session_scope(engine, write=True) as session:
        resend_invitation(session, invitation_id, by=None, public_url=base, secret_key=SECRET_KEY)
    site.paths["replaced-410"] = f"/i/{token}"

    site.paths["error-404"] = "/i/" + "A" * 43
    site.paths["error-400"] = site.paths["times"] + "?zone=Nowhere/Atlantis"

    with session_scope(engine) as session:
        for message in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
            html = message_content(message, SECRET_KEY).html
            customer = message.to_addr == "ada@customer.example"
            name = f"{message.kind}-{'customer' if customer else 'team'}"
            if html and name not in site.mails:
                site.mails[name] = html
            if customer and message.kind == "cancellation" and "rebook" in html:
                site.mails["cancellation-customer-rebook"] = html
            if customer and message.invitation_id and "lang=\"de\"" in html:
                site.mails.setdefault(f"{message.kind}-customer-de", html)

    try:
        with serving(app, port):
            yield site
    finally:
        engine.dispose()


#: Every customer page state axe checks: name -> path (filled in by the ``site`` fixture).
_states = (
    "invitation", "times", "times-day", "times-de", "times-fr-12h", "times-es", "hold-confirm", "scheduled",
    "already-scheduled", "manage", "reschedule", "reschedule-confirm", "cancel", "cancelled-by-customer",
    "rebook", "rebook-times", "manage-outside-policy", "closed-cancelled", "closed-expired", "replaced-410",
    "error-404", "error-400",
)

#: Every customer mail, and the team's, rendered as a page.
_mails = (
    "invitation-customer", "confirmation-customer", "notification-team", "reminder-customer", "reminder-team",
    "moved-customer", "moved-team", "cancellation-customer", "cancellation-customer-rebook", "cancellation-team",
    "invitation_cancelled-customer", "confirmation-customer-de", "cancellation-customer-de",
)


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


@pytest.fixture
def context(browser):
    # axe is injected as a script; the pages' Content Security Policy would refuse it.
    context = browser.new_context(bypass_csp=True, locale="en-US", timezone_id="Europe/Berlin")
    yield context
    context.close()


@pytest.mark.parametrize("state", _states)
def test_every_page_state_has_no_axe_violation(context, site, state):
    page = context.new_page()
    response = page.goto(site.base + site.paths[state])
    assert response is not None and response.status < 500
    page.wait_for_load_state("load")
    violations = _axe(page)
    assert violations == [], json.dumps(violations, indent=1)


@pytest.mark.parametrize("mail", _mails)
def test_every_html_mail_has_no_axe_violation(context, site, mail):
    assert mail in site.mails, f"no {mail} mail was queued; queued: {sorted(site.mails)}"
    page = context.new_page()
    page.set_content(site.mails[mail])
    violations = _axe(page)
    assert violations == [], json.dumps(violations, indent=1)


def _focused(page) -> dict:
    return page.evaluate("""() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        return {tag: e.tagName, cls: e.className, text: (e.getAttribute('aria-label') || e.textContent).trim(),
                id: e.id, outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
    }""")


def _tab_until(page, matches: Callable[[dict], bool], limit: int = 80) -> dict:
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if matches(focused):
            return focused
    raise AssertionError("not reached by Tab")


def test_a_keyboard_alone_books_a_meeting(context, site):
    page = context.new_page()
    page.goto(site.base + site.paths["walk"])
    # The first Tab reaches the skip link, visible when focused; it moves focus to the main content.
    page.keyboard.press("Tab")
    skip = _focused(page)
    assert skip["text"] == "Skip to content" and skip["outline"]
    assert page.locator("a.skip").bounding_box()["x"] >= 0
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"
    # Tab to the month grid's day (one stop), the arrows move between days, Enter chooses one.
    day = _tab_until(page, lambda f: "day-button" in f["cls"])
    assert day["outline"], "focus is visible on the day"
    page.keyboard.press("ArrowRight")
    second = _focused(page)
    assert "day-button" in second["cls"] and second["text"] != day["text"]
    page.keyboard.press("Enter")
    page.wait_for_url("**day=**")
    # Focus is on the chosen day's times.
    focused = _focused(page)
    assert focused["tag"] == "H3" and focused["text"] == second["text"]
    slot = _tab_until(page, lambda f: f["cls"] == "slot")
    assert slot["outline"] and slot["text"].startswith(second["text"] + ", ") and "Central European Time" in slot["text"]
    page.keyboard.press("Enter")
    page.wait_for_url("**/slot**")
    _tab_until(page, lambda f: f["cls"] == "confirm")
    page.keyboard.press("Enter")
    page.wait_for_url("**/scheduled**")
    assert page.get_by_role("heading", name="Your meeting is scheduled").is_visible()


def test_each_time_is_a_button_named_by_its_full_date_time_and_zone(context, site):
    page = context.new_page()
    page.goto(site.base + site.paths["times"] + "?zone=America/Chicago")
    button = page.get_by_role("button", name="Central Time (Chicago)").first
    name = button.get_attribute("aria-label")
    # "Monday 14 December 2026, 2:00 AM, Central Time (Chicago)"
    day, time, zone = name.split(", ")
    assert day.split()[0] in ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
    assert time.endswith((" AM", " PM")) and zone == "Central Time (Chicago)"
    assert page.locator(".meta").inner_text().endswith("30 minutes")


@pytest.mark.parametrize("state", ["invitation", "times", "times-day", "hold-confirm", "manage", "cancel"])
def test_pages_fit_320_pixels_and_200_percent_zoom(browser, site, state):
    # 320 CSS pixels wide is a 1280 px window at 400% zoom (WCAG 1.4.10 Reflow); 200% zoom of a
    # 1280 x 800 window is 640 x 400 CSS pixels at device scale 2 (WCAG 1.4.4 Resize text).
    for width, height, scale in ((320, 640, 1), (640, 400, 2)):
        context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
        page = context.new_page()
        page.goto(site.base + site.paths[state])
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{state} scrolls sideways by {overflow}px at {width}px wide"
        context.close()


def test_errors_are_announced(context, site):
    page = context.new_page()
    page.goto(site.base + site.paths["error-400"])
    assert page.get_by_role("alert").inner_text().startswith("That time zone is not known")


def test_a_page_may_be_framed_from_an_allowed_origin_only(browser, site):
    """EMBED_ALLOWED_ORIGINS and the organisation's list name the embedding sites; any other origin's
    frame stays empty. The organisation's list applies as soon as an admin saves it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from booking_service.services.embedding import set_organisation_origins

    target = site.base + site.paths["invitation"]

    class Embedder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            body = f'<!doctype html><title>embed</title><iframe id="f" src="{target}"></iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    by_deployment = ThreadingHTTPServer(("127.0.0.1", site.embed_port), Embedder)
    by_organisation = ThreadingHTTPServer(("127.0.0.1", free_port()), Embedder)
    refused = ThreadingHTTPServer(("127.0.0.1", free_port()), Embedder)
    servers = (by_deployment, by_organisation, refused)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = browser.new_context()
        page = context.new_page()

        def framed_heading(server) -> str | None:
            # "load" waits for the frame too; a refused frame holds Chromium's error page instead.
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/", wait_until="load")
            frame = next((f for f in page.frames if f.url.startswith(site.base)), None)
            return None if frame is None else frame.evaluate("() => document.querySelector('h1')?.innerText ?? null")

        assert framed_heading(by_deployment) == "Intro call"
        assert framed_heading(by_organisation) is None
        with session_scope(site.engine, write=True) as session:
            admin = User(email="embed-admin@example.com", name="Admin", zone=ZONE, role="admin")
            session.add(admin)
            session.flush()
            set_organisation_origins(session, EMBEDDER.format(port=by_organisation.server_address[1]), by=admin)
        assert framed_heading(by_organisation) == "Intro call"
        assert framed_heading(by_deployment) == "Intro call"
        assert framed_heading(refused) is None
        context.close()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()  # the listening socket, or its garbage collection warns in a later test


SHOTS = ROOT / "test-output" / "accessibility"


def test_screenshots_of_the_times_page_in_two_languages_and_on_a_phone(browser, site):
    """The README's pictures (copied from test-output/accessibility/ to docs/ by hand)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, query, viewport, scale in (
        ("booking-times-en", "&lang=en", {"width": 1100, "height": 900}, 1),
        ("booking-times-de", "&lang=de", {"width": 1100, "height": 900}, 1),
        ("booking-times-phone-fr", "&lang=fr", {"width": 375, "height": 740}, 2),
    ):
        context = browser.new_context(viewport=viewport, device_scale_factor=scale, timezone_id=ZONE)
        page = context.new_page()
        page.goto(site.base + site.paths["times-day"] + query)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        context.close()
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
