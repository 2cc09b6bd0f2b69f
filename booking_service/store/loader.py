"""Read the organisation from the database as the planner's input tables.

The planner works on plain DataFrames (see ``planner``'s documentation for the columns); this
module is the one place that turns rows into those tables. Resource ids become strings
(``str(Resource.id)``). Reservations become busy time widened by their meeting's buffers, which
the reservation rows already hold.

For one request's few resources (every booking page, every booking re-check),
:func:`load_tables` reads the same rows into the planner's prepared :class:`planner.tables.Tables`
directly, without the DataFrames and the checks they would go through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Select, String, bindparam, literal, or_, select, type_coerce, union_all
from sqlalchemy.orm import Session, selectinload

from planner.analytics.demand import HISTORY_COLUMNS
from planner.tables import Tables

from .models import (
    BusyBlock,
    HoursOverride,
    Invitation,
    Meeting,
    PoolAssignment,
    Reservation,
    Resource,
    ResourcePool,
    SlotHold,
    WorkingHours,
    pool_members,
)

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class PlannerInputs:
    """The organisation as the planner reads it.

    Attributes
    ----------
    resources : DataFrame
        ``resource_id`` (str), ``kind`` ("member"/"room"), ``zone``, ``capacity``, ``name``.
    hours : DataFrame
        ``resource_id``, ``weekday`` (0 = Monday), ``start``, ``end`` (minutes after local midnight).
    overrides : DataFrame
        ``resource_id``, ``date``, ``start``, ``end`` (nullable Int64: both NA = unavailable).
    busy : DataFrame
        ``resource_id``, ``start``, ``end`` (datetime64[ns, UTC]), ``source``
        ("calendar" or "reservation").
    pools : DataFrame
        ``pool_id`` (str), ``name``, ``member_id`` (str).
    """

    resources: pd.DataFrame
    hours: pd.DataFrame
    overrides: pd.DataFrame
    busy: pd.DataFrame
    pools: pd.DataFrame


def _instants(values: list) -> pd.DatetimeIndex:
    """Instants as the driver gives them: naive-UTC text (SQLite, the busy query) or datetimes."""
    return pd.DatetimeIndex(_instants_ns(values).view("datetime64[ns]")).tz_localize("UTC")


def _instants_ns(values: list) -> np.ndarray:
    """:func:`_instants` as int64 ns since the epoch."""
    if values and isinstance(values[0], str):
        # SQLite stores UTCDateTime as naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]"
        # (models.UTCDateTime), which numpy parses as UTC; anything else raises.
        naive = np.array(values, dtype="datetime64[us]")
    else:
        # Columnar numpy construction: pandas' row-wise inference is ~40x slower, and these
        # loaders run on every booking page.
        naive = np.array([v.astimezone(dt.UTC).replace(tzinfo=None) for v in values], dtype="datetime64[us]")
    return naive.astype("datetime64[ns]").view(np.int64)


def _column(rows, i: int, dtype) -> np.ndarray:
    return np.array([r[i] for r in rows], dtype=dtype)


def _ids(rows, i: int = 0) -> np.ndarray:
    return np.array([str(r[i]) for r in rows], dtype=object)


# The statements below are built once per process (``cache``) with bound parameters, not per
# call: constructing a ``select()`` costs more Python time than SQLite takes to run it, and these
# loaders run on every booking page. ``resource_ids`` is an expanding ``IN`` parameter.
_RESOURCE_IDS = "resource_ids"


_LIMIT_COLUMNS = (Resource.max_meetings_day, Resource.max_minutes_day, Resource.max_meetings_week,
                  Resource.max_minutes_week)
LIMIT_NAMES = ("max_meetings_day", "max_minutes_day", "max_meetings_week", "max_minutes_week")


@cache
def _resources_query(include_inactive: bool, restricted: bool) -> Select:
    query = select(
        Resource.id, Resource.kind, Resource.zone, Resource.capacity, Resource.name, Resource.email, *_LIMIT_COLUMNS
    ).order_by(Resource.id)
    if not include_inactive:
        query = query.where(Resource.active.is_(True))
    if restricted:
        query = query.where(Resource.id.in_(bindparam(_RESOURCE_IDS, expanding=True)))
    return query


@cache
def _hours_query(restricted: bool) -> Select:
    query = select(
        WorkingHours.resource_id,
        WorkingHours.weekday,
        WorkingHours.start_minute,
        WorkingHours.end_minute,
    ).order_by(WorkingHours.resource_id, WorkingHours.weekday, WorkingHours.start_minute)
    if restricted:
        query = query.where(WorkingHours.resource_id.in_(bindparam(_RESOURCE_IDS, expanding=True)))
    return query


@cache
def _overrides_query(restricted: bool) -> Select:
    query = select(
        HoursOverride.resource_id,
        HoursOverride.date,
        HoursOverride.start_minute,
        HoursOverride.end_minute,
    ).order_by(HoursOverride.resource_id, HoursOverride.date)
    if restricted:
        query = query.where(HoursOverride.resource_id.in_(bindparam(_RESOURCE_IDS, expanding=True)))
    return query


@cache
def _busy_query(bounded_start: bool, bounded_end: bool, restricted: bool, holds: bool = False,
                holder: bool = False, skip_meeting: bool = False):
    parts = []
    sources = [(BusyBlock, "calendar"), (Reservation, "reservation")]
    if holds:
        sources.append((SlotHold, "hold"))
    for model, source in sources:
        # The instants come back as the driver gives them (type_coerce skips the UTCDateTime
        # result processing): SQLite's stored naive-UTC text, which numpy parses in one call
        # (see _instants), or PostgreSQL's aware datetimes.
        query = select(
            model.resource_id,
            type_coerce(model.start, String),
            type_coerce(model.end, String),
            literal(source).label("source"),
        )
        if bounded_start:
            query = query.where(model.end > bindparam("busy_from"))
        if bounded_end:
            query = query.where(model.start < bindparam("busy_to"))
        if restricted:
            query = query.where(model.resource_id.in_(bindparam(_RESOURCE_IDS, expanding=True)))
        if model is SlotHold:
            # A hold blocks others only until it expires, and never its own invitation.
            query = query.where(SlotHold.expires_at > bindparam("holds_at", type_=SlotHold.expires_at.type))
            if holder:
                query = query.where(SlotHold.invitation_id != bindparam("holder"))
        if model is Reservation and skip_meeting:
            query = query.where(Reservation.meeting_id != bindparam("skip_meeting"))
        parts.append(query)
    # One round trip for every kind of busy time.
    return union_all(*parts)


def _restriction(resource_ids: list[int] | None) -> dict[str, list[int]]:
    return {} if resource_ids is None else {_RESOURCE_IDS: list(resource_ids)}


def load_resources(
    session: Session, *, include_inactive: bool = False, resource_ids: list[int] | None = None
) -> pd.DataFrame:
    """Members and rooms: ``resource_id``, ``kind``, ``zone``, ``capacity``, ``name``, ``email``.

    ``resource_ids`` restricts the table to those resources.
    """
    query = _resources_query(include_inactive, resource_ids is not None)
    rows = session.connection().execute(query, _restriction(resource_ids)).all()
    return pd.DataFrame(
        {
            "resource_id": _ids(rows),
            "kind": _column(rows, 1, object),
            "zone": _column(rows, 2, object),
            "capacity": _column(rows, 3, np.int64),
            "name": _column(rows, 4, object),
            "email": _column(rows, 5, object),
        },
        copy=False,  # fresh arrays: no need to copy them again
    )


def load_hours(session: Session, resource_ids: list[int] | None = None) -> pd.DataFrame:
    """Weekly hours: ``resource_id``, ``weekday``, ``start``, ``end`` (minutes)."""
    query = _hours_query(resource_ids is not None)
    rows = session.connection().execute(query, _restriction(resource_ids)).all()
    return pd.DataFrame(
        {
            "resource_id": _ids(rows),
            "weekday": _column(rows, 1, np.int64),
            "start": _column(rows, 2, np.int64),
            "end": _column(rows, 3, np.int64),
        },
        copy=False,  # fresh arrays: no need to copy them again
    )


def load_overrides(session: Session, resource_ids: list[int] | None = None) -> pd.DataFrame:
    """Per-date hours: ``resource_id``, ``date``, ``start``, ``end`` (Int64, NA = unavailable)."""
    query = _overrides_query(resource_ids is not None)
    rows = session.connection().execute(query, _restriction(resource_ids)).all()
    return pd.DataFrame(
        {
            "resource_id": _ids(rows),
            "date": _column(rows, 1, object),
            "start": pd.array([r[2] for r in rows], dtype="Int64"),
            "end": pd.array([r[3] for r in rows], dtype="Int64"),
        },
        copy=False,  # fresh arrays: no need to copy them again
    )


def load_busy(
    session: Session,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    resource_ids: list[int] | None = None,
    *,
    holds_at: dt.datetime | None = None,
    holder: int | None = None,
    skip_meeting: int | None = None,
) -> pd.DataFrame:
    """Busy time from calendars and active reservations overlapping ``[start, end)``.

    With ``holds_at``, slot holds that have not expired at that instant count too (``source``
    ``"hold"``), except those of invitation ``holder``. ``skip_meeting`` leaves out that meeting's
    reservations (a meeting being moved does not block its own new time).

    Returns
    -------
    DataFrame
        ``resource_id`` (str), ``start``, ``end`` (datetime64[ns, UTC]), ``source``; sorted by
        ``resource_id`` (as str) then ``start``, calendar blocks before reservations on ties.
    """
    rows = _busy_rows(session, start, end, resource_ids, holds_at=holds_at, holder=holder, skip_meeting=skip_meeting)
    ids = _ids(rows)
    starts = _instants([r[1] for r in rows])
    ends = _instants([r[2] for r in rows])
    # By resource (as str) then start. lexsort is stable, so ties keep the union's order
    # (calendar blocks first); sorting the arrays is cheaper than sorting a DataFrame.
    order = np.lexsort((starts.asi8, ids)) if rows else np.zeros(0, dtype=np.int64)
    return pd.DataFrame(
        {
            "resource_id": ids[order],
            "start": starts[order],
            "end": ends[order],
            "source": _column(rows, 3, object)[order],
        },
        copy=False,  # fresh arrays: no need to copy them again
    )


def _busy_rows(
    session: Session,
    start: dt.datetime | None,
    end: dt.datetime | None,
    resource_ids: list[int] | None,
    *,
    holds_at: dt.datetime | None,
    holder: int | None,
    skip_meeting: int | None,
) -> list:
    """The rows of :func:`load_busy`: (resource id, start, end, source), instants as the driver gives them."""
    query = _busy_query(start is not None, end is not None, resource_ids is not None, holds_at is not None,
                        holder is not None, skip_meeting is not None)
    params: dict[str, object] = _restriction(resource_ids)
    if holds_at is not None:
        params["holds_at"] = holds_at
    if holder is not None:
        params["holder"] = holder
    if skip_meeting is not None:
        params["skip_meeting"] = skip_meeting
    if start is not None:
        params["busy_from"] = start
    if end is not None:
        params["busy_to"] = end
    return session.connection().execute(query, params).all()


def load_tables(
    session: Session,
    resource_ids: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    *,
    holds_at: dt.datetime | None = None,
    holder: int | None = None,
    skip_meeting: int | None = None,
) -> tuple[Tables, pd.DataFrame]:
    """The planner's prepared tables of ``resource_ids``, busy time overlapping ``[start, end)``.

    What :func:`planner.tables.prepare` makes of :func:`load_resources`, :func:`load_hours`,
    :func:`load_overrides` and :func:`load_busy` (same arguments) restricted to ``resource_ids``,
    built straight from the rows, and beside it :func:`load_limits`' table of those of them that
    have any limit (read from the same rows). ``resource_ids`` are planner ids (``str(Resource.id)``);
    the tables' rows follow their order, and inactive ones are left out (the caller decides what
    a missing resource means). ``prepare``'s checks are skipped: the database's constraints and
    the forms that write it already hold them, and on a booking page building DataFrames to
    check them cost more than solving the request.
    """
    ids = list(dict.fromkeys(int(i) for i in resource_ids))
    restriction = _restriction(ids)
    connection = session.connection()
    resources = connection.execute(_resources_query(False, True), restriction).all()
    hours = connection.execute(_hours_query(True), restriction).all()
    overrides = connection.execute(_overrides_query(True), restriction).all()
    busy = _busy_rows(session, start, end, ids, holds_at=holds_at, holder=holder, skip_meeting=skip_meeting)

    found = {r[0]: r for r in resources}
    present = [i for i in ids if i in found]
    row_of = {rid: row for row, rid in enumerate(present)}
    rows = [found[i] for i in present]
    if len(present) < len(ids):  # an inactive resource's rows are left out with it
        hours, overrides, busy = ([r for r in part if r[0] in row_of] for part in (hours, overrides, busy))
    limits = _limits_frame([(r[0], *r[6:10]) for r in rows if any(v is not None for v in r[6:10])])

    h_res = np.array([row_of[r[0]] for r in hours], dtype=np.int64)
    h_wd, h_start, h_end = (_column(hours, i, np.int64) for i in (1, 2, 3))
    order = np.lexsort((h_start, h_wd, h_res))  # the planner's order: by row, weekday, start
    o_res = np.array([row_of[r[0]] for r in overrides], dtype=np.int64)
    o_day = np.array([r[1].toordinal() - _EPOCH_ORDINAL for r in overrides], dtype=np.int64)
    o_start = np.array([-1 if r[2] is None else r[2] for r in overrides], dtype=np.int64)
    o_end = np.array([-1 if r[3] is None else r[3] for r in overrides], dtype=np.int64)
    o_order = np.lexsort((o_start, o_day, o_res))
    planner_ids = np.array([str(i) for i in present], dtype=object)
    tables = Tables(
        ids=planner_ids,
        kind=_column(rows, 1, object),
        zone=_column(rows, 2, object),
        capacity=_column(rows, 3, np.int64),
        lookup={rid: row for row, rid in enumerate(planner_ids.tolist())},
        hours_res=h_res[order], hours_weekday=h_wd[order], hours_start=h_start[order], hours_end=h_end[order],
        ov_res=o_res[o_order], ov_day=o_day[o_order], ov_start=o_start[o_order], ov_end=o_end[o_order],
        busy_res=np.array([row_of[r[0]] for r in busy], dtype=np.int64),
        busy_start=_instants_ns([r[1] for r in busy]),
        busy_end=_instants_ns([r[2] for r in busy]),
    )  # fmt: skip
    return tables, limits


def load_pools(session: Session) -> pd.DataFrame:
    """Pool membership: ``pool_id`` (str), ``name``, ``member_id`` (str)."""
    rows = session.execute(
        select(ResourcePool.id, ResourcePool.name, pool_members.c.member_id)
        .join(pool_members, pool_members.c.pool_id == ResourcePool.id)
        .order_by(ResourcePool.id, pool_members.c.member_id)
    ).all()
    frame = pd.DataFrame(rows, columns=["pool_id", "name", "member_id"])
    return frame.astype({"pool_id": str, "member_id": str})


def load_planner_inputs(
    session: Session, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> PlannerInputs:
    """Everything the planner needs, in one call (read-only)."""
    return PlannerInputs(
        resources=load_resources(session),
        hours=load_hours(session),
        overrides=load_overrides(session),
        busy=load_busy(session, start, end),
        pools=load_pools(session),
    )


INVITATION_COLUMNS = [
    "invitation_id", "subject", "customer_name", "customer_zone", "status", "members", "pool_ids",
    "pools", "rooms", "min_capacity", "duration_minutes", "buffer_before_minutes",
    "buffer_after_minutes", "minimum_notice_minutes", "slot_interval_minutes", "frame_start",
    "frame_end", "zone", "promote", "promote_count", "created_at",
]


def load_invitations(session: Session, status: str | None = "active") -> pd.DataFrame:
    """Invitations as a table for analysis (one row each; resources as tuples of str ids).

    ``members`` and ``rooms`` are tuples of resource ids, ``pools`` a tuple of member-id tuples
    (one per pool, in ``pool_ids`` order): the fields of a ``planner.SlotRequest``, with the
    minutes columns giving its durations. ``status=None`` returns every invitation.
    """
    query = select(Invitation).order_by(Invitation.id)
    if status is not None:
        query = query.where(Invitation.status == status)
    rows = []
    for inv in session.scalars(query):
        rows.append(
            {
                "invitation_id": inv.id,
                "subject": inv.subject,
                "customer_name": inv.customer_name,
                "customer_zone": inv.customer_zone,
                "status": inv.status,
                "members": tuple(str(m.id) for m in inv.members),
                "pool_ids": tuple(str(p.id) for p in inv.pools),
                "pools": tuple(tuple(str(m.id) for m in p.members) for p in inv.pools),
                "rooms": tuple(str(r.id) for r in inv.rooms),
                "min_capacity": inv.min_capacity,
                "duration_minutes": inv.duration_minutes,
                "buffer_before_minutes": inv.buffer_before_minutes,
                "buffer_after_minutes": inv.buffer_after_minutes,
                "minimum_notice_minutes": inv.minimum_notice_minutes,
                "slot_interval_minutes": inv.slot_interval_minutes,
                "frame_start": inv.frame_start,
                "frame_end": inv.frame_end,
                "zone": inv.zone,
                "promote": inv.promote,
                "promote_count": inv.promote_count,
                "created_at": inv.created_at,
            }
        )
    return pd.DataFrame(rows, columns=INVITATION_COLUMNS)


def load_meetings(session: Session, status: str | None = "confirmed") -> pd.DataFrame:
    """Meetings with the resources they reserve: ``meeting_id``, ``start``, ``end``, ``resource_ids``."""
    query = select(Meeting).order_by(Meeting.start)
    if status is not None:
        query = query.where(Meeting.status == status)
    rows = [
        {
            "meeting_id": m.id,
            "invitation_id": m.invitation_id,
            "start": m.start,
            "end": m.end,
            "customer_name": m.customer_name,
            "resource_ids": tuple(str(r.resource_id) for r in m.reservations),
        }
        for m in session.scalars(query)
    ]
    frame = pd.DataFrame(rows, columns=["meeting_id", "invitation_id", "start", "end", "customer_name", "resource_ids"])
    for column in ("start", "end"):
        frame[column] = _instants(list(frame[column]))
    return frame


@dataclass(frozen=True)
class OrganisationData(PlannerInputs):
    """The planner's input tables plus the invitations and meetings, for analysis.

    Attributes
    ----------
    invitations : DataFrame
        See :func:`load_invitations` (active invitations unless asked otherwise).
    meetings : DataFrame
        See :func:`load_meetings` (confirmed meetings unless asked otherwise).
    pool_assignments, pool_targets : DataFrame
        See :func:`load_pool_assignments` and :func:`load_pool_targets`: the inputs of
        :func:`planner.teams.fairness`.
    invitation_history : DataFrame
        See :func:`load_invitation_history`: every invitation and what became of it, the input
        of :mod:`planner.analytics.demand`.
    """

    invitations: pd.DataFrame
    meetings: pd.DataFrame
    pool_assignments: pd.DataFrame | None = None
    pool_targets: pd.DataFrame | None = None
    invitation_history: pd.DataFrame | None = None


def load_organisation(
    session: Session,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    invitation_status: str | None = "active",
    meeting_status: str | None = "confirmed",
) -> OrganisationData:
    """Every table an analyst needs, in one call: :func:`load_planner_inputs` plus invitations and meetings.

    ``start`` and ``end`` (tz-aware) limit the busy time (calendar blocks and reservations) to
    what overlaps ``[start, end)``; the other tables are complete.
    """
    inputs = load_planner_inputs(session, start, end)
    return OrganisationData(
        resources=inputs.resources,
        hours=inputs.hours,
        overrides=inputs.overrides,
        busy=inputs.busy,
        pools=inputs.pools,
        invitations=load_invitations(session, invitation_status),
        meetings=load_meetings(session, meeting_status),
        pool_assignments=load_pool_assignments(session),
        pool_targets=load_pool_targets(session),
        invitation_history=load_invitation_history(session),
    )


def open_organisation(
    database_url: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    invitation_status: str | None = "active",
    meeting_status: str | None = "confirmed",
) -> OrganisationData:
    """Open the database at ``database_url`` read-only and return :func:`load_organisation`'s tables.

    The notebook entry point: one call, no session to manage. The transaction is read-only in
    the database itself (SQLite ``query_only``, PostgreSQL ``READ ONLY``) and rolled back.

    Parameters
    ----------
    database_url : str, optional
        SQLite or PostgreSQL URL; default: the installation's ``DATABASE_URL`` setting.
    start, end : datetime, optional
        Tz-aware bounds of the busy time to load.

    Raises
    ------
    ConfigError
        When the SQLite file does not exist, the database is unreachable or has no Slotwise
        schema; the message says what to run.

    Examples
    --------
    >>> org = open_organisation("sqlite:///var/slotwise.db")  # doctest: +SKIP
    >>> org.resources[["resource_id", "kind", "zone"]].head()  # doctest: +SKIP
    """
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from ..core.config import ConfigError, load_settings
    from .db import check_connection, make_engine, read_only_session

    for bound, label in ((start, "start"), (end, "end")):
        if bound is not None and bound.tzinfo is None:
            raise ConfigError(f"{label}={bound!r} is naive; pass a tz-aware datetime (e.g. with tzinfo=UTC)")
    url = database_url or load_settings().database_url
    parsed = make_url(url) if "://" in url else None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            raise ConfigError(
                f"no SQLite database file at {path!r}; create one with "
                "'slotwise init-db && slotwise seed-demo' (DATABASE_URL selects the file)"
            )
    engine = make_engine(url)
    try:
        check_connection(engine)
        if not inspect(engine).has_table(Resource.__tablename__):
            raise ConfigError(
                f"the database {engine.url.render_as_string(hide_password=True)} has no Slotwise "
                "tables; run 'slotwise init-db' (and 'slotwise seed-demo' for demo data)"
            )
        with read_only_session(engine) as session:
            return load_organisation(
                session,
                start,
                end,
                invitation_status=invitation_status,
                meeting_status=meeting_status,
            )
    finally:
        engine.dispose()


def load_limits(session: Session, resource_ids: list[int] | None = None) -> pd.DataFrame:
    """Per-person limits of the resources that have any (:class:`planner.Limits`' ``limits`` table).

    ``resource_id`` (str) and the four limit columns (nullable Int64).
    """
    query = select(Resource.id, *_LIMIT_COLUMNS).where(
        or_(*(column.is_not(None) for column in _LIMIT_COLUMNS))
    ).order_by(Resource.id)
    if resource_ids is not None:
        query = query.where(Resource.id.in_(resource_ids))
    return _limits_frame(session.execute(query).all())


def _limits_frame(rows) -> pd.DataFrame:
    # Nobody limited is the common case: the typed empty table is built once and copied.
    return _table_of_limits(rows) if rows else _no_limits().copy()


@cache
def _no_limits() -> pd.DataFrame:
    return _table_of_limits([])


def _table_of_limits(rows) -> pd.DataFrame:
    frame = pd.DataFrame({"resource_id": pd.Series([str(r[0]) for r in rows], dtype=str)})
    for i, name in enumerate(LIMIT_NAMES, start=1):
        frame[name] = pd.array([r[i] for r in rows], dtype="Int64")
    return frame


def load_held_meetings(
    session: Session, start: dt.datetime, end: dt.datetime, resource_ids: list[int]
) -> pd.DataFrame:
    """Confirmed meetings starting in ``[start, end)`` per resource they reserve, for limits.

    ``resource_id`` (str), ``start``, ``end`` (the meeting's own time, without buffers).
    """
    rows = session.execute(
        select(Reservation.resource_id, Meeting.start, Meeting.end)
        .join(Meeting, Meeting.id == Reservation.meeting_id)
        .where(
            Reservation.resource_id.in_(resource_ids),
            Meeting.status == "confirmed",
            Meeting.start >= start,
            Meeting.start < end,
        )
        .order_by(Reservation.resource_id, Meeting.start)
    ).all()
    return pd.DataFrame(
        {
            "resource_id": pd.Series([str(r[0]) for r in rows], dtype=str),
            "start": _instants([r[1] for r in rows]),
            "end": _instants([r[2] for r in rows]),
        }
    )


def load_pool_assignments(session: Session) -> pd.DataFrame:
    """Every pool assignment: ``pool_id``, ``member_id`` (str), ``at`` (UTC), ``counted``.

    ``counted`` is False for an assignment whose cancelled meeting was given back to its member
    (:mod:`planner.teams.fairness`' ``assignments`` table).
    """
    rows = session.execute(
        select(PoolAssignment.pool_id, PoolAssignment.member_id, PoolAssignment.assigned_at, PoolAssignment.compensated)
        .order_by(PoolAssignment.assigned_at, PoolAssignment.id)
    ).all()
    return pd.DataFrame(
        {
            "pool_id": pd.Series([str(r[0]) for r in rows], dtype=str),
            "member_id": pd.Series([str(r[1]) for r in rows], dtype=str),
            "at": _instants([r[2] for r in rows]),
            "counted": pd.Series([not r[3] for r in rows], dtype=bool),
        }
    )


def load_pool_targets(session: Session) -> pd.DataFrame:
    """Every member of every pool with their weight: ``pool_id``, ``member_id`` (str), ``weight``."""
    rows = session.execute(
        select(pool_members.c.pool_id, pool_members.c.member_id, pool_members.c.weight)
        .order_by(pool_members.c.pool_id, pool_members.c.member_id)
    ).all()
    return pd.DataFrame(
        {
            "pool_id": pd.Series([str(r[0]) for r in rows], dtype=str),
            "member_id": pd.Series([str(r[1]) for r in rows], dtype=str),
            "weight": pd.Series([float(r[2]) for r in rows], dtype=float),
        }
    )


def _naive_instants(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def load_invitation_history(session: Session) -> pd.DataFrame:
    """Every invitation with what became of it: the planner's invitation history table.

    One row per invitation (:mod:`planner.analytics.demand` describes the columns):
    ``created_at``, ``status``, ``booked_at`` (when its meeting was made), ``meeting_start``,
    ``cancelled_at``, ``expired_at`` (the end of the frame, midnight after ``frame_end`` in the
    invitation's zone, for expired invitations), ``booked_from`` and the request shape.
    ``booked_from`` compares the meeting's start with the invitation's promoted slots:
    ``"promoted"`` when it is one of them, ``"more times"`` when it is not, ``"not promoted"``
    when the invitation promoted none, missing when unbooked or moved since (the first pick is
    then unknown).
    """
    query = (
        select(Invitation)
        .options(
            selectinload(Invitation.members),
            selectinload(Invitation.pools).selectinload(ResourcePool.members),
            selectinload(Invitation.rooms),
            selectinload(Invitation.promoted_slots),
            selectinload(Invitation.meeting),
        )
        .order_by(Invitation.id)
    )
    rows = []
    for inv in session.scalars(query):
        meeting = inv.meeting
        booked_from = None
        if meeting is not None and not meeting.reschedule_count:
            starts = {_naive_instants(p.start) for p in inv.promoted_slots}
            if not starts:
                booked_from = "not promoted"
            else:
                booked_from = "promoted" if _naive_instants(meeting.start) in starts else "more times"
        expired_at = None
        if inv.status == "expired":
            midnight = dt.datetime.combine(inv.frame_end + dt.timedelta(days=1), dt.time(), ZoneInfo(inv.zone))
            expired_at = midnight.astimezone(dt.UTC)
        rows.append(
            {
                "invitation_id": inv.id,
                "created_at": _naive_instants(inv.created_at),
                "status": inv.status,
                "booked_at": _naive_instants(meeting.created_at) if meeting else None,
                "meeting_start": _naive_instants(meeting.start) if meeting else None,
                "cancelled_at": _naive_instants(inv.cancelled_at) if inv.status == "cancelled" else None,
                "expired_at": expired_at,
                "booked_from": booked_from,
                "members": tuple(str(m.id) for m in inv.members),
                "pools": tuple(tuple(str(m.id) for m in p.members) for p in inv.pools),
                "rooms": tuple(str(r.id) for r in inv.rooms),
                "min_capacity": inv.min_capacity,
                "duration_minutes": inv.duration_minutes,
                "buffer_before_minutes": inv.buffer_before_minutes,
                "buffer_after_minutes": inv.buffer_after_minutes,
                "slot_interval_minutes": inv.slot_interval_minutes,
                "zone": inv.zone,
            }
        )
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    for column in ("created_at", "booked_at", "meeting_start", "cancelled_at", "expired_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame
