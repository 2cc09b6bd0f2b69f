"""How invitations, meetings, team members, rooms and pools read as JSON: one shape for the API and webhooks.

Instants are RFC 3339 text with an offset (always UTC, ``+00:00``), dates are ``YYYY-MM-DD`` in
the invitation's zone, zones are IANA names. The JSON API (:mod:`booking_service.web.api`)
answers with these objects and its OpenAPI schemas describe exactly them; a webhook event
carries the same objects in its ``data``, so a receiver parses one shape whichever way it learns
of a change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..store.models import Invitation, Meeting, ResourcePool, Room, TeamMember

__all__ = ["instant", "invitation_json", "meeting_json", "member_json", "pool_json", "room_json"]


def instant(value: dt.datetime | None) -> str | None:
    """RFC 3339 text of a tz-aware instant, in UTC (``2026-12-01T09:30:00+00:00``)."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def invitation_json(invitation: Invitation, status: str | None = None) -> dict[str, Any]:
    """An invitation as the API shows it.

    ``pool_policy``, ``change_cutoff_hours`` and ``max_reschedules`` are the invitation's own
    (``None``: each pool's policy, the installation's defaults). ``status`` is the status to
    show, normally
    :func:`booking_service.services.lifecycle.effective_status` (an active invitation whose frame
    has ended reads ``expired``); default: the stored one.
    """
    meeting = invitation.meeting
    return {
        "id": invitation.id,
        "status": status or invitation.status,
        "customer_name": invitation.customer_name,
        "customer_email": invitation.customer_email,
        "customer_zone": invitation.customer_zone,
        "language": invitation.language,
        "subject": invitation.subject,
        "description": invitation.description or "",
        "conferencing": invitation.conferencing or "",
        "duration_minutes": invitation.duration_minutes,
        "buffer_before_minutes": invitation.buffer_before_minutes,
        "buffer_after_minutes": invitation.buffer_after_minutes,
        "minimum_notice_minutes": invitation.minimum_notice_minutes,
        "slot_interval_minutes": invitation.slot_interval_minutes,
        "min_capacity": invitation.min_capacity,
        "frame_start": invitation.frame_start.isoformat(),
        "frame_end": invitation.frame_end.isoformat(),
        "zone": invitation.zone,
        "delivery": invitation.delivery,
        "members": [m.id for m in invitation.members],
        "pools": [p.id for p in invitation.pools],
        "rooms": [r.id for r in invitation.rooms],
        "pool_policy": invitation.pool_policy,
        "change_cutoff_hours": invitation.change_cutoff_hours,
        "max_reschedules": invitation.max_reschedules,
        "promoted_slots": [
            {"rank": p.rank, "start": instant(p.start), "end": instant(p.end)} for p in invitation.promoted_slots
        ],
        "meeting_id": meeting.id if meeting is not None else None,
        "created_by": invitation.created_by_id,
        "created_at": instant(invitation.created_at),
        "updated_at": instant(invitation.updated_at),
        "sent_at": instant(invitation.sent_at),
        "cancelled_at": instant(invitation.cancelled_at),
    }


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """A meeting as the API shows it; ``members`` and ``room`` are what it reserves (nothing once cancelled).

    ``reschedule_count`` counts the customer's own moves (what ``max_reschedules`` limits);
    ``cancelled_by`` is ``"customer"`` or ``"scheduler"`` once cancelled.
    """
    resources = [r.resource for r in meeting.reservations]
    room = next((r.id for r in resources if r.kind == "room"), None)
    return {
        "id": meeting.id,
        "invitation_id": meeting.invitation_id,
        "status": meeting.status,
        "start": instant(meeting.start),
        "end": instant(meeting.end),
        "subject": meeting.invitation.subject,
        "customer_name": meeting.customer_name,
        "customer_email": meeting.customer_email,
        "customer_zone": meeting.customer_zone,
        "language": meeting.language,
        "uid": meeting.uid,
        "sequence": meeting.sequence,
        "members": sorted(r.id for r in resources if r.kind == "member"),
        "room": room,
        "created_by": meeting.created_by_id,
        "created_at": instant(meeting.created_at),
        "reschedule_count": meeting.reschedule_count or 0,
        "cancelled_at": instant(meeting.cancelled_at),
        "cancelled_by": meeting.cancelled_by,
        "cancel_reason": meeting.cancel_reason,
    }


def member_json(member: TeamMember) -> dict[str, Any]:
    """A team member (no working hours: those are the dashboard's)."""
    return {"id": member.id, "name": member.name, "email": member.email, "zone": member.zone,
            "active": member.active}


def room_json(room: Room) -> dict[str, Any]:
    """A room and how many it seats."""
    return {"id": room.id, "name": room.name, "email": room.email, "zone": room.zone,
            "capacity": room.capacity, "active": room.active}


def pool_json(pool: ResourcePool, default_policy: str = "pooled") -> dict[str, Any]:
    """A pool, the ids of its members, and how a meeting takes them.

    ``panel_size`` members attend each meeting (k of n); ``policy`` is the pool's own
    assignment policy (``None``: the organisation's, ``default_policy``), ``effective_policy``
    the one in force (an invitation may still override it with its ``pool_policy``).
    """
    return {"id": pool.id, "name": pool.name, "members": [m.id for m in pool.members],
            "panel_size": pool.panel_size or 1, "policy": pool.policy,
            "effective_policy": pool.policy or default_policy,
            "compensate_removed": bool(pool.compensate_removed)}
