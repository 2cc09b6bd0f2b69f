"""Running the booking service for real: liveness, readiness, metrics, request ids, HTTPS behind a
proxy, a Redis outage, and the root page."""

from __future__ import annotations

import json
import logging
import re
from html import unescape

import pytest
from sqlalchemy.orm import Session

from booking_service.core import logs
from booking_service.services.invitations import create_invitation
from booking_service.store.db import session_scope
from booking_service.store.models import OutboxMessage, User
from booking_service.web.app import create_app

from ...ports import free_port
from ..factories import SECRET_KEY, draft, make_org
from .pages import slot_paths

PUBLIC = "http://localhost"


def _config(database_url, tmp_path, **extra) -> dict[str, str]:
    return {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
            "SLOTWISE_VAR_DIR": str(tmp_path / "var"), "PUBLIC_URL": PUBLIC, **extra}


def _invite(app) -> str:
    import datetime as dt

    engine = app.extensions["slotwise"]["engine"]
    with Session(engine, expire_on_commit=False) as session:
        org = make_org(session)
    with session_scope(engine, write=True) as session:
        user = session.get(User, org.scheduler)
        return create_invitation(session, draft(org, dt.datetime.now(dt.UTC)), secret_key=SECRET_KEY,
                                 by=user, public_url=PUBLIC).token


def _book_first_time(client, token: str):
    """Open the link, take the first time offered, confirm it; the confirmation's response."""
    page = client.get(f"/i/{token}").get_data(as_text=True)
    slot = client.get(slot_paths(page)[0])
    assert slot.status_code == 200
    html = slot.get_data(as_text=True)
    form = {name: unescape(value) for name, value in re.findall(r'name="(\w+)" value="([^"]*)"', html)}
    return client.post(f"/i/{token}/confirm", data=form)


def test_root_says_what_the_service_is(client):
    response = client.get("/")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Slotwise booking" in text and "invitation email" in text
    assert "This link is not valid" not in text


def test_liveness_needs_nothing_and_readiness_names_each_dependency(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "rate_limit_storage", "outbox"}
    assert body["checks"]["outbox"]["waiting"] == {"outbox": 0, "calendar_writes": 0, "webhooks": 0}


def test_readiness_reports_an_outbox_the_worker_does_not_empty(database_url, tmp_path):
    import datetime as dt

    app = create_app(_config(database_url, tmp_path, OUTBOX_MAX_AGE_SECONDS="60"))
    with session_scope(app.extensions["slotwise"]["engine"]) as session:
        session.add(OutboxMessage(kind="invitation", to_addr="a@example.com", subject="s", body_text="b",
                                  next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)))
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["outbox"]["status"] == "degraded"
    assert "OUTBOX_MAX_AGE_SECONDS=60" in body["checks"]["outbox"]["detail"]
    assert body["checks"]["outbox"]["waiting"]["outbox"] == 1


def test_readiness_is_503_when_the_database_is_down(tmp_path):
    pytest.importorskip("psycopg")
    app = create_app(_config(f"postgresql://postgres@127.0.0.1:{free_port()}/none", tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["status"] == "down"
    assert app.test_client().get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_bookings_and_queues(app, client):
    token = _invite(app)
    assert _book_first_time(client, token).status_code == 303
    text = client.get("/metrics").get_data(as_text=True)
    assert 'slotwise_http_request_duration_seconds_bucket{le="0.03",method="GET",route="/i/<token>"}' in text
    assert token not in text
    assert re.search(r"^slotwise_bookings_total [1-9]", text, re.M)
    assert 'slotwise_confirms_total{outcome="booked"}' in text
    assert re.search(r'^slotwise_queue_depth\{queue="outbox"\} [1-9]', text, re.M)
    assert 'slotwise_queue_oldest_due_seconds{queue="calendar_writes"}' in text
    assert "slotwise_calendar_sync_failing 0.0" in text


def test_every_request_has_an_id_in_its_header_and_log_line(client, caplog):
    caplog.set_level(logging.INFO, logger="slotwise.access")
    handler_filter = logs.RequestIdFilter()
    caplog.handler.addFilter(handler_filter)
    given = client.get("/", headers={"X-Request-ID": "edge-1234"})
    made = client.get("/no-such-page")
    assert given.headers["X-Request-ID"] == "edge-1234"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert client.get("/", headers={"X-Request-ID": "bad id <x>"}).headers["X-Request-ID"] != "bad id <x>"
    lines = [r for r in caplog.records if r.name == "slotwise.access"]
    assert [(r.request_id, r.status, r.route) for r in lines[:2]] == [
        ("edge-1234", 200, "/"), (made.headers["X-Request-ID"], 404, None)]
    as_json = json.loads(logs.JsonFormatter().format(lines[0]))
    assert as_json["request_id"] == "edge-1234" and as_json["status"] == 200 and as_json["message"] == "GET / 200"
    assert "request_id=edge-1234" in logs.TextFormatter().format(lines[0])


# --- HTTPS behind a proxy -----------------------------------------------------------------------


def test_plain_http_without_proxy_sets_no_hsts_and_ignores_forwarded_headers(client):
    response = client.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Strict-Transport-Security" not in response.headers


def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_on(database_url, tmp_path):
    app = create_app(_config(database_url, tmp_path, PUBLIC_URL="https://book.example.com", TRUSTED_PROXIES="1"))
    client = app.test_client()
    token = _invite(app)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "book.example.com"}
    page = client.get(f"/i/{token}", headers=headers)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    slot = client.get(slot_paths(page.get_data(as_text=True))[0], headers=headers)
    cookie = slot.headers.get("Set-Cookie", "")
    assert "session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_proxy_fix_takes_scheme_and_client_from_the_trusted_proxy(database_url, tmp_path):
    app = create_app(_config(database_url, tmp_path, TRUSTED_PROXIES="1"))
    seen = {}

    @app.get("/_probe")
    def _probe():
        from flask import request

        seen.update(scheme=request.scheme, remote=request.remote_addr, host=request.host)
        return "ok"

    response = app.test_client().get("/_probe", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "book.example.com"})
    assert seen == {"scheme": "https", "remote": "203.0.113.9", "host": "book.example.com"}
    assert "Strict-Transport-Security" in response.headers


# --- Redis unreachable --------------------------------------------------------------------------


def test_booking_works_while_redis_is_unreachable(database_url, tmp_path, caplog):
    pytest.importorskip("redis")
    caplog.set_level(logging.WARNING)
    app = create_app(_config(database_url, tmp_path,
                             RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0"))
    client = app.test_client()
    token = _invite(app)
    confirmed = _book_first_time(client, token)
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith(f"/i/{token}/scheduled")
    assert client.get(f"/i/{token}/scheduled").status_code == 200
    assert any("falling back to in-memory storage" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["rate_limit_storage"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
