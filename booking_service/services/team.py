"""Team management: team members, rooms, resource pools and their weekly hours.

The dashboard's "Team and rooms" page calls these functions; so can the CLI and tests. Each
function takes a ``session`` and leaves the transaction to the caller. Input problems raise
:class:`TeamError` with a message that names the bad value and what to do.

Managing the team is an admin's job: every function that changes something takes ``by`` (the
user acting), refuses with :class:`booking_service.services.permissions.PermissionDenied` unless ``by`` is
an active admin, and writes an audit entry in the same transaction.

Hours are wall-clock minutes after local midnight in the resource's own zone (see
:class:`booking_service.store.models.WorkingHours`); :func:`parse_hours` turns the ``"09:00-17:00"``
text a person types into those minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.config import ConfigError, check_zone
from ..store.models import HoursOverride, Resource, ResourcePool, Room, TeamMember, User, WorkingHours
from . import audit
from .permissions import require_admin

__all__ = [
    "TeamError",
    "WEEKDAYS",
    "parse_hours",
    "format_hours",
    "create_member",
    "update_member",
    "create_room",
    "update_room",
    "set_weekly_hours",
    "weekly_hours",
    "set_date_hours",
    "clear_date_hours",
    "date_hours",
    "create_pool",
    "update_pool",
    "delete_pool",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TeamError(ValueError):
    """A team, room or pool change was refused; the message says why and what to do."""


def _name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise TeamError(f"{what} name is empty; enter a name")
    if len(value) > 200:
        raise TeamError(f"{what} name is {len(value)} characters long; use at most 200")
    return value


def _email(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if not _EMAIL.match(value) or len(value) > 254:
        raise TeamError(f"{value!r} is not an email address; use the form name@example.com")
    return value


def _zone(value: str) -> str:
    try:
        return check_zone((value or "").strip())
    except ConfigError as exc:
        raise TeamError(str(exc)) from None


def _resource(session: Session, model: type[Resource], resource_id: int) -> Resource:
    resource = session.get(model, resource_id)
    if resource is None:
        what = "team member" if model is TeamMember else "room"
        raise TeamError(f"there is no {what} with id {resource_id}")
    return resource


# --- hours --------------------------------------------------------------------------------------

#: What a day without hours may be written as.
_NO_HOURS = {"", "-", "–", "off", "closed", "none", "day off", "unavailable"}
#: One time of day as people write it: ``9``, ``09``, ``9:30``, ``9.30``, ``17h``, ``9am``, ``5 p.m.``.
_CLOCK = re.compile(
    r"^\s*(?P<hour>\d{1,2})(?:\s*[:.h]\s*(?P<minute>\d{2}))?\s*h?\s*(?P<meridiem>[ap])?\.?\s*(?:m\.?)?\s*$",
    re.IGNORECASE,
)
#: Between the two ends of an interval: a hyphen, an en or em dash, or the word "to".
_RANGE = re.compile(r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*", re.IGNORECASE)
#: How an overnight interval is marked: ``22:00-02:00 (next day)`` (also ``+1``).
_NEXT_DAY = re.compile(r"\s*(?:\(\s*next\s+day\s*\)|next\s+day|\+\s*1(?:\s*day)?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class _Clock:
    """One end of an interval: minutes after midnight and how it was written."""

    minute: int
    #: Written as a bare 1..12 without am/pm and without a leading zero ("9", "5:30"): it could be
    #: morning or afternoon; with am/pm, with a leading zero or above 12 it is unambiguous.
    bare: bool
    #: Written with pm.
    pm: bool = False


def _clock(text: str, whole: str) -> _Clock:
    match = _CLOCK.match(text)
    if not match:
        raise TeamError(
            f"{whole!r}: {text.strip()!r} is not a time; write hours like 09:00-17:00, 9-5 or 9am-5pm"
        )
    hour_text, minutes = match.group("hour"), int(match.group("minute") or 0)
    hours, meridiem = int(hour_text), (match.group("meridiem") or "").lower()
    if meridiem:
        if not 1 <= hours <= 12 or minutes > 59:
            raise TeamError(f"{whole!r}: {text.strip()!r} is not a time of day (1:00am to 12:59pm)")
        hours = hours % 12 + (12 if meridiem == "p" else 0)
        return _Clock(hours * 60 + minutes, bare=False, pm=meridiem == "p")
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise TeamError(f"{whole!r}: {text.strip()!r} is not a time of day (00:00 to 24:00)")
    bare = 1 <= hours <= 12 and not hour_text.startswith("0")
    return _Clock(hours * 60 + minutes, bare=bare)


def _clock_text(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _interval(part: str) -> tuple[int, int]:
    """One interval as typed -> ``(start, end)`` minutes; refuses what has two sensible readings."""
    text = part.strip()
    body, overnight = _NEXT_DAY.sub("", text), bool(_NEXT_DAY.search(text))
    ends = _RANGE.split(body.strip())
    if len(ends) != 2 or not all(e.strip() for e in ends):
        raise TeamError(f"{text!r} is not an interval; write it like 09:00-17:00, 9-5 or 9am-5pm")
    first, last = _clock(ends[0], text), _clock(ends[1], text)
    start, end = first.minute, last.minute
    if start == 1440:
        raise TeamError(f"{text!r} starts at 24:00; start it at 00:00 of the next day")
    if overnight:
        if end >= start:
            raise TeamError(
                f"{text!r} is marked (next day) but {_clock_text(end)} is not before {_clock_text(start)}: "
                f"it would last more than 24 hours; write {_clock_text(start)}-{_clock_text(end)} without (next day)"
            )
        return start, end + 1440
    if end == 0 and start > 0:
        return start, 1440  # "18:00-00:00": until midnight
    if end > start:
        if first.bare and (last.bare or last.pm) and start < 7 * 60 and start + 720 < end + (720 if last.bare else 0):
            # "1-5": 01:00-05:00 or 13:00-17:00? Nobody's day is obvious here: ask.
            raise TeamError(
                f"{text!r} is ambiguous: read as {_clock_text(start)}-{_clock_text(end)}, it could also "
                f"mean {_clock_text(start + 720)}-{_clock_text(end + (720 if last.bare else 0))}; write it on the 24-hour clock "
                "or with am/pm"
            )
        return start, end
    # The end is not after the start. "9-5" is 09:00-17:00 when the end was written the short way
    # and the afternoon reading is the only one that makes a day; anything else is refused with
    # how it was read, and an overnight shift must say so.
    if last.bare and start < end + 720 <= 1440:
        return start, end + 720
    guess = f" (did you mean {_clock_text(start)}-{_clock_text(end + 720)}?)" if start < end + 720 <= 1440 else ""
    raise TeamError(
        f"{text!r} ends before it starts (read as {_clock_text(start)} to {_clock_text(end)}){guess}. For a shift "
        f"past midnight write '{_clock_text(start)}-{_clock_text(end)} (next day)'; otherwise write the end "
        "on the 24-hour clock, like 09:00-17:00"
    )


def parse_hours(text: str) -> list[tuple[int, int]]:
    """Parse one weekday's hours as people write them.

    Accepted: ``"09:00-17:00"``, ``"9-5"``, ``"9am-5pm"``, ``"9:30–17:30"``, ``"9 to 5"``, several
    intervals separated by commas (``"9-12, 13:00-17:30"``), and ``""``, ``"closed"`` or ``"off"``
    for no hours that day. An end before the start is read as the afternoon when the end was
    written the short way and that is the only sensible reading (``"9-5"`` is 09:00-17:00);
    ``"00:00"`` as an end is midnight (``"18:00-00:00"`` is 18:00-24:00). An interval that
    crosses midnight must say so: ``"22:00-02:00 (next day)"``, which gives ``(1320, 1560)``.
    Anything with two sensible readings (``"1-5"``, ``"22:00-02:00"``) is refused with how it was read.

    Parameters
    ----------
    text : str
        Comma-separated intervals, wall clock.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` minutes after local midnight, sorted by start; an end past 1440 is on
        the next day.

    Raises
    ------
    TeamError
        When an interval cannot be read, is ambiguous, or intervals overlap.
    """
    text = (text or "").strip()
    if text.lower() in _NO_HOURS:
        return []
    intervals = sorted(_interval(part) for part in re.split(r"[,;]", text) if part.strip())
    for (s1, e1), (s2, e2) in zip(intervals, intervals[1:], strict=False):
        if s2 < e1:
            raise TeamError(
                f"intervals {format_hours([(s1, e1)])} and {format_hours([(s2, e2)])} overlap; merge them"
            )
    return intervals


def format_hours(intervals: Iterable[tuple[int, int]]) -> str:
    """Format ``(start, end)`` minute pairs as ``"09:00-17:00, 22:00-02:00 (next day)"``.

    The inverse of :func:`parse_hours`: what it writes, :func:`parse_hours` reads back unchanged.
    """
    parts = []
    for start, end in intervals:
        if end == 1440:
            parts.append(f"{_clock_text(start)}-24:00")
        elif end > 1440:
            parts.append(f"{_clock_text(start)}-{_clock_text(end)} (next day)")
        else:
            parts.append(f"{_clock_text(start)}-{_clock_text(end)}")
    return ", ".join(parts)


def weekly_hours(resource: Resource) -> dict[int, list[tuple[int, int]]]:
    """The resource's weekly hours: weekday (0 = Monday) -> sorted ``(start, end)`` minutes."""
    result: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for row in resource.hours:
        result[row.weekday].append((row.start_minute, row.end_minute))
    return {day: sorted(v) for day, v in result.items()}


def set_weekly_hours(
    session: Session,
    resource_id: int,
    hours: Mapping[int, Sequence[tuple[int, int]] | str],
    *,
    by: User | None,
) -> Resource:
    """Replace a member's working hours or a room's opening hours.

    Parameters
    ----------
    resource_id : int
        The team member or room.
    hours : mapping
        Weekday (0 = Monday .. 6 = Sunday) -> intervals, either ``(start, end)`` minute pairs or
        the text :func:`parse_hours` reads. Weekdays not in the mapping get no hours.
    by : User or None
        Who makes the change (must be an admin).

    Raises
    ------
    PermissionDenied
        Unless ``by`` is an active admin.
    TeamError
        Unknown resource, weekday out of range, or unreadable / overlapping intervals.
    """
    require_admin(by, "change working or opening hours")
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise TeamError(f"there is no team member or room with id {resource_id}")
    rows = []
    for weekday, intervals in hours.items():
        if weekday not in range(7):
            raise TeamError(f"weekday {weekday!r} is not 0 (Monday) to 6 (Sunday)")
        if isinstance(intervals, str):
            intervals = parse_hours(intervals)
        else:
            intervals = parse_hours(format_hours(intervals)) if intervals else []
        rows += [WorkingHours(weekday=weekday, start_minute=s, end_minute=e) for s, e in intervals]
    before = weekly_hours(resource)
    resource.hours.clear()
    session.flush()
    resource.hours.extend(rows)
    session.flush()
    after = weekly_hours(resource)
    if after != before:
        changed = {WEEKDAYS[d]: format_hours(after[d]) for d in range(7) if after[d] != before[d]}
        audit.record(session, by, f"{resource.kind}.updated", resource, hours=changed)
    return resource


# --- per-date hours (days off, special days) ----------------------------------------------------


def date_hours(resource: Resource) -> dict[dt.date, list[tuple[int, int]]]:
    """The resource's per-date hours: date -> sorted ``(start, end)`` minutes; ``[]`` = unavailable."""
    result: dict[dt.date, list[tuple[int, int]]] = {}
    for row in resource.overrides:
        intervals = result.setdefault(row.date, [])
        if row.start_minute is not None:
            intervals.append((row.start_minute, row.end_minute))
    return {day: sorted(result[day]) for day in sorted(result)}


def set_date_hours(
    session: Session, resource_id: int, date: dt.date, hours: str, *, note: str = "", by: User | None
) -> Resource:
    """Give one date its own hours, replacing the weekly pattern on that date (admins only).

    Parameters
    ----------
    date : datetime.date
        The local date, in the resource's zone.
    hours : str
        Intervals as :func:`parse_hours` reads them (``"12:00-20:00"``); empty or ``"off"`` makes
        the resource unavailable all that date (holiday, leave).
    note : str
        Why (shown to schedulers), e.g. "public holiday".

    Raises
    ------
    PermissionDenied
        Unless ``by`` is an active admin.
    TeamError
        Unknown resource, or hours that cannot be read.
    """
    require_admin(by, "change working or opening hours")
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise TeamError(f"there is no team member or room with id {resource_id}")
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise TeamError(f"{date!r} is not a date")
    intervals = parse_hours(hours)
    note = (note or "").strip()[:200] or None
    resource.overrides[:] = [row for row in resource.overrides if row.date != date]
    session.flush()
    rows = [HoursOverride(date=date, start_minute=a, end_minute=b, note=note) for a, b in intervals]
    resource.overrides.extend(rows or [HoursOverride(date=date, start_minute=None, end_minute=None, note=note)])
    session.flush()
    audit.record(
        session, by, f"{resource.kind}.updated", resource,
        date=date.isoformat(), hours=format_hours(intervals) or "unavailable",
    )
    return resource


def clear_date_hours(session: Session, resource_id: int, date: dt.date, *, by: User | None) -> Resource:
    """Let ``date`` follow the weekly pattern again (admins only)."""
    require_admin(by, "change working or opening hours")
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise TeamError(f"there is no team member or room with id {resource_id}")
    kept = [row for row in resource.overrides if row.date != date]
    if len(kept) == len(resource.overrides):
        raise TeamError(f"{resource.name} has no special hours on {date.isoformat()}")
    resource.overrides[:] = kept
    session.flush()
    audit.record(session, by, f"{resource.kind}.updated", resource, date=date.isoformat(), hours="weekly pattern")
    return resource


# --- members and rooms --------------------------------------------------------------------------


def create_member(
    session: Session,
    name: str,
    zone: str,
    email: str | None = None,
    hours: Mapping[int, Sequence[tuple[int, int]] | str] | None = None,
    *,
    by: User | None,
) -> TeamMember:
    """Add a team member (zone is the IANA zone their working hours are in; admins only)."""
    require_admin(by, "add team members")
    member = TeamMember(name=_name(name, "Team member"), email=_email(email), zone=_zone(zone), capacity=1)
    _add_resource(session, member, hours, by=by, action="member.created", zone=member.zone)
    return member


def _add_resource(
    session: Session,
    resource: TeamMember | Room,
    hours: Mapping[int, Sequence[tuple[int, int]] | str] | None,
    *,
    by: User | None,
    action: str,
    **details: object,
) -> None:
    """Store a new member or room with its weekly hours, checking the hours before any write."""
    for intervals in (hours or {}).values():
        if isinstance(intervals, str):
            parse_hours(intervals)
    session.add(resource)
    session.flush()
    audit.record(session, by, action, resource, name=resource.name, **details)
    if hours:
        set_weekly_hours(session, resource.id, hours, by=by)


def update_member(
    session: Session,
    member_id: int,
    *,
    name: str | None = None,
    email: str | None = None,
    zone: str | None = None,
    active: bool | None = None,
    by: User | None,
) -> TeamMember:
    """Change a team member's name, email, zone or whether they can be booked (admins only)."""
    require_admin(by, "change team members")
    member = _resource(session, TeamMember, member_id)
    wanted = {
        "name": None if name is None else _name(name, "Team member"),
        "email": None if email is None else _email(email),
        "zone": None if zone is None else _zone(zone),
        "active": None if active is None else bool(active),
    }
    if email is not None and wanted["email"] is None:
        wanted["email"] = ""  # an emptied email clears it
    _apply(session, by, "member.updated", member, wanted)
    return member


def _capacity(value: int) -> int:
    try:
        capacity = int(value)
    except (TypeError, ValueError):
        raise TeamError(f"room capacity {value!r} is not a whole number") from None
    if capacity < 1:
        raise TeamError(f"room capacity {capacity} is less than 1; a room seats at least one person")
    return capacity


def create_room(
    session: Session,
    name: str,
    zone: str,
    capacity: int,
    hours: Mapping[int, Sequence[tuple[int, int]] | str] | None = None,
    *,
    by: User | None,
) -> Room:
    """Add a room with ``capacity`` seats; ``hours`` are its opening hours in ``zone`` (admins only)."""
    require_admin(by, "add rooms")
    room = Room(name=_name(name, "Room"), zone=_zone(zone), capacity=_capacity(capacity))
    _add_resource(session, room, hours, by=by, action="room.created", capacity=room.capacity)
    return room


def update_room(
    session: Session,
    room_id: int,
    *,
    name: str | None = None,
    zone: str | None = None,
    capacity: int | None = None,
    active: bool | None = None,
    by: User | None,
) -> Room:
    """Change a room's name, zone, capacity or whether it can be booked (admins only)."""
    require_admin(by, "change rooms")
    room = _resource(session, Room, room_id)
    wanted = {
        "name": None if name is None else _name(name, "Room"),
        "zone": None if zone is None else _zone(zone),
        "capacity": None if capacity is None else _capacity(capacity),
        "active": None if active is None else bool(active),
    }
    _apply(session, by, "room.updated", room, wanted)
    return room


def _apply(session: Session, by: User | None, action: str, target: object, wanted: dict) -> None:
    """Set the fields that change and audit them (``None`` = leave as it is)."""
    changes = {}
    for field, value in wanted.items():
        if value is None:
            continue
        if field == "email" and value == "":
            value = None
        if getattr(target, field) != value:
            changes[field] = value
            setattr(target, field, value)
    session.flush()
    if changes:
        audit.record(session, by, action, target, **changes)


# --- pools --------------------------------------------------------------------------------------


def _pool_members(session: Session, member_ids: Iterable[int]) -> list[TeamMember]:
    ids = sorted(set(int(i) for i in member_ids))
    if not ids:
        raise TeamError("a pool needs at least one team member; pick some")
    members = list(session.scalars(select(TeamMember).where(TeamMember.id.in_(ids))))
    missing = sorted(set(ids) - {m.id for m in members})
    if missing:
        raise TeamError(f"no team member with id {missing[0]}; pick members from the team list")
    return members


def create_pool(
    session: Session, name: str, member_ids: Iterable[int], description: str = "", *, by: User | None
) -> ResourcePool:
    """Create a resource pool: any one of ``member_ids`` attends a meeting that asks for the pool (admins only)."""
    require_admin(by, "create pools")
    name = _name(name, "Pool")
    if session.scalar(select(ResourcePool.id).where(ResourcePool.name == name)) is not None:
        raise TeamError(f"a pool named {name!r} exists already; choose another name")
    pool = ResourcePool(name=name, description=(description or "").strip())
    pool.members = _pool_members(session, member_ids)
    session.add(pool)
    session.flush()
    audit.record(session, by, "pool.created", ("pool", pool.id), name=pool.name, members=[m.id for m in pool.members])
    return pool


def update_pool(
    session: Session,
    pool_id: int,
    *,
    name: str | None = None,
    member_ids: Iterable[int] | None = None,
    description: str | None = None,
    by: User | None,
) -> ResourcePool:
    """Rename a pool, change its description or replace its members (admins only)."""
    require_admin(by, "change pools")
    pool = session.get(ResourcePool, pool_id)
    if pool is None:
        raise TeamError(f"there is no pool with id {pool_id}")
    if name is not None:
        name = _name(name, "Pool")
        clash = session.scalar(
            select(ResourcePool.id).where(ResourcePool.name == name, ResourcePool.id != pool_id)
        )
        if clash is not None:
            raise TeamError(f"a pool named {name!r} exists already; choose another name")
    changes: dict[str, object] = {}
    if name is not None and name != pool.name:
        changes["name"] = pool.name = name
    if description is not None and description.strip() != pool.description:
        changes["description"] = pool.description = description.strip()
    if member_ids is not None:
        members = _pool_members(session, member_ids)
        if [m.id for m in members] != [m.id for m in pool.members]:
            pool.members = members
            changes["members"] = [m.id for m in members]
    session.flush()
    if changes:
        audit.record(session, by, "pool.updated", ("pool", pool.id), **changes)
    return pool


def delete_pool(session: Session, pool_id: int, *, by: User | None) -> None:
    """Delete a pool that no invitation uses; its members stay (admins only)."""
    from ..store.models import invitation_pools

    require_admin(by, "delete pools")
    pool = session.get(ResourcePool, pool_id)
    if pool is None:
        raise TeamError(f"there is no pool with id {pool_id}")
    used = session.scalar(select(invitation_pools.c.invitation_id).where(invitation_pools.c.pool_id == pool_id))
    if used is not None:
        raise TeamError(f"pool {pool.name!r} is used by invitation {used}; edit its members instead")
    audit.record(session, by, "pool.deleted", ("pool", pool.id), name=pool.name)
    session.delete(pool)
    session.flush()
