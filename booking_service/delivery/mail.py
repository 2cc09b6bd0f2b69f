"""Sending mail: deliver the outbox over SMTP or to ``.eml`` files.

Every message is first a row in the outbox, written by :func:`booking_service.services.outbox.queue_mail`
in the same transaction as the change it reports. Delivery is this separate step,
:func:`deliver_due` (``slotwise send-mail`` and the worker), so a slow or broken mail server never
slows down or undoes a booking:

- with ``SMTP_URL`` set, each due message is sent over SMTP; a failure keeps the message
  pending and schedules the next attempt with exponential backoff (1, 2, 4 ... minutes, at most
  one hour between attempts); after :data:`MAX_ATTEMPTS` failures the message is marked
  ``failed`` with the last error and stays in the outbox for a person to look at;
- without ``SMTP_URL``, each message is written as ``var/outbox/<id>-<kind>.eml`` (readable by any
  mail client) and marked sent.

``SMTP_URL`` forms: ``smtp://host:port`` (plain), ``smtp+starttls://user:password@host:587``
(STARTTLS), ``smtps://user:password@host:465`` (TLS from the start).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, select

from ..store.db import session_scope
from ..store.models import OutboxMessage, utcnow
from ..store.queue import claim_due, exponential_backoff, record_outcome

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class MailConfigError(ValueError):
    """``SMTP_URL`` cannot be used; the message says why and what a good value looks like."""


def _ics_method(ics: str) -> str:
    found = re.search(r"^METHOD:(\w+)", ics, flags=re.MULTILINE)
    return found.group(1) if found else "PUBLISH"


def build_email(message: OutboxMessage, mail_from: str, domain: str = "slotwise.local") -> EmailMessage:
    """The MIME message for an outbox row: text and HTML alternatives, ``invite.ics`` attached."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = mail_from
    email["To"] = formataddr(("", message.to_addr)) if "<" not in message.to_addr else message.to_addr
    email["Date"] = format_datetime(message.created_at.astimezone(dt.UTC))
    email["Message-ID"] = f"<outbox-{message.id}-{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    if message.ics:
        method = _ics_method(message.ics)
        email.add_attachment(
            message.ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if method != "CANCEL" else "cancel.ics",
            params={"method": method, "charset": "utf-8"},
        )
    return email


# --- senders ----------------------------------------------------------------------------------


class Sender(Protocol):
    """Delivers one message; raises on failure."""

    def send(self, message: OutboxMessage, email: EmailMessage) -> None: ...  # pragma: no cover


@dataclass(frozen=True)
class SmtpSender:
    """Delivers over SMTP as configured by ``SMTP_URL``."""

    host: str
    port: int
    scheme: str = "smtp"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 10.0) -> SmtpSender:
        """Parse ``SMTP_URL``.

        Raises
        ------
        MailConfigError
            If the scheme is not smtp, smtp+starttls or smtps, or the host is missing.
        """
        parts = urlsplit(url)
        if parts.scheme not in SMTP_SCHEMES:
            raise MailConfigError(
                f"SMTP_URL scheme {parts.scheme!r} is not supported; use smtp://host:25, "
                "smtp+starttls://user:password@host:587 or smtps://user:password@host:465"
            )
        if not parts.hostname:
            raise MailConfigError(f"SMTP_URL {url!r} has no host; use e.g. smtp://127.0.0.1:25")
        try:
            port = parts.port or SMTP_SCHEMES[parts.scheme]
        except ValueError:
            raise MailConfigError(f"SMTP_URL {url!r} has an invalid port") from None
        return cls(
            host=parts.hostname,
            port=port,
            scheme=parts.scheme,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )

    def send(self, message: OutboxMessage, email: EmailMessage) -> None:
        """Send ``email`` to ``message.to_addr``; any SMTP or network error propagates."""
        if self.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(email, to_addrs=[message.to_addr])


@dataclass(frozen=True)
class FileSender:
    """Writes each message as ``<directory>/<id>-<kind>.eml`` (no SMTP configured)."""

    directory: Path

    def send(self, message: OutboxMessage, email: EmailMessage) -> None:
        """Write the message file (atomically: a reader never sees half a message)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{message.id:06d}-{message.kind}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(bytes(email))
        partial.replace(path)


def sender_for(smtp_url: str | None, var_dir: Path) -> Sender:
    """SMTP when ``smtp_url`` is set, else ``.eml`` files under ``var_dir/outbox``."""
    if smtp_url:
        return SmtpSender.from_url(smtp_url)
    return FileSender(Path(var_dir) / "outbox")


# --- delivery ---------------------------------------------------------------------------------


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after ``attempts`` failures: 1, 2, 4 ... minutes, at most 1 h."""
    return exponential_backoff(attempts, BACKOFF_BASE, BACKOFF_MAX)


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the CLI."""
        text = f"Mail: {self.sent} sent, {self.retrying} waiting to retry, {self.failed} failed."
        return text + ("" if not self.errors else f" Last error: {self.errors[-1]}")


def _claim(engine: Engine, message_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Take a due message for this sender: count the attempt and lease it for a while.

    The lease (``next_attempt_at`` moved ahead) keeps a second sender from sending the same
    message while this one talks to the server; the claim itself is one short write transaction.
    """
    with session_scope(engine, write=True) as session:
        message = claim_due(session, OutboxMessage, message_id, now, LEASE)
        if message is None:
            return None
        session.flush()
        session.expunge(message)
        return message


def deliver_due(
    engine: Engine,
    sender: Sender,
    *,
    mail_from: str,
    now: dt.datetime | None = None,
    limit: int = 100,
    only: Iterable[int] | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> DeliveryReport:
    """Send every pending message whose next attempt is due; return what happened.

    Each message is claimed, sent outside any database transaction, and its outcome recorded:
    sent, waiting for a retry after :func:`backoff`, or failed after :data:`MAX_ATTEMPTS`.
    The change that queued a message is never touched, whatever the mail server does.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database holding the outbox.
    sender : Sender
        :class:`SmtpSender` or :class:`FileSender` (see :func:`sender_for`).
    mail_from : str
        The ``From`` header.
    now : datetime.datetime, optional
        Which messages are due (default: the current instant).
    limit : int
        At most this many messages per pass.
    only : iterable of int, optional
        Restrict the pass to these outbox ids.
    """
    now = now or clock()
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if only is not None:
        query = query.where(OutboxMessage.id.in_(list(only)))
    with session_scope(engine) as session:
        due = list(session.scalars(query))
    report = DeliveryReport()
    for message_id in due:
        message = _claim(engine, message_id, now)
        if message is None:
            continue
        error: str | None = None
        try:
            sender.send(message, build_email(message, mail_from))
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("mail %s to %s not sent: %s", message.id, message.to_addr, error)
            report.errors.append(error)
        outcome = record_outcome(
            engine, OutboxMessage, message_id, error, clock() if now is None else now,
            done_status="sent", done_at="sent_at", max_attempts=MAX_ATTEMPTS, backoff=backoff,
        )
        if outcome == "sent":
            report.sent += 1
        elif outcome == "retrying":
            report.retrying += 1
        elif outcome == "failed":
            report.failed += 1
    return report
