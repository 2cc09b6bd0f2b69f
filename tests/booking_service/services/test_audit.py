"""The audit log: entries are written with who and when, secrets refused, read by admins only."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services import audit
from booking_service.services.permissions import PermissionDenied
from booking_service.store.models import AuditEntry, User


def _user(session: Session, email: str, role: str = "scheduler") -> User:
    user = User(email=email, name=email.split("@")[0].title(), zone="Europe/London", role=role)
    session.add(user)
    session.flush()
    return user


def test_record_writes_who_what_and_when(session):
    ana = _user(session, "ana@example.com")
    before = dt.datetime.now(dt.UTC)
    audit.record(session, ana, "meeting.cancelled", ("meeting", 7), reason="customer asked",
                 start=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC))
    session.commit()
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.user_id, entry.action, entry.target_type, entry.target_id) == (ana.id, "meeting.cancelled", "meeting", 7)
    assert entry.details == {"reason": "customer asked", "start": "2026-12-01T10:00:00+00:00"}
    assert before <= entry.at <= dt.datetime.now(dt.UTC) and entry.at.tzinfo is not None


def test_record_takes_a_model_as_target(session):
    ana = _user(session, "ana@example.com")
    entry = audit.record(session, None, "user.created", ana)
    assert (entry.user_id, entry.target_type, entry.target_id) == (None, "user", ana.id)


@pytest.mark.parametrize("key", ["password", "new_password", "token", "secret_key", "token_hash"])
def test_secret_looking_details_are_refused(session, key):
    with pytest.raises(ValueError, match=f"audit detail '{key}' looks like a secret"):
        audit.record(session, None, "user.updated", ("user", 1), **{key: "x"})


def test_nested_secret_is_refused(session):
    with pytest.raises(ValueError, match="audit detail 'changes.password' looks like a secret"):
        audit.record(session, None, "user.updated", ("user", 1), changes={"password": "x"})


def test_unknown_action_is_refused(session):
    with pytest.raises(ValueError, match="unknown audit action 'meeting.deleted'"):
        audit.record(session, None, "meeting.deleted", ("meeting", 1))


def test_only_admins_read_the_log_newest_first(session):
    admin = _user(session, "root@example.com", "admin")
    ana = _user(session, "ana@example.com")
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for i, action in enumerate(["invitation.created", "invitation.resent", "meeting.cancelled"]):
        entry = audit.record(session, ana, action, ("invitation", i))
        entry.at = t0 + dt.timedelta(hours=i)
    audit.record(session, admin, "settings.changed", admin).at = t0 + dt.timedelta(hours=5)
    session.commit()
    with pytest.raises(PermissionDenied, match="only an admin may read the audit log"):
        audit.entries(session, viewer=ana)
    got = audit.entries(session, viewer=admin)
    assert [e.action for e in got] == ["settings.changed", "meeting.cancelled", "invitation.resent", "invitation.created"]
    assert [e.action for e in audit.entries(session, viewer=admin, user_id=ana.id, limit=2)] == [
        "meeting.cancelled", "invitation.resent"]
    assert [e.target_id for e in audit.entries(session, viewer=admin, action="invitation.created")] == [0]
    assert len(audit.entries(session, viewer=admin, since=t0 + dt.timedelta(hours=2))) == 2
    rows = audit.entry_rows(got)
    assert rows[1] == {
        "at": t0 + dt.timedelta(hours=2), "who": "Ana <ana@example.com>", "action": "meeting.cancelled",
        "what": "cancelled a meeting", "target": "invitation 2", "details": "",
    }


def test_rows_name_their_targets_and_say_the_details_in_words(session):
    from booking_service.services import accounts, team

    admin = _user(session, "root@example.com", "admin")
    ada = team.create_member(session, "Ada", "Europe/London", hours={0: "9-5"}, by=admin)
    bob = team.create_member(session, "Bob", "Europe/London", by=admin)
    team.update_member(session, ada.id, zone="Asia/Kolkata", active=False, by=admin)
    team.create_pool(session, "Sales", [ada.id, bob.id], by=admin)
    gone = team.create_pool(session, "Old pool", [bob.id], by=admin)
    team.delete_pool(session, gone.id, by=admin)
    accounts.update_user(session, admin.id, by=admin, zone="Asia/Kolkata")
    session.commit()
    rows = audit.entry_rows(audit.entries(session, viewer=admin), session=session)
    seen = {(r["action"], r["target"]): r["details"] for r in rows}
    assert seen[("member.updated", "team member Ada")] in {
        "hours: Monday 09:00-17:00", "zone: Asia/Kolkata; can be booked / may sign in: no"}
    assert seen[("member.created", "team member Bob")] == "name: Bob; zone: Europe/London"
    assert seen[("pool.created", "pool Sales")] == "name: Sales; members: Ada, Bob"
    assert seen[("pool.deleted", "pool Old pool (deleted)")] == "name: Old pool"
    assert seen[("settings.changed", "user Root <root@example.com>")] == "zone: Asia/Kolkata"
    # Nothing reads as raw ids or JSON.
    for row in rows:
        assert "{" not in row["details"] and "[" not in row["details"]
        assert not any(row["target"] == f"{kind} {n}" for kind in ("member", "pool", "user") for n in range(50))
