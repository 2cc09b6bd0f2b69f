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

Every SMTP conversation runs in a child process (:mod:`booking_service.core.sandbox`) that is
stopped at a total deadline (``SMTP_DEADLINE_SECONDS``): a server that never answers, or answers
one byte at a time, costs one message that long and never more. :func:`deliver_due` also takes
the instant by which a whole pass must end (the worker's ``WORKER_BUDGET_SECONDS``): it starts
no message after it, and no message's deadline reaches past it; what is left waits for the next
pass.

``SMTP_URL`` forms: ``smtp://host:port`` (plain), ``smtp+starttls://user:password@host:587``
(STARTTLS), ``smtps://user:password@host:465`` (TLS from the start).

Delivery is at least once: when the server's reply to a message is lost, or a worker stops
between sending and recording it, the message is sent again. Every attempt of one outbox row
carries the same ``Message-ID`` (made at the first attempt, on the ``MAIL_FROM`` domain, and
stored with the row), so mail clients fold such duplicates into one message.

The message is decrypted right before it is sent (:func:`booking_service.services.outbox.message_content`)
and, once it is sent or has failed for good, only its redacted copy is kept
(:func:`booking_service.services.outbox.forget_content`). A message that cannot be decrypted,
because ``SECRET_KEY`` has changed since it was queued, is marked failed at once with an error
that says so: no retry can mend that.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, select

from ..core import sandbox
from ..core.config import mail_domain
from ..core.crypto import SecretDecryptionError
from ..services.outbox import MailContent, forget_content, message_content
from ..store.db import session_scope
from ..store.models import Meeting, OutboxMessage, utcnow
from ..store.queue import claim_due, exponential_backoff, record_outcome
from . import smtp

# Children that send mail start with the SMTP conversation imported.
sandbox.preload(smtp.__name__)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)
SMTP_SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_DEADLINE = 30.0
"""Seconds one message's whole SMTP conversation may take (``SMTP_DEADLINE_SECONDS``)."""


class MailConfigError(ValueError):
    """``SMTP_URL`` cannot be used; the message says why and what a good value looks like."""


def _ics_method(ics: str) -> str:
    found = re.search(r"^METHOD:(\w+)", ics, flags=re.MULTILINE)
    return found.group(1) if found else "PUBLISH"


def new_message_id(message_id: int, domain: str) -> str:
    """A fresh ``Message-ID`` for outbox row ``message_id`` on ``domain``: ``<slotwise.<id>.<random>@<domain>>``.

    96 random bits make it unique across rows and installations (two databases both have a row
    1); short enough that the header is not folded for any ordinary domain.
    """
    return f"<slotwise.{message_id}.{secrets.token_hex(12)}@{domain}>"


def build_email(message: OutboxMessage, content: MailContent, mail_from: str) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML alternatives, ``invite.ics`` attached.

    ``content`` is the message as it is sent (:func:`booking_service.services.outbox.message_content`);
    the ``Message-ID`` is the row's own (every attempt carries the same one).

    Raises
    ------
    ValueError
        If the row has no ``Message-ID`` yet (delivery sets it when it first claims the row).
    """
    if not message.message_id_header:
        raise ValueError(f"outbox message {message.id} has no Message-ID yet; claim it for delivery first")
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = mail_from
    email["To"] = formataddr(("", message.to_addr)) if "<" not in message.to_addr else message.to_addr
    email["Date"] = format_datetime(message.created_at.astimezone(dt.UTC))
    email["Message-ID"] = message.message_id_header
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email.set_content(content.text)
    if content.html:
        email.add_alternative(content.html, subtype="html")
    if content.ics:
        method = _ics_method(content.ics)
        email.add_attachment(
            content.ics.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if method != "CANCEL" else "cancel.ics",
            params={"method": method, "charset": "utf-8"},
        )
    return email


# --- senders ----------------------------------------------------------------------------------


class Sender(Protocol):
    """Delivers one message within ``seconds``; raises on failure. ``via`` says how: ``"smtp"`` or ``"file"``."""

    via: str

    def send(self, message: OutboxMessage, email: EmailMessage, *, seconds: float) -> None: ...  # pragma: no cover


@dataclass(frozen=True)
class SmtpSender:
    """Delivers over SMTP as configured by ``SMTP_URL``."""

    host: str
    port: int
    scheme: str = "smtp"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    via: str = "smtp"

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

    def send(self, message: OutboxMessage, email: EmailMessage, *, seconds: float = DEFAULT_DEADLINE) -> None:
        """Send ``email`` to ``message.to_addr`` in a child process stopped after ``seconds``.

        Raises
        ------
        TimeoutError
            The conversation did not end within ``seconds``.
        OSError, smtplib.SMTPException
            Any SMTP or network error.
        """
        try:
            sandbox.call(
                smtp.send,
                (self.host, self.port, self.scheme, self.username, self.password,
                 min(self.timeout, seconds), message.to_addr, email),
                seconds=seconds,
            )
        except sandbox.DeadlineExceeded:
            raise TimeoutError(
                f"{self.host}:{self.port} did not finish the SMTP conversation within {seconds:g} s"
            ) from None
        except sandbox.SandboxError as error:
            raise OSError(f"sending to {self.host}:{self.port} was stopped: {error}") from None


@dataclass(frozen=True)
class FileSender:
    """Writes each message as ``<directory>/<id>-<kind>.eml`` (no SMTP configured)."""

    directory: Path
    via: str = "file"

    def send(self, message: OutboxMessage, email: EmailMessage, *, seconds: float = DEFAULT_DEADLINE) -> None:
        """Write the message file (atomically: a reader never sees half a message); ``seconds`` is not needed."""
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
    skipped: int = 0
    """Due messages another sender had taken."""
    left: int = 0
    """Due messages not tried because the pass's time was up."""

    #: Where the messages went when no SMTP is configured (they were written, not sent).
    written_to: Path | None = None

    def describe(self) -> str:
        """One line for the CLI: "sent" only for mail a mail server took."""
        done = (
            f"{self.sent} written to {self.written_to} (no SMTP configured)" if self.written_to is not None
            else f"{self.sent} sent"
        )
        text = f"Mail: {done}, {self.retrying} waiting to retry, {self.failed} failed."
        if self.left:
            text += f" {self.left} left for the next pass (out of time)."
        return text + ("" if not self.errors else f" Last error: {self.errors[-1]}")


def _claim(engine: Engine, message_id: int, now: dt.datetime, domain: str) -> OutboxMessage | None:
    """Take a due message for this sender: count the attempt and lease it for a while.

    The lease (``next_attempt_at`` moved ahead) keeps a second sender from sending the same
    message while this one talks to the server; the claim itself is one short write transaction.
    It also gives the message its ``Message-ID`` on the first attempt, stored before anything is
    sent, so that every later attempt carries the same one.
    """
    with session_scope(engine, write=True) as session:
        message = claim_due(session, OutboxMessage, message_id, now, LEASE)
        if message is None:
            return None
        if message.kind == "reminder" and _stale_reminder(session, message):
            # Moving or cancelling withdraws reminders in its own transaction; this catches one
            # that slipped past (a row written by hand, a restore): never remind of a wrong time.
            message.status, message.content_encrypted = "superseded", None
            return None
        if message.message_id_header is None:
            message.message_id_header = new_message_id(message.id, domain)
        session.flush()
        session.expunge(message)
        return message


def _stale_reminder(session, message: OutboxMessage) -> bool:
    meeting = session.get(Meeting, message.meeting_id) if message.meeting_id is not None else None
    return meeting is None or meeting.status != "confirmed" or meeting.start != message.about_start


def deliver_due(
    engine: Engine,
    sender: Sender,
    *,
    mail_from: str,
    secret_key: str,
    now: dt.datetime | None = None,
    limit: int = 100,
    only: Iterable[int] | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    deadline: float = DEFAULT_DEADLINE,
    until: float | None = None,
) -> DeliveryReport:
    """Send every pending message whose next attempt is due; return what happened.

    Each message is claimed, decrypted and sent outside any database transaction, and its
    outcome recorded: sent, waiting for a retry after :func:`backoff`, or failed after
    :data:`MAX_ATTEMPTS` (at once when it cannot be decrypted). The change that queued a message
    is never touched, whatever the mail server does.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database holding the outbox.
    sender : Sender
        :class:`SmtpSender` or :class:`FileSender` (see :func:`sender_for`).
    mail_from : str
        The ``From`` header; its domain is the domain of every ``Message-ID``.
    secret_key : str
        The installation's ``SECRET_KEY``, to decrypt the messages.
    now : datetime.datetime, optional
        Which messages are due (default: the current instant).
    limit : int
        At most this many messages per pass.
    only : iterable of int, optional
        Restrict the pass to these outbox ids.
    deadline : float
        Seconds one message may take (``SMTP_DEADLINE_SECONDS``).
    until : float, optional
        A :func:`time.monotonic` instant: no message is started after it, and none may take
        longer than what is left before it. The messages not reached stay due.

    Raises
    ------
    booking_service.core.config.ConfigError
        If ``mail_from`` has no address with a domain (nothing is sent then).
    """
    domain = mail_domain(mail_from)
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
    report = DeliveryReport(written_to=getattr(sender, "directory", None) if sender.via == "file" else None)

    def finish(row: OutboxMessage) -> None:
        if row.status == "sent":
            row.delivered_via = sender.via
        forget_content(row)

    for position, message_id in enumerate(due):
        seconds = sandbox.seconds_left(until, deadline)
        if seconds <= 0:
            report.left = len(due) - position
            break
        message = _claim(engine, message_id, now, domain)
        if message is None:
            report.skipped += 1
            continue
        error: str | None = None
        undecryptable = False
        try:
            sender.send(
                message, build_email(message, message_content(message, secret_key), mail_from), seconds=seconds
            )
        except SecretDecryptionError as exc:
            error, undecryptable = str(exc), True
            log.error("mail %s to %s cannot be sent: %s", message.id, message.to_addr, error)
            report.errors.append(error)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("mail %s to %s not sent: %s", message.id, message.to_addr, error)
            report.errors.append(error)
        outcome = record_outcome(
            engine, OutboxMessage, message_id, error, clock() if now is None else now,
            done_status="sent", done_at="sent_at", max_attempts=MAX_ATTEMPTS, backoff=backoff,
            give_up=undecryptable,
            finish=finish,
        )
        if outcome == "sent":
            report.sent += 1
        elif outcome == "retrying":
            report.retrying += 1
        elif outcome == "failed":
            report.failed += 1
    return report
