"""The copy of a message kept after sending: every link replaced by "link sent"."""

from __future__ import annotations

import datetime as dt

import icalendar

from booking_service.core.redact import LINK_SENT, redact_html, redact_ics, redact_text
from booking_service.services import invites

TOKEN = "Zk3x9Q_aB-0123456789abcdefghijklmnopqrstuvw"
LINK = f"https://book.example/i/{TOKEN}"


def test_text_links_are_replaced_and_the_rest_kept():
    text = f"Pick a time: {LINK}\n  * Monday\n    {LINK}/slot?start=2030-01-07T09%3A00%3A00Z&zone=UTC\nBye."
    assert redact_text(text) == f"Pick a time: {LINK_SENT}\n  * Monday\n    {LINK_SENT}\nBye."
    assert redact_text("Join: http://meet.example/abc?pwd=1, or call.") == f"Join: {LINK_SENT} or call."
    assert redact_text("no link, mailto:ada@example.com stays") == "no link, mailto:ada@example.com stays"


def test_html_anchors_keep_their_words_and_lose_the_link():
    html = (
        f'<p><a class="pick" href="{LINK}" style="color:#fff;">Pick a time</a></p>\n'
        f"<li><a href='{LINK}/slot?start=x&amp;zone=UTC'>Monday\n09:00</a></li>"
        f"<p>Join: {LINK}</p><p>&gt;&gt;&gt; More</p>"
    )
    redacted = redact_html(html)
    assert TOKEN not in redacted and "href" not in redacted
    assert f"<p>Pick a time ({LINK_SENT})</p>" in redacted
    assert f"<li>Monday\n09:00 ({LINK_SENT})</li>" in redacted
    assert f"<p>Join: {LINK_SENT}</p><p>&gt;&gt;&gt; More</p>" in redacted


def test_ics_loses_its_url_even_when_folded_and_stays_readable():
    link = f"https://booking.example-company.example/i/{TOKEN}"  # long enough to fold inside the token
    start = dt.datetime(2030, 1, 8, 9, 0, tzinfo=dt.UTC)
    ics = invites.build_invite(
        uid="m-1@slotwise", sequence=0, start=start, end=start + dt.timedelta(minutes=30), summary="Intro",
        description=f"Details: {link}", location="https://meet.example/a-rather-long-room-name-0123456789",
        organizer=invites.Person("Sam", "sam@example.com"), attendees=[invites.Person("Ada", "ada@example.com")],
        url=f"{link}/scheduled",
    )
    assert TOKEN not in ics and TOKEN in ics.replace("\r\n ", "")  # folded across a line end
    redacted = redact_ics(ics)
    assert "https://" not in redacted
    assert not any(TOKEN[i : i + 8] in redacted for i in range(len(TOKEN) - 8))  # not even a piece
    event = icalendar.Calendar.from_ical(redacted).walk("VEVENT")[0]
    assert "URL" not in event and str(event["UID"]) == "m-1@slotwise"
    assert str(event["DESCRIPTION"]) == f"Details: {LINK_SENT}"
    assert str(event["LOCATION"]) == LINK_SENT


def test_redacting_twice_changes_nothing():
    html = f'<a href="{LINK}">Go</a> {LINK}'
    assert redact_html(redact_html(html)) == redact_html(html)
    assert redact_text(redact_text(LINK)) == LINK_SENT
