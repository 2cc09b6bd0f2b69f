"""Send queued webhook deliveries: signed, with retries and backoff, each attempt within a total deadline.

:mod:`booking_service.services.webhooks` queues a :class:`~booking_service.store.models.WebhookDelivery`
row per subscription in the transaction of the change it reports; :func:`deliver_due_webhooks`
(called by the worker on every pass) sends the due ones:

- **Claimed with a lease** (:mod:`booking_service.store.queue`): a worker that dies mid-delivery
  leaves the row to be taken again once the lease ends, so every event is delivered at least
  once. Every attempt carries the same ``webhook-id``, by which a receiver folds repeats
  (Standard Webhooks), so each event is *processed* exactly once.
- **Signed** as the Standard Webhooks specification says: headers ``webhook-id``,
  ``webhook-timestamp`` (of this attempt) and ``webhook-signature`` (``v1,`` base64 HMAC-SHA256
  of ``id.timestamp.body`` with the subscription's secret).
- **Bounded**: each attempt (resolving the name, connecting, sending, reading the answer) must
  end within ``WEBHOOK_TIMEOUT_SECONDS`` in total, however slowly the receiver trickles; then
  it is cancelled and counts as failed.
- **Only where allowed**: the host's name is resolved on every attempt and every address must
  be public (or inside ``WEBHOOK_ALLOWED_NETWORKS``); the request then goes to the checked
  address (the ``Host`` header and, for https, the certificate check keep the name), so a name
  that resolves elsewhere a moment later is never reached. Redirects are not followed.
- **In order** within a pass: one subscription's deliveries go one after the other, oldest
  first (different subscriptions at once). A retried delivery may arrive after later events;
  the payload's ``timestamp`` orders them.
- **Retried** after a failure (no 2xx answer, a timeout, a refused connection) with exponential
  backoff: 30 s, 1, 2, 4 ... minutes, at most 6 hours apart, :data:`MAX_ATTEMPTS` attempts in
  all (about two days), then ``failed``. Delivered and failed rows are the delivery log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Engine, select

from ..core.crypto import SecretDecryptionError
from ..services.webhooks import Network, address_allowed, sign, subscription_secret
from ..store.db import session_scope
from ..store.models import WebhookDelivery, WebhookSubscription, utcnow
from ..store.queue import claim_due, exponential_backoff, record_outcome

__all__ = ["MAX_ATTEMPTS", "WebhookReport", "backoff", "deliver_due_webhooks", "send_once"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
CONCURRENCY = 8
"""Deliveries sent at once within one pass."""
LEASE_MARGIN = dt.timedelta(seconds=30)
USER_AGENT = "Slotwise-Webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024


def backoff(attempts: int) -> dt.timedelta:
    """Wait after ``attempts`` failed attempts: 30 s, 1 min, 2 min ... at most 6 hours."""
    return exponential_backoff(attempts, dt.timedelta(seconds=30), dt.timedelta(hours=6))


@dataclass
class WebhookReport:
    """What one pass did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the worker's output."""
        return f"Webhooks: {self.delivered} delivered, {self.retrying} to retry, {self.failed} failed."


@dataclass(frozen=True)
class _Attempt:
    delivery_id: int
    subscription_id: int
    event_id: str
    url: str
    payload: bytes
    secret: str | None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: the HTTP status when there was an answer, the error when it failed."""

    status: int | None
    error: str | None


class Refused(Exception):
    """The URL may not be reached (a private address, an unresolvable name)."""


async def _checked_address(host: str, port: int, allowed: Sequence[Network]) -> str:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Refused(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    refused = [a for a in addresses if not address_allowed(a, allowed)]
    if refused or not addresses:
        raise Refused(f"{host} resolves to {', '.join(refused) or 'nothing'}, a private, loopback or reserved "
                      "address; allow it with WEBHOOK_ALLOWED_NETWORKS if it is meant")
    return addresses[0]


async def send_once(
    url: str, event_id: str, payload: bytes, secret: str, *, deadline: float, allowed: Sequence[Network] = ()
) -> Outcome:
    """POST one signed delivery, all within ``deadline`` seconds; never raises.

    Parameters
    ----------
    url : str
        The subscription's URL.
    event_id : str
        The ``webhook-id`` (the same on every attempt of the event).
    payload : bytes
        The JSON body.
    secret : str
        The subscription's ``whsec_`` secret.
    deadline : float
        Seconds for the whole attempt: resolving, connecting, sending and reading the answer.
    allowed : sequence of networks
        ``WEBHOOK_ALLOWED_NETWORKS``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, event_id, stamp, payload),
        "host": parts.netloc.rpartition("@")[2],
    }
    try:
        async with asyncio.timeout(deadline):
            address = await _checked_address(host, port, allowed)
            pinned = f"[{address}]" if ":" in address else address
            target = urlunsplit((parts.scheme, f"{pinned}:{port}", parts.path or "/", parts.query, ""))
            extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
            async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=deadline) as client:
                request = client.build_request("POST", target, content=payload, headers=headers,
                                               extensions=extensions)
                response = await client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_ANSWER_BYTES:
                            break
                finally:
                    await response.aclose()
    except TimeoutError:
        return Outcome(None, f"no complete answer within {deadline:g} s (WEBHOOK_TIMEOUT_SECONDS)")
    except Refused as exc:
        return Outcome(None, str(exc))
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except OSError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, None)
    return Outcome(response.status_code, f"HTTP {response.status_code} {response.reason_phrase}".strip())


def _claim(engine: Engine, delivery_id: int, now: dt.datetime, lease: dt.timedelta, secret_key: str) -> _Attempt | None:
    with session_scope(engine, write=True) as session:
        delivery = claim_due(session, WebhookDelivery, delivery_id, now, lease)
        if delivery is None:
            return None
        subscription = session.get(WebhookSubscription, delivery.subscription_id)
        try:
            secret = subscription_secret(subscription, secret_key)
        except SecretDecryptionError as exc:
            return _Attempt(delivery.id, subscription.id, delivery.event_id, subscription.url, b"", None, str(exc))
        return _Attempt(delivery.id, subscription.id, delivery.event_id, subscription.url,
                        delivery.payload.encode("utf-8"), secret)


async def _send_all(attempts: list[_Attempt], deadline: float, allowed: Sequence[Network]) -> list[Outcome]:
    """Send to different subscriptions at once, and to one subscription in the order of its events."""
    outcomes: dict[int, Outcome] = {}

    async def in_order(queue: list[_Attempt]) -> None:
        for attempt in queue:
            if attempt.secret is None:
                outcomes[attempt.delivery_id] = Outcome(None, attempt.error)
                continue
            outcomes[attempt.delivery_id] = await send_once(
                attempt.url, attempt.event_id, attempt.payload, attempt.secret, deadline=deadline, allowed=allowed
            )

    queues: dict[int, list[_Attempt]] = {}
    for attempt in attempts:
        queues.setdefault(attempt.subscription_id, []).append(attempt)
    await asyncio.gather(*(in_order(q) for q in queues.values()))
    return [outcomes[a.delivery_id] for a in attempts]


def deliver_due_webhooks(
    engine: Engine,
    *,
    secret_key: str,
    deadline: float = 10.0,
    allowed: Sequence[Network] = (),
    now: dt.datetime | None = None,
    limit: int = 200,
) -> WebhookReport:
    """Send every due webhook delivery (at most ``limit``); return what happened.

    Deliveries are claimed :data:`CONCURRENCY` at a time and sent outside any database
    transaction, each attempt within ``deadline`` seconds: to different subscriptions at once,
    to one subscription one after the other in the order of its events; each outcome is then recorded in a
    transaction of its own (delivered, retry after :func:`backoff`, or failed for good).

    Parameters
    ----------
    engine : sqlalchemy.Engine
    secret_key : str
        The installation's ``SECRET_KEY``, which decrypts the subscriptions' signing secrets.
    deadline : float
        ``WEBHOOK_TIMEOUT_SECONDS``: the most one attempt may take.
    allowed : sequence of networks
        ``WEBHOOK_ALLOWED_NETWORKS`` (:func:`booking_service.services.webhooks.parse_networks`).
    now : datetime.datetime, optional
        Which deliveries are due (default: the current instant).
    """
    given_now = now
    now = now or utcnow()
    # A claimed batch may all be for one subscription, sent one after the other: the lease
    # covers the whole batch, so no second worker takes a row this one is still working on.
    lease = dt.timedelta(seconds=deadline) * CONCURRENCY + LEASE_MARGIN
    with session_scope(engine) as session:
        due = list(session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        ))
    report = WebhookReport()
    for start in range(0, len(due), CONCURRENCY):
        claimed = [a for a in (_claim(engine, i, now, lease, secret_key) for i in due[start:start + CONCURRENCY]) if a]
        outcomes = asyncio.run(_send_all(claimed, deadline, allowed)) if claimed else []
        for attempt, outcome in zip(claimed, outcomes, strict=True):
            if outcome.error is not None:
                log.warning("webhook %s to %s not delivered: %s", attempt.event_id, attempt.url, outcome.error)
                report.errors.append(outcome.error)

            def keep_status(row: WebhookDelivery, status: int | None = outcome.status) -> None:
                row.response_status = status

            state = record_outcome(
                engine, WebhookDelivery, attempt.delivery_id, outcome.error, given_now or utcnow(),
                done_status="delivered", done_at="delivered_at", max_attempts=MAX_ATTEMPTS, backoff=backoff,
                give_up=attempt.secret is None, finish=keep_status,
            )
            if state == "delivered":
                report.delivered += 1
            elif state == "retrying":
                report.retrying += 1
            elif state == "failed":
                report.failed += 1
    return report
