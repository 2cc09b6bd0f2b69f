"""The lifecycle of invitations and meetings: one state machine for every change of state.

An invitation is ``active`` until it is booked (``scheduled``), withdrawn (``cancelled``) or its
frame ends (``expired``); a meeting is ``confirmed`` until it is ``cancelled``. An active
invitation whose frame has ended reads as expired before anything records it
(:func:`effective_status`).

Every change of state is one row of :data:`TRANSITIONS` (the same table is in
``docs/lifecycle.md``) and goes through :func:`enter`, which

1. on SQLite, checks that the transaction holds the write lock
   (:func:`booking_service.store.db.write_lock`: ``session_scope(engine, write=True)``, so a
   waiting writer waits at ``BEGIN`` instead of failing with "database is locked" later);
2. locks the rows in one order: the invitation row, then its meeting row (PostgreSQL
   ``SELECT ... FOR UPDATE``), and hands back a :class:`Locked` whose
   :meth:`Locked.lock_resources` locks resources last, by id;
3. re-reads their state under those locks and refuses, with :class:`TransitionRefused` and a
   message a person can act on, every state the row does not list.

:func:`finish` then moves the locked rows to the row's target states and queues the
transition's webhook event (:data:`booking_service.services.webhooks.TRANSITION_EVENTS`) in the
same transaction. The concept modules
(:mod:`~booking_service.services.invitations`, :mod:`~booking_service.services.booking`) do the
concrete work in between (mails, calendar writes, audit, assignment). A new transition is one
row in the table, its refusal messages, and one function in its concept module that calls
:func:`enter` and :func:`finish`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from ..core.i18n import N_, Sentence
from ..store.db import write_lock
from ..store.models import Invitation, Meeting, Resource, ResourcePool, utcnow
from . import webhooks
from .availability import InvitationLike

# Every booking page and the booking itself need the team and the rooms: loaded with the
# invitation in one query (the collections are small, so the joined rows stay few).
TEAM_AND_ROOMS = (
    joinedload(Invitation.members),
    joinedload(Invitation.pools).joinedload(ResourcePool.members),
    joinedload(Invitation.rooms),
)
# SQLite runs a joined load of a many-to-many collection by first joining its whole association
# table, so a lock taken with TEAM_AND_ROOMS would take longer the more invitations there are;
# there the same collections are read by a query each, on the association tables' keys.
_SQLITE_LOADS = {
    id(joined): separate
    for joined, separate in zip(TEAM_AND_ROOMS, (
        selectinload(Invitation.members),
        selectinload(Invitation.pools).selectinload(ResourcePool.members),
        selectinload(Invitation.rooms),
    ), strict=True)
}

NONE = "none"
"""The state of a row that does not exist (yet): an invitation before it is created, no meeting."""

Lock = Literal["invitation", "meeting", "resources"]
LOCK_ORDER: tuple[Lock, ...] = ("invitation", "meeting", "resources")
"""Every transition takes its locks in this order (a subset of it), so two never deadlock."""


@dataclass(frozen=True)
class Transition:
    """One allowed change of state.

    Attributes
    ----------
    name : str
        What callers pass to :func:`enter` (``"cancel_invitation"`` ...).
    subject : {"invitation", "meeting"}
        Whose state a refusal speaks of.
    invitation, meeting : tuple of (str, str)
        The state the invitation and its meeting must be in, and the state they are left in
        (:data:`NONE`: no such row).
    frame : {"open", "over", "any"}
        Whether the invitation's frame must still be open, must be over, or does not matter.
    locks : tuple of str
        The row locks taken, in :data:`LOCK_ORDER` (on SQLite the write transaction covers all).
    """

    name: str
    subject: Literal["invitation", "meeting"]
    invitation: tuple[str, str]
    meeting: tuple[str, str]
    frame: Literal["open", "over", "any"]
    locks: tuple[Lock, ...]

    def cells(self) -> tuple[str, ...]:
        """The row as ``docs/lifecycle.md`` writes it."""
        return (
            self.name,
            f"{self.invitation[0]} → {self.invitation[1]}",
            f"{self.meeting[0]} → {self.meeting[1]}",
            self.frame,
            ", ".join(self.locks) or "—",
        )


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("create", "invitation", (NONE, "active"), (NONE, NONE), "any", ()),
        Transition("resend", "invitation", ("active", "active"), (NONE, NONE), "open", ("invitation",)),
        Transition("cancel_invitation", "invitation", ("active", "cancelled"), (NONE, NONE), "open", ("invitation",)),
        Transition("expire", "invitation", ("active", "expired"), (NONE, NONE), "over", ("invitation",)),
        Transition("confirm", "invitation", ("active", "scheduled"), (NONE, "confirmed"), "open",
                   ("invitation", "resources")),
        Transition("cancel_meeting", "meeting", ("scheduled", "cancelled"), ("confirmed", "cancelled"), "any",
                   ("invitation", "meeting")),
        Transition("resend_confirmation", "meeting", ("scheduled", "scheduled"), ("confirmed", "confirmed"), "any",
                   ("invitation", "meeting")),
        Transition("hold", "invitation", ("active", "active"), (NONE, NONE), "open", ("invitation", "resources")),
        Transition("reschedule", "meeting", ("scheduled", "scheduled"), ("confirmed", "confirmed"), "open",
                   ("invitation", "meeting", "resources")),
        Transition("cancel_by_customer", "meeting", ("scheduled", "cancelled"), ("confirmed", "cancelled"), "any",
                   ("invitation", "meeting")),
        Transition("rebook", "meeting", ("cancelled", "scheduled"), ("cancelled", "confirmed"), "open",
                   ("invitation", "meeting", "resources")),
    )
}
"""Every allowed change of state; :func:`enter` refuses anything else."""

TABLE_HEADER = ("transition", "invitation", "meeting", "frame", "locks")

# What a person reads when the state found under the lock does not allow the transition,
# keyed by (transition, state of its subject). Missing combinations get a general sentence.
# Those a customer can meet on their manage pages (reschedule, cancel_by_customer, rebook) are
# marked with N_: the pages show them in the customer's language (refusal_sentence).
REFUSALS: dict[tuple[str, str], str] = {
    ("resend", "scheduled"): "This invitation was booked a moment ago, so there is nothing to resend; "
                             "its meeting is under Meetings.",
    ("resend", "cancelled"): "This invitation was cancelled, so it cannot be resent; create a new invitation instead.",
    ("resend", "expired"): "This invitation has expired (its time frame is over), so it cannot be resent; "
                           "create a new invitation with a later time frame.",
    ("cancel_invitation", "scheduled"): "This invitation was booked a moment ago; cancel the meeting instead.",
    ("cancel_invitation", "cancelled"): "This invitation is already cancelled.",
    ("cancel_invitation", "expired"): "This invitation has expired (its time frame is over); there is nothing to cancel.",
    ("expire", "active"): "This invitation's time frame is not over yet, so it does not expire.",
    ("confirm", "scheduled"): "This invitation is already booked.",
    ("confirm", "cancelled"): "This invitation was cancelled, so it can no longer be booked.",
    ("confirm", "expired"): "This invitation has expired (its time frame is over), so it can no longer be booked.",
    ("cancel_meeting", "cancelled"): "This meeting is already cancelled.",
    ("resend_confirmation", "cancelled"): "This meeting was cancelled, so its confirmation is not sent again; "
                                          "the customer has been sent the cancellation.",
    ("hold", "scheduled"): "This invitation is already booked.",
    ("hold", "cancelled"): "This invitation was cancelled, so it can no longer be booked.",
    ("hold", "expired"): "This invitation has expired (its time frame is over), so it can no longer be booked.",
    ("reschedule", "cancelled"): N_("This meeting was cancelled, so it can no longer be moved."),
    ("reschedule", "confirmed"): N_("This invitation's time frame is over, so there is no other time to move it to."),
    ("rebook", "cancelled"): N_("This invitation's time frame is over, so there is no other time to pick."),
    ("cancel_by_customer", "cancelled"): N_("This meeting is already cancelled."),
    ("rebook", "confirmed"): N_("This meeting is booked already; use its reschedule link to move it."),
}
LINK_REPLACED = "This link was replaced by a newer one; use the link in the most recent email."


class TransitionRefused(ValueError):
    """The state found under the lock does not allow the transition; the message says what to do.

    Attributes
    ----------
    transition : str
        The refused transition.
    state : str
        The state of its subject as found (``"scheduled"``, ``"cancelled"`` ...), ``"missing"``
        for a row that does not exist, ``"replaced"`` for a link a resend has replaced.
    sentence : Sentence
        What to tell the person, in their language (``sentence.text()``); ``str()`` of the
        error is its English.
    """

    def __init__(self, transition: str, state: str, message: str | Sentence) -> None:
        self.sentence = message if isinstance(message, Sentence) else Sentence(message)
        super().__init__(str(self.sentence))
        self.transition = transition
        self.state = state


class InvitationStateError(TransitionRefused):
    """The invitation is not in a state that allows the action (e.g. resending a scheduled one)."""


class MeetingStateError(TransitionRefused):
    """The meeting is not in a state that allows the action (e.g. cancelling it twice)."""


@dataclass
class Locked:
    """The rows of one transition, locked and read fresh (:func:`enter`'s result).

    Attributes
    ----------
    transition : Transition
    invitation : Invitation or None
        ``None`` only for ``create``.
    meeting : Meeting or None
    now : datetime.datetime
        The instant the state was checked at.
    session : Session
        The transaction holding the locks.
    """

    transition: Transition
    invitation: Invitation | None
    meeting: Meeting | None
    now: dt.datetime
    session: Session

    def lock_resources(self, ids: Iterable[int]) -> None:
        """Lock resource rows, in id order, after the invitation and meeting (PostgreSQL row locks).

        Two bookings that share resources then queue up instead of deadlocking.
        """
        if "resources" not in self.transition.locks:
            raise RuntimeError(f"transition {self.transition.name!r} takes no resource locks; add them to its row")
        ids = sorted(set(ids))
        if ids:
            self.session.execute(select(Resource.id).where(Resource.id.in_(ids)).order_by(Resource.id).with_for_update())


def frame_end_instant(invitation: InvitationLike) -> dt.datetime:
    """The end of the frame: 24:00 of its last date in its zone, as UTC."""
    end = dt.datetime.combine(invitation.frame_end + dt.timedelta(days=1), dt.time(), ZoneInfo(invitation.zone))
    return end.astimezone(dt.UTC)


def effective_status(invitation: Invitation, now: dt.datetime | None = None) -> str:
    """The status the customer sees: an active invitation whose frame has ended is ``expired``."""
    if invitation.status == "active" and frame_end_instant(invitation) <= (now or utcnow()):
        return "expired"
    return invitation.status


MISSING = {
    "invitation": N_("This invitation no longer exists; reload the page."),
    "meeting": N_("This meeting no longer exists; reload the page."),
}


def refusal_sentence(transition: str, state: str) -> Sentence:
    """The sentence a person reads when ``transition`` meets ``state``, in the reader's language.

    Every one a customer can meet is in the catalogues; the general sentence for a combination
    the table does not list names states and transitions, and stays English (the dashboard's).
    """
    message = REFUSALS.get((transition, state))
    if message is not None:
        return Sentence(message)
    subject = TRANSITIONS[transition].subject
    if state == "missing":
        return Sentence(MISSING[subject])
    return Sentence(f"This {subject} is {state}, so it cannot be changed this way ({transition.replace('_', ' ')}).")


def refusal(transition: str, state: str) -> str:
    """The sentence a person reads when ``transition`` meets ``state``, in English."""
    return str(refusal_sentence(transition, state))


def _refuse(transition: Transition, state: str, message: str | None = None) -> TransitionRefused:
    error = InvitationStateError if transition.subject == "invitation" else MeetingStateError
    return error(transition.name, state, message or refusal_sentence(transition.name, state))


def _allowed(transition: Transition, invitation: Invitation | None, meeting: Meeting | None, now: dt.datetime) -> bool:
    invitation_state = invitation.status if invitation is not None else NONE
    meeting_state = meeting.status if meeting is not None else NONE
    if (invitation_state, meeting_state) != (transition.invitation[0], transition.meeting[0]):
        return False
    if transition.frame == "any" or invitation is None:
        return True
    over = frame_end_instant(invitation) <= now
    return over if transition.frame == "over" else not over


def _lock_invitation(
    session: Session, invitation_id: int, link_hash: str | None, load: tuple[ORMOption, ...]
) -> Invitation | None:
    if session.get_bind().dialect.name == "sqlite":
        load = tuple(_SQLITE_LOADS.get(id(option), option) for option in load)
    query = (
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .options(*load)
        .with_for_update(of=Invitation)
        .execution_options(populate_existing=True)
    )
    if link_hash is not None:
        # On PostgreSQL a row whose token a resend changed while this statement waited for its
        # lock is re-checked against the new token and drops out.
        query = query.where(Invitation.token_hash == link_hash)
    return session.scalars(query).unique().one_or_none()


def _meeting_of(session: Session, invitation_id: int, lock: bool) -> Meeting | None:
    # Unlocked, the read is still current: a meeting is created and changed only under its
    # invitation's lock, which the caller holds.
    query = select(Meeting).where(Meeting.invitation_id == invitation_id).execution_options(populate_existing=True)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def enter(
    session: Session,
    transition: str,
    *,
    invitation_id: int | None = None,
    meeting_id: int | None = None,
    link_hash: str | None = None,
    now: dt.datetime | None = None,
    load: tuple[ORMOption, ...] = (),
    require_write_lock: bool = True,
) -> Locked:
    """Lock the rows of ``transition``, re-read their state, and refuse what the table does not allow.

    Parameters
    ----------
    session : Session
        The caller's transaction; on SQLite from ``session_scope(engine, write=True)``.
    transition : str
        A key of :data:`TRANSITIONS`.
    invitation_id, meeting_id : int, optional
        The row acted on: the invitation, or for meeting transitions the meeting (its
        invitation is locked first all the same). Neither for ``create``.
    link_hash : str, optional
        The hash of the link the customer used: refused as ``"replaced"`` when a resend has
        given the invitation a new link in the meantime.
    now : datetime.datetime, optional
        The instant the frame is checked against (default: now).
    load : tuple of ORM options
        Loader options for the invitation query (what the caller reads next, in one query).
    require_write_lock : bool
        On SQLite, refuse a transaction not opened with ``write=True``. Pass False only for a
        transaction that has already written (so it holds SQLite's write lock), such as the
        demo seed's.

    Returns
    -------
    Locked
        The locked rows; call :func:`finish` once the concrete work is done.

    Raises
    ------
    TransitionRefused
        :class:`InvitationStateError` or :class:`MeetingStateError`: the state found does not
        allow the transition (or the row is missing); nothing was changed.
    RuntimeError
        On SQLite, when the transaction does not hold the write lock.
    """
    rule = TRANSITIONS[transition]
    now = now or utcnow()
    if require_write_lock:
        write_lock(session)
    if rule.invitation[0] == NONE:
        return Locked(rule, None, None, now, session)
    if meeting_id is not None and invitation_id is None:
        # A meeting's invitation never changes, so reading it unlocked is safe; locking it
        # first keeps the order invitation, then meeting.
        invitation_id = session.scalar(select(Meeting.invitation_id).where(Meeting.id == meeting_id))
        if invitation_id is None:
            raise _refuse(rule, "missing")
    if invitation_id is None:
        raise TypeError(f"transition {transition!r} needs invitation_id or meeting_id")
    invitation = _lock_invitation(session, invitation_id, link_hash, load)
    if invitation is None:
        exists = link_hash is not None and session.get(Invitation, invitation_id) is not None
        raise _refuse(rule, "replaced", LINK_REPLACED) if exists else _refuse(rule, "missing")
    meeting = _meeting_of(session, invitation.id, lock="meeting" in rule.locks)
    if meeting_id is not None and (meeting is None or meeting.id != meeting_id):
        raise _refuse(rule, "missing")
    if not _allowed(rule, invitation, meeting, now):
        found = effective_status(invitation, now) if rule.subject == "invitation" else (meeting.status if meeting else NONE)
        raise _refuse(rule, found)
    return Locked(rule, invitation, meeting, now, session)


def finish(
    locked: Locked, *, invitation: Invitation | None = None, meeting: Meeting | None = None, actor: str | None = None
) -> None:
    """Move the rows of a :func:`enter`-ed transition to the states its row names.

    ``invitation`` is the new invitation of ``create``, ``meeting`` the new meeting of
    ``confirm``; otherwise the locked rows are changed. ``actor`` (``"customer"``,
    ``"scheduler"``, ``"system"``) is who acted, for a transition more than one kind of person
    may make (a scheduler moves a meeting as its customer may); default: the transition's own
    (:data:`booking_service.services.webhooks.TRANSITION_ACTORS`).
    """
    rule, now = locked.transition, locked.now
    invitation = invitation if invitation is not None else locked.invitation
    meeting = meeting if meeting is not None else locked.meeting
    if invitation is None or (meeting is None) != (rule.meeting[1] == NONE):
        raise RuntimeError(f"transition {rule.name!r} finished without the rows its row names")
    if invitation.status != rule.invitation[1]:
        invitation.status = rule.invitation[1]
        invitation.updated_at = now
        if invitation.status == "cancelled":
            invitation.cancelled_at = now
    if meeting is not None and meeting.status != rule.meeting[1]:
        meeting.status = rule.meeting[1]
        if meeting.status == "cancelled":
            meeting.cancelled_at = now
    # What leaves the system is a row first: the transition's webhook event is queued in this
    # same transaction, so it is sent exactly when the change commits.
    webhooks.emit_transition(locked.session, rule.name, invitation, meeting, now,
                             status=effective_status(invitation, now), actor=actor)


def table_rows() -> list[tuple[str, ...]]:
    """:data:`TRANSITIONS` as the rows of the table in ``docs/lifecycle.md`` (header first)."""
    return [TABLE_HEADER, *(t.cells() for t in TRANSITIONS.values())]
