"""Small builders for planner input tables in tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

import planner

UTC = dt.UTC


def ts(text: str, zone: str = "UTC") -> pd.Timestamp:
    """A tz-aware timestamp from ISO text, in ``zone`` then converted to UTC."""
    return pd.Timestamp(text, tz=zone).tz_convert("UTC")


@dataclass
class Tables:
    """Input tables under construction (rows as tuples)."""

    resources: list[tuple[str, str, str, int]] = field(default_factory=list)
    hours: list[tuple[str, int, int, int]] = field(default_factory=list)
    busy: list[tuple[str, pd.Timestamp, pd.Timestamp]] = field(default_factory=list)
    overrides: list[tuple[str, dt.date, int | None, int | None]] = field(default_factory=list)

    def member(self, rid: str, zone: str, days=range(7), windows=((540, 1020),)) -> Tables:
        """Add a member with the same windows (minutes) on the given weekdays."""
        self.resources.append((rid, "member", zone, 1))
        self.hours.extend((rid, wd, a, b) for wd in days for a, b in windows)
        return self

    def room(self, rid: str, zone: str, capacity: int, days=range(7), windows=((0, 1440),)) -> Tables:
        """Add a room with its opening windows."""
        self.resources.append((rid, "room", zone, capacity))
        self.hours.extend((rid, wd, a, b) for wd in days for a, b in windows)
        return self

    def block(self, rid: str, start: pd.Timestamp | str, end: pd.Timestamp | str) -> Tables:
        """Add a busy block (strings are read as UTC)."""
        self.busy.append((rid, pd.Timestamp(start, tz="UTC") if isinstance(start, str) else start,
                          pd.Timestamp(end, tz="UTC") if isinstance(end, str) else end))  # fmt: skip
        return self

    def override(self, rid: str, date: dt.date, start: int | None = None, end: int | None = None) -> Tables:
        """Add an override row (no start/end: unavailable that date)."""
        self.overrides.append((rid, date, start, end))
        return self

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(resources, hours, busy, overrides) DataFrames with the contract's dtypes."""
        resources = pd.DataFrame(self.resources, columns=["resource_id", "kind", "zone", "capacity"])
        resources["capacity"] = resources["capacity"].astype("int64")
        hours = pd.DataFrame(self.hours, columns=["resource_id", "weekday", "start", "end"]).astype(
            {"weekday": "int64", "start": "int64", "end": "int64"}
        )
        busy = pd.DataFrame(
            {
                "resource_id": pd.array([b[0] for b in self.busy], dtype="str"),
                "start": pd.DatetimeIndex([b[1] for b in self.busy], dtype="datetime64[ns, UTC]"),
                "end": pd.DatetimeIndex([b[2] for b in self.busy], dtype="datetime64[ns, UTC]"),
            }
        )
        overrides = pd.DataFrame(
            {
                "resource_id": pd.array([o[0] for o in self.overrides], dtype="str"),
                "date": pd.Series([o[1] for o in self.overrides], dtype=object),
                "start": pd.array([o[2] for o in self.overrides], dtype="Int64"),
                "end": pd.array([o[3] for o in self.overrides], dtype="Int64"),
            }
        )
        return resources, hours, busy, overrides

    def find(self, request: planner.SlotRequest) -> pd.DataFrame:
        return planner.find_slots(request, *self.frames())

    def starts(self, request: planner.SlotRequest) -> list[pd.Timestamp]:
        return list(self.find(request)["start"])

    def check(self, request: planner.SlotRequest, start: pd.Timestamp) -> planner.SlotCheck:
        return planner.check_slot(request, *self.frames(), start=start)


def request(
    members=("a",),
    *,
    zone: str = "UTC",
    first: dt.date = dt.date(2026, 11, 2),
    last: dt.date | None = None,
    duration: int = 60,
    interval: int = 60,
    before: int = 0,
    after: int = 0,
    notice: int = 0,
    now: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=UTC),
    pools=(),
    rooms=(),
    min_capacity: int = 1,
) -> planner.SlotRequest:
    """A SlotRequest with minute-valued arguments and quiet defaults."""
    return planner.SlotRequest(
        members=tuple(members),
        pools=tuple(tuple(p) for p in pools),
        rooms=tuple(rooms),
        min_capacity=min_capacity,
        duration=pd.Timedelta(minutes=duration),
        buffer_before=pd.Timedelta(minutes=before),
        buffer_after=pd.Timedelta(minutes=after),
        minimum_notice=pd.Timedelta(minutes=notice),
        interval=pd.Timedelta(minutes=interval),
        frame_start=first,
        frame_end=last or first,
        zone=zone,
        now=now,
    )
