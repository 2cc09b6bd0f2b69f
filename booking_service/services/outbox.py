"""The outbox: what a message says, and the row that holds it until it is sent.

Every message is first a row in the outbox (:class:`~booking_service.store.models.OutboxMessage`),
written by :func:`queue_mail` in the same transaction as the change it reports (an invitation
created, a meeting booked or cancelled), so the message exists exactly when the change does.
Sending is a separate step in :mod:`booking_service.delivery.mail`, so a slow or broken mail
server never slows down or undoes a booking.

Bodies are rendered from Jinja templates under ``templates/mail/``: ``<name>.txt`` for the plain
text part and ``<name>.html`` (autoescaped) for the HTML part.

No working link at rest
-----------------------
A message carries booking links, which are keys to a customer's booking. The row keeps:

- ``content_encrypted``: the message as it is to be sent (text, HTML, ``.ics``), encrypted with
  a key derived from ``SECRET_KEY`` for :data:`~booking_service.core.crypto.OUTBOX_MAIL`;
  written by :func:`queue_mail`, read only by delivery (:func:`message_content`), and dropped
  (:func:`forget_content`) in the same transaction that records the message sent or failed;
- ``body_text``, ``body_html``, ``ics``: the same message with every link replaced by "link
  sent" (:mod:`booking_service.core.redact`), written by :func:`queue_mail` and kept: what the
  dashboard's Outbox shows, before and after sending.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..core import display, i18n
from ..core.crypto import OUTBOX_MAIL, decrypt_secret, encrypt_secret
from ..core.redact import redact_html, redact_ics, redact_text
from ..store.models import OutboxMessage, utcnow

TEMPLATES = Path(__file__).with_name("templates")


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMail:
    """A rendered message: subject, plain text part and HTML part."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    register_filters(env.filters)
    return env


def register_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Add the time-formatting filters to a Jinja filter table (mail and web share them)."""
    filters["when"] = i18n.format_when
    filters["day"] = i18n.format_day
    filters["clock"] = i18n.format_time
    filters["duration"] = i18n.format_duration
    filters["zone_name"] = i18n.zone_name
    filters["iso_utc"] = display.iso_utc



def render_mail(name: str, mail_subject: str, /, *, language: str | None = None, **context: Any) -> RenderedMail:
    """Render ``mail/<name>.txt`` and ``mail/<name>.html`` with ``context``, in ``language``.

    ``mail_subject`` is the message's Subject header, a message id of the catalogues
    (``"Confirmed: %(subject)s"``) filled in from ``context`` after translation; templates see it as
    ``mail_subject`` (a ``subject`` in ``context`` is the meeting's subject). ``language`` is one of
    :data:`booking_service.core.i18n.LANGUAGES`, English when ``None`` (mail to the team).

    Raises
    ------
    ValueError
        If ``mail_subject`` contains a line break (it would corrupt the mail header).
    """
    env = _environment()
    with i18n.use(language) as used:
        # Checked once filled in: a break written in the header or brought in by a value is caught alike.
        mail_subject = i18n.gettext(mail_subject) % context
        if "\r" in mail_subject or "\n" in mail_subject:
            raise ValueError(f"mail subject {mail_subject!r} contains a line break")
        context = {"mail_subject": mail_subject, "language": used, **context}
        text = env.get_template(f"mail/{name}.txt").render(context)
        html = env.get_template(f"mail/{name}.html").render(context)
    return RenderedMail(subject=mail_subject, text=text, html=html)


# --- the outbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailContent:
    """A message as it is sent: plain text part, HTML part and the attached invite."""

    text: str
    html: str | None
    ics: str | None

    def redacted(self) -> MailContent:
        """The same message with every link replaced by "link sent" (:mod:`booking_service.core.redact`)."""
        return MailContent(
            text=redact_text(self.text),
            html=redact_html(self.html) if self.html is not None else None,
            ics=redact_ics(self.ics) if self.ics is not None else None,
        )


def queue_mail(
    session: Session,
    *,
    kind: str,
    to: str,
    mail: RenderedMail,
    secret_key: str,
    ics: str | None = None,
    invitation_id: int | None = None,
    meeting_id: int | None = None,
    link_hash: str | None = None,
    reply_to: str | None = None,
    about_start: dt.datetime | None = None,
    send_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> OutboxMessage:
    """Add one message to the outbox (in the caller's transaction) and return it.

    The message is stored encrypted, beside a copy without its links (see the module docstring).

    Parameters
    ----------
    kind : str
        What the message is (``"invitation"``, ``"confirmation"``, ``"notification"``,
        ``"cancellation"``); used in file names and for filtering.
    to : str
        Recipient address.
    mail : RenderedMail
        Subject and bodies.
    secret_key : str
        The installation's ``SECRET_KEY``: the message is encrypted with a key derived from it.
    ics : str, optional
        An iCalendar document to attach as ``invite.ics``.
    invitation_id, meeting_id : int, optional
        What the message is about; who may read it in the dashboard follows from them
        (:func:`booking_service.services.permissions.message_scope`).
    link_hash : str, optional
        The hash of the booking link's token the message carries (invitation mails), so that
        :func:`supersede_invitation_mail` and the invariant check know which link it is for.
    reply_to : str, optional
        The ``Reply-To`` address (the scheduler, on mail to customers).
    about_start : datetime.datetime, optional
        The meeting start a reminder speaks of (a reminder for another start is stale).
    send_at : datetime.datetime, optional
        Not before this instant (reminders); default: at once.

    Raises
    ------
    ValueError
        If ``secret_key`` is empty.
    """
    now = now or utcnow()
    content = MailContent(mail.text, mail.html, ics)
    kept = content.redacted()
    message = OutboxMessage(
        kind=kind,
        to_addr=to,
        subject=mail.subject,
        body_text=kept.text,
        body_html=kept.html,
        ics=kept.ics,
        content_encrypted=encrypt_secret(json.dumps(asdict(content)), secret_key, OUTBOX_MAIL),
        invitation_id=invitation_id,
        meeting_id=meeting_id,
        link_hash=link_hash,
        reply_to=reply_to,
        about_start=about_start,
        next_attempt_at=max(send_at, now) if send_at is not None else now,
        created_at=now,
    )
    session.add(message)
    return message


def message_content(message: OutboxMessage, secret_key: str) -> MailContent:
    """The message as it is to be sent, links and all; for delivery, right before sending.

    Raises
    ------
    booking_service.core.crypto.SecretDecryptionError
        When ``SECRET_KEY`` has changed since the message was queued (or the row was altered):
        the message cannot be sent, and the error says so.
    """
    if message.content_encrypted is None:
        # Queued before messages were encrypted (migration 0003): the columns hold it as written.
        return MailContent(message.body_text, message.body_html, message.ics)
    return MailContent(**json.loads(decrypt_secret(message.content_encrypted, secret_key, OUTBOX_MAIL)))


def forget_content(message: OutboxMessage) -> None:
    """Keep only the redacted copy of a message that is out of the queue (sent or failed).

    Called in the transaction that records the outcome. Redacting the columns again changes
    nothing for messages queued by :func:`queue_mail`; it removes the links from one queued
    before messages were encrypted.
    """
    kept = MailContent(message.body_text, message.body_html, message.ics).redacted()
    message.content_encrypted = None
    message.body_text, message.body_html, message.ics = kept.text, kept.html, kept.ics
def supersede_meeting_mail(session: Session, meeting_id: int, kinds: tuple[str, ...] = ("reminder",)) -> int:
    """Withdraw the mails of ``kinds`` about a meeting still waiting to go out; return how many.

    Called when a meeting is moved or cancelled, in the same transaction, so that no reminder
    speaks of a time the meeting no longer has.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.meeting_id == meeting_id,
            OutboxMessage.kind.in_(kinds),
            OutboxMessage.status == "pending",
        )
        .values(status="superseded", content_encrypted=None)
    )
    return result.rowcount


def supersede_invitation_mail(session: Session, invitation_id: int) -> int:
    """Withdraw the invitation mails of ``invitation_id`` still waiting to go out; return how many.

    Called when the link they carry stops working (a resend) or their invitation stops being
    active (booked, cancelled, expired), in the same transaction. They become ``superseded``:
    kept, readable in the outbox as their redacted copy, never sent; their encrypted content is
    dropped at once. A mail a worker is sending at that very moment
    may still go out; its outcome then leaves the status alone
    (:func:`booking_service.store.queue.record_outcome`).
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.invitation_id == invitation_id,
            OutboxMessage.kind == "invitation",
            OutboxMessage.status == "pending",
        )
        # Never to be sent: the encrypted copy goes now, the redacted one stays for the outbox view.
        .values(status="superseded", content_encrypted=None)
    )
    return result.rowcount
