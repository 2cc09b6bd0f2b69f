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


# --- every action the log promises is recorded, with its actor and its object -----------------

from .test_permissions import PUBLIC, SERVICE_NOW, World, world  # noqa: E402,F401  (the fixture)

RETURNED = object()
"""A row's target: the id its call returns."""


def _audit_rows():
    """``action: (actor, call(session, world, user), (target type, target))``.

    The target id is the world's attribute of that name, the id the call returns for ``RETURNED``,
    or not checked for ``None`` (a row the call creates whose id it does not return).
    """
    from booking_service.calendars import connections
    from booking_service.core.config import Settings
    from booking_service.services import (
        api_keys,
        booking,
        embedding,
        invitations,
        limits,
        out_of_office,
        pool_policy,
        team,
        webhooks,
    )
    from booking_service.store.models import CalendarConnection

    from ..factories import SECRET_KEY, berlin, next_monday

    monday = next_monday(SERVICE_NOW)
    settings = Settings(public_url="https://book.example", secret_key=SECRET_KEY)

    def rebook(s, w, u):
        booking.cancel_meeting(s, w.meeting, by=None, secret_key=SECRET_KEY, now=SERVICE_NOW)
        booking.rebook_meeting(s, w.meeting, berlin(monday, 11), secret_key=SECRET_KEY, settings=settings,
                               now=SERVICE_NOW)

    return {
        "meeting.moved": (None, lambda s, w, u: booking.reschedule_meeting(
            s, w.meeting, berlin(monday, 11), secret_key=SECRET_KEY, settings=settings, now=SERVICE_NOW),
            ("meeting", "meeting")),
        "meeting.rebooked": (None, rebook, ("meeting", "meeting")),
        "meeting.cancelled": ("sam", lambda s, w, u: booking.cancel_meeting(
            s, w.meeting, by=u, secret_key=SECRET_KEY, now=SERVICE_NOW), ("meeting", "meeting")),
        "invitation.created": ("sam", lambda s, w, u: invitations.create_invitation(
            s, w.draft, by=u, public_url=PUBLIC, secret_key=SECRET_KEY, now=SERVICE_NOW).invitation.id,
            ("invitation", RETURNED)),
        "invitation.resent": ("sam", lambda s, w, u: invitations.resend_invitation(s, invitations.create_invitation(
            s, w.draft, by=u, public_url=PUBLIC, secret_key=SECRET_KEY, now=SERVICE_NOW).invitation.id,
            by=u, public_url=PUBLIC, secret_key=SECRET_KEY, now=SERVICE_NOW).invitation.id, ("invitation", RETURNED)),
        "invitation.cancelled": ("sam", lambda s, w, u: invitations.cancel_invitation(
            s, w.invitation, by=u, secret_key=SECRET_KEY, now=SERVICE_NOW), ("invitation", "invitation")),
        "api_key.created": ("sam", lambda s, w, u: api_keys.create_key(s, u, "Helpdesk"), ("api_key", None)),
        "api_key.revoked": ("sam", lambda s, w, u: api_keys.revoke_key(s, u, w.key), ("api_key", "key")),
        "webhook.created": ("sam", lambda s, w, u: webhooks.create_subscription(
            s, u, "https://93.184.216.34/other", ["meeting.cancelled"], secret_key=SECRET_KEY), ("webhook", None)),
        "webhook.deleted": ("sam", lambda s, w, u: webhooks.delete_subscription(s, u, w.webhook), ("webhook", "webhook")),
        "room.created": ("root", lambda s, w, u: team.create_room(s, "Attic", "Europe/Berlin", 3, by=u), ("room", None)),
        "room.updated": ("root", lambda s, w, u: team.update_room(s, w.room, capacity=9, by=u), ("room", "room")),
        "pool.policy_changed": ("root", lambda s, w, u: pool_policy.configure_pool(s, w.pool, panel_size=2, by=u),
                                ("pool", "pool")),
        "team.default_policy": ("root", lambda s, w, u: pool_policy.set_organisation_policy(
            s, "round_robin", by=u), ("pool", None)),
        "team.embed_origins": ("root", lambda s, w, u: embedding.set_organisation_origins(
            s, "https://www.example.com", by=u), ("organisation", None)),
        "member.limits_changed": ("root", lambda s, w, u: limits.set_limits(
            s, w.ana, limits.ResourceLimits(max_meetings_day=3), by=u), ("member", "ana")),
        "member.out_of_office": ("root", lambda s, w, u: out_of_office.mark_away(
            s, w.ana, monday + dt.timedelta(days=21), monday + dt.timedelta(days=22), by=u), ("member", "ana")),
        "member.back_in_office": ("root", lambda s, w, u: out_of_office.remove_absence(s, w.absence, by=u),
                                  ("member", "ana")),
        "calendar.updated": ("root", lambda s, w, u: connections.set_caldav_password(
            s, s.get(CalendarConnection, w.connection), "new", secret_key=SECRET_KEY, by=u),
            ("calendar", "connection")),
    }


ASSERTED_ELSEWHERE = {
    "meeting.confirmation_resent": "test_booking.py", "settings.changed": "test_accounts.py",
    "user.created": "test_accounts.py", "user.updated": "test_accounts.py",
    "user.password_reset": "../../dashboard/test_auth.py", "user.password_changed": "test_accounts.py",
    "user.signed_in": "test_accounts.py", "user.signed_out": "../../dashboard/test_auth.py",
    "member.created": "test_team.py", "member.updated": "test_team.py", "pool.created": "test_team.py",
    "pool.updated": "test_team.py", "pool.deleted": "test_team.py", "meeting.assigned": "test_assignment.py",
    "calendar.created": "../calendars/test_connections.py", "calendar.deleted": "../calendars/test_connections.py",
}


def test_every_action_of_the_log_is_asserted_somewhere():
    from pathlib import Path

    here = Path(__file__).parent
    assert set(audit.ACTIONS) == set(_audit_rows()) | set(ASSERTED_ELSEWHERE)
    for action, module in ASSERTED_ELSEWHERE.items():
        assert f'"{action}"' in (here / module).read_text(encoding="utf-8"), f"{module} no longer asserts {action}"


@pytest.mark.parametrize("action", sorted(_audit_rows()))
def test_the_action_is_recorded_with_its_actor_and_object(engine, world, action):  # noqa: F811
    from booking_service.store.db import session_scope

    actor, call, (target_type, target) = _audit_rows()[action]
    with session_scope(engine, write=True) as s:
        user = s.get(User, getattr(world, actor)) if actor else None
        returned = call(s, world, user)
    with session_scope(engine) as s:
        # The newest: the world itself made a key, a webhook and an absence.
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())).first()
        assert entry.user_id == (getattr(world, actor) if actor else None)
        assert entry.target_type == target_type
        if target is RETURNED:
            assert entry.target_id == returned
        elif target is not None:
            assert entry.target_id == getattr(world, target)
        if action.startswith(("meeting.", "invitation.")):
            assert entry.at == SERVICE_NOW  # a transition stamps its entry with its own instant
        else:
            assert entry.at is not None and entry.at.tzinfo is not None
