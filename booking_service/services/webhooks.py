"""Webhooks: subscriptions, the events Slotwise reports, and the queue of deliveries.

A *subscription* (URL, events, secret) belongs to the user who made it, in the dashboard or
through the API, and receives the events of exactly the invitations and meetings that user may
see (:mod:`booking_service.services.permissions`).

Events
------
Every change of state of the state machine (:mod:`booking_service.services.lifecycle`) that
someone outside would act on is an event, named ``<object>.<what happened>``
(:data:`TRANSITION_EVENTS` maps each transition to its event, or to ``None`` for one that
reports nothing):

=========================  ===================================================================
``invitation.created``     an invitation was made (dashboard, API)
``invitation.cancelled``   a scheduler withdrew an active invitation
``invitation.expired``     an active invitation's frame ended unbooked (recorded by the worker)
``meeting.confirmed``      a customer booked: the meeting exists and its invitation is scheduled
``meeting.cancelled``      a meeting was cancelled (its invitation is cancelled with it)
``meeting.rescheduled``    a meeting moved to another time (same ``uid``, ``sequence`` + 1)
``webhook.test``           sent only by "send test event", to one subscription
=========================  ===================================================================

A transition added later picks its event here, so that the names stay one vocabulary:
``docs/webhooks.md`` lists the rules (a customer's own cancellation is ``meeting.cancelled``
with ``"by": "customer"``, short holds report nothing).

The event is queued in the transaction of the change (:func:`emit_transition`, called by
:func:`booking_service.services.lifecycle.finish`): a :class:`WebhookDelivery` row per
subscription, so a change that is rolled back reports nothing and a change that commits is
never lost. :mod:`booking_service.delivery.webhooks` sends them, signed, with retries.

Payload
-------
``{"type": "meeting.confirmed", "timestamp": "...", "data": {"invitation": {...},
"meeting": {...}}}``: the objects as the API shows them
(:mod:`booking_service.services.representations`). Each delivery is signed as the Standard
Webhooks specification says (:func:`sign`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.crypto import Purpose, decrypt_secret, encrypt_secret
from ..store.models import Invitation, Meeting, User, WebhookDelivery, WebhookSubscription, utcnow
from . import audit, permissions
from .representations import invitation_json, meeting_json

__all__ = [
    "ACTORS",
    "EVENTS",
    "TEST_EVENT",
    "TRANSITION_EVENTS",
    "WEBHOOK_SECRETS",
    "UnknownSubscription",
    "WebhookError",
    "address_allowed",
    "create_subscription",
    "delete_subscription",
    "deliveries",
    "emit_transition",
    "new_secret",
    "parse_networks",
    "queue_test_event",
    "sign",
    "subscription_secret",
    "subscriptions",
    "verify",
]

EVENTS: tuple[str, ...] = (
    "invitation.created",
    "invitation.cancelled",
    "invitation.expired",
    "meeting.confirmed",
    "meeting.cancelled",
    "meeting.rescheduled",
)
"""The events a subscription may ask for."""
TEST_EVENT = "webhook.test"

TRANSITION_EVENTS: dict[str, str | None] = {
    "create": "invitation.created",
    "resend": None,  # the same invitation under a new link: nothing an outside tool acts on
    "cancel_invitation": "invitation.cancelled",
    "expire": "invitation.expired",
    "confirm": "meeting.confirmed",
    "cancel_meeting": "meeting.cancelled",
    "resend_confirmation": None,  # a mail again, no change
    "reschedule": "meeting.rescheduled",
    "hold": None,  # minutes while a customer confirms: subscribers act on the booking that follows
    "cancel_by_customer": "meeting.cancelled",
    "rebook": "meeting.confirmed",  # a customer books another time after the scheduler cancelled
}
"""The event each transition of the state machine emits (``None``: none); every transition is listed."""

TRANSITION_ACTORS: dict[str, str] = {
    "create": "scheduler", "cancel_invitation": "scheduler", "expire": "system", "confirm": "customer",
    "cancel_meeting": "scheduler", "reschedule": "customer", "cancel_by_customer": "customer", "rebook": "customer",
}
"""Who acts in each transition that emits an event: the payload's ``data.by`` (a scheduler may
also ``reschedule``: :func:`booking_service.services.booking.reschedule_meeting` says so)."""
ACTORS: tuple[str, ...] = ("customer", "scheduler", "system")
"""Who may act: the values of ``data.by``."""

WEBHOOK_SECRETS = Purpose(
    b"slotwise webhook secrets v1",
    "the webhook's signing secret",
    "delete the webhook and add it again with a new secret",
)
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000
TOLERANCE = dt.timedelta(minutes=5)
"""How far a signed timestamp may be from the receiver's clock (:func:`verify`)."""


class WebhookError(ValueError):
    """A subscription cannot be made as asked; the message names the bad value and what to do.

    Attributes
    ----------
    field : str
        ``"url"``, ``"events"``, ``"description"`` or ``"subscription"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownSubscription(WebhookError):
    """No subscription of that id that the user may see."""


# --- where deliveries may go -----------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """The allow-list setting (``"127.0.0.0/8, 10.1.2.3"``) as networks.

    Raises
    ------
    ValueError
        Naming the entry that is not an address or a network.
    """
    networks = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network like 10.0.0.0/8") from None
    return tuple(networks)


def address_allowed(address: str, allowed: Sequence[Network] = ()) -> bool:
    """Whether a webhook may be sent to ``address``: public, or inside an allowed network.

    Loopback, private, link-local, multicast, reserved and unspecified addresses (the machine
    itself, the office network, cloud metadata services) are refused unless the allow-list
    (``WEBHOOK_ALLOWED_NETWORKS``) names them.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in allowed):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, allowed: Sequence[Network] = ()) -> str:
    """Check a subscription URL: ``http(s)``, a host, no credentials, not a private address.

    A host given by name is checked again, resolved, on every delivery
    (:mod:`booking_service.delivery.webhooks`): a name may point anywhere later.

    Raises
    ------
    WebhookError
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("url", "the URL is required, e.g. https://crm.example.com/hooks/slotwise")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError("url", f"the URL is {len(url)} characters; use at most {MAX_URL_LENGTH}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise WebhookError("url", f"{url!r} is not a URL ({exc}); use e.g. https://crm.example.com/hooks") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookError("url", f"{url!r} is not an http(s) URL; webhooks are sent over http or https only")
    if not host:
        raise WebhookError("url", f"{url!r} names no host; use e.g. https://crm.example.com/hooks")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("url", "the URL carries a user name or password; authenticate with the signature instead")
    if any(c.isspace() for c in url):
        raise WebhookError("url", "the URL contains spaces; encode them as %20")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(str(literal), allowed):
        raise WebhookError("url", f"{host} is a private, loopback or reserved address; webhooks go to public "
                                  "addresses unless WEBHOOK_ALLOWED_NETWORKS allows it")
    lowered = host.lower().rstrip(".")
    if literal is None and (lowered == "localhost" or lowered.endswith((".localhost", ".local", ".internal"))):
        loopback = lowered == "localhost" or lowered.endswith(".localhost")
        if not (loopback and address_allowed("127.0.0.1", allowed)):
            raise WebhookError("url", f"{host} is a local name; webhooks go to public hosts unless "
                                      "WEBHOOK_ALLOWED_NETWORKS allows its address")
    return url


def _events(events: Iterable[str]) -> list[str]:
    if isinstance(events, str):
        raise WebhookError("events", f"events must be a list such as ['meeting.confirmed'], got {events!r}")
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise WebhookError("events", f"unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}")
    if not chosen:
        raise WebhookError("events", f"choose at least one event of {', '.join(EVENTS)}")
    return [e for e in EVENTS if e in chosen]


# --- subscriptions ---------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class CreatedSubscription:
    """A new subscription and its signing secret (shown once; stored encrypted to sign with)."""

    subscription: WebhookSubscription
    secret: str


def create_subscription(
    session: Session,
    user: User,
    url: str,
    events: Iterable[str],
    *,
    secret_key: str,
    description: str = "",
    allowed: Sequence[Network] = (),
    now: dt.datetime | None = None,
) -> CreatedSubscription:
    """Subscribe ``url`` to ``events`` for ``user``; return it with its secret.

    ``secret_key`` (the installation's ``SECRET_KEY``) encrypts the signing secret at rest;
    ``allowed`` is the ``WEBHOOK_ALLOWED_NETWORKS`` allow-list.

    Raises
    ------
    WebhookError
        A bad URL (not http(s), a private address ...), an unknown event, a long description.
    """
    if user is None or not user.active:
        raise WebhookError("subscription", "only an active user may add webhooks")
    url = check_url(url, allowed)
    chosen = _events(events)
    description = (description or "").strip()
    if len(description) > 200:
        raise WebhookError("description", f"the description is {len(description)} characters; use at most 200")
    secret = new_secret()
    subscription = WebhookSubscription(
        user_id=user.id, url=url, events=chosen, description=description, active=True,
        secret_encrypted=encrypt_secret(secret, secret_key, WEBHOOK_SECRETS), created_at=now or utcnow(),
    )
    session.add(subscription)
    session.flush()
    audit.record(session, user, "webhook.created", ("webhook", subscription.id), url=url, events=chosen)
    return CreatedSubscription(subscription, secret)


def _visible(user: User | None):
    query = select(WebhookSubscription)
    if not permissions.is_admin(user):
        query = query.where(WebhookSubscription.user_id == (user.id if user is not None else -1))
    return query


def subscriptions(session: Session, user: User | None) -> list[WebhookSubscription]:
    """The subscriptions ``user`` may see: their own; an admin sees every one."""
    return list(session.scalars(_visible(user).order_by(WebhookSubscription.id)))


def subscription(session: Session, user: User | None, subscription_id: int) -> WebhookSubscription:
    """One subscription ``user`` may see.

    Raises
    ------
    WebhookError
        When there is none such for this user (another user's is not revealed).
    """
    found = session.scalar(_visible(user).where(WebhookSubscription.id == subscription_id))
    if found is None:
        raise UnknownSubscription("subscription", f"there is no webhook {subscription_id} of yours; list them to see their ids")
    return found


def delete_subscription(session: Session, user: User | None, subscription_id: int) -> None:
    """Remove a subscription with its deliveries, waiting ones included (nothing more is sent)."""
    found = subscription(session, user, subscription_id)
    audit.record(session, user, "webhook.deleted", ("webhook", found.id), url=found.url)
    session.delete(found)
    session.flush()


def subscription_secret(subscription: WebhookSubscription, secret_key: str) -> str:
    """The signing secret of a subscription (for the worker that signs, and to show it again).

    Raises
    ------
    booking_service.core.crypto.SecretDecryptionError
        When ``SECRET_KEY`` changed since the subscription was made.
    """
    return decrypt_secret(subscription.secret_encrypted, secret_key, WEBHOOK_SECRETS)


def deliveries(
    session: Session, user: User | None, subscription_id: int, *, limit: int = 100
) -> list[WebhookDelivery]:
    """The latest deliveries of one of ``user``'s subscriptions, newest first (the delivery log)."""
    found = subscription(session, user, subscription_id)
    return list(session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == found.id)
        .order_by(WebhookDelivery.id.desc()).limit(limit)
    ))


# --- events ----------------------------------------------------------------------------------


def _event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _queue(session: Session, subscription: WebhookSubscription, event_type: str, data: dict[str, Any],
           now: dt.datetime) -> WebhookDelivery:
    payload = {"type": event_type, "timestamp": now.astimezone(dt.UTC).isoformat(), "data": data}
    delivery = WebhookDelivery(
        subscription_id=subscription.id, event_id=_event_id(), event_type=event_type,
        payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False), status="pending",
        attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(delivery)
    return delivery


def emit_transition(
    session: Session,
    transition: str,
    invitation: Invitation,
    meeting: Meeting | None,
    now: dt.datetime,
    *,
    status: str | None = None,
    actor: str | None = None,
) -> list[WebhookDelivery]:
    """Queue the event of ``transition`` for every subscription that asked for it and may see it.

    Called by :func:`booking_service.services.lifecycle.finish`, in the transaction of the
    change. ``status`` is the invitation's status as shown (default: stored); ``actor`` is who
    acted, ``data.by`` (default: :data:`TRANSITION_ACTORS` of the transition).

    Raises
    ------
    KeyError
        For a transition :data:`TRANSITION_EVENTS` does not list: every transition must say
        which event it emits, or ``None``.
    ValueError
        For an ``actor`` that is not one of :data:`ACTORS`.
    """
    event_type = TRANSITION_EVENTS[transition]
    if actor is not None and actor not in ACTORS:
        raise ValueError(f"actor {actor!r} is not one of {', '.join(ACTORS)}")
    if event_type is None:
        return []
    wanted = [
        s for s in session.scalars(
            select(WebhookSubscription).where(WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.id)
        )
        if event_type in (s.events or [])
    ]
    if not wanted:
        return []
    session.flush()  # ids for the payload and for the scope check
    queued = []
    data: dict[str, Any] | None = None
    for sub in wanted:
        owner = session.get(User, sub.user_id)
        if not permissions.can_access_invitation(session, owner, invitation.id) and not (
            meeting is not None and permissions.can_access_meeting(session, owner, meeting.id)
        ):
            continue
        if data is None:
            data = {"invitation": invitation_json(invitation, status),
                    "meeting": meeting_json(meeting) if meeting is not None else None,
                    "by": actor or TRANSITION_ACTORS[transition]}
        queued.append(_queue(session, sub, event_type, data, now))
    return queued


def queue_test_event(
    session: Session, user: User | None, subscription_id: int, *, now: dt.datetime | None = None
) -> WebhookDelivery:
    """Queue a ``webhook.test`` event for one subscription ("send test event")."""
    now = now or utcnow()
    found = subscription(session, user, subscription_id)
    delivery = _queue(session, found, TEST_EVENT, {"subscription_id": found.id, "url": found.url}, now)
    session.flush()
    return delivery


# --- signatures (Standard Webhooks) ----------------------------------------------------------


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and base64 HMAC-SHA256 of ``id.timestamp.body``.

    Parameters
    ----------
    secret : str
        The subscription's secret, ``whsec_<base64>``.
    event_id : str
        The ``webhook-id`` header (the same on every attempt of one event).
    timestamp : int
        The ``webhook-timestamp`` header, whole seconds since the epoch (of this attempt).
    body : bytes
        The exact request body.
    """
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Check a delivery as a receiver would; return the parsed payload.

    Raises
    ------
    ValueError
        When a header is missing, the timestamp is more than :data:`TOLERANCE` away from now, or
        no signature matches.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        event_id, timestamp, signatures = (lowered[h] for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        stamp = int(timestamp)
    except (KeyError, ValueError):
        raise ValueError("missing or malformed webhook-id, webhook-timestamp or webhook-signature header") from None
    now = now or utcnow()
    if abs(now - dt.datetime.fromtimestamp(stamp, dt.UTC)) > TOLERANCE:
        raise ValueError("the webhook-timestamp is too far from now; refuse it as a replay")
    expected = sign(secret, event_id, stamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures.split()):
        raise ValueError("no webhook-signature matches: wrong secret or altered body")
    return json.loads(body)
