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

from ..store.models import AuditEntry, Base, User, utcnow

__all__ = ["ACTIONS", "record", "entries", "entry_rows"]

#: Every action the log knows, with the words the dashboard shows for it.
ACTIONS: dict[str, str] = {
    "invitation.created": "created an invitation",
    "invitation.cancelled": "cancelled an invitation",
    "invitation.resent": "resent an invitation",
    "meeting.cancelled": "cancelled a meeting",
    "meeting.confirmation_resent": "resent a meeting's confirmation",
    "settings.changed": "changed their settings",
    "user.created": "created a user",
    "user.updated": "changed a user",
    "user.password_reset": "reset a password",
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
        at=utcnow(),
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


def entry_rows(items: list[AuditEntry]) -> list[dict[str, Any]]:
    """Entries as plain rows for a table: when (UTC), who, what, target, details."""
    return [
        {
            "at": e.at,
            "who": (f"{e.user.name} <{e.user.email}>" if e.user is not None else "command line / system"),
            "action": e.action,
            "what": ACTIONS.get(e.action, e.action),
            "target": f"{e.target_type} {e.target_id}" if e.target_id is not None else e.target_type,
            "details": json.dumps(e.details, sort_keys=True, ensure_ascii=False),
        }
        for e in items
    ]
