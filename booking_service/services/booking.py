"""Booking: confirm a slot of an invitation, and cancel a meeting.

No double booking, ever (DESIGN.md "Persistence"). Confirming and cancelling are transitions of
the state machine in :mod:`booking_service.services.lifecycle`, which takes the locks before
anything is re-checked:

- SQLite: the caller opens the transaction with ``session_scope(engine, write=True)``
  (``BEGIN IMMEDIATE``), so the whole read-check-write sequence holds the database write lock;
  :func:`booking_service.store.db.write_lock` refuses a transaction opened any other way.
- PostgreSQL: ``SELECT ... FOR UPDATE`` on the invitation row (then, to cancel, its meeting),
  then on every resource row the invitation may use, in id order (two bookings that share
  resources queue up instead of deadlocking). The exclusion constraint on reservations is the
  backstop: an overlap that got past the check raises ``IntegrityError`` inside a savepoint and
  becomes "no longer available".

The re-check is the planner's ``check_slot`` on busy time freshly read for the involved
resources (:func:`booking_service.services.availability.check_slot_for`): one rule, one place.

Assignment policy
-----------------
When a slot is booked the concrete people and room are chosen among those the check found free,
by each pool's policy (pooled, strict round robin, weighted; a panel takes ``panel_size``
members) and, for the room, the smallest free room that seats ``min_capacity``:
:mod:`booking_service.services.assignment`. The pools' state (rotation, shares) and the
per-person limits are read after the resource locks, so concurrent bookings take turns.

Every chosen resource gets one reservation holding ``[start - buffer_before, end + buffer_after)``
(a member who is both required and in a pool is reserved once).

Confirming also marks the invitation scheduled, queues the confirmation mail to the customer
(with the ``.ics`` invite attached when the scheduler's settings say so) and a notification to
each team member, and queues calendar write-back, all in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from ..core import i18n
from ..core.config import Settings
from ..core.i18n import N_, Sentence
from ..store.models import (
    Invitation,
    Meeting,
    Reservation,
    Resource,
    Room,
    SlotHold,
    TeamMember,
    User,
    utcnow,
)
from . import assignment, audit, availability, lifecycle
from . import invites as ics
from .calendar_writes import queue_meeting_writeback, queue_move_writeback
from .holds import release_holds
from .invitations import hash_token, manage_link, manage_token_for, reply_to
from .lifecycle import TEAM_AND_ROOMS, MeetingStateError, TransitionRefused
from .outbox import queue_mail, render_mail, supersede_invitation_mail, supersede_meeting_mail
from .permissions import require_meeting

if TYPE_CHECKING:
    import planner

Outcome = Literal["booked", "already_scheduled", "unavailable", "closed", "replaced", "held", "moved"]
UNAVAILABLE_MESSAGE = N_("That time is no longer available, please pick another")


class BookingError(ValueError):
    """A booking cannot be made at all (unknown invitation, unknown meeting ...).

    A meeting whose state does not allow an action is refused with
    :class:`~booking_service.services.lifecycle.MeetingStateError` instead.
    """


@dataclass(frozen=True)
class BookingResult:
    """What :func:`confirm_slot` did.

    Attributes
    ----------
    outcome : {"booked", "already_scheduled", "unavailable", "closed", "replaced"}
        ``booked``: this call created the meeting. ``already_scheduled``: the invitation was
        booked before (a double submit); ``meeting`` is that booking. ``unavailable``: the slot
        is gone (taken, busy, too late). ``closed``: the invitation is cancelled or expired.
        ``replaced``: the link used was replaced by a resend meanwhile.
    meeting : Meeting or None
    reason : str or None
        Why the slot is unavailable (from the planner's check), for logs.
    """

    outcome: Outcome
    invitation: Invitation
    meeting: Meeting | None = None
    reason: str | None = None


def _in_utc(check: planner.SlotCheck) -> tuple[dt.datetime, dt.datetime]:
    """The checked slot's start and end as UTC datetimes, as the tables store them."""
    return (pd.Timestamp(check.start).to_pydatetime().astimezone(dt.UTC),
            pd.Timestamp(check.end).to_pydatetime().astimezone(dt.UTC))


def confirm_slot(
    session: Session,
    invitation_id: int,
    start: dt.datetime,
    *,
    secret_key: str,
    customer_zone: str | None = None,
    link: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    link_hash: str | None = None,
    manage_token: str | None = None,
    require_write_lock: bool = True,
    language: str | None = None,
) -> BookingResult:
    """Book ``start`` for an invitation, race-free, in the caller's (locked) transaction.

    Parameters
    ----------
    session : Session
        On SQLite it must come from ``session_scope(engine, write=True)``. The caller commits.
    invitation_id : int
        The invitation being booked.
    start : datetime.datetime
        The chosen start, tz-aware.
    secret_key : str
        The installation's ``SECRET_KEY``: the queued mails are encrypted with it until sent.
    customer_zone : str, optional
        The zone the customer read times in (kept on the meeting for its mails).
    language : str, optional
        The language the customer booked in (kept on the meeting for its mails); default: the
        invitation's.
    link : str, optional
        The customer's booking link, put in the confirmation mail.
    settings : Settings, optional
        For the mail sender address (organizer fallback).
    now : datetime.datetime, optional
        The instant of booking (default: now).
    link_hash : str, optional
        The hash of the link token the customer booked with
        (:func:`booking_service.services.invitations.hash_token`): when a resend has replaced the
        link meanwhile, the outcome is ``replaced`` and nothing is booked.
    require_write_lock : bool
        On SQLite, refuse a transaction not opened with ``write=True``. Pass False only for a
        transaction that has already written (so it holds SQLite's write lock), such as the
        demo seed's; PostgreSQL row locks are taken either way.

    Returns
    -------
    BookingResult
        ``booked`` with the new meeting, or why not.

    Raises
    ------
    BookingError
        When the invitation does not exist.
    RuntimeError
        On SQLite, when the transaction does not hold the write lock.
    """
    now = now or utcnow()
    _check_aware(start)
    try:
        # The invitation is read with everything the booking reads next, in one statement:
        # its team and rooms, and its creator (for the mail settings).
        locked = lifecycle.enter(
            session, "confirm", invitation_id=invitation_id, now=now, require_write_lock=require_write_lock,
            link_hash=link_hash,
            load=(*TEAM_AND_ROOMS, joinedload(Invitation.created_by)),
        )
    except TransitionRefused as refused:
        return _refused(session, invitation_id, refused)
    invitation = locked.invitation
    manage_token = manage_token or manage_token_for(secret_key, invitation.token_hash)

    request = availability.slot_request(invitation, now)
    locked.lock_resources(availability.involved_ids(request))
    # Whose turn it is, the shares and the limits, as they are under the locks.
    request, plans = assignment.request_under_locks(invitation, now)
    check = availability.check_slot_for(session, invitation, start, request=request)
    if not check.available:
        return BookingResult("unavailable", invitation, reason=check.reason)

    chosen = assignment.choose_assignment(session, invitation, check, plans, request.frame)
    member_ids, room_id = chosen.member_ids, chosen.room_id
    start_utc, end_utc = _in_utc(check)
    hold_start = start_utc - dt.timedelta(minutes=invitation.buffer_before_minutes)
    hold_end = end_utc + dt.timedelta(minutes=invitation.buffer_after_minutes)
    meeting = Meeting(
        invitation_id=invitation.id,
        created_by_id=invitation.created_by_id,
        start=start_utc,
        end=end_utc,
        status=locked.transition.meeting[1],
        uid=f"{uuid.uuid4()}@slotwise",
        sequence=0,
        customer_name=invitation.customer_name,
        customer_email=invitation.customer_email,
        customer_zone=customer_zone or invitation.customer_zone or invitation.zone,
        language=language if i18n.is_language(language) else invitation.language,
        created_at=now,
        manage_token_hash=hash_token(manage_token),
        reschedule_count=0,
    )
    meeting.reservations = [
        Reservation(resource_id=rid, start=hold_start, end=hold_end)
        for rid in [*member_ids, *([room_id] if room_id is not None else [])]
    ]
    try:
        with session.begin_nested():
            session.add(meeting)
            session.flush()
    except IntegrityError:
        # The exclusion constraint (or the one-meeting-per-invitation rule) caught a race the
        # locks should have prevented; the savepoint is rolled back and nothing was booked.
        session.expire(invitation)
        if session.scalars(select(Meeting.id).where(Meeting.invitation_id == invitation.id)).first():
            return BookingResult("already_scheduled", invitation, invitation.meeting)
        return BookingResult("unavailable", invitation, reason="overlaps a reservation made at the same time")

    lifecycle.finish(locked, meeting=meeting)
    invitation.meeting = meeting
    assignment.record(session, meeting, chosen, now)
    supersede_invitation_mail(session, invitation.id)
    # The reserved people and room are among those loaded with the invitation: no query.
    loaded = {r.id: r for r in (*invitation.members, *(m for p in invitation.pools for m in p.members))}
    members = sorted((loaded[i] for i in member_ids), key=lambda m: m.id)
    room = next((r for r in invitation.rooms if r.id == room_id), None)
    release_holds(session, invitation.id)
    manage = manage_link((settings or Settings()).public_url, manage_token)
    _queue_booking_mail(session, invitation, meeting, members, room, link=link, settings=settings,
                        secret_key=secret_key, now=now, manage=manage)
    _queue_reminders(session, invitation, meeting, members, room, settings=settings, secret_key=secret_key,
                     manage=manage, now=now)
    _queue_writeback(session, meeting, "put", now)
    return BookingResult("booked", invitation, meeting)


def _check_aware(start: dt.datetime) -> None:
    if start.utcoffset() is None:  # no zone, or one that gives no offset
        raise ValueError(f"start {start!r} is naive; pass a tz-aware instant")


def _refused(session: Session, invitation_id: int, refused: TransitionRefused) -> BookingResult:
    """The outcome of a confirmation the state machine refused (the invitation, read as it is)."""
    if refused.state == "missing":
        raise BookingError(f"invitation {invitation_id} does not exist") from None
    invitation = session.get(Invitation, invitation_id)
    if refused.state == "scheduled":
        return BookingResult("already_scheduled", invitation, invitation.meeting)
    if refused.state == "replaced":
        return BookingResult("replaced", invitation, reason=str(refused))
    return BookingResult("closed", invitation, reason=str(refused))


# --- cancellation -----------------------------------------------------------------------------


def cancel_meeting(
    session: Session,
    meeting_id: int,
    *,
    by: User | None,
    secret_key: str,
    reason: str = "",
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Meeting:
    """Cancel a confirmed meeting: free its reservations, close its invitation, tell everyone.

    The meeting keeps its ``uid``; its ``sequence`` goes up and the cancellation mails carry a
    ``METHOD:CANCEL`` invite, so calendars remove the same entry they added. When the
    invitation's frame still has free times, the customer's mail offers them ("pick another
    time": a fresh manage link whose page books one, :func:`rebook_meeting`).

    ``by`` is the dashboard user cancelling; it must have the meeting in its scope
    (:mod:`booking_service.services.permissions`). ``None`` means the system. Customers cancel
    with :func:`cancel_by_customer`. The cancellation is audited. The mails
    are encrypted with ``secret_key`` (the installation's ``SECRET_KEY``) until they are sent. On
    SQLite the session must come from ``session_scope(engine, write=True)``.

    Raises
    ------
    MeetingStateError
        If the meeting does not exist or, under its lock, is already cancelled (nothing is
        changed).
    booking_service.services.permissions.PermissionDenied
        If ``by`` may not act on this meeting (nothing is changed).
    """
    now = now or utcnow()
    if by is not None:
        require_meeting(session, by, meeting_id, "cancel")
    locked = lifecycle.enter(session, "cancel_meeting", meeting_id=meeting_id, now=now)
    return _cancel(locked, by=by, who="scheduler", reason=reason, settings=settings, secret_key=secret_key)


def cancel_by_customer(
    session: Session,
    meeting_id: int,
    *,
    secret_key: str,
    reason: str = "",
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Meeting:
    """The customer cancels their meeting through their manage link (the caller checked its token).

    Allowed until the policy's cutoff before the start (:func:`change_refusal`); the reason,
    if any, is kept on the meeting and in the audit log (the dashboard's activity shows it).
    Both sides are mailed, calendars are updated, the time is free again. On SQLite the session
    must come from ``session_scope(engine, write=True)``.

    Raises
    ------
    MeetingStateError
        Already cancelled, or :class:`ChangeNotAllowed` outside the policy (the message says
        why and whom to contact); nothing is changed.
    """
    now = now or utcnow()
    settings = settings or Settings()
    reason = _reason(reason)
    locked = lifecycle.enter(session, "cancel_by_customer", meeting_id=meeting_id, now=now)
    why = change_refusal_sentence(locked.invitation, locked.meeting, "cancel", settings, now)
    if why is not None:
        raise ChangeNotAllowed("cancel_by_customer", "policy", why)
    return _cancel(locked, by=None, who="customer", reason=reason, settings=settings, secret_key=secret_key)


MAX_REASON = 1000


def _reason(reason: str) -> str:
    if not isinstance(reason, str):
        raise ValueError(f"the reason must be text, got {type(reason).__name__}")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValueError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}, please shorten it")
    return reason


def _cancel(
    locked: lifecycle.Locked, *, by: User | None, who: str, reason: str, settings: Settings | None, secret_key: str
) -> Meeting:
    session, now = locked.session, locked.now
    meeting, invitation = locked.meeting, locked.invitation
    people, room = _attendees_and_room(session, meeting)
    meeting.sequence += 1
    meeting.cancelled_by = who
    meeting.cancel_reason = reason.strip() or None
    lifecycle.finish(locked)
    assignment.meeting_cancelled(session, meeting, now)
    # Write-back is queued while the reservations still name the resources.
    _queue_writeback(session, meeting, "delete", now)
    meeting.reservations.clear()
    supersede_meeting_mail(session, meeting.id)
    session.flush()
    rebook = None
    if who == "scheduler" and not availability.find_slots_for(session, invitation, now).empty:
        # The times left in the frame are offered on the meeting's manage page.
        token = manage_token_for(secret_key, invitation.token_hash)
        meeting.manage_token_hash = hash_token(token)
        rebook = f"{manage_link((settings or Settings()).public_url, token)}/reschedule"
    invite = meeting_invite(meeting, people, room, settings=settings, method="CANCEL", now=now)
    mail_subject = N_("Cancelled: %(subject)s")
    team = [m.name for m in people]
    contact = scheduler_contact(invitation, settings)
    for position, (name, email, zone) in enumerate(_cancellation_recipients(meeting, people)):
        customer = position == 0
        mail = render_mail(
            "cancellation", mail_subject, language=customer_language(meeting) if customer else None,
            subject=invitation.subject, recipient_name=name,
            start=meeting.start, end=meeting.end, team=team, room=room.name if room is not None else "",
            zone=zone, reason=reason.strip(), by_customer=who == "customer", customer_name=meeting.customer_name,
            rebook_link=rebook if customer else None, contact=contact if customer else "",
        )
        queue_mail(session, kind="cancellation", to=email, mail=mail, ics=invite, secret_key=secret_key,
                   invitation_id=invitation.id, meeting_id=meeting.id, now=now,
                   reply_to=reply_to(invitation) if customer else None)
    audit.record(session, by, "meeting.cancelled", meeting, invitation_id=invitation.id,
                 start=meeting.start, reason=reason.strip(), by_customer=who == "customer", at=now)
    return meeting


# --- the customer's changes: policy, reschedule, rebook ---------------------------------------


class ChangeNotAllowed(MeetingStateError):
    """A customer's change outside the invitation's policy (too late, moved too often).

    The message says why and whom to contact; nothing was changed.
    """


def scheduler_contact(invitation: Invitation, settings: Settings | None = None) -> str:
    """Whom the customer contacts: the scheduler's name and address, else the sender address."""
    creator = invitation.created_by
    if creator is not None and creator.email:
        return f"{creator.name} <{creator.email}>"
    return (settings or Settings()).mail_from


@dataclass(frozen=True)
class ChangePolicy:
    """Until when, and how often, a customer may change their meeting themselves."""

    cutoff_hours: int
    max_reschedules: int


def change_policy(invitation: Invitation, settings: Settings | None = None) -> ChangePolicy:
    """The invitation's policy, its unset parts taken from the installation's defaults."""
    settings = settings or Settings()
    cutoff = invitation.change_cutoff_hours
    most = invitation.max_reschedules
    return ChangePolicy(
        cutoff_hours=settings.change_cutoff_hours if cutoff is None else cutoff,
        max_reschedules=settings.max_reschedules if most is None else most,
    )


CHANGE_ACTIONS = ("reschedule", "cancel")
"""What a customer may do to their meeting on its manage page, within the change policy."""


def change_refusal_sentence(
    invitation: Invitation, meeting: Meeting, action: Literal["reschedule", "cancel"],
    settings: Settings | None = None, now: dt.datetime | None = None,
) -> Sentence | None:
    """Why the customer may not ``action`` the meeting themselves now (to be read in their
    language), or ``None`` when they may."""
    if action not in CHANGE_ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(CHANGE_ACTIONS)}")
    now = now or utcnow()
    policy = change_policy(invitation, settings)
    contact = scheduler_contact(invitation, settings)
    if meeting.start - now < dt.timedelta(hours=policy.cutoff_hours):
        if action == "reschedule":
            return Sentence.gettext("This meeting can be changed online until %(hours)s hours before it starts, so it "
                                    "is too late to reschedule it here. Please contact %(contact)s.",
                                    hours=policy.cutoff_hours, contact=contact)
        return Sentence.gettext("This meeting can be changed online until %(hours)s hours before it starts, so it is "
                                "too late to cancel it here. Please contact %(contact)s.",
                                hours=policy.cutoff_hours, contact=contact)
    if action == "reschedule" and meeting.reschedule_count >= policy.max_reschedules:
        if policy.max_reschedules == 0:
            return Sentence.gettext("This meeting cannot be moved online. Please contact %(contact)s.", contact=contact)
        return Sentence.ngettext(
            "This meeting has been moved once already, the most allowed online. Please contact %(contact)s.",
            "This meeting has been moved %(num)d times already, the most allowed online. Please contact %(contact)s.",
            policy.max_reschedules, contact=contact,
        )
    return None


def change_refusal(
    invitation: Invitation, meeting: Meeting, action: Literal["reschedule", "cancel"],
    settings: Settings | None = None, now: dt.datetime | None = None,
) -> str | None:
    """Why the customer may not ``action`` the meeting themselves now, in the language in use
    (:mod:`booking_service.core.i18n`), or ``None`` when they may."""
    why = change_refusal_sentence(invitation, meeting, action, settings, now)
    return None if why is None else why.text()


def _place(
    locked: lifecycle.Locked, start: dt.datetime
) -> tuple[BookingResult | None, assignment.Assignment | None, dt.datetime, dt.datetime]:
    """Re-check ``start`` for the locked meeting's invitation (its own reservations aside) and assign."""
    session, invitation, meeting, now = locked.session, locked.invitation, locked.meeting, locked.now
    request = availability.slot_request(invitation, now)
    locked.lock_resources(availability.involved_ids(request))
    request, plans = assignment.request_under_locks(invitation, now)
    check = availability.check_slot_for(session, invitation, start, request=request, skip_meeting=meeting.id)
    if not check.available:
        return BookingResult("unavailable", invitation, meeting, reason=check.reason), None, start, start
    chosen = assignment.choose_assignment(session, invitation, check, plans, request.frame)
    start_utc, end_utc = _in_utc(check)
    return None, chosen, start_utc, end_utc


def _reserve(
    session: Session, invitation: Invitation, meeting: Meeting, member_ids: list[int], room_id: int | None,
    start: dt.datetime, end: dt.datetime,
) -> bool:
    """Move the meeting's reservations to ``[start, end)`` (plus buffers) in one savepoint.

    False when the database refused (a race the locks should have prevented): the savepoint is
    rolled back and the meeting is left as it was.
    """
    hold_start = start - dt.timedelta(minutes=invitation.buffer_before_minutes)
    hold_end = end + dt.timedelta(minutes=invitation.buffer_after_minutes)
    try:
        with session.begin_nested():
            meeting.reservations.clear()
            session.flush()  # the old reservations go first: the new ones may overlap them
            meeting.reservations = [
                Reservation(resource_id=rid, start=hold_start, end=hold_end)
                for rid in [*member_ids, *([room_id] if room_id is not None else [])]
            ]
            meeting.start, meeting.end = start, end
            session.flush()
    except IntegrityError:
        session.expire(meeting)
        return False
    return True


def reschedule_meeting(
    session: Session,
    meeting_id: int,
    start: dt.datetime,
    *,
    secret_key: str,
    manage_token: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    by: User | None = None,
) -> BookingResult:
    """Move a meeting to ``start``, in one transaction: the customer (the caller checked the token) or ``by``.

    The new time is re-checked as a booking is (the meeting's own reservations do not block
    it), the old reservations are released and new ones made, the pool member and room chosen
    again by the assignment policy; or nothing changes. The meeting keeps its ``UID``, its
    ``SEQUENCE`` goes up; the customer and each team member get one "moved" mail with the
    updated invite (a member no longer on it gets a cancellation); reminders are queued again
    for the new time; CalDAV calendars are updated (the same event, or removed where the
    member or room changed). ``manage_token`` is the one the customer used, put in the mails'
    links (default: :func:`~booking_service.services.invitations.manage_token_for` the
    invitation).

    ``by`` is a scheduler moving the meeting (the dashboard's user, or an API key's): it must
    have the meeting in its scope (:mod:`booking_service.services.permissions`), and the
    customer's policy (:func:`change_refusal`: the cutoff before the start, the most moves
    online) does not bind it nor counts its move; the mails say the meeting has moved rather
    than that the customer moved it, and the ``meeting.rescheduled`` event says ``"by":
    "scheduler"``.

    Returns
    -------
    BookingResult
        ``moved``, or ``unavailable`` (the old meeting intact; ``reason`` says why).

    Raises
    ------
    MeetingStateError
        Cancelled meanwhile, or :class:`ChangeNotAllowed` outside the customer's policy;
        nothing changed.
    booking_service.services.permissions.PermissionDenied
        If ``by`` may not act on this meeting (nothing is changed).
    """
    now = now or utcnow()
    settings = settings or Settings()
    _check_aware(start)
    if by is not None:
        require_meeting(session, by, meeting_id, "move")
    locked = lifecycle.enter(session, "reschedule", meeting_id=meeting_id, now=now,
                             load=(*TEAM_AND_ROOMS, joinedload(Invitation.created_by)))
    meeting, invitation = locked.meeting, locked.invitation
    by_customer = by is None
    why = change_refusal_sentence(invitation, meeting, "reschedule", settings, now) if by_customer else None
    if why is not None:
        raise ChangeNotAllowed("reschedule", "policy", why)
    if meeting.start == start:  # aware datetimes compare as instants, whatever their zones
        return BookingResult("unavailable", invitation, meeting, reason="that is the meeting's current time")
    refused, chosen, new_start, new_end = _place(locked, start)
    if refused is not None:
        return refused
    old_people, old_room = _attendees_and_room(session, meeting)
    old_start, old_end = meeting.start, meeting.end
    if not _reserve(session, invitation, meeting, chosen.member_ids, chosen.room_id, new_start, new_end):
        return BookingResult("unavailable", invitation, meeting, reason="overlaps a reservation made at the same time")
    assignment.meeting_moved(session, meeting, chosen, now)
    meeting.sequence += 1
    if by_customer:
        # The customer's policy counts their own moves only.
        meeting.reschedule_count += 1
    if manage_token is None:
        manage_token = manage_token_for(secret_key, invitation.token_hash)
        meeting.manage_token_hash = hash_token(manage_token)
    lifecycle.finish(locked, actor="customer" if by_customer else "scheduler")
    # No hold to release: a hold needs an active invitation, and this one is scheduled.
    people, room = _attendees_and_room(session, meeting)
    queue_move_writeback(session, meeting, now=now)
    supersede_meeting_mail(session, meeting.id)
    manage = manage_link(settings.public_url, manage_token)
    _queue_moved_mail(session, invitation, meeting, people, room, old_people, old_room, old_start, old_end,
                      settings=settings, secret_key=secret_key, manage=manage, now=now, by_customer=by_customer)
    _queue_reminders(session, invitation, meeting, people, room, settings=settings, secret_key=secret_key,
                     manage=manage, now=now)
    audit.record(session, by, "meeting.moved", meeting, invitation_id=invitation.id, by_customer=by_customer,
                 start=meeting.start, previous_start=old_start, at=now)
    return BookingResult("moved", invitation, meeting)


def rebook_meeting(
    session: Session,
    meeting_id: int,
    start: dt.datetime,
    *,
    secret_key: str,
    manage_token: str | None = None,
    link: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> BookingResult:
    """The customer picks another time for a meeting the scheduler cancelled ("pick another time").

    Only a meeting cancelled by the scheduler is offered again (a customer who cancelled
    contacts the scheduler). The same meeting row is booked again (same ``UID``, ``SEQUENCE``
    + 1), its invitation scheduled again; confirmations, reminders and calendar writes follow
    as for a first booking.

    Returns
    -------
    BookingResult
        ``booked``, or ``unavailable`` (nothing changed).

    Raises
    ------
    MeetingStateError
        Not cancelled (booked again a moment ago), the frame over, or :class:`ChangeNotAllowed`
        when the customer cancelled it themselves.
    """
    now = now or utcnow()
    settings = settings or Settings()
    _check_aware(start)
    locked = lifecycle.enter(session, "rebook", meeting_id=meeting_id, now=now,
                             load=(*TEAM_AND_ROOMS, joinedload(Invitation.created_by)))
    meeting, invitation = locked.meeting, locked.invitation
    if meeting.cancelled_by != "scheduler":
        raise ChangeNotAllowed("rebook", "policy", Sentence.gettext(
            "You cancelled this meeting, so it is not offered again here. Please contact %(contact)s.",
            contact=scheduler_contact(invitation, settings)))
    refused, chosen, new_start, new_end = _place(locked, start)
    if refused is not None:
        return refused
    if not _reserve(session, invitation, meeting, chosen.member_ids, chosen.room_id, new_start, new_end):
        return BookingResult("unavailable", invitation, meeting, reason="overlaps a reservation made at the same time")
    assignment.record(session, meeting, chosen, now)
    meeting.sequence += 1
    meeting.cancelled_at = meeting.cancelled_by = meeting.cancel_reason = None
    if manage_token is None:
        manage_token = manage_token_for(secret_key, invitation.token_hash)
        meeting.manage_token_hash = hash_token(manage_token)
    lifecycle.finish(locked)
    invitation.cancelled_at = None
    # No hold to release: a hold needs an active invitation, and this one was cancelled with its meeting.
    people, room = _attendees_and_room(session, meeting)
    manage = manage_link(settings.public_url, manage_token)
    _queue_booking_mail(session, invitation, meeting, people, room, link=link, settings=settings,
                        secret_key=secret_key, now=now, manage=manage)
    _queue_reminders(session, invitation, meeting, people, room, settings=settings, secret_key=secret_key,
                     manage=manage, now=now)
    _queue_writeback(session, meeting, "put", now)
    audit.record(session, None, "meeting.rebooked", meeting, invitation_id=invitation.id, start=meeting.start, at=now)
    return BookingResult("booked", invitation, meeting)


def find_meeting_by_manage_token(session: Session, token: str) -> Meeting | None:
    """The meeting a manage link's token opens, or ``None`` (one indexed lookup by hash)."""
    return session.scalars(select(Meeting).where(Meeting.manage_token_hash == hash_token(token[:200]))).one_or_none()


# --- slot holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    """What :func:`hold_slot` did: ``held`` until ``expires_at``, or why not (as :class:`BookingResult`)."""

    outcome: Outcome
    invitation: Invitation
    expires_at: dt.datetime | None = None
    reason: str | None = None


def hold_slot(
    session: Session,
    invitation_id: int,
    start: dt.datetime,
    *,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
    link_hash: str | None = None,
) -> HoldResult:
    """Hold ``start`` for the invitation's customer while they confirm it (``SLOT_HOLD_MINUTES``).

    The slot is re-checked as a booking is (other invitations' live holds count as busy), the
    resources are chosen by the assignment policy and each gets a hold row covering the time a
    reservation would. The invitation's previous hold ends (a customer holds one time). Other
    customers' lists no longer offer the time and their re-check refuses it until the hold
    expires; the holder's confirmation ends it. On SQLite the session must come from
    ``session_scope(engine, write=True)``.

    Returns
    -------
    HoldResult
        ``held``; ``unavailable``; ``already_scheduled``, ``closed`` or ``replaced`` as for
        :func:`confirm_slot`.
    """
    now = now or utcnow()
    settings = settings or Settings()
    _check_aware(start)
    try:
        locked = lifecycle.enter(session, "hold", invitation_id=invitation_id, now=now, link_hash=link_hash,
                                 load=TEAM_AND_ROOMS)
    except TransitionRefused as refused:
        result = _refused(session, invitation_id, refused)
        return HoldResult(result.outcome, result.invitation, reason=result.reason)
    invitation = locked.invitation
    request = availability.slot_request(invitation, now)
    locked.lock_resources(availability.involved_ids(request))
    release_holds(session, invitation.id)
    request, plans = assignment.request_under_locks(invitation, now)
    check = availability.check_slot_for(session, invitation, start, request=request)
    if not check.available:
        return HoldResult("unavailable", invitation, reason=check.reason)
    chosen = assignment.choose_assignment(session, invitation, check, plans, request.frame)
    member_ids, room_id = chosen.member_ids, chosen.room_id
    start_utc, end_utc = _in_utc(check)
    expires = now + dt.timedelta(minutes=settings.slot_hold_minutes)
    session.add_all(
        SlotHold(
            invitation_id=invitation.id, resource_id=rid, slot_start=start_utc,
            start=start_utc - dt.timedelta(minutes=invitation.buffer_before_minutes),
            end=end_utc + dt.timedelta(minutes=invitation.buffer_after_minutes),
            expires_at=expires, created_at=now,
        )
        for rid in [*member_ids, *([room_id] if room_id is not None else [])]
    )
    session.flush()
    lifecycle.finish(locked)
    return HoldResult("held", invitation, expires_at=expires)


def resend_confirmation(
    session: Session,
    meeting_id: int,
    *,
    by: User | None,
    secret_key: str,
    link: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> Meeting:
    """Queue the customer's confirmation mail again, with the same invite (same ``UID``); return the meeting.

    For a customer who lost the first mail: the same words, invite and reschedule and cancel
    links as the first (``link``, the booking page's, only when given: its token is not stored).
    The invite is attached whatever the scheduler's ``attach_invite`` setting, because resending
    is an explicit request for it. The mail is encrypted with ``secret_key`` until it is sent.

    It is a transition of the state machine that changes no state: the meeting is locked and
    re-read, so a cancellation a moment before is never followed by a "confirmed" mail. On
    SQLite the session must come from ``session_scope(engine, write=True)``.

    Raises
    ------
    MeetingStateError
        If the meeting does not exist or, under its lock, is cancelled.
    booking_service.services.permissions.PermissionDenied
        If ``by`` may not act on this meeting.
    """
    now = now or utcnow()
    if by is not None:
        require_meeting(session, by, meeting_id, "resend the confirmation of")
    locked = lifecycle.enter(session, "resend_confirmation", meeting_id=meeting_id, now=now)
    meeting = locked.meeting
    people, room = _attendees_and_room(session, meeting)
    # The same reschedule and cancel links as the first confirmation (derived, never stored).
    manage = manage_link((settings or Settings()).public_url,
                         manage_token_for(secret_key, locked.invitation.token_hash))
    _queue_customer_confirmation(session, locked.invitation, meeting, people, room, link=link,
                                 settings=settings, secret_key=secret_key, now=now, attach=True, manage=manage)
    lifecycle.finish(locked)
    audit.record(session, by, "meeting.confirmation_resent", meeting, invitation_id=meeting.invitation_id, at=now)
    return meeting


# --- mail and invites -------------------------------------------------------------------------


def _customer_zone(meeting: Meeting) -> str:
    return meeting.customer_zone or meeting.invitation.customer_zone or meeting.invitation.zone


def _cancellation_recipients(meeting: Meeting, people: list[TeamMember]) -> list[tuple[str, str, str]]:
    """Who is told of a cancellation: the customer, then each attending member with an email."""
    recipients = [(meeting.customer_name, meeting.customer_email, _customer_zone(meeting))]
    return recipients + [(m.name, m.email, m.zone) for m in people if m.email]


def cancellation_recipients(session: Session, meeting_id: int) -> list[tuple[str, str]]:
    """``(name, email)`` of everyone :func:`cancel_meeting` would mail about this meeting now.

    For a person to read before confirming a cancellation. An unknown meeting has nobody.
    """
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return []
    people, _room = _attendees_and_room(session, meeting)
    return [(name, email) for name, email, _zone in _cancellation_recipients(meeting, people)]


def _attendees_and_room(session: Session, meeting: Meeting) -> tuple[list[TeamMember], Room | None]:
    """The reserved members (by id) and the reserved room, in one query."""
    ids = [r.resource_id for r in meeting.reservations]
    if not ids:
        return [], None
    reserved = session.scalars(select(Resource).where(Resource.id.in_(ids)).order_by(Resource.id)).all()
    rooms = [r for r in reserved if isinstance(r, Room)]
    return [r for r in reserved if isinstance(r, TeamMember)], (rooms[0] if rooms else None)


def _people(
    meeting: Meeting, members: list[TeamMember], room: Room | None, mail_from: str
) -> tuple[ics.Person, list[ics.Person]]:
    """Organizer and attendees: the invitation's creator (or the sender address); the customer,
    the members and the room that have an email address."""
    creator = meeting.invitation.created_by
    organizer = ics.organizer_from(
        mail_from,
        name=creator.name if creator is not None else None,
        email=creator.email if creator is not None else None,
    )
    people = [ics.Person(meeting.customer_name, meeting.customer_email)]
    people += [ics.Person(m.name, m.email) for m in members if m.email]
    if room is not None and room.email:
        people.append(ics.Person(room.name, room.email, cutype="ROOM"))
    return organizer, people


def meeting_names(session: Session, meeting: Meeting) -> tuple[list[str], str]:
    """Whom the customer meets, by name (the assigned members), and the assigned room's name ("" without)."""
    members, room = _attendees_and_room(session, meeting)
    return [m.name for m in members], room.name if room is not None else ""


def meeting_people(
    session: Session, meeting: Meeting, *, settings: Settings | None = None
) -> tuple[ics.Person, list[ics.Person]]:
    """Who is on a meeting, as its invites name them: ``(organizer, attendees)``.

    The organizer is the scheduler who created the invitation, else the service's sender
    address (``MAIL_FROM``); the attendees are the customer, the reserved team members and the
    reserved room (those with an email address).
    """
    members, room = _attendees_and_room(session, meeting)
    return _people(meeting, members, room, (settings or Settings()).mail_from)


def meeting_invite(
    meeting: Meeting,
    members: list[TeamMember],
    room: Room | None,
    *,
    settings: Settings | None = None,
    method: str = "REQUEST",
    url: str | None = None,
    now: dt.datetime | None = None,
    times: tuple[dt.datetime, dt.datetime] | None = None,
) -> str:
    """The meeting's ``.ics`` (see :mod:`booking_service.services.invites`): same ``UID`` in every message.

    ``times`` (start, end) replaces the meeting's own: a CANCEL to a member taken off a moved
    meeting names the time they had.
    """
    invitation = meeting.invitation
    organizer, people = _people(meeting, members, room, (settings or Settings()).mail_from)
    location = ", ".join(x for x in (room.name if room is not None else "", invitation.conferencing) if x)
    start, end = times or (meeting.start, meeting.end)
    return ics.build_invite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=start,
        end=end,
        summary=invitation.subject,
        description=invitation.description,
        location=location,
        organizer=organizer,
        attendees=people,
        method=method,
        url=url,
        stamp=now,
        language=meeting.language or invitation.language,
    )


def meeting_invite_for(session: Session, meeting: Meeting, *, settings: Settings | None = None,
                       url: str | None = None) -> str:
    """The current ``.ics`` of a meeting (REQUEST, or CANCEL once cancelled)."""
    method = "CANCEL" if meeting.status == "cancelled" else "REQUEST"
    people, room = _attendees_and_room(session, meeting)
    return meeting_invite(meeting, people, room, settings=settings, method=method, url=url)


def customer_language(meeting: Meeting) -> str:
    """The language of the customer's mail about ``meeting``: the one they booked in, else the invitation's."""
    return meeting.language or meeting.invitation.language or i18n.DEFAULT_LANGUAGE


def _queue_customer_confirmation(
    session: Session,
    invitation: Invitation,
    meeting: Meeting,
    members: list[TeamMember],
    room: Room | None,
    *,
    link: str | None,
    settings: Settings | None,
    secret_key: str,
    now: dt.datetime,
    attach: bool,
    manage: str,
    invite: str | None = None,
) -> None:
    if invite is None:
        invite = meeting_invite(meeting, members, room, settings=settings, url=link, now=now)
    mail = render_mail(
        "confirmation",
        N_("Confirmed: %(subject)s"),
        language=customer_language(meeting),
        customer_name=meeting.customer_name,
        zone=_customer_zone(meeting),
        description=invitation.description,
        ics_attached=attach,
        link=link or "",
        subject=invitation.subject,
        start=meeting.start,
        end=meeting.end,
        team=[m.name for m in members],
        room=room.name if room is not None else "",
        conferencing=invitation.conferencing,
        manage_link=manage,
    )
    queue_mail(session, kind="confirmation", to=meeting.customer_email, mail=mail, secret_key=secret_key,
               ics=invite if attach else None, invitation_id=invitation.id, meeting_id=meeting.id, now=now,
               reply_to=reply_to(invitation))


def _queue_booking_mail(
    session: Session,
    invitation: Invitation,
    meeting: Meeting,
    members: list[TeamMember],
    room: Room | None,
    *,
    link: str | None,
    settings: Settings | None,
    secret_key: str,
    now: dt.datetime,
    manage: str,
) -> None:
    creator = invitation.created_by
    send_confirmation = creator.send_confirmation if creator is not None else True
    attach = creator.attach_invite if creator is not None else True
    invite = meeting_invite(meeting, members, room, settings=settings, url=link, now=now)
    team = [m.name for m in members]
    common = {
        "subject": invitation.subject,
        "start": meeting.start,
        "end": meeting.end,
        "team": team,
        "room": room.name if room is not None else "",
        "conferencing": invitation.conferencing,
    }
    if send_confirmation:
        # The same invite as the team's (same arguments), built once.
        _queue_customer_confirmation(session, invitation, meeting, members, room, link=link, settings=settings,
                                     secret_key=secret_key, now=now, attach=attach, invite=invite, manage=manage)
    for member in members:
        if not member.email:
            continue
        mail = render_mail(
            "notification",
            N_("New meeting: %(subject)s with %(customer_name)s"),
            recipient_name=member.name,
            customer_name=meeting.customer_name,
            customer_email=meeting.customer_email,
            zone=member.zone,
            ics_attached=True,
            **common,
        )
        queue_mail(session, kind="notification", to=member.email, mail=mail, ics=invite, secret_key=secret_key,
                   invitation_id=invitation.id, meeting_id=meeting.id, now=now)


def _queue_writeback(session: Session, meeting: Meeting, action: str, now: dt.datetime) -> None:
    """Queue calendar write-back rows (CalDAV calendars of the reserved resources)."""
    queue_meeting_writeback(session, meeting, action, now=now)


def _queue_moved_mail(
    session: Session, invitation: Invitation, meeting: Meeting, people: list[TeamMember], room: Room | None,
    old_people: list[TeamMember], old_room: Room | None, old_start: dt.datetime, old_end: dt.datetime, *,
    settings: Settings, secret_key: str, manage: str, now: dt.datetime, by_customer: bool,
) -> None:
    """One "moved" mail to the customer and to each member on the meeting; a cancellation to one taken off."""
    invite = meeting_invite(meeting, people, room, settings=settings, now=now)
    common = {
        "subject": invitation.subject, "start": meeting.start, "end": meeting.end, "old_start": old_start,
        "old_end": old_end, "team": [m.name for m in people], "room": room.name if room is not None else "",
        "conferencing": invitation.conferencing, "by_customer": by_customer, "customer_name": meeting.customer_name,
    }
    mail_subject = N_("Moved: %(subject)s")
    mail = render_mail("moved", mail_subject, language=customer_language(meeting),
                       recipient_name=meeting.customer_name, zone=_customer_zone(meeting), manage_link=manage, **common)
    queue_mail(session, kind="moved", to=meeting.customer_email, mail=mail, ics=invite, secret_key=secret_key,
               invitation_id=invitation.id, meeting_id=meeting.id, now=now, reply_to=reply_to(invitation))
    for member in people:
        if member.email:
            mail = render_mail("moved", mail_subject, recipient_name=member.name, zone=member.zone,
                               manage_link="", **common)
            queue_mail(session, kind="moved", to=member.email, mail=mail, ics=invite, secret_key=secret_key,
                       invitation_id=invitation.id, meeting_id=meeting.id, now=now)
    kept = {m.id for m in people}
    dropped = [m for m in old_people if m.id not in kept and m.email]
    if dropped:
        # Their calendars drop the event: the same UID, cancelled.
        cancel = meeting_invite(meeting, dropped, old_room, settings=settings, method="CANCEL", now=now,
                                times=(old_start, old_end))
        for member in dropped:
            # The template's defaults: no room, no link to book again, no contact line.
            mail = render_mail(
                "cancellation", N_("Cancelled: %(subject)s"), subject=invitation.subject,
                recipient_name=member.name, start=old_start, end=old_end, team=[member.name], zone=member.zone,
                reason=("The customer moved the meeting; someone else takes it." if by_customer
                        else "The meeting was moved; someone else takes it."),
            )
            queue_mail(session, kind="cancellation", to=member.email, mail=mail, ics=cancel, secret_key=secret_key,
                       invitation_id=invitation.id, meeting_id=meeting.id, now=now)


def _queue_reminders(
    session: Session, invitation: Invitation, meeting: Meeting, members: list[TeamMember], room: Room | None, *,
    settings: Settings | None, secret_key: str, manage: str, now: dt.datetime,
) -> None:
    """Queue the meeting's reminders (``REMINDER_OFFSETS`` before its start) to the customer and each member.

    They wait in the outbox until their time (one row per message: the outbox's claims send
    each once, whatever the number of workers), carry the meeting's start (``about_start``),
    and are withdrawn when the meeting is moved or cancelled.
    """
    settings = settings or Settings()
    common = {
        "subject": invitation.subject, "start": meeting.start, "end": meeting.end,
        "team": [m.name for m in members], "room": room.name if room is not None else "",
        "conferencing": invitation.conferencing,
    }
    for offset in settings.reminder_offsets_minutes:
        send_at = meeting.start - dt.timedelta(minutes=offset)
        if send_at <= now:
            continue
        mail_subject = N_("Reminder: %(subject)s")
        language = customer_language(meeting)
        mail = render_mail("reminder", mail_subject, language=language, recipient_name=meeting.customer_name,
                           customer_name="", zone=_customer_zone(meeting), manage_link=manage,
                           ahead=i18n.format_duration(offset, language), **common)
        queue_mail(session, kind="reminder", to=meeting.customer_email, mail=mail, secret_key=secret_key,
                   invitation_id=invitation.id, meeting_id=meeting.id, now=now, send_at=send_at,
                   about_start=meeting.start, reply_to=reply_to(invitation))
        for member in members:
            if member.email:
                mail = render_mail("reminder", mail_subject, recipient_name=member.name,
                                   customer_name=meeting.customer_name, zone=member.zone, manage_link="",
                                   ahead=i18n.format_duration(offset, i18n.DEFAULT_LANGUAGE), **common)
                queue_mail(session, kind="reminder", to=member.email, mail=mail, secret_key=secret_key,
                           invitation_id=invitation.id, meeting_id=meeting.id, now=now, send_at=send_at,
                           about_start=meeting.start)
