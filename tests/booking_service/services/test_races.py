"""Every pair of transitions that can meet, raced many times: one winner, a refusal for the loser.

Each test races two sides over :data:`ROUNDS` invitations (see :mod:`.racing`: processes on
PostgreSQL, threads on SQLite), checks each round's pair of outcomes and what it left in the
database, and ends with the invariant check finding nothing. No side may end in an exception:
a loser is refused by the state machine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from booking_service.services.invitations import hash_token
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, Meeting, OutboxMessage, Reservation, SlotHold, User

from . import racing

ROUNDS = 40


@dataclass(frozen=True)
class Left:
    """What one round's invitation looks like after the race."""

    status: str
    link_kept: bool
    meeting: str | None
    reservations: int
    waiting_mail: tuple[bool, ...]  # per pending invitation mail: does it carry the current link?
    superseded_mail: int
    cancellation_mail: int


def _left(database_url: str, world: list[racing.Round]) -> list[Left]:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            result = []
            for r in world:
                invitation = session.get(Invitation, r.invitation_id)
                meeting = session.scalars(select(Meeting).where(Meeting.invitation_id == r.invitation_id)).one_or_none()
                mails = session.scalars(select(OutboxMessage).where(OutboxMessage.invitation_id == r.invitation_id)).all()
                reservations = 0 if meeting is None else session.scalar(
                    select(func.count()).select_from(Reservation).where(Reservation.meeting_id == meeting.id))
                result.append(Left(
                    status=invitation.status,
                    link_kept=invitation.token_hash == hash_token(r.token),
                    meeting=None if meeting is None else meeting.status,
                    reservations=reservations,
                    waiting_mail=tuple(m.link_hash == invitation.token_hash for m in mails
                                       if m.kind == "invitation" and m.status == "pending"),
                    superseded_mail=sum(m.kind == "invitation" and m.status == "superseded" for m in mails),
                    cancellation_mail=sum(m.kind == "cancellation" for m in mails),
                ))
            return result
    finally:
        engine.dispose()


def _race(database_url, left, right, *, booked=False):
    world = racing.make_world(database_url, ROUNDS, booked=booked)
    outcomes = racing.race(database_url, world, left, right)
    errors = [o for pair in outcomes for o in pair if o.startswith("error")]
    assert errors == [], errors[:3]
    print(f"{left.__name__} x {right.__name__}: {dict(Counter(outcomes))}")
    return outcomes, _left(database_url, world)


def _end(database_url):
    assert racing.invariants(database_url) == []


@pytest.mark.timeout(180)
def test_confirm_races_cancel_invitation(database_url):
    outcomes, left = _race(database_url, racing.confirm, racing.cancel_invitation)
    for pair, state in zip(outcomes, left, strict=True):
        if pair == ("booked", "refused: scheduled"):
            assert (state.status, state.meeting, state.reservations) == ("scheduled", "confirmed", 1)
        else:
            assert pair == ("closed", "cancelled")
            assert (state.status, state.meeting, state.reservations) == ("cancelled", None, 0)
        assert state.waiting_mail == () and state.superseded_mail == 1
    _end(database_url)


@pytest.mark.timeout(180)
def test_confirm_races_resend(database_url):
    outcomes, left = _race(database_url, racing.confirm, racing.resend)
    for pair, state in zip(outcomes, left, strict=True):
        if pair == ("booked", "refused: scheduled"):
            assert (state.status, state.link_kept, state.meeting, state.waiting_mail) == ("scheduled", True, "confirmed", ())
            assert state.superseded_mail == 1  # the first mail, withdrawn by the booking
        else:
            # The resend came first: the customer's link was replaced, so nothing was booked
            # with it, and only the new link's mail waits to go out.
            assert pair == ("replaced", "resent")
            assert (state.status, state.link_kept, state.meeting, state.waiting_mail) == ("active", False, None, (True,))
            assert state.superseded_mail == 1
    _end(database_url)


@pytest.mark.timeout(180)
def test_confirm_races_expire(database_url):
    outcomes, left = _race(database_url, racing.confirm, racing.expire)
    for pair, state in zip(outcomes, left, strict=True):
        if pair == ("booked", "not expired"):
            assert (state.status, state.meeting) == ("scheduled", "confirmed")
        else:
            assert pair == ("closed", "expired")
            assert (state.status, state.meeting) == ("expired", None)
        assert state.waiting_mail == ()
    _end(database_url)


@pytest.mark.timeout(180)
def test_cancel_races_cancel(database_url):
    outcomes, left = _race(database_url, racing.cancel_invitation, racing.cancel_invitation)
    for pair, state in zip(outcomes, left, strict=True):
        assert sorted(pair) == ["cancelled", "refused: cancelled"]
        assert (state.status, state.waiting_mail, state.superseded_mail) == ("cancelled", (), 1)
    _end(database_url)


@pytest.mark.timeout(180)
def test_cancel_meeting_races_cancel_meeting(database_url):
    outcomes, left = _race(database_url, racing.cancel_meeting, racing.cancel_meeting, booked=True)
    for pair, state in zip(outcomes, left, strict=True):
        assert sorted(pair) == ["cancelled", "refused: cancelled"]
        assert (state.status, state.meeting, state.reservations) == ("cancelled", "cancelled", 0)
        assert state.cancellation_mail == 2  # the customer and Ana, once
    _end(database_url)


@pytest.mark.timeout(180)
def test_resend_races_cancel(database_url):
    outcomes, left = _race(database_url, racing.resend, racing.cancel_invitation)
    for pair, state in zip(outcomes, left, strict=True):
        assert pair in {("resent", "cancelled"), ("refused: cancelled", "cancelled")}
        assert (state.status, state.waiting_mail) == ("cancelled", ())
        # The first mail, and the resend's when it came first: withdrawn, never sent.
        assert state.superseded_mail == (2 if pair[0] == "resent" else 1)
    _end(database_url)


@pytest.mark.timeout(180)
def test_resend_races_resend(database_url):
    outcomes, left = _race(database_url, racing.resend, racing.resend)
    for pair, state in zip(outcomes, left, strict=True):
        # Both may win, one after the other: the later link is the one that works and the
        # only one whose mail waits to go out.
        assert pair == ("resent", "resent")
        assert (state.status, state.link_kept, state.waiting_mail, state.superseded_mail) == ("active", False, (True,), 2)
    _end(database_url)


# --- after "confirmed": holds, moves, the customer's cancel, picking another time ----------------


def _holds(database_url, world, attribute="invitation_id"):
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            return [session.scalar(select(func.count()).select_from(SlotHold)
                                   .where(SlotHold.invitation_id == getattr(r, attribute))) for r in world]
    finally:
        engine.dispose()


def _race_world(database_url, world, left, right):
    outcomes = racing.race(database_url, world, left, right)
    errors = [o for pair in outcomes for o in pair if o.startswith("error")]
    assert errors == [], errors[:3]
    print(f"{left.__name__} x {right.__name__}: {dict(Counter(outcomes))}")
    return outcomes


@pytest.mark.timeout(180)
def test_hold_races_hold_of_another_customer(database_url):
    world = racing.make_world(database_url, ROUNDS, rivals=True)
    outcomes = _race_world(database_url, world, racing.hold, racing.rival_hold)
    mine, theirs = _holds(database_url, world), _holds(database_url, world, "rival_id")
    for pair, held, rival_held in zip(outcomes, mine, theirs, strict=True):
        assert sorted(pair) == ["held", "unavailable"]
        assert (held > 0, rival_held > 0) == (pair[0] == "held", pair[1] == "held")
    _end(database_url)


@pytest.mark.timeout(180)
def test_two_customers_race_for_one_slot_through_hold_and_confirm(database_url):
    world = racing.make_world(database_url, ROUNDS, rivals=True)
    outcomes = _race_world(database_url, world, racing.hold_and_confirm, racing.rival_hold_and_confirm)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            for pair, r in zip(outcomes, world, strict=True):
                # One books; the other finds the time held or booked, at its hold or its confirmation.
                assert sorted(pair)[0] == "booked" and sorted(pair)[1] in {"hold unavailable", "unavailable"}
                booked = [i for i, o in zip((r.invitation_id, r.rival_id), pair, strict=True) if o == "booked"]
                statuses = {i: session.get(Invitation, i).status for i in (r.invitation_id, r.rival_id)}
                assert statuses == {i: ("scheduled" if i in booked else "active") for i in statuses}
            assert session.scalar(select(func.count()).select_from(SlotHold)
                                  .join(Invitation, Invitation.id == SlotHold.invitation_id)
                                  .where(Invitation.status != "active")) == 0
    finally:
        engine.dispose()
    _end(database_url)


@pytest.mark.timeout(180)
def test_hold_races_cancel_invitation(database_url):
    outcomes, left = _race(database_url, racing.hold, racing.cancel_invitation)
    for pair, state in zip(outcomes, left, strict=True):
        assert pair in {("held", "cancelled"), ("closed", "cancelled")}
        assert state.status == "cancelled"
    _end(database_url)  # no hold of the cancelled invitation is left


@pytest.mark.timeout(180)
def test_hold_races_confirm_of_another_customer(database_url):
    world = racing.make_world(database_url, ROUNDS, rivals=True)

    def rival_confirm(engine, r):
        with racing.session_scope(engine, write=True) as session:
            return racing.booking.confirm_slot(session, r.rival_id, r.start, secret_key=racing.SECRET_KEY,
                                               now=r.now).outcome

    outcomes = _race_world(database_url, world, racing.hold, rival_confirm)
    for pair in outcomes:
        assert sorted(pair) in (["booked", "unavailable"], ["held", "unavailable"])
    _end(database_url)


@pytest.mark.timeout(180)
def test_reschedule_races_cancel_meeting(database_url):
    outcomes, left = _race(database_url, racing.reschedule, racing.cancel_meeting, booked=True)
    for pair, state in zip(outcomes, left, strict=True):
        assert pair in {("moved", "cancelled"), ("refused: cancelled", "cancelled")}
        assert (state.status, state.meeting, state.reservations) == ("cancelled", "cancelled", 0)
    _end(database_url)  # no reminder waits for the cancelled meeting


@pytest.mark.timeout(180)
def test_reschedule_races_reschedule(database_url):
    outcomes, left = _race(database_url, racing.reschedule, racing.reschedule, booked=True)
    for pair, state in zip(outcomes, left, strict=True):
        # Both want 14:00: the first moves it there, the second finds it there already.
        assert sorted(pair) == ["moved", "unavailable"]
        assert (state.status, state.meeting, state.reservations) == ("scheduled", "confirmed", 1)
    _end(database_url)  # the reminders speak of 14:00 only


@pytest.mark.timeout(180)
def test_reschedule_by_the_customer_races_reschedule_by_the_scheduler(database_url):
    world = racing.make_world(database_url, ROUNDS, booked=True)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            session.add(User(email=racing.ADMIN_EMAIL, name="Root", zone="Europe/Berlin", role="admin"))
    finally:
        engine.dispose()
    outcomes = _race_world(database_url, world, racing.reschedule, racing.reschedule_by_scheduler)
    left = _left(database_url, world)
    for pair, state in zip(outcomes, left, strict=True):
        # Both move it to 14:00 through the one transition: one moves it, the other finds it there.
        assert sorted(pair) == ["moved", "unavailable"]
        assert (state.status, state.meeting, state.reservations) == ("scheduled", "confirmed", 1)
    _end(database_url)


@pytest.mark.timeout(180)
def test_reschedule_races_confirm_of_another_customer_for_the_same_time(database_url):
    world = racing.make_world(database_url, ROUNDS, booked=True, rivals=True)
    outcomes = _race_world(database_url, world, racing.reschedule, racing.rival_confirm_other_time)
    for pair in outcomes:
        assert pair in {("moved", "unavailable"), ("unavailable", "booked")}
    _end(database_url)


@pytest.mark.timeout(180)
def test_cancel_by_customer_races_cancel_meeting(database_url):
    outcomes, left = _race(database_url, racing.cancel_by_customer, racing.cancel_meeting, booked=True)
    for pair, state in zip(outcomes, left, strict=True):
        assert sorted(pair) == ["cancelled", "refused: cancelled"]
        assert (state.status, state.meeting, state.reservations) == ("cancelled", "cancelled", 0)
        assert state.cancellation_mail == 2
    _end(database_url)


@pytest.mark.timeout(180)
def test_cancel_by_customer_races_reschedule(database_url):
    outcomes, left = _race(database_url, racing.cancel_by_customer, racing.reschedule, booked=True)
    for pair, state in zip(outcomes, left, strict=True):
        assert pair in {("cancelled", "moved"), ("cancelled", "refused: cancelled")}
        assert (state.status, state.meeting, state.reservations) == ("cancelled", "cancelled", 0)
    _end(database_url)


def _scheduler_cancels(database_url, world):
    engine = make_engine(database_url)
    try:
        for r in world:
            assert racing.cancel_meeting(engine, r) == "cancelled"
    finally:
        engine.dispose()


@pytest.mark.timeout(180)
def test_rebook_races_confirm_of_another_customer_for_the_same_time(database_url):
    world = racing.make_world(database_url, ROUNDS, booked=True, rivals=True)
    _scheduler_cancels(database_url, world)
    outcomes = _race_world(database_url, world, racing.rebook, racing.rival_confirm_other_time)
    for pair in outcomes:
        assert pair in {("booked", "unavailable"), ("unavailable", "booked")}
    _end(database_url)


@pytest.mark.timeout(180)
def test_rebook_races_rebook(database_url):
    world = racing.make_world(database_url, ROUNDS, booked=True)
    _scheduler_cancels(database_url, world)
    outcomes = _race_world(database_url, world, racing.rebook, racing.rebook)
    for pair in outcomes:
        assert sorted(pair) == ["booked", "refused: confirmed"]
    _end(database_url)


# --- team scheduling: turns and limits under concurrent confirmations ---------------------------

TEAM_ROUNDS = 10


def _pair_race(database_url, **world):
    rounds, people = racing.make_pair_world(database_url, TEAM_ROUNDS, **world)
    outcomes = racing.race(database_url, rounds, racing.confirm_first, racing.confirm_second)
    errors = [o for pair in outcomes for o in pair if o.startswith("error")]
    assert errors == [], errors[:3]
    return rounds, people, outcomes


def _assigned(database_url) -> list[tuple[int, int]]:
    """(meeting id, member id) of every pool assignment, in the order they were made."""
    from booking_service.store.models import PoolAssignment

    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            rows = session.execute(select(PoolAssignment.meeting_id, PoolAssignment.member_id)
                                   .order_by(PoolAssignment.assigned_at, PoolAssignment.id)).all()  # fmt: skip
            return [(m, p) for m, p in rows]
    finally:
        engine.dispose()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("policy", ["round_robin", "weighted"])
def test_two_confirms_of_one_pool_take_turns(database_url, policy):
    """Two customers of a two-member pool confirm at once: never both get the same member.

    Under strict round robin only the member whose turn it is counts, so the loser of the lock
    re-reads the rotation and gets the other; with equal weights the least recently booked goes
    next. Either way the assignments alternate over the whole race.
    """
    rounds, people, outcomes = _pair_race(database_url, policy=policy)
    assert outcomes == [("booked", "booked")] * TEAM_ROUNDS
    assigned = _assigned(database_url)
    assert len(assigned) == 2 * TEAM_ROUNDS
    members = [member for _, member in assigned]
    assert all(a != b for a, b in zip(members, members[1:], strict=False)), members
    assert Counter(members) == {people["cleo"]: TEAM_ROUNDS, people["dan"]: TEAM_ROUNDS}
    _end(database_url)


@pytest.mark.timeout(300)
def test_two_confirms_never_both_take_the_last_allowed_meeting(database_url):
    """Ana may take one meeting a day; two customers confirm her on the same day at once."""
    rounds, people, outcomes = _pair_race(database_url, limit_per_day=1)
    for pair in outcomes:
        assert sorted(pair) == ["booked", "unavailable"], pair
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            starts = session.scalars(
                select(Meeting.start).join(Reservation, Reservation.meeting_id == Meeting.id)
                .where(Reservation.resource_id == people["ana"], Meeting.status == "confirmed")
            ).all()
    finally:
        engine.dispose()
    assert Counter(s.date() for s in starts) == {r.day: 1 for r in rounds}
    _end(database_url)
