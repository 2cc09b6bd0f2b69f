"""The API's request and response schemas (marshmallow, through APIFlask), from which the OpenAPI document is made.

Response schemas describe exactly the objects of :mod:`booking_service.services.representations`;
request schemas check the form of the input (types, bounds), and the services check its meaning
with the same rules and messages as the dashboard.
"""

from __future__ import annotations

import datetime as dt

from apiflask import Schema, fields, validators
from marshmallow import ValidationError

from ...core.i18n import LANGUAGES
from ...services.pool_policy import POLICIES
from ...services.webhooks import ACTORS, EVENTS
from ...store.models import API_KEY_SCOPES

MAX_ID = 2**31 - 1
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2200, 12, 31)
INSTANT_RANGE = validators.Range(
    min=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), max=dt.datetime(2200, 12, 31, tzinfo=dt.UTC)
)
INVITATION_STATUSES = ("active", "scheduled", "cancelled", "expired")


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain the NUL character")


def Text(**kwargs) -> fields.String:  # noqa: N802 - a field factory reads like a field class
    """A string without NUL characters (which no database stores)."""
    return fields.String(validate=[_no_nul, *kwargs.pop("validate", [])], **kwargs)


def Id(**kwargs) -> fields.Integer:  # noqa: N802
    """A database id: a positive 32-bit integer."""
    return fields.Integer(strict=True, validate=validators.Range(min=1, max=MAX_ID), **kwargs)


def Minutes(**kwargs) -> fields.Integer:  # noqa: N802
    """A whole number of minutes (the services check the range of each)."""
    return fields.Integer(strict=True, validate=validators.Range(min=-(10**6), max=10**6), **kwargs)


def Day(**kwargs) -> fields.Date:  # noqa: N802
    """A date (``YYYY-MM-DD``) in the invitation's zone."""
    return fields.Date(validate=validators.Range(min=EARLIEST, max=LATEST), **kwargs)


INSTANT_ERRORS = {
    "invalid": "is not an RFC 3339 date-time; write it like 2026-12-01T09:30:00+01:00 or 2026-12-01T08:30:00Z",
    "invalid_awareness": "has no offset; add the offset to UTC it is meant in, like 2026-12-01T09:30:00+01:00 "
                         "or 2026-12-01T08:30:00Z",
}


def Instant(**kwargs) -> fields.AwareDateTime:  # noqa: N802
    """An RFC 3339 instant with an offset (``2026-12-01T09:30:00+01:00`` or ``...Z``)."""
    return fields.AwareDateTime(format="iso", validate=INSTANT_RANGE, error_messages=INSTANT_ERRORS, **kwargs)


def PolicyCount(high: int, **kwargs) -> fields.Integer:  # noqa: N802
    """A number of the customer's change policy; ``null``: the installation's default (the service checks 0..high)."""
    return fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validators.Range(min=-(10**6), max=10**6), **kwargs)


def InstantOut(**kwargs) -> fields.String:  # noqa: N802
    """An instant as answered: RFC 3339 in UTC."""
    return fields.String(metadata={"format": "date-time"}, **kwargs)


def DayOut(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(metadata={"format": "date"}, **kwargs)


# --- requests --------------------------------------------------------------------------------


class SlotDraftIn(Schema):
    """What decides the slots of an invitation (the wizard's live count uses just these)."""

    duration_minutes = Minutes(required=True, metadata={"description": "5 to 1440", "example": 30})
    frame_start = Day(required=True, metadata={"description": "first date of the frame, in `zone`"})
    frame_end = Day(required=True, metadata={"description": "last date of the frame (inclusive), in `zone`"})
    members = fields.List(Id(), load_default=list, validate=validators.Length(max=200),
                          metadata={"description": "ids of team members who all attend"})
    pools = fields.List(Id(), load_default=list, validate=validators.Length(max=50),
                        metadata={"description": "ids of pools, one member of each attends"})
    rooms = fields.List(Id(), load_default=list, validate=validators.Length(max=200),
                        metadata={"description": "ids of rooms, one of which is used"})
    pool_policy = fields.String(
        load_default=None, allow_none=True,
        validate=validators.OneOf(POLICIES, error="pool policy {input!r} is not a policy; use one of "
                                                   + ", ".join(POLICIES)),
        metadata={"description": "who attends from the pools, for every chosen pool: `pooled` (pooled "
                                 "availability), `round_robin` (strict round robin) or `weighted` (weighted "
                                 "round robin); `null`: each pool's own policy (`GET /pools`). A pool's panel "
                                 "size (k of n) always applies."},
    )
    buffer_before_minutes = Minutes(load_default=0)
    buffer_after_minutes = Minutes(load_default=0)
    minimum_notice_minutes = Minutes(load_default=0)
    slot_interval_minutes = Minutes(load_default=15, metadata={"description": "must divide 24 hours"})
    min_capacity = fields.Integer(strict=True, load_default=1, validate=validators.Range(min=-(10**6), max=10**6))
    zone = Text(load_default=None, allow_none=True, validate=[validators.Length(max=64)],
                metadata={"description": "IANA zone of the frame; default: the key's user's zone", "example": "Europe/Berlin"})


class SlotListQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validators.Range(min=1, max=1000))


class InvitationIn(SlotDraftIn):
    """A new invitation: the same fields, rules and messages as the dashboard's wizard."""

    customer_name = Text(required=True, validate=[validators.Length(max=1000)])
    customer_email = Text(required=True, validate=[validators.Length(max=1000)])
    subject = Text(required=True, validate=[validators.Length(max=1000)])
    description = Text(load_default="", validate=[validators.Length(max=10000)])
    conferencing = Text(load_default="", validate=[validators.Length(max=5000)])
    customer_zone = Text(load_default=None, allow_none=True, validate=[validators.Length(max=64)])
    language = fields.String(load_default=None, allow_none=True, validate=validators.OneOf(LANGUAGES),
                             metadata={"description": "the customer's language for the booking pages and their mail "
                                                      "(`en`, `de`, `fr`, `es`); null: the browser's, on first open"})
    promote = fields.Boolean(load_default=False, metadata={"description": "promote a few slots in the email"})
    promote_count = fields.Integer(strict=True, load_default=5, validate=validators.Range(min=-(10**6), max=10**6))
    promoted_starts = fields.List(Instant(), load_default=None, allow_none=True, validate=validators.Length(max=20),
                                  metadata={"description": "the scheduler's own promoted slots (instead of the optimizer's)"})
    change_cutoff_hours = PolicyCount(24 * 366, metadata={
        "description": "the customer may reschedule or cancel online until this many hours before the start "
                       "(0 to 8784); `null`: the installation's CHANGE_CUTOFF_HOURS"})
    max_reschedules = PolicyCount(100, metadata={
        "description": "how often the customer may move the meeting online (0 to 100); `null`: the "
                       "installation's MAX_RESCHEDULES"})
    deliver = fields.String(load_default="email", validate=validators.OneOf(["email", "links"]),
                            metadata={"description": "`email`: Slotwise sends the invitation; `links`: you send the returned links"})


class ResendIn(Schema):
    deliver = fields.String(load_default=None, allow_none=True, validate=validators.OneOf(["email", "links"]))


class RescheduleIn(Schema):
    start = Instant(required=True, metadata={
        "description": "the new start, RFC 3339 with an offset; one of `GET /meetings/{meeting_id}/slots`",
        "example": "2026-12-08T10:00:00+01:00"})


class CancelIn(Schema):
    reason = Text(load_default="", validate=[validators.Length(max=2000)],
                  metadata={"description": "told to the customer and the team (meetings only)"})


class InvitationQuery(Schema):
    status = fields.String(load_default=None, validate=validators.OneOf(INVITATION_STATUSES),
                           metadata={"description": "only invitations with this recorded status"})
    customer_email = Text(load_default=None, validate=[validators.Length(max=254)])
    created_after = Instant(load_default=None)
    created_before = Instant(load_default=None)
    cursor = Text(load_default=None, validate=[validators.Length(max=200)],
                  metadata={"description": "`next_cursor` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validators.Range(min=1, max=200))


class MeetingQuery(Schema):
    status = fields.String(load_default=None, validate=validators.OneOf(["confirmed", "cancelled"]))
    start_after = Instant(load_default=None, metadata={"description": "only meetings ending after this instant"})
    start_before = Instant(load_default=None, metadata={"description": "only meetings starting before this instant"})
    resource = Id(load_default=None, metadata={"description": "only meetings reserving this member or room"})
    cursor = Text(load_default=None, validate=[validators.Length(max=200)])
    limit = fields.Integer(load_default=50, validate=validators.Range(min=1, max=200))


class WebhookIn(Schema):
    url = Text(required=True, validate=[validators.Length(max=2000)],
               metadata={"example": "https://crm.example.com/hooks/slotwise"})
    events = fields.List(fields.String(validate=validators.OneOf(EVENTS)), required=True,
                         validate=validators.Length(min=1, max=len(EVENTS)))
    description = Text(load_default="", validate=[validators.Length(max=200)])


# --- responses -------------------------------------------------------------------------------


class PromotedSlotOut(Schema):
    rank = fields.Integer(required=True)
    start = InstantOut(required=True)
    end = InstantOut(required=True)


class InvitationOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validators.OneOf(INVITATION_STATUSES))
    customer_name = fields.String(required=True)
    customer_email = fields.String(required=True)
    customer_zone = fields.String(required=True, allow_none=True)
    language = fields.String(required=True, allow_none=True)
    subject = fields.String(required=True)
    description = fields.String(required=True)
    conferencing = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    buffer_before_minutes = fields.Integer(required=True)
    buffer_after_minutes = fields.Integer(required=True)
    minimum_notice_minutes = fields.Integer(required=True)
    slot_interval_minutes = fields.Integer(required=True)
    min_capacity = fields.Integer(required=True)
    frame_start = DayOut(required=True)
    frame_end = DayOut(required=True)
    zone = fields.String(required=True)
    delivery = fields.String(required=True)
    members = fields.List(fields.Integer(), required=True)
    pools = fields.List(fields.Integer(), required=True)
    rooms = fields.List(fields.Integer(), required=True)
    pool_policy = fields.String(required=True, allow_none=True, validate=validators.OneOf(POLICIES))
    change_cutoff_hours = fields.Integer(required=True, allow_none=True)
    max_reschedules = fields.Integer(required=True, allow_none=True)
    promoted_slots = fields.List(fields.Nested(PromotedSlotOut), required=True)
    meeting_id = fields.Integer(required=True, allow_none=True)
    created_by = fields.Integer(required=True, allow_none=True)
    created_at = InstantOut(required=True)
    updated_at = InstantOut(required=True)
    sent_at = InstantOut(required=True, allow_none=True)
    cancelled_at = InstantOut(required=True, allow_none=True)


class SlotLinkOut(Schema):
    start = InstantOut(required=True)
    end = InstantOut(required=True)
    url = fields.String(required=True)


class CreatedInvitationOut(Schema):
    invitation = fields.Nested(InvitationOut, required=True)
    link = fields.String(required=True, metadata={"description": "the customer's booking link; shown only now"})
    slot_links = fields.List(fields.Nested(SlotLinkOut), required=True,
                             metadata={"description": "a link per promoted slot that books it directly"})
    slot_count = fields.Integer(required=True)


class InvitationPageOut(Schema):
    items = fields.List(fields.Nested(InvitationOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class MeetingOut(Schema):
    id = fields.Integer(required=True)
    invitation_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validators.OneOf(["confirmed", "cancelled"]))
    start = InstantOut(required=True)
    end = InstantOut(required=True)
    subject = fields.String(required=True)
    customer_name = fields.String(required=True)
    customer_email = fields.String(required=True)
    customer_zone = fields.String(required=True, allow_none=True)
    language = fields.String(required=True, allow_none=True)
    uid = fields.String(required=True)
    sequence = fields.Integer(required=True)
    members = fields.List(fields.Integer(), required=True)
    room = fields.Integer(required=True, allow_none=True)
    created_by = fields.Integer(required=True, allow_none=True)
    created_at = InstantOut(required=True)
    reschedule_count = fields.Integer(required=True, metadata={"description": "the customer's own moves"})
    cancelled_at = InstantOut(required=True, allow_none=True)
    cancelled_by = fields.String(required=True, allow_none=True, validate=validators.OneOf(ACTORS))
    cancel_reason = fields.String(required=True, allow_none=True)


class MeetingPageOut(Schema):
    items = fields.List(fields.Nested(MeetingOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class PoolRuleOut(Schema):
    """How one pool of a draft counts: the policy in force and its panel."""

    id = fields.Integer(required=True)
    policy = fields.String(required=True, validate=validators.OneOf(POLICIES))
    panel_size = fields.Integer(required=True, metadata={"description": "members needed per meeting"})
    next_in_turn = fields.List(fields.Integer(), required=True, allow_none=True,
                               metadata={"description": "strict round robin: the members whose turn it is "
                                                        "(only their starts count); otherwise `null`"})


class SlotCountOut(Schema):
    count = fields.Integer(required=True)
    pools = fields.List(fields.Nested(PoolRuleOut), required=True,
                        metadata={"description": "the policy in force for each pool of the draft"})


class SlotOut(Schema):
    start = InstantOut(required=True)
    end = InstantOut(required=True)


class MeetingSlotsOut(Schema):
    count = fields.Integer(required=True, metadata={"description": "all available slots"})
    slots = fields.List(fields.Nested(SlotOut), required=True, metadata={"description": "the first `limit` of them"})


class SlotListOut(MeetingSlotsOut):
    pools = fields.List(fields.Nested(PoolRuleOut), required=True,
                        metadata={"description": "the policy in force for each pool of the draft"})


class MemberOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)
    zone = fields.String(required=True)
    active = fields.Boolean(required=True)


class RoomOut(MemberOut):
    capacity = fields.Integer(required=True)


class PoolOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    members = fields.List(fields.Integer(), required=True)
    panel_size = fields.Integer(required=True, metadata={"description": "members who attend each meeting (k of n)"})
    policy = fields.String(required=True, allow_none=True, validate=validators.OneOf(POLICIES),
                           metadata={"description": "the pool's own policy; `null`: the organisation's"})
    effective_policy = fields.String(required=True, validate=validators.OneOf(POLICIES),
                                     metadata={"description": "the policy in force unless an invitation overrides it"})
    compensate_removed = fields.Boolean(required=True, metadata={
        "description": "a cancelled meeting is given back to the member who lost it"})


class MemberListOut(Schema):
    items = fields.List(fields.Nested(MemberOut), required=True)


class RoomListOut(Schema):
    items = fields.List(fields.Nested(RoomOut), required=True)


class PoolListOut(Schema):
    items = fields.List(fields.Nested(PoolOut), required=True)


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = InstantOut(required=True)


class CreatedWebhookOut(WebhookOut):
    secret = fields.String(required=True, metadata={"description": "the signing secret (`whsec_...`); shown only now"})


class WebhookListOut(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class DeliveryOut(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True, metadata={"description": "the `webhook-id` header"})
    event_type = fields.String(required=True)
    status = fields.String(required=True, validate=validators.OneOf(["pending", "delivered", "failed"]))
    attempts = fields.Integer(required=True)
    response_status = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = InstantOut(required=True)
    next_attempt_at = InstantOut(required=True)
    delivered_at = InstantOut(required=True, allow_none=True)


class DeliveryListOut(Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)


class ProblemOut(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))


SCOPES = API_KEY_SCOPES
