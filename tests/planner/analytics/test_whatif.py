"""What-if scenarios and bottlenecks on small hand-built organisations, with the expected numbers written out."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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
    assert what_if(TEAM, ANN).before == 7
    assert what_if(TEAM, ANN_AND_POOL).before == 6
    assert what_if(TEAM, ANN_IN_BLUE).before == 6


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
    result = what_if(TEAM, req, *changes)
    assert (result.before, result.after, result.gained) == (before, after, after - before)


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
        {"scenario": "pool member like Ann", "before": 6, "after": 7, "gained": 1},
        {"scenario": "half-hour meetings", "before": 6, "after": 12, "gained": 6},
    ]


def test_bottlenecks_of_a_member_alone():
    (row,) = bottlenecks(TEAM, ANN).to_dict("records")
    # Always free, Ann could meet at any of the 24 hours of the Monday.
    assert row == {
        "resource_id": "ann", "name": "ANN", "kind": "member", "role": "required member",
        "slots": 7, "slots_if_free": 24, "gained": 17,
    }


def test_bottlenecks_rank_the_pool_members_above_the_member():
    table = bottlenecks(TEAM, ANN_AND_POOL)
    assert table[["resource_id", "role", "slots", "slots_if_free", "gained"]].values.tolist() == [
        ["bob", "pool", 6, 7, 1],  # Bob always free covers 10:00
        ["cat", "pool", 6, 7, 1],  # so would Cat
        ["ann", "required member", 6, 6, 0],  # Ann free at 12:00 still finds no pool member
    ]
    assert bottleneck_summary(table) == (
        "BOB (pool) and CAT (pool) each limit this request most: always free, there would be 7 slots instead of 6."
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
        result = what_if(org, req, AlwaysFree(rid))
        assert result.after >= result.before, (rid, result)
        cleared = what_if(org, req, AlwaysFree(rid, keep_hours=True))
        assert result.after >= cleared.after >= cleared.before == result.before, (rid, result, cleared)
    # The bottleneck table reports the same counts.
    table = bottlenecks(org, req)
    assert (table["gained"] >= 0).all()
    assert sorted(table["resource_id"]) == sorted(set(involved))
