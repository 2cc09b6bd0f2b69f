"""The system of record: SQLAlchemy 2.0 typed models for the whole Slotwise domain.

Vocabulary (the same words as the planner, the pages and the dashboard):

- **member** and **room** are both *resources* (one table, ``kind`` tells them apart), so that a
  reservation and its no-overlap rule cover both with one constraint;
- **pool**: a set of members of whom one (or ``panel_size``) attend, chosen by the pool's
  assignment policy; every choice is a **pool assignment**;
- **out of office**: dates a member is away (stored as date overrides), with an optional stand-in;
- **busy block**: time imported from a connected calendar;
- **invitation**: a customer's link to self-schedule, with its **promoted slots**;
- **meeting**: the confirmed booking, holding one **reservation** per resource it uses.

Every instant is a :class:`UTCDateTime` column: timezone-aware UTC in Python on both SQLite and
PostgreSQL. Working hours are wall-clock minutes in the resource's own zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ..core.clock import utcnow

UTC = dt.UTC


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware.

    Naive datetimes are refused on the way in: an instant without a zone is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: Slotwise stores only tz-aware instants")
        value = value.astimezone(UTC)
        # SQLite has no zone type: store naive UTC text, which sorts and compares correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Slotwise table."""

    type_annotation_map = {dt.datetime: UTCDateTime}

    def __repr__(self) -> str:
        label = getattr(self, "name", None) or getattr(self, "email", None) or ""
        return f"<{type(self).__name__} {getattr(self, 'id', None)} {label}>".replace(" >", ">")


# --- people and resources -------------------------------------------------------------------

ROLES = ("admin", "scheduler")


class User(Base):
    """A dashboard user: the scheduler profile (zone, confirmation settings) and sign-in data."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'scheduler')", name="ck_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="scheduler")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    send_confirmation: Mapped[bool] = mapped_column(Boolean, default=True)
    attach_invite: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]


RESOURCE_KINDS = ("member", "room")


class Resource(Base):
    """A team member or a room: anything that can be reserved for a meeting."""

    __tablename__ = "resources"
    __table_args__ = (
        CheckConstraint("kind IN ('member', 'room')", name="ck_resources_kind"),
        CheckConstraint("capacity >= 1", name="ck_resources_capacity"),
        CheckConstraint(
            "(max_meetings_day IS NULL OR max_meetings_day >= 0) AND (max_minutes_day IS NULL OR max_minutes_day >= 0)"
            " AND (max_meetings_week IS NULL OR max_meetings_week >= 0)"
            " AND (max_minutes_week IS NULL OR max_minutes_week >= 0)",
            name="ck_resources_limits",
        ),
    )
    __mapper_args__ = {"polymorphic_on": "kind"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    zone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Per-person limits, per local day and week in ``zone`` (NULL: no limit).
    max_meetings_day: Mapped[int | None] = mapped_column(Integer)
    max_minutes_day: Mapped[int | None] = mapped_column(Integer)
    max_meetings_week: Mapped[int | None] = mapped_column(Integer)
    max_minutes_week: Mapped[int | None] = mapped_column(Integer)

    hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="resource", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )
    overrides: Mapped[list[HoursOverride]] = relationship(
        back_populates="resource", cascade="all, delete-orphan"
    )
    connections: Mapped[list[CalendarConnection]] = relationship(
        back_populates="resource", cascade="all, delete-orphan"
    )


class TeamMember(Resource):
    """A person who attends meetings; working hours are wall clock in ``zone``."""

    __mapper_args__ = {"polymorphic_identity": "member"}

    pools: Mapped[list[ResourcePool]] = relationship(
        secondary="pool_members", back_populates="members"
    )


class Room(Resource):
    """A meeting room with ``capacity`` seats; its hours are opening hours."""

    __mapper_args__ = {"polymorphic_identity": "room"}


class WorkingHours(Base):
    """One weekly interval: ``weekday`` (0 = Monday) from ``start`` to ``end`` minutes.

    Minutes count from local midnight in the resource's zone. ``end`` may exceed 1440: the
    interval then crosses midnight and belongs to the day it starts on (22:00-02:00 is
    ``start=1320, end=1560``).
    """

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="ck_working_hours_weekday"),
        CheckConstraint(
            "start_minute >= 0 AND start_minute < 1440 AND end_minute > start_minute "
            "AND end_minute <= start_minute + 1440",
            name="ck_working_hours_minutes",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    resource: Mapped[Resource] = relationship(back_populates="hours")


class HoursOverride(Base):
    """A date with its own hours; both minutes ``NULL`` means unavailable all that date."""

    __tablename__ = "hours_overrides"
    __table_args__ = (
        CheckConstraint(
            "(start_minute IS NULL AND end_minute IS NULL) OR "
            "(start_minute >= 0 AND start_minute < 1440 AND end_minute > start_minute "
            "AND end_minute <= start_minute + 1440)",
            name="ck_hours_overrides_minutes",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    start_minute: Mapped[int | None] = mapped_column(Integer)
    end_minute: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))
    # Set on the dates an out-of-office entry marks unavailable (they go with it).
    out_of_office_id: Mapped[int | None] = mapped_column(
        ForeignKey("out_of_office.id", ondelete="CASCADE"), index=True
    )

    resource: Mapped[Resource] = relationship(back_populates="overrides")


class OutOfOffice(Base):
    """Dates a member is away (``first_date`` to ``last_date``, local, inclusive).

    The dates are stored as unavailable date overrides (``HoursOverride.out_of_office_id``);
    ``stand_in`` optionally takes the member's place in pools while they are away.
    """

    __tablename__ = "out_of_office"
    __table_args__ = (
        CheckConstraint("last_date >= first_date", name="ck_out_of_office_dates"),
        CheckConstraint("stand_in_id IS NULL OR stand_in_id <> member_id", name="ck_out_of_office_stand_in"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    first_date: Mapped[dt.date] = mapped_column(Date)
    last_date: Mapped[dt.date] = mapped_column(Date)
    stand_in_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    member: Mapped[Resource] = relationship(foreign_keys=[member_id])
    stand_in: Mapped[Resource | None] = relationship(foreign_keys=[stand_in_id])


pool_members = Table(
    "pool_members",
    Base.metadata,
    Column("pool_id", ForeignKey("resource_pools.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True),
    # Weighted round robin: a member's target share is weight / sum of the pool's weights;
    # ties go to the higher priority.
    Column("weight", Integer, nullable=False, server_default="1"),
    Column("priority", Integer, nullable=False, server_default="0"),
    CheckConstraint("weight >= 0", name="ck_pool_members_weight"),
)

POOL_POLICIES = ("pooled", "round_robin", "weighted")
_POLICY_SQL = "('pooled', 'round_robin', 'weighted')"


class ResourcePool(Base):
    """A set of members of whom ``panel_size`` attend a meeting, chosen by the pool's policy.

    ``policy`` NULL follows the organisation default (:class:`TeamSettings`); an invitation may
    override it (``Invitation.pool_policy``). ``compensate_removed``: a cancelled meeting is
    given back to the member who lost it.
    """

    __tablename__ = "resource_pools"
    __table_args__ = (
        CheckConstraint(f"policy IS NULL OR policy IN {_POLICY_SQL}", name="ck_resource_pools_policy"),
        CheckConstraint("panel_size >= 1", name="ck_resource_pools_panel_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[str | None] = mapped_column(String(16))
    panel_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    compensate_removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())

    members: Mapped[list[TeamMember]] = relationship(
        secondary=pool_members, back_populates="pools", order_by="Resource.id"
    )


# --- calendars ------------------------------------------------------------------------------

CONNECTION_KINDS = ("ics_url", "ics_file", "caldav", "demo")


class CalendarConnection(Base):
    """A calendar whose busy time Slotwise reads (and, for CalDAV, writes meetings to)."""

    __tablename__ = "calendar_connections"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('ics_url', 'ics_file', 'caldav', 'demo')", name="ck_calendar_connections_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    calendar_url: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    ics_data: Mapped[str | None] = mapped_column(Text)
    write_back: Mapped[bool] = mapped_column(Boolean, default=False)
    sync_days: Mapped[int] = mapped_column(Integer, default=90)
    last_synced_at: Mapped[dt.datetime | None]
    last_status: Mapped[str] = mapped_column(String(16), default="never")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    resource: Mapped[Resource] = relationship(back_populates="connections")
    busy_blocks: Mapped[list[BusyBlock]] = relationship(
        back_populates="connection", cascade="all, delete-orphan", passive_deletes=True
    )


class BusyBlock(Base):
    """Busy time imported from a calendar connection, ``[start, end)`` in UTC."""

    __tablename__ = "busy_blocks"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ck_busy_blocks_order"),
        Index("ix_busy_blocks_resource_time", "resource_id", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE"), index=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    start: Mapped[dt.datetime] = mapped_column("start_at")
    end: Mapped[dt.datetime] = mapped_column("end_at")

    connection: Mapped[CalendarConnection] = relationship(back_populates="busy_blocks")


# --- invitations and meetings ---------------------------------------------------------------

INVITATION_STATUSES = ("active", "scheduled", "cancelled", "expired")

invitation_members = Table(
    "invitation_members",
    Base.metadata,
    Column("invitation_id", ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("resources.id"), primary_key=True),
)
invitation_pools = Table(
    "invitation_pools",
    Base.metadata,
    Column("invitation_id", ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
    Column("pool_id", ForeignKey("resource_pools.id"), primary_key=True),
)
invitation_rooms = Table(
    "invitation_rooms",
    Base.metadata,
    Column("invitation_id", ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
    Column("room_id", ForeignKey("resources.id"), primary_key=True),
)


class Invitation(Base):
    """A customer's invitation to self-schedule one meeting; its link is the customer's key.

    Only the SHA-256 hash of the link's token is stored.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('active', 'scheduled', 'cancelled', 'expired')", name="ck_invitations_status"
        ),
        CheckConstraint("duration_minutes > 0", name="ck_invitations_duration"),
        CheckConstraint(
            "buffer_before_minutes >= 0 AND buffer_after_minutes >= 0 AND minimum_notice_minutes >= 0",
            name="ck_invitations_buffers",
        ),
        CheckConstraint("frame_end >= frame_start", name="ck_invitations_frame"),
        CheckConstraint(f"pool_policy IS NULL OR pool_policy IN {_POLICY_SQL}", name="ck_invitations_pool_policy"),
        Index("ix_invitations_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(254))
    customer_zone: Mapped[str | None] = mapped_column(String(64))
    # The customer's language (``en``, ``de``, ``fr``, ``es``); NULL: the browser's, on first open.
    language: Mapped[str | None] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    conferencing: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    slot_interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    min_capacity: Mapped[int] = mapped_column(Integer, default=1)
    frame_start: Mapped[dt.date] = mapped_column(Date)
    frame_end: Mapped[dt.date] = mapped_column(Date)
    zone: Mapped[str] = mapped_column(String(64))
    promote: Mapped[bool] = mapped_column(Boolean, default=False)
    promote_count: Mapped[int] = mapped_column(Integer, default=5)
    delivery: Mapped[str] = mapped_column(String(16), default="email")
    # Overrides the assignment policy of every pool of this invitation (NULL: each pool's own).
    pool_policy: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    # The customer's change policy; ``None`` takes the installation's default
    # (``CHANGE_CUTOFF_HOURS``, ``MAX_RESCHEDULES``).
    change_cutoff_hours: Mapped[int | None] = mapped_column(Integer)
    max_reschedules: Mapped[int | None] = mapped_column(Integer)

    created_by: Mapped[User | None] = relationship()
    members: Mapped[list[TeamMember]] = relationship(secondary=invitation_members, order_by="Resource.id")
    pools: Mapped[list[ResourcePool]] = relationship(secondary=invitation_pools, order_by="ResourcePool.id")
    rooms: Mapped[list[Room]] = relationship(secondary=invitation_rooms, order_by="Resource.id")
    promoted_slots: Mapped[list[PromotedSlot]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", order_by="PromotedSlot.rank"
    )
    meeting: Mapped[Meeting | None] = relationship(back_populates="invitation")


class PromotedSlot(Base):
    """One of the few slots the optimizer chose to offer in the invitation email."""

    __tablename__ = "promoted_slots"
    __table_args__ = (UniqueConstraint("invitation_id", "rank", name="uq_promoted_slots_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    start: Mapped[dt.datetime] = mapped_column("start_at")
    end: Mapped[dt.datetime] = mapped_column("end_at")
    score: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")

    invitation: Mapped[Invitation] = relationship(back_populates="promoted_slots")


MEETING_STATUSES = ("confirmed", "cancelled")


class Meeting(Base):
    """A confirmed booking: one per invitation (the unique constraint makes it so)."""

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="ck_meetings_status"),
        CheckConstraint("end_at > start_at", name="ck_meetings_order"),
        Index("ix_meetings_start", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    start: Mapped[dt.datetime] = mapped_column("start_at")
    end: Mapped[dt.datetime] = mapped_column("end_at")
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(254))
    customer_zone: Mapped[str | None] = mapped_column(String(64))
    # The language the customer booked in; their mail about the meeting speaks it.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    # The SHA-256 of the customer's manage link (reschedule, cancel); only the hash is stored.
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    invitation: Mapped[Invitation] = relationship(back_populates="meeting")
    created_by: Mapped[User | None] = relationship()
    reservations: Mapped[list[Reservation]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan"
    )


class Reservation(Base):
    """A resource held for a meeting: the meeting's time plus its own buffers, ``[start, end)``.

    On PostgreSQL an exclusion constraint forbids two reservations of one resource that overlap;
    on SQLite the booking path holds the write lock while it re-checks and inserts.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ck_reservations_order"),
        Index("ix_reservations_resource_time", "resource_id", "start_at", "end_at"),
        ExcludeConstraint(
            ("resource_id", "="),
            (func.tstzrange(Column("start_at"), Column("end_at"), "[)"), "&&"),
            name="ex_reservations_no_overlap",
            using="gist",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    start: Mapped[dt.datetime] = mapped_column("start_at")
    end: Mapped[dt.datetime] = mapped_column("end_at")

    meeting: Mapped[Meeting] = relationship(back_populates="reservations")
    resource: Mapped[Resource] = relationship()


class SlotHold(Base):
    """A time held for a customer for a few minutes while they confirm it: one row per resource.

    ``slot_start`` is the held start; ``start``/``end`` the time held like a reservation (the
    meeting's time plus its buffers). A hold counts as busy time for every other invitation until
    ``expires_at``; after that it blocks nothing (the worker deletes it later). An invitation
    holds one start at a time.
    """

    __tablename__ = "slot_holds"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ck_slot_holds_order"),
        Index("ix_slot_holds_resource_time", "resource_id", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    slot_start: Mapped[dt.datetime]
    start: Mapped[dt.datetime] = mapped_column("start_at")
    end: Mapped[dt.datetime] = mapped_column("end_at")
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReplacedLink(Base):
    """The hash of an invitation link a resend replaced, so its page can point to the newer one."""

    __tablename__ = "replaced_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    replaced_at: Mapped[dt.datetime]


class PoolAssignment(Base):
    """One member a meeting took from a pool, by which policy, and the sentence that says why.

    The policies' state is these rows: the round-robin rotation continues after the latest one,
    weighted shares count them (without those given back), and the dashboard's fairness view
    reads them. ``cancelled_at``: the meeting was cancelled; ``given_back_at``: with
    compensation, the member has had the lost turn back.
    """

    __tablename__ = "pool_assignments"
    __table_args__ = (
        Index("ix_pool_assignments_pool", "pool_id", "assigned_at"),
        CheckConstraint(f"policy IN {_POLICY_SQL}", name="ck_pool_assignments_policy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pools.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    policy: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]
    given_back_at: Mapped[dt.datetime | None]
    compensated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())

    pool: Mapped[ResourcePool] = relationship()
    member: Mapped[Resource] = relationship()


class TeamSettings(Base):
    """Organisation-wide settings: one row (``id = 1``).

    ``embed_allowed_origins``: the web origins (``https://www.example.com``) allowed to frame the
    customer's pages, space-separated, added to the deployment's ``EMBED_ALLOWED_ORIGINS``
    (:mod:`booking_service.services.embedding`).
    """

    __tablename__ = "team_settings"
    __table_args__ = (
        CheckConstraint(f"default_pool_policy IN {_POLICY_SQL}", name="ck_team_settings_policy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    default_pool_policy: Mapped[str] = mapped_column(String(16), default="pooled", server_default="pooled")
    embed_allowed_origins: Mapped[str] = mapped_column(Text, default="", server_default="")

    @classmethod
    def of(cls, session: Session) -> TeamSettings | None:
        """The row (``None`` until an admin first changes a setting), read once per session.

        The session keeps what it read, the row or its absence (its identity map alone holds
        rows only weakly), so a page that needs both the frame origins and a pool's default
        policy reads it once. :meth:`create` is how a session adds the row.
        """
        info = session.info
        if "team_settings" not in info or (info["team_settings"] is not None and info["team_settings"] not in session):
            info["team_settings"] = session.get(cls, 1)
        return info["team_settings"]

    @classmethod
    def create(cls, session: Session) -> TeamSettings:
        """Add the row (there is none yet: :meth:`of` is ``None``), with every setting at its default."""
        row = session.info["team_settings"] = cls(id=1, default_pool_policy="pooled", embed_allowed_origins="")
        session.add(row)
        return row


# --- outgoing work --------------------------------------------------------------------------

OUTBOX_STATUSES = ("pending", "sent", "failed", "superseded")
"""``superseded``: withdrawn before it was sent (its link was replaced, or its invitation closed)."""


class OutboxMessage(Base):
    """An email, stored before it is sent so that a failed send never loses it.

    The message as sent (with its working booking links) is only in ``content_encrypted``, and
    only while it waits to be sent; ``body_text``, ``body_html`` and ``ics`` hold the copy with
    its links redacted, for reading in the dashboard (:mod:`booking_service.services.outbox`).
    ``message_id_header`` is the ``Message-ID`` every attempt to send it carries, set at the first.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        UniqueConstraint("message_id_header", name="uq_outbox_messages_message_id_header"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text)
    content_encrypted: Mapped[str | None] = mapped_column(Text)
    message_id_header: Mapped[str | None] = mapped_column(String(255))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    # The SHA-256 of the booking link's token an invitation mail carries, so that a mail whose
    # link a resend replaced can be told apart (only the hash, as on the invitation).
    link_hash: Mapped[str | None] = mapped_column(String(64))
    # Where replies go (the scheduler, for mail to customers).
    reply_to: Mapped[str | None] = mapped_column(String(254))
    # The meeting start a reminder speaks of: a reminder for any other start is stale.
    about_start: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    # How a sent message went out: "smtp" (handed to the mail server of SMTP_URL) or "file"
    # (written as an .eml file under var/outbox because no SMTP is configured; nobody got it).
    delivered_via: Mapped[str | None] = mapped_column(String(16))


class CalendarWrite(Base):
    """A queued write of a meeting to a CalDAV calendar (``put``) or its removal (``delete``)."""

    __tablename__ = "calendar_writes"
    __table_args__ = (Index("ix_calendar_writes_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("calendar_connections.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """Who changed what, and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User | None] = relationship()


class SignInFailure(Base):
    """One failed dashboard sign-in, kept for a short window to rate-limit guessing.

    ``email`` is the address as typed (normalized), whether or not such a user exists, so that
    the limit never reveals which addresses are accounts. ``client`` names where the attempt
    came from (IP address, else the browser session).
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    client: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DashboardSession(Base):
    """One signed-in dashboard browser: the server side of its session cookie.

    The cookie carries a random token (256 bits, signed with ``SECRET_KEY``); only the token's
    SHA-256 hash is stored here, so the table cannot be replayed as cookies. A session ends when
    it is idle longer than ``SESSION_IDLE_MINUTES`` (``last_seen_at``) or is revoked
    (``revoked_at``: signed out, password changed or reset, account disabled).
    """

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        state = f"revoked {self.revoked_reason}" if self.revoked_at else f"last seen {self.last_seen_at}"
        return f"<DashboardSession {self.id} user={self.user_id} {state}>"


# --- the JSON API and webhooks --------------------------------------------------------------

API_KEY_SCOPES = ("read", "write", "webhooks")
"""What an API key may do: ``read`` (GET), ``write`` (create, resend, cancel), ``webhooks`` (manage subscriptions)."""


class ApiKey(Base):
    """A key a dashboard user made for the JSON API; it acts with exactly that user's permissions.

    Only the SHA-256 hash of the key is stored; ``prefix`` (the first characters, shown in the
    dashboard and in the API's own answers) tells keys apart without revealing them.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


WEBHOOK_DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookSubscription(Base):
    """Where to send which events, signed with a secret (stored encrypted: it is needed to sign).

    A subscription belongs to the user who made it and receives only the events of the
    invitations and meetings that user may see.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class WebhookDelivery(Base):
    """One event queued for one subscription, written in the transaction of the change it reports.

    ``event_id`` is the ``webhook-id`` every attempt carries, so a receiver folds repeats.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]

    subscription: Mapped[WebhookSubscription] = relationship()
