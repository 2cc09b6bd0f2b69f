"""The dashboard's sign-in gate: the session cookie, sign-out, idle expiry, revocation, admin pages, OIDC.

The form that sets the cookie, its failures and rate limits are tested in ``test_sign_in_routes.py``;
the whole round trip in a real browser in ``test_sign_in_browser.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from booking_service.core.config import load_settings
from booking_service.services import accounts
from booking_service.services.accounts import create_user
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import AuditEntry, DashboardSession, User, utcnow
from dashboard import auth, web

from .signin import sign_in, start_session

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


@pytest.fixture
def served(monkeypatch):
    """As in ``slotwise dashboard``: the sign-in routes are served beside the app."""
    monkeypatch.setattr(web, "_served", True)


def _with_cookie(monkeypatch, token: str | None) -> None:
    """The browser's ``slotwise_session`` cookie, as ``st.context.cookies`` passes it to the script."""
    settings = load_settings()
    value = web.sign_token(token, settings) if token else None
    monkeypatch.setattr(auth, "_cookie_token", lambda: web.unsign_token(value, load_settings()))


def _only_the_way_to_sign_in(at: AppTest) -> None:
    assert [t.value for t in at.title] == ["Sign in to Slotwise"]
    assert len(at.text_input) == 0 and len(at.dataframe) == 0
    assert at.sidebar.button.len == 0  # no sign-out, no page content
    assert "user_id" not in at.session_state and auth.SESSION_KEY not in at.session_state


def _sign_in_link(at: AppTest) -> str:
    (link,) = [h.proto.body for h in at.get("html")]
    return re.search(r'href="([^"]+)"', link).group(1)


def _row(engine, session_id: int) -> DashboardSession:
    with session_scope(engine) as s:
        return s.get(DashboardSession, session_id)


def test_nothing_renders_before_sign_in_but_the_way_to_the_form(db, served):
    at = _app().run()
    assert not at.exception
    _only_the_way_to_sign_in(at)
    assert _sign_in_link(at) == "/sign-in"
    # Asking for a page directly does not get past the gate either.
    at.switch_page("dashboard/screens/meetings.py").run()
    assert not at.exception
    _only_the_way_to_sign_in(at)


def test_started_without_the_sign_in_routes_it_says_how_to_start(db):
    at = _app().run()
    _only_the_way_to_sign_in(at)
    assert "Start it with `slotwise dashboard`" in at.error[0].value


def test_the_cookie_of_a_live_session_signs_in_every_new_browser_session(db, served, monkeypatch):
    engine, ids = db
    session_id, token = start_session(ids["admin"])
    _with_cookie(monkeypatch, token)
    for _ in range(2):  # a reload or a new tab: a new browser session with the same cookie
        at = _app().run()
        assert not at.exception, at.exception
        assert at.session_state["user_id"] == ids["admin"] and at.session_state[auth.SESSION_KEY] == session_id
        assert any("Signed in as **Rita Root** (admin)" in c.value for c in at.sidebar.caption)


def test_a_cookie_without_a_session_signs_nobody_in(db, served, monkeypatch):
    _with_cookie(monkeypatch, "no such session token")
    at = _app().run()
    _only_the_way_to_sign_in(at)
    assert len(at.info) == 0


def test_sign_out_ends_the_session_on_the_server(db, served, monkeypatch):
    engine, ids = db
    session_id, token = start_session(ids["scheduler"])
    _with_cookie(monkeypatch, token)
    at = _app().run()
    other_tab = _app().run()
    at.sidebar.button(key="sign-out").click().run()
    assert not at.exception
    _only_the_way_to_sign_in(at)
    assert [i.value for i in at.info] == ["You have signed out."]
    assert _sign_in_link(at) == "/sign-in?ended=signed-out"
    assert _row(engine, session_id).revoked_reason == "signed out"
    with session_scope(engine) as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.user_id) == ("user.signed_out", ids["scheduler"])
    # The same cookie no longer works: not in a new tab, not in a tab already open.
    _only_the_way_to_sign_in(_app().run())
    other_tab.run()
    _only_the_way_to_sign_in(other_tab)


def test_session_expires_after_idle_time(db, served):
    engine, ids = db
    at = sign_in(_app(), ids["scheduler"]).run()
    session_id = at.session_state[auth.SESSION_KEY]

    def idle_for(minutes: int) -> None:
        with session_scope(engine) as s:
            s.get(DashboardSession, session_id).last_seen_at = utcnow() - dt.timedelta(minutes=minutes)

    idle_for(29)
    at.run()
    assert at.session_state["user_id"] == ids["scheduler"]  # active within the window: refreshed
    assert _row(engine, session_id).last_seen_at > utcnow() - dt.timedelta(minutes=1)
    idle_for(31)
    at.run()
    assert not at.exception
    _only_the_way_to_sign_in(at)
    assert [i.value for i in at.info][0].startswith("Your session ended after 30 minutes without activity")
    assert _sign_in_link(at) == "/sign-in?ended=idle"
    assert _row(engine, session_id).revoked_reason == "idle"


def test_activity_is_written_at_most_every_few_seconds(db):
    engine, ids = db
    at = sign_in(_app(), ids["scheduler"]).run()
    session_id = at.session_state[auth.SESSION_KEY]
    first = _row(engine, session_id).last_seen_at
    at.run()
    assert _row(engine, session_id).last_seen_at == first  # within TOUCH_EVERY: no write


def test_disabled_account_is_signed_out_at_next_interaction(db, served):
    engine, ids = db
    at = sign_in(_app(), ids["scheduler"]).run()
    session_id = at.session_state[auth.SESSION_KEY]
    with session_scope(engine) as s:
        s.get(User, ids["scheduler"]).active = False  # behind the services' back: the gate still notices
    at.run()
    _only_the_way_to_sign_in(at)
    assert [i.value for i in at.info] == ["Your account is no longer active. Ask an admin."]
    assert _row(engine, session_id).revoked_reason == "disabled"


def test_a_password_change_ends_every_other_session_and_keeps_this_one(db, served, monkeypatch):
    engine, ids = db
    here = sign_in(_app(), ids["scheduler"]).run()
    elsewhere_id, elsewhere_token = start_session(ids["scheduler"])
    _with_cookie(monkeypatch, elsewhere_token)
    elsewhere = _app().run()
    assert elsewhere.session_state["user_id"] == ids["scheduler"]
    here.switch_page("dashboard/screens/profile.py").run()
    here.text_input(key="profile-password-current").input(SCHEDULER_PASSWORD)
    here.text_input(key="profile-password-new").input("a brand new password 789")
    here.text_input(key="profile-password-again").input("a brand new password 789")
    here.button(key=f"FormSubmitter:profile-password-{ids['scheduler']}-Change password").click().run()
    assert not here.exception, here.exception
    assert any("Password changed" in m.value for m in here.success)
    here.run()
    assert here.session_state["user_id"] == ids["scheduler"]  # still signed in here
    assert _row(engine, elsewhere_id).revoked_reason == "password changed"
    elsewhere.run()
    _only_the_way_to_sign_in(elsewhere)
    _only_the_way_to_sign_in(_app().run())  # the old cookie, in a new tab


def test_admin_pages_are_for_admins_only(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/screens/audit.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Audit log"]
    at.switch_page("dashboard/screens/users.py").run()
    assert [t.value for t in at.title] == ["Users"]
    assert sorted(at.dataframe[0].value["Email"]) == ["root@example.com", "sam@example.com"]
    # For a scheduler the admin pages are not in the navigation at all...
    at = sign_in(_app(), ids["scheduler"]).run()
    for page in ("users", "audit"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"dashboard/screens/{page}.py")
    # ...and each page refuses by itself too, should it ever be reached.
    page = sign_in(AppTest.from_file(str(APP.parent / "dashboard/screens/users.py"), default_timeout=60),
                   ids["scheduler"]).run()
    assert [e.value for e in page.error] == ["Only an admin may manage users."] and len(page.dataframe) == 0
    page = sign_in(AppTest.from_file(str(APP.parent / "dashboard/screens/audit.py"), default_timeout=60),
                   ids["scheduler"]).run()
    assert len(page.dataframe) == 0 and len(page.selectbox) == 0  # not even the list of users
    assert "only an admin may read the audit log" in page.error[0].value


def test_admin_adds_a_user_with_a_generated_password_shown_once(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/screens/users.py").run()
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


def test_a_refused_user_keeps_what_was_typed_and_an_added_one_empties_the_form(db):
    engine, ids = db
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/screens/users.py").run()
    at.text_input(key="add-user-name").input("Sam Again")
    at.text_input(key="add-user-email").input("sam@example.com")  # already a user
    at.selectbox(key="add-user-role").set_value("admin")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["a user with email 'sam@example.com' already exists; choose another email"]
    assert at.text_input(key="add-user-name").value == "Sam Again"
    assert at.text_input(key="add-user-email").value == "sam@example.com"
    at.text_input(key="add-user-email").input("sam.again@example.com")
    at.text_input(key="add-user-password").input("a long enough password 1")
    at.button(key="FormSubmitter:add-user-Add user").click().run()
    assert not at.exception
    assert [m.value for m in at.success] == ["Added Sam Again (admin)."]
    assert len(at.code) == 0  # a password the admin typed is not shown back
    assert [at.text_input(key=k).value for k in ("add-user-name", "add-user-email", "add-user-password")] == ["", "", ""]
    assert at.selectbox(key="add-user-role").value == "scheduler"
    with session_scope(engine) as s:
        assert accounts.get_user(s, "sam.again@example.com").role == "admin"


def test_audit_page_lists_changes_with_who_and_when(db):
    engine, ids = db
    with session_scope(engine) as s:
        assert accounts.authenticate(s, "root@example.com", ADMIN_PASSWORD, client="ip:127.0.0.1").ok
    at = sign_in(_app(), ids["admin"]).run()
    at.switch_page("dashboard/screens/audit.py").run()
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
    at.switch_page("dashboard/screens/users.py").run()
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


def test_no_pages_folder_beside_the_router_runs_pages_past_the_gate():
    # Streamlit would serve the scripts of a pages/ folder beside dashboard/streamlit_app.py by
    # itself, each page rendering before the router's sign-in gate runs.
    router = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
    assert router.exists()
    assert not (router.parent / "pages").exists()
