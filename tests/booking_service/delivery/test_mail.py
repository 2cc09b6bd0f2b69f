"""Sending mail: SMTP delivery to a real server, retries, .eml files, the send-mail command."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from sqlalchemy import select

from booking_service.delivery.mail import (
    BACKOFF_MAX,
    MAX_ATTEMPTS,
    FileSender,
    MailConfigError,
    SmtpSender,
    backoff,
    deliver_due,
    sender_for,
)
from booking_service.services import invites as ics
from booking_service.services.outbox import RenderedMail, queue_mail
from booking_service.store.db import session_scope
from booking_service.store.models import OutboxMessage

from ..factories import SECRET_KEY
from ..smtp_server import free_port, smtp_server

UTC = dt.UTC
NOW = dt.datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
FROM = "Slotwise <no-reply@slotwise.test>"


def _invite() -> str:
    return ics.build_invite(
        uid="meeting-1@slotwise",
        sequence=0,
        start=dt.datetime(2030, 1, 8, 9, 0, tzinfo=UTC),
        end=dt.datetime(2030, 1, 8, 9, 30, tzinfo=UTC),
        summary="Intro call",
        description="About the project",
        location="https://meet.example/abc",
        organizer=ics.Person("Sam Scheduler", "sam@example.com"),
        attendees=[ics.Person("Ada Customer", "ada@example.com"), ics.Person("Bo Member", "bo@example.com")],
    )


def _queue(engine, *, ics_text: str | None = None, to: str = "ada@example.com", now: dt.datetime = NOW) -> int:
    mail = RenderedMail("Hello there", "plain body https://x.example/i/tok", "<p>html <a href='https://x.example/i/tok'>link</a></p>")
    with session_scope(engine) as session:
        message = queue_mail(session, secret_key=SECRET_KEY, kind="confirmation", to=to, mail=mail, ics=ics_text, now=now)
        session.flush()
        return message.id


def _message(engine, message_id: int) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.id == message_id)).one()


@pytest.mark.parametrize(
    ("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (20, 60)]
)
def test_backoff_doubles_up_to_an_hour(attempts, minutes):
    assert backoff(attempts) == min(dt.timedelta(minutes=minutes), BACKOFF_MAX)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("127.0.0.1", 2525, "smtp", None, None)),
        ("smtps://u%40x:p%3Aw@mail.example", ("mail.example", 465, "smtps", "u@x", "p:w")),
        ("smtp+starttls://u:p@mail.example", ("mail.example", 587, "smtp+starttls", "u", "p")),
    ],
)
def test_smtp_url_forms(url, expected):
    sender = SmtpSender.from_url(url)
    assert (sender.host, sender.port, sender.scheme, sender.username, sender.password) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://mail.example", "scheme 'http' is not supported"), ("smtp://", "has no host")],
)
def test_bad_smtp_urls_are_refused_with_the_fix(url, message):
    with pytest.raises(MailConfigError, match=message):
        SmtpSender.from_url(url)


def test_without_smtp_messages_become_eml_files(engine, tmp_path):
    message_id = _queue(engine, ics_text=_invite())
    sender = sender_for(None, tmp_path / "var")
    assert isinstance(sender, FileSender)
    report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    files = list((tmp_path / "var" / "outbox").glob("*.eml"))
    assert [f.name for f in files] == [f"{message_id:06d}-confirmation.eml"]
    import email
    import email.policy

    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "ada@example.com"
    assert parsed.get_body(("plain",)).get_content().startswith("plain body")
    stored = _message(engine, message_id)
    assert stored.status == "sent" and stored.sent_at == NOW and stored.attempts == 1
    # Nobody received it: the message and the report say it was written, not sent.
    assert stored.delivered_via == "file"
    assert report.describe() == (
        f"Mail: 1 written to {tmp_path / 'var' / 'outbox'} (no SMTP configured), 0 waiting to retry, 0 failed."
    )


def test_smtp_delivery_to_a_real_server_with_parts_and_invite(engine):
    message_id = _queue(engine, ics_text=_invite())
    with smtp_server() as (url, received):
        report = deliver_due(engine, SmtpSender.from_url(url), secret_key=SECRET_KEY, mail_from=FROM, now=NOW)
    assert report.sent == 1
    assert report.describe() == "Mail: 1 sent, 0 waiting to retry, 0 failed."
    assert _message(engine, message_id).delivered_via == "smtp"
    assert received.recipients == [["ada@example.com"]]
    msg = received.messages[0]
    assert msg["Subject"] == "Hello there"
    assert msg["From"] == FROM
    assert "https://x.example/i/tok" in msg.get_body(("plain",)).get_content()
    assert "href='https://x.example/i/tok'" in msg.get_body(("html",)).get_content()
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_param("method") == "REQUEST"
    assert parts[0].get_filename() == "invite.ics"
    calendar = icalendar.Calendar.from_ical(parts[0].get_content())
    assert str(calendar["METHOD"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == "meeting-1@slotwise"
    assert event.decoded("DTSTART") == dt.datetime(2030, 1, 8, 9, 0, tzinfo=UTC)
    assert _message(engine, message_id).status == "sent"


def test_smtp_down_keeps_the_message_and_retries_with_backoff(engine):
    message_id = _queue(engine)
    port = free_port()
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{port}", timeout=2)
    report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW)
    assert (report.sent, report.retrying) == (0, 1)
    stored = _message(engine, message_id)
    assert stored.status == "pending" and stored.attempts == 1
    assert stored.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert "ConnectionRefused" in (stored.last_error or "")

    # Not due yet: nothing is attempted.
    assert deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW + dt.timedelta(seconds=30)).retrying == 0
    assert _message(engine, message_id).attempts == 1

    with smtp_server(port) as (_url, received):
        report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW + dt.timedelta(minutes=1))
    assert report.sent == 1 and len(received.messages) == 1
    stored = _message(engine, message_id)
    assert stored.status == "sent" and stored.attempts == 2


def test_message_fails_after_max_attempts(engine):
    message_id = _queue(engine)
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    when = NOW
    for _ in range(MAX_ATTEMPTS):
        deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=when)
        when = _message(engine, message_id).next_attempt_at
    stored = _message(engine, message_id)
    assert stored.status == "failed" and stored.attempts == MAX_ATTEMPTS
    assert deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=when + BACKOFF_MAX).failed == 0


def test_a_claimed_message_is_not_sent_twice(engine, tmp_path):
    message_id = _queue(engine)
    sender = FileSender(tmp_path)
    assert deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW).sent == 1
    assert deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW + dt.timedelta(hours=2)).sent == 0
    assert _message(engine, message_id).attempts == 1


def test_send_mail_command_writes_eml_files(engine, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from booking_service.cli import main

    _queue(engine, now=dt.datetime.now(UTC) - dt.timedelta(seconds=1))
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.delenv("SMTP_URL", raising=False)
    result = CliRunner().invoke(main, ["send-mail"])
    assert result.exit_code == 0, result.output
    # The terminal says what happened: written to a file, not sent to anyone.
    assert f"1 written to {tmp_path / 'var' / 'outbox'} (no SMTP configured)" in result.output
    assert "sent," not in result.output
    assert len(list((tmp_path / "var" / "outbox").glob("*.eml"))) == 1


def test_send_mail_command_reports_a_bad_smtp_url(engine, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from booking_service.cli import main

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("SMTP_URL", "http://mail.example")
    result = CliRunner().invoke(main, ["send-mail"])
    assert result.exit_code != 0
    # The settings are checked before the command runs: the bad value, and a good one to copy.
    assert "SMTP_URL='http://mail.example'" in result.output and "smtp+starttls://" in result.output
    assert "Traceback" not in result.output


# --- the stored message: decrypted to send, redacted once sent --------------------------------


def test_after_sending_only_the_copy_without_links_is_kept(engine, tmp_path):
    message_id = _queue(engine, ics_text=_invite())
    pending = _message(engine, message_id)
    assert pending.content_encrypted and "x.example" not in pending.body_text + pending.body_html
    assert deliver_due(engine, FileSender(tmp_path), mail_from=FROM, secret_key=SECRET_KEY, now=NOW).sent == 1
    sent = _message(engine, message_id)
    assert sent.status == "sent" and sent.content_encrypted is None
    assert (sent.body_text, sent.body_html) == ("plain body link sent", "<p>html link (link sent)</p>")
    assert "https://x.example/i/tok" in (tmp_path / f"{message_id:06d}-confirmation.eml").read_text()


def test_a_message_that_cannot_be_decrypted_fails_at_once_and_says_why(engine, tmp_path):
    message_id = _queue(engine)
    # SECRET_KEY was changed after the message was queued.
    outbox = tmp_path / "outbox"
    report = deliver_due(engine, FileSender(outbox), mail_from=FROM, secret_key="a-new-key", now=NOW)
    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    stored = _message(engine, message_id)
    assert (stored.status, stored.attempts, stored.content_encrypted) == ("failed", 1, None)
    assert stored.last_error.startswith("the queued message cannot be decrypted: SECRET_KEY has changed")
    assert "resend the invitation" in stored.last_error
    assert not outbox.exists()  # nothing was sent
    # It is not tried again, not even with the old key back.
    assert deliver_due(engine, FileSender(outbox), mail_from=FROM, secret_key=SECRET_KEY,
                       now=NOW + BACKOFF_MAX).failed == 0


def test_failing_for_good_drops_the_encrypted_copy_too(engine):
    message_id = _queue(engine)
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    when = NOW
    for _ in range(MAX_ATTEMPTS):
        assert _message(engine, message_id).content_encrypted is not None  # kept while retries remain
        deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=when)
        when = _message(engine, message_id).next_attempt_at
    stored = _message(engine, message_id)
    assert stored.status == "failed" and stored.content_encrypted is None


# --- Message-ID: the same on every attempt of one message ------------------------------------


def test_a_retry_after_a_lost_reply_carries_the_same_message_id(engine):
    first, second = _queue(engine), _queue(engine, to="bo@example.com")
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{free_port()}", timeout=5)
    port = sender.port
    # The server receives the first message whole, then answers with a temporary error.
    with smtp_server(port, refuse=1) as (_url, received):
        report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW)
        assert (report.sent, report.retrying) == (1, 1)
        assert "SMTPDataError" in _message(engine, first).last_error
        again = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW + dt.timedelta(minutes=1))
        assert again.sent == 1
    assert [r[0] for r in received.recipients] == ["ada@example.com", "bo@example.com", "ada@example.com"]
    ids = [m["Message-ID"] for m in received.messages]
    assert ids[0] == ids[2] == _message(engine, first).message_id_header  # one message, delivered twice
    assert ids[1] == _message(engine, second).message_id_header != ids[0]
    assert all(i.startswith("<") and i.endswith("@slotwise.test>") for i in ids)  # the MAIL_FROM domain


def test_message_ids_differ_between_installations(engine, tmp_path):
    from booking_service.store.db import make_engine
    from tests.conftest import create_schema

    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    create_schema(other)
    ids = []
    for database in (engine, other):
        message_id = _queue(database)
        assert message_id == 1  # the same row id in both
        deliver_due(database, FileSender(tmp_path / str(len(ids))), mail_from=FROM, secret_key=SECRET_KEY, now=NOW)
        ids.append(_message(database, message_id).message_id_header)
    other.dispose()
    assert ids[0] != ids[1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("payload", ["silent", "drip"], ids=["never-answers", "one-byte-a-second"])
def test_an_smtp_server_that_does_not_answer_costs_one_deadline(engine, payload):
    """Silent: the 10 s per-read timeout would stop it, later; dripping: no per-read timeout ever would."""
    import time

    from ..slow_servers import SLACK, SMTP_DRIP, slow_server

    message_id = _queue(engine)
    with slow_server(b"" if payload == "silent" else SMTP_DRIP, interval=1.0, scheme="smtp") as server:
        sender = SmtpSender.from_url(server.url, timeout=10)
        began = time.monotonic()
        report = deliver_due(engine, sender, secret_key=SECRET_KEY, mail_from=FROM, now=NOW, deadline=2)
        assert 2 <= time.monotonic() - began < 2 + SLACK
    assert (report.sent, report.retrying) == (0, 1)
    stored = _message(engine, message_id)
    assert stored.status == "pending" and stored.attempts == 1
    assert "did not finish the SMTP conversation within 2 s" in stored.last_error


@pytest.mark.timeout(60)
def test_a_pass_stops_starting_messages_when_its_time_is_up(engine):
    import time

    from ..slow_servers import SLACK, slow_server

    ids = [_queue(engine, to=f"person{i}@example.com") for i in range(5)]
    with slow_server(b"", scheme="smtp") as server:
        began = time.monotonic()
        report = deliver_due(
            engine, SmtpSender.from_url(server.url), secret_key=SECRET_KEY, mail_from=FROM, now=NOW,
            deadline=2, until=began + 5,
        )
        took = time.monotonic() - began
    # Two messages get their 2 s each; less than a second of the 5 is left for a third, which
    # is not started, nor are the others: they wait for the next pass, their attempts uncounted.
    assert 4 <= took < 5 + SLACK
    assert (report.sent, report.retrying, report.left) == (0, 2, 3)
    assert "3 left for the next pass (out of time)" in report.describe()
    untouched = [_message(engine, i) for i in ids[2:]]
    assert all(m.status == "pending" and m.attempts == 0 for m in untouched)
