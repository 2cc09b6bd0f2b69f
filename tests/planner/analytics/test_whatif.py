"""What-if scenarios and bottlenecks on small hand-built organisations, with the expected numbers written out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import planner
from planner.analytics import (
    AddPoolMember,
    AddRoom,
    AlwaysFree,
    ChangeRequest,
    ExtendHours,
    apply_changes,
    bottleneck_summary,
    bottlenecks,
    what_if,
    what_if_table,
)
from planner.analytics.whatif import main_zone
from planner.errors import PlannerInputError
from tests.planner.analytics.helpers import MON, ORG, TEAM, make_tables, request, ts

# --- what-if changes ----------------------------------------------------------------------


def test_add_room_copies_the_first_rooms_hours_and_zone():
    req = request(rooms=("blue",))
    tables, changed = apply_changes(ORG, req, [AddRoom(capacity=10)])

    assert changed.rooms == ("blue", "new-room-1")
    new = tables.resources.iloc[-1]
    assert (new["resource_id"], new["kind"], new["zone"], new["capacity"]) == ("new-room-1", "room", "Europe/London", 10)
    assert tables.hours.loc[tables.hours["resource_id"] == "new-room-1", ["weekday", "start", "end"]].values.tolist() == [
        [0, 420, 1140]
    ]
    assert len(ORG.resources) == 3  # input untouched


def test_add_room_without_rooms_in_the_request_needs_a_model():
    with pytest.raises(PlannerInputError, match="like="):
        apply_changes(ORG, request(), [AddRoom(capacity=4)])


def test_add_pool_member_joins_the_pool_with_its_first_members_hours():
    req = request(members=(), pools=(("bob",),))
    tables, changed = apply_changes(ORG, req, [AddPoolMember(pool=0, member_id="zed")])

    assert changed.pools == (("bob", "zed"),)
    assert tables.hours.loc[tables.hours["resource_id"] == "zed", ["start", "end"]].values.tolist() == [
        [480, 720],
        [780, 960],
    ]
    assert tables.resources.set_index("resource_id").loc["zed", "zone"] == "Europe/Berlin"
    with pytest.raises(PlannerInputError, match="pool=1"):
        apply_changes(ORG, req, [AddPoolMember(pool=1)])
    with pytest.raises(PlannerInputError, match="'bob' already exists"):
        apply_changes(ORG, req, [AddPoolMember(member_id="bob")])


def test_extend_hours_moves_weekly_and_dated_hours_and_clamps():
    req = request(members=("bob",))
    tables, _ = apply_changes(
        ORG, req, [ExtendHours(earlier=pd.Timedelta(hours=9), later=pd.Timedelta(minutes=30))]
    )
    bob = tables.hours.loc[tables.hours["resource_id"] == "bob", ["start", "end"]].values.tolist()
    assert bob == [[0, 750], [240, 990]]  # 08:00 - 9 h clamps at midnight
    assert tables.overrides.loc[tables.overrides["resource_id"] == "bob", ["start", "end"]].values.tolist() == [[60, 690]]
    # Ann is not in the request: unchanged, and her "unavailable" override stays unavailable.
    assert tables.hours.loc[tables.hours["resource_id"] == "ann", ["start", "end"]].values.tolist() == [[540, 1020]]
    assert tables.overrides.loc[tables.overrides["resource_id"] == "ann", "start"].isna().all()


def test_extend_hours_keeps_an_interval_within_a_day():
    tables, _ = apply_changes(ORG, request(), [ExtendHours(later=pd.Timedelta(hours=20))])
    assert tables.hours.loc[tables.hours["resource_id"] == "ann", ["start", "end"]].values.tolist() == [[540, 1980]]


def test_change_request_validates_again():
    _, changed = apply_changes(ORG, request(), [ChangeRequest(duration=pd.Timedelta(minutes=30))])
    assert changed.duration == pd.Timedelta(minutes=30)
    with pytest.raises(PlannerInputError, match="interval"):
        apply_changes(ORG, request(), [ChangeRequest(interval=pd.Timedelta(minutes=7))])


def test_always_free_removes_busy_overrides_and_opens_every_day():
    tables, _ = apply_changes(ORG, request(), [AlwaysFree("ann")])
    assert tables.busy.empty
    assert tables.overrides["resource_id"].tolist() == ["bob"]
    ann = tables.hours.loc[tables.hours["resource_id"] == "ann"]
    assert ann["weekday"].tolist() == list(range(7))
    assert set(zip(ann["start"], ann["end"], strict=True)) == {(0, 1440)}
    with pytest.raises(PlannerInputError, match="'nobody'"):
        apply_changes(ORG, request(), [AlwaysFree("nobody")])


def test_apply_changes_refuses_what_is_not_a_change():
    with pytest.raises(PlannerInputError, match="not a what-if change"):
        apply_changes(ORG, request(), ["add a room"])


# --- counting scenarios: one London Monday (UTC+0), hourly slots ---------------------------

# Ann alone: 09, 10, 11, 13, 14, 15, 16 -> 7 slots.
ANN = request()
# Ann with one of Bob (09, 11) or Cat (13-16): 09, 11, 13, 14, 15, 16 -> 6 slots.
ANN_AND_POOL = request(pools=(("bob", "cat"),))
# Ann and the blue room (free 10-18): 10, 11, 13, 14, 15, 16 -> 6 slots.
ANN_IN_BLUE = request(rooms=("blue",), min_capacity=4)


def test_counts_of_the_hand_built_requests():
    # The expected numbers above, straight from the engine: the analytics build on them.
    assert what_if(TEAM, ANN).starts_before == 7
    assert what_if(TEAM, ANN_AND_POOL).starts_before == 6
    assert what_if(TEAM, ANN_IN_BLUE).starts_before == 6


@pytest.mark.parametrize(
    ("req", "changes", "before", "after"),
    [
        # A pool member like Cat (13-17) adds nothing: Ann's afternoon is already covered.
        (ANN_AND_POOL, [AddPoolMember(like="cat")], 6, 6),
        # A pool member like Ann (09-17, free) covers 10:00 too.
        (ANN_AND_POOL, [AddPoolMember(like="ann")], 6, 7),
        # One more hour for Ann and Cat: 17:00 becomes a slot.
        (ANN_AND_POOL, [ExtendHours(later=pd.Timedelta(hours=1), resource_ids=("ann", "cat"))], 6, 7),
        # Half-hour meetings every half hour: Bob 09:00, 09:30, 11:00, 11:30; Cat 13:00-16:30 (8).
        (ANN_AND_POOL, [ChangeRequest(duration=pd.Timedelta(minutes=30), interval=pd.Timedelta(minutes=30))], 6, 12),
        # Hour meetings every half hour: Bob 09:00, 11:00; Cat 13:00-16:00 (7).
        (ANN_AND_POOL, [ChangeRequest(interval=pd.Timedelta(minutes=30))], 6, 9),
        # A second room open 08-18 and free: 09:00 becomes possible.
        (ANN_IN_BLUE, [AddRoom(capacity=8)], 6, 7),
        # ... but not if it is too small for the meeting.
        (ANN_IN_BLUE, [AddRoom(capacity=2)], 6, 6),
        # Scenarios combine in order.
        (ANN_IN_BLUE, [AddRoom(capacity=8), ExtendHours(earlier=pd.Timedelta(hours=1))], 6, 8),
    ],
)
def test_what_if_before_and_after(req, changes, before, after):
    result = what_if(TEAM, req, *changes, meetings=False)
    assert (result.starts_before, result.starts_after, result.starts_gained) == (before, after, after - before)


def test_what_if_table_lists_each_scenario():
    table = what_if_table(
        TEAM,
        ANN_AND_POOL,
        {
            "pool member like Ann": AddPoolMember(like="ann"),
            "half-hour meetings": [ChangeRequest(duration=pd.Timedelta(minutes=30), interval=pd.Timedelta(minutes=30))],
        },
    )
    assert table.to_dict("records") == [
        {"scenario": "pool member like Ann", "meetings_before": 6, "meetings_after": 7, "meetings_gained": 1,
         "starts_before": 6, "starts_after": 7, "starts_gained": 1},
        {"scenario": "half-hour meetings", "meetings_before": 6, "meetings_after": 12, "meetings_gained": 6,
         "starts_before": 6, "starts_after": 12, "starts_gained": 6},
    ]


@pytest.mark.parametrize(
    ("req", "changes", "meetings", "starts"),
    [
        # Ann alone, hourly starts: 09-12 and 13-17 free, 7 starts and 7 meetings back to back.
        # Starts every 15 minutes: three times the starts (09:00-11:00, 13:00-16:00), the same meetings.
        (ANN, [ChangeRequest(interval=pd.Timedelta(minutes=15))], (7, 7), (7, 22)),
        # Starts every 30 minutes with the pool: 3 more starts (13:30, 14:30, 15:30), no more meetings.
        (ANN_AND_POOL, [ChangeRequest(interval=pd.Timedelta(minutes=30))], (6, 6), (6, 9)),
        # Ann's 10:00 needs a second pool member: one more meeting and one more start.
        (ANN_AND_POOL, [AddPoolMember(like="ann")], (6, 7), (6, 7)),
        # 15 minutes after each meeting: starts 09, 10, 13-16 (11:00 would run its buffer into
        # 12:00 busy); packed, each meeting's buffer takes the next hourly start
        # (09:00, 13:00, 15:00 fit), so meetings drop more than starts.
        (ANN, [ChangeRequest(buffer_after=pd.Timedelta(minutes=15))], (7, 3), (7, 6)),
    ],
)
def test_what_if_reports_meetings_that_fit_and_starts(req, changes, meetings, starts):
    result = what_if(TEAM, req, *changes)
    assert (result.meetings_before, result.meetings_after) == meetings
    assert (result.starts_before, result.starts_after) == starts
    assert result.meetings_gained == meetings[1] - meetings[0]
    assert "meetings" in repr(result) and "starts" in repr(result)
    assert "meetings that fit" in result._repr_html_()


def test_templates_may_be_any_resource_of_the_organisation():
    # Cat and the green room are in the organisation, not in the request.
    req = request(pools=(("bob",),), rooms=("blue",), min_capacity=4)
    member = what_if(TEAM, req, AddPoolMember(like="cat"), meetings=False)
    assert member.starts_after > member.starts_before
    room = what_if(TEAM, req, AddRoom(capacity=8, like="green"), meetings=False)
    assert room.starts_after >= room.starts_before
    table = what_if_table(TEAM, req, {"like Cat": AddPoolMember(like="cat")}, meetings=False)
    assert table["starts_after"].iloc[0] == member.starts_after
    with pytest.raises(PlannerInputError, match="unknown resource_id 'nobody'.*organisation"):
        what_if(TEAM, req, AddPoolMember(like="nobody"))


def test_add_member_default_copies_a_member_in_the_main_zone():
    # Two London members and one in Berlin: a pool listing the Berlin member first copies Ann.
    org = make_tables(
        [("ann", "member", "Europe/London", 1), ("dan", "member", "Europe/London", 1),
         ("bob", "member", "Europe/Berlin", 1)],
        [("ann", 0, 540, 1020), ("dan", 0, 540, 1020), ("bob", 0, 480, 720)],
    )
    tables, _ = apply_changes(org, request(members=(), pools=(("bob", "ann"),)), AddPoolMember())
    assert tables.resources.set_index("resource_id").loc["new-member-1", "zone"] == "Europe/London"
    assert main_zone(org) == "Europe/London"


def test_apply_changes_result_serves_every_planner_function():
    changed, req = apply_changes(TEAM, ANN_IN_BLUE, [AddRoom(capacity=8)])
    assert planner.count_slots(req, changed.resources, changed.hours, changed.busy, changed.overrides) == 7
    assert planner.utilization(changed, MON, MON, resource_ids=[req.rooms[-1]])["free"].tolist() == [10.0]


@pytest.mark.parametrize("bad", [30, 30.0, np.int64(30)])
def test_a_bare_number_is_not_a_duration(bad):
    with pytest.raises(PlannerInputError, match=r"give a Timedelta or minutes=\.\.\."):
        request(duration=bad)
    with pytest.raises(PlannerInputError, match="give a Timedelta"):
        apply_changes(TEAM, ANN, ExtendHours(later=bad))


def test_bottlenecks_of_a_member_alone():
    (row,) = bottlenecks(TEAM, ANN).to_dict("records")
    # Always free, Ann could meet at any of the 24 hours of the Monday.
    assert row == {
        "resource_id": "ann", "name": "ANN", "kind": "member", "role": "required member", "size": 1,
        "slots": 7, "slots_if_free": 24, "gained": 17, "one_more": 0,
    }


def test_bottlenecks_say_the_pool_is_the_bottleneck_when_its_members_tie():
    table = bottlenecks(TEAM, ANN_AND_POOL)
    # Bob or Cat always free each covers 10:00: one pool row, not two equal ones. Its busiest
    # member is Bob (busy 10-11); one more member with Bob's hours (09-12, free) covers 10:00 too.
    assert table[["resource_id", "kind", "role", "size", "slots", "gained", "one_more"]].values.tolist() == [
        ["bob", "pool", "pool", 2, 6, 1, 1],
        ["ann", "member", "required member", 1, 6, 0, 0],
    ]
    assert bottleneck_summary(table) == (
        "The pool (2 members, BOB, CAT) is the bottleneck: freeing any one member changes the same "
        "(+1 slots); one more member like the busiest would give 7 slots instead of 6."
    )


def test_bottlenecks_with_calendars_cleared_keep_working_hours():
    (row,) = bottlenecks(TEAM, ANN, keep_hours=True).to_dict("records")
    assert (row["slots"], row["slots_if_free"]) == (7, 8)  # 12:00 opens up; nothing outside 09-17
    table = bottlenecks(TEAM, ANN_AND_POOL, keep_hours=True)
    assert table[["resource_id", "gained"]].values.tolist() == [["bob", 1], ["ann", 0], ["cat", 0]]
    assert bottleneck_summary(table, keep_hours=True) == (
        "BOB (pool) limits this request most: with an empty calendar, there would be 7 slots instead of 6."
    )


def test_bottlenecks_with_rooms_ignore_rooms_too_small():
    req = request(rooms=("blue", "green", "tiny"), min_capacity=4)
    table = bottlenecks(TEAM, req).set_index("resource_id")
    assert table.loc["ann", ["slots", "slots_if_free"]].tolist() == [7, 10]  # rooms open 08-18
    assert table.loc[["blue", "green", "tiny"], "gained"].tolist() == [0, 0, 0]
    assert table.loc["tiny", "role"] == "room"


def test_bottleneck_summary_names_the_tightest_or_says_none_is():
    # Bob (09-12) and Cat (13-17) never overlap: no slot at all.
    req = request(members=("bob", "cat"))
    table = bottlenecks(TEAM, req)
    assert table["slots"].iloc[0] == 0
    # Cat always free meets Bob's 09 and 11; Bob always free meets Cat's 13-16.
    assert dict(zip(table["resource_id"], table["gained"], strict=True)) == {"cat": 2, "bob": 4}
    assert bottleneck_summary(table).startswith("BOB (required member) limits this request most")
    assert bottleneck_summary(table.assign(gained=0)).startswith("No single team member or room limits")
    assert bottleneck_summary(table.iloc[0:0]) == "The request names no team member or room."


# --- property: freeing a resource never costs a slot ----------------------------------------

ZONES = ("Europe/London", "Asia/Kolkata", "America/New_York")
IDS = ("m0", "m1", "m2", "r0", "r1")


@st.composite
def organisations_and_requests(draw):
    resources = [(rid, "member" if rid.startswith("m") else "room", draw(st.sampled_from(ZONES)),
                  1 if rid.startswith("m") else draw(st.integers(2, 10))) for rid in IDS]
    hours = []
    for rid in IDS:
        for _ in range(draw(st.integers(0, 3))):
            start = draw(st.integers(0, 47)) * 30
            # Mostly the frame's weekdays (Monday, Tuesday), so that slots exist to lose.
            hours.append((rid, draw(st.integers(0, 2)), start, start + draw(st.integers(1, 40)) * 30))
    busy = []
    for rid in IDS:
        for _ in range(draw(st.integers(0, 4))):
            start = ts("2026-11-01 12:00") + pd.Timedelta(minutes=draw(st.integers(0, 4 * 1440)))
            end = start + pd.Timedelta(minutes=draw(st.integers(1, 240)))
            busy.append((rid, str(start), str(end), draw(st.sampled_from(["calendar", "reservation"]))))
    overrides = []
    if draw(st.booleans()):
        start = draw(st.integers(0, 40)) * 30
        overrides.append((draw(st.sampled_from(IDS)), MON, *draw(st.sampled_from([(None, None), (start, start + 240)]))))
    org = make_tables(resources, hours, busy, overrides)
    members = tuple(draw(st.lists(st.sampled_from(IDS[:3]), max_size=2, unique=True)))
    pool = tuple(draw(st.lists(st.sampled_from(IDS[:3]), max_size=3, unique=True)))
    rooms = tuple(draw(st.lists(st.sampled_from(IDS[3:]), max_size=2, unique=True)))
    req = request(
        members=members,
        pools=(pool,) if pool else (),
        rooms=rooms,
        min_capacity=draw(st.integers(1, 6)),
        duration=pd.Timedelta(minutes=draw(st.sampled_from([15, 30, 60, 90]))),
        buffer_before=pd.Timedelta(minutes=draw(st.sampled_from([0, 5, 15]))),
        buffer_after=pd.Timedelta(minutes=draw(st.sampled_from([0, 10]))),
        interval=pd.Timedelta(minutes=draw(st.sampled_from([15, 30, 60]))),
        frame_end=MON + dt.timedelta(days=1),
        zone=draw(st.sampled_from(ZONES)),
    )
    return org, req


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(organisations_and_requests())
def test_making_a_resource_always_free_never_lowers_the_count(case):
    org, req = case
    involved = [*req.all_members, *req.rooms]
    assume(involved)
    for rid in involved:
        result = what_if(org, req, AlwaysFree(rid), meetings=False)
        assert result.starts_after >= result.starts_before, (rid, result)
        cleared = what_if(org, req, AlwaysFree(rid, keep_hours=True), meetings=False)
        assert (
            result.starts_after >= cleared.starts_after >= cleared.starts_before == result.starts_before
        ), (rid, result, cleared)
    # The bottleneck table reports the same counts.
    table = bottlenecks(org, req)
    assert (table["gained"] >= 0).all()
    rows = table.loc[table["kind"] != "pool", "resource_id"].tolist()
    pooled = [m for m in req.all_members if m not in req.members] if (table["kind"] == "pool").any() else []
    assert sorted(rows + pooled) == sorted(set(involved))
    # Meetings that fit never exceed the starts times the meetings one start can hold: one when
    # members are required (each attends every meeting), else as many as the pools and rooms can
    # hold at once (two rooms and no members: two meetings at every start).
    at_once = [len(pool) // k for pool, k in zip(req.pools, req.pool_k, strict=True)]
    at_once += [len(req.rooms)] if req.rooms else []
    both = what_if(org, req)
    assert 0 <= both.meetings_before <= both.starts_before * (1 if req.members else min(at_once))
