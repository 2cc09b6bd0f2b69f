"""The customer's pages: invitation, times, slot re-check, confirmation, scheduled; errors and security."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from zoneinfo import ZoneInfo

import icalendar
import pandas as pd
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from booking_service.core import display, i18n
from booking_service.services import availability
from booking_service.services.booking import confirm_slot
from booking_service.services.invitations import (
    cancel_invitation,
    create_invitation,
    resend_invitation,
    slot_link,
)
from booking_service.store.db import session_scope
from booking_service.store.models import Invitation, Meeting, OutboxMessage, User
from booking_service.web.booking import _days

from ..factories import SECRET_KEY, ZONE, add_busy, berlin, draft, make_org
from .pages import slot_paths

UTC = dt.UTC
PUBLIC = "http://localhost"
GONE = "That time is no longer available, please pick another"


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _engine(app):
    return app.extensions["slotwise"]["engine"]


@pytest.fixture
def org(app):
    with Session(_engine(app), expire_on_commit=False) as session:
        return make_org(session)


def _invite(app, org, **changes) -> tuple[str, int]:
    with session_scope(_engine(app), write=True) as session:
        user = session.get(User, org.scheduler)
        created = create_invitation(session, draft(org, _now(), **changes), secret_key=SECRET_KEY, by=user, public_url=PUBLIC)
        return created.token, created.invitation.id


def _frame_start(app, invitation_id: int) -> dt.date:
    with session_scope(_engine(app)) as session:
        return session.get(Invitation, invitation_id).frame_start


def _book(app, invitation_id: int, start: dt.datetime, now: dt.datetime | None = None) -> str:
    with session_scope(_engine(app), write=True) as session:
        return confirm_slot(session, invitation_id, start, secret_key=SECRET_KEY, now=now).outcome


def _text(response) -> str:
    return response.get_data(as_text=True)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _slot_path(html: str) -> str:
    return slot_paths(html)[0]


# --- invitation page ---------------------------------------------------------------------------


def test_invitation_without_promoted_slots_lists_every_time_by_day(client, app, org):
    token, invitation_id = _invite(app, org)
    response = client.get(f"/i/{token}")
    assert response.status_code == 200
    html = _text(response)
    assert "Intro call" in html and "Hello Ada Customer," in html
    assert "Times are shown in <strong class=\"zone-name\">Central European Time (Berlin)</strong>" in html
    monday = _frame_start(app, invitation_id)
    assert html.count('<div class="day" ') == 5
    assert f">Monday {monday.day} {monday:%B %Y}</h3>" in html
    assert html.count('class="slot"') == 31 * 5
    assert ">9:00 AM<" in html and ">4:30 PM<" in html and ">4:45 PM<" not in html
    assert f'aria-label="Monday {monday.day} {monday:%B %Y}, 9:00 AM, Central European Time (Berlin)"' in html


def test_invitation_with_promoted_slots_shows_those_still_available(client, app, org):
    token, invitation_id = _invite(app, org, promote=True, promote_count=3)
    html = _text(client.get(f"/i/{token}"))
    assert "Suggested times" in html and "More times" in html
    with session_scope(_engine(app)) as session:
        promoted = session.get(Invitation, invitation_id).promoted_slots
        first = promoted[0]
    assert html.count('class="slot"') == 3
    assert f"{i18n.format_time(first.start, ZONE, 'en')} – " in html
    # Another invitation with the same member takes the first promoted slot: it disappears.
    _, other = _invite(app, org)
    assert _book(app, other, first.start) == "booked"
    html = _text(client.get(f"/i/{token}"))
    assert html.count('class="slot"') == 2
    more = re.search(r'class="more[^"]*" href="([^"]+)"', html).group(1)
    assert unescape(more).startswith(f"/i/{token}/times?zone=Europe")


def test_a_replaced_link_points_to_the_newer_one_and_an_unknown_one_is_a_404(client, app, org):
    token, invitation_id = _invite(app, org)
    with session_scope(_engine(app), write=True) as session:
        resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC)
        sent_at = session.get(Invitation, invitation_id).sent_at
    revoked = client.get(f"/i/{token}")
    never = client.get("/i/" + "A" * len(token))
    assert (revoked.status_code, never.status_code) == (410, 404)
    day = sent_at.astimezone(ZoneInfo(ZONE)).date()
    assert (f"A newer invitation link was sent to you on {day:%A} {day.day} {day:%B %Y}; use that one."
            in _text(revoked))
    assert "This link is not valid" in _text(never)
    for path in ("times", "slot?start=2030-01-01T10:00:00Z", "scheduled", "invite.ics"):
        response = client.get(f"/i/{token}/{path}")
        assert response.status_code == 410 and "A newer invitation link" in _text(response)


def test_scheduled_invitation_says_so_with_the_time(client, app, org):
    token, invitation_id = _invite(app, org)
    start = berlin(_frame_start(app, invitation_id), 10)
    assert _book(app, invitation_id, start) == "booked"
    html = _text(client.get(f"/i/{token}"))
    assert "Your meeting has already been scheduled" in html
    assert "10:00 AM – 10:30 AM, Central European Time (Berlin)" in html
    html = _text(client.get(f"/i/{token}?zone=Asia/Kolkata"))
    assert f"{i18n.format_time(start, 'Asia/Kolkata', 'en')} – " in html and "India Time (Kolkata)" in html


def test_cancelled_and_expired_invitations_say_so(client, app, org):
    token, invitation_id = _invite(app, org)
    with session_scope(_engine(app)) as session:
        session.get(Invitation, invitation_id).status = "cancelled"
    response = client.get(f"/i/{token}")
    assert response.status_code == 410 and "This invitation has been cancelled" in _text(response)
    token, invitation_id = _invite(app, org)
    with session_scope(_engine(app)) as session:
        invitation = session.get(Invitation, invitation_id)
        invitation.frame_start = invitation.frame_end = _now().date() - dt.timedelta(days=2)
    for path in ("", "/times", "/slot?start=2030-01-01T10:00:00Z"):
        response = client.get(f"/i/{token}{path}")
        assert response.status_code == 410 and "This invitation has expired" in _text(response)


# --- times page --------------------------------------------------------------------------------


def test_times_are_shown_in_the_chosen_zone_and_paged_by_week(client, app, org):
    monday = draft(org, _now()).frame_start
    token, invitation_id = _invite(app, org, frame_end=monday + dt.timedelta(days=11))
    html = _text(client.get(f"/i/{token}/times?zone=America/New_York"))
    assert "Times are shown in <strong class=\"zone-name\">Eastern Time (New York)</strong>" in html
    assert f">{i18n.format_time(berlin(monday, 9), 'America/New_York', 'en')}<" in html
    assert "Week of Monday" in html and "Next week" in html and "Previous week" not in html
    week2 = _text(client.get(f"/i/{token}/times?zone=America/New_York&week=1"))
    assert "Previous week" in week2 and "Next week" not in week2
    assert week2.count('<div class="day" ') == 5
    assert client.get(f"/i/{token}/times?zone=America/New_York&week=2").status_code == 400


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"])
@pytest.mark.parametrize(("language", "clock"), [("en", None), ("de", None), ("fr", "12"), ("es", "24")])
def test_each_time_on_a_page_reads_as_it_does_alone(zone, language, clock):
    # Every 35 minutes across the spring change in Europe and St John's and the autumn one on Lord
    # Howe Island (half an hour): labels, names and button values as each time formats alone.
    starts = pd.date_range("2027-03-13T00:05Z", "2027-04-05T00:00Z", freq="35min")
    with i18n.use(language, clock):
        days = _days(starts, zone)
        expected: dict[dt.date, list[tuple[str, str, str]]] = {}
        for start in starts.to_pydatetime():
            labels = (i18n.format_time(start, zone), display.iso_utc(start), i18n.slot_name(start, zone))
            expected.setdefault(i18n.local(start, zone).date(), []).append(labels)
        assert [day.date for day in days] == list(expected)
        assert [day.label for day in days] == [i18n.format_day(day) for day in expected]
    assert [[(s.label, s.iso, s.name) for s in day.slots] for day in days] == list(expected.values())


def test_a_frame_with_no_times_left_says_so(client, app, org):
    token, invitation_id = _invite(app, org)
    monday = _frame_start(app, invitation_id)
    with Session(_engine(app)) as session:
        add_busy(session, org.ana, berlin(monday, 0), berlin(monday + dt.timedelta(days=5), 0))
    for path in ("", "/times"):
        html = _text(client.get(f"/i/{token}{path}"))
        assert "There are no times left in this invitation" in html
        assert 'class="slot"' not in html


@pytest.mark.parametrize(
    "query",
    [
        "/times?zone=Mars/Olympus",
        "/times?zone=%3Cscript%3E",
        "/times?week=abc",
        "/times?week=-1",
        "/times?week=99999",
        "/times?week=7",
        "/times?week=%C2%B2",
        "/slot?start=yesterday",
        "/slot?start=2030-01-01T10:00:00",
        "/slot?start=",
        "/slot",
        "/slot?start=2030-13-01T10:00:00Z",
        "/slot?start=0001-01-01T00:00:00Z",
        "/slot?start=9999-12-31T23:59:59Z",
        "/slot?start=2030-01-01T10:00:00%2B25:00",
        "/slot?start=2030-01-01T10:00:00Z&zone=Nowhere",
        "?zone=Nowhere",
    ],
)
def test_malformed_input_gets_a_400_page(client, app, org, query):
    token, _ = _invite(app, org)
    response = client.get(f"/i/{token}{query}")
    assert response.status_code == 400
    html = _text(response)
    assert "Bad request" in html and "Traceback" not in html and "<script>" not in html


def test_malformed_confirmation_gets_a_400_page(client, app, org):
    token, invitation_id = _invite(app, org)
    page = _text(client.get(_slot_path(_text(client.get(f"/i/{token}")))))
    for form in ({"start": "nonsense"}, {"start": "2030-01-01T10:00:00Z", "zone": "Bad/Zone"}):
        response = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(page), **form})
        assert response.status_code == 400


# --- pick, re-check, confirm ------------------------------------------------------------------


def test_pick_confirm_and_see_the_scheduled_page(client, app, org):
    token, invitation_id = _invite(app, org)
    slot_path = _slot_path(_text(client.get(f"/i/{token}")))
    page = client.get(slot_path)
    assert page.status_code == 200
    html = _text(page)
    assert "Confirm your meeting" in html and "View other available times" in html
    assert "9:00 AM – 9:30 AM, Central European Time (Berlin)" in html
    start = re.search(r'name="start" value="([^"]+)"', html).group(1)
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(html), "start": start, "zone": ZONE})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/i/{token}/scheduled")
    html = _text(client.get(f"/i/{token}/scheduled"))
    assert "Your meeting is scheduled" in html
    assert f'href="/i/{token}/invite.ics"' in html
    assert "calendar.google.com/calendar/render?action=TEMPLATE" in html
    assert "outlook.live.com/calendar/0/deeplink/compose" in html
    # A double submit lands on the same page, and still one meeting exists.
    again = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(page.get_data(as_text=True)), "start": start})
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/i/{token}/scheduled")
    with session_scope(_engine(app)) as session:
        (meeting,) = session.scalars(select(Meeting)).all()
        assert meeting.customer_zone == ZONE
    ics = client.get(f"/i/{token}/invite.ics")
    assert ics.mimetype == "text/calendar"
    event = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert str(event["UID"]) == meeting.uid


def test_the_time_page_reads_the_invitation_once_under_its_lock(client, app, org):
    """Holding a time looks the link's key up, then reads the invitation (and team) once, locked;
    the page is rendered from that read. Once booked, the same link shows the meeting."""
    token, invitation_id = _invite(app, org)
    slot_path = _slot_path(_text(client.get(f"/i/{token}")))
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if re.search(r"\binvitations\.subject\b", statement):
            reads.append(statement)

    event.listen(_engine(app), "before_cursor_execute", count)
    try:
        page = client.get(slot_path)
    finally:
        event.remove(_engine(app), "before_cursor_execute", count)
    assert page.status_code == 200 and "Confirm your meeting" in _text(page)
    assert len(reads) == 1, reads
    start = re.search(r'name="start" value="([^"]+)"', _text(page)).group(1)
    assert client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(_text(page)), "start": start}).status_code == 303
    again = client.get(slot_path)
    assert again.status_code == 200 and "Your meeting has already been scheduled" in _text(again)


def test_a_time_that_is_gone_redirects_back_with_the_message(client, app, org):
    token, invitation_id = _invite(app, org)
    start = berlin(_frame_start(app, invitation_id), 10)
    _, other = _invite(app, org)
    assert _book(app, other, start) == "booked"
    response = client.get(f"/i/{token}/slot?start={start:%Y-%m-%dT%H:%M:%SZ}&zone=Europe/Berlin")
    assert response.status_code == 302 and "/times" in response.headers["Location"]
    html = _text(client.get(response.headers["Location"]))
    assert GONE in html


def test_losing_the_race_at_confirmation_redirects_with_the_message(client, app, org):
    token, invitation_id = _invite(app, org)
    slot_path = _slot_path(_text(client.get(f"/i/{token}")))
    html = _text(client.get(slot_path))
    start = re.search(r'name="start" value="([^"]+)"', html).group(1)
    _, other = _invite(app, org)
    # Opening the page held the time: another customer gets it only once the hold has expired.
    assert _book(app, other, dt.datetime.fromisoformat(start)) == "unavailable"
    later = _now() + dt.timedelta(minutes=6)
    assert _book(app, other, dt.datetime.fromisoformat(start), now=later) == "booked"
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(html), "start": start, "zone": ZONE})
    assert response.status_code == 303 and "/times" in response.headers["Location"]
    assert GONE in _text(client.get(response.headers["Location"]))
    with session_scope(_engine(app)) as session:
        assert session.get(Invitation, invitation_id).status == "active"


def _confirm_page(client, token: str) -> tuple[str, str]:
    """The customer has the confirmation page of the first time open: its form's token and start."""
    html = _text(client.get(_slot_path(_text(client.get(f"/i/{token}")))))
    return _csrf(html), re.search(r'name="start" value="([^"]+)"', html).group(1)


def test_a_confirmation_that_loses_to_a_cancellation_shows_the_cancelled_page(client, app, org):
    token, invitation_id = _invite(app, org)
    csrf, start = _confirm_page(client, token)
    with session_scope(_engine(app), write=True) as session:
        cancel_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None)
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": csrf, "start": start, "zone": ZONE})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 410 and "This invitation has been cancelled" in _text(page)
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(Meeting)).all() == []


def test_a_confirmation_whose_link_was_replaced_books_nothing(client, app, org):
    token, invitation_id = _invite(app, org)
    csrf, start = _confirm_page(client, token)
    with session_scope(_engine(app), write=True) as session:
        resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC)
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": csrf, "start": start, "zone": ZONE})
    assert response.status_code == 410 and "A newer invitation link was sent to you on" in _text(response)
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(Meeting)).all() == []
        assert session.get(Invitation, invitation_id).status == "active"


def test_links_in_the_email_open_the_pages(client, app, org):
    token, invitation_id = _invite(app, org)
    start = berlin(_frame_start(app, invitation_id), 11)
    link = slot_link(PUBLIC, token, start, "Asia/Kolkata")
    response = client.get(link.removeprefix(PUBLIC))
    assert response.status_code == 200 and "India Time (Kolkata)" in _text(response)


# --- security ----------------------------------------------------------------------------------


def test_confirmation_without_csrf_token_is_refused(client, app, org):
    token, invitation_id = _invite(app, org)
    start = berlin(_frame_start(app, invitation_id), 10)
    response = client.post(f"/i/{token}/confirm", data={"start": f"{start:%Y-%m-%dT%H:%M:%SZ}"})
    assert response.status_code == 400 and "This form has expired" in _text(response)
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(Meeting)).all() == []


def test_script_in_the_customer_name_is_escaped_on_every_page_and_in_the_mail(client, app, org):
    evil = "<script>alert(1)</script>"
    token, invitation_id = _invite(app, org, customer_name=evil, subject="Intro <b>bold</b>")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = [_text(client.get(f"/i/{token}")), _text(client.get(f"/i/{token}/times"))]
    slot_path = _slot_path(pages[0])
    confirm_page = _text(client.get(slot_path))
    pages.append(confirm_page)
    start = re.search(r'name="start" value="([^"]+)"', confirm_page).group(1)
    client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(confirm_page), "start": start})
    pages += [_text(client.get(f"/i/{token}/scheduled")), _text(client.get(f"/i/{token}"))]
    for html in pages:
        assert evil not in html and "<b>bold</b>" not in html
        assert escaped in html
    with session_scope(_engine(app)) as session:
        mails = session.scalars(select(OutboxMessage)).all()
    assert {m.kind for m in mails} == {"invitation", "confirmation", "notification", "reminder"}
    for mail in mails:
        assert evil not in mail.body_html and escaped in mail.body_html


def test_security_headers_and_no_inline_script(client, app, org):
    token, _ = _invite(app, org)
    response = client.get(f"/i/{token}")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(r"app;dur=\d+\.\d\d, cpu;dur=\d+\.\d\d", response.headers["Server-Timing"])
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", _text(response), flags=re.S)
    assert scripts and all("src=" in attrs and body.strip() == "" for attrs, body in scripts)


def test_no_stack_trace_or_sql_reaches_a_response(client, app, org, monkeypatch):
    token, _ = _invite(app, org)

    def broken(*_args, **_kwargs):
        raise OperationalError("SELECT token_hash FROM invitations WHERE secret", {}, Exception("db down"))

    monkeypatch.setattr(availability, "find_slots_for", broken)
    response = client.get(f"/i/{token}/times")
    assert response.status_code == 500
    html = _text(response)
    assert "Something went wrong" in html
    for leak in ("SELECT", "Traceback", "token_hash", "OperationalError", "db down"):
        assert leak not in html


def test_rate_limit_on_token_pages(database_url, tmp_path):
    from booking_service.web.app import create_app

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "k",
            "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
            "BOOKING_PAGE_RATE_LIMIT": "3 per minute",
            "BOOKING_CONFIRM_RATE_LIMIT": "1 per minute",
        }
    )
    client = app.test_client()
    codes = [client.get("/i/" + "B" * 43).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    response = client.get("/i/" + "B" * 43)
    assert "Too many requests" in _text(response)
    # Confirmation has its own limit (a new client address, so pages are not limited yet).
    with Session(_engine(app), expire_on_commit=False) as session:
        org = make_org(session)
    token, _ = _invite(app, org)
    other = app.test_client()
    environ = {"REMOTE_ADDR": "127.0.0.9"}
    page = _text(other.get(_slot_path(_text(other.get(f"/i/{token}", environ_base=environ))), environ_base=environ))
    form = {"csrf_token": _csrf(page), "start": re.search(r'name="start" value="([^"]+)"', page).group(1)}
    first = other.post(f"/i/{token}/confirm", data=form, environ_base=environ)
    second = other.post(f"/i/{token}/confirm", data=form, environ_base=environ)
    assert (first.status_code, second.status_code) == (303, 429)


@pytest.mark.parametrize("name", ["BOOKING_PAGE_RATE_LIMIT", "BOOKING_CONFIRM_RATE_LIMIT"])
def test_a_malformed_rate_limit_setting_is_refused_when_loading(name, tmp_path):
    from booking_service.core.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match=f"{name}='lots' is not a rate limit"):
        load_settings({name: "lots", "SECRET_KEY": "k", "SLOTWISE_VAR_DIR": str(tmp_path)})
    settings = load_settings({name: "5/second", "SECRET_KEY": "k", "SLOTWISE_VAR_DIR": str(tmp_path)})
    assert "5/second" in (settings.booking_page_rate_limit, settings.booking_confirm_rate_limit)


def test_no_query_string_makes_a_page_fail(sqlite_url, tmp_path):
    """Whatever the customer (or a scanner) puts in the query, the answer is a page, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from booking_service.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SECRET_KEY": "k",
                      "SLOTWISE_VAR_DIR": str(tmp_path / "var"), "BOOKING_PAGE_RATE_LIMIT": "100000/minute"})
    with Session(_engine(app), expire_on_commit=False) as session:
        org = make_org(session)
    token, _ = _invite(app, org)
    client = app.test_client()
    values = st.one_of(st.text(max_size=30), st.sampled_from(["0", "1", "-1", "Europe/Berlin", "2030-01-01T10:00:00Z"]))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(["", "/times", "/slot", "/scheduled"]), week=values, zone=values, start=values)
    def check(path, week, zone, start):
        response = client.get(f"/i/{token}{path}", query_string={"week": week, "zone": zone, "start": start})
        assert response.status_code in (200, 302, 400), (path, week, zone, start, response.status_code)

    check()


def test_no_confirmation_form_makes_the_confirmation_fail(sqlite_url, tmp_path):
    """Whatever a confirmation form holds, the answer is a redirect or a 400 page, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from booking_service.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "SECRET_KEY": "k",
                      "SLOTWISE_VAR_DIR": str(tmp_path / "var"), "BOOKING_PAGE_RATE_LIMIT": "100000/minute",
                      "BOOKING_CONFIRM_RATE_LIMIT": "100000/minute"})
    with Session(_engine(app), expire_on_commit=False) as session:
        org = make_org(session)
    token, _ = _invite(app, org)
    client = app.test_client()
    page = _text(client.get(_slot_path(_text(client.get(f"/i/{token}")))))
    csrf = _csrf(page)
    values = st.one_of(st.text(max_size=30), st.sampled_from(["Europe/Berlin", "2030-01-01T10:00:00Z", ""]))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(start=values, zone=values)
    def check(start, zone):
        response = client.post(f"/i/{token}/confirm", data={"csrf_token": csrf, "start": start, "zone": zone})
        assert response.status_code in (303, 400), (start, zone, response.status_code)

    check()


def test_every_response_reports_its_server_time(client):
    # The health check is outside the booking pages: the timing comes from the application.
    response = client.get("/healthz")
    assert response.status_code == 200
    wall, cpu = (float(v) for v in re.findall(r"dur=(\d+\.\d\d)", response.headers["Server-Timing"]))
    assert 0 <= cpu <= wall + 1.0
    assert client.get("/no-such-page").headers["Server-Timing"].startswith("app;dur=")
