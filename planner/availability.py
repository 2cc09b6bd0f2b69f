"""Availability grids: resources x time quanta, from hours and busy tables.

A grid covers a horizon ``[origin, origin + n_quanta * quantum)`` in UTC and
one row per resource. For every quantum it knows

* ``in_hours``: the quantum lies *entirely* inside the resource's working
  (members) or opening (rooms) hours, rasterized per local date in the
  resource's own IANA zone, wall-clock correct across DST changes;
* ``busy``: some busy block overlaps the quantum, even by one minute;
* ``free = in_hours & ~busy``.

Rounding hours inward and busy time outward is what makes the grid exact for
slot finding: slot starts, durations and buffers fall on quantum boundaries
(the engine picks a quantum that divides them all), so a slot's interval is a
union of whole quanta; it lies inside working hours iff each of its quanta
does, and it overlaps a busy minute iff one of its quanta is busy.

Rows are kept bit-packed (:mod:`planner.bits`); :class:`AvailabilityGrid`
exposes them as boolean arrays of shape ``(n_resources, n_quanta)`` with a UTC
:class:`pandas.DatetimeIndex`, as a tidy DataFrame and as a day x time-of-day
pivot for heatmaps. Rasterization is vectorized: no Python loop runs over
intervals, only over the (few) distinct zones.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from planner import bits
from planner.errors import PlannerInputError
from planner.tables import Tables, prepare
from planner.zones import NS_PER_MINUTE, check_zone, windows_to_utc_zones

__all__ = [
    "AvailabilityGrid",
    "build_grid",
    "busy_intervals",
    "hours_intervals",
    "quantum_intervals",
    "rasterize",
]

NS_PER_DAY = 86_400 * 1_000_000_000
_NS_PER_SECOND = 1_000_000_000
DEFAULT_QUANTUM = pd.Timedelta(minutes=5)
_ONE_PASS_WORDS = 1 << 16  # rasterize both layers in one pass up to this many words per layer


def hours_intervals(
    tab: Tables, rows: np.ndarray, lo_ns: int, hi_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Working/opening hours of ``rows`` as merged UTC intervals within ``[lo_ns, hi_ns)``.

    Parameters
    ----------
    tab : Tables
    rows : ndarray of int64, shape (k,)
        Resource rows of ``tab``; output rows are positions in this array.
    lo_ns, hi_ns : int
        Window, ns since the epoch (UTC).

    Returns
    -------
    k, start, end : ndarray of int64
        Intervals sorted by (k, start), disjoint and not touching within a
        row (touching windows such as 09:00-12:00 and 12:00-17:00 are merged),
        clipped to the window. Instants in ns (UTC).

    Notes
    -----
    Each local date of each resource uses its override rows if it has any,
    else the weekly rows of its weekday. Wall-clock times convert with
    :func:`planner.zones.wall_to_utc` (nonexistent -> forward to the
    transition; ambiguous -> first occurrence for starts, second for ends).
    """
    rows = np.asarray(rows, dtype=np.int64)
    n_rows = rows.size
    empty = np.zeros(0, np.int64)
    if n_rows == 0 or hi_ns <= lo_ns:
        return empty, empty, empty
    # Local dates that can touch the window: offsets are within +-26 h, and an
    # interval reaches at most one day past the date it starts on.
    d0 = lo_ns // NS_PER_DAY - 3
    d1 = hi_ns // NS_PER_DAY + 2
    n_days = int(d1 - d0)
    pos = np.full(tab.n, -1, dtype=np.int64)
    pos[rows] = np.arange(n_rows)

    # Weekly rows of the selected resources, sorted by (k, weekday, start): the table's order
    # already when ``rows`` ascend, as k then ascends with the resource row.
    hk = pos[tab.hours_res]
    sel = hk >= 0
    hk = hk[sel]
    h_wd = tab.hours_weekday[sel]
    h_start = tab.hours_start[sel]
    h_end = tab.hours_end[sel]
    if (rows[1:] <= rows[:-1]).any():
        order = np.lexsort((h_start, h_wd, hk))
        hk, h_wd, h_start, h_end = hk[order], h_wd[order], h_start[order], h_end[order]
    counts = np.bincount(hk * 7 + h_wd, minlength=n_rows * 7)
    first = np.cumsum(counts) - counts

    # Overrides of the selected resources on the dates in range.
    ok_ = pos[tab.ov_res]
    sel = (ok_ >= 0) & (tab.ov_day >= d0) & (tab.ov_day < d1)
    ok_, o_day, o_start, o_end = ok_[sel], tab.ov_day[sel], tab.ov_start[sel], tab.ov_end[sel]
    overridden = np.zeros(n_rows * n_days, dtype=bool)
    overridden[ok_ * n_days + (o_day - d0)] = True

    # (k, day) pairs in k-major order, pair p = k * n_days + (day - d0), each expanded by its
    # number of weekly rows (none on an overridden date).
    weekday = (np.arange(d0, d1, dtype=np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    slot = (np.arange(0, 7 * n_rows, 7, dtype=np.int64)[:, None] + weekday).ravel()
    n_per_pair = counts[slot]
    n_per_pair[overridden] = 0
    owner = np.repeat(np.arange(slot.size, dtype=np.int64), n_per_pair)
    # The weekly rows of a pair are consecutive from first[slot]: entry i of the expansion is
    # row first[slot] + (i - the pair's first entry).
    hrow = np.arange(owner.size) + np.repeat(first[slot] - (np.cumsum(n_per_pair) - n_per_pair), n_per_pair)
    w_k, w_day = np.divmod(owner, n_days)
    w_day += d0
    base = w_day * 1440
    w_start = base + h_start[hrow]
    w_end = base + h_end[hrow]

    timed = o_start >= 0
    if timed.any():
        # Weekly part is in (k, day, start) order, so is the override part;
        # a stable sort on (k, day) interleaves them without reordering either.
        w_k = np.concatenate([w_k, ok_[timed]])
        w_day = np.concatenate([w_day, o_day[timed]])
        w_start = np.concatenate([w_start, o_day[timed] * 1440 + o_start[timed]])
        w_end = np.concatenate([w_end, o_day[timed] * 1440 + o_end[timed]])
        order = np.argsort(w_k * n_days + (w_day - d0), kind="stable")
        w_k, w_start, w_end = w_k[order], w_start[order], w_end[order]

    # Wall clock -> UTC, all zones in one vectorized lookup.
    names = [str(z) for z in tab.zone[rows].tolist()]
    zones_t = tuple(sorted(set(names)))
    number = {z: i for i, z in enumerate(zones_t)}
    code = np.array([number[z] for z in names], dtype=np.int64)[w_k]
    start, end = windows_to_utc_zones(w_start, w_end, code, zones_t)

    start = np.maximum(start, lo_ns)
    end = np.minimum(end, hi_ns)
    keep = end > start
    return _merge(w_k[keep], start[keep], end[keep], lo_ns)


def _merge(
    k: np.ndarray, start: np.ndarray, end: np.ndarray, lo_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals, given sorted by (k, start), all >= lo_ns.

    A running maximum of the end per row finds where a new interval starts a
    fresh group (its start lies after every earlier end of its row). Keying
    the values as ``k * 2**34 + seconds`` resets the maximum at each row
    without a Python loop; ``lo_ns`` is subtracted first so the seconds are
    small and non-negative. Hour edges are whole seconds (IANA offsets are),
    so seconds are exact here; busy blocks go through :func:`_merge_quanta`.
    """
    if k.size == 0:
        return k, start, end
    rel, rem = np.divmod(np.concatenate((start, end)) - lo_ns, _NS_PER_SECOND)
    # Windows whose edges are not whole seconds would not merge exactly.
    if rem.any():
        raise PlannerInputError("hours window edges must fall on whole seconds")
    kk = k << 34
    key_s = kk + rel[: k.size]
    key_e = np.maximum.accumulate(kk + rel[k.size :])
    first, last = _groups(key_s, key_e)
    if first.size == k.size:  # nothing merges: each interval's reach is its own end
        return k, start, end
    merged_end = (key_e[last] - kk[last]) * _NS_PER_SECOND + lo_ns
    return k[first], start[first], merged_end


def _groups(key_start: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last positions of the merged groups of keyed intervals (see :func:`_merge`).

    An interval opens a group when its key start exceeds the reach (running maximum of the
    key ends) of the interval before it; a sentinel after the last interval closes the last
    group, so each group's last position is one before the next group's first.
    """
    new = np.ones(key_start.size + 1, dtype=bool)
    np.greater(key_start[1:], reach[:-1], out=new[1:-1])
    bounds = np.flatnonzero(new)
    return bounds[:-1], bounds[1:] - 1


def busy_intervals(
    tab: Tables, rows: np.ndarray, lo_ns: int, hi_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Busy blocks of ``rows`` overlapping ``[lo_ns, hi_ns)``: (k, start, end), unsorted."""
    pos = np.full(tab.n, -1, dtype=np.int64)
    pos[np.asarray(rows, dtype=np.int64)] = np.arange(len(rows))
    k = pos[tab.busy_res]
    sel = (k >= 0) & (tab.busy_end > lo_ns) & (tab.busy_start < hi_ns)
    return k[sel], tab.busy_start[sel], tab.busy_end[sel]


def _merge_quanta(k: np.ndarray, a: np.ndarray, b: np.ndarray, n_quanta: int):
    """Sort quantum ranges by (k, a) and merge overlapping/touching ones.

    Keys ``k << w | a`` order the ranges by row then start; busy tables usually
    arrive sorted that way (by resource, then start), and then no sort runs.
    A running maximum of ``k << w | b`` is each row's furthest end so far; a
    range whose key start exceeds it opens a new merged range.
    """
    if k.size == 0:
        return k, a, b
    width = int(n_quanta + 1).bit_length()
    kk = k << width
    key_a = kk | a
    if (key_a[1:] < key_a[:-1]).any():
        order = np.argsort(key_a, kind="stable")
        k, a, b, kk, key_a = k[order], a[order], b[order], kk[order], key_a[order]
    reach = np.maximum.accumulate(kk | b)
    first, last = _groups(key_a, reach)
    if first.size == k.size:  # nothing merges: each range's reach is its own end
        return k, a, b
    return k[first], a[first], reach[last] - kk[last]


def quantum_intervals(
    tab: Tables, rows: np.ndarray, origin_ns: int, quantum_ns: int, n_quanta: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Hours and busy time of ``rows`` as quantum ranges over a horizon (what :func:`rasterize` lays out).

    Returns
    -------
    hours, busy : (k, a, b) each, ndarray of int64
        Output row ``k`` (a position in ``rows``) and half-open quantum range ``[a, b)`` within
        ``[0, n_quanta)``, sorted by ``(k, a)``, disjoint and not touching within a row. Hours
        are rounded inward (a quantum counts only when entirely inside the merged window), busy
        time outward (a quantum touched by a busy minute is busy), then merged.
    """
    rows = np.asarray(rows, dtype=np.int64)
    hi_ns = origin_ns + n_quanta * quantum_ns
    hk, hs, he = hours_intervals(tab, rows, origin_ns, hi_ns)
    qa = -((origin_ns - hs) // quantum_ns)  # ceil((hs - origin) / q)
    qb = (he - origin_ns) // quantum_ns
    keep = qb > qa
    hours = hk[keep], qa[keep], qb[keep]

    bk, bs, be = busy_intervals(tab, rows, origin_ns, hi_ns)
    # Every block overlaps the horizon (bs < hi, be > origin) and bs < be, so qb > qa: none
    # is empty after rounding outward and clipping.
    qa = np.maximum((bs - origin_ns) // quantum_ns, 0)
    qb = np.minimum(-((origin_ns - be) // quantum_ns), n_quanta)
    return hours, _merge_quanta(bk, qa, qb, n_quanta)


def rasterize(
    tab: Tables,
    rows: np.ndarray,
    origin_ns: int,
    quantum_ns: int,
    n_quanta: int,
    out: tuple[np.ndarray, np.ndarray] | None = None,
    zeroed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Bit rows of in-hours and busy quanta for ``rows`` over a horizon.

    Parameters
    ----------
    tab : Tables
    rows : ndarray of int64, shape (k,)
        Resource rows; output row ``i`` is resource ``rows[i]``.
    origin_ns : int
        Start of quantum 0, ns since the epoch (UTC).
    quantum_ns : int
        Quantum length in ns.
    n_quanta : int
        Number of quanta.
    out : (ndarray, ndarray), optional
        C-contiguous uint64 arrays of the output shape to write into (e.g.
        row slices of a larger grid); returned. ``zeroed``: they hold zeros
        already (fresh ``np.zeros``), so they are not cleared first.

    Returns
    -------
    in_hours, busy : ndarray of uint64, shape (k, bits.n_words(n_quanta))
        Bit rows: a quantum is in hours iff entirely covered by (merged)
        hours, busy iff any busy block overlaps it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    shape = (rows.size, bits.n_words(n_quanta))
    (hk, ha, hb), (bk, ba, bb) = quantum_intervals(tab, rows, origin_ns, quantum_ns, n_quanta)
    if out is not None:
        return (
            bits.mask_intervals(hk, ha, hb, shape, out=out[0], zeroed=zeroed),
            bits.mask_intervals(bk, ba, bb, shape, out=out[1], zeroed=zeroed),
        )

    if rows.size * shape[1] > _ONE_PASS_WORDS:  # large grids: two passes, half the peak memory
        return bits.mask_intervals(hk, ha, hb, shape), bits.mask_intervals(bk, ba, bb, shape)
    # Small grids (one invitation's rows): both layers in one pass, busy rows after hours rows,
    # since the fixed cost per numpy call dominates there.
    both = bits.mask_intervals(
        np.concatenate([hk, bk + rows.size]),
        np.concatenate([ha, ba]),
        np.concatenate([hb, bb]),
        (2 * rows.size, shape[1]),
    )
    return both[: rows.size], both[rows.size :]


@dataclass
class AvailabilityGrid:
    """Resources x quanta availability over a UTC horizon.

    Attributes
    ----------
    resource_ids : tuple of str, length n_resources
    origin : pandas.Timestamp
        Start of the first quantum (tz-aware UTC).
    quantum : pandas.Timedelta
    n_quanta : int
    zones : tuple of str
        Each resource's IANA zone.
    in_hours_bits, busy_bits : ndarray of uint64, shape (n_resources, n_words)
        Bit-packed rows (see :mod:`planner.bits`).

    Examples
    --------
    >>> grid = build_grid(org.resources, org.hours, org.busy, org.overrides,
    ...                   start=pd.Timestamp("2026-10-05", tz="UTC"),
    ...                   end=pd.Timestamp("2026-10-12", tz="UTC"))  # doctest: +SKIP
    >>> grid.free.shape                      # (n_resources, n_quanta) booleans  # doctest: +SKIP
    >>> grid.to_frame().head()               # tidy: resource_id, start, in_hours, busy, free  # doctest: +SKIP
    >>> grid.pivot("m0001", zone="Asia/Kolkata")  # local day x time of day  # doctest: +SKIP
    """

    resource_ids: tuple[str, ...]
    origin: pd.Timestamp
    quantum: pd.Timedelta
    n_quanta: int
    zones: tuple[str, ...]
    in_hours_bits: np.ndarray
    busy_bits: np.ndarray

    @property
    def index(self) -> pd.DatetimeIndex:
        """UTC start of each quantum, length ``n_quanta``."""
        return pd.date_range(self.origin, periods=self.n_quanta, freq=self.quantum, unit="ns")

    @property
    def in_hours(self) -> np.ndarray:
        """Bool, shape (n_resources, n_quanta): quantum inside working/opening hours."""
        return bits.to_bool(self.in_hours_bits, self.n_quanta)

    @property
    def busy(self) -> np.ndarray:
        """Bool, shape (n_resources, n_quanta): some busy block overlaps the quantum."""
        return bits.to_bool(self.busy_bits, self.n_quanta)

    @property
    def free(self) -> np.ndarray:
        """Bool, shape (n_resources, n_quanta): in hours and not busy."""
        return bits.to_bool(self.in_hours_bits & ~self.busy_bits, self.n_quanta)

    def __repr__(self) -> str:
        minutes = self.quantum / pd.Timedelta(minutes=1)
        end = self.origin + self.n_quanta * self.quantum
        share = float(self.free.mean()) if self.n_quanta and self.resource_ids else 0.0
        return (
            f"AvailabilityGrid({len(self.resource_ids)} resources x {self.n_quanta} quanta of {minutes:g} min, "
            f"{self.origin:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, free {share:.1%})"
        )

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"

    def row(self, resource_id: str) -> int:
        """Row of ``resource_id`` in the grid."""
        try:
            return self.resource_ids.index(resource_id)
        except ValueError:
            raise PlannerInputError(f"resource {resource_id!r} is not in this grid") from None

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (resource, quantum).

        Returns
        -------
        pandas.DataFrame
            Columns ``resource_id`` (str), ``start`` (datetime64[ns, UTC]),
            ``in_hours``, ``busy``, ``free`` (bool).
        """
        n_res = len(self.resource_ids)
        in_hours = self.in_hours
        busy = self.busy
        return pd.DataFrame(
            {
                "resource_id": pd.array(
                    np.repeat(np.array(self.resource_ids, dtype=object), self.n_quanta), dtype="str"
                ),
                "start": pd.array(
                    np.tile(self.index.asi8, n_res).view("datetime64[ns]"),
                    dtype=pd.DatetimeTZDtype("ns", "UTC"),
                ),  # fmt: skip
                "in_hours": in_hours.reshape(-1),
                "busy": busy.reshape(-1),
                "free": (in_hours & ~busy).reshape(-1),
            }
        )

    def pivot(
        self,
        resource_id: str,
        value: Literal["free", "busy", "in_hours"] = "free",
        zone: str | None = None,
    ) -> pd.DataFrame:
        """Day x time-of-day table of one resource, for heatmaps.

        Parameters
        ----------
        resource_id : str
        value : {"free", "busy", "in_hours"}
        zone : str, optional
            Zone whose local dates and times label the table; default the
            resource's own zone. On DST days a wall time can appear twice (the
            later value wins) or not at all (missing).

        Returns
        -------
        pandas.DataFrame
            Index: local dates (datetime.date); columns: local time of day
            (``datetime.time``) at the quantum's start; values: bool (missing
            where no quantum starts at that wall time).
        """
        if value not in ("free", "busy", "in_hours"):
            raise PlannerInputError(f"value must be 'free', 'busy' or 'in_hours', got {value!r}")
        r = self.row(resource_id)
        zone = zone or self.zones[r]
        check_zone(zone)
        row = getattr(self, value)[r]
        local = self.index.tz_convert(zone)
        frame = pd.DataFrame({"date": local.date, "time": local.time, "value": row})
        frame = frame.drop_duplicates(["date", "time"], keep="last")
        return frame.pivot(index="date", columns="time", values="value")


def build_grid(
    resources: pd.DataFrame,
    hours: pd.DataFrame,
    busy: pd.DataFrame,
    overrides: pd.DataFrame | None = None,
    *,
    start: pd.Timestamp | dt.datetime,
    end: pd.Timestamp | dt.datetime,
    quantum: pd.Timedelta | str = DEFAULT_QUANTUM,
    resource_ids: list[str] | tuple[str, ...] | None = None,
) -> AvailabilityGrid:
    """Build an availability grid for a horizon.

    Parameters
    ----------
    resources, hours, busy, overrides : pandas.DataFrame
        Input tables as documented in :mod:`planner`.
    start, end : tz-aware datetime
        Horizon; ``start`` is floored and ``end`` ceiled to the quantum
        (quanta are aligned on the Unix epoch, so on UTC and every zone whose
        offset is a multiple of the quantum).
    quantum : pandas.Timedelta
        Quantum length (whole minutes dividing 24 hours; default 5 minutes).
    resource_ids : sequence of str, optional
        Rows of the grid (default: every resource, in table order).

    Returns
    -------
    AvailabilityGrid

    Raises
    ------
    PlannerInputError
        Naive or reversed horizon, bad quantum, bad tables.
    """
    q = _quantum_ns(quantum)
    lo = _instant_ns(start, "start")
    hi = _instant_ns(end, "end")
    if hi <= lo:
        raise PlannerInputError(f"end {end} must be after start {start}")
    if resource_ids is None:
        tab = prepare(resources, hours, busy, overrides)
    else:
        tab = prepare(resources, hours, busy, overrides, only=resource_ids)
    origin = (lo // q) * q
    n_quanta = int(-((origin - hi) // q))
    rows = np.arange(tab.n)
    in_hours, busy_bits = rasterize(tab, rows, origin, q, n_quanta)
    return AvailabilityGrid(
        resource_ids=tuple(tab.ids.tolist()),
        origin=pd.Timestamp(origin, unit="ns", tz="UTC"),
        quantum=pd.Timedelta(q, unit="ns"),
        n_quanta=n_quanta,
        zones=tuple(tab.zone.tolist()),
        in_hours_bits=in_hours,
        busy_bits=busy_bits,
    )


def _quantum_ns(quantum: pd.Timedelta | str) -> int:
    try:
        q = pd.Timedelta(quantum)
    except (TypeError, ValueError) as exc:
        raise PlannerInputError(f"quantum must be a duration such as '5min', got {quantum!r}") from exc
    if q <= pd.Timedelta(0) or q.value % NS_PER_MINUTE or NS_PER_DAY % q.value:
        raise PlannerInputError(f"quantum must be whole minutes dividing 24 hours, got {quantum!r}")
    return int(q.value)


def _instant_ns(value: object, name: str) -> int:
    if not isinstance(value, (dt.datetime, pd.Timestamp)):
        raise PlannerInputError(f"{name} must be a tz-aware datetime, got {value!r}")
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise PlannerInputError(
            f"{name} must be tz-aware (e.g. pd.Timestamp(..., tz='UTC')), got naive {value!r}"
        )
    return int(ts.as_unit("ns").value)
