"""The outbox: what a message says, and the row that holds it until it is sent.

Every message is first a row in the outbox (:class:`~booking_service.store.models.OutboxMessage`),
written by :func:`queue_mail` in the same transaction as the change it reports (an invitation
created, a meeting booked or cancelled), so the message exists exactly when the change does.
Sending is a separate step in :mod:`booking_service.delivery.mail`, so a slow or broken mail
server never slows down or undoes a booking.

Bodies are rendered from Jinja templates under ``templates/mail/``: ``<name>.txt`` for the plain
text part and ``<name>.html`` (autoescaped) for the HTML part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..core import display
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
    register_filters(env.filters)
    return env


def register_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Add the time-formatting filters to a Jinja filter table (mail and web share them)."""
    filters["when"] = display.format_when
    filters["day"] = display.format_day
    filters["clock"] = display.format_time
    filters["duration"] = display.format_duration
    filters["iso_utc"] = display.iso_utc


def render_mail(name: str, mail_subject: str, /, **context: Any) -> RenderedMail:
    """Render ``mail/<name>.txt`` and ``mail/<name>.html`` with ``context``.

    ``mail_subject`` is the message's Subject header; templates see it as ``mail_subject`` (a
    ``subject`` in ``context`` is the meeting's subject).

    Raises
    ------
    ValueError
        If ``mail_subject`` contains a line break (it would corrupt the mail header).
    """
    if "\r" in mail_subject or "\n" in mail_subject:
        raise ValueError(f"mail subject {mail_subject!r} contains a line break")
    env = _environment()
    context = {"mail_subject": mail_subject, **context}
    text = env.get_template(f"mail/{name}.txt").render(context)
    html = env.get_template(f"mail/{name}.html").render(context)
    return RenderedMail(subject=mail_subject, text=text, html=html)


# --- the outbox -------------------------------------------------------------------------------


def queue_mail(
    session: Session,
    *,
    kind: str,
    to: str,
    mail: RenderedMail,
    ics: str | None = None,
    invitation_id: int | None = None,
    meeting_id: int | None = None,
    link_hash: str | None = None,
    now: dt.datetime | None = None,
) -> OutboxMessage:
    """Add one message to the outbox (in the caller's transaction) and return it.

    Parameters
    ----------
    kind : str
        What the message is (``"invitation"``, ``"confirmation"``, ``"notification"``,
        ``"cancellation"``); used in file names and for filtering.
    to : str
        Recipient address.
    mail : RenderedMail
        Subject and bodies.
    ics : str, optional
        An iCalendar document to attach as ``invite.ics``.
    link_hash : str, optional
        The hash of the booking link's token the message carries (invitation mails), so that
        :func:`supersede_invitation_mail` and the invariant check know which link it is for.
    """
    now = now or utcnow()
    message = OutboxMessage(
        kind=kind,
        to_addr=to,
        subject=mail.subject,
        body_text=mail.text,
        body_html=mail.html,
        ics=ics,
        invitation_id=invitation_id,
        meeting_id=meeting_id,
        link_hash=link_hash,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    return message


def supersede_invitation_mail(session: Session, invitation_id: int) -> int:
    """Withdraw the invitation mails of ``invitation_id`` still waiting to go out; return how many.

    Called when the link they carry stops working (a resend) or their invitation stops being
    active (booked, cancelled, expired), in the same transaction. They become ``superseded``:
    kept, readable in the outbox, never sent. A mail a worker is sending at that very moment
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
        .values(status="superseded")
    )
    return result.rowcount
