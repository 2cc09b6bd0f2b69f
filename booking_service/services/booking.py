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
from typing import Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from ..core.config import Settings
from ..store.models import Invitation, Meeting, Reservation, Resource, Room, TeamMember, User, utcnow
from . import assignment, audit, availability, lifecycle
from . import invites as ics
from .calendar_writes import queue_meeting_writeback
from .lifecycle import TEAM_AND_ROOMS, TransitionRefused
from .outbox import queue_mail, render_mail, supersede_invitation_mail
from .permissions import require_meeting

Outcome = Literal["booked", "already_scheduled", "unavailable", "closed", "replaced"]
UNAVAILABLE_MESSAGE = "That time is no longer available, please pick another"


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
    require_write_lock: bool = True,
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
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start {start!r} is naive; pass a tz-aware instant")
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

    request = availability.slot_request(invitation, now)
    locked.lock_resources(availability.involved_ids(request))
    # Whose turn it is, the shares and the limits, as they are under the locks.
    request, plans = assignment.request_under_locks(invitation, now)
    check = availability.check_slot_for(session, invitation, start, now, request=request)
    if not check.available:
        return BookingResult("unavailable", invitation, reason=check.reason)

    chosen = assignment.choose_assignment(session, invitation, check, plans, request.frame)
    member_ids, room_id = chosen.member_ids, chosen.room_id
    start_utc = pd.Timestamp(check.start).to_pydatetime().astimezone(dt.UTC)
    end_utc = pd.Timestamp(check.end).to_pydatetime().astimezone(dt.UTC)
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
        created_at=now,
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
    _queue_booking_mail(session, invitation, meeting, members, room, link=link, settings=settings,
                        secret_key=secret_key, now=now)
    _queue_writeback(session, meeting, "put", now)
    return BookingResult("booked", invitation, meeting)


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
    ``METHOD:CANCEL`` invite, so calendars remove the same entry they added.

    ``by`` is the dashboard user cancelling; it must have the meeting in its scope
    (:mod:`booking_service.services.permissions`). ``None`` means the system or the customer acting through
    their own link, whose token the caller has checked. The cancellation is audited. The mails
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
    meeting, invitation = locked.meeting, locked.invitation
    people, room = _attendees_and_room(session, meeting)
    meeting.sequence += 1
    lifecycle.finish(locked)
    assignment.meeting_cancelled(session, meeting, now)
    # Write-back is queued while the reservations still name the resources.
    _queue_writeback(session, meeting, "delete", now)
    meeting.reservations.clear()
    session.flush()
    invite = meeting_invite(meeting, people, room, settings=settings, method="CANCEL", now=now)
    mail_subject = f"Cancelled: {invitation.subject}"
    recipients = [(meeting.customer_name, meeting.customer_email, _customer_zone(meeting))]
    recipients += [(m.name, m.email, m.zone) for m in people if m.email]
    for name, email, zone in recipients:
        mail = render_mail(
            "cancellation", mail_subject, subject=invitation.subject, recipient_name=name,
            start=meeting.start, end=meeting.end,
            zone=zone, reason=reason.strip(),
        )
        queue_mail(session, kind="cancellation", to=email, mail=mail, ics=invite, secret_key=secret_key,
                   invitation_id=invitation.id, meeting_id=meeting.id, now=now)
    audit.record(session, by, "meeting.cancelled", meeting, invitation_id=invitation.id,
                 start=meeting.start, reason=reason.strip(), by_customer=by is None)
    return meeting


def resend_confirmation(
    session: Session,
    meeting_id: int,
    *,
    by: User | None,
    secret_key: str,
    link: str | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Queue the customer's confirmation mail again, with the same invite (same ``UID``).

    For a customer who lost the first mail. The invite is attached whatever the scheduler's
    ``attach_invite`` setting, because resending is an explicit request for it. The mail is
    encrypted with ``secret_key`` until it is sent.

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
    _queue_customer_confirmation(session, locked.invitation, meeting, people, room, link=link,
                                 settings=settings, secret_key=secret_key, now=now, attach=True)
    lifecycle.finish(locked)
    audit.record(session, by, "meeting.confirmation_resent", meeting, invitation_id=meeting.invitation_id)


# --- mail and invites -------------------------------------------------------------------------


def _customer_zone(meeting: Meeting) -> str:
    return meeting.customer_zone or meeting.invitation.customer_zone or meeting.invitation.zone


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
) -> str:
    """The meeting's ``.ics`` (see :mod:`booking_service.services.invites`): same ``UID`` in every message."""
    invitation = meeting.invitation
    organizer, people = _people(meeting, members, room, (settings or Settings()).mail_from)
    location = ", ".join(x for x in (room.name if room is not None else "", invitation.conferencing) if x)
    return ics.build_invite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.start,
        end=meeting.end,
        summary=invitation.subject,
        description=invitation.description,
        location=location,
        organizer=organizer,
        attendees=people,
        method=method,
        url=url,
        stamp=now,
    )


def meeting_invite_for(session: Session, meeting: Meeting, *, settings: Settings | None = None,
                       url: str | None = None) -> str:
    """The current ``.ics`` of a meeting (REQUEST, or CANCEL once cancelled)."""
    method = "CANCEL" if meeting.status == "cancelled" else "REQUEST"
    people, room = _attendees_and_room(session, meeting)
    return meeting_invite(meeting, people, room, settings=settings, method=method, url=url)


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
    invite: str | None = None,
) -> None:
    if invite is None:
        invite = meeting_invite(meeting, members, room, settings=settings, url=link, now=now)
    mail = render_mail(
        "confirmation",
        f"Confirmed: {invitation.subject}",
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
    )
    queue_mail(session, kind="confirmation", to=meeting.customer_email, mail=mail, secret_key=secret_key,
               ics=invite if attach else None, invitation_id=invitation.id, meeting_id=meeting.id, now=now)


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
                                     secret_key=secret_key, now=now, attach=attach, invite=invite)
    for member in members:
        if not member.email:
            continue
        mail = render_mail(
            "notification",
            f"New meeting: {invitation.subject} with {meeting.customer_name}",
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
