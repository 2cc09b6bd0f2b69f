"""Which sites may frame the customer's pages: the deployment's EMBED_ALLOWED_ORIGINS and the
organisation's list, read on every page (CSP ``frame-ancestors``, the session cookie's SameSite)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from booking_service.services import embedding
from booking_service.services.invitations import create_invitation, hash_token, manage_token_for
from booking_service.store.db import session_scope
from booking_service.store.models import User

from ..factories import SECRET_KEY, draft, make_org
from .pages import confirm_form, slot_paths

SHOP = "https://shop.example.com"
SITE = "https://www.example.com"


def _engine(app):
    return app.extensions["slotwise"]["engine"]


def _app(database_url, tmp_path, **env):
    from booking_service.web.app import create_app

    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
                       "SLOTWISE_VAR_DIR": str(tmp_path / "var"), "PUBLIC_URL": "http://localhost", **env})


def _invite(app, **changes) -> str:
    with Session(_engine(app), expire_on_commit=False) as session:
        org = make_org(session)
    changes = {key: value(org) for key, value in changes.items()}
    with session_scope(_engine(app), write=True) as session:
        created = create_invitation(session, draft(org, dt.datetime.now(dt.UTC), **changes), secret_key=SECRET_KEY,
                                    by=session.get(User, org.scheduler), public_url="http://localhost")
        return created.token


def _allow(app, origins: str) -> None:
    """What an admin's save in the dashboard does."""
    with session_scope(_engine(app), write=True) as session:
        admin = session.scalars(select(User).where(User.email == "root@example.com")).one_or_none()
        if admin is None:
            admin = User(email="root@example.com", name="Root", zone="Europe/London", role="admin")
            session.add(admin)
            session.flush()
        embedding.set_organisation_origins(session, origins, by=admin)


def _frame_ancestors(response) -> str:
    directives = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
    return directives["frame-ancestors"]


def test_an_admins_change_applies_to_the_next_page_without_a_restart(app, client):
    token = _invite(app)
    manage = f"/m/{manage_token_for(SECRET_KEY, hash_token(token))}"
    page = client.get(f"/i/{token}")
    assert (_frame_ancestors(page), page.headers["X-Frame-Options"]) == ("'none'", "DENY")

    _allow(app, f"{SHOP} {SITE}")
    for path in (f"/i/{token}", f"/i/{token}/times", f"/m/{'A' * 43}"):  # a customer's 404 page too
        response = client.get(path)
        assert _frame_ancestors(response) == f"{SHOP} {SITE}", path
        assert "X-Frame-Options" not in response.headers, path
    assert client.get(manage).status_code == 404  # not booked yet; still a customer's page
    # Nothing else may be framed: the API, the health checks.
    for path in ("/healthz", "/api/v1/openapi.json"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path

    _allow(app, "")
    page = client.get(f"/i/{token}")
    assert (_frame_ancestors(page), page.headers["X-Frame-Options"]) == ("'none'", "DENY")


def test_the_deployments_origins_and_the_organisations_are_joined(database_url, tmp_path):
    app = _app(database_url, tmp_path, EMBED_ALLOWED_ORIGINS=f"{SITE}, https://partner.example.org")
    token = _invite(app)
    client = app.test_client()
    assert _frame_ancestors(client.get(f"/i/{token}")) == f"{SITE} https://partner.example.org"
    _allow(app, f"{SHOP} {SITE}")
    assert _frame_ancestors(client.get(f"/i/{token}")) == f"{SITE} https://partner.example.org {SHOP}"


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "the page set no session cookie"
    return cookies[-1]


def test_under_https_a_framable_pages_cookie_travels_cross_site(database_url, tmp_path):
    app = _app(database_url, tmp_path, PUBLIC_URL="https://book.example.com")
    token = _invite(app)
    client = app.test_client()
    slot = slot_paths(client.get(f"/i/{token}").get_data(as_text=True))[0]  # its form puts a CSRF token in the session
    cookie = _session_cookie(client.get(slot))
    assert "SameSite=Lax" in cookie and "Secure" in cookie

    _allow(app, SHOP)
    client = app.test_client()
    cookie = _session_cookie(client.get(slot_paths(client.get(f"/i/{token}").get_data(as_text=True))[1]))
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_over_http_the_cookie_stays_lax_even_when_framing_is_allowed(app, client):
    token = _invite(app)
    _allow(app, SHOP)
    cookie = _session_cookie(client.get(slot_paths(client.get(f"/i/{token}").get_data(as_text=True))[0]))
    assert "SameSite=Lax" in cookie and "Secure" not in cookie


def test_when_the_setting_cannot_be_read_the_deployments_list_alone_applies(database_url, tmp_path, monkeypatch, caplog):
    app = _app(database_url, tmp_path, EMBED_ALLOWED_ORIGINS=SITE)
    token = _invite(app)
    _allow(app, SHOP)

    def broken(*_args, **_kwargs):
        raise OperationalError("SELECT embed_allowed_origins FROM team_settings", {}, Exception("db down"))

    monkeypatch.setattr(embedding, "allowed_origins", broken)
    response = app.test_client().get(f"/i/{token}")
    assert response.status_code == 200 and _frame_ancestors(response) == SITE
    assert "cannot read the organisation's embedding origins" in caplog.text



def test_a_page_reads_the_organisations_settings_once(app, client):
    """A pooled invitation's page needs both the frame origins and the default assignment policy:
    one read of the settings row answers both (the request's session keeps it)."""
    token = _invite(app, members=lambda org: (), pools=lambda org: (org.pool,))
    _allow(app, SHOP)
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "team_settings" in statement:
            reads.append(statement)

    slot = slot_paths(client.get(f"/i/{token}").get_data(as_text=True))[0]
    event.listen(_engine(app), "before_cursor_execute", count)
    try:
        # The time's page and the booking read it in their own write transaction, for the pool's
        # assignment and then for the frame.
        for path in (f"/i/{token}", f"/i/{token}/times", slot):
            reads.clear()
            response = client.get(path)
            assert response.status_code == 200 and _frame_ancestors(response) == SHOP, path
            assert len(reads) == 1, (path, reads)
        reads.clear()
        html = response.get_data(as_text=True)
        response = client.post(f"/i/{token}/confirm", data=confirm_form(html))
        assert response.status_code == 303 and _frame_ancestors(response) == SHOP
        assert len(reads) == 1, reads
    finally:
        event.remove(_engine(app), "before_cursor_execute", count)
