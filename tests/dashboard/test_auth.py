"""The dashboard's sign-in gate: form first, success, failure, rate limit, sign-out, idle expiry, admin pages."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from streamlit.testing.v1 import AppTest

from booking_service.services import accounts
from booking_service.services.accounts import ACCOUNT_LIMIT, SIGN_IN_FAILED_MESSAGE, create_user
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import AuditEntry, User, utcnow

from .signin import sign_in

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"
ADMIN_PASSWORD = "admin password 123"
SCHEDULER_PASSWORD = "scheduler password 456"


@pytest.fixture
def db(sqlite_url, tmp_path, monkeypatch):
    """An admin and a scheduler with passwords; the dashboard pointed at their database."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")
    engine = make_engine(sqlite_url)
    with session_scope(engine) as s:
        admin = create_user(s, email="root@example.com", name="Rita Root", password=ADMIN_PASSWORD, role="admin")
        sched = create_user(s, email="sam@example.com", name="Sam Scheduler", password=SCHEDULER_PASSWORD)
        ids = {"admin": admin.id, "scheduler": sched.id}
    yield engine, ids
    engine.dispose()


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def _submit(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="sign-in-email").input(email)
    at.text_input(key="sign-in-password").input(password)
    at.button(key="FormSubmitter:sign-in-Sign in").click().run()
    assert not at.exception, at.exception
    return at


def _only_the_form(at: AppTest) -> None:
    assert [t.value for t in at.title] == ["Sign in to Slotwise"]
    assert len(at.text_input) == 2 and len(at.dataframe) == 0
    assert at.sidebar.button.len == 0  # no sign-out, no page content
    assert "user_id" not in at.session_state


def test_nothing_but_the_form_renders_before_sign_in(db):
    at = _app().run()
    assert not at.exception
    _only_the_form(at)
    # Asking for a page directly does not get past the gate either.
    at.switch_page("dashboard/pages/meetings.py").run()
    assert not at.exception
    _only_the_form(at)


def test_sign_in_succeeds_and_shows_the_dashboard(db, caplog):
    caplog.set_level(logging.DEBUG)
    engine, ids = db
    at = _submit(_app().run(), "Root@Example.com", ADMIN_PASSWORD)
    assert at.session_state["user_id"] == ids["admin"]
    assert "Sign in to Slotwise" not in [t.value for t in at.title]
    assert any("Signed in as **Rita Root** (admin)" in c.value for c in at.sidebar.caption)
    assert len(at.error) == 0
    # The password is neither kept in the session nor written anywhere.
    assert ADMIN_PASSWORD not in repr(at.session_state)
    assert ADMIN_PASSWORD not in caplog.text
    with engine.connect() as c:
        stored = "\n".join(str(v) for t in ("users", "audit_log", "sign_in_failures")
                           for row in c.execute(text(f"SELECT * FROM {t}")) for v in row)
        assert ADMIN_PASSWORD not in stored and "root@example.com" in stored
    with session_scope(engine) as s:
        assert s.scalars(select(AuditEntry.action).order_by(AuditEntry.id.desc())).first() == "user.signed_in"


@pytest.mark.parametrize(
    ("email", "password"),
    [("root@example.com", "wrong password!"), ("nobody@example.com", ADMIN_PASSWORD), ("", "")],
)
def test_sign_in_failure_says_the_same_thing_whatever_was_wrong(db, email, password):
    at = _submit(_app().run(), email, password)
    assert [e.value for e in at.error] == [SIGN_IN_FAILED_MESSAGE]
    _only_the_form(at)
    # The form was cleared: the typed password is not left in the widget.
    assert at.session_state["sign-in-password"] == ""


def test_failed_attempts_are_rate_limited_across_reruns(db):
    at = _app().run()
    for _ in range(ACCOUNT_LIMIT.attempts):
        _submit(at, "sam@example.com", "wrong password!")
    # A new browser session, right password: still refused, and the limit says so.
    at = _submit(_app().run(), "sam@example.com", SCHEDULER_PASSWORD)
    assert len(at.error) == 1 and at.error[0].value.startswith("Too many failed sign-in attempts. Try again in")
    _only_the_form(at)


def test_sign_out_returns_to_the_form(db):
    engine, ids = db
    at = _submit(_app().run(), "sam@example.com", SCHEDULER_PASSWORD)
    at.sidebar.button(key="sign-out").click().run()
    assert not at.exception
    _only_the_form(at)
    with session_scope(engine) as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.user_id) == ("user.signed_out", ids["scheduler"])


def test_session_expires_after_idle_time(db):
    _, ids = db
    at = sign_in(_app(), ids["scheduler"]).run()
    assert at.session_state["user_id"] == ids["scheduler"]
    at.session_state["last_activity"] = utcnow() - dt.timedelta(minutes=29)
    at.run()
    assert at.session_state["user_id"] == ids["scheduler"]  # active within the window: refreshed
    assert at.session_state["last_activity"] > utcnow() - dt.timedelta(minutes=1)
    at.session_state["last_activity"] = utcnow() - dt.timedelta(minutes=31)
    at.run()
    assert not at.exception
    _only_the_form(at)
    assert [i.value for i in at.info][0].startswith("Your session ended after 30 minutes without activity")


def test_disabled_account_is_signed_out_at_next_interaction(db):
    engine, ids = db
    at = sign_in(_app(), ids["scheduler"]).run()
    with session_scope(engine) as s:
        s.get(User, ids["scheduler"]).active = False
    at.run()
    _only_the_form(at)


def test_admin_pages_are_for_admins_only(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/pages/audit.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Audit log"]
    at.switch_page("dashboard/pages/users.py").run()
    assert [t.value for t in at.title] == ["Users"]
    assert sorted(at.dataframe[0].value["Email"]) == ["root@example.com", "sam@example.com"]
    # For a scheduler the admin pages are not in the navigation at all...
    at = sign_in(_app(), ids["scheduler"]).run()
    for page in ("users", "audit"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"dashboard/pages/{page}.py")
    # ...and each page refuses by itself too, should it ever be reached.
    page = sign_in(AppTest.from_file(str(APP.parent / "dashboard/pages/users.py"), default_timeout=60),
                   ids["scheduler"]).run()
    assert [e.value for e in page.error] == ["Only an admin may manage users."] and len(page.dataframe) == 0
    page = sign_in(AppTest.from_file(str(APP.parent / "dashboard/pages/audit.py"), default_timeout=60),
                   ids["scheduler"]).run()
    assert len(page.dataframe) == 0 and len(page.selectbox) == 0  # not even the list of users
    assert "only an admin may read the audit log" in page.error[0].value


def test_admin_adds_a_user_with_a_generated_password_shown_once(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/pages/users.py").run()
    at.text_input(key="add-user-name").input("Cleo")
    at.text_input(key="add-user-email").input("cleo@example.com")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert not at.exception
    password = at.code[0].value
    assert len(password) >= 20
    with session_scope(engine) as s:
        cleo = accounts.get_user(s, "cleo@example.com")
        assert cleo.role == "scheduler" and cleo.password_hash.startswith("$argon2id$")
        assert accounts.authenticate(s, "cleo@example.com", password, client="t").ok
    at.run()
    assert len(at.code) == 0  # shown once only


def test_audit_page_lists_changes_with_who_and_when(db):
    engine, ids = db
    at = _submit(_app().run(), "root@example.com", ADMIN_PASSWORD)
    at.switch_page("dashboard/pages/audit.py").run()
    table = at.dataframe[0].value
    assert list(table.columns) == ["When (Europe/London)", "Who", "What", "Target", "Details"]
    assert table.iloc[0]["Who"] == "Rita Root <root@example.com>" and table.iloc[0]["What"] == "signed in"
    assert "created a user" in set(table["What"])


def test_openid_connect_replaces_the_password_form(db):
    at = _app()
    at.secrets["auth"] = OIDC_SECRETS
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with your organisation account"]
    assert len(at.text_input) == 0 and "user_id" not in at.session_state


class _OidcUser(dict):
    """Stands in for ``st.user`` after a provider signed someone in."""

    is_logged_in = True


OIDC_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s", "client_id": "c",
    "client_secret": "x", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


@pytest.mark.parametrize(("email", "signed_in"), [("SAM@example.com", True), ("stranger@example.com", False)])
def test_openid_connect_identity_must_be_a_slotwise_user(db, monkeypatch, email, signed_in):
    import streamlit

    _, ids = db
    monkeypatch.setattr(streamlit, "user", _OidcUser(email=email))
    at = _app()
    at.secrets["auth"] = OIDC_SECRETS
    at.run()
    assert not at.exception
    if signed_in:
        assert at.session_state["user_id"] == ids["scheduler"]
        assert any("Signed in as **Sam Scheduler**" in c.value for c in at.sidebar.caption)
    else:
        assert "user_id" not in at.session_state
        assert [e.value for e in at.error] == [
            "stranger@example.com has no active Slotwise account. Ask an admin to create one."]
        assert [t.value for t in at.title] == ["Sign in to Slotwise"] and len(at.dataframe) == 0


def test_admin_resets_a_password_and_disables_a_user(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/pages/users.py").run()
    at.selectbox(key="edit-user").set_value(ids["scheduler"]).run()
    at.button(key=f"reset-password-{ids['scheduler']}").click().run()
    assert not at.exception, at.exception
    password = at.code[0].value
    with session_scope(engine) as s:
        assert accounts.authenticate(s, "sam@example.com", password, client="t").ok
        assert not accounts.authenticate(s, "sam@example.com", SCHEDULER_PASSWORD, client="t").ok
    at.checkbox(key=f"edit-user-active-{ids['scheduler']}").uncheck()
    at.button(key=f"FormSubmitter:edit-user-{ids['scheduler']}-Save").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert s.get(User, ids["scheduler"]).active is False
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.user_id == ids["admin"])).all()
        assert {"user.password_reset", "user.updated"} <= set(actions)
    # The last admin cannot take away their own access.
    at.selectbox(key="edit-user").set_value(ids["admin"]).run()
    at.selectbox(key=f"edit-user-role-{ids['admin']}").set_value("scheduler")
    at.button(key=f"FormSubmitter:edit-user-{ids['admin']}-Save").click().run()
    assert [e.value for e in at.error] == ["this is the last active admin; make another user admin first"]
