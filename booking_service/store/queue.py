"""Queued work with leases and retries: the mail outbox and the calendar write queue share it.

A row of such a queue has ``status`` ("pending" until it is done or has failed for good),
``attempts``, ``next_attempt_at`` and ``last_error``. A worker *claims* a due row (counts the
attempt and moves ``next_attempt_at`` ahead by a lease, so that no second worker takes it while
this one talks to the remote server), does the work outside any transaction, then *records* the
outcome: done, waiting for a retry after a backoff, or failed after the last attempt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .db import session_scope

Row = TypeVar("Row")


def exponential_backoff(attempts: int, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """Wait before the next attempt after ``attempts`` failures: ``base``, 2x, 4x ... at most ``cap``."""
    return min(base * (2 ** max(attempts - 1, 0)), cap)


def claim_due(session: Session, model: type[Row], row_id: int, now: dt.datetime, lease: dt.timedelta) -> Row | None:
    """Take row ``row_id`` of ``model`` if it is pending and due; ``None`` when another has it.

    Call inside a write transaction (``session_scope(engine, write=True)``); on PostgreSQL a row
    locked by another worker is skipped rather than waited for.
    """
    query = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row: Any = session.scalars(query).one_or_none()
    if row is None or row.status != "pending" or row.next_attempt_at > now:
        return None
    row.attempts += 1
    row.next_attempt_at = now + lease
    return row


def record_outcome(
    engine: Engine,
    model: type[Row],
    row_id: int,
    error: str | None,
    now: dt.datetime,
    *,
    done_status: str,
    done_at: str,
    max_attempts: int,
    backoff: Callable[[int], dt.timedelta],
    give_up: bool = False,
    finish: Callable[[Any], None] | None = None,
) -> str:
    """Record one attempt's outcome on a claimed row, in a transaction of its own; return its new state.

    Returns ``done_status`` on success (and sets the ``done_at`` attribute), ``"retrying"`` with
    the next attempt after ``backoff(attempts)``, or ``"failed"`` after ``max_attempts`` (at once
    with ``give_up``: an error that no retry can mend). A row that is no longer pending
    (superseded while it was worked on) keeps its status; one that no longer exists is ``"gone"``.

    ``finish``, when given, is called with the row in the same transaction whenever the row is
    out of the queue for good (done, failed or superseded), to drop what only an attempt needed.
    """
    # A write transaction from the start: on SQLite a read that turns into a write while another
    # worker writes fails at once with "database is locked" instead of waiting its turn.
    with session_scope(engine, write=True) as session:
        row: Any = session.get(model, row_id)
        if row is None:
            return "gone"
        if row.status == "pending":
            if error is None:
                row.status = done_status
                setattr(row, done_at, now)
                row.last_error = None
            else:
                row.last_error = error[:2000]
                if give_up or row.attempts >= max_attempts:
                    row.status = "failed"
                else:
                    row.next_attempt_at = now + backoff(row.attempts)
                    return "retrying"
        if finish is not None:
            finish(row)
        return row.status
