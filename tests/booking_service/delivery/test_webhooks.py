"""Webhook delivery to a real receiver on loopback: signatures, retries, the deadline, the allow-list, a killed worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.delivery.webhooks import (
    CONCURRENCY,
    LEASE_MARGIN,
    MAX_ATTEMPTS,
    backoff,
    deliver_due_webhooks,
)
from booking_service.services import webhooks
from booking_service.services.booking import cancel_meeting, confirm_slot, reschedule_meeting
from booking_service.services.invitations import cancel_invitation, create_invitation, expire_invitations
from booking_service.store.db import session_scope
from booking_service.store.models import User, WebhookDelivery

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday
from .webhook_receiver import Receiver

UTC = dt.UTC
LOOPBACK = webhooks.parse_networks("127.0.0.0/8")


def _subscribe(engine, user_id: int, url: str, events=webhooks.EVENTS) -> str:
    with session_scope(engine) as session:
        created = webhooks.create_subscription(session, session.get(User, user_id), url, events,
                                               secret_key=SECRET_KEY, allowed=LOOPBACK)
        return created.secret


def _invite(engine, org, now=None) -> int:
    now = now or dt.datetime.now(UTC)
    with session_scope(engine, write=True) as session:
        created = create_invitation(session, draft(org, now), by=session.get(User, org.scheduler),
                                    public_url="http://localhost", secret_key=SECRET_KEY, deliver="links")
        return created.invitation.id


def _book(engine, invitation_id: int) -> int:
    monday = next_monday(dt.datetime.now(UTC))
    with session_scope(engine, write=True) as session:
        return confirm_slot(session, invitation_id, berlin(monday, 10), secret_key=SECRET_KEY).meeting.id


def _deliveries(engine) -> list[WebhookDelivery]:
    with Session(engine) as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


@pytest.fixture
def org(engine):
    with Session(engine, expire_on_commit=False) as session:
        return make_org(session)


def test_deliveries_are_signed_and_carry_the_api_objects(engine, org):
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url)
        invitation_id = _invite(engine, org)
        meeting_id = _book(engine, invitation_id)
        with session_scope(engine, write=True) as session:
            cancel_meeting(session, meeting_id, by=None, secret_key=SECRET_KEY)
        report = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK)
    assert report.delivered == 3 and not receiver.bad
    events = [json.loads(r["body"]) for r in receiver.requests]
    assert [e["type"] for e in events] == ["invitation.created", "meeting.confirmed", "meeting.cancelled"]
    assert events[0]["data"]["invitation"]["id"] == invitation_id and events[0]["data"]["meeting"] is None
    assert events[1]["data"]["meeting"]["id"] == meeting_id and events[1]["data"]["meeting"]["members"] == [org.ana]
    assert events[1]["data"]["invitation"]["status"] == "scheduled"
    assert events[2]["data"]["meeting"]["status"] == "cancelled"
    headers = receiver.requests[0]["headers"]
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-id"].startswith("msg_")
    # Our own verification agrees with the reference library's (used by the receiver).
    webhooks.verify(receiver.secret, headers, receiver.requests[0]["body"])
    with pytest.raises(ValueError, match="no webhook-signature matches"):
        webhooks.verify(webhooks.new_secret(), headers, receiver.requests[0]["body"])
    assert {d.status for d in _deliveries(engine)} == {"delivered"}
    assert {d.response_status for d in _deliveries(engine)} == {200}


def test_a_failed_delivery_is_retried_with_backoff_then_delivered(engine, org):
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url, ["invitation.created"])
        _invite(engine, org)
        receiver.status = 503
        now = dt.datetime.now(UTC)
        first = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK, now=now)
        assert (first.retrying, first.delivered) == (1, 0)
        [row] = _deliveries(engine)
        assert row.status == "pending" and row.last_error.startswith("HTTP 503")
        assert row.next_attempt_at == now + backoff(1) == now + dt.timedelta(seconds=30)
        # Not due yet: nothing is sent.
        early = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK,
                                     now=now + dt.timedelta(seconds=29))
        assert (early.delivered, early.retrying) == (0, 0) and len(receiver.requests) == 1
        receiver.status = 200
        later = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK,
                                     now=now + dt.timedelta(seconds=31))
    assert later.delivered == 1
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.processed) == 1
    [row] = _deliveries(engine)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)


def test_a_delivery_fails_for_good_after_the_last_attempt(engine, org):
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url, ["invitation.created"])
        _invite(engine, org)
        receiver.status = 500
        now = dt.datetime.now(UTC)
        for _ in range(MAX_ATTEMPTS):
            deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK, now=now)
            now += dt.timedelta(hours=7)
    [row] = _deliveries(engine)
    assert (row.status, row.attempts, row.response_status) == ("failed", MAX_ATTEMPTS, 500)
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_each_attempt_ends_within_the_deadline_however_slowly_the_receiver_answers(engine, org):
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url, ["invitation.created"])
        _invite(engine, org)
        receiver.trickle = 0.3  # a byte every 0.3 s: never a read timeout, never an answer
        started = time.monotonic()
        report = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=1.5, allowed=LOOPBACK)
        took = time.monotonic() - started
    assert report.retrying == 1
    assert 1.5 <= took < 4, took
    assert "within 1.5 s" in _deliveries(engine)[0].last_error


def test_private_addresses_are_refused_at_delivery_unless_allowed(engine, org):
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url, ["invitation.created"])
        _invite(engine, org)
        report = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=2)
        assert report.retrying == 1 and receiver.requests == []
        assert "private, loopback or reserved" in _deliveries(engine)[0].last_error


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.1.2.3/hook", "private, loopback"),
        ("http://[::1]/hook", "private, loopback"),
        ("http://169.254.169.254/latest", "private, loopback"),
        ("http://localhost:8000/hook", "local name"),
        ("gopher://hooks.example.com/", "http(s)"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https:///nohost", "names no host"),
    ],
)
def test_subscriptions_refuse_urls_that_are_not_public_http(engine, org, url, words):
    with Session(engine) as session, pytest.raises(webhooks.WebhookError) as refused:
        webhooks.create_subscription(session, session.get(User, org.scheduler), url, ["meeting.confirmed"],
                                     secret_key=SECRET_KEY)
    assert words in str(refused.value) and refused.value.field == "url"


def test_subscriptions_get_only_events_their_user_may_see(engine, org):
    with session_scope(engine) as session:
        other = User(email="olga@example.com", name="Olga", zone="Europe/Berlin", role="scheduler")
        admin = User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin")
        session.add_all([other, admin])
        session.flush()
        ids = other.id, admin.id
    with Receiver() as receiver:
        _subscribe(engine, ids[0], receiver.url)
        _subscribe(engine, ids[1], receiver.url)
        _invite(engine, org)
    assert [(d.subscription_id, d.event_type) for d in _deliveries(engine)] == [(2, "invitation.created")]


def test_a_transition_rolled_back_queues_no_event(engine, org):
    with Receiver() as receiver:
        _subscribe(engine, org.scheduler, receiver.url)
    with pytest.raises(RuntimeError), session_scope(engine, write=True) as session:
        create_invitation(session, draft(org, dt.datetime.now(UTC)), by=session.get(User, org.scheduler),
                          public_url="http://localhost", secret_key=SECRET_KEY)
        raise RuntimeError("the caller's transaction fails after the change")
    assert _deliveries(engine) == []


WORKER = """
import sys
from booking_service.delivery.webhooks import deliver_due_webhooks
from booking_service.services.webhooks import parse_networks
from booking_service.store.db import make_engine
deliver_due_webhooks(make_engine(sys.argv[1]), secret_key=sys.argv[2], deadline=60,
                     allowed=parse_networks("127.0.0.0/8"))
"""


def _every_event(engine, org) -> None:
    """One of each event: three invitations made; one booked, moved by its scheduler and cancelled,
    one withdrawn, one left to expire."""
    booked, withdrawn, _left_alone = (_invite(engine, org) for _ in range(3))
    meeting_id = _book(engine, booked)
    monday = next_monday(dt.datetime.now(UTC))
    with session_scope(engine, write=True) as session:
        scheduler = session.get(User, org.scheduler)
        moved = reschedule_meeting(session, meeting_id, berlin(monday, 11), secret_key=SECRET_KEY, by=scheduler)
        assert moved.outcome == "moved"
        cancel_meeting(session, meeting_id, by=scheduler, secret_key=SECRET_KEY)
        cancel_invitation(session, withdrawn, by=scheduler, secret_key=SECRET_KEY)
    with session_scope(engine, write=True) as session:
        expire_invitations(session, dt.datetime.now(UTC) + EXPIRED_AFTER)


EXPIRED_AFTER = dt.timedelta(days=30)
"""When :func:`_every_event` records the expiry (the frame is next week): its event is due then."""


def test_every_event_reaches_each_subscription_once_after_a_worker_is_killed_mid_delivery(engine, database_url, org):
    with Receiver() as first, Receiver() as second:
        first.secret = _subscribe(engine, org.scheduler, first.url)
        second.secret = _subscribe(engine, org.scheduler, second.url)
        _every_event(engine, org)
        queued = len(_deliveries(engine))
        assert queued == 2 * 8
        first.hold = second.hold = 2.0
        worker = subprocess.Popen([sys.executable, "-c", WORKER, database_url, SECRET_KEY],
                                  env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            assert first.arrived.wait(60) and second.arrived.wait(60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        first.hold = second.hold = 0
        # What the killed worker had claimed waits for its lease to end; what is due goes now.
        during_lease = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK)
        assert 0 < during_lease.delivered < queued and during_lease.retrying == 0
        lease_over = dt.datetime.now(UTC) + dt.timedelta(seconds=60) * CONCURRENCY + LEASE_MARGIN + dt.timedelta(seconds=1)
        after_lease = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK, now=lease_over)
        assert 0 < after_lease.delivered <= CONCURRENCY
        # The expiry, recorded a month ahead, is due then.
        later = dt.datetime.now(UTC) + EXPIRED_AFTER + dt.timedelta(seconds=1)
        report = deliver_due_webhooks(engine, secret_key=SECRET_KEY, deadline=5, allowed=LOOPBACK, now=later)
        # The killed worker's held requests finish on the receivers' side.
        assert first.settled(30) and second.settled(30)
    assert report.delivered == 2
    assert during_lease.delivered + after_lease.delivered + report.delivered == queued
    assert {d.status for d in _deliveries(engine)} == {"delivered"}
    for receiver in (first, second):
        assert not receiver.bad
        types = sorted(p["type"] for p in receiver.processed.values())
        assert types == sorted([*["invitation.created"] * 3, "meeting.confirmed", "meeting.rescheduled",
                                "meeting.cancelled", "invitation.cancelled", "invitation.expired"])
        assert len(receiver.requests) > len(receiver.processed)  # at least once on the wire, once by id
        by = {p["type"]: p["data"]["by"] for p in receiver.processed.values()}
        assert by["meeting.rescheduled"] == "scheduler" and by["invitation.expired"] == "system"


def test_the_worker_pass_delivers_webhooks(engine, database_url, org, tmp_path):
    from booking_service.core.config import load_settings
    from booking_service.delivery.worker import run_pass

    settings = load_settings({"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, "SLOTWISE_VAR_DIR": str(tmp_path),
                              "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8", "WEBHOOK_TIMEOUT_SECONDS": "5"})
    with Receiver() as receiver:
        receiver.secret = _subscribe(engine, org.scheduler, receiver.url, ["invitation.created"])
        _invite(engine, org)
        report = run_pass(engine, settings)
    assert "Webhooks: 1 delivered, 0 to retry, 0 failed." in report.lines
    assert len(receiver.processed) == 1
