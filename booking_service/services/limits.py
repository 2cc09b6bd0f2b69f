"""Per-person limits: the most meetings and meeting hours a team member or room takes per day and week.

Days and weeks (Monday to Sunday) are local to the resource's own zone; a meeting counts on the
day it starts, for its length without buffers. The planner applies the limits to every slot
(:mod:`planner.teams.limits`); the booking re-check reads them, and the meetings that count,
under the same locks as the no-overlap rule, so two bookings can't both take the last allowed
meeting. Admins only; each change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..store.models import Resource, User
from . import audit
from .permissions import require_admin

__all__ = ["LimitError", "ResourceLimits", "limits_of", "set_limits"]


class LimitError(ValueError):
    """A limit is not valid; the message names it and what to do."""


@dataclass(frozen=True)
class ResourceLimits:
    """Limits of one resource (``None``: no limit). Hours are given in minutes."""

    max_meetings_day: int | None = None
    max_minutes_day: int | None = None
    max_meetings_week: int | None = None
    max_minutes_week: int | None = None

    def describe(self) -> str:
        """"at most 4 meetings and 5h a day; 15 meetings a week", or "no limits"."""
        parts = []
        for per, n, minutes in (("a day", self.max_meetings_day, self.max_minutes_day),
                                ("a week", self.max_meetings_week, self.max_minutes_week)):  # fmt: skip
            what = [f"{n} meetings"] if n is not None else []
            if minutes is not None:
                h, m = divmod(minutes, 60)
                what.append(f"{h}h{m:02d}" if m else f"{h}h")
            if what:
                parts.append(" and ".join(what) + f" {per}")
        return "at most " + "; ".join(parts) if parts else "no limits"


def limits_of(resource: Resource) -> ResourceLimits:
    """The limits a resource has now."""
    return ResourceLimits(resource.max_meetings_day, resource.max_minutes_day,
                          resource.max_meetings_week, resource.max_minutes_week)  # fmt: skip


_BOUNDS = {"max_meetings_day": 100, "max_minutes_day": 24 * 60, "max_meetings_week": 700, "max_minutes_week": 7 * 24 * 60}


def set_limits(session: Session, resource_id: int, limits: ResourceLimits, *, by: User | None) -> Resource:
    """Give a team member or room its limits (``None`` fields: no such limit; admins only).

    Raises
    ------
    LimitError
        Unknown resource, or a limit that is not a whole number in range.
    """
    require_admin(by, "change limits")
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise LimitError(f"there is no team member or room with id {resource_id}")
    changes = {}
    for name, high in _BOUNDS.items():
        value = getattr(limits, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high):
            label = name.removeprefix("max_").replace("_", " per ")
            raise LimitError(f"the limit of {label} must be a whole number from 0 to {high}, or empty; got {value!r}")
        if getattr(resource, name) != value:
            setattr(resource, name, value)
            changes[name] = value
    session.flush()
    if changes:
        audit.record(session, by, "member.limits_changed", resource, **changes)
    return resource
