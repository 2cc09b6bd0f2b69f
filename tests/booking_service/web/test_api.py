"""The JSON API on both databases: invitations, slots, meetings, team, webhooks, keys, scopes, errors."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services import api_keys, availability, invitations, pool_policy, webhooks
from booking_service.services.booking import confirm_slot
from booking_service.services.integrity import check_invariants
from booking_service.store.db import session_scope
from booking_service.store.models import (
    AuditEntry,
    Invitation,
    Meeting,
    OutboxMessage,
    ResourcePool,
    TeamMember,
    User,
    WebhookDelivery,
)

from ..factories import SECRET_KEY, add_busy, berlin, make_org, next_monday

UTC = dt.UTC
PROBLEM = "application/problem+json"


def _engine(app):
    return app.extensions["slotwise"]["engine"]


@pytest.fixture
def org(app):
    with Session(_engine(app), expire_on_commit=False) as session:
        return make_org(session)


def make_key(app, user_id: int, scopes=("read", "write", "webhooks")) -> str:
    with session_scope(_engine(app)) as session:
        return api_keys.create_key(session, session.get(User, user_id), "test", scopes).secret


def add_user(app, email: str, role: str = "scheduler") -> int:
    with session_scope(_engine(app)) as session:
        user = User(email=email, name=email.split("@")[0], zone="Europe/Berlin", role=role)
        session.add(user)
        session.flush()
        return user.id


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def body(org, **changes) -> dict:
    monday = next_monday(dt.datetime.now(UTC))
    data = {
        "customer_name": "Ada Customer",
        "customer_email": "ada@customer.example",
        "subject": "Intro call",
        "duration_minutes": 30,
        "frame_start": monday.isoformat(),
        "frame_end": (monday + dt.timedelta(days=4)).isoformat(),
        "members": [org.ana],
        "zone": "Europe/Berlin",
    }
    data.update(changes)
    return data


@pytest.fixture
def key(app, org):
    return make_key(app, org.scheduler)


def create(client, key, org, **changes):
    response = client.post("/api/v1/invitations", json=body(org, **changes), headers=auth(key))
    assert response.status_code == 201, response.json
    return response.json


# --- invitations -----------------------------------------------------------------------------


def test_create_invitation_stores_it_queues_the_mail_and_answers_the_link(app, client, org, key):
    created = create(client, key, org, promote=True, promote_count=3)
    invitation = created["invitation"]
    assert invitation["status"] == "active" and invitation["members"] == [org.ana]
    assert invitation["created_by"] == org.scheduler
    assert created["link"].startswith("http://localhost/i/") and created["slot_count"] > 0
    assert len(created["slot_links"]) == 3 and len(invitation["promoted_slots"]) == 3
    start = dt.datetime.fromisoformat(invitation["promoted_slots"][0]["start"])
    assert start.utcoffset() == dt.timedelta(0)
    with session_scope(_engine(app)) as session:
        stored = session.get(Invitation, invitation["id"])
        assert stored.created_by_id == org.scheduler
        assert session.scalar(select(OutboxMessage.kind).where(OutboxMessage.invitation_id == stored.id)) == "invitation"
        # The link's token is not stored, only its hash.
        assert created["link"].rsplit("/", 1)[1] not in (stored.token_hash,)


def test_create_with_links_delivery_queues_no_mail(app, client, org, key):
    created = create(client, key, org, deliver="links")
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert created["invitation"]["delivery"] == "links"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"customer_email": "ada"}, "customer_email", "not an email address"),
        ({"slot_interval_minutes": 7}, "slot_interval_minutes", "does not divide 24 hours"),
        ({"members": [], "pools": []}, "members", "the team is empty"),
        ({"members": [999999]}, "members", "unknown member id 999999"),
        ({"zone": "Mars/Olympus"}, "zone", "not an IANA time zone"),
        ({"frame_end": "2001-01-01", "frame_start": "2001-01-01"}, "frame_end", "in the past"),
    ],
)
def test_create_refuses_what_the_dashboard_refuses_naming_the_field(client, org, key, changes, field, words):
    response = client.post("/api/v1/invitations", json=body(org, **changes), headers=auth(key))
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    problem = response.json
    assert problem["status"] == 422 and words in problem["detail"]
    assert problem["errors"][0]["field"] == field


def test_create_takes_the_customers_language_and_refuses_one_not_offered(app, client, org, key):
    created = create(client, key, org, language="fr")
    assert created["invitation"]["language"] == "fr"
    with session_scope(_engine(app)) as session:
        mail = session.scalars(select(OutboxMessage)).one()
        assert mail.subject == "Merci de choisir un créneau : Intro call"
    response = client.post("/api/v1/invitations", json=body(org, language="tlh"), headers=auth(key))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "language"


def test_create_refuses_a_draft_without_slots(app, client, org, key):
    # Saturday and Sunday only: nobody works.
    monday = next_monday(dt.datetime.now(UTC))
    saturday = monday + dt.timedelta(days=5)
    response = client.post("/api/v1/invitations", headers=auth(key),
                           json=body(org, frame_start=saturday.isoformat(), frame_end=(saturday + dt.timedelta(days=1)).isoformat()))
    assert response.status_code == 422
    assert "no slot is available" in response.json["detail"]
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(Invitation)).all() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"duration_minutes": "thirty"}, "duration_minutes"),
        ({"frame_start": "next monday"}, "frame_start"),
        ({"members": [0]}, "members.0"),
        ({"customer_name": "A\x00B"}, "customer_name"),
        ({"promoted_starts": ["2026-12-01T09:00:00"]}, "promoted_starts.0"),
    ],
)
def test_malformed_input_is_a_problem_naming_the_field(client, org, key, payload, field):
    response = client.post("/api/v1/invitations", json=body(org, **payload), headers=auth(key))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]]


def test_list_filters_and_pages_with_a_cursor(client, org, key):
    ids = [create(client, key, org, customer_email=f"c{i}@customer.example", deliver="links")["invitation"]["id"]
           for i in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/invitations", query_string=query, headers=auth(key)).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    only = client.get("/api/v1/invitations", query_string={"customer_email": "c3@customer.example"}, headers=auth(key))
    assert [i["id"] for i in only.json["items"]] == [ids[3]]
    client.post(f"/api/v1/invitations/{ids[0]}/cancel", headers=auth(key))
    cancelled = client.get("/api/v1/invitations", query_string={"status": "cancelled"}, headers=auth(key))
    assert [i["id"] for i in cancelled.json["items"]] == [ids[0]]
    bad = client.get("/api/v1/invitations", query_string={"cursor": "nonsense"}, headers=auth(key))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "cursor"


def test_get_resend_and_cancel(app, client, org, key):
    created = create(client, key, org)
    invitation_id = created["invitation"]["id"]
    got = client.get(f"/api/v1/invitations/{invitation_id}", headers=auth(key))
    assert got.status_code == 200 and got.json["id"] == invitation_id
    resent = client.post(f"/api/v1/invitations/{invitation_id}/resend", json={}, headers=auth(key))
    assert resent.status_code == 200 and resent.json["link"] != created["link"]
    cancelled = client.post(f"/api/v1/invitations/{invitation_id}/cancel", headers=auth(key))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    again = client.post(f"/api/v1/invitations/{invitation_id}/cancel", headers=auth(key))
    assert again.status_code == 409 and again.json["detail"] == "This invitation is already cancelled."
    with session_scope(_engine(app)) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["invitation.created", "invitation.resent", "invitation.cancelled"]


# --- permissions, keys, scopes, limits -------------------------------------------------------


def test_one_schedulers_key_cannot_reach_anothers_invitations(app, client, org, key):
    created = create(client, key, org)["invitation"]
    # Another scheduler whose team (Ben) shares nothing with Sam's (Ana).
    other = add_user(app, "olga@example.com")
    other_key = make_key(app, other)
    assert client.get(f"/api/v1/invitations/{created['id']}", headers=auth(other_key)).status_code == 404
    assert client.get("/api/v1/invitations", headers=auth(other_key)).json["items"] == []
    assert client.post(f"/api/v1/invitations/{created['id']}/cancel", headers=auth(other_key)).status_code == 404
    # An admin's key sees it, as the admin does in the dashboard.
    admin_key = make_key(app, add_user(app, "root@example.com", role="admin"))
    assert client.get(f"/api/v1/invitations/{created['id']}", headers=auth(admin_key)).status_code == 200


def test_a_scope_limits_what_a_key_may_do(app, client, org):
    read_only = make_key(app, org.scheduler, scopes=("read",))
    assert client.get("/api/v1/invitations", headers=auth(read_only)).status_code == 200
    refused = client.post("/api/v1/invitations", json=body(org), headers=auth(read_only))
    assert refused.status_code == 403 and "scope" in refused.json["detail"]
    assert client.get("/api/v1/webhooks", headers=auth(read_only)).status_code == 403


def test_revoked_keys_and_disabled_users_open_nothing(app, client, org, key):
    assert client.get("/api/v1/members", headers=auth(key)).status_code == 200
    with session_scope(_engine(app)) as session:
        user = session.get(User, org.scheduler)
        api_keys.revoke_key(session, user, api_keys.list_keys(session, user)[0].id)
    response = client.get("/api/v1/members", headers=auth(key))
    assert response.status_code == 401 and response.mimetype == PROBLEM
    other = make_key(app, org.scheduler)
    with session_scope(_engine(app)) as session:
        session.get(User, org.scheduler).active = False
    assert client.get("/api/v1/members", headers=auth(other)).status_code == 401
    assert client.get("/api/v1/members", headers=auth("sw_not-a-key")).status_code == 401


def test_keys_are_stored_hashed_with_a_visible_prefix(app, org):
    with session_scope(_engine(app)) as session:
        created = api_keys.create_key(session, session.get(User, org.scheduler), "CRM", ["read"])
        assert created.secret.startswith("sw_") and created.key.prefix == created.secret[:10]
        assert created.key.key_hash == api_keys.hash_key(created.secret) != created.secret
        with pytest.raises(api_keys.ApiKeyError, match="unknown scope 'admin'"):
            api_keys.create_key(session, session.get(User, org.scheduler), "x", ["admin"])


def test_rate_limit_is_per_key(database_url, tmp_path, org_factory=None):
    from booking_service.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY,
                      "SLOTWISE_VAR_DIR": str(tmp_path / "var"), "API_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    with Session(_engine(app), expire_on_commit=False) as session:
        org = make_org(session)
    first, second = make_key(app, org.scheduler), make_key(app, org.scheduler)
    codes = [client.get("/api/v1/rooms", headers=auth(first)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/rooms", headers=auth(first))
    assert limited.mimetype == PROBLEM and "Retry-After" in limited.headers
    assert client.get("/api/v1/rooms", headers=auth(second)).status_code == 200


# --- slots, meetings, team -------------------------------------------------------------------


def test_slot_count_and_list_of_a_draft_match(client, org, key):
    draft = {k: v for k, v in body(org).items() if not k.startswith("customer") and k != "subject"}
    count = client.post("/api/v1/slots/count", json=draft, headers=auth(key))
    assert count.status_code == 200
    # Mon-Fri 09:00-17:00, 30 minutes every 15: 31 starts a day.
    assert count.json["count"] == 5 * 31
    listed = client.post("/api/v1/slots", json=draft, query_string={"limit": 3}, headers=auth(key)).json
    assert listed["count"] == 5 * 31 and len(listed["slots"]) == 3
    monday = next_monday(dt.datetime.now(UTC))
    assert dt.datetime.fromisoformat(listed["slots"][0]["start"]) == berlin(monday, 9)
    bad = client.post("/api/v1/slots/count", json={**draft, "slot_interval_minutes": 7}, headers=auth(key))
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "slot_interval_minutes"


def _book(app, invitation_id: int) -> int:
    monday = next_monday(dt.datetime.now(UTC))
    with session_scope(_engine(app), write=True) as session:
        result = confirm_slot(session, invitation_id, berlin(monday, 10), secret_key=SECRET_KEY)
        assert result.outcome == "booked"
        return result.meeting.id


def test_meetings_list_get_and_cancel(app, client, org, key):
    ids = [create(client, key, org, deliver="links")["invitation"]["id"] for _ in range(2)]
    meeting_id = _book(app, ids[0])
    listed = client.get("/api/v1/meetings", headers=auth(key)).json
    assert [m["id"] for m in listed["items"]] == [meeting_id]
    got = client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(key)).json
    assert got["members"] == [org.ana] and got["status"] == "confirmed"
    monday = next_monday(dt.datetime.now(UTC))
    assert dt.datetime.fromisoformat(got["start"]) == berlin(monday, 10)
    assert client.get(f"/api/v1/invitations/{ids[0]}", headers=auth(key)).json["meeting_id"] == meeting_id
    # An invitation that is booked is cancelled through its meeting.
    refused = client.post(f"/api/v1/invitations/{ids[0]}/cancel", headers=auth(key))
    assert refused.status_code == 409 and "cancel the meeting instead" in refused.json["detail"]
    cancelled = client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={"reason": "ill"}, headers=auth(key))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    with session_scope(_engine(app)) as session:
        assert session.get(Meeting, meeting_id).reservations == []
        assert session.get(Invitation, ids[0]).status == "cancelled"
    assert client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={}, headers=auth(key)).status_code == 409
    assert client.get("/api/v1/meetings", query_string={"status": "confirmed"}, headers=auth(key)).json["items"] == []
    other_key = make_key(app, add_user(app, "olga@example.com"))
    assert client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(other_key)).status_code == 404


def test_a_meetings_confirmation_is_resent_to_its_customer_and_never_once_cancelled(app, client, org, key):
    invitation_id = create(client, key, org, deliver="links")["invitation"]["id"]
    meeting_id = _book(app, invitation_id)
    url = f"/api/v1/meetings/{meeting_id}/resend-confirmation"
    other_key = make_key(app, add_user(app, "olga@example.com"))
    assert client.post(url, headers=auth(other_key)).status_code == 404  # not in Olga's scope: nothing said
    assert client.post(url, headers=auth(make_key(app, org.scheduler, scopes=("read",)))).status_code == 403
    resent = client.post(url, headers=auth(key))
    assert resent.status_code == 200, resent.json
    assert resent.json == client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(key)).json  # unchanged
    assert resent.json["status"] == "confirmed" and resent.json["sequence"] == 0
    with session_scope(_engine(app)) as session:
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirmation")
                                .order_by(OutboxMessage.id)).all()
        assert [m.to_addr for m in mails] == ["ada@customer.example"] * 2  # the booking's, then the resend
        assert mails[1].ics, "the invite is attached to a resent confirmation"
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.confirmation_resent")).one()
        assert (entry.user_id, entry.target_id) == (org.scheduler, meeting_id)
    client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={}, headers=auth(key))
    refused = client.post(url, headers=auth(key))
    assert refused.status_code == 409 and "cancelled" in refused.json["detail"]
    assert client.post("/api/v1/meetings/999999/resend-confirmation", headers=auth(key)).status_code == 404
    with session_scope(_engine(app)) as session:
        assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirmation")).all()) == 2


def test_team_members_rooms_and_pools(app, client, org, key):
    members = client.get("/api/v1/members", headers=auth(key)).json["items"]
    assert {m["name"] for m in members} == {"Ana", "Ben", "Cleo", "Dan"}
    rooms = client.get("/api/v1/rooms", headers=auth(key)).json["items"]
    assert {(r["name"], r["capacity"]) for r in rooms} == {("Small room", 2), ("Large room", 8)}
    pools = client.get("/api/v1/pools", headers=auth(key)).json["items"]
    assert pools == [{"id": org.pool, "name": "Sales", "members": [org.cleo, org.dan], "panel_size": 1,
                      "policy": None, "effective_policy": "pooled", "compensate_removed": False}]
    # The pool's policy and panel as the Team page sets them; without its own, the organisation's.
    admin = add_user(app, "root@example.com", role="admin")
    with session_scope(_engine(app)) as session:
        pool_policy.set_organisation_policy(session, "round_robin", by=session.get(User, admin))
    assert client.get("/api/v1/pools", headers=auth(key)).json["items"][0]["effective_policy"] == "round_robin"
    with session_scope(_engine(app)) as session:
        pool_policy.configure_pool(session, org.pool, policy="weighted", panel_size=2, compensate_removed=True,
                                   by=session.get(User, admin))
    pool = client.get("/api/v1/pools", headers=auth(key)).json["items"][0]
    assert {k: pool[k] for k in ("panel_size", "policy", "effective_policy", "compensate_removed")} == {
        "panel_size": 2, "policy": "weighted", "effective_policy": "weighted", "compensate_removed": True}


# --- pool policies and panels in drafts and invitations --------------------------------------


def _pool_draft(org, **changes) -> dict:
    draft = {k: v for k, v in body(org).items() if not k.startswith("customer") and k != "subject"}
    return {**draft, "members": [], "pools": [org.pool], **changes}


def _service_count(app, org, data: dict) -> int:
    """The dashboard's live count of the same draft (the service the wizard calls)."""
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
    for name in ("frame_start", "frame_end"):
        fields[name] = dt.date.fromisoformat(fields[name])
    with session_scope(_engine(app)) as session:
        spec = invitations.validate_draft(
            session, invitations.InvitationDraft(customer_name="x", customer_email="x@example.com", subject="x",
                                                 **fields),
            by=session.get(User, org.scheduler))
        return availability.count_slots_for(session, spec)


def test_slot_counts_and_lists_honour_pool_policies_and_panels(app, client, org, key):
    monday = next_monday(dt.datetime.now(UTC))
    with Session(_engine(app)) as session:
        # Cleo is away on Monday, Dan on Tuesday.
        add_busy(session, org.cleo, berlin(monday, 0), berlin(monday, 23))
        add_busy(session, org.dan, berlin(monday + dt.timedelta(days=1), 0), berlin(monday + dt.timedelta(days=1), 23))

    def count(**changes) -> dict:
        answer = client.post("/api/v1/slots/count", json=_pool_draft(org, **changes), headers=auth(key))
        assert answer.status_code == 200, answer.json
        assert answer.json["count"] == _service_count(app, org, _pool_draft(org, **changes))
        return answer.json

    day = 31  # Mon-Fri 09:00-17:00, 30 minutes every 15 minutes
    pooled = count()
    assert pooled["count"] == 5 * day
    assert pooled["pools"] == [{"id": org.pool, "policy": "pooled", "panel_size": 1, "next_in_turn": None}]
    # Strict round robin: only the starts of the member whose turn it is (one of them is away one day).
    turn = count(pool_policy="round_robin")
    assert turn["count"] == 4 * day and turn["pools"][0]["policy"] == "round_robin"
    assert turn["pools"][0]["next_in_turn"] in ([org.cleo], [org.dan])
    assert count(pool_policy="weighted")["count"] == 5 * day
    listed = client.post("/api/v1/slots", json=_pool_draft(org, pool_policy="round_robin"),
                         query_string={"limit": 500}, headers=auth(key)).json
    assert listed["count"] == len(listed["slots"]) == 4 * day and listed["pools"] == turn["pools"]
    # A panel of two: both must be free, so neither Monday nor Tuesday.
    with Session(_engine(app)) as session:
        session.get(ResourcePool, org.pool).panel_size = 2
        session.commit()
    panel = count()
    assert panel["count"] == 3 * day and panel["pools"][0]["panel_size"] == 2
    # A panel larger than the pool is refused as the wizard refuses it.
    with Session(_engine(app)) as session:
        session.get(ResourcePool, org.pool).panel_size = 3
        session.commit()
    refused = client.post("/api/v1/slots/count", json=_pool_draft(org), headers=auth(key))
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "pools"
    assert "needs 3 members per meeting but has 2 active" in refused.json["detail"]
    # Per-person limits count too: Dan may take no meeting, so Cleo alone serves the pool.
    with Session(_engine(app)) as session:
        session.get(ResourcePool, org.pool).panel_size = 1
        session.get(TeamMember, org.dan).max_meetings_day = 0
        session.commit()
    assert count()["count"] == 4 * day


def test_create_takes_the_wizards_policy_fields_and_answers_them(app, client, org, key):
    created = create(client, key, org, members=[], pools=[org.pool], pool_policy="round_robin",
                     change_cutoff_hours=2, max_reschedules=1, deliver="links")
    invitation = created["invitation"]
    assert (invitation["pool_policy"], invitation["change_cutoff_hours"], invitation["max_reschedules"]) == (
        "round_robin", 2, 1)
    with session_scope(_engine(app)) as session:
        stored = session.get(Invitation, invitation["id"])
        assert (stored.pool_policy, stored.change_cutoff_hours, stored.max_reschedules) == ("round_robin", 2, 1)
    # Left out, they are the installation's defaults (null), as in the wizard.
    plain = create(client, key, org, deliver="links")["invitation"]
    assert (plain["pool_policy"], plain["change_cutoff_hours"], plain["max_reschedules"]) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pool_policy": "fairest"}, "pool_policy"),
        ({"change_cutoff_hours": -1}, "change_cutoff_hours"),
        ({"change_cutoff_hours": 9000}, "change_cutoff_hours"),
        ({"max_reschedules": 101}, "max_reschedules"),
    ],
)
def test_policy_fields_are_refused_with_the_wizards_words(app, client, org, key, changes, field):
    response = client.post("/api/v1/invitations", json=body(org, **changes), headers=auth(key))
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["errors"][0]["field"] == field
    # The very sentence the dashboard shows for the same draft.
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in body(org, **changes).items()}
    for name in ("frame_start", "frame_end"):
        fields[name] = dt.date.fromisoformat(fields[name])
    with session_scope(_engine(app)) as session, pytest.raises(invitations.InvitationError) as wizard:
        invitations.validate_draft(session, invitations.InvitationDraft(**fields), by=session.get(User, org.scheduler))
    assert wizard.value.field == field and response.json["errors"][0]["message"] == str(wizard.value)


# --- rescheduling ----------------------------------------------------------------------------


def _local(instant: dt.datetime) -> str:
    """RFC 3339 in Berlin's offset (``+01:00`` in winter), as a CRM would send it."""
    return instant.astimezone(ZoneInfo("Europe/Berlin")).isoformat()


def test_reschedule_moves_the_meeting_as_its_scheduler(app, client, org, key):
    # The customer may not move it any more (no moves online, a week's cutoff); its scheduler may.
    invitation_id = create(client, key, org, max_reschedules=0, change_cutoff_hours=24 * 7,
                           deliver="links")["invitation"]["id"]
    admin = add_user(app, "root@example.com", role="admin")
    olga = add_user(app, "olga@example.com")
    with session_scope(_engine(app)) as session:
        for user_id in (org.scheduler, admin, olga):
            webhooks.create_subscription(session, session.get(User, user_id), "https://hooks.example.com/x",
                                         ["meeting.rescheduled"], secret_key=SECRET_KEY)
    meeting_id = _book(app, invitation_id)
    before = client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(key)).json
    monday = next_monday(dt.datetime.now(UTC))
    slots = client.get(f"/api/v1/meetings/{meeting_id}/slots", query_string={"limit": 1000}, headers=auth(key)).json
    starts = [dt.datetime.fromisoformat(s["start"]) for s in slots["slots"]]
    assert berlin(monday, 10) not in starts and berlin(monday, 11) in starts and slots["count"] == len(starts)

    moved = client.post(f"/api/v1/meetings/{meeting_id}/reschedule", json={"start": _local(berlin(monday, 11))},
                        headers=auth(key))
    assert moved.status_code == 200, moved.json
    meeting = moved.json
    assert dt.datetime.fromisoformat(meeting["start"]) == berlin(monday, 11)
    assert meeting["start"].endswith("+00:00") and meeting["status"] == "confirmed"
    assert meeting["uid"] == before["uid"] and meeting["sequence"] == before["sequence"] + 1
    assert meeting["reschedule_count"] == 0  # a scheduler's move is not the customer's
    assert client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(key)).json == meeting
    with session_scope(_engine(app)) as session:
        stored = session.get(Meeting, meeting_id)
        assert {r.start for r in stored.reservations} == {berlin(monday, 11)}
        # One event per subscription that may see it; another scheduler's gets none.
        deliveries = session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.event_type == "meeting.rescheduled")).all()
        owners = sorted(d.subscription.user_id for d in deliveries)
        assert owners == sorted([org.scheduler, admin])
        payload = json.loads(deliveries[0].payload)
        assert payload["data"]["by"] == "scheduler" and payload["data"]["meeting"]["start"] == meeting["start"]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.moved")).one()
        assert audit.user_id == org.scheduler
        moved_mail = session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "moved", OutboxMessage.to_addr == "ada@customer.example")).one()
        assert "This meeting has moved to a new time" in moved_mail.body_text
        assert check_invariants(session) == []


def test_reschedule_refusals_are_problems_naming_start_and_the_fix(app, client, org, key):
    invitation_id = create(client, key, org, deliver="links")["invitation"]["id"]
    meeting_id = _book(app, invitation_id)
    monday = next_monday(dt.datetime.now(UTC))
    url = f"/api/v1/meetings/{meeting_id}/reschedule"

    def refused(start: str, status: int = 422) -> dict:
        response = client.post(url, json={"start": start}, headers=auth(key))
        assert response.status_code == status and response.mimetype == PROBLEM, response.json
        return response.json

    naive = refused(berlin(monday, 11).replace(tzinfo=None).isoformat())
    assert naive["errors"][0]["field"] == "start" and "add the offset" in naive["errors"][0]["message"]
    nonsense = refused("next tuesday")
    assert nonsense["errors"][0]["field"] == "start" and "RFC 3339" in nonsense["detail"]
    saturday = refused(_local(berlin(monday + dt.timedelta(days=5), 11)))
    assert saturday["errors"][0]["field"] == "start"
    assert f"GET /api/v1/meetings/{meeting_id}/slots" in saturday["detail"]
    same = refused(_local(berlin(monday, 10)))
    assert "current time" in same["detail"]
    missing = client.post(url, json={}, headers=auth(key))
    assert missing.status_code == 422 and missing.json["errors"][0]["field"] == "start"
    # Nothing changed by any of these.
    assert client.get(f"/api/v1/meetings/{meeting_id}", headers=auth(key)).json["sequence"] == 0
    # Scope and scopes: another scheduler's key finds nothing, a read-only key may not write.
    other_key = make_key(app, add_user(app, "olga@example.com"))
    outside = client.post(url, json={"start": _local(berlin(monday, 11))}, headers=auth(other_key))
    assert outside.status_code == 404
    assert client.get(f"/api/v1/meetings/{meeting_id}/slots", headers=auth(other_key)).status_code == 404
    read_only = make_key(app, org.scheduler, scopes=("read",))
    assert client.post(url, json={"start": _local(berlin(monday, 11))}, headers=auth(read_only)).status_code == 403
    # A cancelled meeting cannot move: the state machine's sentence, 409.
    client.post(f"/api/v1/meetings/{meeting_id}/cancel", json={}, headers=auth(key))
    gone = refused(_local(berlin(monday, 11)), status=409)
    assert gone["detail"] == "This meeting was cancelled, so it can no longer be moved."
    assert client.get(f"/api/v1/meetings/{meeting_id}/slots", headers=auth(key)).json == {"count": 0, "slots": []}
    with session_scope(_engine(app)) as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
        assert check_invariants(session) == []


# --- webhooks --------------------------------------------------------------------------------


def test_webhook_subscriptions_through_the_api(app, client, org, key):
    refused = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["meeting.confirmed"]},
                          headers=auth(key))
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "url"
    assert "private, loopback" in refused.json["detail"]
    not_http = client.post("/api/v1/webhooks", json={"url": "ftp://hooks.example.com/", "events": ["meeting.confirmed"]},
                           headers=auth(key))
    assert not_http.status_code == 422 and "http(s)" in not_http.json["detail"]
    made = client.post("/api/v1/webhooks", headers=auth(key), json={
        "url": "https://hooks.example.com/slotwise", "events": ["invitation.created", "meeting.confirmed"]})
    assert made.status_code == 201 and made.json["secret"].startswith("whsec_")
    hook_id = made.json["id"]
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=auth(key)).json["items"]] == [hook_id]
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook_id}", headers=auth(key)).json
    # Events of the user's invitations are queued for it, in the same transaction.
    invitation_id = create(client, key, org, deliver="links")["invitation"]["id"]
    test = client.post(f"/api/v1/webhooks/{hook_id}/test", headers=auth(key))
    assert test.status_code == 202 and test.json["event_type"] == "webhook.test"
    log = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=auth(key)).json["items"]
    assert [d["event_type"] for d in log] == ["webhook.test", "invitation.created"]
    with session_scope(_engine(app)) as session:
        payload = session.scalars(select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "invitation.created")).one()
    assert f'"id":{invitation_id}' in payload
    # Another scheduler neither sees the subscription nor gets this scheduler's events.
    other_key = make_key(app, add_user(app, "olga@example.com"))
    assert client.get(f"/api/v1/webhooks/{hook_id}", headers=auth(other_key)).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{hook_id}", headers=auth(other_key)).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{hook_id}", headers=auth(key)).status_code == 204
    assert client.get("/api/v1/webhooks", headers=auth(key)).json["items"] == []


# --- errors ----------------------------------------------------------------------------------


def test_unknown_routes_and_methods_are_problems_and_pages_stay_html(client, key):
    missing = client.get("/api/v1/nothing", headers=auth(key))
    assert missing.status_code == 404 and missing.mimetype == PROBLEM
    wrong = client.delete("/api/v1/members", headers=auth(key))
    assert wrong.status_code == 405 and wrong.mimetype == PROBLEM
    huge = client.get(f"/api/v1/invitations/{2**40}", headers=auth(key))
    assert huge.status_code == 404
    page = client.get("/i/not-a-token")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_the_spec_is_openapi_3_1_with_docs(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/invitations/{invitation_id}/cancel" in spec["paths"]
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"].lower() == "bearer"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()
