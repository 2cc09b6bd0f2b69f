"""Wall clock <-> UTC conversion for arrays, exact across DST changes.

The planner turns wall-clock rules (working hours, frame dates, the slot grid)
into UTC instants for thousands of (resource, date) pairs per query. Doing that
with ``DatetimeIndex.tz_localize`` per zone costs about 100 microseconds per
call; here each zone's UTC offset is kept as a small table of segments
(transition instant, offset) built once per zone and year span from the IANA
database (through pandas and :mod:`zoneinfo`) and cached, and conversions are
two ``numpy.searchsorted`` calls.

Conventions (the planner data contract):

* a wall time that does not exist (spring forward) maps forward to the
  transition instant, like pandas ``nonexistent="shift_forward"``;
* an ambiguous wall time (fall back) takes its first occurrence on the
  ``"start"`` side and its second on the ``"end"`` side, so a window that spans
  the repeated hour covers all of it.

Instants are ``int64`` nanoseconds since the Unix epoch (UTC); wall times are
``int64`` minutes since 1970-01-01 00:00 *local* (``day_number * 1440 +
minute_of_day``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError

__all__ = [
    "NS_PER_MINUTE",
    "check_zone",
    "utc_offsets",
    "wall_to_utc",
    "zone_segments",
]

NS_PER_MINUTE = 60_000_000_000
_NS_PER_SECOND = 1_000_000_000
_SAMPLE_STEP_S = 6 * 3600
# Sentinels far outside any realistic horizon but clear of int64 overflow.
_FAR_PAST = -(2**62)
_FAR_FUTURE = 2**62


@lru_cache(maxsize=512)
def check_zone(zone: str, what: str = "zone") -> ZoneInfo:
    """Return the :class:`zoneinfo.ZoneInfo` for ``zone`` or raise a clear error.

    Parameters
    ----------
    zone : str
        IANA zone name such as ``"Asia/Kolkata"``.
    what : str
        Name of the field being checked, used in the error message.

    Raises
    ------
    PlannerInputError
        When ``zone`` is not a string naming a zone of the IANA database.
    """
    if not isinstance(zone, str) or not zone:
        raise PlannerInputError(f"{what} must be an IANA zone name such as 'Europe/London', got {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PlannerInputError(
            f"{what} {zone!r} is not an IANA time zone; use a name such as 'Europe/London' or 'Asia/Kolkata'"
        ) from exc


def _offset_s(zone: ZoneInfo, t_s: int) -> int:
    """UTC offset in seconds of ``zone`` at the instant ``t_s`` (Unix seconds)."""
    offset = dt.datetime.fromtimestamp(t_s, tz=zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@lru_cache(maxsize=1024)
def _segments_for_years(zone: str, first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """Transitions of ``zone`` from ``first_year`` to ``last_year`` inclusive.

    Offsets are sampled every 6 hours with pandas, then each change is located
    to the second by bisection with :mod:`zoneinfo`. (No zone in the IANA
    database has changed its offset twice within 6 hours.)
    """
    info = check_zone(zone)
    lo = pd.Timestamp(dt.datetime(first_year, 1, 1), tz="UTC") - pd.Timedelta(days=2)
    hi = pd.Timestamp(dt.datetime(last_year + 1, 1, 1), tz="UTC") + pd.Timedelta(days=2)
    samples = pd.date_range(lo, hi, freq=f"{_SAMPLE_STEP_S}s").as_unit("s")
    utc_s = samples.asi8
    local_s = samples.tz_convert(zone).tz_localize(None).as_unit("s").asi8
    offsets = local_s - utc_s
    changes = np.flatnonzero(offsets[1:] != offsets[:-1])
    starts = [_FAR_PAST]
    values = [int(offsets[0])]
    for k in changes:
        a, b = int(utc_s[k]), int(utc_s[k + 1])  # offset(a) != offset(b)
        off_a = int(offsets[k])
        while b - a > 1:
            mid = (a + b) // 2
            if _offset_s(info, mid) == off_a:
                a = mid
            else:
                b = mid
        starts.append(b * _NS_PER_SECOND)
        values.append(int(offsets[k + 1]) * _NS_PER_SECOND)
    values[0] *= _NS_PER_SECOND
    return np.array(starts, dtype=np.int64), np.array(values, dtype=np.int64)


def zone_segments(zone: str, lo_ns: int, hi_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """UTC offset of ``zone`` as constant segments covering ``[lo_ns, hi_ns]``.

    Parameters
    ----------
    zone : str
        IANA zone name.
    lo_ns, hi_ns : int
        Instants (ns since epoch, UTC) that must be covered.

    Returns
    -------
    starts : ndarray of int64, shape (k,)
        UTC instant (ns) at which each segment begins; ``starts[0]`` is far in
        the past. Segment ``i`` lasts until ``starts[i + 1]`` (the last one
        forever, as far as this span is concerned).
    offsets : ndarray of int64, shape (k,)
        UTC offset (ns) during each segment.
    """
    return _segments_for_years(zone, _year(lo_ns), _year(hi_ns))


def _year(t_ns: int) -> int:
    """Calendar year (UTC) of an instant, clamped to 1800..2400 for the sentinels."""
    t_ns = min(max(int(t_ns), _YEAR_1800_NS), _YEAR_2400_NS)
    return dt.datetime.fromtimestamp(t_ns // _NS_PER_SECOND, dt.UTC).year


_YEAR_1800_NS = -5_364_662_400 * _NS_PER_SECOND
_YEAR_2400_NS = 13_569_465_600 * _NS_PER_SECOND - 1


def utc_offsets(t_ns: np.ndarray, zone: str) -> np.ndarray:
    """UTC offsets (ns) of ``zone`` at the instants ``t_ns`` (int64 ns, UTC)."""
    t_ns = np.asarray(t_ns, dtype=np.int64)
    if t_ns.size == 0:
        return np.zeros(0, np.int64)
    starts, offsets = zone_segments(zone, int(t_ns.min()), int(t_ns.max()))
    return offsets[np.searchsorted(starts, t_ns, side="right") - 1]


def wall_to_utc(
    wall_min: np.ndarray,
    zone: str,
    side: Literal["start", "end"] = "start",
) -> np.ndarray:
    """Convert local wall times to UTC instants.

    Parameters
    ----------
    wall_min : array_like of int64
        Wall-clock times as minutes since 1970-01-01 00:00 local time.
    zone : str
        IANA zone of the wall clock.
    side : {"start", "end"}
        Which occurrence an ambiguous time takes: ``"start"`` the first,
        ``"end"`` the second. A nonexistent time maps to the transition
        instant on either side.

    Returns
    -------
    ndarray of int64
        UTC instants, ns since the Unix epoch.
    """
    w = np.asarray(wall_min, dtype=np.int64) * NS_PER_MINUTE
    _check_side(side)
    if w.size == 0:
        return np.zeros(0, np.int64)
    # Two days of margin cover every real UTC offset (|offset| < 26 h).
    starts, offsets = zone_segments(
        zone, int(w.min()) - 2 * 86_400 * _NS_PER_SECOND, int(w.max()) + 2 * 86_400 * _NS_PER_SECOND
    )
    ends = np.append(starts[1:], _FAR_FUTURE)
    local_start = starts + offsets  # wall time at which segment i begins
    local_end = ends + offsets  # wall time at which segment i ends (exclusive)
    local_start[0] = _FAR_PAST
    local_end[-1] = _FAR_FUTURE
    if side == "start":
        # Earliest segment whose wall-clock range contains w; in a gap, the
        # first segment after it, entered at its transition instant.
        i = np.searchsorted(local_end, w, side="right")
        inside = local_start[i] <= w
        return np.where(inside, w - offsets[i], starts[i])
    # side == "end": the latest segment whose wall-clock range contains w; in a gap,
    # the transition instant that ends the segment before it.
    j = np.searchsorted(local_start, w, side="right") - 1
    inside = w < local_end[j]
    nxt = np.minimum(j + 1, starts.size - 1)
    return np.where(inside, w - offsets[j], starts[nxt])


def _check_side(side: str) -> None:
    if side not in ("start", "end"):
        raise PlannerInputError(f"side must be 'start' or 'end', got {side!r}")


_KEY_SHIFT = 34  # zone code in the bits above, seconds (offset by 2**33) below
_SECONDS_BIAS = 2**33


@lru_cache(maxsize=256)
def _keyed_table(zones: tuple[str, ...], first_year: int, last_year: int) -> tuple[np.ndarray, ...]:
    """Segment tables of several zones, concatenated and keyed by zone code.

    Keys are ``code << 34 | (seconds + 2**33)``, so one ``searchsorted``
    serves every zone at once (seconds cover the years 1698 to 2242).
    """
    parts = [[], [], [], [], []]
    for code, zone in enumerate(zones):
        starts, offsets = _segments_for_years(zone, first_year, last_year)
        ends = np.append(starts[1:], _FAR_FUTURE)
        base = code << _KEY_SHIFT
        top = base + (1 << _KEY_SHIFT) - 1
        local_start = np.clip((starts + offsets) // _NS_PER_SECOND + _SECONDS_BIAS + base, base, top)
        local_end = np.clip((ends + offsets) // _NS_PER_SECOND + _SECONDS_BIAS + base, base, top)
        local_start[0] = base
        local_end[-1] = top
        nxt = np.append(starts[1:], starts[-1])  # transition that ends each segment
        for part, values in zip(parts, (local_start, local_end, starts, offsets, nxt), strict=True):
            part.append(values)
    return tuple(np.concatenate(p) for p in parts)


def wall_to_utc_zones(
    wall_min: np.ndarray,
    zone_code: np.ndarray,
    zones: tuple[str, ...],
    side: Literal["start", "end"] = "start",
) -> np.ndarray:
    """Like :func:`wall_to_utc` for wall times in several zones at once.

    Parameters
    ----------
    wall_min : ndarray of int64
        Wall-clock minutes since 1970-01-01 00:00 local.
    zone_code : ndarray of int64
        Index into ``zones`` of each wall time's zone.
    zones : tuple of str
        IANA zone names.
    side : {"start", "end"}
        See :func:`wall_to_utc`.

    Returns
    -------
    ndarray of int64
        UTC instants, ns since the epoch.
    """
    _check_side(side)
    w = np.asarray(wall_min, dtype=np.int64)
    if w.size == 0:
        return np.zeros(0, np.int64)
    table = _keyed_table_for(zones, int(w.min()), int(w.max()))
    return _keyed_to_utc(w, np.asarray(zone_code, dtype=np.int64) << _KEY_SHIFT, table, side)


def windows_to_utc_zones(
    start_min: np.ndarray, end_min: np.ndarray, zone_code: np.ndarray, zones: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock windows in several zones to UTC, starts and ends in one pass.

    The same as :func:`wall_to_utc_zones` of ``start_min`` with ``side="start"`` and of
    ``end_min`` with ``side="end"``, sharing the zones' table and the zone keys.

    Parameters
    ----------
    start_min, end_min : ndarray of int64, shape (n,)
        Wall-clock minutes since 1970-01-01 00:00 local, ``start_min <= end_min``.
    zone_code : ndarray of int64, shape (n,)
        Index into ``zones`` of each window's zone.
    zones : tuple of str
        IANA zone names.

    Returns
    -------
    start, end : ndarray of int64, shape (n,)
        UTC instants, ns since the epoch.
    """
    s = np.asarray(start_min, dtype=np.int64)
    e = np.asarray(end_min, dtype=np.int64)
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Each end is at or after its start, so these two bound every wall time given.
    table = _keyed_table_for(zones, int(s.min()), int(e.max()))
    code = np.asarray(zone_code, dtype=np.int64) << _KEY_SHIFT
    return _keyed_to_utc(s, code, table, "start"), _keyed_to_utc(e, code, table, "end")


def _keyed_table_for(zones: tuple[str, ...], first_min: int, last_min: int) -> tuple[np.ndarray, ...]:
    """:func:`_keyed_table` of ``zones`` covering the wall times ``first_min..last_min``.

    Two days of margin cover every real UTC offset (|offset| < 26 h).
    """
    lo = first_min * NS_PER_MINUTE - 2 * 86_400 * _NS_PER_SECOND
    hi = last_min * NS_PER_MINUTE + 2 * 86_400 * _NS_PER_SECOND
    return _keyed_table(tuple(zones), _year(lo), _year(hi))


def _keyed_to_utc(
    w: np.ndarray, code_key: np.ndarray, table: tuple[np.ndarray, ...], side: Literal["start", "end"]
) -> np.ndarray:
    """Wall minutes ``w`` to UTC ns through a :func:`_keyed_table` (``code_key``: code << 34)."""
    local_start, local_end, starts, offsets, nxt = table
    key = code_key + (w * 60 + _SECONDS_BIAS)
    w_ns = w * NS_PER_MINUTE
    if side == "start":
        i = np.searchsorted(local_end, key, side="right")
        return np.where(local_start[i] <= key, w_ns - offsets[i], starts[i])
    j = np.searchsorted(local_start, key, side="right") - 1
    return np.where(key < local_end[j], w_ns - offsets[j], nxt[j])
