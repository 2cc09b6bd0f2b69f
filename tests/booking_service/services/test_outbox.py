"""The outbox: rendering messages from their templates, storing them encrypted beside a redacted copy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from booking_service.core.crypto import SecretDecryptionError
from booking_service.services.outbox import (
    MailContent,
    RenderedMail,
    forget_content,
    message_content,
    queue_mail,
    render_mail,
)
from booking_service.store.models import OutboxMessage

NOW = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)


def test_render_mail_escapes_html_but_not_text():
    mail = render_mail(
        "cancellation", "Cancelled: Intro", subject="Intro", recipient_name="<script>alert(1)</script>",
        start=NOW, end=NOW + dt.timedelta(minutes=30), zone="Europe/Berlin", reason="",
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>" not in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text
    assert "Monday 7 January 2030, 9:00 AM – 9:30 AM, Central European Time (Berlin)" in mail.text


def test_render_mail_refuses_line_breaks_in_subject():
    with pytest.raises(ValueError, match="line break"):
        render_mail("cancellation", "Bad\r\nBcc: x@example.com", subject="x", recipient_name="x",
                    start=NOW, end=NOW, zone="UTC", reason="")


# --- what the outbox stores ---------------------------------------------------------------------

LINK = "https://book.example/i/Zk3x9Q_aB-0123456789abcdefghijklmnopqrstuvw"
KEY = "test-secret-key"


def _queued(session, ics: str | None = "BEGIN:VCALENDAR\r\nURL:" + LINK + "\r\nEND:VCALENDAR\r\n"):
    mail = RenderedMail("Pick a time", f"Pick: {LINK}", f'<a href="{LINK}">Pick</a>')
    message = queue_mail(session, kind="invitation", to="ada@example.com", mail=mail, ics=ics, secret_key=KEY,
                         now=NOW)
    session.commit()
    return message


def test_queued_mail_is_stored_encrypted_beside_a_copy_without_links(session):
    message = _queued(session)
    stored = session.execute(
        select(OutboxMessage.body_text, OutboxMessage.body_html, OutboxMessage.ics, OutboxMessage.content_encrypted)
    ).one()
    assert "book.example" not in " ".join(stored)
    assert (stored.body_text, stored.body_html) == ("Pick: link sent", "Pick (link sent)")
    assert stored.ics == "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert message_content(message, KEY) == MailContent(
        f"Pick: {LINK}", f'<a href="{LINK}">Pick</a>', "BEGIN:VCALENDAR\r\nURL:" + LINK + "\r\nEND:VCALENDAR\r\n"
    )


def test_a_message_cannot_be_read_with_another_key(session):
    message = _queued(session)
    with pytest.raises(SecretDecryptionError, match="the queued message cannot be decrypted"):
        message_content(message, "another-key")


def test_queueing_needs_a_secret_key(session):
    with pytest.raises(ValueError, match="SECRET_KEY is empty"):
        queue_mail(session, kind="invitation", to="a@example.com", mail=RenderedMail("s", "t", "h"), secret_key="")


def test_forgetting_keeps_only_the_redacted_copy(session):
    message = _queued(session, ics=None)
    forget_content(message)
    session.commit()
    assert message.content_encrypted is None and message.ics is None
    assert (message.body_text, message.body_html) == ("Pick: link sent", "Pick (link sent)")


def test_a_message_queued_before_encryption_is_sent_as_stored_then_redacted(session):
    # Rows from before migration 0003 hold the text as written and no encrypted copy.
    legacy = OutboxMessage(kind="invitation", to_addr="a@example.com", subject="s", body_text=f"Go: {LINK}",
                           body_html=f'<a href="{LINK}">Go</a>', created_at=NOW)
    session.add(legacy)
    session.commit()
    assert message_content(legacy, KEY) == MailContent(f"Go: {LINK}", f'<a href="{LINK}">Go</a>', None)
    forget_content(legacy)
    assert (legacy.body_text, legacy.body_html) == ("Go: link sent", "Go (link sent)")
