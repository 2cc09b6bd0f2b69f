"""Access rules: admins see everything; schedulers their own and their team's invitations and meetings."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass

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


def test_an_invitation_stays_its_creators_when_its_pool_empties(session, org):
    # With no member involved any more, only "the scheduler created it" keeps it in bo's scope.
    org["pool"].members = []
    session.commit()
    assert can_access_invitation(session, org["bo"], org["invs"]["bo_pool"].id)
    assert not can_access_invitation(session, org["ana"], org["invs"]["bo_pool"].id)


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


def test_the_listings_select_whole_rows(session, org):
    # The dashboard reads objects from the listings, not only their ids.
    assert {type(row) for row in session.scalars(visible_meetings(org["ana"]))} == {Meeting}
    assert {type(row) for row in session.scalars(visible_invitations(org["ana"]))} == {Invitation}


def test_a_meeting_its_scheduler_made_stays_theirs_outside_their_scope(session, org):
    # cy created no invitation, so none is in cy's scope; a meeting cy made is cy's all the same.
    bos = _invitation(session, org["bo"], members=[org["m2"]])
    made = _meeting(session, bos, org["cy"])
    session.commit()
    assert set(session.scalars(visible_meetings(org["cy"]).with_only_columns(Meeting.id))) == {made.id}
    require_meeting(session, org["cy"], made.id, "cancel")  # no exception
    assert not can_access_invitation(session, org["cy"], bos.id)


def test_the_owner_and_an_admin_may_act_on_an_invitation(session, org):
    inv = org["invs"]["ana_m1"].id
    require_invitation(session, org["ana"], inv, "resend")  # no exception
    require_invitation(session, org["admin"], inv, "resend")
    with pytest.raises(PermissionDenied) as refused:
        require_invitation(session, None, inv, "resend")
    assert str(refused.value) == (f"nobody signed in may not resend invitation {inv}: it is not theirs nor "
                                  "their team's; ask its creator or an admin")


def test_a_refused_meeting_action_says_who_may(session, org):
    meeting = org["meetings"]["ana_m1"].id
    with pytest.raises(PermissionDenied) as refused:
        require_meeting(session, org["cy"], meeting, "cancel")
    assert str(refused.value) == (f"cy@example.com may not cancel meeting {meeting}: it is not theirs nor "
                                  "their team's; ask its creator or an admin")


@pytest.mark.parametrize(("who", "named"), [("ana", "ana@example.com (scheduler)"),
                                            ("off", "off@example.com (admin)"), (None, "nobody signed in")])
def test_an_admin_only_refusal_names_who_asked(org, who, named):
    with pytest.raises(PermissionDenied) as refused:
        require_admin(org[who] if who else None, "manage rooms")
    assert str(refused.value) == f"only an admin may manage rooms; {named} may not"


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
        assert entry.at == SERVICE_NOW  # the cancel's own instant, as its other rows


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


# --- every service function that acts for a user refuses the user without the right -----------
#
# One row per public function of ``booking_service.services`` and ``booking_service.calendars``
# that takes the acting user (a parameter ``by``, ``user`` or ``viewer``): who lacks the right, the
# call, and the refusal expected. A new such function without a row (or a reason in NOT_CHECKS)
# fails ``test_every_acting_service_function_has_a_row``.


@dataclass(frozen=True)
class World:
    """Sam (scheduler) owns the bookings; Olga is another scheduler; Off a disabled admin."""

    sam: int
    olga: int
    off: int
    root: int
    ana: int
    pool: int
    room: int
    invitation: int
    meeting: int
    connection: int
    absence: int
    key: int
    webhook: int
    draft: object


@pytest.fixture
def world(engine) -> World:
    from booking_service.services import api_keys, booking, invitations, out_of_office, webhooks
    from booking_service.store.db import session_scope

    from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

    with Session(engine) as s:
        org = make_org(s)
    with session_scope(engine, write=True) as s:
        olga = _user(s, "olga@example.com")
        root = _user(s, "root@example.com", "admin")
        off = _user(s, "off@example.com", "admin")
        off.active = False
        sam = s.get(User, org.scheduler)
        booked = invitations.create_invitation(s, draft(org, SERVICE_NOW), secret_key=SECRET_KEY, by=sam,
                                               public_url=PUBLIC, now=SERVICE_NOW).invitation.id
        active = invitations.create_invitation(s, draft(org, SERVICE_NOW), secret_key=SECRET_KEY, by=sam,
                                               public_url=PUBLIC, now=SERVICE_NOW).invitation.id
        connection = CalendarConnection(resource_id=org.ana, kind="caldav", name="Ana's calendar",
                                        calendar_url="https://dav.example/ana/", write_back=True)
        s.add(connection)
        s.flush()
        monday = next_monday(SERVICE_NOW)
        absence = out_of_office.mark_away(s, org.ana, monday + dt.timedelta(days=14), monday + dt.timedelta(days=15),
                                          by=s.get(User, root.id))
        key = api_keys.create_key(s, sam, "CRM", now=SERVICE_NOW).key.id
        hook = webhooks.create_subscription(s, sam, "https://93.184.216.34/hook", ["meeting.confirmed"],
                                            secret_key=SECRET_KEY, now=SERVICE_NOW).subscription.id
        ids = dict(olga=olga.id, off=off.id, root=root.id, connection=connection.id, absence=absence.id)
    with session_scope(engine, write=True) as s:
        meeting = booking.confirm_slot(s, booked, berlin(next_monday(SERVICE_NOW), 10), secret_key=SECRET_KEY,
                                       now=SERVICE_NOW).meeting.id
    return World(sam=org.scheduler, ana=org.ana, pool=org.pool, room=org.small_room, invitation=active,
                 meeting=meeting, key=key, webhook=hook, draft=draft(org, SERVICE_NOW), **ids)


def _rows():
    """``name: (who lack the right, call(session, world, user), exception, message pattern)``."""
    from booking_service.calendars import connections, writeback
    from booking_service.services import (
        accounts,
        api_keys,
        audit,
        booking,
        embedding,
        invitations,
        limits,
        out_of_office,
        pool_policy,
        queries,
        team,
        webhooks,
    )
    from booking_service.services.accounts import AccountError
    from booking_service.services.api_keys import ApiKeyError
    from booking_service.services.webhooks import WebhookError

    from ..factories import SECRET_KEY

    def listed_without(ids):
        def check(found):
            assert not {getattr(x, "id", getattr(x, "meeting_id", None)) for x in found} & set(ids)
        return check

    scope = ("olga", "off")  # outside the scope of Sam's invitations and meetings
    admin = ("sam", "off")  # not an active admin
    not_admin = "only an admin may"

    def denied(action: str, noun: str) -> str:
        # Who asked ({email}, filled in per user), what they may not do, to which row, and who may.
        return ("^{email} may not " + re.escape(f"{action} {noun}")
                + r" \d+: it is not theirs nor their team's; ask its creator or an admin$")

    conn = lambda s, w: s.get(CalendarConnection, w.connection)  # noqa: E731
    return {
        "booking.cancel_meeting": (scope, lambda s, w, u: booking.cancel_meeting(
            s, w.meeting, by=u, secret_key=SECRET_KEY, now=SERVICE_NOW), PermissionDenied, denied("cancel", "meeting")),
        "booking.reschedule_meeting": (scope, lambda s, w, u: booking.reschedule_meeting(
            s, w.meeting, dt.datetime(2030, 3, 4, 10, tzinfo=dt.UTC), by=u, secret_key=SECRET_KEY, now=SERVICE_NOW),
            PermissionDenied, denied("move", "meeting")),
        "booking.resend_confirmation": (scope, lambda s, w, u: booking.resend_confirmation(
            s, w.meeting, by=u, secret_key=SECRET_KEY, now=SERVICE_NOW), PermissionDenied,
            denied("resend the confirmation of", "meeting")),
        "invitations.resend_invitation": (scope, lambda s, w, u: invitations.resend_invitation(
            s, w.invitation, by=u, public_url=PUBLIC, secret_key=SECRET_KEY, now=SERVICE_NOW), PermissionDenied,
            denied("resend", "invitation")),
        "invitations.cancel_invitation": (scope, lambda s, w, u: invitations.cancel_invitation(
            s, w.invitation, by=u, secret_key=SECRET_KEY, now=SERVICE_NOW), PermissionDenied, denied("cancel", "invitation")),
        "team.set_weekly_hours": (admin, lambda s, w, u: team.set_weekly_hours(s, w.ana, {0: "9-5"}, by=u),
                                  PermissionDenied, not_admin),
        "team.set_date_hours": (admin, lambda s, w, u: team.set_date_hours(
            s, w.ana, dt.date(2030, 3, 4), "10-12", by=u), PermissionDenied, not_admin),
        "team.clear_date_hours": (admin, lambda s, w, u: team.clear_date_hours(s, w.ana, dt.date(2030, 3, 4), by=u),
                                  PermissionDenied, not_admin),
        "team.create_member": (admin, lambda s, w, u: team.create_member(s, "Eve", "Europe/Berlin", by=u),
                               PermissionDenied, not_admin),
        "team.update_member": (admin, lambda s, w, u: team.update_member(s, w.ana, name="Anna", by=u),
                               PermissionDenied, not_admin),
        "team.create_room": (admin, lambda s, w, u: team.create_room(s, "Attic", "Europe/Berlin", 3, by=u),
                             PermissionDenied, not_admin),
        "team.update_room": (admin, lambda s, w, u: team.update_room(s, w.room, capacity=9, by=u),
                             PermissionDenied, not_admin),
        "team.create_pool": (admin, lambda s, w, u: team.create_pool(s, "New", [w.ana], by=u),
                             PermissionDenied, not_admin),
        "team.update_pool": (admin, lambda s, w, u: team.update_pool(s, w.pool, name="Renamed", by=u),
                             PermissionDenied, not_admin),
        "team.delete_pool": (admin, lambda s, w, u: team.delete_pool(s, w.pool, by=u), PermissionDenied, not_admin),
        "limits.set_limits": (admin, lambda s, w, u: limits.set_limits(
            s, w.ana, limits.ResourceLimits(max_meetings_day=1), by=u), PermissionDenied, not_admin),
        "out_of_office.mark_away": (admin, lambda s, w, u: out_of_office.mark_away(
            s, w.ana, dt.date(2030, 3, 4), dt.date(2030, 3, 5), by=u), PermissionDenied, not_admin),
        "out_of_office.remove_absence": (admin, lambda s, w, u: out_of_office.remove_absence(s, w.absence, by=u),
                                         PermissionDenied, not_admin),
        "pool_policy.set_organisation_policy": (admin, lambda s, w, u: pool_policy.set_organisation_policy(
            s, "strict_round_robin", by=u), PermissionDenied, not_admin),
        "embedding.set_organisation_origins": (admin, lambda s, w, u: embedding.set_organisation_origins(
            s, "https://www.example.com", by=u), PermissionDenied, not_admin),
        "pool_policy.configure_pool": (admin, lambda s, w, u: pool_policy.configure_pool(s, w.pool, panel_size=1, by=u),
                                       PermissionDenied, not_admin),
        "connections.add_ics_url_connection": (admin, lambda s, w, u: connections.add_ics_url_connection(
            s, w.ana, "Feed", "https://cal.example/a.ics", by=u), PermissionDenied, not_admin),
        "connections.add_ics_file_connection": (admin, lambda s, w, u: connections.add_ics_file_connection(
            s, w.ana, "File", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", by=u), PermissionDenied, not_admin),
        "connections.replace_ics_file": (admin, lambda s, w, u: connections.replace_ics_file(
            s, conn(s, w), "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", by=u), PermissionDenied, not_admin),
        "connections.add_caldav_connection": (admin, lambda s, w, u: connections.add_caldav_connection(
            s, w.ana, "DAV", "https://dav.example/", "ana", "pw", secret_key=SECRET_KEY, by=u),
            PermissionDenied, not_admin),
        "connections.set_caldav_password": (admin, lambda s, w, u: connections.set_caldav_password(
            s, conn(s, w), "new", secret_key=SECRET_KEY, by=u), PermissionDenied, not_admin),
        "connections.remove_connection": (admin, lambda s, w, u: connections.remove_connection(s, conn(s, w), by=u),
                                          PermissionDenied, not_admin),
        "accounts.create_user": (admin, lambda s, w, u: accounts.create_user(
            s, email="eve@example.com", name="Eve", password="a long enough password", by=u), AccountError, not_admin),
        "accounts.reset_password": (("olga", "off"), lambda s, w, u: accounts.reset_password(
            s, "sam@example.com", "a long enough password", by=u), AccountError, not_admin),
        "accounts.update_user": (("olga", "off"), lambda s, w, u: accounts.update_user(s, w.sam, by=u, name="Samuel"),
                                 AccountError, not_admin),
        "audit.entries": (admin, lambda s, w, u: audit.entries(s, viewer=u), PermissionDenied, not_admin),
        "api_keys.create_key": (("off",), lambda s, w, u: api_keys.create_key(s, u, "mine"), ApiKeyError,
                                "only an active user"),
        "api_keys.revoke_key": (("olga", "off"), lambda s, w, u: api_keys.revoke_key(s, u, w.key), ApiKeyError,
                                "has no API key"),
        "webhooks.create_subscription": (("off",), lambda s, w, u: webhooks.create_subscription(
            s, u, "https://93.184.216.34/x", ["meeting.confirmed"], secret_key=SECRET_KEY), WebhookError,
            "only an active user"),
        "webhooks.subscription": (("olga",), lambda s, w, u: webhooks.subscription(s, u, w.webhook), WebhookError,
                                  "no webhook"),
        "webhooks.delete_subscription": (("olga",), lambda s, w, u: webhooks.delete_subscription(s, u, w.webhook),
                                         WebhookError, "no webhook"),
        "webhooks.deliveries": (("olga",), lambda s, w, u: webhooks.deliveries(s, u, w.webhook), WebhookError,
                                "no webhook"),
        "webhooks.queue_test_event": (("olga",), lambda s, w, u: webhooks.queue_test_event(s, u, w.webhook),
                                      WebhookError, "no webhook"),
        # Listings refuse by leaving out: the other user's rows are not in them.
        "webhooks.subscriptions": (("olga", "off"), lambda s, w, u: listed_without([w.webhook])(
            webhooks.subscriptions(s, u)), None, None),
        "api_keys.list_keys": (("olga", "off"), lambda s, w, u: listed_without([w.key])(api_keys.list_keys(s, u)),
                               None, None),
        "queries.invitations": (scope, lambda s, w, u: listed_without([w.invitation])(
            queries.invitations(s, u, status=None)), None, None),
        "queries.meetings": (scope, lambda s, w, u: listed_without([w.meeting])(queries.meetings(s, u, status=None)),
                             None, None),
        "queries.outbox_messages": (scope, lambda s, w, u: _none_about(s, queries.outbox_messages(s, u), w),
                                    None, None),
        "writeback.writeback_problems": (scope, lambda s, w, u: listed_without([w.meeting])(
            writeback.writeback_problems(s, u)), None, None),
    }


def _none_about(session, messages, world):
    assert not [m for m in messages if m.meeting_id == world.meeting or m.invitation_id == world.invitation]


NOT_CHECKS = {
    "audit.record": "records the actor it is given; the calling service checks",
    "invitations.validate_draft": "any signed-in scheduler may invite; `by` only lends its zone",
    "invitations.preview_invitation_mail": "any signed-in scheduler may invite; `by` only signs the preview",
    "invitations.create_invitation": "any signed-in scheduler may invite; `by` becomes the creator",
    "dashboard_sessions.start": "the user is the one who just signed in (the sign-in checked the password and "
                                "that the account is active); a disabled user's session is refused on lookup",
    "dashboard_sessions.revoke_all": "ends the user's own sessions; the calling service (password change, "
                                     "disabling an account) checks who may",
    **{f"permissions.{name}": "the rule itself, tested above" for name in (
        "is_admin", "require_admin", "team_member_ids", "invitation_scope", "meeting_scope", "message_scope",
        "visible_invitations", "visible_meetings", "can_access_invitation", "can_access_meeting",
        "require_invitation", "require_meeting")},
}


def _acting_functions() -> set[str]:
    import importlib
    import inspect
    import pkgutil

    import booking_service.calendars
    import booking_service.services

    found = set()
    for package in (booking_service.services, booking_service.calendars):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, function in vars(module).items():
                # mutmut's copies of a function (``x_name__mutmut_3``) are not functions of the service.
                if (not name.startswith("_") and "__mutmut_" not in name and inspect.isfunction(function)
                        and function.__module__ == module.__name__
                        and {"by", "user", "viewer"} & set(inspect.signature(function).parameters)):
                    found.add(f"{info.name}.{name}")
    return found


def test_every_acting_service_function_has_a_row():
    acting = _acting_functions()
    missing = acting - set(_rows()) - set(NOT_CHECKS)
    assert not missing, f"add a row to _rows() (or a reason to NOT_CHECKS) for {sorted(missing)}"
    assert not (set(_rows()) | set(NOT_CHECKS)) - acting, "a row names a function that no longer acts for a user"


def _audit_count(session) -> int:
    from sqlalchemy import func

    from booking_service.store.models import AuditEntry

    return session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("name", sorted(_acting_functions() - set(NOT_CHECKS)))
def test_a_user_without_the_right_is_refused(engine, world, name):
    from booking_service.store.db import session_scope

    who, call, error, message = _rows()[name]
    for role in who:
        with session_scope(engine, write=True) as s:
            user = s.get(User, getattr(world, role))
            before = _audit_count(s)
            if error is None:
                call(s, world, user)
            else:
                with pytest.raises(error, match=message.replace("{email}", re.escape(user.email))):
                    call(s, world, user)
            assert _audit_count(s) == before, f"{name} as {role}: refused, yet audited"
            s.rollback()
