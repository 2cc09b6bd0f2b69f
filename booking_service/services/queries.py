"""Read-only queries for the scheduler dashboard: lists of what is in the database.

Nothing here changes data; the services that change data live in their own modules
(:mod:`booking_service.services.team`, :mod:`booking_service.services.invitations`, ...). Every function takes a
``session`` and returns model objects with the relationships the dashboard shows already loaded,
so that the page can render them after the session closes.

:func:`data_version` is a cheap fingerprint of everything availability depends on; the
dashboard keys its cached availability grid on it so that the grid is rebuilt exactly when
the data changed (a sync, a booking, an edit), whoever changed it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..store.loader import PlannerInputs, load_invitation_history, load_planner_inputs
from ..store.models import (
    BusyBlock,
    CalendarConnection,
    HoursOverride,
    Invitation,
    Meeting,
    OutboxMessage,
    Reservation,
    Resource,
    ResourcePool,
    Room,
    TeamMember,
    User,
    WorkingHours,
    pool_members,
)
from .permissions import invitation_scope, meeting_scope, message_scope

__all__ = [
    "data_version",
    "team_members",
    "rooms",
    "pools",
    "users",
    "calendar_connections",
    "invitations",
    "meetings",
    "outbox_messages",
    "resource",
    "calendar_connection",
    "planner_inputs",
]


def data_version(session: Session) -> tuple:
    """A fingerprint that changes whenever availability data changes.

    It combines the row count and largest id of every table availability reads (resources,
    hours, overrides, pools, busy blocks, reservations) and the newest calendar sync time,
    in one round trip. Replacing rows (a calendar sync, new working hours) yields new ids, and
    deleting rows lowers a count, so either changes the fingerprint. In-place edits of a
    resource (its zone, capacity, active flag) are not visible here; the code making such an
    edit must drop its cached grid itself (the dashboard does).

    Returns
    -------
    tuple
        Hashable; compare with ``==``.
    """
    parts = []
    for column in (Resource.id, WorkingHours.id, HoursOverride.id, BusyBlock.id, Reservation.id):
        parts += [select(func.count(column)).scalar_subquery(), select(func.max(column)).scalar_subquery()]
    parts += [
        select(func.count()).select_from(pool_members).scalar_subquery(),
        select(func.sum(pool_members.c.member_id * 31 + pool_members.c.pool_id)).scalar_subquery(),
        select(func.max(CalendarConnection.last_synced_at)).scalar_subquery(),
        select(func.count(Meeting.id)).where(Meeting.status == "confirmed").scalar_subquery(),
    ]
    row = session.execute(select(*parts)).one()
    return tuple(str(v) if isinstance(v, dt.datetime) else v for v in row)


def team_members(session: Session, *, include_inactive: bool = False) -> list[TeamMember]:
    """Team members by name, with their weekly and per-date hours, pools and calendar connections loaded."""
    query = (
        select(TeamMember)
        .options(
            selectinload(TeamMember.hours),
            selectinload(TeamMember.overrides),
            selectinload(TeamMember.pools),
            selectinload(TeamMember.connections),
        )
        .order_by(TeamMember.name, TeamMember.id)
    )
    if not include_inactive:
        query = query.where(TeamMember.active.is_(True))
    return list(session.scalars(query))


def rooms(session: Session, *, include_inactive: bool = False) -> list[Room]:
    """Rooms by name, with their weekly and per-date opening hours loaded."""
    query = select(Room).options(selectinload(Room.hours), selectinload(Room.overrides)).order_by(Room.name, Room.id)
    if not include_inactive:
        query = query.where(Room.active.is_(True))
    return list(session.scalars(query))


def pools(session: Session) -> list[ResourcePool]:
    """Resource pools by name, with their members loaded."""
    return list(
        session.scalars(
            select(ResourcePool).options(selectinload(ResourcePool.members)).order_by(ResourcePool.name)
        )
    )


def users(session: Session) -> list[User]:
    """Dashboard users (scheduler profiles) by name."""
    return list(session.scalars(select(User).order_by(User.name, User.id)))


def calendar_connections(session: Session) -> list[CalendarConnection]:
    """Calendar connections with their resource, ordered by resource name then connection name."""
    return list(
        session.scalars(
            select(CalendarConnection)
            .join(CalendarConnection.resource)
            .options(selectinload(CalendarConnection.resource))
            .order_by(Resource.name, CalendarConnection.name, CalendarConnection.id)
        )
    )


def invitations(
    session: Session, user: User | None, status: str | None = "active", *, ids: Collection[int] | None = None
) -> list[Invitation]:
    """The invitations ``user`` may see, newest first, with members, pools, rooms and promoted slots loaded.

    Parameters
    ----------
    user : User or None
        Whose view: an admin sees all, a scheduler their scope (:mod:`booking_service.services.permissions`),
        nobody signed in sees nothing.
    status : str or None
        Only invitations with this status (``"active"``, ``"scheduled"``, ...); ``None`` for all.
    ids : collection of int, optional
        Only these invitations.
    """
    query = (
        select(Invitation)
        .options(
            selectinload(Invitation.members),
            selectinload(Invitation.pools).selectinload(ResourcePool.members),
            selectinload(Invitation.rooms),
            selectinload(Invitation.promoted_slots),
        )
        .where(invitation_scope(user))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    if status is not None:
        query = query.where(Invitation.status == status)
    if ids is not None:
        query = query.where(Invitation.id.in_(list(ids)))
    return list(session.scalars(query))


def meetings(
    session: Session,
    user: User | None,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    resource_id: int | None = None,
    status: str | None = "confirmed",
) -> list[Meeting]:
    """The meetings ``user`` may see by start time, with reservations, resources and invitation loaded.

    Parameters
    ----------
    user : User or None
        Whose view (see :func:`invitations`).
    start, end : datetime, optional
        Only meetings overlapping ``[start, end)`` (tz-aware).
    resource_id : int, optional
        Only meetings that reserve this team member or room.
    status : str or None
        ``"confirmed"`` (default), ``"cancelled"`` or ``None`` for both.
    """
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name}={value!r} is naive; pass a tz-aware datetime")
    query = (
        select(Meeting)
        .options(
            selectinload(Meeting.reservations).selectinload(Reservation.resource),
            selectinload(Meeting.invitation),
        )
        .where(meeting_scope(user))
        .order_by(Meeting.start, Meeting.id)
    )
    if status is not None:
        query = query.where(Meeting.status == status)
    if start is not None:
        query = query.where(Meeting.end > start)
    if end is not None:
        query = query.where(Meeting.start < end)
    if resource_id is not None:
        query = query.where(
            Meeting.id.in_(select(Reservation.meeting_id).where(Reservation.resource_id == resource_id))
        )
    return list(session.scalars(query))


def outbox_messages(
    session: Session, user: User | None, status: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    """The outbox messages ``user`` may read, newest first.

    Parameters
    ----------
    user : User or None
        Whose view: a message is shown to whoever may see its invitation or meeting
        (:func:`booking_service.services.permissions.message_scope`); one about neither to admins only.
    status : str or None
        ``"pending"``, ``"sent"``, ``"failed"``, ``"superseded"`` or ``None`` for all.
    limit : int
        At most this many.
    """
    query = (
        select(OutboxMessage)
        .where(message_scope(user))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query.limit(limit)))


def resource(session: Session, resource_id: int) -> Resource | None:
    """The team member or room with this id, or ``None``."""
    return session.get(Resource, resource_id)


def calendar_connection(session: Session, connection_id: int) -> CalendarConnection | None:
    """The calendar connection with this id, or ``None``."""
    return session.get(CalendarConnection, connection_id)


def planner_inputs(session: Session, *, start: dt.datetime) -> PlannerInputs:
    """The whole organisation as the planner's input tables, busy time from ``start`` on.

    For pages that analyse the organisation (capacity, the invitation wizard's heatmap); see
    :func:`booking_service.store.loader.load_planner_inputs`.
    """
    return load_planner_inputs(session, start=start)


def invitation_history(session: Session) -> pd.DataFrame:
    """Every invitation and what became of it, for the demand analysis (read-only); see
    :func:`booking_service.store.loader.load_invitation_history`."""
    return load_invitation_history(session)
