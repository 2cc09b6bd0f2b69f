"""The sign-in form and its cookie (dashboard/web.py), in process through Starlette's test client.

The routes and the redirect middleware sit in front of a stand-in for Streamlit, exactly as
``dashboard/server.py`` puts them in front of the real one (``test_sign_in_browser.py``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text, update
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from booking_service.services import accounts, dashboard_sessions
from booking_service.services.accounts import ACCOUNT_LIMIT, SIGN_IN_FAILED_MESSAGE, create_user
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import AuditEntry, DashboardSession, SignInFailure, utcnow
from dashboard import web

PASSWORD = "scheduler password 456"
PAGE = {"Sec-Fetch-Dest": "document", "Accept": "text/html"}


@pytest.fixture
def db(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    monkeypatch.setenv("PUBLIC_URL", "http://booking.test")
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        create_user(s, email="sam@example.com", name="Sam Scheduler", password=PASSWORD)
    yield engine
    engine.dispose()


def _dashboard(request):
    return PlainTextResponse(f"the dashboard at {request.url.path}")


@pytest.fixture
def client(db):
    app = Starlette(
        routes=[*web.routes(), Route("/{path:path}", _dashboard)],
        middleware=[Middleware(web.SignInRequired)],
    )
    with TestClient(app, base_url="http://127.0.0.1:8501", follow_redirects=False) as c:
        yield c


def _sign_in(client: TestClient, email: str = "sam@example.com", password: str = PASSWORD, next_path: str = ""):
    form = client.get(f"/sign-in{next_path}")
    assert form.status_code == 200
    token = re.search(r'name="form_token" value="([^"]+)"', form.text).group(1)
    # The browser returns the form's cookie (sent here by hand: a Secure one would not go over http).
    return client.post(f"/sign-in{next_path}", data={"email": email, "password": password, "form_token": token},
                       headers={"Cookie": f"slotwise_sign_in_form={token}"})


def _set_cookie(response) -> str:
    return next(v for v in response.headers.get_list("set-cookie") if v.startswith(f"{web.COOKIE_NAME}="))


def test_a_page_load_without_a_session_goes_to_the_form_and_back_after_sign_in(client, db):
    response = client.get("/invitations?tab=open", headers=PAGE)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Finvitations%3Ftab%3Dopen"
    form = client.get(response.headers["location"])
    assert "<h1>Sign in to Slotwise</h1>" in form.text and 'autocomplete="current-password"' in form.text
    response = _sign_in(client, next_path="?next=%2Finvitations%3Ftab%3Dopen")
    assert response.status_code == 303 and response.headers["location"] == "/invitations?tab=open"
    assert client.get("/invitations", headers=PAGE).text == "the dashboard at /invitations"
    assert client.get("/sign-in?next=/meetings").headers["location"] == "/meetings"  # already signed in
    with session_scope(db) as s:
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "user.signed_in"


def test_streamlit_own_requests_pass_through(client):
    for path in ("/_stcore/health", "/static/js/main.js", "/favicon.png"):
        assert client.get(path, headers=PAGE).status_code == 200
    assert client.get("/invitations", headers={"Accept": "application/json"}).status_code == 200


def test_the_cookie_is_httponly_lax_signed_and_only_its_hash_is_stored(client, db):
    cookie = _set_cookie(_sign_in(client))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert {"httponly", "path=/", "samesite=lax"} <= set(flags)
    assert "secure" not in flags and not any(f.startswith(("max-age", "expires")) for f in flags)
    value = cookie.split(";")[0].split("=", 1)[1].strip('"')
    token = web.unsign_token(value, web.load_settings())
    assert token and value != token
    with session_scope(db) as s:
        stored = s.scalars(select(DashboardSession.token_hash)).one()
        dump = "\n".join(str(v) for r in s.execute(text("SELECT * FROM dashboard_sessions")) for v in r)
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in dump


def test_the_cookie_is_secure_when_the_public_url_is_https(client, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://slotwise.example.com")
    flags = [part.strip().lower() for part in _set_cookie(_sign_in(client)).split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags


def test_a_forged_or_foreign_cookie_is_refused(client, db):
    _sign_in(client)
    value = client.cookies[web.COOKIE_NAME].strip('"')
    client.cookies.clear()
    assert client.get("/", headers={**PAGE, "Cookie": f"{web.COOKIE_NAME}={value}"}).status_code == 200
    token = web.unsign_token(value, web.load_settings())
    foreign = dataclasses.replace(web.load_settings(), secret_key="another installation")
    for forged in (token, f"{token}.forged", web.sign_token(token, foreign)):
        response = client.get("/", headers={**PAGE, "Cookie": f"{web.COOKIE_NAME}={forged}"})
        assert response.status_code == 303, forged


@pytest.mark.parametrize(("email", "password"), [("sam@example.com", "wrong password!"),
                                                 ("nobody@example.com", PASSWORD), ("", "")])
def test_a_failure_says_the_same_thing_whatever_was_wrong(client, email, password, caplog):
    caplog.set_level(logging.DEBUG)
    response = _sign_in(client, email, password)
    assert response.status_code == 401 and web.COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert SIGN_IN_FAILED_MESSAGE in response.text
    assert password not in response.text.replace('type="password"', "") or not password
    assert PASSWORD not in caplog.text


def test_failures_are_rate_limited_and_the_limit_says_so(client):
    for _ in range(ACCOUNT_LIMIT.attempts):
        assert _sign_in(client, password="wrong password!").status_code == 401
    response = _sign_in(client)  # the right password, but the window is full
    assert response.status_code == 429 and "Too many failed sign-in attempts. Try again in" in response.text
    assert web.COOKIE_NAME not in client.cookies


def test_concurrent_wrong_passwords_are_counted_one_after_the_other(client, db):
    token = re.search(r'name="form_token" value="([^"]+)"', client.get("/sign-in").text).group(1)

    def attempt(_):
        # The form's cookie by hand, as in _sign_in: each refusal's page sets a new one in the
        # client's shared jar, which would race with the other threads' posts.
        return client.post("/sign-in", data={"email": "sam@example.com", "password": "wrong password!",
                                             "form_token": token},
                           headers={"Cookie": f"slotwise_sign_in_form={token}"}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(attempt, range(10)))
    assert codes == [401] * ACCOUNT_LIMIT.attempts + [429] * (10 - ACCOUNT_LIMIT.attempts)
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(SignInFailure)) == ACCOUNT_LIMIT.attempts


def test_a_post_without_the_form_token_checks_nothing(client, db):
    client.get("/sign-in")
    response = client.post("/sign-in", data={"email": "sam@example.com", "password": PASSWORD, "form_token": "x"})
    assert response.status_code == 400 and "nothing was checked" in response.text
    assert web.COOKIE_NAME not in client.cookies
    with session_scope(db) as s:
        assert s.scalar(select(func.count()).select_from(SignInFailure)) == 0
        assert s.scalar(select(func.count()).select_from(DashboardSession)) == 0


@pytest.mark.parametrize(
    ("asked", "safe"),
    [("/invitations", "/invitations"), ("/meetings?x=1", "/meetings?x=1"), ("//evil.example", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), (None, "/"),
     ("/sign-in?next=/x", "/")],
)
def test_next_stays_on_this_site(asked, safe):
    assert web.safe_next(asked) == safe


def test_an_ended_session_sends_page_loads_to_the_form_and_the_form_drops_its_cookie(client, db):
    _sign_in(client)
    assert client.get("/", headers=PAGE).status_code == 200
    with session_scope(db) as s:
        s.execute(update(DashboardSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
    assert client.get("/capacity", headers=PAGE).headers["location"] == "/sign-in?next=%2Fcapacity&ended=idle"
    form = client.get("/sign-in?next=%2Fcapacity&ended=idle")
    assert "ended after 30 minutes without activity" in form.text
    assert any(v.startswith(f'{web.COOKIE_NAME}=""') for v in form.headers.get_list("set-cookie"))
    # Signing in again starts a new session; the old one stays ended.
    _sign_in(client, next_path="?next=%2Fcapacity")
    assert client.get("/capacity", headers=PAGE).status_code == 200
    with session_scope(db) as s:
        rows = s.scalars(select(DashboardSession).order_by(DashboardSession.id)).all()
        assert len(rows) == 2
        idle = dt.timedelta(minutes=30)
        assert [dashboard_sessions.ended_because(r, idle) for r in rows] == ["idle", None]
