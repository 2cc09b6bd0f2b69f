"""After "confirmed": slot holds, the customer's reschedule and cancel, the change policy,
"pick another time" after a scheduler's cancellation, reminders, Reply-To and names in mail."""

from __future__ import annotations

import datetime as dt
import threading

import icalendar
import pytest
from sqlalchemy import func, select

from booking_service.core.config import Settings
from booking_service.delivery.mail import SmtpSender, deliver_due
from booking_service.services import availability, booking, lifecycle
from booking_service.services.booking import (
    ChangeNotAllowed,
    cancel_by_customer,
    cancel_meeting,
    change_refusal,
    confirm_slot,
    find_meeting_by_manage_token,
    hold_slot,
    rebook_meeting,
    reschedule_meeting,
)
from booking_service.services.holds import delete_expired_holds
from booking_service.services.integrity import check_invariants
from booking_service.services.invitations import cancel_invitation, create_invitation, hash_token
from booking_service.services.lifecycle import MeetingStateError
from booking_service.services.outbox import message_content
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import (
    AuditEntry,
    CalendarConnection,
    CalendarWrite,
    Invitation,
    Meeting,
    OutboxMessage,
    PoolAssignment,
    Reservation,
    SlotHold,
    User,
)

from ..factories import SECRET_KEY, berlin, blind_to_reservations, draft, make_org, next_monday
from ..smtp_server import smtp_server

UTC = dt.UTC
NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=UTC)
MONDAY = next_monday(NOW)
PUBLIC = "https://book.example"
SETTINGS = Settings(public_url=PUBLIC, secret_key=SECRET_KEY, mail_from="Slotwise <no-reply@book.example>")
FROM = SETTINGS.mail_from
SAM = "Sam Scheduler <sam@example.com>"


@pytest.fixture
def org(session):
    return make_org(session)


def _invite(engine, org, **changes) -> int:
    with session_scope(engine, write=True) as session:
        created = create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY,
                                    by=session.get(User, org.scheduler), public_url=PUBLIC, now=NOW)
        return created.invitation.id


def _book(engine, invitation_id, start, token="manage-token", now=NOW):
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, invitation_id, start, secret_key=SECRET_KEY, now=now, settings=SETTINGS,
                              manage_token=token)
        assert result.outcome == "booked", result.reason
        return result.meeting.id


def _mail(engine, kind=None, status=None):
    with session_scope(engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        if status:
            query = query.where(OutboxMessage.status == status)
        return list(session.scalars(query))


def _reservations(engine, meeting_id):
    with session_scope(engine) as session:
        return sorted((r.resource_id, r.start, r.end) for r in
                      session.scalars(select(Reservation).where(Reservation.meeting_id == meeting_id)))


def _no_problems(engine, now=NOW):
    with session_scope(engine) as session:
        assert [str(v) for v in check_invariants(session, now)] == []


# --- holds -----------------------------------------------------------------------------------


def _hold(engine, invitation_id, start, now=NOW):
    with session_scope(engine, write=True) as session:
        return hold_slot(session, invitation_id, start, settings=SETTINGS, now=now)


def test_a_refused_hold_names_its_invitation_and_says_why(engine, org):
    """A link a resend replaced, and a frame over at the hold's own instant, are refused in the
    state machine's words; nothing is held."""
    from booking_service.services.invitations import resend_invitation

    _invite(engine, org)  # the ids below are not 1
    with session_scope(engine, write=True) as session:
        created = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None, public_url=PUBLIC,
                                    now=NOW)
        resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    with session_scope(engine, write=True) as session:
        stale = hold_slot(session, created.invitation.id, berlin(MONDAY, 10), settings=SETTINGS, now=NOW,
                          link_hash=hash_token(created.token))
    assert (stale.outcome, stale.invitation.id, stale.reason, stale.expires_at) == (
        "replaced", created.invitation.id, lifecycle.LINK_REPLACED, None)

    over = _invite(engine, org)
    late = _hold(engine, over, berlin(MONDAY, 10), now=berlin(MONDAY + dt.timedelta(days=7), 0))
    assert (late.outcome, late.invitation.id, late.reason) == (
        "closed", over, "This invitation has expired (its time frame is over), so it can no longer be booked.")
    taken = _hold(engine, over, berlin(MONDAY, 7))  # before the working day
    assert (taken.outcome, taken.invitation.id, taken.expires_at) == ("unavailable", over, None)
    assert taken.reason and "working hours" in taken.reason
    with session_scope(engine) as session:
        assert session.scalars(select(SlotHold)).all() == []


def _starts(engine, invitation_id, now=NOW):
    with session_scope(engine) as session:
        slots = availability.find_slots_for(session, session.get(Invitation, invitation_id), now)
        return set(slots["start"])


def test_a_hold_keeps_the_time_from_others_until_it_expires_and_never_from_its_holder(engine, org):
    first, second = _invite(engine, org), _invite(engine, org)
    start = berlin(MONDAY, 10)
    held = _hold(engine, first, start)
    assert held.outcome == "held" and held.expires_at == NOW + dt.timedelta(minutes=5)
    # Other customers' lists no longer offer it, and their re-check (hold or confirm) refuses it.
    assert start not in _starts(engine, second) and start in _starts(engine, first)
    assert _hold(engine, second, start).outcome == "unavailable"
    with session_scope(engine, write=True) as session:
        assert confirm_slot(session, second, start, secret_key=SECRET_KEY, now=NOW).outcome == "unavailable"
    _no_problems(engine)
    # After expiry it blocks nobody, even before the worker deletes it.
    later = NOW + dt.timedelta(minutes=5)
    assert start in _starts(engine, second, later)
    assert _hold(engine, second, start, later).outcome == "held"
    with session_scope(engine, write=True) as session:
        assert delete_expired_holds(session, later) == 1  # the first's; the second's is live
    _no_problems(engine, later)


def test_the_holder_confirms_and_the_hold_ends(engine, org):
    first, second = _invite(engine, org), _invite(engine, org)
    start = berlin(MONDAY, 10)
    assert _hold(engine, first, start).outcome == "held"
    _book(engine, first, start, now=NOW + dt.timedelta(minutes=2))
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(SlotHold)) == 0
    assert _hold(engine, second, start).outcome == "unavailable"  # booked now, not held
    _no_problems(engine)


def test_picking_another_time_moves_the_hold_and_pools_hold_one_member(engine, org):
    invitation_id = _invite(engine, org, members=(), pools=(org.pool,), rooms=(org.small_room, org.large_room))
    assert _hold(engine, invitation_id, berlin(MONDAY, 10)).outcome == "held"
    assert _hold(engine, invitation_id, berlin(MONDAY, 11)).outcome == "held"
    with session_scope(engine) as session:
        holds = session.scalars(select(SlotHold)).all()
    # One pool member (the lowest id on a tie) and the smallest fitting room, at the new time only.
    assert sorted(h.resource_id for h in holds) == sorted([org.cleo, org.small_room])
    assert {h.slot_start for h in holds} == {berlin(MONDAY, 11)}


def test_a_holds_rows_cover_the_time_with_its_buffers_until_the_hold_minutes_run_out(engine, org):
    invitation_id = _invite(engine, org, rooms=(org.small_room,), buffer_before_minutes=10, buffer_after_minutes=5)
    start, later = berlin(MONDAY, 10), NOW + dt.timedelta(minutes=1)
    with session_scope(engine, write=True) as session:
        held = hold_slot(session, invitation_id, start, now=later,
                         settings=Settings(public_url=PUBLIC, slot_hold_minutes=7))
        assert (held.outcome, held.invitation.id, held.expires_at, held.reason) == (
            "held", invitation_id, later + dt.timedelta(minutes=7), None)
    with session_scope(engine) as session:
        rows = sorted((h.resource_id, h.invitation_id, h.slot_start, h.start, h.end, h.expires_at, h.created_at)
                      for h in session.scalars(select(SlotHold)))
    # Each resource is held for what a reservation would cover: 10 minutes before to 5 after.
    cover = (invitation_id, start, start - dt.timedelta(minutes=10), start + dt.timedelta(minutes=35),
             later + dt.timedelta(minutes=7), later)
    assert rows == [(org.ana, *cover), (org.small_room, *cover)]


def test_cancelling_or_expiring_an_invitation_ends_its_hold(engine, org):
    invitation_id = _invite(engine, org)
    assert _hold(engine, invitation_id, berlin(MONDAY, 10)).outcome == "held"
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, invitation_id, by=None, secret_key=SECRET_KEY, now=NOW)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(SlotHold)) == 0
    assert _hold(engine, invitation_id, berlin(MONDAY, 10)).outcome == "closed"
    _no_problems(engine)


# --- the customer reschedules ------------------------------------------------------------------


def _move(engine, meeting_id, start, now=NOW, token="manage-token"):
    with session_scope(engine, write=True) as session:
        result = reschedule_meeting(session, meeting_id, start, secret_key=SECRET_KEY, manage_token=token,
                                    settings=SETTINGS, now=now)
        return result.outcome, result.reason


def test_reschedule_moves_reservations_keeps_the_uid_and_mails_each_side_once(engine, org):
    invitation_id = _invite(engine, org, members=(org.ana,), rooms=(org.small_room,), buffer_before_minutes=5,
                            buffer_after_minutes=10)
    old = berlin(MONDAY, 10)
    meeting_id = _book(engine, invitation_id, old)
    with session_scope(engine) as session:
        uid = session.get(Meeting, meeting_id).uid
    # The meeting's own time (and buffer) do not block a move that overlaps it.
    new = berlin(MONDAY, 10, 15)
    assert _move(engine, meeting_id, new) == ("moved", None)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.uid, meeting.sequence, meeting.reschedule_count) == (uid, 1, 1)
        assert (meeting.start, meeting.status) == (new, "confirmed")
        assert session.get(Invitation, invitation_id).status == "scheduled"
    begin, end = new - dt.timedelta(minutes=5), new + dt.timedelta(minutes=40)
    assert _reservations(engine, meeting_id) == sorted([(org.ana, begin, end), (org.small_room, begin, end)])
    moved = _mail(engine, "moved")
    assert sorted(m.to_addr for m in moved) == ["ada@customer.example", "ana@team.example"]
    customer = next(m for m in moved if m.to_addr == "ada@customer.example")
    assert customer.reply_to == SAM and "Small room" in customer.body_text and "Ana" in customer.body_text
    event = icalendar.Calendar.from_ical(customer.ics).walk("VEVENT")[0]
    assert (str(event["UID"]), int(event["SEQUENCE"]), event["DTSTART"].dt) == (uid, 1, new)
    assert "Small room" in str(event["LOCATION"])
    # Reminders now speak of the new time only.
    pending = _mail(engine, "reminder", "pending")
    assert pending and {m.about_start for m in pending} == {new}
    assert all(m.about_start == old for m in _mail(engine, "reminder", "superseded"))
    _no_problems(engine)


@pytest.mark.only_on("postgresql", reason="the exclusion constraint exists on PostgreSQL only")
def test_on_postgres_a_move_the_recheck_missed_is_refused_by_the_constraint_and_changes_nothing(
        engine, org, monkeypatch):
    """The exclusion constraint is the backstop of a move as of a booking: the savepoint is rolled
    back and the meeting keeps its time and reservations."""
    moving = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    _book(engine, _invite(engine, org), berlin(MONDAY, 11), token="other")
    before = _reservations(engine, moving)
    blind_to_reservations(monkeypatch)  # a re-check that misses the other booking
    assert _move(engine, moving, berlin(MONDAY, 11)) == ("unavailable", "overlaps a reservation made at the same time")
    with session_scope(engine) as session:
        meeting = session.get(Meeting, moving)
        assert (meeting.start, meeting.sequence, meeting.reschedule_count) == (berlin(MONDAY, 10), 0, 0)
    assert _reservations(engine, moving) == before
    assert _mail(engine, "moved") == []
    monkeypatch.undo()
    _no_problems(engine)


def test_a_move_is_rechecked_at_its_own_instant_against_the_minimum_notice(engine, org):
    """A move an hour before the meeting, with two hours' notice required: 10:30 is too soon,
    11:30 is not. The refusal names the invitation and the meeting, which keeps its time."""
    _invite(engine, org)  # the invitation's id is not the meeting's
    invitation_id = _invite(engine, org, minimum_notice_minutes=120)
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    assert invitation_id != meeting_id
    an_hour_before = berlin(MONDAY, 9)

    def move(hour, minute):
        with session_scope(engine, write=True) as session:
            return reschedule_meeting(session, meeting_id, berlin(MONDAY, hour, minute), secret_key=SECRET_KEY,
                                      settings=SETTINGS, now=an_hour_before, by=session.get(User, org.scheduler))

    refused = move(10, 30)
    assert (refused.outcome, refused.invitation.id, refused.meeting.id) == ("unavailable", invitation_id, meeting_id)
    assert "notice" in refused.reason
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).start == berlin(MONDAY, 10)
    moved = move(11, 30)
    assert (moved.outcome, moved.invitation.id, moved.meeting.id, moved.meeting.start, moved.reason) == (
        "moved", invitation_id, meeting_id, berlin(MONDAY, 11, 30), None)


def test_a_schedulers_move_is_told_as_the_meetings_not_the_customers(engine, org):
    old, new = berlin(MONDAY, 10), berlin(MONDAY, 15)
    invitation_id = _invite(engine, org, members=(), pools=(org.pool,), rooms=(org.small_room,))
    meeting_id = _book(engine, invitation_id, old)
    _book(engine, _invite(engine, org, members=(org.cleo,)), new, token="blocker")
    settings = Settings(public_url=PUBLIC, secret_key=SECRET_KEY, reminder_offsets_minutes=(90,))
    with session_scope(engine, write=True) as session:
        assert reschedule_meeting(session, meeting_id, new, secret_key=SECRET_KEY, settings=settings,
                                  now=NOW, by=session.get(User, org.scheduler)).outcome == "moved"
    (dan,) = [m for m in _mail(engine, "moved") if m.to_addr == "dan@team.example"]
    assert "This meeting has moved to a new time:" in message_content(dan, SECRET_KEY).text
    (cleo,) = [m for m in _mail(engine, "cancellation") if m.to_addr == "cleo@team.example"]
    text = message_content(cleo, SECRET_KEY).text
    assert "Reason: The meeting was moved; someone else takes it." in text and "Ada Customer" not in text
    # The customer's reminder: the settings' one, 90 minutes ahead, with the room and their links.
    (reminder,) = [m for m in _mail(engine, "reminder", "pending")
                   if m.to_addr == "ada@customer.example" and m.meeting_id == meeting_id]
    assert (reminder.about_start, reminder.next_attempt_at) == (new, new - dt.timedelta(minutes=90))
    text = message_content(reminder, SECRET_KEY).text
    assert "Small room" in text and f"{PUBLIC}/m/" in text
    with session_scope(engine) as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.moved")).all()
        assert (entry.user_id, entry.target_id) == (org.scheduler, meeting_id)
        assert entry.details == {"invitation_id": invitation_id, "by_customer": False, "start": new.isoformat(),
                                 "previous_start": old.isoformat()}


def test_each_move_raises_the_sequence_and_each_of_the_customers_counts(engine, org):
    meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    assert _move(engine, meeting_id, berlin(MONDAY, 11))[0] == "moved"
    assert _move(engine, meeting_id, berlin(MONDAY, 12))[0] == "moved"
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.start, meeting.sequence, meeting.reschedule_count) == (berlin(MONDAY, 12), 2, 2)


def test_a_move_to_a_taken_time_leaves_the_meeting_intact(engine, org):
    invitation_id = _invite(engine, org)
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    other = _invite(engine, org)
    _book(engine, other, berlin(MONDAY, 14), token="other-token")
    before = _reservations(engine, meeting_id)
    outcome, reason = _move(engine, meeting_id, berlin(MONDAY, 14))
    assert outcome == "unavailable" and reason
    assert _reservations(engine, meeting_id) == before
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.start, meeting.sequence, meeting.reschedule_count) == (berlin(MONDAY, 10), 0, 0)
    assert _mail(engine, "moved") == []
    _no_problems(engine)


def test_a_move_reassigns_the_pool_member_by_the_policy_and_tells_the_one_taken_off(engine, org):
    invitation_id = _invite(engine, org, members=(), pools=(org.pool,))
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    assert _reservations(engine, meeting_id)[0][0] == org.cleo
    # Cleo is busy at the new time (another meeting), so Dan takes it.
    blocker = _invite(engine, org, members=(org.cleo,))
    _book(engine, blocker, berlin(MONDAY, 15), token="blocker")
    assert _move(engine, meeting_id, berlin(MONDAY, 15))[0] == "moved"
    assert _reservations(engine, meeting_id)[0][0] == org.dan
    assert sorted(m.to_addr for m in _mail(engine, "moved")) == ["ada@customer.example", "dan@team.example"]
    assert not any("Room:" in message_content(m, SECRET_KEY).text for m in _mail(engine, "moved"))  # none reserved
    (dropped,) = [m for m in _mail(engine, "cancellation") if m.to_addr == "cleo@team.example"]
    assert "METHOD:CANCEL" in dropped.ics
    _no_problems(engine)


def test_a_moves_mails_tell_each_person_what_changed_in_their_language_with_the_updated_invite(engine, org):
    # Nobody signed in created it: the invites name the service's sender as the organizer.
    with session_scope(engine, write=True) as session:
        invitation_id = create_invitation(
            session, draft(org, NOW, members=(org.ana,), pools=(org.pool,), rooms=(org.small_room,), language="de"),
            secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW).invitation.id
    old, new = berlin(MONDAY, 10), berlin(MONDAY, 15)
    meeting_id = _book(engine, invitation_id, old)
    _book(engine, _invite(engine, org, members=(org.cleo,)), new, token="blocker")  # Cleo is busy at the new time
    with session_scope(engine, write=True) as session:
        session.add(CalendarConnection(resource_id=org.ana, kind="caldav", name="Ana's calendar",
                                       url="http://caldav.test/", write_back=True))
    later = NOW + dt.timedelta(hours=3)
    assert _move(engine, meeting_id, new, now=later) == ("moved", None)
    with session_scope(engine) as session:
        # Ana's calendar gets the moved event, queued at the move's instant.
        writes = session.scalars(select(CalendarWrite).where(CalendarWrite.meeting_id == meeting_id)).all()
        assert [(w.action, w.created_at) for w in writes] == [("put", later)]

    with session_scope(engine) as session:
        # Every mail of the move (its reminders aside): about this meeting and invitation, queued at its instant.
        queued = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.meeting_id == meeting_id, OutboxMessage.created_at == later, OutboxMessage.kind != "reminder")))
        assert {m.invitation_id for m in queued} == {invitation_id}
        mail = {(m.kind, m.to_addr): (m.subject, message_content(m, SECRET_KEY)) for m in queued}
        # Dan's turn replaces Cleo's, taken at the move's instant.
        assert [(t.member_id, t.assigned_at) for t in session.scalars(
            select(PoolAssignment).where(PoolAssignment.meeting_id == meeting_id))] == [(org.dan, later)]
    # Ana stays on it and hears of the move; Cleo, taken off, hears it is cancelled for her.
    assert set(mail) == {("moved", "ada@customer.example"), ("moved", "ana@team.example"),
                         ("moved", "dan@team.example"), ("cancellation", "cleo@team.example")}

    def invite(content):
        calendar = icalendar.Calendar.from_ical(content.ics)
        event = calendar.walk("VEVENT")[0]
        return (str(calendar["METHOD"]), event["DTSTAMP"].dt, str(event["ORGANIZER"]), event["DTSTART"].dt,
                str(event["LOCATION"]))

    subject, customer = mail["moved", "ada@customer.example"]
    assert subject == "Verschoben: Intro call" and customer.text.startswith("Guten Tag Ada Customer,")
    assert f"{PUBLIC}/m/manage-token/reschedule" in customer.text
    assert invite(customer) == ("REQUEST", later, "mailto:no-reply@book.example", new,
                                "Small room, https://meet.example/intro")
    subject, dan = mail["moved", "dan@team.example"]
    assert subject == "Moved: Intro call" and dan.text.startswith("Hello Dan,")
    assert "Ada Customer moved this meeting to a new time:" in dan.text
    assert ("When: Monday 7 January 2030, 3:00 PM – 3:30 PM, Central European Time (Berlin)\n"
            "Was: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\n"
            "With: Ana, Dan\nRoom: Small room\nJoin: https://meet.example/intro") in dan.text
    assert "/m/" not in dan.text and "Reschedule" not in dan.text  # the customer's links are theirs only
    assert dan.ics == customer.ics
    # Cleo, taken off the meeting, hears it is cancelled for her: the time she had, and why.
    subject, cleo = mail["cancellation", "cleo@team.example"]
    assert subject == "Cancelled: Intro call" and cleo.text.startswith("Hello Cleo,")
    assert "Was: Monday 7 January 2030, 10:00 AM – 10:30 AM, Central European Time (Berlin)\nWith: Cleo\nReason:" in cleo.text
    assert "Room:" not in cleo.text
    assert "Reason: The customer moved the meeting; someone else takes it." in cleo.text
    # Her calendar drops the event by its UID; the CANCEL names the time she had, as her mail does.
    assert invite(cleo) == ("CANCEL", later, "mailto:no-reply@book.example", old,
                            "Small room, https://meet.example/intro")
    assert icalendar.Calendar.from_ical(cleo.ics).walk("VEVENT")[0]["DTEND"].dt == old + dt.timedelta(minutes=30)


def test_the_policy_limits_moves_and_cancels_and_names_whom_to_contact(engine, org):
    invitation_id = _invite(engine, org, max_reschedules=1, change_cutoff_hours=48)
    start = berlin(MONDAY, 10)
    meeting_id = _book(engine, invitation_id, start)
    assert _move(engine, meeting_id, berlin(MONDAY, 11))[0] == "moved"
    with pytest.raises(ChangeNotAllowed, match=r"moved once already.*Sam Scheduler <sam@example.com>") as moved:
        _move(engine, meeting_id, berlin(MONDAY, 12))
    late = berlin(MONDAY, 11) - dt.timedelta(hours=47)
    with pytest.raises(ChangeNotAllowed, match="until 48 hours before it starts, so it is too late to cancel") as cancelled, \
            session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=late)
    # Each refusal names its transition, and that the policy (not the meeting's state) refused it.
    assert [(e.value.transition, e.value.state) for e in (moved, cancelled)] == [
        ("reschedule", "policy"), ("cancel_by_customer", "policy")]
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.status, meeting.start) == ("confirmed", berlin(MONDAY, 11))
        # The installation's defaults apply when the invitation sets none.
        meeting.invitation.change_cutoff_hours = None
        assert change_refusal(meeting.invitation, meeting, "cancel", Settings(change_cutoff_hours=24), late) is None



def test_a_customers_move_is_refused_past_the_cutoff_at_its_own_instant_and_the_installations_cutoff(engine, org):
    start = berlin(MONDAY, 10)
    own = _book(engine, _invite(engine, org, change_cutoff_hours=48), start)
    with pytest.raises(ChangeNotAllowed, match="until 48 hours before it starts, so it is too late to reschedule it"):
        _move(engine, own, berlin(MONDAY, 11), now=start - dt.timedelta(hours=47))
    # Without a cutoff of its own, the invitation takes the installation's (72 hours here).
    default = _book(engine, _invite(engine, org), berlin(MONDAY, 12), token="default")
    with pytest.raises(ChangeNotAllowed, match="until 72 hours before it starts"), \
            session_scope(engine, write=True) as session:
        reschedule_meeting(session, default, berlin(MONDAY, 14), secret_key=SECRET_KEY, manage_token="default",
                           settings=Settings(public_url=PUBLIC, change_cutoff_hours=72),
                           now=berlin(MONDAY, 12) - dt.timedelta(hours=71))


def test_a_scheduler_moves_a_meeting_past_the_customers_cutoff_and_it_does_not_count(engine, org):
    start = berlin(MONDAY, 10)
    meeting_id = _book(engine, _invite(engine, org, change_cutoff_hours=48, max_reschedules=0), start)
    with session_scope(engine, write=True) as session:
        result = reschedule_meeting(session, meeting_id, berlin(MONDAY, 11), secret_key=SECRET_KEY,
                                    settings=SETTINGS, now=start - dt.timedelta(hours=2),
                                    by=session.get(User, org.scheduler))
        assert result.outcome == "moved"
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.start, meeting.sequence, meeting.reschedule_count) == (berlin(MONDAY, 11), 1, 0)


def test_a_move_to_the_meetings_own_time_in_any_zone_changes_nothing(engine, org):
    from zoneinfo import ZoneInfo

    start = berlin(MONDAY, 10)
    meeting_id = _book(engine, _invite(engine, org), start)
    with session_scope(engine, write=True) as session:
        result = reschedule_meeting(session, meeting_id, start.astimezone(ZoneInfo("Asia/Kolkata")),
                                    secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
        assert (result.outcome, result.reason) == ("unavailable", "that is the meeting's current time")
        assert (result.meeting.id, result.invitation.id) == (meeting_id, result.meeting.invitation_id)
    with session_scope(engine) as session:
        assert (session.get(Meeting, meeting_id).sequence, _mail(engine, "moved")) == (0, [])


def test_a_move_without_settings_or_a_token_mails_a_new_link_on_the_installations_address(engine, org):
    meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        assert reschedule_meeting(session, meeting_id, berlin(MONDAY, 11), secret_key=SECRET_KEY,
                                  now=NOW).outcome == "moved"
    (customer,) = [m for m in _mail(engine, "moved") if m.to_addr == "ada@customer.example"]
    text = message_content(customer, SECRET_KEY).text
    link = next(w for w in text.split() if w.startswith(f"{Settings().public_url}/m/"))
    with session_scope(engine) as session:
        token = link.removeprefix(f"{Settings().public_url}/m/").removesuffix("/reschedule")
        assert find_meeting_by_manage_token(session, token).id == meeting_id


_CONTACT = "Please contact Sam Scheduler <sam@example.com>."
_TOO_LATE = "This meeting can be changed online until {hours} hours before it starts, so it is too late to {action} it here. "


@pytest.mark.parametrize(("cutoff", "most", "moved", "before", "action", "refusal"), [
    # The cutoff: exactly at it the customer may still act; a minute later not, in either action's words.
    (48, 3, 0, dt.timedelta(hours=48), "reschedule", None),
    (48, 3, 0, dt.timedelta(hours=48), "cancel", None),
    (48, 3, 0, dt.timedelta(hours=48) - dt.timedelta(minutes=1), "reschedule",
     _TOO_LATE.format(hours=48, action="reschedule") + _CONTACT),
    (48, 3, 0, dt.timedelta(hours=48) - dt.timedelta(minutes=1), "cancel",
     _TOO_LATE.format(hours=48, action="cancel") + _CONTACT),
    (0, 3, 0, dt.timedelta(0), "cancel", None),
    # How often: below the most allowed a move is fine; at it, refused by count; a cancel is never counted.
    (48, 2, 1, dt.timedelta(days=5), "reschedule", None),
    (48, 1, 1, dt.timedelta(days=5), "reschedule",
     "This meeting has been moved once already, the most allowed online. " + _CONTACT),
    (48, 2, 2, dt.timedelta(days=5), "reschedule",
     "This meeting has been moved 2 times already, the most allowed online. " + _CONTACT),
    (48, 2, 3, dt.timedelta(days=5), "reschedule",
     "This meeting has been moved 2 times already, the most allowed online. " + _CONTACT),
    (48, 0, 0, dt.timedelta(days=5), "reschedule", "This meeting cannot be moved online. " + _CONTACT),
    (48, 0, 5, dt.timedelta(days=5), "cancel", None),
    # Too late and moved too often: the time is the reason given.
    (48, 1, 1, dt.timedelta(hours=1), "reschedule", _TOO_LATE.format(hours=48, action="reschedule") + _CONTACT),
])
def test_the_change_policy_refuses_in_its_own_words(cutoff, most, moved, before, action, refusal):
    scheduler = User(email="sam@example.com", name="Sam Scheduler", zone="Europe/Berlin", role="scheduler")
    invitation = Invitation(change_cutoff_hours=cutoff, max_reschedules=most, created_by=scheduler)
    meeting = Meeting(start=NOW + before, reschedule_count=moved)
    assert change_refusal(invitation, meeting, action, SETTINGS, NOW) == refusal


@pytest.mark.parametrize("action", [None, "", "CANCEL", "move", "cancel_by_customer"])
def test_a_change_that_is_not_reschedule_or_cancel_is_an_error(action):
    invitation, meeting = Invitation(change_cutoff_hours=24, max_reschedules=0), Meeting(start=NOW)
    with pytest.raises(ValueError) as error:
        change_refusal(invitation, meeting, action, SETTINGS, NOW)
    assert str(error.value) == f"action {action!r} is not one of reschedule, cancel"


def test_an_unset_policy_takes_the_installations_defaults_and_its_sender_without_a_scheduler():
    invitation = Invitation(change_cutoff_hours=None, max_reschedules=None, created_by=None)
    settings = Settings(change_cutoff_hours=10, max_reschedules=1, mail_from="Bookings <book@example.org>")
    assert change_refusal(invitation, Meeting(start=NOW + dt.timedelta(hours=10), reschedule_count=0),
                          "reschedule", settings, NOW) is None
    assert change_refusal(invitation, Meeting(start=NOW + dt.timedelta(hours=9), reschedule_count=0), "cancel",
                          settings, NOW) == _TOO_LATE.format(hours=10, action="cancel") + \
        "Please contact Bookings <book@example.org>."
    assert change_refusal(invitation, Meeting(start=NOW + dt.timedelta(days=3), reschedule_count=1), "reschedule",
                          settings, NOW).startswith("This meeting has been moved once already")
    # Without settings, the installation's own defaults (24 hours, 3 moves).
    far = Meeting(start=NOW + dt.timedelta(hours=24), reschedule_count=2)
    assert change_refusal(invitation, far, "reschedule", None, NOW) is None
    far.reschedule_count = 3
    assert change_refusal(invitation, far, "reschedule", None, NOW).startswith("This meeting has been moved 3 times")
    assert change_refusal(invitation, Meeting(start=NOW + dt.timedelta(hours=23), reschedule_count=0), "cancel",
                          None, NOW).startswith(_TOO_LATE.format(hours=24, action="cancel"))


@pytest.mark.parametrize(("field", "high"), [("max_reschedules", 100), ("change_cutoff_hours", 24 * 366)])
@pytest.mark.parametrize("bad", [-1, "high + 1", 1.5, True, "3"])
def test_a_policy_number_must_be_a_whole_number_in_its_range(engine, org, field, high, bad):
    from booking_service.services.invitations import InvitationError

    bad = high + 1 if bad == "high + 1" else bad
    with pytest.raises(InvitationError) as refused:
        _invite(engine, org, **{field: bad})
    assert str(refused.value) == f"{field}={bad!r} must be a whole number from 0 to {high}, or empty for the default"
    assert refused.value.field == field
    with session_scope(engine) as session:
        assert session.scalars(select(Invitation)).all() == []  # nothing written
    # Both ends of the range are taken as given.
    for good in (0, high):
        with session_scope(engine) as session:
            assert getattr(session.get(Invitation, _invite(engine, org, **{field: good})), field) == good


# --- the customer cancels; the scheduler cancels --------------------------------------------------


def test_customer_cancel_frees_the_time_mails_both_sides_and_keeps_the_reason(engine, org):
    invitation_id = _invite(engine, org, rooms=(org.small_room,))
    start = berlin(MONDAY, 10)
    meeting_id = _book(engine, invitation_id, start)
    with session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, reason="  Ill, sorry  ", settings=SETTINGS,
                           now=NOW)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.status, meeting.cancelled_by, meeting.cancel_reason) == ("cancelled", "customer", "Ill, sorry")
        assert session.get(Invitation, invitation_id).status == "cancelled"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.cancelled")).one()
        assert entry.details["reason"] == "Ill, sorry" and entry.details["by_customer"] is True
    assert _reservations(engine, meeting_id) == []
    mails = _mail(engine, "cancellation")
    assert sorted(m.to_addr for m in mails) == ["ada@customer.example", "ana@team.example"]
    team = next(m for m in mails if m.to_addr == "ana@team.example")
    assert "Ada Customer cancelled this meeting" in team.body_text and "Reason: Ill, sorry" in team.body_text
    customer = next(m for m in mails if m.to_addr == "ada@customer.example")
    assert customer.reply_to == SAM and "Pick another time" not in customer.body_text
    assert _mail(engine, "reminder", "pending") == []
    assert start in _starts(engine, _invite(engine, org))  # free again
    with pytest.raises(MeetingStateError, match="already cancelled"), session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    _no_problems(engine)



def test_a_customers_cancel_follows_the_installations_settings_when_the_invitation_sets_none(engine, org):
    """No scheduler and no policy of its own: the settings' cutoff decides, and the settings'
    sender is whom the refusal, the mail and the invite name."""
    settings = Settings(public_url=PUBLIC, secret_key=SECRET_KEY, mail_from="Bookings <book@example.org>",
                        change_cutoff_hours=2)

    def book(hour: int) -> int:
        with session_scope(engine, write=True) as session:
            invitation = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None,
                                           public_url=PUBLIC, now=NOW).invitation
            assert invitation.change_cutoff_hours is None
        return _book(engine, invitation.id, berlin(MONDAY, hour), token=f"token-{hour}")

    early, late = book(10), book(14)
    three_hours_before = berlin(MONDAY, 10) - dt.timedelta(hours=3)
    with session_scope(engine, write=True) as session:  # the default cutoff (24 hours) would refuse it
        cancel_by_customer(session, early, secret_key=SECRET_KEY, settings=settings, now=three_hours_before)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, early)
        assert (meeting.status, meeting.cancelled_by, meeting.cancel_reason) == ("cancelled", "customer", None)
    (customer,) = [m for m in _mail(engine, "cancellation") if m.to_addr == "ada@customer.example"]
    content = message_content(customer, SECRET_KEY)
    assert "Bookings <book@example.org>" in content.text and "Reason" not in content.text
    event = icalendar.Calendar.from_ical(content.ics).walk("VEVENT")[0]
    assert str(event["ORGANIZER"]) == "mailto:book@example.org"

    an_hour_before = berlin(MONDAY, 14) - dt.timedelta(hours=1)
    with pytest.raises(ChangeNotAllowed) as refused, session_scope(engine, write=True) as session:
        cancel_by_customer(session, late, secret_key=SECRET_KEY, settings=settings, now=an_hour_before)
    assert str(refused.value) == ("This meeting can be changed online until 2 hours before it starts, so it is too "
                                  "late to cancel it here. Please contact Bookings <book@example.org>.")
    _no_problems(engine, an_hour_before)


def test_a_customers_cancel_is_stamped_with_its_own_instant_and_the_next_sequence(engine, org):
    # Ana's calendar takes write-backs; the pool gives a member whose turn the cancel ends.
    with session_scope(engine, write=True) as session:
        session.add(CalendarConnection(resource_id=org.ana, kind="caldav", name="Team calendar",
                                       calendar_url="https://dav.example/cal/", write_back=True))
    invitation_id = _invite(engine, org, pools=(org.pool,))
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    assert _move(engine, meeting_id, berlin(MONDAY, 11)) == ("moved", None)
    later = NOW + dt.timedelta(hours=5)
    before = {m.id for m in _mail(engine)}
    with session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=later)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.cancelled_at, meeting.invitation.cancelled_at, meeting.invitation.updated_at) == (later,) * 3
        assert meeting.sequence == 2  # booked 0, moved 1, cancelled 2: calendars take the newest
        (removal,) = session.scalars(select(CalendarWrite).where(CalendarWrite.action == "delete")).all()
        assert (removal.meeting_id, removal.created_at, removal.next_attempt_at) == (meeting_id, later, later)
        (turn,) = session.scalars(select(PoolAssignment).where(PoolAssignment.meeting_id == meeting_id)).all()
        assert turn.cancelled_at == later
    mails = [m for m in _mail(engine) if m.id not in before]
    assert [m.kind for m in mails] == ["cancellation"] * 3 and {m.created_at for m in mails} == {later}
    event = icalendar.Calendar.from_ical(mails[0].ics)
    assert str(event["METHOD"]) == "CANCEL" and event.walk("VEVENT")[0]["SEQUENCE"] == 2
    _no_problems(engine, later)


@pytest.mark.parametrize(("reason", "refusal"), [
    (3, "the reason must be text, got int"),
    ("x" * 1001, "the reason is 1001 characters long; at most 1000, please shorten it"),
])
def test_a_cancel_reason_that_is_not_short_text_is_refused_and_nothing_changes(engine, org, reason, refusal):
    meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    with pytest.raises(ValueError, match=f"^{refusal}$"), session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, reason=reason, settings=SETTINGS, now=NOW)
    with session_scope(engine, write=True) as session:
        assert session.get(Meeting, meeting_id).status == "confirmed"
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, reason="x" * 1000 + "  ", settings=SETTINGS,
                           now=NOW)
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).cancel_reason == "x" * 1000


def test_scheduler_cancel_offers_the_remaining_times_and_the_customer_picks_another(engine, org):
    invitation_id = _invite(engine, org)
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        uid = session.get(Meeting, meeting_id).uid
        cancel_meeting(session, meeting_id, by=session.get(User, org.scheduler), secret_key=SECRET_KEY,
                       settings=SETTINGS, now=NOW)
    customer = next(m for m in _mail(engine, "cancellation") if m.to_addr == "ada@customer.example")
    assert "Other times are still open. Pick another time: link sent" in customer.body_text
    # The link in the mail as sent (decrypted) opens the meeting.
    from booking_service.services.outbox import message_content

    sent = message_content(customer, SECRET_KEY).text
    link = next(w for w in sent.split() if w.startswith(f"{PUBLIC}/m/"))
    token = link.removeprefix(f"{PUBLIC}/m/").removesuffix("/reschedule")
    with session_scope(engine, write=True) as session:
        assert find_meeting_by_manage_token(session, token).id == meeting_id
        result = rebook_meeting(session, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, manage_token=token,
                                settings=SETTINGS, now=NOW)
        assert result.outcome == "booked"
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.status, meeting.uid, meeting.sequence, meeting.start) == ("confirmed", uid, 2, berlin(MONDAY, 13))
        assert session.get(Invitation, invitation_id).status == "scheduled"
    with pytest.raises(MeetingStateError, match="booked already"), session_scope(engine, write=True) as session:
        rebook_meeting(session, meeting_id, berlin(MONDAY, 14), secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    _no_problems(engine)


def test_a_customer_who_cancelled_is_not_offered_to_rebook(engine, org):
    invitation_id = _invite(engine, org)
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    with pytest.raises(ChangeNotAllowed, match="You cancelled this meeting.*Sam Scheduler") as refused, \
            session_scope(engine, write=True) as session:
        rebook_meeting(session, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    assert (refused.value.transition, refused.value.state) == ("rebook", "policy")


def test_without_a_scheduler_the_refused_rebook_names_the_installations_sender(engine, org):
    with session_scope(engine, write=True) as session:
        invitation_id = create_invitation(session, draft(org, NOW), secret_key=SECRET_KEY, by=None,
                                          public_url=PUBLIC, now=NOW).invitation.id
    meeting_id = _book(engine, invitation_id, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_by_customer(session, meeting_id, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
    with pytest.raises(ChangeNotAllowed, match="Please contact Slotwise <no-reply@book.example>."), \
            session_scope(engine, write=True) as session:
        rebook_meeting(session, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)


def _cancelled_by_the_scheduler(engine, org, **changes) -> int:
    meeting_id = _book(engine, _invite(engine, org, **changes), berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, by=session.get(User, org.scheduler), secret_key=SECRET_KEY,
                       settings=SETTINGS, now=NOW)
    return meeting_id


def test_a_rebooked_meeting_is_booked_as_a_first_booking_is_with_its_pool_member_room_mails_and_calendars(engine, org):
    meeting_id = _cancelled_by_the_scheduler(engine, org, members=(), pools=(org.pool,),
                                             rooms=(org.small_room, org.large_room))
    later, start = NOW + dt.timedelta(hours=1), berlin(MONDAY, 13)
    again = Settings(public_url="https://again.example", secret_key=SECRET_KEY,
                     mail_from="Bookings <bookings@again.example>", reminder_offsets_minutes=(90,))
    with session_scope(engine, write=True) as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.invitation.created_by_id = None  # its scheduler has left: the invites name the sender
        for member in (org.cleo, org.dan):
            session.add(CalendarConnection(resource_id=member, kind="caldav", name="Team calendar",
                                           url="http://caldav.test/", write_back=True))
    with session_scope(engine, write=True) as session:
        # No manage token given: a new one, its link on the settings' public address.
        result = rebook_meeting(session, meeting_id, start, secret_key=SECRET_KEY, settings=again, now=later,
                                link="https://again.example/i/the-link")
        assert (result.outcome, result.meeting.id, result.invitation.id) == (
            "booked", meeting_id, result.meeting.invitation_id)
    reserved = _reservations(engine, meeting_id)
    member = reserved[0][0]
    assert [(r, s) for r, s, _ in reserved] == [(member, start), (org.small_room, start)]
    with session_scope(engine) as session:
        # The pool's turn is recorded for this meeting, at the rebooking's instant.
        turn = session.scalars(select(PoolAssignment).where(PoolAssignment.meeting_id == meeting_id,
                                                            PoolAssignment.cancelled_at.is_(None))).one()
        assert (turn.member_id, turn.assigned_at) == (member, later)
        sent = {(m.kind, m.to_addr): m for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.meeting_id == meeting_id, OutboxMessage.created_at == later))}
        customer = message_content(sent["confirmation", "ada@customer.example"], SECRET_KEY)
        assert "https://again.example/i/the-link" in customer.text and "Small room" in customer.text
        event = icalendar.Calendar.from_ical(customer.ics).walk("VEVENT")[0]
        assert (str(event["ORGANIZER"]), event["DTSTAMP"].dt) == ("mailto:bookings@again.example", later)
        link = next(w for w in customer.text.split() if w.startswith("https://again.example/m/"))
        token = link.removeprefix("https://again.example/m/").removesuffix("/reschedule")
        assert find_meeting_by_manage_token(session, token).id == meeting_id
        # The member is told, and the reminders (the settings' one, 90 minutes ahead) carry the room and link.
        assert ("notification", f"{'cleo' if member == org.cleo else 'dan'}@team.example") in sent
        reminder = sent["reminder", "ada@customer.example"]
        assert (reminder.about_start, reminder.next_attempt_at) == (start, start - dt.timedelta(minutes=90))
        text = message_content(reminder, SECRET_KEY).text
        assert "Small room" in text and f"{link}" in text
        # The member's calendar gets the meeting, queued at the same instant.
        writes = session.scalars(select(CalendarWrite).where(CalendarWrite.meeting_id == meeting_id,
                                                             CalendarWrite.created_at == later)).all()
        assert [(w.action, w.status) for w in writes] == [("put", "pending")]
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.rebooked")).all()
        assert (entry.user_id, entry.target_type, entry.target_id) == (None, "meeting", meeting_id)
        assert entry.details == {"invitation_id": result.meeting.invitation_id, "start": start.isoformat()}
    _no_problems(engine, later)


def test_once_the_frame_is_over_a_cancelled_meeting_is_not_booked_again(engine, org):
    meeting_id = _cancelled_by_the_scheduler(engine, org)
    with session_scope(engine) as session:
        frame_end = lifecycle.frame_end_instant(session.get(Meeting, meeting_id).invitation)
    with pytest.raises(MeetingStateError, match="time frame is over, so there is no other time to pick"), \
            session_scope(engine, write=True) as session:
        rebook_meeting(session, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, settings=SETTINGS,
                       now=frame_end)
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).status == "cancelled"


@pytest.mark.parametrize("change", ["reschedule", "rebook"])
def test_when_the_database_refuses_the_new_reservations_nothing_changes(engine, org, monkeypatch, change):
    # The resource locks keep two bookings from one time; should the database still refuse
    # (its exclusion constraint on PostgreSQL), the change reports it and leaves the meeting as it was.
    if change == "rebook":
        meeting_id = _cancelled_by_the_scheduler(engine, org)
    else:
        meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    monkeypatch.setattr(booking, "_reserve", lambda *args: False)
    with session_scope(engine, write=True) as session:
        do = reschedule_meeting if change == "reschedule" else rebook_meeting
        result = do(session, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
        assert (result.outcome, result.reason) == ("unavailable", "overlaps a reservation made at the same time")
        assert (result.meeting.id, result.invitation.id) == (meeting_id, result.meeting.invitation_id)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert (meeting.start, meeting.sequence) == (berlin(MONDAY, 10), 1 if change == "rebook" else 0)


def test_cancelling_an_invitation_mails_the_customer_whom_to_contact(engine, org):
    invitation_id = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, invitation_id, by=session.get(User, org.scheduler), secret_key=SECRET_KEY, now=NOW)
    (mail,) = _mail(engine, "invitation_cancelled")
    assert mail.to_addr == "ada@customer.example" and mail.reply_to == SAM
    assert "has been withdrawn" in mail.body_text and "Contact Sam Scheduler <sam@example.com>" in mail.body_text


# --- manage links, reminders, mail over SMTP ---------------------------------------------------------


def test_only_the_manage_links_hash_is_stored(engine, org):
    meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10), token="the-secret-manage-token")
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting.manage_token_hash == hash_token("the-secret-manage-token")
        assert find_meeting_by_manage_token(session, "the-secret-manage-token").id == meeting_id
        assert find_meeting_by_manage_token(session, "another") is None


def test_reminders_reach_everyone_once_at_their_time_over_smtp(engine, org):
    invitation_id = _invite(engine, org, members=(org.ana,), rooms=(org.small_room,))
    start = berlin(MONDAY, 10)
    _book(engine, invitation_id, start)
    reminders = _mail(engine, "reminder")
    assert sorted((m.to_addr, m.next_attempt_at) for m in reminders) == sorted(
        (to, start - ahead) for to in ("ada@customer.example", "ana@team.example")
        for ahead in (dt.timedelta(hours=24), dt.timedelta(hours=1)))
    with smtp_server() as (url, received):
        sender = SmtpSender.from_url(url)
        # Nothing before its time (the booking mails go at once).
        booking_mail = deliver_due(engine, sender, mail_from=FROM, secret_key=SECRET_KEY, now=NOW).sent
        assert not any(m["Subject"].startswith("Reminder") for m in received.messages)
        # Two workers at the reminder's time: each message goes out once.
        due = start - dt.timedelta(hours=24)
        reports = []

        def worker():
            own = make_engine(engine.url.render_as_string(hide_password=False))
            try:
                reports.append(deliver_due(own, sender, mail_from=FROM, secret_key=SECRET_KEY, now=due))
            finally:
                own.dispose()

        workers = [threading.Thread(target=worker) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert sum(r.sent for r in reports) == 2
        later = deliver_due(engine, sender, mail_from=FROM, secret_key=SECRET_KEY, now=start).sent
    assert later == 2
    sent = [m for m in received.messages[booking_mail:]]
    assert [m["Subject"] for m in sent] == ["Reminder: Intro call"] * 4
    customer = [m for m in sent if m["To"] == "ada@customer.example"]
    assert len(customer) == 2 and all(m["Reply-To"] == SAM for m in customer)
    body = customer[0].get_body(("plain",)).get_content()
    assert "starts in 1 day" not in body and "starts in 24 hours" in body
    assert "Room: Small room" in body and "Join: https://meet.example/intro" in body
    assert f"Reschedule: {PUBLIC}/m/manage-token/reschedule" in body and f"Cancel: {PUBLIC}/m/manage-token/cancel" in body
    team = next(m for m in sent if m["To"] == "ana@team.example").get_body(("plain",)).get_content()
    assert "Customer: Ada Customer" in team and "/m/" not in team


def test_no_reminder_for_a_cancelled_meeting_and_none_already_due(engine, org):
    invitation_id = _invite(engine, org)
    start = berlin(MONDAY, 10)
    # Booked 2 hours ahead: only the 1-hour reminder is still to come.
    meeting_id = _book(engine, invitation_id, start, now=start - dt.timedelta(hours=2))
    assert {m.next_attempt_at for m in _mail(engine, "reminder")} == {start - dt.timedelta(hours=1)}
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, by=None, secret_key=SECRET_KEY, now=start - dt.timedelta(hours=2))
    assert {m.status for m in _mail(engine, "reminder")} == {"superseded"}
    _no_problems(engine)


def test_confirmation_mail_over_smtp_carries_reply_to_names_and_manage_links(engine, org):
    invitation_id = _invite(engine, org, members=(), pools=(org.pool,), rooms=(org.small_room,))
    with smtp_server() as (url, received):
        deliver_due(engine, SmtpSender.from_url(url), mail_from=FROM, secret_key=SECRET_KEY, now=NOW)
        _book(engine, invitation_id, berlin(MONDAY, 10))
        deliver_due(engine, SmtpSender.from_url(url), mail_from=FROM, secret_key=SECRET_KEY, now=NOW)
    (confirmation,) = [m for m in received.messages if m["Subject"] == "Confirmed: Intro call"]
    assert confirmation["Reply-To"] == SAM
    body = confirmation.get_body(("plain",)).get_content()
    assert "With: Cleo" in body and "Room: Small room" in body
    assert f"Reschedule: {PUBLIC}/m/manage-token/reschedule" in body
    invitation_mail = next(m for m in received.messages if m["Subject"].startswith("Please pick a time"))
    assert invitation_mail["Reply-To"] == SAM and "Where: Small room" in invitation_mail.get_body(("plain",)).get_content()
    team = next(m for m in received.messages if m["To"] == "cleo@team.example")
    assert team["Reply-To"] is None


def test_delivery_never_sends_a_reminder_of_a_time_the_meeting_no_longer_has(engine, org, tmp_path):
    from sqlalchemy import update

    from booking_service.delivery.mail import FileSender

    meeting_id = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    with session_scope(engine, write=True) as session:
        # As a restore from an old backup could leave it: the meeting moved, its reminders not.
        session.execute(update(Meeting).where(Meeting.id == meeting_id)
                        .values(start=berlin(MONDAY, 12), end=berlin(MONDAY, 12, 30)))
    report = deliver_due(engine, FileSender(tmp_path), mail_from=FROM, secret_key=SECRET_KEY,
                         now=berlin(MONDAY, 10))
    assert not any(m.kind == "reminder" for m in _mail(engine, status="sent"))
    assert {m.status for m in _mail(engine, "reminder")} == {"superseded"}
    assert report.sent == len(_mail(engine, status="sent"))


def test_the_manage_link_is_derived_from_the_invitation_and_survives_a_scheduler_cancel(engine, org):
    from booking_service.services.invitations import manage_token_for

    invitation_id = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, invitation_id, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW,
                              settings=SETTINGS)
        token = manage_token_for(SECRET_KEY, session.get(Invitation, invitation_id).token_hash)
        assert len(token) >= 43 and result.meeting.manage_token_hash == hash_token(token)
        assert manage_token_for("another-installation", session.get(Invitation, invitation_id).token_hash) != token
        cancel_meeting(session, result.meeting.id, by=None, secret_key=SECRET_KEY, settings=SETTINGS, now=NOW)
        assert find_meeting_by_manage_token(session, token).id == result.meeting.id
