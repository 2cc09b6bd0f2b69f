"""Dashboard sessions: hashed tokens, idle expiry, and revocation by sign-out, password and access changes."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from booking_service.services import accounts, dashboard_sessions
from booking_service.store.models import DashboardSession

PASSWORD = "correct horse battery"
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
IDLE = dt.timedelta(minutes=30)


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def _users(session):
    admin = accounts.create_user(session, email="root@example.com", name="Rita", password=PASSWORD, role="admin")
    ana = accounts.create_user(session, email="ana@example.com", name="Ana", password=PASSWORD)
    session.commit()
    return admin, ana


def test_only_the_hash_of_the_token_is_stored(session):
    _, ana = _users(session)
    row, token = dashboard_sessions.start(session, ana, now=NOW)
    session.commit()
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    dump = "\n".join(str(v) for r in session.execute(text("SELECT * FROM dashboard_sessions")) for v in r)
    assert token not in dump
    found, reason = dashboard_sessions.resume(session, idle=IDLE, token=token, now=NOW)
    assert (found.id, reason) == (row.id, None)
    assert dashboard_sessions.resume(session, idle=IDLE, token=token + "x", now=NOW) == (None, "unknown")


def test_a_session_ends_after_the_idle_time_unless_touched(session):
    _, ana = _users(session)
    row, token = dashboard_sessions.start(session, ana, now=NOW)
    session.commit()
    later = NOW + IDLE - dt.timedelta(seconds=1)
    assert dashboard_sessions.resume(session, idle=IDLE, token=token, now=later)[1] is None
    dashboard_sessions.touch(session, row.id, now=later)
    session.commit()
    session.refresh(row)
    assert dashboard_sessions.resume(session, idle=IDLE, token=token, now=later + IDLE - dt.timedelta(seconds=1))[1] is None
    assert dashboard_sessions.resume(session, idle=IDLE, token=token, now=later + IDLE)[1] == "idle"


def test_sign_out_ends_only_that_session(session):
    _, ana = _users(session)
    first, first_token = dashboard_sessions.start(session, ana, now=NOW)
    _, second_token = dashboard_sessions.start(session, ana, now=NOW)
    dashboard_sessions.revoke(session, first, now=NOW)
    session.commit()
    assert dashboard_sessions.resume(session, idle=IDLE, token=first_token, now=NOW)[1] == "revoked"
    assert dashboard_sessions.resume(session, idle=IDLE, token=second_token, now=NOW)[1] is None
    dashboard_sessions.touch(session, first.id, now=NOW + IDLE)  # a revoked session is not revived
    session.commit()
    assert dashboard_sessions.resume(session, idle=IDLE, token=first_token, now=NOW)[1] == "revoked"


def test_a_password_change_ends_every_other_session_of_the_account(session):
    admin, ana = _users(session)
    here, here_token = dashboard_sessions.start(session, ana)
    _, elsewhere_token = dashboard_sessions.start(session, ana)
    _, admin_token = dashboard_sessions.start(session, admin)
    session.commit()
    # A wrong current password ends nothing.
    assert not accounts.change_password(session, ana.id, "wrong one", "my new long password", client="c",
                                        keep_session=here.id).ok
    session.commit()
    assert dashboard_sessions.resume(session, idle=IDLE, token=elsewhere_token)[1] is None
    assert accounts.change_password(session, ana.id, PASSWORD, "my new long password", client="c",
                                    keep_session=here.id).ok
    session.commit()
    assert dashboard_sessions.resume(session, idle=IDLE, token=here_token)[1] is None
    assert dashboard_sessions.resume(session, idle=IDLE, token=elsewhere_token)[1] == "revoked"
    assert dashboard_sessions.resume(session, idle=IDLE, token=admin_token)[1] is None  # other accounts: untouched
    reasons = session.scalars(select(DashboardSession.revoked_reason).where(DashboardSession.user_id == ana.id)).all()
    assert sorted(reasons, key=str) == [None, "password changed"]


def test_a_password_reset_and_disabling_end_every_session(session):
    admin, ana = _users(session)
    _, token = dashboard_sessions.start(session, ana)
    session.commit()
    accounts.reset_password(session, "ana@example.com", "a brand new password", by=admin)
    session.commit()
    assert dashboard_sessions.resume(session, idle=IDLE, token=token)[1] == "revoked"
    _, token = dashboard_sessions.start(session, ana)
    session.commit()
    accounts.update_user(session, ana.id, by=admin, active=False)
    session.commit()
    row, reason = dashboard_sessions.resume(session, idle=IDLE, token=token)
    assert (reason, row.revoked_reason) == ("revoked", "disabled")


def test_sessions_ended_long_ago_are_deleted_when_a_new_one_starts(session):
    _, ana = _users(session)
    gone, _ = dashboard_sessions.start(session, ana, now=NOW - IDLE - dashboard_sessions.KEEP_ENDED * 2)
    signed_out, _ = dashboard_sessions.start(session, ana, now=NOW)
    dashboard_sessions.revoke(session, signed_out, now=NOW - dashboard_sessions.KEEP_ENDED / 2)
    kept_ids = {gone.id, signed_out.id}
    session.commit()
    new, _ = dashboard_sessions.start(session, ana, idle=IDLE, now=NOW)
    session.commit()
    assert set(session.scalars(select(DashboardSession.id))) == kept_ids - {gone.id} | {new.id}
