"""Contention between invitations, on hand-built slot tables and through the engine."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from planner import SlotRequest
from planner.analytics import contention, invitation_contention, invitation_requests
from planner.errors import PlannerInputError
from tests.planner.analytics.helpers import MON, NOW, TEAM, ts

# --- contention ------------------------------------------------------------------------------


def slots(rows: list[tuple[str, int, tuple, tuple, tuple]]) -> pd.DataFrame:
    """Slot rows (start, minutes, members, pool_members, rooms) as find_slots returns them."""
    start = pd.DatetimeIndex([ts(r[0]) for r in rows], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "start": start,
            "end": start + pd.to_timedelta([r[1] for r in rows], unit="min"),
            "members": [r[2] for r in rows],
            "pool_members": [r[3] for r in rows],
            "rooms": [r[4] for r in rows],
        }
    )


def test_contention_counts_invitations_per_resource_hour():
    a = slots(
        [
            ("2026-11-02 09:00", 30, ("ann",), (("bob", "cat"),), ("blue",)),
            ("2026-11-02 09:30", 30, ("ann",), (("bob",),), ()),  # same hour again: still one invitation
        ]
    )
    b = slots([("2026-11-02 09:45", 30, (), (("cat",),), ("blue",))])  # crosses into 10:00
    c = slots([("2026-11-02 10:00", 60, ("ann",), (), ())])  # starts exactly at 10:00

    table = contention({"A": a, "B": b, "C": c})

    got = {(r.resource_id, r.hour.hour): (r.invitations, r.invitation_ids) for r in table.itertuples()}
    assert got == {
        ("ann", 9): (1, ("A",)),
        ("bob", 9): (1, ("A",)),
        ("cat", 9): (2, ("A", "B")),
        ("blue", 9): (2, ("A", "B")),
        ("cat", 10): (1, ("B",)),
        ("blue", 10): (1, ("B",)),
        ("ann", 10): (1, ("C",)),  # A's slots end at 10:00 (half-open): no overlap with 10:00-11:00
    }
    # Most contended first.
    assert list(table["invitations"])[:2] == [2, 2]
    assert str(table["hour"].dtype) == "datetime64[ns, UTC]"


def test_contention_of_nothing_is_an_empty_table():
    empty = contention({"A": slots([])})
    assert empty.empty and list(empty.columns) == ["resource_id", "hour", "invitations", "invitation_ids"]


def test_contention_names_an_invitation_without_slot_times():
    with pytest.raises(PlannerInputError, match="'X'"):
        contention({"X": pd.DataFrame({"members": [("ann",)]})})


# --- requests from the invitations table --------------------------------------------------


def test_invitation_requests_turn_rows_into_slot_requests():
    invitations = pd.DataFrame(
        [
            {
                "invitation_id": 7,
                "members": ("1",),
                "pools": (("2", "3"),),
                "rooms": ("9",),
                "min_capacity": 4,
                "duration_minutes": 45,
                "buffer_before_minutes": 5,
                "buffer_after_minutes": 10,
                "minimum_notice_minutes": 120,
                "slot_interval_minutes": 30,
                "frame_start": MON,
                "frame_end": MON + dt.timedelta(days=4),
                "zone": "Asia/Kolkata",
            }
        ]
    )

    (key, req), = invitation_requests(invitations, NOW).items()

    assert key == 7
    assert req == SlotRequest(
        members=("1",),
        pools=(("2", "3"),),
        rooms=("9",),
        min_capacity=4,
        duration=pd.Timedelta(minutes=45),
        buffer_before=pd.Timedelta(minutes=5),
        buffer_after=pd.Timedelta(minutes=10),
        minimum_notice=pd.Timedelta(minutes=120),
        interval=pd.Timedelta(minutes=30),
        frame_start=MON,
        frame_end=MON + dt.timedelta(days=4),
        zone="Asia/Kolkata",
        now=NOW,
    )


def test_invitation_requests_name_the_bad_invitation():
    bad = pd.DataFrame(
        [{"invitation_id": 3, "members": ("1",), "duration_minutes": 30, "frame_start": MON,
          "frame_end": MON, "zone": "Mars/Base"}]
    )
    with pytest.raises(PlannerInputError, match="invitation 3: .*Mars/Base"):
        invitation_requests(bad, NOW)


# --- contention through the engine ---------------------------------------------------------


def test_invitation_contention_finds_each_invitations_slots():
    invitations = pd.DataFrame(
        [
            {"invitation_id": 1, "members": ("ann",), "pools": (), "rooms": (), "duration_minutes": 60,
             "slot_interval_minutes": 60, "frame_start": MON, "frame_end": MON, "zone": "Europe/London"},
            {"invitation_id": 2, "members": (), "pools": (("bob", "cat"),), "rooms": (), "duration_minutes": 60,
             "slot_interval_minutes": 60, "frame_start": MON, "frame_end": MON, "zone": "Europe/London"},
        ]
    )
    table = invitation_contention(TEAM, invitations, NOW)
    ann = table.loc[table["resource_id"] == "ann"]
    assert sorted(h.hour for h in ann["hour"]) == [9, 10, 11, 13, 14, 15, 16]
    assert set(table.loc[table["resource_id"] == "bob", "hour"].dt.hour) == {9, 11}
    assert table["invitations"].max() == 1
