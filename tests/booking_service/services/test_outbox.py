"""The outbox: rendering messages from their templates, storing them encrypted beside a redacted copy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from booking_service.core import display, i18n
from booking_service.core.crypto import SecretDecryptionError
from booking_service.services.booking import confirm_slot
from booking_service.services.invitations import create_invitation
from booking_service.services.outbox import (
    MailContent,
    RenderedMail,
    forget_content,
    message_content,
    queue_mail,
    register_filters,
    render_mail,
    supersede_invitation_mail,
    supersede_meeting_mail,
)
from booking_service.store.db import session_scope
from booking_service.store.models import OutboxMessage, User

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

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


# --- rendering: the shared filters, the subject's line breaks, the language -----------------------


def test_mail_and_pages_share_one_table_of_time_filters():
    filters: dict = {}
    register_filters(filters)
    assert filters == {
        "when": i18n.format_when, "day": i18n.format_day, "clock": i18n.format_time,
        "duration": i18n.format_duration, "zone_name": i18n.zone_name, "iso_utc": display.iso_utc,
    }


def _cancellation(mail_subject: str, *, language: str | None = None, subject: str = "Intro"):
    return render_mail("cancellation", mail_subject, language=language, subject=subject, recipient_name="Ada",
                       start=NOW, end=NOW + dt.timedelta(minutes=30), zone="Europe/Berlin", reason="")


@pytest.mark.parametrize("brk", ["\r\n", "\r", "\n"])
def test_a_subject_with_either_line_break_is_refused_as_written_or_once_filled_in(brk):
    with pytest.raises(ValueError) as written:
        _cancellation(f"Bad{brk}Bcc: x@example.com")
    assert str(written.value) == f"mail subject {f'Bad{brk}Bcc: x@example.com'!r} contains a line break"
    # A meeting's subject brings the break in only when the header is filled in.
    with pytest.raises(ValueError) as filled:
        _cancellation("Cancelled: %(subject)s", subject=f"Intro{brk}Bcc: x@example.com")
    assert str(filled.value) == f"mail subject {f'Cancelled: Intro{brk}Bcc: x@example.com'!r} contains a line break"
    assert _cancellation("Cancelled: %(subject)s").subject == "Cancelled: Intro"


def test_a_mail_is_written_in_the_language_asked_and_in_english_by_default():
    french = _cancellation("Cancelled: %(subject)s", language="fr")
    assert french.subject == "Annulé : Intro"
    assert "Bonjour Ada," in french.text and "janvier 2030" in french.text
    english = _cancellation("Cancelled: %(subject)s")
    assert english.subject == "Cancelled: Intro"
    assert "Hello Ada," in english.text and "January 2030" in english.text


# --- what the outbox stores: every column queue_mail sets -----------------------------------------


def test_a_queued_message_is_pending_untried_and_knows_its_link(session):
    mail = RenderedMail("Pick a time", f"Pick: {LINK}", None)  # a plain-text message: no HTML part
    queue_mail(session, kind="invitation", to="ada@example.com", mail=mail, secret_key=KEY, now=NOW,
               link_hash="ab" * 32, reply_to="sam@example.com")
    session.commit()
    session.expunge_all()
    stored = session.scalars(select(OutboxMessage)).one()
    assert (stored.status, stored.attempts, stored.link_hash, stored.reply_to) == ("pending", 0, "ab" * 32,
                                                                                   "sam@example.com")
    assert (stored.body_text, stored.body_html, stored.ics) == ("Pick: link sent", None, None)
    assert stored.next_attempt_at.replace(tzinfo=dt.UTC) == NOW
    assert message_content(stored, KEY) == MailContent(f"Pick: {LINK}", None, None)


def test_a_message_queued_before_encryption_keeps_its_invite(session):
    ics = "BEGIN:VCALENDAR\r\nURL:" + LINK + "\r\nEND:VCALENDAR\r\n"
    legacy = OutboxMessage(kind="confirmation", to_addr="a@example.com", subject="s", body_text="Booked",
                           body_html=None, ics=ics, created_at=NOW)
    session.add(legacy)
    session.commit()
    assert message_content(legacy, KEY) == MailContent("Booked", None, ics)
    forget_content(legacy)
    assert (legacy.body_text, legacy.body_html, legacy.ics) == ("Booked", None, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


# --- withdrawing mail that has not gone out ---------------------------------------------------------


def test_withdrawing_takes_only_the_pending_mail_of_its_kind(engine):
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as s:
        org = make_org(s)
    with session_scope(engine, write=True) as s:
        ids = [create_invitation(s, draft(org, now), by=s.get(User, org.scheduler), public_url="http://127.0.0.1",
                                 secret_key=SECRET_KEY).invitation.id for _ in range(2)]
        booked = confirm_slot(s, ids[1], berlin(next_monday(now), 10), secret_key=SECRET_KEY)
        assert booked.outcome == "booked"
        meeting_id = booked.meeting.id
    plain = RenderedMail("s", "t", None)
    with session_scope(engine, write=True) as s:
        s.execute(delete(OutboxMessage))
        for kind, status in (("invitation", "pending"), ("invitation", "sent"), ("notification", "pending")):
            message = queue_mail(s, kind=kind, to="a@example.com", mail=plain, secret_key=KEY, invitation_id=ids[0])
            message.status = status
        for kind, status in (("reminder", "pending"), ("reminder", "sent"), ("confirmation", "pending")):
            message = queue_mail(s, kind=kind, to="a@example.com", mail=plain, secret_key=KEY, meeting_id=meeting_id)
            message.status = status
    with session_scope(engine, write=True) as s:
        assert supersede_invitation_mail(s, ids[0]) == 1
        assert supersede_meeting_mail(s, meeting_id) == 1
    with Session(engine) as s:
        rows = s.execute(select(OutboxMessage.kind, OutboxMessage.status).order_by(OutboxMessage.id)).all()
    assert [tuple(r) for r in rows] == [
        ("invitation", "superseded"), ("invitation", "sent"), ("notification", "pending"),
        ("reminder", "superseded"), ("reminder", "sent"), ("confirmation", "pending"),
    ]
