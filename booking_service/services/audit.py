"""The audit log: who changed what, and when.

Every change a dashboard user makes goes through a service function, and that function calls
:func:`record` in the same transaction as the change, so the entry exists exactly when the
change does. Admins read the log in the dashboard (:func:`entries`, :func:`entry_rows`).

Actions are dotted names, ``<what>.<verb>``, from :data:`ACTIONS`. Details are a small JSON
object describing the change; keys that would hold a secret (passwords, tokens) are refused,
so a secret can never reach the log by mistake.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..store.models import (
    AuditEntry,
    Base,
    CalendarConnection,
    Invitation,
    Meeting,
    Resource,
    ResourcePool,
    User,
    utcnow,
)

__all__ = ["ACTIONS", "record", "entries", "entry_rows", "describe_details"]

#: Every action the log knows, with the words the dashboard shows for it.
ACTIONS: dict[str, str] = {
    "invitation.created": "created an invitation",
    "invitation.cancelled": "cancelled an invitation",
    "invitation.resent": "resent an invitation",
    "meeting.cancelled": "cancelled a meeting",
    "meeting.confirmation_resent": "resent a meeting's confirmation",
    "meeting.moved": "moved a meeting",
    "meeting.rebooked": "picked another time for a cancelled meeting",
    "settings.changed": "changed their settings",
    "api_key.created": "created an API key",
    "api_key.revoked": "revoked an API key",
    "webhook.created": "added a webhook",
    "webhook.deleted": "removed a webhook",
    "user.created": "created a user",
    "user.updated": "changed a user",
    "user.password_reset": "reset a password",
    "user.password_changed": "changed their password",
    "user.signed_in": "signed in",
    "user.signed_out": "signed out",
    "member.created": "added a team member",
    "member.updated": "changed a team member",
    "room.created": "added a room",
    "room.updated": "changed a room",
    "pool.created": "created a pool",
    "pool.updated": "changed a pool",
    "pool.deleted": "deleted a pool",
    "pool.policy_changed": "changed a pool's assignment policy",
    "team.default_policy": "changed the default assignment policy",
    "team.embed_origins": "changed the sites that may embed the booking pages",
    "meeting.assigned": "assigned pool members to a meeting",
    "member.limits_changed": "changed a team member's or room's limits",
    "member.out_of_office": "marked a team member out of office",
    "member.back_in_office": "removed a team member's out-of-office dates",
    "calendar.created": "connected a calendar",
    "calendar.updated": "changed a calendar connection",
    "calendar.deleted": "removed a calendar connection",
}

_SECRET_KEY = re.compile(r"password|secret|token|hash", re.IGNORECASE)


def _jsonable(value: Any) -> Any:
    """Details as plain JSON (dates and instants become ISO text)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def _check_details(details: dict[str, Any], path: str = "") -> None:
    for key, value in details.items():
        if _SECRET_KEY.search(str(key)):
            raise ValueError(f"audit detail {path + str(key)!r} looks like a secret; never log secrets")
        if isinstance(value, dict):
            _check_details(value, f"{path}{key}.")


def record(
    session: Session,
    by: User | None,
    action: str,
    target: Base | tuple[str, int | None],
    *,
    at: dt.datetime | None = None,
    **details: Any,
) -> AuditEntry:
    """Write one audit entry in the caller's transaction.

    Parameters
    ----------
    by : User or None
        Who made the change; ``None`` for the command line or the system.
    action : str
        One of :data:`ACTIONS`, e.g. ``"meeting.cancelled"``.
    target : model instance or (type, id)
        What was changed, e.g. the :class:`~booking_service.store.models.Meeting` (its id must be set:
        flush first) or ``("meeting", 12)``.
    at : datetime, optional
        When it happened: a transition passes its own instant (``now``), which stamps the rest of
        its rows too; by default the wall clock.
    **details
        JSON-able facts about the change. Keys mentioning passwords, secrets, tokens or hashes
        are refused.

    Raises
    ------
    ValueError
        On an unknown action or a secret-looking detail key.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to booking_service.services.audit.ACTIONS")
    _check_details(details)
    if isinstance(target, tuple):
        target_type, target_id = target
    else:
        target_type = getattr(target, "__tablename__", type(target).__name__).rstrip("s")
        target_type = {"resource": getattr(target, "kind", "resource")}.get(target_type, target_type)
        target_id = getattr(target, "id", None)
    entry = AuditEntry(
        user_id=by.id if by is not None else None,
        action=action,
        target_type=str(target_type)[:32],
        target_id=target_id,
        details=_jsonable(details),
        at=at if at is not None else utcnow(),
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    viewer: User,
    limit: int = 500,
    action: str | None = None,
    user_id: int | None = None,
    since: dt.datetime | None = None,
) -> list[AuditEntry]:
    """Newest audit entries first; only admins may read the log.

    Parameters
    ----------
    viewer : User
        Who reads; must be an active admin.
    limit : int
        At most this many entries.
    action, user_id, since : optional
        Filters: one action, one user's changes, entries at or after an instant.

    Raises
    ------
    booking_service.services.permissions.PermissionDenied
        When ``viewer`` is not an admin.
    """
    from .permissions import require_admin

    require_admin(viewer, "read the audit log")
    query = select(AuditEntry).options(selectinload(AuditEntry.user))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(query))


#: Detail keys that only repeat what the target column already names.
_REDUNDANT = {"invitation_id", "meeting_id"}
_WEEKDAY_ORDER = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _target_names(session: Session, items: list[AuditEntry]) -> dict[tuple[str, int], str]:
    """What each entry's target is called now: ``(type, id) -> "team member Ada"``, in a few queries.

    Pool members named in details (ids) are looked up too, under ``("member", id)``.
    """
    wanted: dict[str, set[int]] = {}
    for e in items:
        if e.target_id is not None:
            wanted.setdefault(e.target_type, set()).add(e.target_id)
        for member_id in (e.details or {}).get("members", []) or []:
            if isinstance(member_id, int):
                wanted.setdefault("member", set()).add(member_id)
    names: dict[tuple[str, int], str] = {}
    resource_ids = wanted.get("member", set()) | wanted.get("room", set()) | wanted.get("resource", set())
    if resource_ids:
        for r in session.scalars(select(Resource).where(Resource.id.in_(resource_ids))):
            label = "room" if r.kind == "room" else "team member"
            for kind in ("member", "room", "resource"):
                names[(kind, r.id)] = f"{label} {r.name}"
    if wanted.get("user"):
        for u in session.scalars(select(User).where(User.id.in_(wanted["user"]))):
            names[("user", u.id)] = f"user {u.name} <{u.email}>"
    if wanted.get("invitation"):
        for i in session.scalars(select(Invitation).where(Invitation.id.in_(wanted["invitation"]))):
            names[("invitation", i.id)] = f"invitation of {i.customer_name} ({i.subject})"
    if wanted.get("meeting"):
        query = select(Meeting).where(Meeting.id.in_(wanted["meeting"])).options(selectinload(Meeting.invitation))
        for m in session.scalars(query):
            names[("meeting", m.id)] = f"meeting with {m.customer_name} ({m.invitation.subject})"
    if wanted.get("pool"):
        for p in session.scalars(select(ResourcePool).where(ResourcePool.id.in_(wanted["pool"]))):
            names[("pool", p.id)] = f"pool {p.name}"
    if wanted.get("calendar"):
        query = select(CalendarConnection).where(CalendarConnection.id.in_(wanted["calendar"]))
        for c in session.scalars(query.options(selectinload(CalendarConnection.resource))):
            names[("calendar", c.id)] = f"calendar {c.name} of {c.resource.name}"
    return names


def _value_text(key: str, value: Any, names: dict[tuple[str, int], str]) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "members" and isinstance(value, list):
        return ", ".join(sorted(names.get(("member", v), f"#{v}").removeprefix("team member ") for v in value)) or "none"
    if key == "hours" and isinstance(value, dict):
        days = sorted(value, key=lambda d: _WEEKDAY_ORDER.index(d) if d in _WEEKDAY_ORDER else 7)
        return ", ".join(f"{d} {value[d] or 'closed'}" for d in days)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_value_text(k, v, names)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value_text(key, v, names) for v in value) or "none"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:  # an instant as stored (ISO text, UTC): read as a person would
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if instant.tzinfo is not None:
            return f"{instant.astimezone(dt.UTC):%a %d %b %Y %H:%M} UTC"
    return str(value)


def describe_details(details: dict[str, Any] | None, names: dict[tuple[str, int], str] | None = None) -> str:
    """An entry's details as words: ``"zone: Asia/Kolkata; can be booked: no"``, never raw JSON.

    ``changes`` (a user's changed fields) is spread into its fields; ids the target already
    names are left out; pool members are named; instants read in UTC.
    """
    names = names or {}
    flat: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key == "changes" and isinstance(value, dict):
            flat.update(value)
        elif key not in _REDUNDANT:
            flat[key] = value
    words = {"active": "can be booked / may sign in", "by_customer": "by the customer"}
    return "; ".join(f"{words.get(k, k.replace('_', ' '))}: {_value_text(k, v, names)}" for k, v in flat.items())


def entry_rows(items: list[AuditEntry], session: Session | None = None) -> list[dict[str, Any]]:
    """Entries as plain rows for a table: when (UTC), who, what, target, details, all in words.

    With ``session``, targets are named (``"team member Ada"``, ``"invitation of Grace (Intro)"``)
    rather than numbered; a target deleted since is named from its details when they have a
    name (``"pool Sales (deleted)"``).
    """
    names = _target_names(session, items) if session is not None else {}
    rows = []
    for e in items:
        target = e.target_type if e.target_id is None else names.get((e.target_type, e.target_id))
        if target is None:
            old_name = (e.details or {}).get("name")
            target = (f"{e.target_type} {old_name} (deleted)" if old_name and session is not None
                      else f"{e.target_type} {e.target_id}")
        rows.append(
            {
                "at": e.at,
                "who": (f"{e.user.name} <{e.user.email}>" if e.user is not None else "command line / system"),
                "action": e.action,
                "what": ACTIONS.get(e.action, e.action),
                "target": target,
                "details": describe_details(e.details, names),
            }
        )
    return rows
