"""The invariants of invitations, meetings, reservations and invitation mail, checked in the database.

The state machine (:mod:`booking_service.services.lifecycle`) keeps these true; this module finds
where they are not, with SQL over the whole database, so that a bug, a hand edit or a restore from
an old backup shows up as a list of rows to look at instead of a customer's surprise. It runs at
the end of every concurrency test and as ``slotwise check``.

What it finds (each :class:`Violation` names its ``kind`` and the rows):

- ``meeting_of_closed_invitation``: a confirmed meeting whose invitation is not ``scheduled``
  (cancelled, expired, or active again) — the time is held for a meeting nobody expects;
- ``scheduled_without_meeting``: a ``scheduled`` invitation without a confirmed meeting;
- ``meeting_without_reservations``: a confirmed meeting that holds no reservation at all;
- ``member_not_reserved``: a confirmed meeting that holds no reservation of a team member its
  invitation requires;
- ``room_not_reserved``: a confirmed meeting whose invitation lists rooms but that holds none;
- ``assigned_not_reserved``: a confirmed meeting that took a member from a pool (a
  ``pool_assignments`` row not cancelled) but holds no reservation of them;
- ``resource_reserved_twice``: one meeting holding two reservations of one resource;
- ``cancelled_meeting_holds_time``: a cancelled meeting that still holds reservations;
- ``overlapping_reservations``: two reservations of one resource that overlap (PostgreSQL's
  exclusion constraint refuses them; SQLite has none, so only this check finds them);
- ``mail_for_replaced_link``: an invitation mail still waiting to go out with a link that a
  resend has replaced;
- ``mail_for_closed_invitation``: an invitation mail still waiting to go out for an invitation
  that is no longer active;
- ``hold_of_closed_invitation``: a slot hold of an invitation that is no longer active (booking,
  cancelling and expiring end the hold);
- ``hold_overlaps_reservation``: a live hold (not expired) that overlaps a reservation of the
  same resource — the hold promised a time someone else has;
- ``overlapping_holds``: two live holds of one resource, of different invitations, that overlap;
- ``stale_reminder``: a reminder still waiting to go out for a cancelled meeting, or for a start
  the meeting no longer has (it was moved).

Pools are not checked against today's members: a pool's members (and its panel size) may change
after a booking; what a booking took from a pool is its ``pool_assignments`` rows, checked above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..store.models import (
    Invitation,
    Meeting,
    OutboxMessage,
    PoolAssignment,
    Reservation,
    Resource,
    SlotHold,
    invitation_members,
    invitation_rooms,
    utcnow,
)


@dataclass(frozen=True)
class Violation:
    """One broken invariant.

    Attributes
    ----------
    kind : str
        Which invariant (see the module docstring).
    message : str
        One line that names the rows and what is wrong with them.
    rows : tuple of (str, int)
        The rows involved, as (table, id).
    """

    kind: str
    message: str
    rows: tuple[tuple[str, int], ...]

    def __str__(self) -> str:
        return self.message


def check_invariants(session: Session, now: dt.datetime | None = None) -> list[Violation]:
    """Every broken invariant in the database, in a stable order (empty when all hold).

    Only reads; run it in any transaction (``slotwise check`` uses a read-only one). ``now``
    (default: now) tells live holds from expired ones.
    """
    now = now or utcnow()
    checks = (
        _meetings_of_closed_invitations,
        _scheduled_without_meeting,
        _meetings_without_reservations,
        _members_not_reserved,
        _rooms_not_reserved,
        _assigned_not_reserved,
        _resources_reserved_twice,
        _cancelled_meetings_holding_time,
        _overlapping_reservations,
        _mail_for_replaced_links,
        _mail_for_closed_invitations,
        _holds_of_closed_invitations,
        _stale_reminders,
    )
    timed = (_holds_overlapping_reservations, _overlapping_holds)
    return [violation for check in checks for violation in check(session)] + [
        violation for check in timed for violation in check(session, now)
    ]


def _meetings_of_closed_invitations(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(Invitation.id, Invitation.status, Meeting.id)
        .join(Meeting, Meeting.invitation_id == Invitation.id)
        .where(Meeting.status == "confirmed", Invitation.status != "scheduled")
        .order_by(Invitation.id)
    )
    for invitation_id, status, meeting_id in rows:
        yield Violation(
            "meeting_of_closed_invitation",
            f"invitation {invitation_id} is {status} but its meeting {meeting_id} is confirmed "
            "(its time is still held)",
            (("invitations", invitation_id), ("meetings", meeting_id)),
        )


def _scheduled_without_meeting(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(Invitation.id, Meeting.id, Meeting.status)
        .outerjoin(Meeting, Meeting.invitation_id == Invitation.id)
        .where(Invitation.status == "scheduled", or_(Meeting.id.is_(None), Meeting.status != "confirmed"))
        .order_by(Invitation.id)
    )
    for invitation_id, meeting_id, status in rows:
        what = "no meeting" if meeting_id is None else f"its meeting {meeting_id} is {status}"
        rows_named = (("invitations", invitation_id),) + ((("meetings", meeting_id),) if meeting_id else ())
        yield Violation(
            "scheduled_without_meeting",
            f"invitation {invitation_id} is scheduled but has no confirmed meeting ({what})",
            rows_named,
        )


def _meetings_without_reservations(session: Session) -> Iterator[Violation]:
    held = exists().where(Reservation.meeting_id == Meeting.id)
    rows = session.execute(
        select(Meeting.id, Meeting.invitation_id).where(Meeting.status == "confirmed", ~held).order_by(Meeting.id)
    )
    for meeting_id, invitation_id in rows:
        yield Violation(
            "meeting_without_reservations",
            f"meeting {meeting_id} (invitation {invitation_id}) is confirmed but holds no reservation",
            (("meetings", meeting_id),),
        )


def _members_not_reserved(session: Session) -> Iterator[Violation]:
    reserved = exists().where(
        Reservation.meeting_id == Meeting.id, Reservation.resource_id == invitation_members.c.member_id
    )
    rows = session.execute(
        select(Meeting.id, Meeting.invitation_id, invitation_members.c.member_id)
        .join(invitation_members, invitation_members.c.invitation_id == Meeting.invitation_id)
        .where(Meeting.status == "confirmed", ~reserved)
        .order_by(Meeting.id, invitation_members.c.member_id)
    )
    for meeting_id, invitation_id, member_id in rows:
        yield Violation(
            "member_not_reserved",
            f"meeting {meeting_id} is confirmed but holds no reservation of team member {member_id}, "
            f"whom invitation {invitation_id} requires",
            (("meetings", meeting_id), ("resources", member_id)),
        )


def _rooms_not_reserved(session: Session) -> Iterator[Violation]:
    lists_rooms = exists().where(invitation_rooms.c.invitation_id == Meeting.invitation_id)
    holds_room = exists().where(
        Reservation.meeting_id == Meeting.id, Reservation.resource_id == Resource.id, Resource.kind == "room"
    )
    rows = session.execute(
        select(Meeting.id, Meeting.invitation_id)
        .where(Meeting.status == "confirmed", lists_rooms, ~holds_room)
        .order_by(Meeting.id)
    )
    for meeting_id, invitation_id in rows:
        yield Violation(
            "room_not_reserved",
            f"meeting {meeting_id} is confirmed but holds no room, though invitation {invitation_id} lists rooms",
            (("meetings", meeting_id),),
        )


def _assigned_not_reserved(session: Session) -> Iterator[Violation]:
    reserved = exists().where(
        Reservation.meeting_id == PoolAssignment.meeting_id, Reservation.resource_id == PoolAssignment.member_id
    )
    rows = session.execute(
        select(PoolAssignment.meeting_id, PoolAssignment.pool_id, PoolAssignment.member_id)
        .join(Meeting, Meeting.id == PoolAssignment.meeting_id)
        .where(Meeting.status == "confirmed", PoolAssignment.cancelled_at.is_(None), ~reserved)
        .order_by(PoolAssignment.meeting_id, PoolAssignment.id)
    )
    for meeting_id, pool_id, member_id in rows:
        yield Violation(
            "assigned_not_reserved",
            f"meeting {meeting_id} is confirmed and took team member {member_id} from pool {pool_id}, "
            "but holds no reservation of them",
            (("meetings", meeting_id), ("resources", member_id)),
        )


def _resources_reserved_twice(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(Reservation.meeting_id, Reservation.resource_id, func.count())
        .group_by(Reservation.meeting_id, Reservation.resource_id)
        .having(func.count() > 1)
        .order_by(Reservation.meeting_id, Reservation.resource_id)
    )
    for meeting_id, resource_id, count in rows:
        yield Violation(
            "resource_reserved_twice",
            f"meeting {meeting_id} holds {count} reservations of resource {resource_id}; one is right",
            (("meetings", meeting_id), ("resources", resource_id)),
        )


def _cancelled_meetings_holding_time(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(Meeting.id, func.count(Reservation.id))
        .join(Reservation, Reservation.meeting_id == Meeting.id)
        .where(Meeting.status == "cancelled")
        .group_by(Meeting.id)
        .order_by(Meeting.id)
    )
    for meeting_id, count in rows:
        yield Violation(
            "cancelled_meeting_holds_time",
            f"meeting {meeting_id} is cancelled but still holds {count} reservation(s)",
            (("meetings", meeting_id),),
        )


def _overlapping_reservations(session: Session) -> Iterator[Violation]:
    # Half-open intervals: [a, b) and [c, d) overlap when a < d and c < b. Instants compare
    # correctly on both databases (SQLite stores them as UTC text of one format).
    other = aliased(Reservation)
    rows = session.execute(
        select(Reservation.resource_id, Reservation.id, Reservation.meeting_id, other.id, other.meeting_id)
        .join(
            other,
            and_(
                other.resource_id == Reservation.resource_id,
                other.id > Reservation.id,
                other.start < Reservation.end,
                Reservation.start < other.end,
            ),
        )
        .order_by(Reservation.resource_id, Reservation.id, other.id)
    )
    for resource_id, first, first_meeting, second, second_meeting in rows:
        yield Violation(
            "overlapping_reservations",
            f"resource {resource_id} is reserved twice at once: reservation {first} (meeting {first_meeting}) "
            f"overlaps reservation {second} (meeting {second_meeting})",
            (("reservations", first), ("reservations", second), ("resources", resource_id)),
        )


def _waiting_invitation_mail():
    return (
        select(OutboxMessage.id, Invitation.id, Invitation.status)
        .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .where(OutboxMessage.kind == "invitation", OutboxMessage.status == "pending")
        .order_by(OutboxMessage.id)
    )


def _mail_for_replaced_links(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        _waiting_invitation_mail().where(
            OutboxMessage.link_hash.is_not(None), OutboxMessage.link_hash != Invitation.token_hash
        )
    )
    for message_id, invitation_id, _status in rows:
        yield Violation(
            "mail_for_replaced_link",
            f"outbox message {message_id} waits to mail invitation {invitation_id} with a link a resend "
            "has replaced",
            (("outbox_messages", message_id), ("invitations", invitation_id)),
        )


def _mail_for_closed_invitations(session: Session) -> Iterator[Violation]:
    rows = session.execute(_waiting_invitation_mail().where(Invitation.status != "active"))
    for message_id, invitation_id, status in rows:
        yield Violation(
            "mail_for_closed_invitation",
            f"outbox message {message_id} waits to mail invitation {invitation_id}, which is {status}",
            (("outbox_messages", message_id), ("invitations", invitation_id)),
        )


def _holds_of_closed_invitations(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(SlotHold.id, Invitation.id, Invitation.status)
        .join(Invitation, Invitation.id == SlotHold.invitation_id)
        .where(Invitation.status != "active")
        .order_by(SlotHold.id)
    )
    for hold_id, invitation_id, status in rows:
        yield Violation(
            "hold_of_closed_invitation",
            f"slot hold {hold_id} is kept for invitation {invitation_id}, which is {status}",
            (("slot_holds", hold_id), ("invitations", invitation_id)),
        )


def _holds_overlapping_reservations(session: Session, now: dt.datetime) -> Iterator[Violation]:
    rows = session.execute(
        select(SlotHold.id, SlotHold.resource_id, Reservation.id, Reservation.meeting_id)
        .join(
            Reservation,
            and_(
                Reservation.resource_id == SlotHold.resource_id,
                Reservation.start < SlotHold.end,
                SlotHold.start < Reservation.end,
            ),
        )
        .where(SlotHold.expires_at > now)
        .order_by(SlotHold.id, Reservation.id)
    )
    for hold_id, resource_id, reservation_id, meeting_id in rows:
        yield Violation(
            "hold_overlaps_reservation",
            f"slot hold {hold_id} holds resource {resource_id} at a time reservation {reservation_id} "
            f"(meeting {meeting_id}) has",
            (("slot_holds", hold_id), ("reservations", reservation_id)),
        )


def _overlapping_holds(session: Session, now: dt.datetime) -> Iterator[Violation]:
    other = aliased(SlotHold)
    rows = session.execute(
        select(SlotHold.resource_id, SlotHold.id, other.id)
        .join(
            other,
            and_(
                other.resource_id == SlotHold.resource_id,
                other.id > SlotHold.id,
                other.invitation_id != SlotHold.invitation_id,
                other.start < SlotHold.end,
                SlotHold.start < other.end,
                other.expires_at > now,
            ),
        )
        .where(SlotHold.expires_at > now)
        .order_by(SlotHold.resource_id, SlotHold.id, other.id)
    )
    for resource_id, first, second in rows:
        yield Violation(
            "overlapping_holds",
            f"resource {resource_id} is held twice at once: slot holds {first} and {second}",
            (("slot_holds", first), ("slot_holds", second), ("resources", resource_id)),
        )


def _stale_reminders(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(OutboxMessage.id, Meeting.id, Meeting.status)
        .join(Meeting, Meeting.id == OutboxMessage.meeting_id)
        .where(
            OutboxMessage.kind == "reminder",
            OutboxMessage.status == "pending",
            or_(Meeting.status != "confirmed", OutboxMessage.about_start != Meeting.start),
        )
        .order_by(OutboxMessage.id)
    )
    for message_id, meeting_id, status in rows:
        what = "cancelled" if status != "confirmed" else "moved since"
        yield Violation(
            "stale_reminder",
            f"outbox message {message_id} waits to remind of meeting {meeting_id}, which is {what}",
            (("outbox_messages", message_id), ("meetings", meeting_id)),
        )
