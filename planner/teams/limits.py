"""Per-person limits: at most so many meetings, or so many meeting hours, per local day and week.

A team member or a room may have a limit on the number of meetings and on the minutes of
meetings it takes per local day and per local week (Monday to Sunday), both in its own zone.
The meetings that count are the Slotwise meetings it already holds (``meetings`` table), each
on the local day (and week) on which it starts, for its length without buffers.

A start ``t`` of a request with duration ``d`` is *within the limits* of a resource when, on
the local day ``D`` of ``t`` and the local week ``W`` containing ``D``::

    meetings(D) + 1 <= max_meetings_day      minutes(D) + d <= max_minutes_day
    meetings(W) + 1 <= max_meetings_week     minutes(W) + d <= max_minutes_week

(a missing limit never binds). A required member or room outside its limits makes the start
unavailable; a pool member outside them does not count for the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.tables import timestamps_ns
from planner.zones import NS_PER_MINUTE, utc_offsets, zone_segments

__all__ = ["LIMIT_COLUMNS", "Limits", "empty_limits", "empty_meetings"]

#: Limit columns of the ``limits`` table, besides ``resource_id``.
LIMIT_COLUMNS = ("max_meetings_day", "max_minutes_day", "max_meetings_week", "max_minutes_week")
_DAY_NS = 86_400 * 10**9
_SPAN = 1 << 32  # day and week numbers stay far below this: resource n's keys are n * _SPAN + key
_NO_LIMIT = np.iinfo(np.int64).max // 4


def empty_limits() -> pd.DataFrame:
    """A ``limits`` table with no rows and the right dtypes."""
    return pd.DataFrame({"resource_id": pd.Series(dtype=str), **{c: pd.array([], dtype="Int64") for c in LIMIT_COLUMNS}})


def empty_meetings() -> pd.DataFrame:
    """A ``meetings`` table with no rows and the right dtypes."""
    utc = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"resource_id": pd.Series(dtype=str), "start": utc, "end": utc})


@dataclass(frozen=True)
class _Resource:
    caps: np.ndarray  # int64 (4,): meetings/day, minutes/day, meetings/week, minutes/week
    starts: np.ndarray  # int64 ns, the resource's meetings' starts
    minutes: np.ndarray  # int64, their lengths in minutes


class Limits:
    """Per-person limits and the meetings that count against them.

    Parameters
    ----------
    limits : pandas.DataFrame
        ``resource_id`` (str) and any of :data:`LIMIT_COLUMNS` (nullable ints; missing or NA
        means no such limit). One row per resource.
    meetings : pandas.DataFrame
        ``resource_id``, ``start``, ``end`` (tz-aware datetime64): meetings the resources
        already hold. Only resources with a limit are read.

    Raises
    ------
    PlannerInputError
        Missing columns, a resource listed twice, a negative limit, naive or reversed times.

    Examples
    --------
    >>> import pandas as pd
    >>> limits = Limits(pd.DataFrame({"resource_id": ["m1"], "max_meetings_day": [2]}),
    ...                 pd.DataFrame({"resource_id": ["m1"],
    ...                               "start": [pd.Timestamp("2026-11-02 09:00", tz="UTC")],
    ...                               "end": [pd.Timestamp("2026-11-02 10:00", tz="UTC")]}))
    >>> limits.limited("m1")
    True
    """

    def __init__(self, limits: pd.DataFrame, meetings: pd.DataFrame | None = None) -> None:
        if not isinstance(limits, pd.DataFrame) or "resource_id" not in limits.columns:
            raise PlannerInputError("limits must be a DataFrame with a resource_id column and limit columns")
        unknown = set(limits.columns) - {"resource_id", *LIMIT_COLUMNS}
        if unknown:
            raise PlannerInputError(
                f"limits has unknown columns {sorted(unknown)}; use resource_id and {', '.join(LIMIT_COLUMNS)}"
            )
        ids = limits["resource_id"].astype(str).tolist()
        if len(set(ids)) != len(ids):
            raise PlannerInputError("limits lists a resource twice; give one row per resource")
        caps = np.full((len(ids), len(LIMIT_COLUMNS)), _NO_LIMIT, dtype=np.int64)
        for j, col in enumerate(LIMIT_COLUMNS):
            if col not in limits.columns:
                continue
            values = pd.to_numeric(limits[col], errors="coerce")
            bad = values.notna() & ((values < 0) | (values != values.round()))
            if bad.any() or (values.isna() & limits[col].notna()).any():
                raise PlannerInputError(f"limits.{col} must hold whole numbers >= 0 (or be empty), got {limits[col].tolist()}")
            caps[:, j] = np.where(values.notna(), values.fillna(0).to_numpy(dtype=np.int64), _NO_LIMIT)
        if meetings is None:
            meetings = empty_meetings()
        for col in ("resource_id", "start", "end"):
            if col not in meetings.columns:
                raise PlannerInputError(f"meetings needs the column {col!r} (resource_id, start, end)")
        m_ids = meetings["resource_id"].astype(str).to_numpy()
        m_start = timestamps_ns(meetings["start"], "meetings.start")
        m_end = timestamps_ns(meetings["end"], "meetings.end")
        if (m_end <= m_start).any():
            raise PlannerInputError("meetings has a row whose end is not after its start")
        self._by_id: dict[str, _Resource] = {}
        # Per (resource, zone): the meetings' day and week keys, sorted, with cumulated minutes;
        # per (resources, zones) of a request: those tables as one (see :meth:`blocked`).
        self._keys: dict[tuple[str, str], tuple] = {}
        self._combined: dict[tuple, tuple] = {}
        self._caps: dict[tuple, np.ndarray] = {}
        for i, rid in enumerate(ids):
            if (caps[i] == _NO_LIMIT).all():
                continue
            mine = m_ids == rid
            self._by_id[rid] = _Resource(
                caps=caps[i],
                starts=m_start[mine],
                minutes=(m_end[mine] - m_start[mine]) // NS_PER_MINUTE,
            )

    def limited(self, resource_id: str) -> bool:
        """Whether ``resource_id`` has any limit."""
        return resource_id in self._by_id

    def allowed(self, ids: Sequence[str], zones: Sequence[str], starts: np.ndarray, duration_ns: int) -> np.ndarray | None:
        """Which starts are within each resource's limits.

        Parameters
        ----------
        ids, zones : sequence of str
            Resources and their IANA zones (the day and week are local there).
        starts : ndarray of int64
            Starts, ns since the epoch (UTC), in any order.
        duration_ns : int
            The new meeting's length.

        Returns
        -------
        ndarray of bool, shape (len(ids), len(starts)), or None
            ``None`` when none of ``ids`` has a limit (everything is allowed).
        """
        rows = [i for i, rid in enumerate(ids) if rid in self._by_id]
        if not rows:
            return None
        out = np.ones((len(ids), starts.size), dtype=bool)
        minutes = duration_ns // NS_PER_MINUTE
        for i in rows:
            res = self._by_id[ids[i]]
            day, week = _day_week(starts, zones[i])
            tables = self._meeting_keys(ids[i], zones[i])
            for keys, table, j in ((day, tables[0], 0), (week, tables[1], 2)):
                n, total = _totals(table, keys)
                out[i] &= (n + 1 <= res.caps[j]) & (total + minutes <= res.caps[j + 1])
        return out

    def blocked(
        self, ids: Sequence[str], zones: Sequence[str], starts: np.ndarray, duration_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The starts outside each resource's limits, as runs of ascending ``starts``.

        Parameters
        ----------
        ids, zones : sequence of str
        starts : ndarray of int64
            Candidate starts, ascending.
        duration_ns : int

        Returns
        -------
        rows, first, stop : ndarray of int64
            Run ``i`` is ``starts[first[i]:stop[i]]`` of resource ``ids[rows[i]]``: starts on one
            local day of that resource on which one more meeting would pass a limit. Never
            empty; sorted by row, then start.

        Notes
        -----
        Starts come by the thousand but fall on a few dozen local days, so the limits are
        decided per day: within a segment of constant UTC offset ``off`` the local day changes
        exactly at the instants ``k * day - off`` (:func:`_day_cuts`), and searching those among
        the starts splits them into runs of one day. All limited resources go together: their
        cuts are searched in one call, and their meetings' keys, offset by resource, make one
        sorted table (:meth:`_tables`), so a request costs a few numpy calls, not a few per
        resource and start.
        """
        empty = np.zeros(0, dtype=np.int64)
        which = [i for i, rid in enumerate(ids) if rid in self._by_id]
        if not which or starts.size == 0:
            return empty, empty, empty
        rids = tuple(ids[i] for i in which)
        zs = tuple(zones[i] for i in which)
        cut, day, own, last = _day_cuts_of(int(starts[0]), int(starts[-1]), zs)
        first = np.searchsorted(starts, cut, side="left")
        stop = np.empty_like(first)
        stop[:-1] = first[1:]
        stop[last] = starts.size  # each resource's last run
        caps = self._caps_of(rids)[own]
        by_day, by_week = self._tables(rids, zs)
        minutes = duration_ns // NS_PER_MINUTE
        n, total = _totals(by_day, own * _SPAN + day)
        ok = (n < caps[:, 0]) & (total + minutes <= caps[:, 1])
        n, total = _totals(by_week, own * _SPAN + (day + 3) // 7)
        ok &= (n < caps[:, 2]) & (total + minutes <= caps[:, 3])
        bad = ~ok & (stop > first)
        return np.asarray(which, dtype=np.int64)[own[bad]], first[bad], stop[bad]

    def _caps_of(self, rids: tuple[str, ...]) -> np.ndarray:
        """The limits of ``rids`` as one (len(rids), 4) array (kept for the next query)."""
        caps = self._caps.get(rids)
        if caps is None:
            caps = self._caps[rids] = np.stack([self._by_id[r].caps for r in rids])
        return caps

    def reason(self, resource_id: str, zone: str, start_ns: int, duration_ns: int) -> str | None:
        """Why a start is outside ``resource_id``'s limits (``None`` when it is within them)."""
        res = self._by_id.get(resource_id)
        if res is None:
            return None
        minutes = duration_ns // NS_PER_MINUTE
        (day,), (week,) = _day_week(np.array([start_ns], dtype=np.int64), zone)
        by_day, by_week = self._meeting_keys(resource_id, zone)
        for key, table, per, j in ((day, by_day, "day", 0), (week, by_week, "week", 2)):
            n, total = _totals(table, np.array([key]))
            when = _label(day, per)
            if n[0] + 1 > res.caps[j]:
                return f"has reached the limit of {res.caps[j]} meetings per {per} ({when}, {zone})"
            if total[0] + minutes > res.caps[j + 1]:
                cap = res.caps[j + 1]
                return (f"would pass the limit of {_hours(cap)} of meetings per {per} ({when}, {zone}): "
                        f"{_hours(int(total[0]))} booked")
        return None

    def _meeting_keys(self, resource_id: str, zone: str):
        """The resource's meetings as sorted day keys and week keys, each with cumulated minutes."""
        cached = self._keys.get((resource_id, zone))
        if cached is None:
            res = self._by_id[resource_id]
            m_day, m_week = _day_week(res.starts, zone)
            cached = self._keys[(resource_id, zone)] = (_sorted(m_day, res.minutes), _sorted(m_week, res.minutes))
        return cached

    def _tables(self, rids: tuple[str, ...], zones: tuple[str, ...]):
        """The meetings of ``rids`` as one sorted table of day keys and one of week keys.

        Resource ``n`` of ``rids`` owns the keys ``n * _SPAN + key``, so the blocks follow each
        other in order and one search answers for all. Kept for the next query of the same
        resources (a request is usually counted, then listed).
        """
        cached = self._combined.get((rids, zones))
        if cached is None:
            parts = [self._meeting_keys(r, z) for r, z in zip(rids, zones, strict=True)]
            out = []
            for k in (0, 1):
                keys = np.concatenate([n * _SPAN + part[k][0] for n, part in enumerate(parts)])
                steps = np.concatenate([np.diff(part[k][1]) for part in parts])
                out.append((keys, np.concatenate(([0], np.cumsum(steps)))))
            cached = self._combined[(rids, zones)] = (out[0], out[1])
        return cached


def _day_week(t_ns: np.ndarray, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Local day numbers (days since 1970-01-01 in ``zone``) and Monday-based week numbers."""
    if t_ns.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    day = (t_ns + utc_offsets(t_ns, zone)) // _DAY_NS
    # 1970-01-01 was a Thursday: day + 3 counts from the Monday before it.
    return day, (day + 3) // 7


@lru_cache(maxsize=512)
def _day_cuts(lo: int, hi: int, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Where local days (in ``zone``) begin within ``[lo, hi]``, clipped to ``lo``, and their numbers.

    A pure function of the span and the zone, like the zone's offset table it reads, so it is
    kept for the next request over the same frame (the wizard recounts one frame on every
    change); the arrays are read-only.

    Within a segment of constant UTC offset ``off`` the local day changes exactly at the
    instants ``k * day - off``; a segment's edge starts a new piece too (the same day may then
    come twice in a row, and after a change back across midnight a day may come again later:
    each piece still has one day).
    """
    seg_starts, offsets = zone_segments(zone, lo, hi)
    first = int(np.searchsorted(seg_starts, lo, side="right")) - 1
    last = int(np.searchsorted(seg_starts, hi, side="right")) - 1
    cuts, days = [], []
    for i in range(first, last + 1):  # the handful of offset segments the span crosses
        a = max(lo, int(seg_starts[i]))
        b = min(hi, int(seg_starts[i + 1]) - 1) if i < last else hi
        off = int(offsets[i])
        ks = np.arange((a + off) // _DAY_NS, (b + off) // _DAY_NS + 1, dtype=np.int64)
        cuts.append(np.maximum(ks * _DAY_NS - off, a))
        days.append(ks)
    cut, day = (cuts[0], days[0]) if len(cuts) == 1 else (np.concatenate(cuts), np.concatenate(days))
    cut.flags.writeable = False
    day.flags.writeable = False
    return cut, day


@lru_cache(maxsize=256)
def _day_cuts_of(lo: int, hi: int, zones: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """:func:`_day_cuts` of several zones end to end: cuts, days, owner (position in ``zones``)
    and the index of each owner's last piece. Pure and read-only, kept like :func:`_day_cuts`."""
    parts = [_day_cuts(lo, hi, z) for z in zones]
    sizes = np.array([c.size for c, _ in parts], dtype=np.int64)
    cut = np.concatenate([c for c, _ in parts])
    day = np.concatenate([d for _, d in parts])
    own = np.repeat(np.arange(len(zones), dtype=np.int64), sizes)
    last = np.cumsum(sizes) - 1
    for a in (cut, day, own, last):
        a.flags.writeable = False
    return cut, day, own, last


def _day_runs(t_ns: np.ndarray, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Ascending instants as runs on one local day: each run's day number and length."""
    if t_ns.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cuts, days = _day_cuts(int(t_ns[0]), int(t_ns[-1]), zone)
    at = np.searchsorted(t_ns, cuts, side="left")
    return days, np.diff(np.append(at, t_ns.size))


def _sorted(keys: np.ndarray, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` sorted, and the running sum of their ``minutes`` (with a leading 0)."""
    order = np.argsort(keys, kind="stable")
    return keys[order], np.concatenate(([0], np.cumsum(minutes[order])))


def _totals(table: tuple[np.ndarray, np.ndarray], query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query key: how many of the table's keys equal it, and the sum of their minutes."""
    keys, cum = table
    lo = np.searchsorted(keys, query, side="left")
    hi = np.searchsorted(keys, query, side="right")
    return hi - lo, cum[hi] - cum[lo]


def _label(day: int, per: str) -> str:
    date = pd.Timestamp(int(day) * _DAY_NS).date()
    if per == "day":
        return f"{date:%a %d %b %Y}"
    monday = date - pd.Timedelta(days=date.weekday()).to_pytimedelta()
    return f"week of {monday:%d %b %Y}"


def _hours(minutes: int) -> str:
    h, m = divmod(int(minutes), 60)
    return f"{h}h{m:02d}" if m else f"{h}h"
