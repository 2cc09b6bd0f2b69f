"""Reference implementation of the slot semantics: plain datetimes, no numpy.

Slow and obviously right: it loops over candidate starts and checks each rule
of DESIGN.md "Slot semantics" literally, with :mod:`zoneinfo` for wall-clock
conversions. The engine must agree with it exactly.

Conventions shared with the engine (the planner data contract):

* wall time -> instant: an ambiguous wall time takes its first occurrence
  for window starts (and the frame start) and its second for window ends
  (and the frame end); a nonexistent one maps to the first instant after the
  gap (the transition);
* candidate starts: the instants in the frame whose wall-clock time in the
  invitation zone is a multiple of the interval after local midnight;
* an hours window crossing midnight belongs to the date it starts on;
* a pool needs ``k`` free members (``request.pool_k``); a rotating pool
  (``request.pool_turns``) counts only its first ``k`` members, in list
  order, who are in hours for the whole of some candidate start;
* limits: a meeting counts on the local date (resource zone) it starts on
  and in that date's ISO week, for its length; a start is within the limits
  when one more meeting, and its duration more minutes, stay within each cap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)


def local_wall(t: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Naive wall-clock time of instant ``t`` in ``zone``."""
    return t.astimezone(zone).replace(tzinfo=None)


def wall_to_utc(wall: dt.datetime, zone: ZoneInfo, side: str) -> dt.datetime:
    """Instant of naive wall time ``wall`` in ``zone`` (see module conventions)."""
    found = []
    for fold in (0, 1):
        t = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if local_wall(t, zone) == wall:
            found.append(t)
    if found:
        return min(found) if side == "start" else max(found)
    # In a gap: walk forward minute by minute to the first instant past it.
    t = min(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)) - dt.timedelta(hours=3)
    t = t.replace(second=0, microsecond=0)
    while local_wall(t, zone) <= wall:
        t += MINUTE
    # Step back to the exact transition if it is not on a whole minute.
    while local_wall(t - dt.timedelta(seconds=1), zone) > wall:
        t -= dt.timedelta(seconds=1)
    return t


@dataclass
class OracleSlot:
    start: dt.datetime
    end: dt.datetime
    members: tuple[str, ...]
    pool_members: tuple[tuple[str, ...], ...]
    rooms: tuple[str, ...]


class Oracle:
    """Answers slot questions for one set of tables by brute force."""

    def __init__(self, resources: pd.DataFrame, hours: pd.DataFrame, busy: pd.DataFrame, overrides=None,
                 limits: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None):
        self.limits: dict[str, dict[str, int]] = {}
        for r in (limits.to_dict("records") if limits is not None else []):
            self.limits[r["resource_id"]] = {k: int(v) for k, v in r.items() if k != "resource_id" and not pd.isna(v)}
        self.meetings: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
        for r in (meetings.to_dict("records") if meetings is not None else []):
            self.meetings.setdefault(r["resource_id"], []).append(
                (r["start"].to_pydatetime().astimezone(UTC), r["end"].to_pydatetime().astimezone(UTC))
            )
        self.zone = {r["resource_id"]: ZoneInfo(r["zone"]) for r in resources.to_dict("records")}
        self.capacity = {
            r["resource_id"]: int(r["capacity"]) if "capacity" in r else 1 for r in resources.to_dict("records")
        }
        self.weekly: dict[str, dict[int, list[tuple[int, int]]]] = {}
        for r in hours.to_dict("records"):
            self.weekly.setdefault(r["resource_id"], {}).setdefault(int(r["weekday"]), []).append(
                (int(r["start"]), int(r["end"]))
            )
        self.overrides: dict[tuple[str, dt.date], list[tuple[int, int]]] = {}
        if overrides is not None:
            for r in overrides.to_dict("records"):
                key = (r["resource_id"], r["date"])
                windows = self.overrides.setdefault(key, [])
                if not pd.isna(r["start"]):
                    windows.append((int(r["start"]), int(r["end"])))
        self.busy: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
        for r in busy.to_dict("records"):
            self.busy.setdefault(r["resource_id"], []).append(
                (r["start"].to_pydatetime().astimezone(UTC), r["end"].to_pydatetime().astimezone(UTC))
            )
        self._windows: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}

    # -- rule helpers --------------------------------------------------------------
    def windows(self, rid: str, first: dt.date, last: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """Hours windows (UTC) of ``rid`` starting on local dates first-2 .. last+2, merged."""
        key = (rid, first, last)
        if key in self._windows:
            return self._windows[key]
        zone = self.zone[rid]
        out = []
        day = first - dt.timedelta(days=2)
        while day <= last + dt.timedelta(days=2):
            if (rid, day) in self.overrides:
                rules = self.overrides[(rid, day)]
            else:
                rules = self.weekly.get(rid, {}).get(day.weekday(), [])
            midnight = dt.datetime.combine(day, dt.time())
            for start, end in rules:
                a = wall_to_utc(midnight + dt.timedelta(minutes=start), zone, "start")
                b = wall_to_utc(midnight + dt.timedelta(minutes=end), zone, "end")
                if b > a:
                    out.append((a, b))
            day += dt.timedelta(days=1)
        out.sort()
        merged: list[list[dt.datetime]] = []
        for a, b in out:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._windows[key] = [(a, b) for a, b in merged]
        return self._windows[key]

    def in_hours(self, rid: str, a: dt.datetime, b: dt.datetime, first: dt.date, last: dt.date) -> bool:
        return any(wa <= a and b <= wb for wa, wb in self.windows(rid, first, last))

    def free(self, rid: str, a: dt.datetime, b: dt.datetime) -> bool:
        return not any(s < b and e > a for s, e in self.busy.get(rid, []))

    def ok(self, rid: str, t: dt.datetime, request, first: dt.date, last: dt.date) -> bool:
        end = t + request.duration.to_pytimedelta()
        return self.in_hours(rid, t, end, first, last) and self.free(
            rid, t - request.buffer_before.to_pytimedelta(), end + request.buffer_after.to_pytimedelta()
        ) and self.within_limits(rid, t, request.duration.to_pytimedelta())

    def within_limits(self, rid: str, t: dt.datetime, duration: dt.timedelta) -> bool:
        caps = self.limits.get(rid)
        if not caps:
            return True
        zone = self.zone[rid]
        day = t.astimezone(zone).date()
        week = day.isocalendar()[:2]
        same_day = [(s, e) for s, e in self.meetings.get(rid, []) if s.astimezone(zone).date() == day]
        same_week = [(s, e) for s, e in self.meetings.get(rid, []) if s.astimezone(zone).date().isocalendar()[:2] == week]
        minutes = duration // MINUTE
        for group, per in ((same_day, "day"), (same_week, "week")):
            if len(group) + 1 > caps.get(f"max_meetings_{per}", 10**9):
                return False
            if sum((e - s) // MINUTE for s, e in group) + minutes > caps.get(f"max_minutes_{per}", 10**9):
                return False
        return True

    def turns(self, request) -> list[tuple[str, ...]]:
        """Each pool as it counts: a rotating pool cut to its first k members on duty."""
        first, last = request.frame_start - dt.timedelta(days=1), request.frame_end + dt.timedelta(days=1)
        duration = request.duration.to_pytimedelta()
        cands = self.candidates(request)
        out = []
        for pool, k, rotating in zip(request.pools, request.pool_k, request.pool_turns, strict=True):
            if rotating:
                on = [m for m in pool if any(self.in_hours(m, t, t + duration, first, last) for t in cands)]
                # Too few on duty: the pool keeps them and some who are off, and is never met.
                pool = tuple(on[:k]) + tuple(m for m in pool if m not in on)[: max(k - len(on), 0)]
            out.append(pool)
        return out

    # -- candidates and slots ---------------------------------------------------------------
    def frame(self, request) -> tuple[dt.datetime, dt.datetime]:
        zone = ZoneInfo(request.zone)
        lo = wall_to_utc(dt.datetime.combine(request.frame_start, dt.time()), zone, "start")
        hi = wall_to_utc(dt.datetime.combine(request.frame_end + dt.timedelta(days=1), dt.time()), zone, "end")
        return lo, hi

    def candidates(self, request) -> list[dt.datetime]:
        zone = ZoneInfo(request.zone)
        lo, hi = self.frame(request)
        step = request.interval.to_pytimedelta()
        duration = request.duration.to_pytimedelta()
        earliest = request.now.astimezone(UTC) + request.minimum_notice.to_pytimedelta()
        found = set()
        day = request.frame_start - dt.timedelta(days=1)
        while day <= request.frame_end + dt.timedelta(days=1):
            wall = dt.datetime.combine(day, dt.time())
            while wall.date() == day:
                for fold in (0, 1):
                    t = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                    if local_wall(t, zone) == wall and lo <= t and t + duration <= hi and t >= earliest:
                        found.add(t)
                wall += step
            day += dt.timedelta(days=1)
        return sorted(found)

    def slot_at(self, request, t: dt.datetime, turns=None) -> OracleSlot | None:
        """The slot at ``t`` if every rule holds (``t`` must be a candidate)."""
        first, last = request.frame_start - dt.timedelta(days=1), request.frame_end + dt.timedelta(days=1)
        for m in request.members:
            if not self.ok(m, t, request, first, last):
                return None
        pools = []
        for pool, k in zip(turns if turns is not None else self.turns(request), request.pool_k, strict=True):
            free = tuple(sorted(m for m in pool if self.ok(m, t, request, first, last)))
            if len(free) < k:
                return None
            pools.append(free)
        rooms = tuple(
            sorted(
                r
                for r in request.rooms
                if self.capacity[r] >= request.min_capacity and self.ok(r, t, request, first, last)
            )
        )
        if request.rooms and not rooms:
            return None
        return OracleSlot(t, t + request.duration.to_pytimedelta(), tuple(request.members), tuple(pools), rooms)

    def slots(self, request) -> list[OracleSlot]:
        out = []
        turns = self.turns(request)
        for t in self.candidates(request):
            slot = self.slot_at(request, t, turns)
            if slot is not None:
                out.append(slot)
        return out
