"""Booking: confirm (re-check, assignment policy, reservations, mail), double submits, cancel."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core import i18n
from booking_service.core.config import Settings
from booking_service.delivery.mail import SmtpSender, deliver_due
from booking_service.services import availability, lifecycle
from booking_service.services.booking import (
    cancel_meeting,
    cancellation_recipients,
    confirm_slot,
    meeting_invite_for,
    meeting_names,
    meeting_people,
    resend_confirmation,
)
from booking_service.services.invitations import create_invitation, manage_token_for
from booking_service.services.invites import Person
from booking_service.services.lifecycle import MeetingStateError
from booking_service.services.outbox import message_content
from booking_service.store.db import session_scope
from booking_service.store.models import (
    AuditEntry,
    CalendarWrite,
    Invitation,
    Meeting,
    OutboxMessage,
    PoolAssignment,
    Reservation,
    TeamMember,
    User,
)

from ..factories import SECRET_KEY, add_busy, berlin, blind_to_reservations, draft, make_org, next_monday
from ..smtp_server import free_port, smtp_server

UTC = dt.UTC
NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=UTC)
MONDAY = next_monday(NOW)
PUBLIC = "https://book.example"


@pytest.fixture
def org(session):
    return make_org(session)


def _invite(engine, org, by_scheduler: bool = True, **changes) -> int:
    with session_scope(engine, write=True) as session:
        user = session.get(User, org.scheduler) if by_scheduler else None
        created = create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=user, public_url=PUBLIC, now=NOW)
        return created.invitation.id


def _confirm(engine, invitation_id: int, start: dt.datetime, now: dt.datetime = NOW, **kwargs):
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, invitation_id, start, secret_key=SECRET_KEY, now=now, link=f"{PUBLIC}/i/tok", **kwargs)
        return result.outcome, (result.meeting.id if result.meeting is not None else None), result.reason


def _outbox(engine, kind: str) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def test_confirm_books_reserves_with_buffers_and_queues_mail(engine, org):
    invitation_id = _invite(engine, org, members=(org.ana, org.ben), rooms=(org.small_room,),
                            buffer_before_minutes=10, buffer_after_minutes=5)
    start = berlin(MONDAY, 10)
    outcome, meeting_id, _ = _confirm(engine, invitation_id, start, customer_zone="America/New_York")
    assert outcome == "booked"
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.start, meeting.end) == (start, start + dt.timedelta(minutes=30))
        assert meeting.customer_zone == "America/New_York" and meeting.uid.endswith("@slotwise")
        holds = {(r.resource_id, r.start, r.end) for r in meeting.reservations}
        expected = (start - dt.timedelta(minutes=10), start + dt.timedelta(minutes=35))
        assert holds == {(rid, *expected) for rid in (org.ana, org.ben, org.small_room)}
        assert session.get(Invitation, invitation_id).status == "scheduled"
    (confirmation,) = _outbox(engine, "confirmation")
    assert confirmation.to_addr == "ada@customer.example" and confirmation.ics
    assert (confirmation.invitation_id, confirmation.meeting_id) == (invitation_id, meeting_id)
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).created_by_id == org.scheduler  # the invitation's scheduler
    assert "Tuesday" not in confirmation.body_text
    assert "Monday" in confirmation.body_text and "Eastern Time (New York)" in confirmation.body_text
    notes = _outbox(engine, "notification")
    assert sorted(n.to_addr for n in notes) == ["ana@team.example", "ben@team.example"]
    assert all("Central European Time (Berlin)" in n.body_text and "Ada Customer" in n.body_text for n in notes)
    assert all("Room: Small room" in n.body_text for n in notes)
    # One invite per booking: the customer and the team get the very same calendar entry.
    assert all(n.ics == confirmation.ics for n in notes)


def test_a_caller_that_holds_the_database_alone_may_book_without_the_write_lock(sqlite_engine):
    """The demo seed books before anything else runs: it passes ``require_write_lock=False``.
    Any other caller on SQLite must hold the write lock, and is told so."""
    with Session(sqlite_engine, expire_on_commit=False) as session:
        org = make_org(session)
    invitation_id = _invite(sqlite_engine, org)
    with Session(sqlite_engine, expire_on_commit=False) as session, session.begin():
        with pytest.raises(RuntimeError, match=r"needs a session from session_scope\(engine, write=True\)"):
            confirm_slot(session, invitation_id, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)
    with Session(sqlite_engine, expire_on_commit=False) as session, session.begin():
        result = confirm_slot(session, invitation_id, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW,
                              require_write_lock=False)
        assert result.outcome == "booked"


def test_the_customers_confirmation_word_for_word(engine, org):
    """Without a room, nothing is said of one; the description, the conferencing details, the
    attached invite and the links each have their line."""
    a = _invite(engine, org, members=(org.ana,))
    _confirm(engine, a, berlin(MONDAY, 10))
    (confirmation,) = _outbox(engine, "confirmation")
    with session_scope(engine) as session:
        manage = f"http://127.0.0.1:5000/m/{manage_token_for(SECRET_KEY, session.get(Invitation, a).token_hash)}"
    assert confirmation.subject == "Confirmed: Intro call"
    (note,) = _outbox(engine, "notification")
    assert "Room" not in message_content(note, SECRET_KEY).text and "With: Ana" in note.body_text
    assert message_content(confirmation, SECRET_KEY).text == (
        "Hello Ada Customer,\n\nYour meeting is scheduled.\n\nIntro call\n"
        "When: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\n"
        "With: Ana\nJoin: https://meet.example/intro\n\nLet us talk about the project.\n\n"
        "The calendar invite is attached (invite.ics).\n"
        f"Details and calendar links: {PUBLIC}/i/tok\n"
        f"Reschedule: {manage}/reschedule\nCancel: {manage}/cancel\n")


def test_each_members_notification_word_for_word_and_none_to_a_member_without_email(engine, org):
    """A member without an email address is skipped, not the end of the list: the next one is told,
    with the customer's name and address, the team, the room and the attached invite."""
    with session_scope(engine, write=True) as session:
        session.get(TeamMember, org.ana).email = None
    a = _invite(engine, org, members=(org.ana, org.ben), rooms=(org.small_room,))
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    (note,) = _outbox(engine, "notification")
    assert (note.to_addr, note.invitation_id, note.meeting_id) == ("ben@team.example", a, meeting_id)
    assert note.subject == "New meeting: Intro call with Ada Customer" and note.ics
    assert message_content(note, SECRET_KEY).text == (
        "Hello Ben,\n\nAda Customer <ada@customer.example> booked a meeting with you.\n\nIntro call\n"
        "When: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\n"
        "With: Ana, Ben\nRoom: Small room\nJoin: https://meet.example/intro\n\n"
        "The calendar invite is attached (invite.ics).\n")


def test_reminders_word_for_word_in_the_customers_language_and_none_due_at_the_booking(engine, org):
    """Booked exactly a day ahead: the day-ahead reminder is due at once, so only the hour-ahead
    one is queued, for the customer in the language they booked in, and without a room line."""
    start = berlin(MONDAY, 10)
    a = _invite(engine, org, members=(org.ana,))
    _, meeting_id, _ = _confirm(engine, a, start, now=start - dt.timedelta(hours=24), language="de")
    reminders = _outbox(engine, "reminder")
    assert [(r.to_addr, r.next_attempt_at) for r in reminders] == [
        ("ada@customer.example", start - dt.timedelta(hours=1)), ("ana@team.example", start - dt.timedelta(hours=1))]
    customer, member = reminders
    assert (customer.invitation_id, customer.meeting_id) == (a, meeting_id)
    with session_scope(engine) as session:
        manage = f"http://127.0.0.1:5000/m/{manage_token_for(SECRET_KEY, session.get(Invitation, a).token_hash)}"
    assert customer.subject == "Erinnerung: Intro call"
    assert message_content(customer, SECRET_KEY).text == (
        "Guten Tag Ada Customer,\n\nZur Erinnerung: Intro call beginnt in 1 Stunde.\n\n"
        "Wann: Montag, 7. Januar 2030, 10:00 – 10:30, Mitteleuropäische Zeit (Berlin)\n"
        "Mit: Ana\nTeilnahme: https://meet.example/intro\n\n"
        f"Verschieben: {manage}/reschedule\nAbsagen: {manage}/cancel\n")
    assert member.subject == "Reminder: Intro call"  # the team reads the installation's language
    assert message_content(member, SECRET_KEY).text == (
        "Hello Ana,\n\nA reminder: Intro call starts in 1 hour.\n\n"
        "When: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\n"
        "With: Ana\nCustomer: Ada Customer\nJoin: https://meet.example/intro\n")


def test_the_teams_reminders_are_in_the_installations_language_whatever_page_the_customer_booked_on(engine, org):
    """The customer's page sets the request's language (here German); the team's mails do not follow
    it, and are filed like the customer's: same invitation, meeting and booking instant."""
    start = berlin(MONDAY, 10)
    invitation_id, booked_at = _invite(engine, org, members=(org.ana,)), start - dt.timedelta(hours=24)
    with i18n.use("de"):
        _, meeting_id, _ = _confirm(engine, invitation_id, start, now=booked_at, language="de")
    reminders = _outbox(engine, "reminder")
    assert [(r.invitation_id, r.meeting_id, r.created_at) for r in reminders] == [
        (invitation_id, meeting_id, booked_at)] * 2
    customer, member = (message_content(r, SECRET_KEY) for r in reminders)
    assert "beginnt in 1 Stunde" in customer.text
    assert "A reminder: Intro call starts in 1 hour." in member.text


def test_a_customer_who_books_in_another_language_is_answered_in_it(engine, org):
    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10), language="de")
    with session_scope(engine) as session:
        assert (session.get(Meeting, meeting_id).language, session.get(Invitation, a).language) == ("de", None)
    (confirmation,) = _outbox(engine, "confirmation")
    assert confirmation.subject == "Bestätigt: Intro call"
    _, other, _ = _confirm(engine, _invite(engine, org), berlin(MONDAY, 11), language="tlh")  # not offered
    with session_scope(engine) as session:
        assert session.get(Meeting, other).language is None


def test_the_invite_is_written_in_the_language_the_customer_booked_in_else_the_invitations(engine, org):
    booked_in_german = _invite(engine, org, language="fr")
    _, german, _ = _confirm(engine, booked_in_german, berlin(MONDAY, 10), language="de")
    _, french, _ = _confirm(engine, _invite(engine, org, language="fr"), berlin(MONDAY, 11))
    with session_scope(engine) as session:
        assert [session.get(Meeting, m).language for m in (german, french)] == ["de", "fr"]
        session.get(Meeting, french).language = None  # a meeting booked before meetings kept their language
    with session_scope(engine) as session:
        invites = [icalendar.Calendar.from_ical(meeting_invite_for(session, session.get(Meeting, m)))
                   for m in (german, french)]
    assert [c.walk("VEVENT")[0]["SUMMARY"].params["LANGUAGE"] for c in invites] == ["de", "fr"]


def test_double_submit_returns_the_same_meeting(engine, org):
    invitation_id = _invite(engine, org)
    first = _confirm(engine, invitation_id, berlin(MONDAY, 10))
    second = _confirm(engine, invitation_id, berlin(MONDAY, 11))
    assert first[0] == "booked" and second[0] == "already_scheduled"
    assert first[1] == second[1]
    with session_scope(engine) as session:
        assert len(session.scalars(select(Meeting)).all()) == 1


@pytest.mark.parametrize(
    ("start", "why"),
    [
        (lambda: berlin(MONDAY, 8, 30), "outside working hours"),
        (lambda: berlin(MONDAY, 10, 5), "not on the 15-minute grid"),
        (lambda: berlin(MONDAY - dt.timedelta(days=7), 10), "outside the frame"),
    ],
)
def test_times_that_are_not_slots_are_refused(engine, org, start, why):
    invitation_id = _invite(engine, org)
    outcome, meeting_id, _reason = _confirm(engine, invitation_id, start())
    assert (outcome, meeting_id) == ("unavailable", None), why


def test_a_slot_taken_by_another_invitation_is_no_longer_available(engine, org):
    first = _invite(engine, org)
    second = _invite(engine, org)
    assert _confirm(engine, first, berlin(MONDAY, 10))[0] == "booked"
    assert _confirm(engine, second, berlin(MONDAY, 10, 15))[0] == "unavailable"
    assert _confirm(engine, second, berlin(MONDAY, 10, 30))[0] == "booked"


def test_buffers_of_neighbouring_meetings_add_up(engine, org):
    first = _invite(engine, org, buffer_after_minutes=15)
    second = _invite(engine, org, buffer_before_minutes=10)
    assert _confirm(engine, first, berlin(MONDAY, 9, 30))[0] == "booked"  # holds until 10:15
    # The second needs 10 minutes before it free: 10:15 + 10 = 10:25, so 10:30 on the grid.
    assert _confirm(engine, second, berlin(MONDAY, 10, 15))[0] == "unavailable"
    assert _confirm(engine, second, berlin(MONDAY, 10, 30))[0] == "booked"


def test_a_new_calendar_busy_block_makes_the_slot_unavailable(engine, org, session):
    invitation_id = _invite(engine, org)
    add_busy(session, org.ana, berlin(MONDAY, 10), berlin(MONDAY, 11))
    assert _confirm(engine, invitation_id, berlin(MONDAY, 10, 30))[0] == "unavailable"


def test_minimum_notice_is_checked_at_confirmation_time(engine, org):
    invitation_id = _invite(engine, org, minimum_notice_minutes=120)
    late = berlin(MONDAY, 9) - dt.timedelta(minutes=90)
    assert _confirm(engine, invitation_id, berlin(MONDAY, 9), now=late)[0] == "unavailable"
    assert _confirm(engine, invitation_id, berlin(MONDAY, 11), now=late)[0] == "booked"


def test_pool_member_with_fewest_meetings_in_the_frame_is_assigned(engine, org):
    # Cleo (lower id) gets the first; then Dan has fewer meetings and gets the second.
    a = _invite(engine, org, members=(), pools=(org.pool,))
    b = _invite(engine, org, members=(), pools=(org.pool,))
    c = _invite(engine, org, members=(), pools=(org.pool,))
    assert _confirm(engine, a, berlin(MONDAY, 9))[0] == "booked"
    assert _confirm(engine, b, berlin(MONDAY, 11))[0] == "booked"
    assert _confirm(engine, c, berlin(MONDAY, 13))[0] == "booked"
    with session_scope(engine) as session:
        by_start = {
            m.start: [r.resource_id for r in m.reservations]
            for m in session.scalars(select(Meeting))
        }
    assert by_start[berlin(MONDAY, 9)] == [org.cleo]
    assert by_start[berlin(MONDAY, 11)] == [org.dan]
    assert by_start[berlin(MONDAY, 13)] == [org.cleo]


def test_everything_a_booking_writes_is_stamped_with_its_instant_and_follows_the_settings_given(engine, org):
    """The pool turn, its audit entry, the mails and the reminders carry the booking's own instant
    (not the wall clock), and the reminders come at the offsets of the settings passed in."""
    start = berlin(MONDAY, 10)
    booked_at = start - dt.timedelta(days=2)
    a = _invite(engine, org, members=(org.ana,), pools=(org.pool,))
    _confirm(engine, a, start, now=booked_at, settings=Settings(reminder_offsets_minutes=(90,)))
    with session_scope(engine) as session:
        (turn,) = session.scalars(select(PoolAssignment)).all()
        assigned = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.assigned")).one()
        assert (turn.assigned_at, assigned.at) == (booked_at, booked_at)
    mails = [*_outbox(engine, "confirmation"), *_outbox(engine, "notification")]
    assert len(mails) == 3 and {m.created_at for m in mails} == {booked_at}
    assert {r.next_attempt_at for r in _outbox(engine, "reminder")} == {start - dt.timedelta(minutes=90)}


def test_busy_pool_member_is_skipped(engine, org, session):
    add_busy(session, org.cleo, berlin(MONDAY, 9), berlin(MONDAY, 12))
    a = _invite(engine, org, members=(), pools=(org.pool,))
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with session_scope(engine) as s:
        assert [r.resource_id for r in s.get(Meeting, meeting_id).reservations] == [org.dan]


def test_the_mails_and_invite_name_the_assigned_pool_member_and_room(engine, org, session):
    # Cleo is busy, so Dan is assigned; the small room fits. Only those assigned are told,
    # and the invite lists exactly them. No zone from the customer: the invitation's is kept.
    add_busy(session, org.cleo, berlin(MONDAY, 9), berlin(MONDAY, 12))
    a = _invite(engine, org, members=(org.ana,), pools=(org.pool,), rooms=(org.small_room, org.large_room),
                min_capacity=2)
    outcome, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    assert outcome == "booked"
    with session_scope(engine) as s:
        meeting = s.get(Meeting, meeting_id)
        assert {r.resource_id for r in meeting.reservations} == {org.ana, org.dan, org.small_room}
        assert meeting.customer_zone == s.get(Invitation, a).zone == "Europe/Berlin"
    notes = _outbox(engine, "notification")
    assert sorted(n.to_addr for n in notes) == ["ana@team.example", "dan@team.example"]
    (confirmation,) = _outbox(engine, "confirmation")
    assert "Small room" in confirmation.body_text and "Dan" in confirmation.body_text
    event = icalendar.Calendar.from_ical(confirmation.ics).walk("VEVENT")[0]
    attendees = sorted(str(a).removeprefix("mailto:").removeprefix("MAILTO:") for a in event["ATTENDEE"])
    assert attendees == ["ada@customer.example", "ana@team.example", "dan@team.example", "small@rooms.example"]
    assert str(event["LOCATION"]).startswith("Small room")



@pytest.mark.only_on("postgresql", reason="SQLite returns rows looked up by id in id order whatever was written since")
def test_the_team_is_named_in_id_order_after_postgresql_has_moved_a_members_row(engine, org):
    """A change to a member writes a new row version at the end of PostgreSQL's table, where an
    unordered read finds it last: the meeting still names its team in the order of their ids."""
    booked = _confirm(engine, _invite(engine, org, members=(org.ana, org.ben)), berlin(MONDAY, 10))[1]
    with session_scope(engine, write=True) as s:
        s.get(TeamMember, org.ana).name = "Ana Lima"
    with session_scope(engine) as s:
        assert meeting_names(s, s.get(Meeting, booked)) == (["Ana Lima", "Ben"], "")


def test_a_meeting_names_whom_it_reserved_and_who_is_told_of_a_cancellation(engine, org, session):
    # Cleo is busy, so the pool gives Dan; Ben has no email address; the small room has one.
    add_busy(session, org.cleo, berlin(MONDAY, 9), berlin(MONDAY, 12))
    session.get(TeamMember, org.ben).email = None
    session.commit()
    a = _invite(engine, org, members=(org.ana, org.ben), pools=(org.pool,), rooms=(org.small_room,), min_capacity=2)
    booked = _confirm(engine, a, berlin(MONDAY, 10))[1]
    b = _invite(engine, org, by_scheduler=False, members=(org.ana,))
    roomless = _confirm(engine, b, berlin(MONDAY, 14))[1]
    with session_scope(engine) as s:
        meeting = s.get(Meeting, booked)
        assert meeting_names(s, meeting) == (["Ana", "Ben", "Dan"], "Small room")
        organizer, attendees = meeting_people(s, meeting)
        assert organizer == Person("Sam Scheduler", "sam@example.com")
        assert attendees == [
            Person("Ada Customer", "ada@customer.example"),
            Person("Ana", "ana@team.example"),
            Person("Dan", "dan@team.example"),
            Person("Small room", "small@rooms.example", cutype="ROOM"),
        ]
        assert cancellation_recipients(s, booked) == [
            ("Ada Customer", "ada@customer.example"), ("Ana", "ana@team.example"), ("Dan", "dan@team.example"),
        ]
        # Without a room the name is empty; without a scheduler the sender address organises.
        other = s.get(Meeting, roomless)
        assert meeting_names(s, other) == (["Ana"], "")
        organizer, attendees = meeting_people(s, other, settings=Settings(mail_from="Bookings <book@example.org>"))
        assert organizer == Person("Bookings", "book@example.org")
        assert attendees == [Person("Ada Customer", "ada@customer.example"), Person("Ana", "ana@team.example")]
        assert cancellation_recipients(s, roomless + booked + 1) == []


def test_smallest_fitting_room_is_assigned_then_the_next(engine, org):
    rooms = (org.small_room, org.large_room)
    a = _invite(engine, org, members=(org.ana,), rooms=rooms, min_capacity=2)
    b = _invite(engine, org, members=(org.ben,), rooms=rooms, min_capacity=2)
    c = _invite(engine, org, members=(org.cleo,), rooms=rooms, min_capacity=3)
    start = berlin(MONDAY, 10)
    ids = [_confirm(engine, x, start)[1] for x in (a, b)]
    with session_scope(engine) as session:
        room_of = [
            {r.resource_id for r in session.get(Meeting, i).reservations} - {org.ana, org.ben} for i in ids
        ]
    assert room_of == [{org.small_room}, {org.large_room}]
    # Both rooms are now taken at 10:00; the third meeting needs 3 seats: only the large room.
    assert _confirm(engine, c, start)[0] == "unavailable"
    assert _confirm(engine, c, berlin(MONDAY, 11))[0] == "booked"


def test_sqlite_confirmation_must_hold_the_write_lock(sqlite_engine):
    with Session(sqlite_engine) as session, session.begin():
        with pytest.raises(RuntimeError, match="write=True"):
            confirm_slot(session, 1, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)


@pytest.mark.only_on("postgresql", reason="the exclusion constraint exists on PostgreSQL only")
def test_exclusion_constraint_is_the_backstop_on_postgres(engine, org, monkeypatch):
    first = _invite(engine, org)
    second = _invite(engine, org)
    assert _confirm(engine, first, berlin(MONDAY, 10))[0] == "booked"
    blind_to_reservations(monkeypatch)  # a re-check that misses the other booking
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, second, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)
        assert (result.outcome, result.invitation.id, result.meeting, result.reason) == (
            "unavailable", second, None, "overlaps a reservation made at the same time")
    with session_scope(engine) as session:
        assert session.get(Invitation, second).status == "active"
        assert len(session.scalars(select(Reservation)).all()) == 1


def test_a_second_meeting_of_one_invitation_is_refused_by_the_database_and_answered_as_already_scheduled(
        engine, org, monkeypatch):
    """The invitation's lock and state keep a second booking of it from starting; should one slip
    past them (here the state machine is blinded to the meeting that exists), the
    one-meeting-per-invitation rule refuses it and the customer is shown the meeting that exists,
    not "unavailable"."""
    a = _invite(engine, org)
    monkeypatch.setattr(lifecycle, "_meeting_of", lambda *args, **kwargs: None)
    with session_scope(engine) as session:
        other = Meeting(invitation_id=a, start=berlin(MONDAY, 14), end=berlin(MONDAY, 14, 30), uid="other@slotwise",
                        customer_name="Ada Customer", customer_email="ada@customer.example")
        session.add(other)
        session.flush()
        other_id = other.id
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, a, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)
        assert (result.outcome, result.invitation.id, result.meeting.id, result.reason) == (
            "already_scheduled", a, other_id, None)
    with session_scope(engine) as session:
        assert [m.id for m in session.scalars(select(Meeting))] == [other_id]
        assert session.scalars(select(Reservation)).all() == []


def test_confirmation_settings_of_the_scheduler_are_followed(engine, org):
    with session_scope(engine) as session:
        user = session.get(User, org.scheduler)
        user.send_confirmation = True
        user.attach_invite = False
    a = _invite(engine, org)
    _confirm(engine, a, berlin(MONDAY, 10))
    (confirmation,) = _outbox(engine, "confirmation")
    assert confirmation.ics is None and "invite.ics" not in confirmation.body_text
    with session_scope(engine) as session:
        session.get(User, org.scheduler).send_confirmation = False
    b = _invite(engine, org)
    _confirm(engine, b, berlin(MONDAY, 11))
    assert len(_outbox(engine, "confirmation")) == 1
    assert len(_outbox(engine, "notification")) == 2  # members are always told


def test_cancel_frees_the_time_and_sends_cancel_invites_with_the_same_uid(engine, org):
    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        uid = session.get(Meeting, meeting_id).uid
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, reason="Customer asked", now=NOW)
    with session_scope(engine, write=True) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting.status == "cancelled" and meeting.sequence == 1 and meeting.reservations == []
        assert session.get(Invitation, a).status == "cancelled"
        with pytest.raises(MeetingStateError, match="This meeting is already cancelled."):
            cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)
    cancellations = _outbox(engine, "cancellation")
    assert sorted(m.to_addr for m in cancellations) == ["ada@customer.example", "ana@team.example"]
    for message in cancellations:
        event = icalendar.Calendar.from_ical(message.ics)
        assert str(event["METHOD"]) == "CANCEL"
        vevent = event.walk("VEVENT")[0]
        assert str(vevent["UID"]) == uid and int(vevent["SEQUENCE"]) == 1
        assert "Customer asked" in message.body_text
    b = _invite(engine, org)
    assert _confirm(engine, b, berlin(MONDAY, 10))[0] == "booked"


def test_a_cancel_without_a_reason_gives_none(engine, org):
    _, meeting_id, _ = _confirm(engine, _invite(engine, org), berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=session.get(User, org.scheduler), now=NOW)
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).cancel_reason is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.cancelled")).one()
        assert entry.details["reason"] == "" and entry.user_id == org.scheduler
    mails = _outbox(engine, "cancellation")
    assert mails and all("Reason" not in message_content(m, SECRET_KEY).text for m in mails)


def test_a_cancel_after_the_last_free_time_offers_no_other_and_its_invite_names_the_room(engine, org):
    """Which times are left is asked at the cancel's own instant: after the frame's last free time
    the customer is offered none. The CANCEL names the room, and the settings' sender organizes
    a meeting no scheduler made."""
    settings = Settings(public_url=PUBLIC, mail_from="Bookings <book@example.org>")
    meeting_ids = [_confirm(engine, _invite(engine, org, by_scheduler=False, rooms=(org.small_room,)),
                            berlin(MONDAY, hour))[1] for hour in (10, 11)]
    after_the_frame = berlin(MONDAY + dt.timedelta(days=5), 0)
    for meeting_id, now in zip(meeting_ids, (NOW, after_the_frame), strict=True):
        with session_scope(engine, write=True) as session:
            cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, settings=settings, now=now)
    told = {m.meeting_id: message_content(m, SECRET_KEY) for m in _outbox(engine, "cancellation")
            if m.to_addr == "ada@customer.example"}
    assert "Pick another time" in told[meeting_ids[0]].text
    assert "Pick another time" not in told[meeting_ids[1]].text
    for content in told.values():
        calendar = icalendar.Calendar.from_ical(content.ics)
        event = calendar.walk("VEVENT")[0]
        assert (str(calendar["METHOD"]), str(event["ORGANIZER"])) == ("CANCEL", "mailto:book@example.org")
        assert str(event["LOCATION"]) == "Small room, https://meet.example/intro"


def test_a_schedulers_cancel_tells_each_person_in_their_own_words(engine, org):
    """The customer in the invitation's language, with the other times and whom to contact; each
    member in the team's, without either."""
    settings = Settings(public_url=PUBLIC, mail_from="Bookings <book@example.org>")
    a = _invite(engine, org, by_scheduler=False, members=(org.ana, org.ben), rooms=(org.small_room,), language="fr")
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, settings=settings, reason="Room flooded",
                       now=NOW)
        manage = manage_token_for(SECRET_KEY, session.get(Invitation, a).token_hash)
    mails = _outbox(engine, "cancellation")
    assert [(m.to_addr, m.subject) for m in mails] == [
        ("ada@customer.example", "Annulé : Intro call"), ("ana@team.example", "Cancelled: Intro call"),
        ("ben@team.example", "Cancelled: Intro call")]
    customer, *members = (message_content(m, SECRET_KEY).text for m in mails)
    for mail in mails:  # the same CANCEL for all, stamped with the cancel's instant, in the meeting's language
        event = icalendar.Calendar.from_ical(message_content(mail, SECRET_KEY).ics).walk("VEVENT")[0]
        assert (event.decoded("DTSTAMP"), str(event["ORGANIZER"])) == (NOW, "mailto:book@example.org")
        assert event["SUMMARY"].params["LANGUAGE"] == "fr"
    assert customer == (
        "Bonjour Ada Customer,\n\nCe rendez-vous a été annulé :\n\nIntro call\n"
        "Prévu : lundi 7 janvier 2030, 10:00 – 10:30, heure d’Europe centrale (Berlin)\n"
        "Avec : Ana, Ben\nSalle : Small room\nMotif : Room flooded\n\n"
        f"D’autres créneaux sont encore libres. Choisir un autre créneau : {PUBLIC}/m/{manage}/reschedule\n\n"
        "Des questions ? Contactez Bookings <book@example.org>.\n")
    for name, text in zip(("Ana", "Ben"), members, strict=True):
        assert text == (
            f"Hello {name},\n\nThis meeting has been cancelled:\n\nIntro call\n"
            "Was: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\n"
            "With: Ana, Ben\nRoom: Small room\nReason: Room flooded\n")


def test_a_cancel_without_a_room_names_none_and_its_mails_and_entry_name_the_invitation(engine, org):
    a = _invite(engine, org, members=(org.ana, org.ben))
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=session.get(User, org.scheduler),
                       reason="Ill", now=NOW)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.cancelled")).one()
        assert entry.details == {"invitation_id": a, "start": berlin(MONDAY, 10).astimezone(UTC).isoformat(),
                                 "reason": "Ill", "by_customer": False}
    mails = _outbox(engine, "cancellation")
    assert [(m.to_addr, m.reply_to, m.invitation_id, m.meeting_id) for m in mails] == [
        ("ada@customer.example", "Sam Scheduler <sam@example.com>", a, meeting_id),
        ("ana@team.example", None, a, meeting_id), ("ben@team.example", None, a, meeting_id)]
    for mail in mails:
        content = message_content(mail, SECRET_KEY)
        assert "Room" not in content.text and "With: Ana, Ben" in content.text
        event = icalendar.Calendar.from_ical(content.ics).walk("VEVENT")[0]
        assert str(event["LOCATION"]) == "https://meet.example/intro"


def test_the_customers_mail_is_in_the_zone_and_language_the_invitation_names_for_them(engine, org):
    """A meeting stored without the customer's zone and language (as one booked before they were
    recorded): the invitation's customer zone, not its frame's, and the invitation's language."""
    a = _invite(engine, org, customer_zone="America/New_York", language="fr")
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 15))
    with session_scope(engine, write=True) as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.customer_zone = meeting.language = None
    with session_scope(engine, write=True) as session:
        resend_confirmation(session, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)
    _first, resent = _outbox(engine, "confirmation")
    content = message_content(resent, SECRET_KEY)
    assert "Quand : lundi 7 janvier 2030, 09:00 – 09:30, heure de l’Est nord-américain (New York)" in content.text
    # Resent without the booking page's link (its token is not stored): no line or button for it.
    assert "Détails" not in content.text and 'class="details"' not in content.html
    assert "Annuler : http" in content.text


def test_cancelled_invitation_cannot_be_booked(engine, org):
    from booking_service.services.invitations import cancel_invitation

    a = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, a, secret_key=SECRET_KEY, by=None, now=NOW)
    assert _confirm(engine, a, berlin(MONDAY, 10))[0] == "closed"


def test_mail_reaches_a_real_smtp_server_with_a_valid_invite(engine, org):
    a = _invite(engine, org, members=(org.ana,), rooms=(org.small_room,))
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with smtp_server() as (url, received):
        deliver_due(engine, SmtpSender.from_url(url), secret_key=SECRET_KEY, mail_from="Slotwise <no-reply@x.example>", now=NOW)
        with session_scope(engine, write=True) as session:
            resend_confirmation(session, meeting_id, secret_key=SECRET_KEY, by=session.get(User, org.scheduler), link=f"{PUBLIC}/i/tok",
                                now=NOW + dt.timedelta(hours=1))
        deliver_due(engine, SmtpSender.from_url(url), secret_key=SECRET_KEY, mail_from="Slotwise <no-reply@x.example>",
                    now=NOW + dt.timedelta(hours=1))
    resent = received.messages[-1]
    assert received.recipients[-1] == ["ada@customer.example"]
    by_to = {r[0]: m for r, m in zip(received.recipients[:-1], received.messages[:-1], strict=True)}
    customer = by_to["ada@customer.example"]
    assert customer["Subject"] == "Confirmed: Intro call"
    assert f"{PUBLIC}/i/tok" in customer.get_body(("plain",)).get_content()
    assert f'href="{PUBLIC}/i/tok"' in customer.get_body(("html",)).get_content()
    (part,) = [p for p in customer.iter_attachments() if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("DTSTART") == berlin(MONDAY, 10)
    assert event.decoded("DTSTART").utcoffset() == dt.timedelta(0) and "Z" in event["DTSTART"].to_ical().decode()
    assert str(event["ORGANIZER"]) == "mailto:sam@example.com"
    attendees = {str(a) for a in event["ATTENDEE"]}
    assert attendees == {"mailto:ada@customer.example", "mailto:ana@team.example", "mailto:small@rooms.example"}
    member_event = icalendar.Calendar.from_ical(
        next(p for p in by_to["ana@team.example"].iter_attachments()).get_content()
    ).walk("VEVENT")[0]
    with session_scope(engine) as session:
        downloaded = icalendar.Calendar.from_ical(meeting_invite_for(session, session.get(Meeting, meeting_id)))
    resent_event = icalendar.Calendar.from_ical(
        next(p for p in resent.iter_attachments() if p.get_content_type() == "text/calendar").get_content()
    ).walk("VEVENT")[0]
    uids = {str(event["UID"]), str(member_event["UID"]), str(downloaded.walk("VEVENT")[0]["UID"]),
            str(resent_event["UID"])}
    assert len(uids) == 1


def test_the_downloaded_invite_is_the_meetings_current_one(engine, org):
    """What the page's "add to calendar" download gives: REQUEST with the page's link and the
    deployment's sender as organizer when no scheduler made the invitation; CANCEL once cancelled."""
    meeting_id = _confirm(engine, _invite(engine, org, by_scheduler=False, rooms=(org.small_room,)),
                          berlin(MONDAY, 10))[1]
    settings = Settings(mail_from="Bookings <book@example.org>")

    def download() -> tuple[str, icalendar.Event]:
        with session_scope(engine) as session:
            text = meeting_invite_for(session, session.get(Meeting, meeting_id), settings=settings,
                                      url=f"{PUBLIC}/i/tok")
        calendar = icalendar.Calendar.from_ical(text)
        return str(calendar["METHOD"]), calendar.walk("VEVENT")[0]

    method, event = download()
    assert (method, str(event["URL"]), str(event["ORGANIZER"])) == ("REQUEST", f"{PUBLIC}/i/tok",
                                                                    "mailto:book@example.org")
    assert "STATUS" not in event or str(event["STATUS"]) != "CANCELLED"
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"])) == ("Intro call", "Let us talk about the project.")
    assert {str(a) for a in event["ATTENDEE"]} == {"mailto:ada@customer.example", "mailto:ana@team.example",
                                                   "mailto:small@rooms.example"}
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)
    method, event = download()
    assert (method, str(event["STATUS"]), str(event["URL"])) == ("CANCEL", "CANCELLED", f"{PUBLIC}/i/tok")


def test_smtp_down_the_booking_stands_and_the_mail_is_retried(engine, org):
    a = _invite(engine, org)
    port = free_port()
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{port}", timeout=2)
    assert _confirm(engine, a, berlin(MONDAY, 10))[0] == "booked"
    report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from="x@example.com", now=NOW)
    assert report.sent == 0 and report.retrying >= 2
    with session_scope(engine) as session:
        assert session.get(Invitation, a).status == "scheduled"
        assert len(session.scalars(select(Meeting)).all()) == 1
    with smtp_server(port) as (_url, received):
        report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from="x@example.com", now=NOW + dt.timedelta(minutes=5))
    assert report.sent >= 2 and {r[0] for r in received.recipients} >= {"ada@customer.example", "ana@team.example"}


def test_deactivated_rooms_do_not_turn_into_no_room_needed(engine, org):
    from booking_service.store.models import Resource

    a = _invite(engine, org, rooms=(org.small_room, org.large_room))
    with session_scope(engine) as session:
        for room_id in (org.small_room, org.large_room):
            session.get(Resource, room_id).active = False
    outcome, _, reason = _confirm(engine, a, berlin(MONDAY, 10))
    assert outcome == "unavailable" and "no longer active" in reason
    with session_scope(engine) as session:
        assert availability.find_slots_for(session, session.get(Invitation, a), NOW).empty


def test_a_recheck_at_an_instant_or_with_a_request_built_at_it_agrees_and_takes_one_of_them(engine, org):
    a = _invite(engine, org, minimum_notice_minutes=120)
    with session_scope(engine) as session:
        invitation = session.get(Invitation, a)
        start = berlin(MONDAY, 10)
        at_now = availability.check_slot_for(session, invitation, start, NOW)
        built = availability.check_slot_for(session, invitation, start, request=availability.slot_request(invitation, NOW))
        assert at_now == built and at_now.available
        late = availability.check_slot_for(session, invitation, start, start - dt.timedelta(minutes=1))
        assert not late.available and "notice" in late.reason  # a minute before: inside the two hours' notice
        with pytest.raises(TypeError, match="takes now or a request built at that instant, not both"):
            availability.check_slot_for(session, invitation, start, NOW,
                                        request=availability.slot_request(invitation, NOW))


# --- what a booking and a cancellation leave behind, each asserted on its own -------------------


def _caldav(engine, resource_id: int) -> int:
    """A write-back CalDAV calendar of the resource (nothing is sent: writes only queue)."""
    from booking_service.store.models import CalendarConnection

    with session_scope(engine) as session:
        connection = CalendarConnection(resource_id=resource_id, kind="caldav", name="Team calendar",
                                        calendar_url="https://dav.example/cal/", write_back=True)
        session.add(connection)
        session.flush()
        return connection.id


def _writes(engine, meeting_id: int) -> list[tuple[int, str, str]]:
    with session_scope(engine) as session:
        return [(w.connection_id, w.action, w.status) for w in session.scalars(
            select(CalendarWrite).where(CalendarWrite.meeting_id == meeting_id).order_by(CalendarWrite.id))]


def test_confirm_queues_the_calendar_write_and_cancel_its_removal(engine, org):
    ana_calendar = _caldav(engine, org.ana)
    _caldav(engine, org.ben)  # Ben is not on the meeting: his calendar is left alone
    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    assert _writes(engine, meeting_id) == [(ana_calendar, "put", "pending")]
    later = NOW + dt.timedelta(hours=1)
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=later)
    # The put had not gone out yet: it is superseded by the removal, so the calendar never
    # shows a meeting that no longer exists.
    assert _writes(engine, meeting_id) == [(ana_calendar, "put", "superseded"), (ana_calendar, "delete", "pending")]
    with session_scope(engine) as session:  # each queued at its transition's instant
        assert session.scalars(select(CalendarWrite.created_at).order_by(CalendarWrite.id)).all() == [NOW, later]


def test_cancelling_sets_when_on_the_meeting_and_its_invitation(engine, org):
    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).cancelled_at is None
        assert session.get(Invitation, a).cancelled_at is None
    later = NOW + dt.timedelta(hours=3)
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=later)
    with session_scope(engine) as session:
        meeting, invitation = session.get(Meeting, meeting_id), session.get(Invitation, a)
        assert (meeting.status, meeting.cancelled_at, meeting.cancelled_by) == ("cancelled", later, "scheduler")
        assert (invitation.status, invitation.cancelled_at) == ("cancelled", later)


def test_the_booked_invitation_names_its_meeting_in_the_same_transaction(engine, org):
    a = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        invitation = session.get(Invitation, a)
        assert invitation.meeting is None  # read before the booking, as a page does
        result = confirm_slot(session, a, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)
        assert result.outcome == "booked"
        assert result.invitation is invitation and invitation.meeting is result.meeting
        assert invitation.status == "scheduled" and result.meeting.created_at == NOW


class _NoOffset(dt.tzinfo):
    """A zone that gives no offset: Python counts a datetime in it as naive."""

    def utcoffset(self, when):
        return None


@pytest.mark.parametrize("action", ["confirm", "hold", "reschedule", "rebook"])
@pytest.mark.parametrize("tzinfo", [None, _NoOffset()], ids=["no zone", "a zone without an offset"])
def test_a_naive_start_is_refused_with_what_to_pass(engine, org, action, tzinfo):
    from booking_service.services import booking

    a = _invite(engine, org)
    naive = dt.datetime.combine(MONDAY, dt.time(10), tzinfo)
    call = {
        "confirm": lambda s: booking.confirm_slot(s, a, naive, secret_key=SECRET_KEY, now=NOW),
        "hold": lambda s: booking.hold_slot(s, a, naive, now=NOW),
        "reschedule": lambda s: booking.reschedule_meeting(s, 1, naive, secret_key=SECRET_KEY, now=NOW),
        "rebook": lambda s: booking.rebook_meeting(s, 1, naive, secret_key=SECRET_KEY, now=NOW),
    }[action]
    with session_scope(engine, write=True) as session:
        with pytest.raises(ValueError, match=r"start datetime\.datetime\(.*\) is naive; pass a tz-aware instant"):
            call(session)
    with session_scope(engine) as session:
        assert session.scalars(select(Meeting)).all() == []


def test_confirming_or_holding_an_invitation_that_does_not_exist_is_an_error(engine, org):
    from booking_service.services.booking import BookingError, hold_slot

    with session_scope(engine, write=True) as session:
        with pytest.raises(BookingError, match="^invitation 424242 does not exist$"):
            confirm_slot(session, 424242, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW)
        with pytest.raises(BookingError, match="^invitation 424242 does not exist$"):
            hold_slot(session, 424242, berlin(MONDAY, 10), now=NOW)


@pytest.mark.parametrize("action", ["cancel", "resend", "cancel_by_customer", "reschedule", "rebook"])
def test_acting_on_a_meeting_that_does_not_exist_is_refused(engine, org, action):
    from booking_service.services import booking

    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    gone = meeting_id + 1000
    call = {
        "cancel": lambda s: booking.cancel_meeting(s, gone, secret_key=SECRET_KEY, by=None, now=NOW),
        "resend": lambda s: booking.resend_confirmation(s, gone, secret_key=SECRET_KEY, by=None, now=NOW),
        "cancel_by_customer": lambda s: booking.cancel_by_customer(s, gone, secret_key=SECRET_KEY, now=NOW),
        "reschedule": lambda s: booking.reschedule_meeting(s, gone, berlin(MONDAY, 11), secret_key=SECRET_KEY, now=NOW),
        "rebook": lambda s: booking.rebook_meeting(s, gone, berlin(MONDAY, 11), secret_key=SECRET_KEY, now=NOW),
    }[action]
    with session_scope(engine, write=True) as session:
        with pytest.raises(MeetingStateError, match="^This meeting no longer exists; reload the page.$") as refused:
            call(session)
    assert refused.value.state == "missing"
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).status == "confirmed"


def test_resending_a_confirmation_is_audited_with_who_and_which_meeting(engine, org):
    with session_scope(engine) as session:
        session.get(User, org.scheduler).attach_invite = False
    a = _invite(engine, org)
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10))
    later = NOW + dt.timedelta(hours=1)
    with session_scope(engine, write=True) as session:
        resent = resend_confirmation(session, meeting_id, secret_key=SECRET_KEY, by=session.get(User, org.scheduler),
                                     now=later)
        assert resent.id == meeting_id  # the meeting, for the caller to show
    with session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.confirmation_resent")).one()
        assert (entry.user_id, entry.target_type, entry.target_id) == (org.scheduler, "meeting", meeting_id)
        assert entry.details == {"invitation_id": a} and entry.at == later  # the resend's instant
        assert session.get(Meeting, meeting_id).status == "confirmed"
    first, resent = _outbox(engine, "confirmation")
    assert first.ics is None  # the scheduler's setting, for the booking's own mail
    assert resent.ics and resent.to_addr == "ada@customer.example" and resent.created_at == later


def test_a_resent_confirmation_is_the_first_one_again(engine, org):
    """Same words, room, organizer, booking link and reschedule and cancel links: a customer who
    lost the first mail loses nothing."""
    settings = Settings(mail_from="Bookings <book@example.org>", public_url="https://slots.example.org")
    a = _invite(engine, org, by_scheduler=False, rooms=(org.small_room,))
    _, meeting_id, _ = _confirm(engine, a, berlin(MONDAY, 10), settings=settings)
    with session_scope(engine, write=True) as session:
        resend_confirmation(session, meeting_id, secret_key=SECRET_KEY, by=None, link=f"{PUBLIC}/i/tok",
                            settings=settings, now=NOW + dt.timedelta(hours=1))
    first, resent = (message_content(m, SECRET_KEY) for m in _outbox(engine, "confirmation"))
    with session_scope(engine) as session:
        manage = manage_token_for(SECRET_KEY, session.get(Invitation, a).token_hash)
    assert first.text.startswith("Hello Ada Customer,\n")
    assert f"Reschedule: https://slots.example.org/m/{manage}/reschedule" in first.text
    assert f"{PUBLIC}/i/tok" in first.text and "Small room" in first.text
    assert (resent.text, resent.html) == (first.text, first.html)

    def event(content):
        return icalendar.Calendar.from_ical(content.ics).walk("VEVENT")[0]

    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "LOCATION", "URL", "ORGANIZER", "ATTENDEE"):
        assert event(resent).get(name) == event(first).get(name), name
    assert str(event(resent)["ORGANIZER"]) == "mailto:book@example.org"
    assert str(event(resent)["LOCATION"]).startswith("Small room")
    assert event(resent).decoded("DTSTAMP") == NOW + dt.timedelta(hours=1)  # the resend's instant


@pytest.mark.only_on("postgresql", reason="row locks are PostgreSQL's; SQLite's write transaction is tested everywhere else")
def test_on_postgres_the_resource_locks_make_the_loser_wait_and_see_no_longer_available(engine, org):
    """The locks do their own job: the exclusion constraint stays, yet is never what refuses.

    Without the resource locks the second confirmation would not see the first's uncommitted
    reservation, insert its own, wait on the exclusion constraint and end in its integrity error
    ("overlaps a reservation made at the same time"). With them it waits at the lock and its
    re-check sees the first booking.
    """
    import threading

    from sqlalchemy import text

    with engine.connect() as connection:
        constraints = connection.execute(text(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'reservations'::regclass")).all()
    assert constraints, "the exclusion constraint on reservations is the backstop and must stay"
    first, second = _invite(engine, org), _invite(engine, org)
    start = berlin(MONDAY, 10)
    outcome: list[tuple[str, str | None]] = []

    def loser():
        with session_scope(engine, write=True) as session:
            result = confirm_slot(session, second, start, secret_key=SECRET_KEY, now=NOW)
            outcome.append((result.outcome, result.reason))

    with session_scope(engine, write=True) as session:
        assert confirm_slot(session, first, start, secret_key=SECRET_KEY, now=NOW).outcome == "booked"
        thread = threading.Thread(target=loser)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and outcome == [], "the second confirmation did not wait for the first"
    thread.join(timeout=30)
    assert not thread.is_alive()
    ((result, reason),) = outcome
    assert result == "unavailable"
    assert "same time" not in reason, f"refused by the constraint, not by the re-check under the locks: {reason}"
    with session_scope(engine) as session:
        assert session.get(Invitation, second).status == "active"
        assert len(session.scalars(select(Reservation)).all()) == 1
