"""Team management: members, rooms, pools, weekly hours, permissions and audit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from booking_service.services import team
from booking_service.services.permissions import PermissionDenied
from booking_service.store.models import (
    AuditEntry,
    HoursOverride,
    ResourcePool,
    Room,
    TeamMember,
    User,
    WorkingHours,
)


@pytest.fixture
def admin(session) -> User:
    user = User(email="admin@example.com", name="Admin", zone="Europe/London", role="admin")
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def scheduler(session) -> User:
    user = User(email="sched@example.com", name="Sched", zone="Europe/London", role="scheduler")
    session.add(user)
    session.commit()
    return user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-17:00", [(540, 1020)]),
        ("13:00-17:30, 9-12", [(540, 720), (780, 1050)]),
        ("22:00-02:00 (next day)", [(1320, 1560)]),
        ("10pm-2am (next day)", [(1320, 1560)]),
        ("00:00-24:00", [(0, 1440)]),
        ("18:00-00:00", [(1080, 1440)]),
        ("", []),
        ("off", []),
        ("closed", []),
        ("Closed", []),
        # as people write them: the end before the start is the afternoon when that is the only reading
        ("9-5", [(540, 1020)]),
        ("9 to 5", [(540, 1020)]),
        ("8-6", [(480, 1080)]),
        ("12-1", [(720, 780)]),
        ("9am-5pm", [(540, 1020)]),
        ("9 a.m. - 5 p.m.", [(540, 1020)]),
        ("12am-12pm", [(0, 720)]),
        ("9-5pm", [(540, 1020)]),
        ("9:30–17:30", [(570, 1050)]),
        ("9:30-5:30", [(570, 1050)]),
        ("9h-17h30", [(540, 1050)]),
        ("6-14", [(360, 840)]),
        ("9-12, 13:00-17:00", [(540, 720), (780, 1020)]),
    ],
)
def test_parse_hours_reads_intervals(text, expected):
    assert team.parse_hours(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9 until", "is not an interval"),
        ("09:00-17:99", "is not a time of day"),
        ("13pm-14pm", "is not a time of day"),
        # ambiguous or backwards: refused with how it was read
        ("1-5", r"ambiguous: read as 01:00-05:00, it could also mean 13:00-17:00"),
        ("1-5pm", r"ambiguous: read as 01:00-17:00, it could also mean 13:00-17:00"),
        ("22:00-02:00", r"ends before it starts \(read as 22:00 to 02:00\).*'22:00-02:00 \(next day\)'"),
        ("10pm-2am", r"read as 22:00 to 02:00"),
        ("09:00-05:00", r"read as 09:00 to 05:00\) \(did you mean 09:00-17:00\?\)"),
        ("09:00-17:00 (next day)", "more than 24 hours"),
        ("ab:00-10:00", "is not a time"),
        ("09:00-12:00, 11:00-13:00", "overlap"),
        ("24:00-02:00", "starts at 24:00"),
    ],
)
def test_parse_hours_names_the_bad_text(text, message):
    with pytest.raises(team.TeamError, match=message):
        team.parse_hours(text)


def test_format_hours_is_the_inverse_of_parse():
    for text in ["09:00-12:00, 13:00-17:30", "22:00-02:00 (next day)", "00:00-24:00", "18:00-24:00"]:
        assert team.format_hours(team.parse_hours(text)) == text


def test_create_member_with_hours_and_audit(session, admin):
    member = team.create_member(
        session, " Ada ", "Europe/Berlin", email="ada@example.com",
        hours={0: "09:00-17:00", 4: "09:00-12:00, 13:00-15:00"}, by=admin,
    )
    session.commit()
    stored = session.scalars(select(TeamMember)).one()
    assert stored.name == "Ada" and stored.zone == "Europe/Berlin" and stored.email == "ada@example.com"
    assert team.weekly_hours(stored) == {0: [(540, 1020)], 1: [], 2: [], 3: [], 4: [(540, 720), (780, 900)], 5: [], 6: []}
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["member.created", "member.updated"]
    assert member.id == stored.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "zone": "Europe/Berlin"}, "name is empty"),
        ({"name": "Ada", "zone": "Mars/Olympus"}, "'Mars/Olympus' is not an IANA time zone"),
        ({"name": "Ada", "zone": "Europe/Berlin", "email": "ada@"}, "'ada@' is not an email address"),
        ({"name": "Ada", "zone": "Europe/Berlin", "hours": {0: "9-"}}, "is not an interval"),
    ],
)
def test_create_member_refuses_bad_input_and_writes_nothing(session, admin, kwargs, message):
    with pytest.raises(team.TeamError, match=message):
        team.create_member(session, by=admin, **kwargs)
    session.rollback()
    assert session.scalars(select(TeamMember)).all() == []


def test_only_admins_manage_the_team(session, scheduler):
    with pytest.raises(PermissionDenied, match="only an admin may add team members"):
        team.create_member(session, "Ada", "Europe/Berlin", by=scheduler)
    with pytest.raises(PermissionDenied):
        team.create_room(session, "Blue", "Europe/Berlin", 4, by=None)


def test_update_member_changes_only_what_differs(session, admin):
    member = team.create_member(session, "Ada", "Europe/Berlin", email="ada@example.com", by=admin)
    team.update_member(session, member.id, name="Ada", zone="Asia/Kolkata", email="", active=False, by=admin)
    session.commit()
    assert (member.zone, member.email, member.active) == ("Asia/Kolkata", None, False)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "member.updated")).one()
    assert entry.details == {"zone": "Asia/Kolkata", "email": None, "active": False}


def test_set_weekly_hours_replaces_the_old_rows(session, admin):
    member = team.create_member(session, "Ada", "Europe/Berlin", hours={0: "09:00-17:00"}, by=admin)
    team.set_weekly_hours(session, member.id, {1: [(600, 660)], 2: "22:00-06:00 (next day)", 3: [(1320, 1800)]}, by=admin)
    session.commit()
    rows = session.execute(select(WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute)).all()
    assert sorted(rows) == [(1, 600, 660), (2, 1320, 1800), (3, 1320, 1800)]
    with pytest.raises(team.TeamError, match="weekday 7"):
        team.set_weekly_hours(session, member.id, {7: "09:00-10:00"}, by=admin)
    with pytest.raises(team.TeamError, match="no team member or room with id 999"):
        team.set_weekly_hours(session, 999, {}, by=admin)


def test_rooms(session, admin):
    room = team.create_room(session, "Blue", "Europe/Berlin", 6, hours={0: "08:00-18:00"}, by=admin)
    team.update_room(session, room.id, capacity=8, by=admin)
    session.commit()
    assert session.scalars(select(Room)).one().capacity == 8
    with pytest.raises(team.TeamError, match="capacity 0 is less than 1"):
        team.update_room(session, room.id, capacity=0, by=admin)
    with pytest.raises(team.TeamError, match="there is no room with id 999"):
        team.update_room(session, 999, capacity=3, by=admin)


def test_pools(session, admin):
    a = team.create_member(session, "Ada", "Europe/Berlin", by=admin)
    b = team.create_member(session, "Bob", "Europe/Berlin", by=admin)
    pool = team.create_pool(session, "Sales", [a.id, b.id], "first calls", by=admin)
    session.commit()
    assert [m.name for m in pool.members] == ["Ada", "Bob"]
    with pytest.raises(team.TeamError, match="'Sales' exists already"):
        team.create_pool(session, "Sales", [a.id], by=admin)
    session.rollback()
    with pytest.raises(team.TeamError, match="at least one team member"):
        team.create_pool(session, "Empty", [], by=admin)
    with pytest.raises(team.TeamError, match="no team member with id 999"):
        team.update_pool(session, pool.id, member_ids=[999], by=admin)
    team.update_pool(session, pool.id, name="Sales EU", member_ids=[b.id], by=admin)
    session.commit()
    assert (pool.name, [m.name for m in pool.members]) == ("Sales EU", ["Bob"])
    team.delete_pool(session, pool.id, by=admin)
    session.commit()
    assert session.scalars(select(ResourcePool)).all() == []
    assert session.get(TeamMember, b.id) is not None
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "pool")).all()
    assert actions == ["pool.created", "pool.updated", "pool.deleted"]


def test_date_hours_replace_the_weekly_pattern_on_that_date(session, admin):
    member = team.create_member(session, "Ada", "Europe/Berlin", hours={0: "09:00-17:00"}, by=admin)
    holiday, late = dt.date(2026, 12, 25), dt.date(2026, 12, 28)
    team.set_date_hours(session, member.id, holiday, "off", note="public holiday", by=admin)
    team.set_date_hours(session, member.id, late, "12:00-20:00", by=admin)
    team.set_date_hours(session, member.id, late, "13:00-21:00, 22:00-23:00", by=admin)  # replaces
    session.commit()
    assert team.date_hours(member) == {holiday: [], late: [(780, 1260), (1320, 1380)]}
    rows = session.scalars(select(HoursOverride).where(HoursOverride.date == holiday)).all()
    assert [(r.start_minute, r.end_minute, r.note) for r in rows] == [(None, None, "public holiday")]
    team.clear_date_hours(session, member.id, holiday, by=admin)
    session.commit()
    assert list(team.date_hours(member)) == [late]
    with pytest.raises(team.TeamError, match="Ada has no special hours on 2026-12-25"):
        team.clear_date_hours(session, member.id, holiday, by=admin)
    with pytest.raises(team.TeamError, match="is not a time"):
        team.set_date_hours(session, member.id, holiday, "noon-ish", by=admin)


def test_date_hours_are_what_the_planner_reads(session, admin):
    from booking_service.store.loader import load_overrides

    member = team.create_member(session, "Ada", "Europe/Berlin", by=admin)
    team.set_date_hours(session, member.id, dt.date(2026, 12, 24), "", by=admin)
    session.commit()
    table = load_overrides(session)
    assert list(table["resource_id"]) == [str(member.id)] and list(table["date"]) == [dt.date(2026, 12, 24)]
    assert table["start"].isna().all() and table["end"].isna().all()  # unavailable all that date
