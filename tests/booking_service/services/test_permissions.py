"""Access rules: admins see everything; schedulers their own and their team's invitations and meetings."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services.permissions import (
    PermissionDenied,
    can_access_invitation,
    can_access_meeting,
    require_admin,
    require_invitation,
    require_meeting,
    visible_invitations,
    visible_meetings,
)
from booking_service.store.models import (
    CalendarConnection,
    CalendarWrite,
    Invitation,
    Meeting,
    OutboxMessage,
    ResourcePool,
    Room,
    TeamMember,
    User,
)

_ids = itertools.count()


def _user(session: Session, email: str, role: str = "scheduler") -> User:
    user = User(email=email, name=email.split("@")[0], zone="Europe/London", role=role, password_hash=None)
    session.add(user)
    session.flush()
    return user


def _member(session: Session, name: str) -> TeamMember:
    member = TeamMember(name=name, email=f"{name}@example.com", zone="Europe/London")
    session.add(member)
    session.flush()
    return member


def _invitation(session: Session, by: User | None, members=(), pools=(), rooms=()) -> Invitation:
    n = next(_ids)
    inv = Invitation(
        token_hash=f"{n:064x}", created_by_id=by.id if by else None, customer_name="C",
        customer_email="c@example.com", subject=f"Meeting {n}", duration_minutes=30,
        frame_start=dt.date(2026, 12, 1), frame_end=dt.date(2026, 12, 5), zone="Europe/London",
        members=list(members), pools=list(pools), rooms=list(rooms),
    )
    session.add(inv)
    session.flush()
    return inv


def _meeting(session: Session, inv: Invitation, by: User | None) -> Meeting:
    start = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    meeting = Meeting(
        invitation_id=inv.id, created_by_id=by.id if by else None, start=start,
        end=start + dt.timedelta(minutes=30), uid=f"m{inv.id}@slotwise", customer_name="C",
        customer_email="c@example.com",
    )
    session.add(meeting)
    session.flush()
    return meeting


@pytest.fixture
def org(session):
    """Two schedulers with separate teams, one shared pool member, an admin, a disabled user."""
    admin = _user(session, "admin@example.com", "admin")
    ana = _user(session, "ana@example.com")
    bo = _user(session, "bo@example.com")
    cy = _user(session, "cy@example.com")  # has created nothing
    off = _user(session, "off@example.com", "admin")
    off.active = False
    m1, m2, m3, m4 = (_member(session, n) for n in ("m1", "m2", "m3", "m4"))
    room = Room(name="Room", zone="Europe/London", capacity=4)
    session.add(room)
    pool = ResourcePool(name="Support", members=[m3, m4])
    session.add(pool)
    session.flush()
    invs = {
        "ana_m1": _invitation(session, ana, members=[m1], rooms=[room]),
        "bo_m2": _invitation(session, bo, members=[m2], rooms=[room]),  # same room: rooms don't count
        "bo_pool": _invitation(session, bo, pools=[pool]),
        "ana_m4": _invitation(session, ana, members=[m4]),  # m4 is in bo's pool
        "system_m1": _invitation(session, None, members=[m1]),  # seeded, nobody created it
    }
    meetings = {key: _meeting(session, inv, inv.created_by) for key, inv in invs.items()}
    session.commit()
    return dict(admin=admin, ana=ana, bo=bo, cy=cy, off=off, invs=invs, meetings=meetings, pool=pool, m2=m2)


def _names(org, ids, kind="invs") -> set[str]:
    ids = set(ids)
    return {key for key, obj in org[kind].items() if obj.id in ids}


def test_admin_sees_everything(session, org):
    assert _names(org, session.scalars(visible_invitations(org["admin"]).with_only_columns(Invitation.id))) == set(org["invs"])
    assert _names(org, session.scalars(visible_meetings(org["admin"]).with_only_columns(Meeting.id)), "meetings") == set(org["meetings"])


def test_scheduler_sees_own_and_team_invitations(session, org):
    def names(user):
        return _names(org, session.scalars(visible_invitations(user).with_only_columns(Invitation.id)))

    # ana invites with m1 and m4; m4 is in bo's pool, so bo's pool invitation is ana's team's too,
    # and the seeded invitation with m1 as well. bo's m2 invitation shares only a room: hidden.
    assert names(org["ana"]) == {"ana_m1", "ana_m4", "bo_pool", "system_m1"}
    # bo invites with m2 and the pool (m3, m4): ana's m4 invitation is bo's team's.
    assert names(org["bo"]) == {"bo_m2", "bo_pool", "ana_m4"}
    assert names(org["cy"]) == set()
    assert names(org["off"]) == set()  # disabled, even though an admin
    assert names(None) == set()


def test_meetings_follow_their_invitations(session, org):
    def names(user):
        return _names(org, session.scalars(visible_meetings(user).with_only_columns(Meeting.id)), "meetings")

    assert names(org["ana"]) == {"ana_m1", "ana_m4", "bo_pool", "system_m1"}
    assert names(org["bo"]) == {"bo_m2", "bo_pool", "ana_m4"}
    assert names(org["cy"]) == set()


def test_pool_membership_is_read_when_asked(session, org):
    # Take m4 out of the pool: ana no longer shares a team member with bo's pool invitation.
    pool = org["pool"]
    pool.members = [m for m in pool.members if m.name != "m4"]
    session.commit()
    assert not can_access_invitation(session, org["ana"], org["invs"]["bo_pool"].id)
    assert can_access_invitation(session, org["ana"], org["invs"]["ana_m4"].id)


def test_action_checks_use_the_same_rule_as_listings(session, org):
    for user in (org["admin"], org["ana"], org["bo"], org["cy"], org["off"]):
        listed = set(session.scalars(visible_invitations(user).with_only_columns(Invitation.id)))
        listed_meetings = set(session.scalars(visible_meetings(user).with_only_columns(Meeting.id)))
        for inv in org["invs"].values():
            assert can_access_invitation(session, user, inv.id) == (inv.id in listed)
        for meeting in org["meetings"].values():
            assert can_access_meeting(session, user, meeting.id) == (meeting.id in listed_meetings)


def test_require_meeting_refuses_another_schedulers_meeting(session, org):
    with pytest.raises(PermissionDenied, match=r"bo@example.com may not cancel meeting \d+"):
        require_meeting(session, org["bo"], org["meetings"]["ana_m1"].id, "cancel")
    require_meeting(session, org["ana"], org["meetings"]["ana_m1"].id, "cancel")
    require_meeting(session, org["admin"], org["meetings"]["ana_m1"].id, "cancel")
    with pytest.raises(PermissionDenied, match="nobody signed in may not cancel"):
        require_meeting(session, None, org["meetings"]["ana_m1"].id, "cancel")


def test_require_invitation_hides_whether_an_id_exists(session, org):
    with pytest.raises(PermissionDenied, match="may not resend invitation 999999"):
        require_invitation(session, org["admin"], 999999, "resend")
    with pytest.raises(PermissionDenied, match="cy@example.com may not resend invitation"):
        require_invitation(session, org["cy"], org["invs"]["ana_m1"].id, "resend")


@pytest.mark.parametrize("who", ["ana", "off", None])
def test_only_active_admins_manage(org, who):
    user = org[who] if who else None
    with pytest.raises(PermissionDenied, match="only an admin may manage rooms"):
        require_admin(user, "manage rooms")


def test_active_admin_manages(org):
    require_admin(org["admin"], "manage rooms")  # no exception


def test_rule_is_one_query(session, org):
    # The scope is SQL, evaluated in the database: it composes with more filters and ordering.
    query = visible_invitations(org["ana"]).where(Invitation.subject.like("Meeting%")).order_by(Invitation.id)
    assert [i.id for i in session.scalars(query)] == sorted(
        org["invs"][k].id for k in ("ana_m1", "ana_m4", "bo_pool", "system_m1")
    )


def test_every_dashboard_list_shows_a_user_only_their_scope(session, org):
    """Invitations, meetings, outbox messages and failed calendar writes follow the one rule."""
    from booking_service.calendars.writeback import writeback_problems
    from booking_service.services import queries

    at = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    calendar = CalendarConnection(resource_id=org["m2"].id, kind="caldav", name="Cal", write_back=True)
    session.add(calendar)
    session.flush()
    for key, inv in org["invs"].items():
        meeting = org["meetings"][key]
        session.add_all([
            OutboxMessage(kind="invitation", to_addr="c@example.com", subject=f"invitation {key}",
                          body_text="t", invitation_id=inv.id, created_at=at),
            # A notification whose invitation link is gone (SET NULL): its meeting decides.
            OutboxMessage(kind="notification", to_addr="m@example.com", subject=f"meeting {key}",
                          body_text="t", meeting_id=meeting.id, created_at=at),
            CalendarWrite(meeting_id=meeting.id, connection_id=calendar.id, action="put", status="failed",
                          attempts=10, last_error="401"),
        ])
    session.add(OutboxMessage(kind="notification", to_addr="ops@example.com", subject="about nothing",
                              body_text="t", created_at=at))
    session.commit()

    everything = set(org["invs"])
    for who, keys in {
        "admin": everything,
        "ana": {"ana_m1", "ana_m4", "bo_pool", "system_m1"},
        "bo": {"bo_m2", "bo_pool", "ana_m4"},
        "cy": set(),
        "off": set(),
        None: set(),
    }.items():
        user = org[who] if who else None
        assert _names(org, (i.id for i in queries.invitations(session, user, status=None))) == keys, who
        assert _names(org, (m.id for m in queries.meetings(session, user)), "meetings") == keys, who
        subjects = {m.subject for m in queries.outbox_messages(session, user)}
        expected = {f"invitation {k}" for k in keys} | {f"meeting {k}" for k in keys}
        assert subjects == expected | ({"about nothing"} if who == "admin" else set()), who
        problems = {p.meeting_id for p in writeback_problems(session, user)}
        assert _names(org, problems, "meetings") == keys, who


# --- the checks inside the services ---------------------------------------------------------

SERVICE_NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
PUBLIC = "https://book.example"


@pytest.fixture
def booked(engine):
    """Sam (scheduler) invited with Ana and the customer booked; Olga (scheduler) and Root (admin)."""
    from booking_service.services.booking import confirm_slot
    from booking_service.services.invitations import create_invitation
    from booking_service.store.db import session_scope

    from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

    with Session(engine) as s:
        org = make_org(s)
    with session_scope(engine, write=True) as s:
        olga = _user(s, "olga@example.com")
        root = _user(s, "root@example.com", "admin")
        created = create_invitation(s, draft(org, SERVICE_NOW), secret_key=SECRET_KEY, by=s.get(User, org.scheduler),
                                    public_url=PUBLIC, now=SERVICE_NOW)
        invitation_id = created.invitation.id
    with session_scope(engine, write=True) as s:
        result = confirm_slot(s, invitation_id, berlin(next_monday(SERVICE_NOW), 10), secret_key=SECRET_KEY, now=SERVICE_NOW)
        assert result.outcome == "booked"
    return dict(org=org, olga=olga.id, root=root.id, sam=org.scheduler, meeting=result.meeting.id,
                invitation=invitation_id)


def _cancel(engine, meeting_id: int, user_id: int):
    from booking_service.services.booking import cancel_meeting
    from booking_service.store.db import session_scope

    from ..factories import SECRET_KEY

    with session_scope(engine, write=True) as s:
        return cancel_meeting(s, meeting_id, secret_key=SECRET_KEY, by=s.get(User, user_id), reason="Clash", now=SERVICE_NOW)


def _state(engine, meeting_id: int) -> tuple[str, list[str], list[str]]:
    from booking_service.store.models import AuditEntry, OutboxMessage

    with Session(engine) as s:
        return (
            s.get(Meeting, meeting_id).status,
            list(s.scalars(select(OutboxMessage.to_addr).where(OutboxMessage.kind == "cancellation"))),
            list(s.scalars(select(AuditEntry.action).where(AuditEntry.action == "meeting.cancelled"))),
        )


def test_service_refuses_a_scheduler_cancelling_another_schedulers_meeting(engine, booked):
    with pytest.raises(PermissionDenied, match=r"olga@example.com may not cancel meeting \d+"):
        _cancel(engine, booked["meeting"], booked["olga"])
    # Nothing happened: still confirmed, no cancellation mail, nothing audited.
    assert _state(engine, booked["meeting"]) == ("confirmed", [], [])


def test_owner_cancels_and_the_cancellation_is_audited(engine, booked):
    from booking_service.store.models import AuditEntry

    _cancel(engine, booked["meeting"], booked["sam"])
    status, mails, actions = _state(engine, booked["meeting"])
    assert status == "cancelled" and mails and actions == ["meeting.cancelled"]
    with Session(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.cancelled")).one()
        assert (entry.user_id, entry.target_type, entry.target_id) == (booked["sam"], "meeting", booked["meeting"])
        assert entry.details["reason"] == "Clash" and entry.details["by_customer"] is False
        assert entry.details["invitation_id"] == booked["invitation"]


def test_admin_cancels_anyones_meeting(engine, booked):
    _cancel(engine, booked["meeting"], booked["root"])
    assert _state(engine, booked["meeting"])[0] == "cancelled"


def test_a_colleague_inviting_with_the_same_member_may_cancel(engine, booked):
    from booking_service.store.db import session_scope

    # Olga invites with Ana too: Ana is now on Olga's team, so Sam's meeting with Ana is in scope.
    with session_scope(engine) as s:
        s.add(Invitation(
            token_hash="f" * 64, created_by_id=booked["olga"], customer_name="C", customer_email="c@example.com",
            subject="Other", duration_minutes=30, frame_start=dt.date(2030, 2, 4), frame_end=dt.date(2030, 2, 8),
            zone="Europe/Berlin", members=[s.get(TeamMember, booked["org"].ana)],
        ))
    _cancel(engine, booked["meeting"], booked["olga"])
    assert _state(engine, booked["meeting"])[0] == "cancelled"
