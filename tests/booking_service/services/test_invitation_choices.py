"""Invitations with promoted slots chosen (swapped) by the scheduler, and the email preview."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking_service.services import availability
from booking_service.services.invitations import (
    InvitationError,
    create_invitation,
    preview_invitation_mail,
    validate_draft,
)
from booking_service.services.outbox import message_content
from booking_service.store.models import OutboxMessage, User

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)  # a Wednesday
PUBLIC = "https://book.example"


@pytest.fixture
def session(write_session):
    """Creating an invitation is a change of state: it needs the write lock."""
    return write_session


@pytest.fixture
def org(session):
    return make_org(session)


def test_the_schedulers_promoted_slots_are_stored_and_mailed_in_order(session, org):
    monday = next_monday(NOW)
    mine = (berlin(monday + dt.timedelta(days=2), 14), berlin(monday, 9, 30))
    created = create_invitation(
        session, draft(org, NOW, promote=True, promote_count=2, promoted_starts=mine),
        secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
    )
    session.commit()
    stored = created.invitation.promoted_slots
    assert [(p.rank, p.start) for p in stored] == [(1, mine[0]), (2, mine[1])]
    assert all(p.end - p.start == dt.timedelta(minutes=30) for p in stored)
    assert all(p.reason for p in stored)
    mail = session.scalars(select(OutboxMessage)).one()
    assert "start=" + mine[0].strftime("%Y-%m-%dT%H:%M:%SZ").replace(":", "%3A") in message_content(mail, SECRET_KEY).text


def test_a_promoted_slot_that_is_not_available_is_refused(session, org):
    monday = next_monday(NOW)
    night = berlin(monday, 3)  # outside working hours
    with pytest.raises(InvitationError, match="is no longer available") as caught:
        create_invitation(
            session, draft(org, NOW, promote=True, promoted_starts=(night,)), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
        )
    assert caught.value.field == "promoted_starts"


class _NoOffset(dt.tzinfo):
    """A zone that knows no offset: a datetime in it is as good as naive."""

    def utcoffset(self, moment):
        return None


MONDAY_9 = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        ((), re.escape("promote between 1 and 10 slots, not 0")),
        (tuple(MONDAY_9 + dt.timedelta(hours=n) for n in range(11)), re.escape("promote between 1 and 10 slots, not 11")),
        ((dt.datetime(2030, 1, 7, 9),),
         re.escape("promoted start datetime.datetime(2030, 1, 7, 9, 0) must be a tz-aware datetime")),
        ((dt.date(2030, 1, 7),), re.escape("promoted start datetime.date(2030, 1, 7) must be a tz-aware datetime")),
        ((dt.datetime(2030, 1, 7, 9, tzinfo=_NoOffset()),), r"promoted start datetime\.datetime\(.*\) must be a tz-aware datetime"),
        ((MONDAY_9,) * 2, re.escape("the same slot is promoted twice; pick different slots")),
        # The same instant written in two zones is the same slot.
        ((MONDAY_9, MONDAY_9.astimezone(ZoneInfo("Asia/Kolkata"))), re.escape("the same slot is promoted twice; pick different slots")),
    ],
)
def test_promoted_starts_are_checked_for_form(session, org, starts, message):
    with pytest.raises(InvitationError) as caught:
        validate_draft(session, draft(org, NOW, promote=True, promoted_starts=starts), now=NOW)
    assert caught.value.field == "promoted_starts"
    assert re.fullmatch(message, str(caught.value))


def test_up_to_ten_promoted_starts_are_kept_in_utc_whatever_the_machines_zone(session, org, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        starts = tuple((MONDAY_9 + dt.timedelta(hours=n)).astimezone(ZoneInfo("America/New_York")) for n in range(10))
        spec = validate_draft(session, draft(org, NOW, promote=True, promoted_starts=starts), now=NOW)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert spec.promoted_starts == tuple(MONDAY_9 + dt.timedelta(hours=n) for n in range(10))
    assert all(start.utcoffset() == dt.timedelta(0) for start in spec.promoted_starts)


def test_promoted_starts_are_ignored_when_promotion_is_off(session, org):
    spec = validate_draft(session, draft(org, NOW, promote=False, promoted_starts=()), now=NOW)
    assert spec.promoted_starts is None


def test_preview_is_the_mail_that_would_be_queued(session, org):
    user = session.get(User, org.scheduler)
    monday = next_monday(NOW)
    starts = (berlin(monday, 10),)
    preview = preview_invitation_mail(
        session, draft(org, NOW, promote=True, promote_count=1, promoted_starts=starts),
        by=user, public_url=PUBLIC, now=NOW,
    )
    assert preview.subject == "Please pick a time: Intro call"
    assert "Sam Scheduler invites you" in preview.text
    assert f"{PUBLIC}/i/PREVIEW/slot?" in preview.text
    created = create_invitation(
        session, draft(org, NOW, promote=True, promote_count=1, promoted_starts=starts),
        secret_key=SECRET_KEY, by=user, public_url=PUBLIC, now=NOW,
    )
    queued = session.scalars(select(OutboxMessage)).one()
    assert message_content(queued, SECRET_KEY).text == preview.text.replace("PREVIEW", created.token)
    assert session.scalars(select(OutboxMessage)).all() == [queued]  # the preview stored nothing


def test_the_preview_reads_the_draft_at_its_instant_in_the_zone_it_would_be_sent_in(session, org):
    user = session.get(User, org.scheduler)
    user.zone = "America/New_York"
    starts = (berlin(next_monday(NOW), 10),)
    plain = draft(org, NOW, promote=True, promote_count=1, promoted_starts=starts, zone=None)
    # Without a zone of its own the frame is in the scheduler's zone, else the installation's default.
    assert "/times?zone=America%2FNew_York" in preview_invitation_mail(session, plain, by=user, public_url=PUBLIC, now=NOW).text
    assert "/times?zone=Asia%2FTokyo" in preview_invitation_mail(
        session, plain, by=None, public_url=PUBLIC, now=NOW, default_zone="Asia/Tokyo").text
    assert "/times?zone=Europe%2FLondon" in preview_invitation_mail(session, plain, by=None, public_url=PUBLIC, now=NOW).text
    # Checked at the instant given: once the frame is over there is nothing to preview.
    later = dt.datetime.combine(plain.frame_end + dt.timedelta(days=2), dt.time(12), dt.UTC)
    with pytest.raises(InvitationError) as caught:
        preview_invitation_mail(session, plain, by=user, public_url=PUBLIC, now=later)
    assert caught.value.field == "frame_end"


def test_a_chosen_slot_keeps_the_optimizers_score_and_reason_where_it_chose_the_same(session, org):
    # What the optimizer would promote on its own (nothing stored), then a choice that keeps its
    # first pick and adds a time of the scheduler's own before it.
    spec = validate_draft(session, draft(org, NOW, promote=True, promote_count=2), now=NOW)
    picks = availability.promote(session, spec, availability.find_slots_for(session, spec, now=NOW), now=NOW)
    first = picks.iloc[0]
    assert first.score > 0 and first.reason and first.reason != "chosen by the scheduler"
    other = berlin(next_monday(NOW) + dt.timedelta(days=3), 15, 15)
    assert other not in set(picks["start"])
    chosen = create_invitation(
        session, draft(org, NOW, promote=True, promote_count=2, promoted_starts=(other, first.start.to_pydatetime())),
        secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
    ).invitation.promoted_slots
    assert [(p.rank, p.start, p.end, p.score, p.reason) for p in chosen] == [
        (1, other, other + dt.timedelta(minutes=30), 0.0, "chosen by the scheduler"),
        (2, first.start, first.end, pytest.approx(first.score), first.reason),
    ]
