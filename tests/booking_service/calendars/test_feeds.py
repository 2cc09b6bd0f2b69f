"""Private iCalendar feeds: tokens, content, and the web route."""

from __future__ import annotations

import datetime as dt

import icalendar
from sqlalchemy.orm import Session

from booking_service.calendars.feeds import (
    feed_ics,
    feed_url,
    issue_feed_token,
    resource_for_feed_token,
    revoke_feed_token,
)
from booking_service.calendars.ics import busy_intervals

from .helpers import add_meeting, add_member, add_room, utc

NOW = utc(2030, 1, 6, 12)


def test_token_is_random_hashed_and_revocable(session):
    member = add_member(session)
    token = issue_feed_token(session, member)
    assert len(token) >= 43  # 32 random bytes
    assert member.feed_token_hash != token and token not in member.feed_token_hash
    assert resource_for_feed_token(session, token) is member

    new_token = issue_feed_token(session, member)
    assert resource_for_feed_token(session, token) is None  # the old URL is revoked
    assert resource_for_feed_token(session, new_token) is member
    revoke_feed_token(session, member)
    assert resource_for_feed_token(session, new_token) is None


def test_inactive_resource_has_no_feed(session):
    member = add_member(session)
    token = issue_feed_token(session, member)
    member.active = False
    assert resource_for_feed_token(session, token) is None


def test_feed_lists_the_resource_confirmed_meetings(session):
    member, other, room = add_member(session), add_member(session, name="Bo"), add_room(session)
    recent = add_meeting(session, [member, room], utc(2030, 1, 7, 9), utc(2030, 1, 7, 10), subject="Intro")
    add_meeting(session, [member], utc(2029, 11, 1, 9), utc(2029, 11, 1, 10))  # older than 30 days
    add_meeting(session, [other], utc(2030, 1, 8, 9), utc(2030, 1, 8, 10))  # someone else's
    cancelled = add_meeting(session, [member], utc(2030, 1, 9, 9), utc(2030, 1, 9, 10))
    cancelled.status = "cancelled"
    session.flush()

    text = feed_ics(session, member, now=NOW)
    parsed = icalendar.Calendar.from_ical(text)
    assert [str(e["UID"]) for e in parsed.walk("VEVENT")] == [recent.uid]
    assert str(parsed["X-WR-CALNAME"]) == "Slotwise — Ada"
    # The assigned room is named where the meeting is.
    assert str(parsed.walk("VEVENT")[0]["LOCATION"]).startswith(room.name)
    # The room's feed has the same meeting; a calendar reading the feed sees it as busy time.
    room_feed = feed_ics(session, room, now=NOW)
    assert busy_intervals(room_feed, zone="UTC", window_start=NOW, window_end=NOW + dt.timedelta(days=7)) == [
        (utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))
    ]


def test_feed_url_uses_the_public_url():
    assert feed_url("https://book.example.com/", "abc") == "https://book.example.com/feeds/abc.ics"


def test_feed_route_serves_the_calendar_and_404s_unknown_tokens(app, client):
    engine = app.extensions["slotwise"]["engine"]
    with Session(engine) as session, session.begin():
        member = add_member(session)
        far = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        meeting = add_meeting(session, [member], far, far + dt.timedelta(hours=1))
        token = issue_feed_token(session, member)
        uid = meeting.uid
    response = client.get(f"/feeds/{token}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert f"UID:{uid}" in response.get_data(as_text=True).replace("\r\n ", "")
    assert client.get("/feeds/not-a-token.ics").status_code == 404

    with Session(engine) as session, session.begin():
        revoke_feed_token(session, resource_for_feed_token(session, token))
    assert client.get(f"/feeds/{token}.ics").status_code == 404
