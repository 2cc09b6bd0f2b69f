"""No working booking link at rest: not in any column of any table, before or after delivery.

Invitations are created (with promoted slots, whose links carry the token too), resent (a new
token), booked (confirmations with the booking link and an invite), the confirmation is resent and
a meeting cancelled; then every value of every column of every table is read back. No token that
opens a booking page may be among them, neither while the mail waits (it is encrypted) nor after
it is sent (only a copy without links is kept). The mail itself, as an ``.eml`` file or over
SMTP, still carries the working link.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from booking_service.delivery.mail import FileSender, SmtpSender, deliver_due
from booking_service.services.availability import find_slots_for
from booking_service.services.booking import cancel_meeting, confirm_slot, resend_confirmation
from booking_service.services.invitations import (
    booking_link,
    create_invitation,
    find_by_token,
    resend_invitation,
)
from booking_service.store.db import session_scope
from booking_service.store.models import Base, Invitation, OutboxMessage, User

from ..factories import SECRET_KEY, draft, make_org
from ..smtp_server import smtp_server

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
PUBLIC = "https://book.example"
FROM = "Slotwise <no-reply@slotwise.test>"
# A link token as the services make them: 32 random bytes, URL-safe base64 (43 characters).
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_=-])")


def _every_value(engine: Engine) -> list[str]:
    """Every non-empty value of every column of every table, as text."""
    values = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                values.extend(str(v) for v in row if v is not None)
    return values


def _assert_no_live_token(engine: Engine, known: list[str]) -> None:
    values = _every_value(engine)
    everything = "\n".join(values)
    for token in known:
        assert token not in everything, "a link token is stored readable"
    with Session(engine) as session:
        opening = [t for t in TOKEN_SHAPE.findall(everything) if find_by_token(session, t) is not None]
    assert opening == [], "a stored value opens a booking page"


def _links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"']+", text)


def _opens(engine: Engine, link: str) -> int | None:
    """The invitation a mailed link opens, or None."""
    token = link.removeprefix(f"{PUBLIC}/i/").split("/")[0].split("?")[0]
    with Session(engine) as session:
        found = find_by_token(session, token)
        return found.id if found is not None else None


def _book(engine: Engine, invitation_id: int, token: str) -> int:
    with session_scope(engine, write=True) as s:
        invitation = s.get(Invitation, invitation_id)
        start = find_slots_for(s, invitation, NOW)["start"].iloc[0].to_pydatetime()
        result = confirm_slot(s, invitation_id, start, secret_key=SECRET_KEY, link=booking_link(PUBLIC, token), now=NOW)
        assert result.outcome == "booked"
        return result.meeting.id


@pytest.fixture
def org(engine):
    with Session(engine) as s:
        return make_org(s)


def test_no_working_link_is_stored_before_or_after_delivery(engine, org, tmp_path):
    tokens = []

    def invite(**changes):
        with session_scope(engine, write=True) as s:
            created = create_invitation(s, draft(org, NOW, **changes), by=s.get(User, org.scheduler),
                                        public_url=PUBLIC, secret_key=SECRET_KEY, now=NOW)
        tokens.append(created.token)
        return created

    # Invitations, one with promoted slots (a link per slot), one resent under a new link.
    promoted = invite(promote=True, promote_count=3)
    resent = invite(customer_email="bo@customer.example", members=(org.ben,))
    with session_scope(engine, write=True) as s:
        again = resend_invitation(s, resent.invitation.id, by=s.get(User, org.scheduler), public_url=PUBLIC,
                                  secret_key=SECRET_KEY, now=NOW)
    tokens.append(again.token)
    _assert_no_live_token(engine, tokens)  # waiting mail is encrypted

    # Delivered as .eml files: each carries its working link, the database none. The resend
    # withdrew the first mail of the resent invitation, whose link no longer works.
    eml = tmp_path / "outbox"
    assert deliver_due(engine, FileSender(eml), mail_from=FROM, secret_key=SECRET_KEY, now=NOW).sent == 2
    _assert_no_live_token(engine, tokens)
    mailed = []
    for path in sorted(eml.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        links = _links(message.get_body(("plain",)).get_content())
        mailed.append((message["To"], len(links), {_opens(engine, link) for link in links}))
    assert mailed == [
        ("ada@customer.example", 4, {promoted.invitation.id}),  # three promoted slots and "more times"
        ("bo@customer.example", 1, {resent.invitation.id}),  # the resent invitation's new link
    ]

    # Bookings: confirmations and notifications with the booking link and the invite; a resent
    # confirmation; a cancellation.
    booked = _book(engine, promoted.invitation.id, promoted.token)
    other = _book(engine, resent.invitation.id, again.token)
    with session_scope(engine, write=True) as s:
        resend_confirmation(s, booked, by=s.get(User, org.scheduler), link=booking_link(PUBLIC, promoted.token),
                            secret_key=SECRET_KEY, now=NOW)
    with session_scope(engine, write=True) as s:
        cancel_meeting(s, other, by=None, reason="Clash", secret_key=SECRET_KEY, now=NOW)
    _assert_no_live_token(engine, tokens)

    # Delivered over SMTP: the customer's confirmations carry the booking link that works.
    with smtp_server() as (url, received):
        report = deliver_due(engine, SmtpSender.from_url(url), mail_from=FROM, secret_key=SECRET_KEY, now=NOW)
    assert (report.sent, report.failed, len(received.messages)) == (7, 0, 7)
    _assert_no_live_token(engine, tokens)
    confirmations = [m for m in received.messages if m["Subject"] == "Confirmed: Intro call"
                     and m["To"] == "ada@customer.example"]
    assert len(confirmations) == 2  # the first and the resent one
    for message in confirmations:
        link = booking_link(PUBLIC, promoted.token)
        assert link in message.get_body(("plain",)).get_content()
        assert _opens(engine, link) == promoted.invitation.id
        invite = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
        assert link in invite.get_content().replace("\r\n ", "")

    # The reminders wait for their time, encrypted (checked above: no live token at rest).
    # Once they are sent too, only the copies without links are left, and no encrypted text.
    later = NOW + dt.timedelta(days=30)
    assert deliver_due(engine, FileSender(tmp_path / "later"), mail_from=FROM, secret_key=SECRET_KEY,
                       now=later).sent == 4  # 24 h and 1 h before: the customer and Ana
    _assert_no_live_token(engine, tokens)
    with Session(engine) as s:
        left = s.execute(select(OutboxMessage.status, OutboxMessage.content_encrypted)).all()
    # Sent, or withdrawn by the resend; either way only the redacted copy is kept.
    assert {status for status, _ in left} == {"sent", "superseded"} and all(content is None for _, content in left)
