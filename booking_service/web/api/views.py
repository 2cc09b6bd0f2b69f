"""The routes of the JSON API, ``/api/v1``: invitations, slots, meetings, team, webhooks.

Each view parses (the schemas), calls one service function as the key's user, and answers the
object as :mod:`booking_service.services.representations` shapes it. Changes run in a write
transaction (``session_scope(engine, write=True)``), as the dashboard's do; reads use the
request's session.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from contextlib import contextmanager
from typing import Any

import pandas as pd
from apiflask import APIBlueprint
from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

import booking_service.web.api.schemas as s

from ...core.clock import utcnow
from ...services import availability, invitations, lifecycle, permissions, pool_policy, webhooks
from ...services.api_keys import ApiKeyError
from ...services.booking import BookingError, cancel_meeting, reschedule_meeting, resend_confirmation
from ...services.queries import pools as list_pools
from ...services.queries import rooms as list_rooms
from ...services.queries import team_members
from ...services.representations import (
    instant,
    invitation_json,
    meeting_json,
    member_json,
    pool_json,
    room_json,
)
from ...store.db import session_scope
from ...store.models import Invitation, Meeting, Reservation, User, WebhookSubscription
from ..extensions import csrf, db_session, limiter, settings_of
from .auth import auth, current_user, rate_limit, rate_limit_key
from .problems import problem

bp = APIBlueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # no cookies here: a bearer key authenticates each request
limiter.limit(rate_limit, key_func=rate_limit_key)(bp)

READ, WRITE, HOOKS = ["read"], ["write"], ["webhooks"]
DRAFT_PLACEHOLDERS = {"customer_name": "Draft", "customer_email": "draft@example.invalid", "subject": "Draft"}


class NotFound(LookupError):
    """Nothing of that id in the caller's scope (ids outside it reveal nothing)."""


def _field_problem(error: ValueError):
    field = getattr(error, "field", "body")
    return problem(422, str(error), [{"field": field, "location": "json", "message": str(error)}])


for _error in (invitations.InvitationError, webhooks.WebhookError, ApiKeyError):
    bp.register_error_handler(_error, _field_problem)
bp.register_error_handler(lifecycle.TransitionRefused, lambda e: problem(409, str(e)))
bp.register_error_handler(BookingError, lambda e: problem(404, str(e)))
bp.register_error_handler(NotFound, lambda e: problem(404, str(e)))
bp.register_error_handler(webhooks.UnknownSubscription, lambda e: problem(404, str(e)))
# Ids outside one's scope are answered like ids that do not exist.
bp.register_error_handler(permissions.PermissionDenied, lambda e: problem(404, str(e)))


@contextmanager
def write_session():
    """A write transaction (SQLite: the write lock from ``BEGIN`` on), committed at the end."""
    with session_scope(current_app.extensions["slotwise"]["engine"], write=True) as session:
        yield session


def _me(session: Session) -> User:
    return session.get(User, current_user().id)


def _check_id(value: int, what: str) -> int:
    if not 0 < value <= s.MAX_ID:
        raise NotFound(f"there is no {what} {value}")
    return value


def _encode(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode().rstrip("=")


def _decode(cursor: str, count: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    parts = raw.split("|")
    if len(parts) != count or not parts[-1].isdigit():
        raise invitations.InvitationError("cursor", "the cursor is not one this API gave; pass next_cursor "
                                                    "of the previous page unchanged")
    return parts


# --- invitations -----------------------------------------------------------------------------

_INVITATION_LOAD = (
    selectinload(Invitation.members), selectinload(Invitation.pools), selectinload(Invitation.rooms),
    selectinload(Invitation.promoted_slots), selectinload(Invitation.meeting),
)


def _invitation(invitation: Invitation, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return invitation_json(invitation, lifecycle.effective_status(invitation, now))


def _draft(data: dict[str, Any]) -> invitations.InvitationDraft:
    fields = {k: v for k, v in data.items() if k != "deliver"}
    if fields.get("promoted_starts") is not None:
        fields["promoted_starts"] = tuple(fields["promoted_starts"])
    for name in ("members", "pools", "rooms"):
        fields[name] = tuple(fields.get(name) or ())
    return invitations.InvitationDraft(**fields)


def _created(created: invitations.CreatedInvitation) -> dict[str, Any]:
    return {
        "invitation": _invitation(created.invitation),
        "link": created.link,
        "slot_links": [{"start": instant(a), "end": instant(b), "url": url} for a, b, url in created.slot_links],
        "slot_count": created.slot_count,
    }


@bp.post("/invitations")
@bp.auth_required(auth, roles=WRITE)
@bp.input(s.InvitationIn, arg_name="data")
@bp.output(s.CreatedInvitationOut, status_code=201)
@bp.doc(tags=["Invitations"], responses={422: "A field is invalid, or no slot is available (`errors` names the field)"})
def create_invitation(data: dict[str, Any]):
    """Create an invitation.

    The same validation as the dashboard's wizard; refused (422) when no slot is available right
    now. The booking link is in the answer only (only its hash is stored).
    """
    settings = settings_of(current_app)
    deliver = data.pop("deliver")
    with write_session() as session:
        created = invitations.create_invitation(
            session, _draft(data), by=_me(session), public_url=settings.public_url,
            secret_key=settings.secret_key, default_zone=settings.default_zone, deliver=deliver,
        )
        session.flush()
        return _created(created)


@bp.get("/invitations")
@bp.auth_required(auth, roles=READ)
@bp.input(s.InvitationQuery, location="query", arg_name="query")
@bp.output(s.InvitationPageOut)
@bp.doc(tags=["Invitations"])
def list_invitations(query: dict[str, Any]):
    """List invitations the key's user may see, newest first, a page at a time."""
    statement = (
        permissions.visible_invitations(current_user()).options(*_INVITATION_LOAD)
        .order_by(Invitation.id.desc()).limit(query["limit"] + 1)
    )
    if query["status"]:
        statement = statement.where(Invitation.status == query["status"])
    if query["customer_email"]:
        statement = statement.where(Invitation.customer_email == query["customer_email"].strip())
    if query["created_after"]:
        statement = statement.where(Invitation.created_at > query["created_after"])
    if query["created_before"]:
        statement = statement.where(Invitation.created_at < query["created_before"])
    if query["cursor"]:
        last = int(_decode(query["cursor"], 1)[0])
        statement = statement.where(Invitation.id < last)
    found = list(db_session().scalars(statement))
    page = found[: query["limit"]]
    now = utcnow()
    return {
        "items": [_invitation(i, now) for i in page],
        "next_cursor": _encode(page[-1].id) if len(found) > len(page) else None,
    }


def _visible_invitation(session: Session, user: User, invitation_id: int) -> Invitation:
    _check_id(invitation_id, "invitation")
    found = session.scalar(
        permissions.visible_invitations(user).where(Invitation.id == invitation_id).options(*_INVITATION_LOAD)
    )
    if found is None:
        raise NotFound(f"there is no invitation {invitation_id} that {user.email} may see")
    return found


@bp.get("/invitations/<int:invitation_id>")
@bp.auth_required(auth, roles=READ)
@bp.output(s.InvitationOut)
@bp.doc(tags=["Invitations"])
def get_invitation(invitation_id: int):
    """One invitation."""
    return _invitation(_visible_invitation(db_session(), current_user(), invitation_id))


@bp.post("/invitations/<int:invitation_id>/resend")
@bp.auth_required(auth, roles=WRITE)
@bp.input(s.ResendIn, arg_name="data")
@bp.output(s.CreatedInvitationOut)
@bp.doc(tags=["Invitations"], responses={409: "The invitation is not active any more", 422: "No slot is available any more"})
def resend_invitation(invitation_id: int, data: dict[str, Any]):
    """Send an active invitation again under a new link (the old link stops working)."""
    _check_id(invitation_id, "invitation")
    settings = settings_of(current_app)
    with write_session() as session:
        created = invitations.resend_invitation(
            session, invitation_id, by=_me(session), public_url=settings.public_url,
            secret_key=settings.secret_key, deliver=data["deliver"],
        )
        session.flush()
        return _created(created)


@bp.post("/invitations/<int:invitation_id>/cancel")
@bp.auth_required(auth, roles=WRITE)
@bp.output(s.InvitationOut)
@bp.doc(tags=["Invitations"], responses={409: "The invitation is not active (booked, cancelled or expired)"})
def cancel_invitation(invitation_id: int):
    """Withdraw an active invitation: its link then shows "cancelled"."""
    _check_id(invitation_id, "invitation")
    settings = settings_of(current_app)
    with write_session() as session:
        invitation = invitations.cancel_invitation(session, invitation_id, by=_me(session),
                                                   secret_key=settings.secret_key)
        session.flush()
        return _invitation(invitation)


# --- slots of a draft ------------------------------------------------------------------------


def _validated(session: Session, data: dict[str, Any]) -> invitations.ValidatedDraft:
    draft = invitations.InvitationDraft(**DRAFT_PLACEHOLDERS, **{
        k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k != "limit"
    })
    settings = settings_of(current_app)
    return invitations.validate_draft(session, draft, by=_me(session), default_zone=settings.default_zone)


def _policies(spec: invitations.ValidatedDraft) -> list[dict[str, Any]]:
    """The pools' policies in force for a draft, as the wizard says them beside its count."""
    return [{
        "id": plan.pool.id, "policy": plan.policy, "panel_size": plan.k,
        "next_in_turn": [int(i) for i in plan.ids[: plan.k]] if plan.rotating else None,
    } for plan in pool_policy.pool_plans(spec)]


@bp.post("/slots/count")
@bp.auth_required(auth, roles=READ)
@bp.input(s.SlotDraftIn, arg_name="data")
@bp.output(s.SlotCountOut)
@bp.doc(tags=["Slots"])
def count_slots(data: dict[str, Any]):
    """How many slots a draft invitation has right now (the wizard's live count).

    Pools count as their policy (the draft's `pool_policy`, else each pool's) and panel size say,
    and per-person limits apply, as in the wizard; `pools` says which policy is in force.
    """
    session = db_session()
    spec = _validated(session, data)
    return {"count": availability.count_slots_for(session, spec), "pools": _policies(spec)}


@bp.post("/slots")
@bp.auth_required(auth, roles=READ)
@bp.input(s.SlotDraftIn, arg_name="data")
@bp.input(s.SlotListQuery, location="query", arg_name="query")
@bp.output(s.SlotListOut)
@bp.doc(tags=["Slots"])
def find_slots(data: dict[str, Any], query: dict[str, Any]):
    """The available slots of a draft invitation right now, earliest first (at most `limit`)."""
    session = db_session()
    spec = _validated(session, data)
    slots = availability.find_slots_for(session, spec)
    return {**_slot_list(slots, query["limit"]), "pools": _policies(spec)}


def _slot_list(slots, limit: int) -> dict[str, Any]:
    first = slots.head(limit)
    return {
        "count": len(slots),
        "slots": [{"start": instant(r.start.to_pydatetime()), "end": instant(r.end.to_pydatetime())}
                  for r in first.itertuples(index=False)],
    }


# --- meetings --------------------------------------------------------------------------------

_MEETING_LOAD = (selectinload(Meeting.reservations).selectinload(Reservation.resource), selectinload(Meeting.invitation))


def _visible_meeting(session: Session, user: User, meeting_id: int) -> Meeting:
    _check_id(meeting_id, "meeting")
    found = session.scalar(permissions.visible_meetings(user).where(Meeting.id == meeting_id).options(*_MEETING_LOAD))
    if found is None:
        raise NotFound(f"there is no meeting {meeting_id} that {user.email} may see")
    return found


@bp.get("/meetings")
@bp.auth_required(auth, roles=READ)
@bp.input(s.MeetingQuery, location="query", arg_name="query")
@bp.output(s.MeetingPageOut)
@bp.doc(tags=["Meetings"])
def list_meetings(query: dict[str, Any]):
    """List meetings the key's user may see, by start time, a page at a time."""
    statement = (
        permissions.visible_meetings(current_user()).options(*_MEETING_LOAD)
        .order_by(Meeting.start, Meeting.id).limit(query["limit"] + 1)
    )
    if query["status"]:
        statement = statement.where(Meeting.status == query["status"])
    if query["start_after"]:
        statement = statement.where(Meeting.end > query["start_after"])
    if query["start_before"]:
        statement = statement.where(Meeting.start < query["start_before"])
    if query["resource"]:
        statement = statement.where(
            Meeting.id.in_(select(Reservation.meeting_id).where(Reservation.resource_id == query["resource"]))
        )
    if query["cursor"]:
        start_text, last = _decode(query["cursor"], 2)
        try:
            start = dt.datetime.fromisoformat(start_text)
        except ValueError:
            raise invitations.InvitationError("cursor", "the cursor is not one this API gave; pass next_cursor "
                                                        "of the previous page unchanged") from None
        statement = statement.where(or_(Meeting.start > start, and_(Meeting.start == start, Meeting.id > int(last))))
    found = list(db_session().scalars(statement))
    page = found[: query["limit"]]
    return {
        "items": [meeting_json(m) for m in page],
        "next_cursor": _encode(instant(page[-1].start), page[-1].id) if len(found) > len(page) else None,
    }


@bp.get("/meetings/<int:meeting_id>")
@bp.auth_required(auth, roles=READ)
@bp.output(s.MeetingOut)
@bp.doc(tags=["Meetings"])
def get_meeting(meeting_id: int):
    """One meeting."""
    return meeting_json(_visible_meeting(db_session(), current_user(), meeting_id))


@bp.post("/meetings/<int:meeting_id>/cancel")
@bp.auth_required(auth, roles=WRITE)
@bp.input(s.CancelIn, arg_name="data")
@bp.output(s.MeetingOut)
@bp.doc(tags=["Meetings"], responses={409: "The meeting is already cancelled"})
def cancel_meeting_view(meeting_id: int, data: dict[str, Any]):
    """Cancel a confirmed meeting: its time is freed and everyone is told."""
    _check_id(meeting_id, "meeting")
    settings = settings_of(current_app)
    with write_session() as session:
        meeting = cancel_meeting(session, meeting_id, by=_me(session), secret_key=settings.secret_key,
                                 reason=data["reason"], settings=settings)
        session.flush()
        return meeting_json(meeting)


@bp.post("/meetings/<int:meeting_id>/resend-confirmation")
@bp.auth_required(auth, roles=WRITE)
@bp.output(s.MeetingOut)
@bp.doc(tags=["Meetings"], responses={409: "The meeting is cancelled"})
def resend_confirmation_view(meeting_id: int):
    """Send the customer's confirmation again, for a customer who lost it.

    The same words, calendar invite (same `uid`) and reschedule and cancel links as the first
    one, with the invite attached. The meeting does not change.
    """
    _check_id(meeting_id, "meeting")
    settings = settings_of(current_app)
    with write_session() as session:
        meeting = resend_confirmation(session, meeting_id, by=_me(session), secret_key=settings.secret_key,
                                      settings=settings)
        session.flush()
        return meeting_json(meeting)


@bp.get("/meetings/<int:meeting_id>/slots")
@bp.auth_required(auth, roles=READ)
@bp.input(s.SlotListQuery, location="query", arg_name="query")
@bp.output(s.MeetingSlotsOut)
@bp.doc(tags=["Meetings"])
def meeting_slots(meeting_id: int, query: dict[str, Any]):
    """The times a confirmed meeting can move to right now, earliest first (at most `limit`).

    The times its customer's reschedule page offers: the invitation's slots, the meeting's own
    reservations left out, its current start excluded. Empty for a cancelled meeting.
    """
    meeting = _visible_meeting(db_session(), current_user(), meeting_id)
    if meeting.status != "confirmed":
        return {"count": 0, "slots": []}
    slots = availability.find_slots_for(db_session(), meeting.invitation, skip_meeting=meeting.id)
    if not slots.empty:
        slots = slots[pd.DatetimeIndex(slots["start"]) != pd.Timestamp(meeting.start)]
    return _slot_list(slots, query["limit"])


def _not_movable(meeting_id: int, start: dt.datetime, reason: str | None):
    text = f"the meeting cannot move to {instant(start)}: {reason or 'that time is not available'}"
    fix = (f"; pick a start from GET /api/v1/meetings/{meeting_id}/slots (RFC 3339, with the offset it lists)")
    return problem(422, text + fix, [{"field": "start", "location": "json", "message": text + fix}])


@bp.post("/meetings/<int:meeting_id>/reschedule")
@bp.auth_required(auth, roles=WRITE)
@bp.input(s.RescheduleIn, arg_name="data")
@bp.output(s.MeetingOut)
@bp.doc(tags=["Meetings"], responses={
    409: "The meeting is cancelled, or its invitation's time frame is over",
    422: "The start is malformed or not available (`errors` names `start`; "
         "`GET /meetings/{meeting_id}/slots` lists the times it can move to)",
})
def reschedule_meeting_view(meeting_id: int, data: dict[str, Any]):
    """Move a confirmed meeting to another time, as the key's user (a scheduler).

    The same move as the customer's reschedule link: the new time re-checked under the locks,
    the old reservations released and new ones made (pool members and room chosen again by the
    pool's policy), or nothing changed. The meeting keeps its `uid`, its `sequence` goes up;
    everyone gets the updated invite, calendars are rewritten, reminders follow the new time,
    and `meeting.rescheduled` is sent with `"by": "scheduler"`. The customer's own limits
    (`change_cutoff_hours`, `max_reschedules`) do not bind a scheduler.
    """
    _check_id(meeting_id, "meeting")
    settings = settings_of(current_app)
    start = data["start"]
    with write_session() as session:
        result = reschedule_meeting(session, meeting_id, start, secret_key=settings.secret_key,
                                    settings=settings, by=_me(session))
        if result.outcome != "moved":  # nothing was changed
            return _not_movable(meeting_id, start, result.reason)
        session.flush()
        return meeting_json(result.meeting)


# --- team (read) -----------------------------------------------------------------------------


@bp.get("/members")
@bp.auth_required(auth, roles=READ)
@bp.output(s.MemberListOut)
@bp.doc(tags=["Team"])
def members():
    """Active team members."""
    return {"items": [member_json(m) for m in team_members(db_session())]}


@bp.get("/rooms")
@bp.auth_required(auth, roles=READ)
@bp.output(s.RoomListOut)
@bp.doc(tags=["Team"])
def rooms():
    """Active rooms."""
    return {"items": [room_json(r) for r in list_rooms(db_session())]}


@bp.get("/pools")
@bp.auth_required(auth, roles=READ)
@bp.output(s.PoolListOut)
@bp.doc(tags=["Team"])
def pools():
    """Pools, their members, panel sizes and assignment policies."""
    session = db_session()
    default = pool_policy.organisation_policy(session)
    return {"items": [pool_json(p, default) for p in list_pools(session)]}


# --- webhooks --------------------------------------------------------------------------------


def _webhook(sub: WebhookSubscription) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "events": list(sub.events or []), "description": sub.description or "",
            "active": sub.active, "created_at": instant(sub.created_at)}


@bp.get("/webhooks")
@bp.auth_required(auth, roles=HOOKS)
@bp.output(s.WebhookListOut)
@bp.doc(tags=["Webhooks"])
def list_webhooks():
    """The webhook subscriptions of the key's user (an admin's key: all)."""
    return {"items": [_webhook(w) for w in webhooks.subscriptions(db_session(), current_user())]}


@bp.post("/webhooks")
@bp.auth_required(auth, roles=HOOKS)
@bp.input(s.WebhookIn, arg_name="data")
@bp.output(s.CreatedWebhookOut, status_code=201)
@bp.doc(tags=["Webhooks"])
def create_webhook(data: dict[str, Any]):
    """Subscribe a URL to events; the answer holds the signing secret, shown only now."""
    settings = settings_of(current_app)
    with write_session() as session:
        created = webhooks.create_subscription(
            session, _me(session), data["url"], data["events"], description=data["description"],
            secret_key=settings.secret_key, allowed=webhooks.parse_networks(settings.webhook_allowed_networks),
        )
        return {**_webhook(created.subscription), "secret": created.secret}


@bp.get("/webhooks/<int:webhook_id>")
@bp.auth_required(auth, roles=HOOKS)
@bp.output(s.WebhookOut)
@bp.doc(tags=["Webhooks"])
def get_webhook(webhook_id: int):
    """One subscription."""
    _check_id(webhook_id, "webhook")
    return _webhook(webhooks.subscription(db_session(), current_user(), webhook_id))


@bp.delete("/webhooks/<int:webhook_id>")
@bp.auth_required(auth, roles=HOOKS)
@bp.output({}, status_code=204)
@bp.doc(tags=["Webhooks"])
def delete_webhook(webhook_id: int):
    """Remove a subscription; nothing more is sent to it."""
    _check_id(webhook_id, "webhook")
    with write_session() as session:
        webhooks.delete_subscription(session, _me(session), webhook_id)
    return ""


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@bp.auth_required(auth, roles=HOOKS)
@bp.output(s.DeliveryListOut)
@bp.doc(tags=["Webhooks"])
def list_deliveries(webhook_id: int):
    """The delivery log of a subscription: its latest 100 deliveries, newest first."""
    _check_id(webhook_id, "webhook")
    found = webhooks.deliveries(db_session(), current_user(), webhook_id)
    return {"items": [{
        "id": d.id, "event_id": d.event_id, "event_type": d.event_type, "status": d.status,
        "attempts": d.attempts, "response_status": d.response_status, "last_error": d.last_error,
        "created_at": instant(d.created_at), "next_attempt_at": instant(d.next_attempt_at),
        "delivered_at": instant(d.delivered_at),
    } for d in found]}


@bp.post("/webhooks/<int:webhook_id>/test")
@bp.auth_required(auth, roles=HOOKS)
@bp.output(s.DeliveryOut, status_code=202)
@bp.doc(tags=["Webhooks"])
def send_test_event(webhook_id: int):
    """Queue a `webhook.test` event for this subscription; the worker sends it."""
    _check_id(webhook_id, "webhook")
    with write_session() as session:
        d = webhooks.queue_test_event(session, _me(session), webhook_id)
        return {
            "id": d.id, "event_id": d.event_id, "event_type": d.event_type, "status": d.status,
            "attempts": d.attempts, "response_status": d.response_status, "last_error": d.last_error,
            "created_at": instant(d.created_at), "next_attempt_at": instant(d.next_attempt_at),
            "delivered_at": instant(d.delivered_at),
        }


__all__ = ["bp", "NotFound"]
