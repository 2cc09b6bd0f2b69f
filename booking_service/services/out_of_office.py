"""Out of office: a member away for a range of dates, in one action, with an optional stand-in.

The dates are stored as unavailable date overrides of the member
(:class:`~booking_service.store.models.HoursOverride` rows linked to the
:class:`~booking_service.store.models.OutOfOffice` entry), so every slot computation already
knows the member is away. A named stand-in joins each of the member's pools, right after
them, for invitations whose frame overlaps the absence
(:func:`booking_service.services.pool_policy.pool_plans`). Removing the entry removes its
dates again; dates the member had their own hours for before stay as they were.

Admins only, like every change to the team; each change is audited.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..store.models import HoursOverride, OutOfOffice, TeamMember, User
from . import audit
from .permissions import require_admin

__all__ = ["OutOfOfficeError", "MAX_DAYS", "absences", "mark_away", "remove_absence"]

MAX_DAYS = 366


class OutOfOfficeError(ValueError):
    """The out-of-office request is not valid; the message says what to change."""


def _member(session: Session, member_id: int, what: str) -> TeamMember:
    member = session.get(TeamMember, member_id)
    if member is None:
        raise OutOfOfficeError(f"there is no team member with id {member_id} ({what}); pick one from the team list")
    return member


def mark_away(
    session: Session,
    member_id: int,
    first: dt.date,
    last: dt.date,
    *,
    stand_in_id: int | None = None,
    note: str = "",
    by: User | None,
) -> OutOfOffice:
    """Mark a member away from ``first`` to ``last`` (local dates, inclusive).

    Every date becomes unavailable for them (replacing own hours of those dates); ``stand_in_id``
    names a team member who takes their place in pools meanwhile.

    Raises
    ------
    OutOfOfficeError
        Dates in the wrong order or more than a year apart, an unknown member, a stand-in who
        is the member, inactive, or away over the same dates.
    PermissionDenied
        ``by`` is not an admin.
    """
    require_admin(by, "mark team members out of office")
    member = _member(session, member_id, "member")
    for name, value in (("first date", first), ("last date", last)):
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise OutOfOfficeError(f"the {name} must be a date, got {value!r}")
    if last < first:
        raise OutOfOfficeError(f"the last date {last} is before the first {first}; swap them")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise OutOfOfficeError(f"{days} days is longer than a year; enter at most {MAX_DAYS} days at a time")
    stand_in = None
    if stand_in_id is not None:
        if int(stand_in_id) == member.id:
            raise OutOfOfficeError(f"{member.name} cannot stand in for themselves; pick someone else or nobody")
        stand_in = _member(session, int(stand_in_id), "stand-in")
        if not stand_in.active:
            raise OutOfOfficeError(f"{stand_in.name} is not active, so cannot stand in; pick an active member")
        clash = session.scalar(
            select(OutOfOffice.id).where(
                OutOfOffice.member_id == stand_in.id, OutOfOffice.first_date <= last, OutOfOffice.last_date >= first
            )
        )
        if clash is not None:
            raise OutOfOfficeError(f"{stand_in.name} is away on some of these dates too; pick another stand-in")
    away = OutOfOffice(member_id=member.id, first_date=first, last_date=last,
                       stand_in_id=stand_in.id if stand_in else None, note=(note or "").strip()[:200])  # fmt: skip
    session.add(away)
    session.flush()
    # The dates' own hours give way to "unavailable" (an override date uses only its own rows).
    session.execute(
        delete(HoursOverride).where(
            HoursOverride.resource_id == member.id, HoursOverride.date >= first, HoursOverride.date <= last,
            HoursOverride.out_of_office_id.is_(None),
        )
    )
    label = "out of office" + (f": {away.note}" if away.note else "")
    for i in range(days):
        session.add(HoursOverride(resource_id=member.id, date=first + dt.timedelta(days=i), start_minute=None,
                                  end_minute=None, note=label[:200], out_of_office_id=away.id))  # fmt: skip
    session.flush()
    session.expire(member, ["overrides"])
    audit.record(session, by, "member.out_of_office", member, first=first, last=last,
                 stand_in=stand_in.id if stand_in else None)  # fmt: skip
    return away


def remove_absence(session: Session, absence_id: int, *, by: User | None) -> None:
    """Remove an out-of-office entry and its unavailable dates (admins only)."""
    require_admin(by, "change out-of-office dates")
    away = session.get(OutOfOffice, absence_id)
    if away is None:
        raise OutOfOfficeError(f"there is no out-of-office entry {absence_id}; reload the page")
    member = away.member
    session.execute(delete(HoursOverride).where(HoursOverride.out_of_office_id == away.id))
    session.delete(away)
    session.flush()
    session.expire(member, ["overrides"])
    audit.record(session, by, "member.back_in_office", member, first=away.first_date, last=away.last_date)


def absences(session: Session, *, since: dt.date | None = None) -> list[OutOfOffice]:
    """Out-of-office entries ending on or after ``since`` (all when ``None``), by first date."""
    query = select(OutOfOffice).order_by(OutOfOffice.first_date, OutOfOffice.id)
    if since is not None:
        query = query.where(OutOfOffice.last_date >= since)
    return list(session.scalars(query))
