"""Team and rooms page: lists, adding and editing members, rooms and pools, refusals shown."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from booking_service.services import team
from booking_service.store.db import session_scope
from booking_service.store.models import ResourcePool, Room, TeamMember, User

from .conftest import open_page


def test_lists_members_rooms_and_pools(org):
    at = open_page(org, "team")
    frames = [df.value for df in at.dataframe]
    members, rooms, pools, policies = frames
    assert list(members["Name"]) == ["Ada", "Bob", "Nora Nohours"]
    assert members.loc[0, "Mon"] == "08:00-18:00" and members.loc[2, "Mon"] == "—"
    assert list(rooms["Room"]) == ["Blue room"] and rooms.loc[0, "Capacity"] == 6
    assert pools.loc[0, "Members"] == "Ada, Bob"
    assert list(policies["Member"]) == ["Ada", "Bob"]
    assert set(policies["Policy"]) == {"organisation default (pooled availability)"}
    assert set(policies["Panel"]) == {"1 of 2"} and set(policies["Target"]) == {"50%"}


def test_add_member_with_hours(org, engine):
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    at.text_input(key="add-member-email").input("cleo@example.com")
    at.selectbox(key="add-member-zone").select("Asia/Kolkata")
    at.text_input(key="add-member-hours-5").input("10:00-14:00")
    at.button(key="FormSubmitter:add-member-Add team member").click().run()
    assert not at.exception
    assert "Added Cleo." in [s.value for s in at.success]
    with session_scope(engine) as s:
        cleo = s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).one()
        assert cleo.zone == "Asia/Kolkata" and cleo.email == "cleo@example.com"
        assert team.weekly_hours(cleo)[5] == [(600, 840)]
        assert team.weekly_hours(cleo)[0] == [(540, 1020)]  # the Mon-Fri default


def test_bad_hours_are_refused_with_the_services_message(org, engine):
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    at.text_input(key="add-member-hours-0").input("9 to 5")
    at.button(key="FormSubmitter:add-member-Add team member").click().run()
    assert [e.value for e in at.error] == ["'9 to 5' is not an interval; write it like 09:00-17:00"]
    with session_scope(engine) as s:
        assert s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).all() == []


def test_edit_room_and_create_pool(org, engine):
    at = open_page(org, "team")
    at.number_input(key=f"edit-room-{org.blue}-cap").set_value(10)
    at.button(key=f"FormSubmitter:edit-room-{org.blue}-Save room").click().run()
    assert not at.exception
    at.text_input(key="add-pool-name").input("Support")
    at.multiselect(key="add-pool-members").select(org.bob)
    at.button(key="FormSubmitter:add-pool-Create pool").click().run()
    assert "Created pool Support." in [s.value for s in at.success]
    with session_scope(engine) as s:
        assert s.get(Room, org.blue).capacity == 10
        pool = s.scalars(select(ResourcePool).where(ResourcePool.name == "Support")).one()
        assert [m.id for m in pool.members] == [org.bob]


def test_a_scheduler_is_refused_by_the_service(org, engine):
    with session_scope(engine) as s:
        s.get(User, org.admin_id).role = "scheduler"
    at = open_page(org, "team")
    assert "Only an admin can change the team, rooms and pools." in [c.value for c in at.caption]
    at.text_input(key="add-member-name").input("Cleo")
    at.button(key="FormSubmitter:add-member-Add team member").click().run()
    assert [e.value for e in at.error] == ["only an admin may add team members; sam@example.com (scheduler) may not"]


def test_a_day_off_and_back_to_the_weekly_pattern(org, engine):
    day = dt.date(2026, 12, 25)
    at = open_page(org, "team")
    at.selectbox(key="member-dates-pick").select(org.ada).run()
    assert "Ada follows the weekly pattern on every date." in [c.value for c in at.caption]
    at.date_input(key=f"member-dates-{org.ada}-day").set_value(day)
    at.text_input(key=f"member-dates-{org.ada}-note").input("Christmas")
    at.button(key=f"FormSubmitter:member-dates-{org.ada}-Save this date").click().run()
    assert not at.exception, at.exception
    assert "Saved 25 Dec 2026 for Ada." in [s.value for s in at.success]
    special = next(df.value for df in at.dataframe if "Date" in df.value.columns)
    assert special.to_dict("records") == [{"Date": day, "Hours": "unavailable"}]
    with session_scope(engine) as s:
        assert team.date_hours(s.get(TeamMember, org.ada)) == {day: []}
    at.date_input(key=f"member-dates-{org.ada}-day").set_value(day)
    at.button(key=f"FormSubmitter:member-dates-{org.ada}-Back to the weekly pattern on this date").click().run()
    assert "Ada follows the weekly pattern on 25 Dec 2026 again." in [s.value for s in at.success]
    with session_scope(engine) as s:
        assert team.date_hours(s.get(TeamMember, org.ada)) == {}
