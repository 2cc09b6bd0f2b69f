"""Background work of one installation: expire invitations and slot holds, deliver mail (reminders when due) and webhooks, write meetings to calendars, re-sync calendars.

The booking path only *queues* this work (outbox rows, calendar writes), so a slow mail server or
calendar never delays or undoes a booking. ``slotwise worker`` (started by ``slotwise up``) runs
:func:`run_pass` every few seconds; each pass is safe to run from several processes at once,
because every row is claimed before it is worked on.

A pass never waits longer than its budget (``WORKER_BUDGET_SECONDS``), and the three kinds of
outside work do not wait for each other: mail, calendar writes and calendar syncs each run in a
thread of their own, every call to another server has its own total deadline
(``SMTP_DEADLINE_SECONDS``, ``CALENDAR_DEADLINE_SECONDS``) and none reaches past the end of the
budget. So a mail server that never answers costs the calendars nothing, and the other way round.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..calendars.sync import stale_connection_ids, sync_connections
from ..calendars.writeback import deliver_due_writes
from ..core.config import Settings
from ..core.sandbox import GRACE_SECONDS
from ..services.holds import delete_expired_holds
from ..services.invitations import expire_invitations
from ..services.webhooks import parse_networks
from ..store.db import session_scope
from ..store.models import Resource, utcnow
from .mail import deliver_due, sender_for
from .webhooks import deliver_due_webhooks


@dataclass
class PassReport:
    """What one pass did.

    Attributes
    ----------
    lines : list of str
        One line per kind of work that did something (empty when there was nothing to do).
    counts : dict of str to tuple of (int, int)
        For each kind of outside work that had something to do: items done, items failed.
    failed : int
        Items whose attempt failed in this pass (they are retried later), and kinds of work that
        did not finish within the budget.
    """

    lines: list[str] = field(default_factory=list)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    failed: int = 0

    def summary(self) -> str:
        """One line for the terminal: ``Mail: 4 sent, 1 failed. Calendars: 3 synced, 0 failed.``"""
        words = {"Mail": "sent", "Calendar writes": "done", "Calendars": "synced"}
        parts = [f"{kind}: {done} {words[kind]}, {failed} failed." for kind, (done, failed) in self.counts.items()]
        return " ".join(parts) or "Nothing to do."


def run_pass(engine: Engine, settings: Settings, now: dt.datetime | None = None) -> PassReport:
    """Record expired invitations, then deliver due mail and calendar writes and re-sync stale
    calendars side by side, within ``settings.worker_budget_seconds``, and deliver due webhooks.

    Expiring comes first, so that the invitation mails of an invitation whose frame has ended
    are withdrawn before this pass would send them. A kind of work still running when the
    budget is spent (it should not be: its calls end with the budget) is reported as failed and
    left to finish in the background.
    """
    budget = settings.worker_budget_seconds
    until = time.monotonic() + budget
    now = now or utcnow()
    report = PassReport()
    with session_scope(engine, write=True) as session:
        expired = expire_invitations(session, now)
        delete_expired_holds(session, now)
    if expired:
        report.lines.append(f"Invitations: {expired} expired.")

    def mail() -> tuple[str | None, int, int]:
        sent = deliver_due(
            engine, sender_for(settings.smtp_url, settings.var_dir), mail_from=settings.mail_from,
            secret_key=settings.secret_key, now=now, deadline=settings.smtp_deadline_seconds, until=until,
        )
        if not (sent.sent or sent.retrying or sent.failed or sent.left):
            return None, 0, 0
        return sent.describe(), sent.sent, sent.retrying + sent.failed

    def hooks() -> tuple[str | None, int, int]:
        done = deliver_due_webhooks(
            engine, secret_key=settings.secret_key, deadline=settings.webhook_timeout_seconds,
            allowed=parse_networks(settings.webhook_allowed_networks), now=now,
        )
        if not (done.delivered or done.retrying or done.failed):
            return None, 0, 0
        return done.describe(), done.delivered, done.retrying + done.failed

    def writes() -> tuple[str | None, int, int]:
        done = deliver_due_writes(
            engine, secret_key=settings.secret_key, now=now, deadline=settings.calendar_deadline_seconds, until=until
        )
        if not (done.done or done.retrying or done.failed or done.left):
            return None, 0, 0
        return done.describe(), done.done, done.retrying + done.failed

    def calendars() -> tuple[str | None, int, int]:
        with Session(engine) as session:
            resource_ids = session.scalars(select(Resource.id).where(Resource.active.is_(True))).all()
            stale = stale_connection_ids(
                session, resource_ids, dt.timedelta(minutes=settings.calendar_max_age_minutes), now
            )
        if not stale:
            return None, 0, 0
        results = list(
            sync_connections(
                engine, stale, secret_key=settings.secret_key, now=now,
                deadline=settings.calendar_deadline_seconds, until=until,
            )
        )
        failed = sum(r.status == "error" for r in results)
        line = f"Calendars: {len(results) - failed} re-synced, {failed} failed."
        if len(results) < len(stale):
            line += f" {len(stale) - len(results)} left for the next pass (out of time)."
        errors = [r.error for r in results if r.status == "error"]
        if errors:
            line += f" Last error: {errors[-1]}"
        return line, len(results) - failed, failed

    kinds: dict[str, Callable[[], tuple[str | None, int, int]]] = {
        "Mail": mail, "Webhooks": hooks, "Calendar writes": writes, "Calendars": calendars,
    }
    outcomes: dict[str, tuple[str | None, int, int] | BaseException] = {}

    def run(kind: str) -> None:
        try:
            outcomes[kind] = kinds[kind]()
        except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
            outcomes[kind] = error

    threads = {
        kind: threading.Thread(target=run, args=(kind,), name=f"worker-{kind.lower()}", daemon=True)
        for kind in kinds
    }
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        # Every outside call ends by ``until``; the grace is for recording the last outcomes.
        thread.join(max(until - time.monotonic(), 0.0) + GRACE_SECONDS)
    for kind in kinds:
        outcome = outcomes.get(kind)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:
            report.lines.append(f"{kind}: not finished within WORKER_BUDGET_SECONDS ({budget:g} s); goes on in the background.")
            report.counts[kind] = (0, 1)
            report.failed += 1
            continue
        line, done, failed = outcome
        if line is not None:
            report.lines.append(line)
            report.counts[kind] = (done, failed)
            report.failed += failed
    return report
