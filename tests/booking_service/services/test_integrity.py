"""The invariant check: each kind of broken row, made directly in the database, is found and named."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from booking_service.services.booking import cancel_meeting, confirm_slot
from booking_service.services.integrity import check_invariants
from booking_service.services.invitations import cancel_invitation, create_invitation, resend_invitation
from booking_service.store.db import session_scope
from booking_service.store.models import Invitation, Meeting, OutboxMessage, Reservation

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
MONDAY = next_monday(NOW)
PUBLIC = "https://book.example"


@pytest.fixture
def org(engine):
    with Session(engine) as session:
        return make_org(session)


def _invite(engine, org, **changes) -> int:
    with session_scope(engine, write=True) as session:
        return create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW).invitation.id


def _book(engine, org, hour: int = 10, **changes) -> tuple[int, int]:
    invitation_id = _invite(engine, org, **changes)
    with session_scope(engine, write=True) as session:
        result = confirm_slot(session, invitation_id, berlin(MONDAY, hour), secret_key=SECRET_KEY, now=NOW)
        assert result.outcome == "booked"
        return invitation_id, result.meeting.id


def _found(engine) -> list[tuple[str, str]]:
    with session_scope(engine) as session:
        return [(v.kind, v.message) for v in check_invariants(session)]


def _kinds(engine) -> set[str]:
    return {kind for kind, _ in _found(engine)}


def test_what_the_services_leave_behind_breaks_nothing(engine, org):
    active = _invite(engine, org)
    resent = _invite(engine, org)
    cancelled = _invite(engine, org)
    _, booked_meeting = _book(engine, org, 10, rooms=(org.small_room,))
    _, cancelled_meeting = _book(engine, org, 11)
    with session_scope(engine, write=True) as session:
        resend_invitation(session, resent, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
        cancel_invitation(session, cancelled, secret_key=SECRET_KEY, by=None, now=NOW)
        cancel_meeting(session, cancelled_meeting, secret_key=SECRET_KEY, by=None, now=NOW)
    assert active and booked_meeting
    assert _found(engine) == []


@pytest.mark.parametrize("status", ["cancelled", "expired", "active"])
def test_a_confirmed_meeting_of_an_invitation_that_is_not_scheduled(engine, org, status):
    invitation_id, meeting_id = _book(engine, org)
    with session_scope(engine) as session:
        session.get(Invitation, invitation_id).status = status
    assert (
        "meeting_of_closed_invitation",
        f"invitation {invitation_id} is {status} but its meeting {meeting_id} is confirmed (its time is still held)",
    ) in _found(engine)


def test_a_scheduled_invitation_without_a_meeting(engine, org):
    lonely = _invite(engine, org)
    invitation_id, meeting_id = _book(engine, org)
    with session_scope(engine) as session:
        session.get(Invitation, lonely).status = "scheduled"
        session.execute(update(OutboxMessage).values(status="sent"))
        session.get(Meeting, meeting_id).status = "cancelled"
        session.execute(delete(Reservation))
    assert _found(engine) == [
        ("scheduled_without_meeting", f"invitation {lonely} is scheduled but has no confirmed meeting (no meeting)"),
        ("scheduled_without_meeting", f"invitation {invitation_id} is scheduled but has no confirmed meeting "
                                      f"(its meeting {meeting_id} is cancelled)"),
    ]


def test_a_confirmed_meeting_without_reservations(engine, org):
    invitation_id, meeting_id = _book(engine, org)
    with session_scope(engine) as session:
        session.execute(delete(Reservation))
    found = _found(engine)
    assert (
        "meeting_without_reservations",
        f"meeting {meeting_id} (invitation {invitation_id}) is confirmed but holds no reservation",
    ) in found
    assert ("member_not_reserved", f"meeting {meeting_id} is confirmed but holds no reservation of team member "
                                   f"{org.ana}, whom invitation {invitation_id} requires") in found


def test_a_required_member_or_the_room_not_reserved(engine, org):
    invitation_id, meeting_id = _book(engine, org, members=(org.ana, org.ben), rooms=(org.small_room,))
    with session_scope(engine) as session:
        session.execute(delete(Reservation).where(Reservation.resource_id.in_([org.ben, org.small_room])))
    assert _found(engine) == [
        ("member_not_reserved", f"meeting {meeting_id} is confirmed but holds no reservation of team member "
                                f"{org.ben}, whom invitation {invitation_id} requires"),
        ("room_not_reserved", f"meeting {meeting_id} is confirmed but holds no room, though invitation "
                              f"{invitation_id} lists rooms"),
    ]


def test_a_member_taken_from_a_pool_not_reserved(engine, org):
    _, meeting_id = _book(engine, org, members=(org.ana,), pools=(org.pool,))
    with session_scope(engine) as session:
        session.execute(delete(Reservation).where(Reservation.resource_id == org.cleo))
    assert _found(engine) == [
        ("assigned_not_reserved", f"meeting {meeting_id} is confirmed and took team member {org.cleo} from pool "
                                  f"{org.pool}, but holds no reservation of them"),
    ]


def test_one_resource_reserved_twice_for_one_meeting(engine, org):
    _, meeting_id = _book(engine, org)
    with session_scope(engine) as session:
        first = session.scalars(select(Reservation)).one()
        # A day later, so that PostgreSQL's no-overlap rule lets it in.
        session.add(Reservation(meeting_id=meeting_id, resource_id=org.ana,
                                start=first.start + dt.timedelta(days=1), end=first.end + dt.timedelta(days=1)))
    assert _found(engine) == [
        ("resource_reserved_twice", f"meeting {meeting_id} holds 2 reservations of resource {org.ana}; one is right"),
    ]


def test_a_cancelled_meeting_that_still_holds_time(engine, org):
    _, meeting_id = _book(engine, org)
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)
    with session_scope(engine) as session:
        meeting = session.get(Meeting, meeting_id)
        session.add(Reservation(meeting_id=meeting_id, resource_id=org.ana, start=meeting.start, end=meeting.end))
    assert _found(engine) == [
        ("cancelled_meeting_holds_time", f"meeting {meeting_id} is cancelled but still holds 1 reservation(s)"),
    ]


def test_overlapping_reservations_of_one_resource(engine, org):
    _, first = _book(engine, org, 10)
    _, second = _book(engine, org, 11)
    with engine.connect() as connection:
        transaction = connection.begin()
        if connection.dialect.name == "postgresql":
            # PostgreSQL refuses such rows by itself; drop its rule inside this transaction only
            # (DDL is transactional there) to see that the check finds them too.
            connection.execute(text("ALTER TABLE reservations DROP CONSTRAINT ex_reservations_no_overlap"))
        with Session(connection) as session:
            held = session.scalars(select(Reservation).where(Reservation.meeting_id == second)).one()
            held.start = held.start - dt.timedelta(minutes=45)  # 10:15, into the 10:00 meeting
            session.flush()
            ids = sorted(r.id for r in session.scalars(select(Reservation)))
            found = [(v.kind, v.message) for v in check_invariants(session)]
        transaction.rollback()
    assert found == [
        ("overlapping_reservations", f"resource {org.ana} is reserved twice at once: reservation {ids[0]} (meeting "
                                     f"{first}) overlaps reservation {ids[1]} (meeting {second})"),
    ]


def test_reservations_that_touch_do_not_overlap(engine, org):
    _book(engine, org, 10)
    _book(engine, org, 11)
    with session_scope(engine) as session:
        first, second = session.scalars(select(Reservation).order_by(Reservation.start)).all()
        second.start = first.end  # back to back: half-open intervals do not clash
    assert _found(engine) == []


def test_an_invitation_mail_waiting_with_a_replaced_link(engine, org):
    invitation_id = _invite(engine, org)
    with session_scope(engine) as session:
        # What a resend that forgot the waiting mail would leave.
        session.get(Invitation, invitation_id).token_hash = "0" * 64
        (mail,) = session.scalars(select(OutboxMessage.id)).all()
    assert _found(engine) == [
        ("mail_for_replaced_link", f"outbox message {mail} waits to mail invitation {invitation_id} with a link a "
                                   "resend has replaced"),
    ]


@pytest.mark.parametrize("status", ["cancelled", "expired"])
def test_an_invitation_mail_waiting_for_a_closed_invitation(engine, org, status):
    invitation_id = _invite(engine, org)
    with session_scope(engine) as session:
        session.get(Invitation, invitation_id).status = status
        (mail,) = session.scalars(select(OutboxMessage.id)).all()
    assert _found(engine) == [
        ("mail_for_closed_invitation", f"outbox message {mail} waits to mail invitation {invitation_id}, which is "
                                       f"{status}"),
    ]


def test_sent_and_withdrawn_invitation_mail_is_no_problem(engine, org):
    sent = _invite(engine, org)
    withdrawn = _invite(engine, org)
    with session_scope(engine) as session:
        for invitation_id, mail_status in ((sent, "sent"), (withdrawn, "superseded")):
            session.get(Invitation, invitation_id).status = "cancelled"
            session.scalars(select(OutboxMessage).where(OutboxMessage.invitation_id == invitation_id)).one().status = (
                mail_status)
    assert _found(engine) == []


# --- holds and reminders ------------------------------------------------------------------------


def _hold(engine, invitation_id: int, now: dt.datetime, hour: int = 10) -> None:
    from booking_service.services.booking import hold_slot

    with session_scope(engine, write=True) as session:
        assert hold_slot(session, invitation_id, berlin(MONDAY, hour), now=now).outcome == "held"


def _found_at(engine, now) -> set[str]:
    with session_scope(engine) as session:
        return {v.kind for v in check_invariants(session, now)}


def test_a_hold_of_a_closed_invitation_is_found(engine, org):
    invitation_id = _invite(engine, org)
    _hold(engine, invitation_id, NOW)
    assert _found_at(engine, NOW) == set()
    with session_scope(engine, write=True) as session:
        session.execute(update(Invitation).where(Invitation.id == invitation_id).values(status="cancelled"))
    assert "hold_of_closed_invitation" in _found_at(engine, NOW)


def test_a_live_hold_over_a_reservation_and_two_live_holds_of_one_time_are_found(engine, org):
    first, second, third = _invite(engine, org), _invite(engine, org), _invite(engine, org)
    _hold(engine, first, NOW)
    later = NOW + dt.timedelta(minutes=6)  # the first hold has expired by then
    _hold(engine, second, later)
    with session_scope(engine, write=True) as session:
        assert confirm_slot(session, third, berlin(MONDAY, 10), secret_key=SECRET_KEY,
                            now=later + dt.timedelta(minutes=6)).outcome == "booked"
    # Looked at while all were live, the rows break both rules; once expired, nothing.
    assert _found_at(engine, NOW + dt.timedelta(minutes=1)) == {"overlapping_holds", "hold_overlaps_reservation"}
    assert _found_at(engine, later + dt.timedelta(minutes=6)) == set()


def test_a_reminder_for_a_moved_or_cancelled_meeting_is_found(engine, org):
    _, meeting_id = _book(engine, org)
    assert "stale_reminder" not in _kinds(engine)
    with session_scope(engine, write=True) as session:
        session.execute(update(Meeting).where(Meeting.id == meeting_id)
                        .values(start=berlin(MONDAY, 12), end=berlin(MONDAY, 12, 30)))
    assert "stale_reminder" in _kinds(engine)
