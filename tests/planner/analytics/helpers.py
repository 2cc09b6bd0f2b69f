"""Small hand-built organisations and requests the analytics tests share."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from planner import Organisation, SlotRequest

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 1, tzinfo=UTC)
MON = dt.date(2026, 11, 2)  # a Monday; Europe/London is on UTC (GMT) then


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def make_tables(
    resources: list[tuple[str, str, str, int]],
    hours: list[tuple[str, int, int, int]],
    busy: list[tuple[str, str, str, str]] = (),
    overrides: list[tuple[str, dt.date, int | None, int | None]] = (),
) -> Organisation:
    """Tables from literal rows: resources (id, kind, zone, capacity), hours, busy (id, start, end, source)."""
    return Organisation(
        resources=pd.DataFrame(resources, columns=["resource_id", "kind", "zone", "capacity"]).assign(
            name=lambda f: f["resource_id"].str.upper()
        ),
        hours=pd.DataFrame(hours, columns=["resource_id", "weekday", "start", "end"]).astype(
            {"weekday": "int64", "start": "int64", "end": "int64"}
        ),
        overrides=pd.DataFrame(list(overrides), columns=["resource_id", "date", "start", "end"]).astype(
            {"start": "Int64", "end": "Int64"}
        ),
        busy=pd.DataFrame(
            {
                "resource_id": pd.Series([b[0] for b in busy], dtype=object),
                "start": pd.DatetimeIndex([ts(b[1]) for b in busy], dtype="datetime64[ns, UTC]"),
                "end": pd.DatetimeIndex([ts(b[2]) for b in busy], dtype="datetime64[ns, UTC]"),
                "source": pd.Series([b[3] for b in busy], dtype=object),
            }
        ),
        pools=pd.DataFrame({"pool_id": [], "name": [], "member_id": []}, dtype=object),
    )


def request(**fields) -> SlotRequest:
    base = dict(
        members=("ann",),
        duration=pd.Timedelta(minutes=60),
        frame_start=MON,
        frame_end=MON,
        zone="Europe/London",
        now=NOW,
        interval=pd.Timedelta(minutes=60),
    )
    base.update(fields)
    return SlotRequest(**base)


# Ann and Bob in two zones, a room; a busy hour and dated overrides.
ORG = make_tables(
    resources=[
        ("ann", "member", "Europe/London", 1),
        ("bob", "member", "Europe/Berlin", 1),
        ("blue", "room", "Europe/London", 6),
    ],
    hours=[("ann", 0, 540, 1020), ("bob", 0, 480, 720), ("bob", 0, 780, 960), ("blue", 0, 420, 1140)],
    busy=[("ann", "2026-11-02 10:00", "2026-11-02 11:00", "calendar")],
    overrides=[("bob", dt.date(2026, 11, 9), 600, 660), ("ann", dt.date(2026, 11, 16), None, None)],
)

# One London Monday (UTC+0): members and rooms for hourly slots.
TEAM = make_tables(
    resources=[
        ("ann", "member", "Europe/London", 1),
        ("bob", "member", "Europe/London", 1),
        ("cat", "member", "Europe/London", 1),
        ("blue", "room", "Europe/London", 6),
        ("green", "room", "Europe/London", 12),
        ("tiny", "room", "Europe/London", 2),
    ],
    hours=[
        ("ann", 0, 540, 1020),  # 09-17
        ("bob", 0, 540, 720),  # 09-12
        ("cat", 0, 780, 1020),  # 13-17
        ("blue", 0, 480, 1080),  # 08-18
        ("green", 0, 480, 1080),
        ("tiny", 0, 480, 1080),
    ],
    busy=[
        ("ann", "2026-11-02 12:00", "2026-11-02 13:00", "calendar"),
        ("bob", "2026-11-02 10:00", "2026-11-02 11:00", "calendar"),
        ("blue", "2026-11-02 09:00", "2026-11-02 10:00", "reservation"),
    ],
)
