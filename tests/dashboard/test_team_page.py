"""Team and rooms page: lists, adding and editing members, rooms and pools, refusals shown."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from booking_service.services import team
from booking_service.store.db import session_scope
from booking_service.store.models import ResourcePool, Room, TeamMember, User
from dashboard import state

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
    at.text_input(key="add-member-hours-5").input("10am-2pm").run()
    # What was typed is read back before anything is saved.
    assert "Read as **10:00-14:00**" in [c.value for c in at.caption]
    at.button(key="add-member-save").click().run()
    assert not at.exception
    assert "Added Cleo." in [s.value for s in at.success]
    with session_scope(engine) as s:
        cleo = s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).one()
        assert cleo.zone == "Asia/Kolkata" and cleo.email == "cleo@example.com"
        assert team.weekly_hours(cleo)[5] == [(600, 840)]
        assert team.weekly_hours(cleo)[0] == [(540, 1020)]  # the Mon-Fri default


def test_an_added_member_empties_the_form_and_a_refused_one_keeps_it(org, engine):
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    at.text_input(key="add-member-hours-5").input("10am-2pm")
    at.button(key="add-member-save").click().run()
    assert "Added Cleo." in [s.value for s in at.success]
    assert at.text_input(key="add-member-name").value == ""
    assert [at.text_input(key=f"add-member-hours-{d}").value for d in range(7)] == ["09:00-17:00"] * 5 + ["", ""]
    # A refusal is shown under the button, and what was typed stays for the correction.
    at.text_input(key="add-member-name").input("Dan")
    at.text_input(key="add-member-email").input("not an address")
    at.button(key="add-member-save").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "not an address" in at.error[0].value
    assert at.text_input(key="add-member-name").value == "Dan"
    at.run()
    assert not at.error  # shown once
    # Rooms and pools alike.
    at.text_input(key="add-room-name").input("Green room")
    at.number_input(key="add-room-capacity").set_value(8)
    at.button(key="add-room-save").click().run()
    assert "Added Green room." in [s.value for s in at.success]
    assert at.text_input(key="add-room-name").value == "" and at.number_input(key="add-room-capacity").value == 4
    at.button(key="FormSubmitter:add-pool-Create pool").click().run()
    assert [e.value for e in at.error] == ["Pool name is empty; enter a name"]
    with session_scope(engine) as s:
        assert s.scalars(select(Room).where(Room.name == "Green room")).one().capacity == 8
        assert s.scalars(select(TeamMember).where(TeamMember.name == "Dan")).first() is None


def test_a_second_click_just_after_the_first_added_is_not_another_member(org, engine, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)  # however slow the machine
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    at.button(key="add-member-save").click().run()
    assert at.text_input(key="add-member-name").value == ""  # emptied for the next one
    # The second click of a double click, after the first had acted: it brings the form as the
    # browser still showed it.
    at.text_input(key="add-member-name").input("Cleo")
    at.button(key="add-member-save").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Added Cleo."] and not at.error
    with session_scope(engine) as s:
        assert len(s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).all()) == 1


def test_hours_are_read_as_people_write_them_and_shown_before_saving(org, engine):
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    for day, typed in enumerate(["9-5", "9am-5pm", "09:00-17:00", "9:30–17:30", "closed", "22:00-02:00 (next day)", ""]):
        at.text_input(key=f"add-member-hours-{day}").input(typed)
    at.run()
    readings = [c.value for c in at.caption if c.value.startswith("Read as")]
    assert readings[:7] == ["Read as **09:00-17:00**", "Read as **09:00-17:00**", "Read as **09:00-17:00**",
                            "Read as **09:30-17:30**", "Read as **closed**", "Read as **22:00-02:00 (next day)**",
                            "Read as **closed**"]
    assert not at.error and not at.button(key="add-member-save").disabled
    at.button(key="add-member-save").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        cleo = s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).one()
        assert team.weekly_hours(cleo) == {0: [(540, 1020)], 1: [(540, 1020)], 2: [(540, 1020)], 3: [(570, 1050)],
                                           4: [], 5: [(1320, 1560)], 6: []}


def test_nine_to_five_is_never_a_twenty_hour_day(org, engine):
    at = open_page(org, "team")
    at.selectbox(key="edit-member-pick").select(org.ada).run()
    at.text_input(key=f"edit-member-{org.ada}-hours-0").input("9-5").run()
    assert "Read as **09:00-17:00**" in [c.value for c in at.caption]
    at.button(key=f"edit-member-{org.ada}-save").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert team.weekly_hours(s.get(TeamMember, org.ada))[0] == [(540, 1020)]
    # After saving, the form shows what was stored.
    assert at.text_input(key=f"edit-member-{org.ada}-hours-0").value == "09:00-17:00"


def test_ambiguous_or_backwards_hours_are_refused_with_how_they_were_read(org, engine):
    at = open_page(org, "team")
    at.text_input(key="add-member-name").input("Cleo")
    at.text_input(key="add-member-hours-0").input("22:00-02:00")
    at.text_input(key="add-member-hours-1").input("1-5").run()
    errors = [e.value for e in at.error]
    assert errors == [
        "Monday: '22:00-02:00' ends before it starts (read as 22:00 to 02:00). For a shift past midnight write "
        "'22:00-02:00 (next day)'; otherwise write the end on the 24-hour clock, like 09:00-17:00",
        "Tuesday: '1-5' is ambiguous: read as 01:00-05:00, it could also mean 13:00-17:00; write it on the "
        "24-hour clock or with am/pm",
    ]
    assert at.button(key="add-member-save").disabled  # nothing to save until every day reads
    with session_scope(engine) as s:
        assert s.scalars(select(TeamMember).where(TeamMember.name == "Cleo")).all() == []


def test_edit_room_and_create_pool(org, engine):
    at = open_page(org, "team")
    at.number_input(key=f"edit-room-{org.blue}-cap").set_value(10).run()
    at.button(key=f"edit-room-{org.blue}-save").click().run()
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
    at.text_input(key="add-member-name").input("Cleo").run()
    at.button(key="add-member-save").click().run()
    assert [e.value for e in at.error] == ["only an admin may add team members; sam@example.com (scheduler) may not"]


def test_a_day_off_and_back_to_the_weekly_pattern(org, engine):
    day = dt.date(2026, 12, 25)
    at = open_page(org, "team")
    at.selectbox(key="member-dates-pick").select(org.ada).run()
    assert "Ada follows the weekly pattern on every date." in [c.value for c in at.caption]
    at.date_input(key=f"member-dates-{org.ada}-day").set_value(day)
    at.text_input(key=f"member-dates-{org.ada}-note").input("Christmas").run()
    assert "Read as **unavailable all day**" in [c.value for c in at.caption]
    at.button(key=f"member-dates-{org.ada}-save").click().run()
    assert not at.exception, at.exception
    assert "Saved 25 Dec 2026 for Ada." in [s.value for s in at.success]
    special = next(df.value for df in at.dataframe if "Date" in df.value.columns)
    assert special.to_dict("records") == [{"Date": day, "Hours": "unavailable"}]
    with session_scope(engine) as s:
        assert team.date_hours(s.get(TeamMember, org.ada)) == {day: []}
    at.date_input(key=f"member-dates-{org.ada}-day").set_value(day).run()
    at.button(key=f"member-dates-{org.ada}-clear").click().run()
    assert "Ada follows the weekly pattern on 25 Dec 2026 again." in [s.value for s in at.success]
    with session_scope(engine) as s:
        assert team.date_hours(s.get(TeamMember, org.ada)) == {}


def test_deleting_a_pool_asks_first(org, engine):
    at = open_page(org, "team")
    at.selectbox(key="edit-pool-pick").select(org.sales).run()
    at.button(key=f"delete-pool-{org.sales}").click().run()
    assert "Delete the pool **Sales** (Ada, Bob)?" in at.markdown[-1].value
    at.button(key="delete-pool-keep").click().run()
    with session_scope(engine) as s:
        assert s.get(ResourcePool, org.sales) is not None
    at.button(key=f"delete-pool-{org.sales}").click().run()
    at.button(key="delete-pool-confirm").click().run()
    assert not at.exception, at.exception
    assert "Deleted pool Sales." in [s.value for s in at.success]
    with session_scope(engine) as s:
        assert s.get(ResourcePool, org.sales) is None
