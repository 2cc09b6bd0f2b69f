"""Background work of one installation: expire invitations and slot holds, deliver mail (reminders when due), write meetings to calendars, re-sync calendars.

The booking path only *queues* this work (outbox rows, calendar writes), so a slow mail server or
calendar never delays or undoes a booking. ``slotwise worker`` (started by ``slotwise up``) runs
:func:`run_pass` every few seconds; each pass is safe to run from several processes at once,
because every row is claimed before it is worked on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..calendars.sync import stale_connection_ids, sync_connections
from ..calendars.writeback import deliver_due_writes
from ..core.config import Settings
from ..services.holds import delete_expired_holds
from ..services.invitations import expire_invitations
from ..store.db import session_scope
from ..store.models import Resource, utcnow
from .mail import deliver_due, sender_for


@dataclass
class PassReport:
    """What one pass did, as lines for the terminal (empty when there was nothing to do)."""

    lines: list[str] = field(default_factory=list)


def run_pass(engine: Engine, settings: Settings, now: dt.datetime | None = None) -> PassReport:
    """Record expired invitations, deliver due mail and calendar writes, re-sync stale calendars.

    Expiring comes first, so that the invitation mails of an invitation whose frame has ended
    are withdrawn before this pass would send them.
    """
    now = now or utcnow()
    report = PassReport()
    with session_scope(engine, write=True) as session:
        expired = expire_invitations(session, now)
        delete_expired_holds(session, now)
    if expired:
        report.lines.append(f"Invitations: {expired} expired.")
    mail = deliver_due(
        engine, sender_for(settings.smtp_url, settings.var_dir), mail_from=settings.mail_from,
        secret_key=settings.secret_key, now=now,
    )
    if mail.sent or mail.retrying or mail.failed:
        report.lines.append(mail.describe())
    writes = deliver_due_writes(engine, secret_key=settings.secret_key, now=now)
    if writes.done or writes.retrying or writes.failed:
        report.lines.append(writes.describe())
    with Session(engine) as session:
        resource_ids = session.scalars(select(Resource.id).where(Resource.active.is_(True))).all()
        stale = stale_connection_ids(
            session, resource_ids, dt.timedelta(minutes=settings.calendar_max_age_minutes), now
        )
    if stale:
        results = list(sync_connections(engine, stale, secret_key=settings.secret_key, now=now))
        failed = sum(r.status == "error" for r in results)
        report.lines.append(f"Calendars: {len(results) - failed} re-synced, {failed} failed.")
    return report
