"""Who may see and act on what: the one place for Slotwise's access rules.

Roles (``User.role``):

- **admin**: sees and acts on every invitation and meeting, and alone manages team members,
  rooms, pools, calendar connections, users and the sites that may embed the booking pages, and
  reads the audit log.
- **scheduler**: sees and acts on (cancels, resends) exactly the invitations and meetings in
  their *scope*, defined below.

A disabled user (``active`` false) may do nothing at all.

The scheduler's scope
---------------------
Let the *members involved* in an invitation be its required team members together with the
current members of each of its resource pools (rooms never count). Let a scheduler's *team* be
every team member involved in any invitation that scheduler created. Then an invitation is in a
scheduler's scope when

1. the scheduler created it (``Invitation.created_by_id``), or
2. some member involved in it belongs to the scheduler's team

("their own invitations and those of the team members they invite with"). A meeting is in scope
when the scheduler created it (``Meeting.created_by_id``) or its invitation is in scope. The rule
is evaluated when asked, against current pool membership.

Whatever belongs to an invitation or a meeting is seen by exactly those who may see it: an
outbox message (:func:`message_scope`) when its invitation or its meeting is in scope, a
calendar write when its meeting is. A message about neither is for admins only.

The same SQL expression (:func:`invitation_scope`, :func:`meeting_scope`) filters the listing
queries and decides the action checks (:func:`require_invitation`, :func:`require_meeting`), so
what a scheduler is shown and what they may do can never drift apart. Services call the checks
themselves: hiding a button in a page is not a permission check.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true, union
from sqlalchemy.orm import Session

from ..store.models import (
    Invitation,
    Meeting,
    OutboxMessage,
    User,
    invitation_members,
    invitation_pools,
    pool_members,
)

__all__ = [
    "PermissionDenied",
    "is_admin",
    "require_admin",
    "team_member_ids",
    "invitation_scope",
    "meeting_scope",
    "message_scope",
    "visible_invitations",
    "visible_meetings",
    "can_access_invitation",
    "can_access_meeting",
    "require_invitation",
    "require_meeting",
]


class PermissionDenied(PermissionError):
    """The user may not do this; the message says what was refused and who may do it."""


def is_admin(user: User | None) -> bool:
    """Whether ``user`` is an active admin."""
    return user is not None and user.active and user.role == "admin"


def require_admin(user: User | None, action: str) -> None:
    """Refuse ``action`` (e.g. ``"manage rooms"``) unless ``user`` is an active admin.

    Raises
    ------
    PermissionDenied
    """
    if not is_admin(user):
        who = "nobody signed in" if user is None else f"{user.email} ({user.role})"
        raise PermissionDenied(f"only an admin may {action}; {who} may not")


def _members_involved() -> Select:
    """(invitation_id, member_id) for required members and members of the invitation's pools."""
    direct = select(invitation_members.c.invitation_id, invitation_members.c.member_id)
    via_pool = select(invitation_pools.c.invitation_id, pool_members.c.member_id).join(
        pool_members, pool_members.c.pool_id == invitation_pools.c.pool_id
    )
    return union(direct, via_pool)


def team_member_ids(user: User) -> Select:
    """SELECT of the ids of the team members involved in invitations ``user`` created."""
    involved = _members_involved().subquery()
    created = select(Invitation.id).where(Invitation.created_by_id == user.id)
    return select(involved.c.member_id).where(involved.c.invitation_id.in_(created))


def invitation_scope(user: User | None) -> ColumnElement[bool]:
    """SQL condition on :class:`Invitation`: true for the invitations ``user`` may see and act on."""
    if user is None or not user.active:
        return false()
    if user.role == "admin":
        return true()
    involved = _members_involved().subquery()
    shared = select(involved.c.invitation_id).where(involved.c.member_id.in_(team_member_ids(user)))
    return or_(Invitation.created_by_id == user.id, Invitation.id.in_(shared))


def meeting_scope(user: User | None) -> ColumnElement[bool]:
    """SQL condition on :class:`Meeting`: true for the meetings ``user`` may see and act on."""
    if user is None or not user.active:
        return false()
    if user.role == "admin":
        return true()
    in_scope = select(Invitation.id).where(invitation_scope(user))
    return or_(Meeting.created_by_id == user.id, Meeting.invitation_id.in_(in_scope))


def message_scope(user: User | None) -> ColumnElement[bool]:
    """SQL condition on :class:`OutboxMessage`: true for the messages ``user`` may read.

    A message may be read by whoever may see its invitation or its meeting; one about neither
    (nothing links it to a booking) by admins only.
    """
    if user is None or not user.active:
        return false()
    if user.role == "admin":
        return true()
    return or_(
        OutboxMessage.invitation_id.in_(select(Invitation.id).where(invitation_scope(user))),
        OutboxMessage.meeting_id.in_(select(Meeting.id).where(meeting_scope(user))),
    )


def visible_invitations(user: User | None) -> Select:
    """``select(Invitation)`` restricted to ``user``'s scope; add ordering and options freely."""
    return select(Invitation).where(invitation_scope(user))


def visible_meetings(user: User | None) -> Select:
    """``select(Meeting)`` restricted to ``user``'s scope; add ordering and options freely."""
    return select(Meeting).where(meeting_scope(user))


def can_access_invitation(session: Session, user: User | None, invitation_id: int) -> bool:
    """Whether ``user`` may see and act on invitation ``invitation_id``."""
    found = session.scalar(
        select(Invitation.id).where(Invitation.id == invitation_id, invitation_scope(user))
    )
    return found is not None


def can_access_meeting(session: Session, user: User | None, meeting_id: int) -> bool:
    """Whether ``user`` may see and act on meeting ``meeting_id``."""
    found = session.scalar(select(Meeting.id).where(Meeting.id == meeting_id, meeting_scope(user)))
    return found is not None


def _who(user: User | None) -> str:
    return "nobody signed in" if user is None else user.email


def require_invitation(session: Session, user: User | None, invitation_id: int, action: str) -> None:
    """Refuse ``action`` (e.g. ``"cancel"``) on an invitation outside ``user``'s scope.

    Raises
    ------
    PermissionDenied
        Also when the invitation does not exist, so that ids outside one's scope reveal nothing.
    """
    if not can_access_invitation(session, user, invitation_id):
        raise PermissionDenied(
            f"{_who(user)} may not {action} invitation {invitation_id}: it is not theirs nor "
            "their team's; ask its creator or an admin"
        )


def require_meeting(session: Session, user: User | None, meeting_id: int, action: str) -> None:
    """Refuse ``action`` (e.g. ``"cancel"``) on a meeting outside ``user``'s scope.

    Raises
    ------
    PermissionDenied
        Also when the meeting does not exist, so that ids outside one's scope reveal nothing.
    """
    if not can_access_meeting(session, user, meeting_id):
        raise PermissionDenied(
            f"{_who(user)} may not {action} meeting {meeting_id}: it is not theirs nor "
            "their team's; ask its creator or an admin"
        )
