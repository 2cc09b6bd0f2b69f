"""Invitations: validation with clear errors, tokens, creation with slots, resend, cancel, expiry."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core.config import Settings
from booking_service.services import invitations as inv
from booking_service.services import lifecycle
from booking_service.services.booking import hold_slot
from booking_service.services.invitations import (
    InvitationError,
    InvitationStateError,
    NoAvailableSlots,
    cancel_invitation,
    create_invitation,
    expire_invitations,
    find_by_token,
    hash_token,
    new_token,
    resend_invitation,
    validate_draft,
)
from booking_service.services.lifecycle import effective_status, frame_end_instant
from booking_service.services.outbox import message_content
from booking_service.store.models import AuditEntry, Invitation, OutboxMessage, PromotedSlot, SlotHold, User

from ..factories import SECRET_KEY, ZONE, add_busy, berlin, draft, make_org, next_monday

UTC = dt.UTC
NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=UTC)  # a Wednesday
PUBLIC = "https://book.example"


@pytest.fixture
def session(write_session):
    """Creating, resending, cancelling and expiring are changes of state: they need the write lock."""
    return write_session


@pytest.fixture
def org(session):
    return make_org(session)


def test_tokens_have_at_least_128_random_bits_and_only_the_hash_is_kept():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes = 256 bits
    token = next(iter(tokens))
    assert hash_token(token) == __import__("hashlib").sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"customer_email": "not-an-email"}, "customer_email", "'not-an-email' is not an email address"),
        ({"customer_email": "a@b"}, "customer_email", "is not an email address"),
        ({"customer_name": "  "}, "customer_name", "customer name is required"),
        ({"customer_name": "Ada\nBcc: x"}, "customer_name", "must be one line"),
        ({"subject": ""}, "subject", "subject is required"),
        ({"members": (), "pools": ()}, "members", "the team is empty"),
        ({"members": (999,)}, "members", "unknown member id 999"),
        ({"pools": (998,)}, "pools", "unknown pool id 998"),
        ({"rooms": (997,)}, "rooms", "unknown room id 997"),
        ({"duration_minutes": 0}, "duration_minutes", "between 5 and 1440"),
        ({"duration_minutes": "30"}, "duration_minutes", "whole number of minutes"),
        ({"buffer_before_minutes": -5}, "buffer_before_minutes", "between 0 and"),
        ({"buffer_after_minutes": -1}, "buffer_after_minutes", "buffer_after_minutes=-1 must be between 0 and"),
        ({"minimum_notice_minutes": 60 * 24 * 60 + 1}, "minimum_notice_minutes",
         "minimum_notice_minutes=86401 must be between 0 and 86400 minutes"),
        ({"slot_interval_minutes": 3}, "slot_interval_minutes", "must be between 5 and 1440"),
        ({"slot_interval_minutes": 25}, "slot_interval_minutes", "does not divide 24 hours"),
        ({"zone": "Mars/Olympus"}, "zone", "'Mars/Olympus' is not an IANA time zone"),
        ({"customer_zone": "Nowhere"}, "customer_zone", "'Nowhere' is not an IANA time zone"),
        ({"promote": True, "promote_count": 0}, "promote_count", "between 1 and 10"),
        ({"min_capacity": 0}, "min_capacity", ">= 1"),
        ({"min_capacity": True}, "min_capacity", "min_capacity=True must be a whole number >= 1"),
        ({"frame_start": "2030-01-07"}, "frame_start", "frame_start must be a date, got '2030-01-07'"),
        ({"frame_end": dt.datetime(2030, 1, 7)}, "frame_end",
         "frame_end must be a date, got datetime.datetime(2030, 1, 7, 0, 0)"),
        ({"promote": True, "promote_count": 11}, "promote_count", "promote_count=11 must be between 1 and 10"),
    ],
)
def test_validation_names_the_field_and_the_bad_value(session, org, changes, field, message):
    with pytest.raises(InvitationError, match=re.escape(message)) as caught:
        validate_draft(session, draft(org, NOW, **changes), now=NOW)
    assert caught.value.field == field



@pytest.mark.parametrize("field", ["members", "rooms"])
def test_an_inactive_member_or_room_is_refused_by_name(session, org, field):
    from booking_service.store.models import Resource

    rid = {"members": org.ana, "rooms": org.small_room}[field]
    resource = session.get(Resource, rid)
    resource.active = False
    session.flush()
    with pytest.raises(InvitationError) as caught:
        validate_draft(session, draft(org, NOW, **{field: (rid,)}), now=NOW)
    noun = field[:-1]
    assert (caught.value.field, str(caught.value)) == (field, f"{noun} {resource.name!r} (id {rid}) is inactive")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"subject": 42}, "subject", "subject must be text, got int"),
        ({"customer_name": "x" * 201}, "customer_name", "customer name is 201 characters; at most 200"),
        ({"description": "x" * 5001}, "description", "description is 5001 characters; at most 5000"),
        ({"subject": "Intro\rcall"}, "subject", "subject must be one line"),
        ({"customer_name": "Ada\nLovelace"}, "customer_name", "customer name must be one line"),
        ({"members": "ana"}, "members", "members must be a list of ids, got 'ana'"),
        ({"rooms": None}, "rooms", "rooms must be a list of ids, got None"),
        ({"pools": (3, 3)}, "pools", "pools lists an id twice: [3, 3]"),
        ({"customer_email": 42}, "customer_email", "customer email must be text, got int"),
        ({"customer_email": " "}, "customer_email", "customer email is required"),
        ({"customer_email": "a@" + "b" * 249 + ".com"}, "customer_email",
         "customer email is 255 characters; at most 254"),
        ({"subject": "s" * 301}, "subject", "subject is 301 characters; at most 300"),
        ({"conferencing": "c" * 1001}, "conferencing", "conferencing is 1001 characters; at most 1000"),
        ({"language": "tlh"}, "language", "language 'tlh' is not offered; use one of en, de, fr, es"),
    ],
)
def test_a_draft_whose_text_or_ids_are_malformed_is_refused_word_for_word(session, org, changes, field, message):
    with pytest.raises(InvitationError) as caught:
        validate_draft(session, draft(org, NOW, **changes), now=NOW)
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_text_as_long_as_its_limit_is_taken_whole(session, org):
    checked = validate_draft(session, draft(org, NOW, customer_name="n" * 200, subject="s" * 300,
                                            description="d\n" * 2500, conferencing="c" * 1000), now=NOW)
    assert (checked.customer_name, checked.subject) == ("n" * 200, "s" * 300)
    assert (len(checked.description), len(checked.conferencing)) == (4999, 1000)  # stripped of its last newline
    # A description and the conferencing details may run over lines (a dial-in number, a PIN).
    dial_in = "https://meet.example/intro\nDial-in +44 20 7946 0000, PIN 1234"
    assert validate_draft(session, draft(org, NOW, conferencing=dial_in), now=NOW).conferencing == dial_in
    longest = "a@" + "b" * 248 + ".com"
    assert validate_draft(session, draft(org, NOW, customer_email=longest), now=NOW).customer_email == longest


def test_the_longest_notice_and_the_most_promoted_slots_are_taken(session, org):
    checked = validate_draft(session, draft(org, NOW, minimum_notice_minutes=60 * 24 * 60, promote=True,
                                            promote_count=10), now=NOW)
    assert (checked.minimum_notice_minutes, checked.promote_count) == (86400, 10)


def test_a_description_conferencing_and_language_may_be_left_out(session, org):
    checked = validate_draft(session, draft(org, NOW, description="", conferencing="", language=None), now=NOW)
    assert (checked.description, checked.conferencing, checked.language) == ("", "", None)


def test_without_a_zone_of_its_own_or_its_schedulers_the_frame_is_the_installations_default(session, org):
    assert validate_draft(session, draft(org, NOW, zone=None), now=NOW).zone == Settings.default_zone == (
        "Europe/London")
    assert validate_draft(session, draft(org, NOW, zone=None), now=NOW, default_zone="Asia/Kolkata").zone == (
        "Asia/Kolkata")


def test_frame_in_the_past_is_refused(session, org):
    past = NOW.date() - dt.timedelta(days=3)
    with pytest.raises(InvitationError, match="which is in the past") as caught:
        validate_draft(session, draft(org, NOW, frame_start=past, frame_end=past), now=NOW)
    assert caught.value.field == "frame_end"
    # Creating checks the draft at its own instant: a week after this frame, it is in the past.
    with pytest.raises(InvitationError, match="which is in the past") as caught:
        create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                          now=NOW + dt.timedelta(days=14))
    assert caught.value.field == "frame_end" and not isinstance(caught.value, NoAvailableSlots)


def test_frame_ending_before_it_starts_is_refused(session, org):
    monday = next_monday(NOW)
    sunday = monday - dt.timedelta(days=1)
    with pytest.raises(InvitationError) as caught:
        validate_draft(session, draft(org, NOW, frame_start=monday, frame_end=sunday), now=NOW)
    assert (caught.value.field, str(caught.value)) == ("frame_end", f"frame ends {sunday} before it starts {monday}")


def test_duration_longer_than_the_frame_is_refused(session, org):
    # 31 March 2030 is the spring-forward day in Berlin: 23 hours long.
    day = dt.date(2030, 3, 31)
    with pytest.raises(InvitationError, match="longer than the frame .*23 hours") as caught:
        validate_draft(session, draft(org, NOW, frame_start=day, frame_end=day, duration_minutes=1440), now=NOW)
    assert caught.value.field == "duration_minutes"
    validate_draft(session, draft(org, NOW, frame_start=day, frame_end=day, duration_minutes=23 * 60), now=NOW)


def test_pool_without_active_members_is_an_empty_team(session, org):
    from booking_service.store.models import ResourcePool

    empty = ResourcePool(name="Nobody")
    session.add(empty)
    session.commit()
    with pytest.raises(InvitationError, match="pool 'Nobody' has no active members"):
        validate_draft(session, draft(org, NOW, members=(), pools=(empty.id,)), now=NOW)


def test_room_too_small_for_the_meeting_is_refused(session, org):
    with pytest.raises(InvitationError, match="no chosen room seats 5 people"):
        validate_draft(session, draft(org, NOW, rooms=(org.small_room,), min_capacity=5), now=NOW)


def test_zone_defaults_to_the_scheduler_profile(session, org):
    user = session.get(User, org.scheduler)
    user.zone = "America/New_York"
    spec = validate_draft(session, draft(org, NOW, zone=None), by=user, now=NOW)
    assert spec.zone == "America/New_York"
    spec = validate_draft(session, draft(org, NOW, zone=None), by=None, now=NOW, default_zone="Asia/Kolkata")
    assert spec.zone == "Asia/Kolkata"


# --- creation (uses the planner) ---------------------------------------------------------------


def _mail_of(session, invitation_id: int) -> OutboxMessage:
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.invitation_id == invitation_id, OutboxMessage.kind == "invitation")
        .order_by(OutboxMessage.id.desc())
    ).first()


def test_create_stores_the_hash_queues_the_mail_and_returns_the_link(session, org):
    user = session.get(User, org.scheduler)
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=user, public_url=PUBLIC, now=NOW)
    session.commit()
    assert created.link == f"{PUBLIC}/i/{created.token}"
    stored = session.get(Invitation, created.invitation.id)
    assert stored.token_hash == hash_token(created.token)
    assert stored.status == "active" and stored.sent_at == NOW and stored.created_by_id == user.id
    assert created.token not in " ".join(str(v) for v in vars(stored).values())
    assert find_by_token(session, created.token).id == stored.id
    mail = _mail_of(session, stored.id)
    assert mail.to_addr == "ada@customer.example"
    assert mail.subject == "Please pick a time: Intro call"
    sent = message_content(mail, SECRET_KEY)
    assert created.link in sent.text and created.link in sent.html
    assert "Pick a time" in sent.html and "More times" not in sent.html
    assert "Sam Scheduler invites you" in sent.text
    assert "With: Ana" in sent.text and "Duration: 30 minutes" in sent.text
    # What is stored readable is the same mail without its link.
    assert mail.body_text == sent.text.replace(created.link, "link sent")
    # The audit entry says what was sent, to whom, how, and how many times it offered.
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "invitation.created")).one()
    assert entry.details == {"subject": "Intro call", "customer_email": "ada@customer.example",
                             "delivery": "email", "slots": created.slot_count}
    assert created.token not in mail.body_html and "Pick a time (link sent)" in mail.body_html


STORED = (
    "customer_name", "customer_email", "subject", "description", "conferencing", "duration_minutes",
    "buffer_before_minutes", "buffer_after_minutes", "minimum_notice_minutes", "slot_interval_minutes",
    "min_capacity", "frame_start", "frame_end", "zone", "customer_zone", "promote", "promote_count",
    "change_cutoff_hours", "max_reschedules", "pool_policy", "language",
)
"""The draft's fields an invitation keeps as they are."""


def test_every_field_of_the_draft_is_stored(session, org):
    fields = dict(
        pools=(org.pool,), rooms=(org.large_room,), conferencing="https://meet.example/x", buffer_before_minutes=10,
        buffer_after_minutes=5, minimum_notice_minutes=120, slot_interval_minutes=30, min_capacity=3,
        customer_zone="America/New_York", promote=True, promote_count=4, change_cutoff_hours=12, max_reschedules=2,
        pool_policy="round_robin", language="fr", description="Agenda",
    )
    invitation_id = create_invitation(session, draft(org, NOW, **fields), secret_key=SECRET_KEY, by=None,
                                      public_url=PUBLIC, now=NOW, deliver="links").invitation.id
    session.commit()
    session.expunge_all()
    stored = session.get(Invitation, invitation_id)
    expected = draft(org, NOW, **fields)
    assert {name: getattr(stored, name) for name in STORED} == {name: getattr(expected, name) for name in STORED}
    assert ([m.id for m in stored.members], [p.id for p in stored.pools], [r.id for r in stored.rooms]) == (
        [org.ana], [org.pool], [org.large_room])
    assert (stored.delivery, stored.status, stored.created_at, stored.updated_at, stored.sent_at) == (
        "links", "active", NOW, NOW, NOW)


def test_slot_count_matches_the_working_hours(session, org):
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    # 09:00 to 16:30 starts every 15 minutes = 31 per day, 5 days.
    assert created.slot_count == 31 * 5


def test_no_available_slot_refuses_to_send_and_stores_nothing(session, org):
    monday = next_monday(NOW)
    add_busy(session, org.ana, berlin(monday, 0), berlin(monday + dt.timedelta(days=5), 0))
    with pytest.raises(NoAvailableSlots) as caught:
        create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    assert (caught.value.field, str(caught.value)) == (
        "frame_end",
        "no slot is available in this frame right now (nobody needed is free at the same time); widen the frame, "
        "shorten the meeting or change the team, then send again",
    )
    session.rollback()
    assert session.scalars(select(Invitation)).all() == []
    assert session.scalars(select(OutboxMessage)).all() == []


def test_an_invitation_sent_mid_frame_counts_and_promotes_only_the_times_left(session, org):
    at_creation = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                                    now=NOW).slot_count
    wednesday_noon = berlin(next_monday(NOW) + dt.timedelta(days=2), 12)
    later = create_invitation(session, draft(org, NOW, promote=True, promote_count=3, customer_email="b@c.example"),
                              secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=wednesday_noon)
    # 31 starts a day (9:00 to 16:30, every 15 minutes): Monday's, Tuesday's and Wednesday's 12
    # before noon are gone.
    assert (at_creation, later.slot_count) == (5 * 31, 5 * 31 - 2 * 31 - 12)
    assert len(later.slot_links) == 3 and all(start >= wednesday_noon for start, _end, _url in later.slot_links)
    assert all(url.startswith(f"{PUBLIC}/i/{later.token}/slot?") for _start, _end, url in later.slot_links)
    assert [(start, end) for start, end, _url in later.slot_links] == [
        (p.start, p.end) for p in later.invitation.promoted_slots]


def test_the_frames_zone_is_the_drafts_else_the_schedulers_else_the_installations(session, org):
    sam = session.get(User, org.scheduler)
    sam.zone = "America/New_York"

    def zone_of(n: int, by, **kwargs) -> str:
        return create_invitation(session, draft(org, NOW, zone=None, customer_email=f"c{n}@c.example"), by=by,
                                 secret_key=SECRET_KEY, public_url=PUBLIC, now=NOW, **kwargs).invitation.zone

    assert zone_of(1, sam) == "America/New_York"
    assert zone_of(2, None, default_zone="Asia/Tokyo") == "Asia/Tokyo"
    assert zone_of(3, None) == "Europe/London"


@pytest.mark.only_on("sqlite", reason="the write lock is SQLite's; PostgreSQL locks rows")
def test_on_sqlite_creating_needs_the_write_lock_unless_the_caller_holds_it(engine, org):
    with Session(engine) as plain:
        with pytest.raises(RuntimeError, match=re.escape("write_lock() needs a session from session_scope(engine, write=True)")):
            create_invitation(plain, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
        plain.rollback()
        # A transaction that has already written holds SQLite's lock, and may say so.
        plain.add(User(email="w@example.com", name="W", zone=ZONE, role="scheduler"))
        plain.flush()
        create_invitation(plain, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
                          require_write_lock=False)
        plain.commit()


def test_the_customers_links_are_spelt_out():
    start = dt.datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    assert inv.booking_link(PUBLIC + "/", "tok") == "https://book.example/i/tok"
    assert inv.times_link(PUBLIC, "tok") == "https://book.example/i/tok/times"
    assert inv.times_link(PUBLIC, "tok", "America/New_York") == "https://book.example/i/tok/times?zone=America%2FNew_York"
    assert inv.slot_link(PUBLIC, "tok", start, "America/New_York") == (
        "https://book.example/i/tok/slot?start=2030-01-07T08%3A00%3A00Z&zone=America%2FNew_York"
    )
    assert inv.manage_link(PUBLIC + "/", "m") == "https://book.example/m/m"
    # Only the slashes at the end go, whatever the path ends with.
    assert inv.booking_link("https://example.com/X/", "t") == "https://example.com/X/i/t"
    assert inv.manage_link("https://example.com/X", "m") == "https://example.com/X/m/m"


def test_the_manage_token_is_an_hmac_of_the_link_hash_under_the_secret_key():
    link_hash = hash_token("some-link")
    digest = hmac.new(b"k\xc3\xa9y", b"manage:" + link_hash.encode(), hashlib.sha256).digest()
    assert inv.manage_token_for("kéy", link_hash) == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert len(inv.manage_token_for("kéy", link_hash)) == 43  # 256 bits, no padding
    with pytest.raises(ValueError) as caught:
        inv.manage_token_for("", link_hash)
    assert str(caught.value) == "secret_key is empty; the manage link needs the installation's SECRET_KEY"


@pytest.mark.parametrize(
    ("rooms", "min_capacity", "expected"),
    [
        ((), 1, ""),
        ((("Blue", 4, True),), 4, "Blue"),  # exactly big enough
        ((("Blue", 4, True), ("Red", 3, True)), 4, "Blue"),
        ((("Blue", 4, True), ("Red", 6, False)), 2, "Blue"),  # Red is no longer in use
        ((("Blue", 4, True), ("Red", 6, True)), 2, "one of Blue, Red"),
        ((("Blue", 4, True), ("Red", 6, True), ("Green", 9, True)), 2, "one of Blue, Red, Green"),
    ],
)
def test_where_the_meeting_may_be_names_the_rooms_that_fit(rooms, min_capacity, expected):
    invitation = SimpleNamespace(
        rooms=[SimpleNamespace(name=n, capacity=c, active=a) for n, c, a in rooms], min_capacity=min_capacity
    )
    assert inv.room_names(invitation) == expected


@pytest.mark.parametrize(
    ("creator", "expected"),
    [
        (None, None),
        (SimpleNamespace(name="Sam", email="sam@example.com"), "Sam <sam@example.com>"),
        (SimpleNamespace(name="", email="sam@example.com"), "sam@example.com"),
        (SimpleNamespace(name="Sam", email=""), None),
    ],
)
def test_replies_go_to_the_scheduler_who_sent_the_invitation(creator, expected):
    assert inv.reply_to(SimpleNamespace(created_by=creator)) == expected


def test_an_unknown_delivery_is_refused_and_nothing_is_stored(session, org):
    with pytest.raises(InvitationError) as caught:
        create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
                          deliver="fax")
    assert (caught.value.field, str(caught.value)) == ("deliver", "delivery 'fax' is not one of email, links")
    assert session.scalars(select(Invitation)).all() == []


def test_the_invitation_mail_in_full(session, org):
    created = create_invitation(session, draft(org, NOW, rooms=(org.small_room, org.large_room), min_capacity=2),
                                secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    mail = _mail_of(session, created.invitation.id)
    assert (mail.subject, mail.created_at, mail.reply_to) == ("Please pick a time: Intro call", NOW, None)
    assert message_content(mail, SECRET_KEY).text.strip() == (
        "Hello Ada Customer,\n\nOur team invites you to schedule: Intro call\nWith: Ana\n"
        "Where: one of Large room, Small room\nDuration: 30 minutes\n\nLet us talk about the project.\n\n"
        f"Pick a time that suits you: {created.link}\n\nThis link is personal; please do not forward it."
    )


def test_the_invitation_mail_in_the_customers_language_from_its_scheduler(session, org):
    sam = session.get(User, org.scheduler)
    created = create_invitation(session, draft(org, NOW, language="fr", rooms=(org.large_room,), description=""),
                                secret_key=SECRET_KEY, by=sam, public_url=PUBLIC, now=NOW)
    mail = _mail_of(session, created.invitation.id)
    assert (mail.subject, mail.reply_to) == ("Merci de choisir un créneau : Intro call", "Sam Scheduler <sam@example.com>")
    assert message_content(mail, SECRET_KEY).text.strip() == (
        "Bonjour Ada Customer,\n\nSam Scheduler vous invite à choisir un créneau : Intro call\nAvec : Ana\n"
        "Où : Large room\nDurée : 30 minutes\n\n"
        f"Choisissez le créneau qui vous convient : {created.link}\n\nCe lien est personnel ; merci de ne pas le transférer."
    )


def test_promote_stores_the_optimizer_choice_and_mails_direct_links(session, org):
    created = create_invitation(
        session, draft(org, NOW, promote=True, promote_count=3, customer_zone="America/New_York"),
        secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW,
    )
    session.commit()
    promoted = session.scalars(
        select(PromotedSlot).where(PromotedSlot.invitation_id == created.invitation.id).order_by(PromotedSlot.rank)
    ).all()
    assert [p.rank for p in promoted] == [1, 2, 3]
    assert all(p.reason for p in promoted)
    sent = message_content(_mail_of(session, created.invitation.id), SECRET_KEY)
    text = sent.text
    assert "(shown in Eastern Time (New York))" in text
    for p in promoted:
        assert inv.slot_link(PUBLIC, created.token, p.start, "America/New_York") in text
    assert ">>> More times: " + inv.times_link(PUBLIC, created.token, "America/New_York") in text
    assert "&gt;&gt;&gt; More times" in sent.html


def test_resend_issues_a_new_link_and_revokes_the_old(session, org):
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    session.commit()
    again = resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW + dt.timedelta(hours=1))
    session.commit()
    assert again.token != created.token
    assert find_by_token(session, created.token) is None
    assert find_by_token(session, again.token).id == created.invitation.id
    assert again.link in message_content(_mail_of(session, created.invitation.id), SECRET_KEY).text


def test_a_resend_counts_the_slots_left_and_promotes_afresh_among_them(session, org):
    created = create_invitation(session, draft(org, NOW, promote=True, promote_count=2), secret_key=SECRET_KEY, by=None,
                                public_url=PUBLIC, now=NOW)
    session.commit()
    first_promoted = [p.start for p in created.invitation.promoted_slots]
    # Resent on the frame's Wednesday at noon (Berlin): Monday, Tuesday and the morning are gone.
    wednesday_noon = berlin(created.invitation.frame_start + dt.timedelta(days=2), 12)
    again = resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                              now=wednesday_noon)
    session.commit()
    assert again.slot_count < created.slot_count
    promoted = session.get(Invitation, created.invitation.id).promoted_slots
    assert [p.rank for p in promoted] == [1, 2] and all(p.start >= wednesday_noon for p in promoted)
    assert [p.start for p in promoted] != first_promoted
    assert [(start, end) for start, end, _url in again.slot_links] == [(p.start, p.end) for p in promoted]
    # In the frame's zone, as the customer's is not known.
    assert [url for _start, _end, url in again.slot_links] == [
        inv.slot_link(PUBLIC, again.token, p.start, ZONE) for p in promoted
    ]
    assert all("&zone=Europe%2FBerlin" in url for _start, _end, url in again.slot_links)
    assert again.invitation.id == created.invitation.id and again.link == f"{PUBLIC}/i/{again.token}"
    assert _mail_of(session, created.invitation.id).created_at == wednesday_noon
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "invitation.resent")).one()
    assert entry.details == {"delivery": "email", "slots": again.slot_count}


def test_a_replaced_link_knows_its_invitation_and_when_the_newest_link_was_sent(session, org):
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    session.commit()
    invitation_id = created.invitation.id
    assert inv.replaced_link(session, created.token) is None  # still the current link
    assert inv.link_key(session, created.token) == (invitation_id, created.invitation.language)
    tokens = [created.token]
    for hours in (1, 5):
        tokens.append(resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                                        now=NOW + dt.timedelta(hours=hours)).token)
        session.commit()
    # Each older link points to the invitation, with when its newest link went out.
    for old in tokens[:2]:
        invitation, sent = inv.replaced_link(session, old)
        assert (invitation.id, sent) == (invitation_id, NOW + dt.timedelta(hours=5))
        assert inv.link_key(session, old) is None
    assert inv.replaced_link(session, tokens[2]) is None
    assert inv.link_key(session, tokens[2]).id == invitation_id
    assert inv.replaced_link(session, new_token()) is None and inv.link_key(session, new_token()) is None
    # Only a token's first 200 characters are hashed (links have 43), so absurd input costs no more.
    session.get(Invitation, invitation_id).token_hash = hash_token("a" * 200)
    session.commit()
    assert inv.link_key(session, "a" * 200 + "b" * 10_000).id == invitation_id
    assert find_by_token(session, "a" * 200 + "c").id == invitation_id


def test_a_link_opens_its_invitation_with_the_team_and_rooms_as_their_relationships_read_them(engine, session, org):
    changes = {"members": (org.ben, org.ana), "pools": (org.pool,), "rooms": (org.small_room, org.large_room)}
    created = create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                                now=NOW)
    session.commit()

    def read(invitation: Invitation) -> tuple:
        return ([m.name for m in invitation.members], [r.name for r in invitation.rooms],
                [(p.name, [m.name for m in p.members]) for p in invitation.pools])

    with Session(engine) as fresh:
        found = find_by_token(fresh, created.token)
    # Loaded before the session closed: nothing is left to load lazily.
    assert read(found) == (["Ana", "Ben"], ["Large room", "Small room"], [("Sales", ["Cleo", "Dan"])])
    with Session(engine) as fresh:
        assert read(found) == read(fresh.get(Invitation, created.invitation.id))
        # A collection the session has loaded (and changed) already is kept as it is.
        again = fresh.get(Invitation, created.invitation.id)
        again.members.pop()
        assert find_by_token(fresh, created.token) is again and [m.name for m in again.members] == ["Ana"]


def test_cancel_closes_an_active_invitation_once(session, org):
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    session.commit()
    cancel_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, now=NOW)
    session.commit()
    assert session.get(Invitation, created.invitation.id).status == "cancelled"
    with pytest.raises(InvitationStateError, match="This invitation is already cancelled."):
        cancel_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, now=NOW)
    with pytest.raises(InvitationStateError, match="was cancelled, so it cannot be resent; create a new invitation"):
        resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)


@pytest.mark.parametrize(
    ("language", "by_scheduler", "subject", "text"),
    [
        ("fr", True, "Retirée : Intro call",
         "Bonjour Ada Customer,\n\nL’invitation à choisir un créneau pour Intro call a été retirée ; son lien ne "
         "fonctionne plus.\n\nDes questions ? Contactez Sam Scheduler <sam@example.com>."),
        (None, False, "Withdrawn: Intro call",
         "Hello Ada Customer,\n\nThe invitation to schedule Intro call has been withdrawn; its link no longer works."),
    ],
    ids=["french-from-its-scheduler", "english-from-the-system"],
)
def test_a_cancelled_invitation_tells_the_customer_in_their_language_and_releases_its_holds(
    session, org, language, by_scheduler, subject, text
):
    sam = session.get(User, org.scheduler) if by_scheduler else None
    created = create_invitation(session, draft(org, NOW, language=language), secret_key=SECRET_KEY, by=sam,
                                public_url=PUBLIC, now=NOW)
    invitation_id = created.invitation.id
    assert hold_slot(session, invitation_id, berlin(created.invitation.frame_start, 10), now=NOW).outcome == "held"
    session.commit()
    later = NOW + dt.timedelta(hours=2)
    cancel_invitation(session, invitation_id, secret_key=SECRET_KEY, by=sam, now=later)
    session.commit()
    assert session.scalars(select(SlotHold).where(SlotHold.invitation_id == invitation_id)).all() == []
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation_cancelled")).one()
    assert (mail.invitation_id, mail.to_addr, mail.created_at) == (invitation_id, "ada@customer.example", later)
    assert mail.reply_to == ("Sam Scheduler <sam@example.com>" if by_scheduler else None)
    content = message_content(mail, SECRET_KEY)
    assert (mail.subject, content.text.strip()) == (subject, text)


def test_invitations_expire_when_their_frame_ends(session, org):
    created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    session.commit()
    invitation = session.get(Invitation, created.invitation.id)
    end = frame_end_instant(invitation)
    assert end == berlin(invitation.frame_end + dt.timedelta(days=1), 0)
    assert effective_status(invitation, end - dt.timedelta(seconds=1)) == "active"
    assert effective_status(invitation, end) == "expired"
    assert expire_invitations(session, end - dt.timedelta(seconds=1)) == 0
    assert expire_invitations(session, end) == 1
    session.commit()
    assert session.get(Invitation, created.invitation.id).status == "expired"


def test_expiry_skips_a_frame_not_yet_over_in_its_zone_and_releases_each_expired_ones_holds(session, org):
    # Three frames with the same last date: over in Tokyo and Berlin at 00:30 UTC the day after,
    # not yet in Honolulu (it ends at 10:00 UTC). Honolulu's has the lowest id, so it comes first.
    ids = {}
    for zone in ("Pacific/Honolulu", "Asia/Tokyo", "Europe/Berlin"):
        ids[zone] = create_invitation(session, draft(org, NOW, zone=zone, customer_email=f"{zone[:4].lower()}@c.example"),
                                      secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW).invitation.id
    session.commit()
    tokyo = session.get(Invitation, ids["Asia/Tokyo"])
    assert hold_slot(session, tokyo.id, berlin(tokyo.frame_start, 9), now=NOW).outcome == "held"  # 17:00 in Tokyo
    session.commit()
    after = dt.datetime.combine(tokyo.frame_end + dt.timedelta(days=1), dt.time(0, 30), UTC)
    assert expire_invitations(session, after) == 2
    session.commit()
    assert {zone: session.get(Invitation, i).status for zone, i in ids.items()} == {
        "Pacific/Honolulu": "active", "Asia/Tokyo": "expired", "Europe/Berlin": "expired",
    }
    assert session.scalars(select(SlotHold).where(SlotHold.invitation_id == tokyo.id)).all() == []
    assert expire_invitations(session, after + dt.timedelta(hours=10)) == 1  # Honolulu's, now over


def _spy_on_transitions(monkeypatch) -> list[tuple[str, int | None]]:
    """The transitions entered from now on, as (kind, invitation id), in order."""
    entered = []
    enter = lifecycle.enter

    def spy(session, kind, **kwargs):
        entered.append((kind, kwargs.get("invitation_id")))
        return enter(session, kind, **kwargs)

    monkeypatch.setattr(lifecycle, "enter", spy)
    return entered


def test_the_expiry_sweep_locks_only_active_invitations_whose_frame_may_be_over(session, org, monkeypatch):
    def create(**changes) -> int:
        return create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                                 now=NOW).invitation.id

    monday = next_monday(NOW)
    ended = create()  # Monday to Friday
    cancelled = create(customer_email="b@c.example")
    cancel_invitation(session, cancelled, by=None, now=NOW, secret_key=SECRET_KEY)
    today = create(customer_email="c@c.example", frame_end=monday + dt.timedelta(days=5))  # to Saturday
    tomorrow = create(customer_email="d@c.example", frame_end=monday + dt.timedelta(days=6))  # to Sunday
    session.commit()
    entered = _spy_on_transitions(monkeypatch)
    saturday_noon = dt.datetime.combine(monday + dt.timedelta(days=5), dt.time(12), UTC)
    assert expire_invitations(session, saturday_noon) == 1
    # Saturday's frame may be over somewhere on Earth by now (UTC date), so it is checked, in id
    # order; Sunday's cannot be, nor can a cancelled one's: neither is locked.
    assert entered == [("expire", ended), ("expire", today)]
    assert {i: session.get(Invitation, i).status for i in (ended, cancelled, today, tomorrow)} == {
        ended: "expired", cancelled: "cancelled", today: "active", tomorrow: "active",
    }


@pytest.mark.only_on("postgresql", reason="SQLite's table order is the id's whatever was written since")
def test_the_expiry_sweep_locks_in_id_order_after_postgresql_has_moved_a_row(session, org, monkeypatch):
    """One lock order for every transition: a row written again lies after the others in PostgreSQL's
    table, where a sweep in the table's order would lock it last."""
    first, second = (create_invitation(session, draft(org, NOW, customer_email=f"{n}@c.example"), secret_key=SECRET_KEY,
                                       by=None, public_url=PUBLIC, now=NOW).invitation.id for n in "ab")
    session.commit()
    session.get(Invitation, first).created_by_id = org.scheduler  # an indexed column: a new row version
    session.commit()
    entered = _spy_on_transitions(monkeypatch)
    after_the_frame = dt.datetime.combine(next_monday(NOW) + dt.timedelta(days=6), dt.time(12), UTC)
    assert expire_invitations(session, after_the_frame) == 2
    assert entered == [("expire", first), ("expire", second)]


def test_invitation_mail_parses_as_a_real_message(session, org, tmp_path):
    from booking_service.delivery.mail import FileSender, deliver_due

    create_invitation(session, draft(org, NOW, promote=True, promote_count=2), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    session.commit()
    deliver_due(session.get_bind(), FileSender(tmp_path), secret_key=SECRET_KEY, mail_from="x@example.com", now=NOW)
    (path,) = tmp_path.glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = msg.get_body(("html",)).get_content()
    links = re.findall(r'href="([^"]+)"', html)
    assert sum("/slot?start=" in link for link in links) == 2
    assert any(link.endswith(f"/times?zone={ZONE.replace('/', '%2F')}") for link in links)


def _refusal(session, org, now=NOW, **changes) -> tuple[str, str]:
    with pytest.raises(InvitationError) as caught:
        validate_draft(session, draft(org, now, **changes), now=now)
    return caught.value.field, str(caught.value)


def test_a_frame_of_a_year_and_a_day_is_taken_and_one_day_longer_is_refused(session, org):
    monday = next_monday(NOW)
    taken = validate_draft(session, draft(org, NOW, frame_end=monday + dt.timedelta(days=365)), now=NOW)
    assert (taken.frame_end - taken.frame_start).days + 1 == inv.MAX_FRAME_DAYS == 366
    assert _refusal(session, org, frame_end=monday + dt.timedelta(days=366)) == (
        "frame_end", "frame is 367 days long; at most 366")


def test_a_frame_ending_today_in_its_zone_is_taken_and_one_that_ended_there_is_refused(session, org):
    """Today is the frame zone's: at 23:30 UTC on 2 January it is still the 2nd in London, the 3rd in Tokyo."""
    late = dt.datetime(2030, 1, 2, 23, 30, tzinfo=UTC)
    second = dt.date(2030, 1, 2)
    taken = validate_draft(session, draft(org, late, frame_start=second, frame_end=second, zone="Europe/London"),
                           now=late)
    assert taken.frame_end == second
    assert _refusal(session, org, late, frame_start=second, frame_end=second, zone="Asia/Tokyo") == (
        "frame_end", "frame ends 2030-01-02, which is in the past (today is 2030-01-03 in Asia/Tokyo)")


def test_a_team_pool_and_room_that_cannot_hold_the_meeting_are_refused_word_for_word(session, org):
    from booking_service.store.models import ResourcePool, TeamMember

    assert _refusal(session, org, members=(), pools=()) == (
        "members", "the team is empty: choose at least one member or one pool")
    assert _refusal(session, org, pool_policy="lottery") == (
        "pool_policy", "pool policy 'lottery' is not a policy; use one of pooled, round_robin, weighted")
    # The rooms: the large one seats 8, exactly what is asked, and nothing seats 9.
    rooms = (org.small_room, org.large_room)
    assert validate_draft(session, draft(org, NOW, rooms=rooms, min_capacity=8), now=NOW).min_capacity == 8
    assert _refusal(session, org, rooms=rooms, min_capacity=9) == (
        "rooms", "no chosen room seats 9 people (the largest seats 8)")
    # The pool (Cleo and Dan): a panel of two is met by its two active members, not by one.
    session.get(ResourcePool, org.pool).panel_size = 2
    session.flush()
    assert validate_draft(session, draft(org, NOW, pools=(org.pool,)), now=NOW).min_capacity == 1
    session.get(TeamMember, org.cleo).active = False
    session.flush()
    assert _refusal(session, org, pools=(org.pool,)) == (
        "pools", "pool 'Sales' needs 2 members per meeting but has 1 active; add members or lower its panel size")
    session.get(TeamMember, org.dan).active = False
    session.flush()
    assert _refusal(session, org, pools=(org.pool,)) == (
        "pools", "pool 'Sales' has no active members; add members or drop the pool")


def test_without_promotion_the_promoted_count_is_not_checked_and_the_default_is_kept(session, org):
    validated = validate_draft(session, draft(org, NOW, promote=False, promote_count="lots"), now=NOW)
    assert (validated.promote, validated.promote_count) == (False, 5)
