"""Accounts: password hashing, users, sign-in with rate limits, idle expiry, first admin, CLI."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from booking_service.services import accounts
from booking_service.services.accounts import (
    ACCOUNT_LIMIT,
    CLIENT_LIMIT,
    SIGN_IN_FAILED_MESSAGE,
    AccountError,
    authenticate,
    create_first_admin,
    create_user,
    reset_password,
    update_user,
)
from booking_service.store.db import make_engine
from booking_service.store.models import AuditEntry, SignInFailure, User

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Argon2 with tiny parameters: the same code path, a fraction of the time."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _user(session: Session, email: str = "ana@example.com", role: str = "scheduler", **kw) -> User:
    user = create_user(session, email=email, name=kw.pop("name", "Ana"), password=kw.pop("password", PASSWORD),
                       role=role, **kw)
    session.commit()
    return user


def _all_text(session: Session) -> str:
    """Every value in every column of the account tables, as one string."""
    chunks = []
    for table in ("users", "audit_log", "sign_in_failures"):
        for row in session.execute(text(f"SELECT * FROM {table}")):
            chunks.extend(str(v) for v in row)
    return "\n".join(chunks)


# --- hashing --------------------------------------------------------------------------------


def test_production_hasher_is_memory_hard_argon2id():
    # The module's own hasher (not the cheap test one): Argon2id with at least OWASP's 19 MiB.
    hasher = PasswordHasher()
    assert hasher.type.name == "ID"
    assert hasher.memory_cost >= 19 * 1024
    encoded = hasher.hash(PASSWORD)
    assert encoded.startswith("$argon2id$") and PASSWORD not in encoded


def test_password_is_hashed_never_stored_or_logged_in_clear(session, caplog):
    caplog.set_level(logging.DEBUG)
    user = _user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert accounts.verify_password(user.password_hash, PASSWORD)
    assert not accounts.verify_password(user.password_hash, PASSWORD + "!")
    # Sign in, fail a sign-in, reset: none of it may leave the password anywhere.
    assert authenticate(session, "ana@example.com", PASSWORD, client="c1", now=NOW).ok
    assert not authenticate(session, "ana@example.com", "wrong password 1", client="c1", now=NOW).ok
    reset_password(session, "ana@example.com", "another good password")
    session.commit()
    stored = _all_text(session)
    for secret in (PASSWORD, "wrong password 1", "another good password"):
        assert secret not in stored
        assert secret not in caplog.text
    assert "ana@example.com" in stored  # the scan did read the tables


def test_unreadable_hash_fails_closed(session):
    assert not accounts.verify_password("not-a-hash", PASSWORD)
    assert not accounts.verify_password(None, PASSWORD)


# --- users ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-email"}, "is not an email address"),
        ({"password": "short"}, "at least 10 characters"),
        ({"password": " padded password "}, "starts or ends with a space"),
        ({"role": "owner"}, "role 'owner' is not one of admin, scheduler"),
        ({"zone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"name": "  "}, "the name is empty"),
    ],
)
def test_create_user_names_the_bad_value(session, changes, message):
    args = {"email": "ana@example.com", "name": "Ana", "password": PASSWORD, "role": "scheduler",
            "zone": "Europe/Berlin"} | changes
    with pytest.raises(AccountError, match=message):
        create_user(session, **args)


def test_email_is_unique_ignoring_case(session):
    _user(session, "Ana@Example.com")
    assert session.scalar(select(User.email)) == "ana@example.com"
    with pytest.raises(AccountError, match="already exists"):
        create_user(session, email="ANA@example.com ", name="Other", password=PASSWORD)


def test_only_admins_create_users_in_the_dashboard(session):
    scheduler = _user(session)
    with pytest.raises(AccountError, match="only an admin may create users"):
        create_user(session, email="bo@example.com", name="Bo", password=PASSWORD, by=scheduler)
    admin = _user(session, "root@example.com", role="admin")
    made = create_user(session, email="bo@example.com", name="Bo", password=PASSWORD, by=admin)
    session.commit()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.target_id == made.id)).one()
    assert (entry.user_id, entry.action, entry.target_type) == (admin.id, "user.created", "user")


def test_user_changes_own_profile_but_not_role(session):
    ana = _user(session)
    update_user(session, ana.id, by=ana, zone="Asia/Kolkata", send_confirmation=False)
    assert (ana.zone, ana.send_confirmation) == ("Asia/Kolkata", False)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "settings.changed")).one()
    assert entry.details == {"changes": {"zone": "Asia/Kolkata", "send_confirmation": False}}
    with pytest.raises(AccountError, match="only an admin"):
        update_user(session, ana.id, by=ana, role="admin")
    bo = _user(session, "bo@example.com", name="Bo")
    with pytest.raises(AccountError, match="only an admin"):
        update_user(session, bo.id, by=ana, name="Robert")
    with pytest.raises(AccountError, match="cannot change password_hash"):
        update_user(session, ana.id, by=ana, password_hash="x")


def test_last_active_admin_cannot_be_demoted_or_disabled(session):
    root = _user(session, "root@example.com", role="admin")
    with pytest.raises(AccountError, match="last active admin"):
        update_user(session, root.id, by=root, role="scheduler")
    with pytest.raises(AccountError, match="last active admin"):
        update_user(session, root.id, by=root, active=False)
    second = _user(session, "second@example.com", role="admin")
    update_user(session, root.id, by=second, active=False)
    assert root.active is False
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == root.id)).all()[-1] == "user.updated"


# --- sign-in --------------------------------------------------------------------------------


def test_sign_in_succeeds_with_any_case_email_and_stamps_login(session):
    _user(session)
    result = authenticate(session, "  ANA@example.com", PASSWORD, client="c1", now=NOW)
    assert result.ok and result.user.email == "ana@example.com"
    assert result.user.last_login_at == NOW
    assert session.scalars(select(AuditEntry.action)).all()[-1] == "user.signed_in"


def test_external_sign_in_stamps_and_audits_only_an_active_user(session):
    user = _user(session)
    assert accounts.user_by_id(session, user.id) is user and accounts.user_by_id(session, user.id + 99) is None
    signed = accounts.record_external_sign_in(session, "ANA@example.com", client="c1", via="openid connect")
    assert signed is user and user.last_login_at is not None
    entry = session.scalars(select(AuditEntry)).all()[-1]
    assert (entry.action, entry.user_id, entry.details["via"]) == ("user.signed_in", user.id, "openid connect")
    user.active = False
    session.flush()
    before = session.scalars(select(AuditEntry)).all()
    assert accounts.record_external_sign_in(session, "ana@example.com", client="c1", via="openid connect") is None
    assert accounts.record_external_sign_in(session, "", client="c1", via="openid connect") is None
    assert session.scalars(select(AuditEntry)).all() == before


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "disabled account", "empty"])
def test_failure_message_does_not_reveal_whether_the_email_exists(session, case):
    user = _user(session)
    email, password = "ana@example.com", PASSWORD
    if case == "wrong password":
        password = "not the password"
    elif case == "unknown email":
        email = "nobody@example.com"
    elif case == "disabled account":
        user.active = False
        session.commit()
    else:
        email, password = "", ""
    result = authenticate(session, email, password, client="c1", now=NOW)
    assert not result.ok
    assert result.message == SIGN_IN_FAILED_MESSAGE
    assert result.retry_after is None


def _fail(engine, email: str, client: str, now: dt.datetime, times: int = 1) -> None:
    # A fresh session per attempt: the limit must live in the database, not in memory.
    for _ in range(times):
        with Session(engine) as s, s.begin():
            assert not authenticate(s, email, "wrong password!", client=client, now=now).ok


def test_rate_limit_per_account_refuses_even_the_right_password(engine):
    with Session(engine) as s, s.begin():
        create_user(s, email="ana@example.com", name="Ana", password=PASSWORD)
    _fail(engine, "ana@example.com", "c1", NOW, ACCOUNT_LIMIT.attempts - 1)
    with Session(engine) as s, s.begin():
        assert authenticate(s, "ana@example.com", PASSWORD, client="c9", now=NOW).ok  # below the limit
    # Success cleared the account's failures; fill the window again from several clients.
    for i in range(ACCOUNT_LIMIT.attempts):
        _fail(engine, "ana@example.com", f"client-{i}", NOW + dt.timedelta(minutes=i))
    later = NOW + dt.timedelta(minutes=5)
    with Session(engine) as s, s.begin():
        result = authenticate(s, "ana@example.com", PASSWORD, client="fresh", now=later)
    assert not result.ok and result.message.startswith("Too many failed sign-in attempts")
    # The first failure (at NOW) leaves the window 15 minutes after it.
    assert result.retry_after == ACCOUNT_LIMIT.window - dt.timedelta(minutes=5)
    with Session(engine) as s, s.begin():
        assert authenticate(s, "ana@example.com", PASSWORD, client="fresh", now=NOW + ACCOUNT_LIMIT.window).ok


def test_rate_limit_reveals_nothing_about_unknown_emails(engine):
    _fail(engine, "ghost@example.com", "c1", NOW, ACCOUNT_LIMIT.attempts)
    with Session(engine) as s, s.begin():
        result = authenticate(s, "ghost@example.com", "whatever pass", client="c2", now=NOW)
    assert result.retry_after is not None  # the same lock an existing account would get


def test_rate_limit_per_client_across_emails(engine):
    with Session(engine) as s, s.begin():
        create_user(s, email="ana@example.com", name="Ana", password=PASSWORD)
    for i in range(CLIENT_LIMIT.attempts):
        _fail(engine, f"guess{i}@example.com", "10.0.0.7", NOW)
    with Session(engine) as s, s.begin():
        blocked = authenticate(s, "ana@example.com", PASSWORD, client="10.0.0.7", now=NOW)
        allowed = authenticate(s, "ana@example.com", PASSWORD, client="10.0.0.8", now=NOW)
    assert not blocked.ok and blocked.retry_after is not None
    assert allowed.ok


def test_old_failures_are_pruned(session):
    _user(session)
    authenticate(session, "ana@example.com", "wrong password!", client="c1", now=NOW)
    authenticate(session, "x@example.com", "wrong password!", client="c2", now=NOW + dt.timedelta(hours=1))
    session.commit()
    assert session.scalars(select(SignInFailure.client)).all() == ["c2"]


def test_reset_password_replaces_the_old_one_and_unlocks(session):
    _user(session)
    for _ in range(ACCOUNT_LIMIT.attempts):
        authenticate(session, "ana@example.com", "wrong password!", client="c1", now=NOW)
    reset_password(session, "ANA@example.com", "a brand new password")
    assert not authenticate(session, "ana@example.com", PASSWORD, client="c2", now=NOW).ok
    assert authenticate(session, "ana@example.com", "a brand new password", client="c2", now=NOW).ok
    with pytest.raises(AccountError, match="no user has email 'bo@example.com'"):
        reset_password(session, "bo@example.com", "a brand new password")


def test_a_user_changes_their_own_password_with_the_current_one(session):
    user = _user(session)
    result = accounts.change_password(session, user.id, PASSWORD, "my new long password", client="c1", now=NOW)
    session.commit()
    assert result.ok
    assert not authenticate(session, "ana@example.com", PASSWORD, client="c2", now=NOW).ok
    assert authenticate(session, "ana@example.com", "my new long password", client="c2", now=NOW).ok
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.password_changed")).one()
    assert entry.user_id == user.id and "my new long password" not in _all_text(session)


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        (PASSWORD, "short", "the password is too short"),
        (PASSWORD, PASSWORD, "the new password is the same as the current one"),
    ],
)
def test_an_unacceptable_new_password_changes_and_counts_nothing(session, current, new, message):
    user = _user(session)
    with pytest.raises(AccountError, match=message):
        accounts.change_password(session, user.id, current, new, client="c1", now=NOW)
    assert session.scalars(select(SignInFailure)).all() == []


def test_a_wrong_current_password_counts_as_a_failed_attempt_and_is_limited(session):
    user = _user(session)
    for _ in range(ACCOUNT_LIMIT.attempts):
        result = accounts.change_password(session, user.id, "not my password", "my new long password",
                                          client="c1", now=NOW)
        assert result.message == "The current password is not right; nothing was changed."
    session.commit()
    # Now even the right current password is refused until the window has passed.
    result = accounts.change_password(session, user.id, PASSWORD, "my new long password", client="c1", now=NOW)
    assert not result.ok and result.message.startswith("Too many wrong passwords. Try again in")
    assert authenticate(session, "ana@example.com", PASSWORD, client="c9",
                        now=NOW + ACCOUNT_LIMIT.window + dt.timedelta(seconds=1)).ok


def test_outdated_hash_is_upgraded_at_sign_in(session, monkeypatch):
    user = _user(session)
    old = user.password_hash
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert authenticate(session, "ana@example.com", PASSWORD, client="c1", now=NOW).ok
    assert user.password_hash != old and "m=16,t=2" in user.password_hash


def test_first_admin_gets_a_fresh_password_that_works(session, caplog):
    caplog.set_level(logging.DEBUG)
    user, password = create_first_admin(session)
    session.commit()
    assert (user.role, user.email) == ("admin", accounts.FIRST_ADMIN_EMAIL)
    assert len(password) >= 20 and password not in _all_text(session) and password not in caplog.text
    assert authenticate(session, user.email, password, client="c1", now=NOW).ok
    # Only on an empty user table: a second call creates nothing.
    assert create_first_admin(session) is None


def test_first_admin_password_differs_between_installations(tmp_path):
    from booking_service.store.db import make_engine
    from tests.conftest import create_schema

    passwords = []
    for name in ("one.db", "two.db"):
        eng = make_engine(f"sqlite:///{tmp_path / name}")
        create_schema(eng)
        with Session(eng) as s, s.begin():
            passwords.append(create_first_admin(s)[1])
        eng.dispose()
    assert passwords[0] != passwords[1]


# --- command line ---------------------------------------------------------------------------


def _cli(database_url: str, args: list[str], input: str | None = None):
    from booking_service.cli import main

    return CliRunner().invoke(main, args, input=input, env={"DATABASE_URL": database_url, "SECRET_KEY": "k"})


def test_cli_create_user_reads_password_from_stdin(database_url, engine, caplog):
    result = _cli(database_url, ["create-user", "--email", "Ana@example.com", "--name", "Ana", "--role",
                                 "admin", "--zone", "Europe/Berlin", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created admin ana@example.com" in result.output and PASSWORD not in result.output
    with Session(engine) as s:
        assert authenticate(s, "ana@example.com", PASSWORD, client="c", now=NOW).ok
        assert PASSWORD not in _all_text(s)
    assert PASSWORD not in caplog.text


def test_cli_create_user_prompts_twice_for_the_password(database_url, engine):
    result = _cli(database_url, ["create-user", "--email", "bo@example.com", "--name", "Bo"],
                  input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with Session(engine) as s:
        assert s.scalar(select(User.role)) == "scheduler"


def test_cli_has_no_password_argument(database_url):
    result = _cli(database_url, ["create-user", "--email", "bo@example.com", "--name", "Bo", "--password",
                                 PASSWORD])
    assert result.exit_code != 0 and "No such option" in result.output


def test_cli_errors_are_one_clear_line(database_url):
    result = _cli(database_url, ["create-user", "--email", "bo@example.com", "--name", "Bo", "--password-stdin"],
                  input="short\n")
    assert result.exit_code == 1 and "Error: the password is too short" in result.output
    result = _cli(database_url, ["reset-password", "--email", "nobody@example.com", "--password-stdin"],
                  input=PASSWORD + "\n")
    assert result.exit_code == 1 and "no user has email 'nobody@example.com'" in result.output


def test_cli_reset_password(database_url, engine):
    with Session(engine) as s, s.begin():
        create_user(s, email="ana@example.com", name="Ana", password=PASSWORD)
    result = _cli(database_url, ["reset-password", "--email", "ana@example.com", "--password-stdin"],
                  input="the new password\n")
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        assert authenticate(s, "ana@example.com", "the new password", client="c", now=NOW).ok
        assert not authenticate(s, "ana@example.com", PASSWORD, client="c", now=NOW).ok


def test_first_run_seed_prints_a_working_admin_password_once(sqlite_url, sqlite_engine, caplog):
    caplog.set_level(logging.DEBUG)
    first = _cli(sqlite_url, ["seed-demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    match = re.search(r"email:\s+(\S+)\n\s+password:\s+(\S+)", first.output)
    assert match, first.output
    email, password = match.groups()
    assert email == accounts.FIRST_ADMIN_EMAIL
    with Session(sqlite_engine) as s:
        assert s.scalars(select(User.role)).all() == ["admin"]
        assert password not in _all_text(s)
        assert authenticate(s, email, password, client="c", now=NOW).ok
    assert password not in caplog.text
    # The next `make run` finds data and prints no password.
    again = _cli(sqlite_url, ["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "password" not in again.output


def test_unknown_email_costs_a_password_verification_too(session, monkeypatch):
    calls = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
            calls.append(hash)
            return super().verify(hash, password)

    _user(session)
    monkeypatch.setattr(accounts, "_HASHER", Counting(time_cost=1, memory_cost=8, parallelism=1))
    authenticate(session, "nobody@example.com", PASSWORD, client="c1", now=NOW)
    authenticate(session, "ana@example.com", "wrong password!", client="c1", now=NOW)
    assert len(calls) == 2 and all(h.startswith("$argon2id$v=19$m=8,t=1") for h in calls)


# --- concurrent attempts ----------------------------------------------------------------------


class _SlowCountingHasher(PasswordHasher):
    """Cheap Argon2 whose every verification is counted and takes 50 ms.

    The pause holds each check open long enough for the other threads' attempts to arrive in
    the middle of it, which is when counting without a lock lets them all through.
    """

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        with self._lock:
            self.checks += 1
        time.sleep(0.05)
        return super().verify(hash, password)


def _attempt_at_once(database_url: str, attempts: list[tuple[str, str]]) -> list[accounts.SignInResult]:
    """Run every (email, client) attempt with a wrong password at the same moment, one thread and
    one database connection each; return the results."""
    engine = make_engine(database_url, pool_size=len(attempts))
    start = threading.Barrier(len(attempts))

    def attempt(email: str, client: str) -> accounts.SignInResult:
        with Session(engine) as s:
            start.wait()
            with s.begin():
                return authenticate(s, email, "wrong password!", client=client, now=NOW)

    try:
        with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
            return list(pool.map(lambda a: attempt(*a), attempts))
    finally:
        engine.dispose()


def _refused(results: list[accounts.SignInResult]) -> list[accounts.SignInResult]:
    return [r for r in results if r.message.startswith("Too many failed sign-in attempts. Try again in")]


def test_concurrent_wrong_passwords_check_at_most_the_account_limit(database_url, monkeypatch):
    engine = make_engine(database_url)
    with Session(engine) as s, s.begin():
        create_user(s, email="ana@example.com", name="Ana", password=PASSWORD)
    engine.dispose()
    hasher = _SlowCountingHasher()
    monkeypatch.setattr(accounts, "_HASHER", hasher)

    # Ten browser tabs, each its own client, submit a wrong password for one account at once.
    results = _attempt_at_once(database_url, [("ana@example.com", f"tab-{i}") for i in range(10)])

    assert hasher.checks == ACCOUNT_LIMIT.attempts == 5
    assert len(_refused(results)) == 10 - ACCOUNT_LIMIT.attempts
    assert [r.message for r in results].count(SIGN_IN_FAILED_MESSAGE) == ACCOUNT_LIMIT.attempts
    assert not any(r.ok for r in results)


def test_concurrent_wrong_passwords_check_at_most_the_client_limit(database_url, monkeypatch):
    hasher = _SlowCountingHasher()
    monkeypatch.setattr(accounts, "_HASHER", hasher)

    # One client guesses 25 different addresses at once: the per-client window holds 20.
    attempts = [(f"guess{i}@example.com", "ip:10.0.0.7") for i in range(CLIENT_LIMIT.attempts + 5)]
    results = _attempt_at_once(database_url, attempts)

    assert hasher.checks == CLIENT_LIMIT.attempts
    assert len(_refused(results)) == 5
