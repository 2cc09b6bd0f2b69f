"""How much queued work waits: mail, calendar writes, webhooks, and calendars that fail to sync.

Read by the booking service's ``/readyz`` and ``/metrics``: a backlog that only grows means the
worker (``slotwise worker``) is not running or not keeping up. Only counts and ages are read, in
one short read-only transaction, never message bodies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.clock import utcnow
from ..store.models import CalendarConnection, CalendarWrite, OutboxMessage, WebhookDelivery


@dataclass(frozen=True)
class Queue:
    """One queue: how many items are waiting and how long the oldest one due has waited."""

    name: str
    depth: int
    oldest_age_seconds: float


@dataclass(frozen=True)
class Backlog:
    """The queues (``outbox``, ``calendar_writes``, ``webhooks``) and the calendars whose last sync failed."""

    queues: tuple[Queue, ...]
    calendars_failing: int


def backlog(session: Session, now: dt.datetime | None = None) -> Backlog:
    """Count the pending items of every queue and the age of the oldest one that is due.

    An item scheduled for a later retry (``next_attempt_at`` in the future) counts in ``depth``
    but not in the age: it is waiting on purpose.
    """
    now = now or utcnow()
    queues = []
    for name, model in (("outbox", OutboxMessage), ("calendar_writes", CalendarWrite),
                        ("webhooks", WebhookDelivery)):
        depth = session.scalar(select(func.count()).select_from(model).where(model.status == "pending")) or 0
        oldest = session.scalar(
            select(func.min(model.next_attempt_at)).where(model.status == "pending", model.next_attempt_at <= now)
        )
        age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        queues.append(Queue(name, int(depth), age))
    failing = session.scalar(
        select(func.count()).select_from(CalendarConnection).where(CalendarConnection.last_status == "error")
    ) or 0
    return Backlog(tuple(queues), int(failing))
