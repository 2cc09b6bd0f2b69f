"""Racing two transitions against each other: the world they race in, the sides, the harness.

:func:`make_world` builds, cheaply and in bulk, one invitation per round: all require Ana, each
has a frame of one weekday of its own (round ``i`` on the ``i``-th weekday from next Monday),
so the rounds never compete for time with each other and expiring one round's invitation
touches no other. Each has a pending invitation mail carrying its link, as a freshly sent one
does; with ``booked=True`` each is already booked at 16:00 (a confirmed meeting holding Ana).
With ``rivals=True`` each round also has a second invitation for the same day and team (another
customer, who competes for the same times).

:func:`race` runs two sides round after round: both wait at a barrier, then act at once, one
of them after a head start of up to a few milliseconds that alternates between the sides, so
that either may reach the locks first. On PostgreSQL each side is a process of its own with its
own engine (what several gunicorn workers are); on SQLite each is a thread with its own engine
on the same database file. A side returns a short outcome word, never raises: an exception
comes back as ``"error: ..."`` so that the test shows it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking_service.core.config import Settings
from booking_service.services import booking, invitations
from booking_service.services.integrity import check_invariants
from booking_service.services.lifecycle import TransitionRefused, frame_end_instant
from booking_service.services.outbox import RenderedMail, queue_mail
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, Meeting, OutboxMessage, Reservation, User

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

HEAD_START = 0.004
"""Seconds: the most one side waits after the barrier, so that both orders happen."""
COPIED = (
    "customer_name", "customer_email", "subject", "description", "conferencing", "duration_minutes",
    "slot_interval_minutes", "zone", "delivery", "created_by_id",
)
SETTINGS = Settings(public_url="http://localhost", secret_key=SECRET_KEY, change_cutoff_hours=0, max_reschedules=100)
"""Customers may change their meeting up to its start, any number of times (the races are about locks)."""
MAIL = RenderedMail(subject="Please pick a time: Intro call", text="Pick a time", html="<p>Pick a time</p>")


@dataclass(frozen=True)
class Round:
    """One invitation to race over, and the instants the sides act at.

    ``now`` is 08:00 Berlin on the frame's day (the sides act then); ``start`` is 16:00 that
    day (the slot a customer confirms); ``over`` is the end of the frame (when the worker
    expires it).
    """

    index: int
    invitation_id: int
    token: str
    now: dt.datetime
    start: dt.datetime
    over: dt.datetime
    meeting_id: int | None = None
    rival_id: int | None = None

    @property
    def other_time(self) -> dt.datetime:
        """14:00 that day: where a customer moves their meeting, or the rival books."""
        return self.start - dt.timedelta(hours=2)


def _weekdays(first: dt.date, count: int) -> list[dt.date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def make_world(database_url: str, rounds: int, *, booked: bool = False, rivals: bool = False) -> list[Round]:
    """Create the organisation and one invitation per round (see the module docstring)."""
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = make_org(session)
        now = dt.datetime.now(dt.UTC)
        days = _weekdays(next_monday(now), rounds)
        with session_scope(engine, write=True) as session:
            # Round 0's invitation comes from the service; the others are copies of it with
            # frames of their own (computing slots hundreds of times would only slow the test).
            created = invitations.create_invitation(
                session, draft(org, now, members=(org.ana,), frame_start=days[0], frame_end=days[0]),
                secret_key=SECRET_KEY, by=None, public_url="http://localhost", now=now,
            )
            template = created.invitation
            tokens = [created.token, *(invitations.new_token() for _ in days[1:])]
            copies = [
                Invitation(
                    token_hash=invitations.hash_token(token), members=list(template.members), status="active",
                    frame_start=day, frame_end=day, created_at=now, updated_at=now, sent_at=now,
                    **{c: getattr(template, c) for c in COPIED},
                )
                for token, day in zip(tokens[1:], days[1:], strict=True)
            ]
            session.add_all(copies)
            session.flush()
            for invitation in copies:
                queue_mail(session, secret_key=SECRET_KEY, kind="invitation", to=invitation.customer_email, mail=MAIL,
                           invitation_id=invitation.id, link_hash=invitation.token_hash, now=now)
            world = [
                Round(i, invitation.id, token, berlin(day, 8), berlin(day, 16), frame_end_instant(invitation))
                for i, (invitation, token, day) in enumerate(zip([template, *copies], tokens, days, strict=True))
            ]
            if booked:
                world = _book(session, world, org.ana)
            if rivals:
                rival_copies = [
                    Invitation(
                        token_hash=invitations.hash_token(invitations.new_token()), members=list(template.members),
                        status="active", frame_start=r.start.date(), frame_end=r.start.date(), created_at=now,
                        updated_at=now, sent_at=now, **{c: getattr(template, c) for c in COPIED},
                    )
                    for r in world
                ]
                session.add_all(rival_copies)
                session.flush()
                world = [replace(r, rival_id=rival.id) for r, rival in zip(world, rival_copies, strict=True)]
        return world
    finally:
        engine.dispose()


def _book(session: Session, world: list[Round], member_id: int) -> list[Round]:
    """Each round's invitation booked at its ``start``, as a confirmation leaves it (mails aside)."""
    meetings = []
    for r in world:
        invitation = session.get(Invitation, r.invitation_id)
        invitation.status = "scheduled"
        end = r.start + dt.timedelta(minutes=invitation.duration_minutes)
        meetings.append(Meeting(
            invitation=invitation, start=r.start, end=end, status="confirmed", uid=f"race-{r.index}@slotwise",
            sequence=0, customer_name=invitation.customer_name, customer_email=invitation.customer_email,
            created_at=r.now, reservations=[Reservation(resource_id=member_id, start=r.start, end=end)],
        ))
    session.add_all(meetings)
    session.flush()
    # The invitation mails went out before the customers booked.
    session.execute(update(OutboxMessage).values(status="sent"))
    return [replace(r, meeting_id=m.id) for r, m in zip(world, meetings, strict=True)]


# --- the sides: each acts once in a transaction of its own and says what happened --------------


def _refusal(action: Callable[[], object], done: str) -> str:
    try:
        action()
    except TransitionRefused as refused:
        return f"refused: {refused.state}"
    return done


def confirm(engine, r: Round) -> str:
    """The customer confirms ``r.start`` through their link."""
    with session_scope(engine, write=True) as session:
        return booking.confirm_slot(session, r.invitation_id, r.start, secret_key=SECRET_KEY, now=r.now,
                                    link_hash=invitations.hash_token(r.token)).outcome


def cancel_invitation(engine, r: Round) -> str:
    """A scheduler cancels the invitation."""
    def act():
        with session_scope(engine, write=True) as session:
            invitations.cancel_invitation(session, r.invitation_id, secret_key=SECRET_KEY, by=None, now=r.now)
    return _refusal(act, "cancelled")


def resend(engine, r: Round) -> str:
    """A scheduler resends the invitation with a new link."""
    def act():
        with session_scope(engine, write=True) as session:
            invitations.resend_invitation(session, r.invitation_id, secret_key=SECRET_KEY, by=None, public_url="http://localhost", now=r.now)
    return _refusal(act, "resent")


def expire(engine, r: Round) -> str:
    """The worker's pass at the end of the frame."""
    with session_scope(engine, write=True) as session:
        return {0: "not expired", 1: "expired"}[invitations.expire_invitations(session, r.over)]


def cancel_meeting(engine, r: Round) -> str:
    """A scheduler cancels the booked meeting."""
    def act():
        with session_scope(engine, write=True) as session:
            booking.cancel_meeting(session, r.meeting_id, secret_key=SECRET_KEY, by=None, now=r.now)
    return _refusal(act, "cancelled")


def hold(engine, r: Round) -> str:
    """The customer opens the confirmation page of ``r.start``: the time is held for them."""
    with session_scope(engine, write=True) as session:
        return booking.hold_slot(session, r.invitation_id, r.start, settings=SETTINGS, now=r.now).outcome


def rival_hold(engine, r: Round) -> str:
    """Another customer opens the confirmation page of the same time."""
    with session_scope(engine, write=True) as session:
        return booking.hold_slot(session, r.rival_id, r.start, settings=SETTINGS, now=r.now).outcome


def _hold_and_confirm(engine, invitation_id: int, r: Round) -> str:
    with session_scope(engine, write=True) as session:
        held = booking.hold_slot(session, invitation_id, r.start, settings=SETTINGS, now=r.now).outcome
    if held != "held":
        return f"hold {held}"
    with session_scope(engine, write=True) as session:
        return booking.confirm_slot(session, invitation_id, r.start, secret_key=SECRET_KEY, settings=SETTINGS,
                                    now=r.now + dt.timedelta(seconds=30)).outcome


def hold_and_confirm(engine, r: Round) -> str:
    """The customer opens the time's page (hold), then confirms it."""
    return _hold_and_confirm(engine, r.invitation_id, r)


def rival_hold_and_confirm(engine, r: Round) -> str:
    """Another customer does the same for the same time."""
    return _hold_and_confirm(engine, r.rival_id, r)


def rival_confirm_other_time(engine, r: Round) -> str:
    """Another customer books 14:00, the time a meeting is being moved to."""
    with session_scope(engine, write=True) as session:
        return booking.confirm_slot(session, r.rival_id, r.other_time, secret_key=SECRET_KEY, settings=SETTINGS,
                                    now=r.now).outcome


def reschedule(engine, r: Round) -> str:
    """The customer moves the booked meeting to 14:00."""
    def act():
        with session_scope(engine, write=True) as session:
            return booking.reschedule_meeting(session, r.meeting_id, r.other_time, secret_key=SECRET_KEY,
                                              settings=SETTINGS, now=r.now).outcome
    try:
        return act()
    except TransitionRefused as refused:
        return f"refused: {refused.state}"


ADMIN_EMAIL = "root@example.com"
"""The admin :func:`reschedule_by_scheduler` acts as (the test adds them: the world has no admin)."""


def reschedule_by_scheduler(engine, r: Round) -> str:
    """An admin moves the booked meeting to 14:00 (the API's and the customer's one move)."""
    def act():
        with session_scope(engine, write=True) as session:
            admin = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
            return booking.reschedule_meeting(session, r.meeting_id, r.other_time, secret_key=SECRET_KEY,
                                              settings=SETTINGS, now=r.now, by=admin).outcome
    try:
        return act()
    except TransitionRefused as refused:
        return f"refused: {refused.state}"


def cancel_by_customer(engine, r: Round) -> str:
    """The customer cancels the booked meeting through their manage link."""
    def act():
        with session_scope(engine, write=True) as session:
            booking.cancel_by_customer(session, r.meeting_id, secret_key=SECRET_KEY, reason="Clash",
                                       settings=SETTINGS, now=r.now)
    return _refusal(act, "cancelled")


def rebook(engine, r: Round) -> str:
    """The customer picks another time (14:00) for the meeting the scheduler cancelled."""
    def act():
        with session_scope(engine, write=True) as session:
            return booking.rebook_meeting(session, r.meeting_id, r.other_time, secret_key=SECRET_KEY,
                                          settings=SETTINGS, now=r.now).outcome
    try:
        return act()
    except TransitionRefused as refused:
        return f"refused: {refused.state}"


# --- the harness -------------------------------------------------------------------------------

Side = Callable[[object, Round], str]


def _run_side(database_url: str, side: Side, world: list[Round], position: int, barrier, put) -> None:
    if database_url.startswith("postgresql"):
        # A distinct URL: no pooled connection of the parent process is ever reused.
        database_url += ("&" if "?" in database_url else "?") + f"application_name=slotwise_race_{position}"
    engine = make_engine(database_url)
    rng = random.Random(position)
    try:
        for r in world:
            barrier.wait(timeout=60)
            if r.index % 2 == position:
                time.sleep(rng.random() * HEAD_START)
            try:
                outcome = side(engine, r)
            except Exception as exc:  # noqa: BLE001 - the test reports it as a leaked exception
                outcome = f"error: {type(exc).__name__}: {exc}"
            put((position, r.index, outcome))
    finally:
        engine.dispose()


def race(database_url: str, world: list[Round], left: Side, right: Side) -> list[tuple[str, str]]:
    """Run ``left`` and ``right`` against each other on every round; their outcomes, by round."""
    sides = (left, right)
    if database_url.startswith("sqlite"):
        barrier = threading.Barrier(2)
        found: list[tuple[int, int, str]] = []
        threads = [
            threading.Thread(target=_run_side, args=(database_url, side, world, i, barrier, found.append))
            for i, side in enumerate(sides)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
            assert not thread.is_alive(), "a racing thread hangs"
    else:
        # fork: the sides start at once with the modules already imported.
        ctx = multiprocessing.get_context("fork")
        barrier = ctx.Barrier(2)
        queue = ctx.Queue()
        processes = [
            ctx.Process(target=_run_side, args=(database_url, side, world, i, barrier, queue.put))
            for i, side in enumerate(sides)
        ]
        for process in processes:
            process.start()
        found = [queue.get(timeout=120) for _ in range(2 * len(world))]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0, f"a racing process ended with {process.exitcode}"
    outcomes = {(position, index): outcome for position, index, outcome in found}
    return [(outcomes[0, r.index], outcomes[1, r.index]) for r in world]


def invariants(database_url: str, now: dt.datetime | None = None) -> list[str]:
    """What :func:`check_invariants` finds in the database now (or at ``now``), as lines."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            return [str(v) for v in check_invariants(session, now)]
    finally:
        engine.dispose()


# --- team scheduling: two customers of one pool (or one limited member) confirm at once ----------


@dataclass(frozen=True)
class PairRound:
    """Two invitations of one day that share a pool or a limited member.

    ``index`` and ``now`` as in :class:`Round`; the left side confirms ``invitation_id`` at
    ``start`` (10:00 Berlin), the right side ``other_id`` at ``other_start`` (14:00), so the two
    meetings never overlap: only the policy's turn or the limit can part them.
    """

    index: int
    invitation_id: int
    other_id: int
    now: dt.datetime
    start: dt.datetime
    other_start: dt.datetime
    day: dt.date


def make_pair_world(database_url: str, rounds: int, *, policy: str | None = None,
                    limit_per_day: int | None = None) -> tuple[list[PairRound], dict[str, int]]:
    """The organisation and two invitations per round, on the round's own weekday.

    With ``policy`` both invitations ask for the Sales pool (Cleo, Dan) under that policy;
    with ``limit_per_day`` both require Ana, who may take that many meetings a day. Returns the
    rounds and the ids of the people (``ana``, ``cleo``, ``dan``).
    """
    from booking_service.store.models import ResourcePool, TeamMember

    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = make_org(session)
            if policy is not None:
                session.get(ResourcePool, org.pool).policy = policy
            if limit_per_day is not None:
                session.get(TeamMember, org.ana).max_meetings_day = limit_per_day
            session.commit()
        now = dt.datetime.now(dt.UTC)
        days = _weekdays(next_monday(now), rounds)
        team = {"members": (), "pools": (org.pool,)} if policy is not None else {"members": (org.ana,)}
        world = []
        with session_scope(engine, write=True) as session:
            for i, day in enumerate(days):
                ids = [
                    invitations.create_invitation(
                        session, draft(org, now, frame_start=day, frame_end=day, **team), secret_key=SECRET_KEY,
                        by=None, public_url="http://localhost", now=now,
                    ).invitation.id
                    for _ in range(2)
                ]
                world.append(PairRound(i, ids[0], ids[1], berlin(day, 8), berlin(day, 10), berlin(day, 14), day))
        return world, {"ana": org.ana, "cleo": org.cleo, "dan": org.dan}
    finally:
        engine.dispose()


def confirm_first(engine, r: PairRound) -> str:
    """The first customer confirms 10:00."""
    with session_scope(engine, write=True) as session:
        return booking.confirm_slot(session, r.invitation_id, r.start, secret_key=SECRET_KEY, now=r.now).outcome


def confirm_second(engine, r: PairRound) -> str:
    """The second customer confirms 14:00 the same day."""
    with session_scope(engine, write=True) as session:
        return booking.confirm_slot(session, r.other_id, r.other_start, secret_key=SECRET_KEY, now=r.now).outcome
