"""why_no_slots: the cause of zero slots in plain words, checked against each cause on its own."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from planner.analytics import why_no_slots

from .helpers import MON, make_tables, request

WEEKDAYS = range(5)
SAT, SUN = MON + dt.timedelta(days=5), MON + dt.timedelta(days=6)


def _team(**extra_hours):
    """Ann and Bob in London, Mon-Fri 09:00-17:00; Raj in New York the same; Nia has no hours."""
    hours = [(m, d, 540, 1020) for m in ("ann", "bob", "raj") for d in WEEKDAYS]
    return make_tables(
        resources=[("ann", "member", "Europe/London", 1), ("bob", "member", "Europe/London", 1),
                   ("raj", "member", "America/New_York", 1), ("nia", "member", "Europe/London", 1),
                   ("blue", "room", "Europe/London", 2)],
        hours=hours + [("blue", d, 0, 1440) for d in range(7)],
        busy=extra_hours.get("busy", ()),
    )


def test_a_request_with_slots_needs_no_explanation():
    assert why_no_slots(_team(), request(members=("ann", "bob"))) == []


def test_nobody_works_on_the_days_of_the_frame():
    reasons = why_no_slots(_team(), request(members=("ann", "bob"), frame_start=SAT, frame_end=SUN))
    assert reasons == ["Nobody on this team works on Saturdays and Sundays (Europe/London)."]


def test_a_member_without_working_hours_is_named():
    reasons = why_no_slots(_team(), request(members=("ann", "nia")))
    assert reasons == ["NIA has no working hours set (Europe/London): add them under Team and rooms."]


def test_hours_that_do_not_overlap_are_shown_side_by_side():
    # London 09:00-17:00 is 04:00-12:00 in New York: three hours overlap, not four.
    reasons = why_no_slots(_team(), request(members=("ann", "raj"), duration=pd.Timedelta(hours=4)))
    assert reasons == [
        "The team's working hours do not overlap by 4 hours: on Mondays ANN 09:00-17:00 (Europe/London) and "
        "RAJ 09:00-17:00 (America/New_York). A pool instead of one of them, or a shorter meeting, may help."
    ]


def test_a_room_too_small_is_the_cause():
    reasons = why_no_slots(_team(), request(members=("ann",), rooms=("blue",), min_capacity=6))
    assert reasons[0].startswith("No listed room with at least 6 seats is open when the team works: BLUE.")


def test_notice_longer_than_the_frame():
    now = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    reasons = why_no_slots(_team(), request(members=("ann",), now=now, minimum_notice=pd.Timedelta(hours=12)))
    assert reasons == [
        "The minimum notice of 12 hours leaves no working time in this frame: the earliest start is "
        "Mon 02 Nov 20:00 (Europe/London). Lower the notice or move the frame later."
    ]


def test_full_calendars_come_last():
    busy = [("ann", "2026-11-02 09:00", "2026-11-02 17:00", "calendar")]
    reasons = why_no_slots(_team(busy=busy), request(members=("ann", "bob")))
    assert reasons == [
        "ANN and BOB work at these times, but their calendars are full: every time they all work is already "
        "taken by a meeting or busy time. Widen the frame or free some time."
    ]


def test_a_panel_short_of_members_who_work_is_named():
    # Two of Ann and Nia are needed, and Nia has no hours: the panel cannot meet.
    reasons = why_no_slots(_team(), request(members=("bob",), pools=(("ann", "nia"),), pool_k=(2,)))
    assert reasons == [
        "NIA has no working hours set (Europe/London): add them under Team and rooms.",
        "Only 1 of the pool (ANN and NIA) works in this frame; 2 are needed.",
    ]
