"""Organisation tables loaded once, indexed by resource.

:func:`planner.find_slots` reads the four DataFrames it is given on every
call; with a whole organisation's busy table (millions of rows) most of a
query would go to finding its own resources' rows. :class:`OrgTables`
validates the tables once and sorts every table by resource with offsets
(a CSR index), busy blocks also by start with a running maximum of their
ends. A query then slices only its resources' rows, and of those only the
blocks that can reach its frame, so its cost depends on the request, not on
the organisation's size.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.slots import SlotCheck, _check_request, check_slot_in, count_slots_in, find_slots_in
from planner.tables import Tables, prepare
from planner.teams.limits import Limits

__all__ = ["OrgTables"]

_EMPTY = np.zeros(0, np.int64)


def _offsets(res: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(np.bincount(res, minlength=n)))).astype(np.int64)


def _gather(
    offsets: np.ndarray, rows: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None
):
    """Positions of the CSR ranges of ``rows`` (optionally narrowed to ``[lo, hi)``) and their new row numbers."""
    a = offsets[rows] if lo is None else lo
    b = offsets[rows + 1] if hi is None else hi
    n = np.maximum(b - a, 0)
    owner = np.repeat(np.arange(rows.size, dtype=np.int64), n)
    # Entry i belongs to range owner[i], which starts at entry cumsum(n) - n of the output and
    # at position a of the table: one repeated shift per range.
    pos = np.arange(owner.size, dtype=np.int64) + np.repeat(a - (np.cumsum(n) - n), n)
    return pos, owner


class OrgTables:
    """The planner's input tables, validated once and indexed by resource.

    Build it with :meth:`OrgTables.load` whenever the data changes (it is
    immutable); queries (:meth:`find_slots`, :meth:`count_slots`,
    :meth:`check_slot`) give the same answers as the functions of
    :mod:`planner` on the same DataFrames and read only the rows of the
    request's resources.

    Examples
    --------
    >>> org_tables = OrgTables.load(resources, hours, busy, overrides)  # doctest: +SKIP
    >>> org_tables.find_slots(request)  # doctest: +SKIP
    """

    def __init__(self, tables: Tables) -> None:
        t = tables
        n = t.n
        # Hours and overrides come sorted by resource row from prepare().
        self._h_off = _offsets(t.hours_res, n)
        self._o_off = _offsets(t.ov_res, n)
        # Busy: sort by (resource, start) unless already so (the usual order of busy tables).
        res, start, end = t.busy_res, t.busy_start, t.busy_end
        if res.size > 1:
            unsorted = (res[1:] < res[:-1]) | ((res[1:] == res[:-1]) & (start[1:] < start[:-1]))
            if unsorted.any():
                order = np.lexsort((start, res))
                res, start, end = res[order], start[order], end[order]
        self._b_off = _offsets(res, n)
        # Running maximum of the ends within each resource: blocks before the first position
        # whose reach exceeds an instant all end by that instant.
        reach = _segmented_cummax(end, self._b_off)
        self._tables = Tables(
            ids=t.ids, kind=t.kind, zone=t.zone, capacity=t.capacity, lookup=t.lookup,
            hours_res=t.hours_res, hours_weekday=t.hours_weekday, hours_start=t.hours_start, hours_end=t.hours_end,
            ov_res=t.ov_res, ov_day=t.ov_day, ov_start=t.ov_start, ov_end=t.ov_end,
            busy_res=res, busy_start=start, busy_end=end,
        )  # fmt: skip
        self._reach = reach

    @classmethod
    def load(
        cls,
        resources: pd.DataFrame,
        hours: pd.DataFrame,
        busy: pd.DataFrame,
        overrides: pd.DataFrame | None = None,
    ) -> OrgTables:
        """Validate the input tables (see :mod:`planner`) and index them by resource."""
        return cls(prepare(resources, hours, busy, overrides))

    @property
    def tables(self) -> Tables:
        """The validated tables, busy blocks sorted by (resource, start)."""
        return self._tables

    @property
    def resource_ids(self) -> tuple[str, ...]:
        """Ids of every resource, in table order."""
        return tuple(self._tables.ids.tolist())

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays of the index, in bytes."""
        t = self._tables
        arrays = (t.capacity, t.hours_res, t.hours_weekday, t.hours_start, t.hours_end, t.ov_res, t.ov_day,
                  t.ov_start, t.ov_end, t.busy_res, t.busy_start, t.busy_end, self._reach, self._h_off,
                  self._o_off, self._b_off)  # fmt: skip
        return int(sum(a.nbytes for a in arrays))

    def rows_of(self, ids: tuple[str, ...] | list[str]) -> np.ndarray:
        """Resource rows of ``ids`` (each must exist)."""
        lookup = self._tables.lookup
        missing = [i for i in ids if i not in lookup]
        if missing:
            raise PlannerInputError(
                f"resource {missing[0]!r} is not in resources; add it or remove it from the request"
            )
        return np.array([lookup[i] for i in ids], dtype=np.int64)

    def subset(
        self, ids: tuple[str, ...] | list[str], lo_ns: int | None = None, hi_ns: int | None = None
    ) -> Tables:
        """:class:`Tables` of the resources ``ids`` only (in that order).

        With ``lo_ns``/``hi_ns`` busy blocks are narrowed to those that may
        overlap ``[lo_ns, hi_ns)`` (a superset: the rasterizer clips them).
        Costs O(rows of these resources), not O(rows of the organisation).
        """
        return self.subset_rows(self.rows_of(list(dict.fromkeys(ids))), lo_ns, hi_ns)

    def subset_rows(self, rows: np.ndarray, lo_ns: int | None = None, hi_ns: int | None = None) -> Tables:
        """Like :meth:`subset` for resource rows (positions in :attr:`resource_ids`)."""
        t = self._tables
        rows = np.asarray(rows, dtype=np.int64)
        pos, owner = _gather(self._h_off, rows)
        h_res, h_wd, h_s, h_e = owner, t.hours_weekday[pos], t.hours_start[pos], t.hours_end[pos]
        if self._o_off[-1]:
            pos, owner = _gather(self._o_off, rows)
            o_res, o_day, o_s, o_e = owner, t.ov_day[pos], t.ov_start[pos], t.ov_end[pos]
        else:
            o_res = o_day = o_s = o_e = _EMPTY
        a, b = self._b_off[rows], self._b_off[rows + 1]
        if lo_ns is not None or hi_ns is not None:
            a, b = a.tolist(), b.tolist()
            reach, starts = self._reach, t.busy_start
            for i, (s, e) in enumerate(zip(a, b, strict=True)):
                if s == e:
                    continue
                if lo_ns is not None:
                    a[i] = s + int(reach[s:e].searchsorted(lo_ns, side="right"))
                if hi_ns is not None:
                    b[i] = s + int(starts[s:e].searchsorted(hi_ns, side="left"))
            a, b = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
        pos, owner = _gather(self._b_off, rows, a, b)
        sub_ids = t.ids[rows]
        return Tables(
            ids=sub_ids, kind=t.kind[rows], zone=t.zone[rows], capacity=t.capacity[rows],
            lookup={rid: i for i, rid in enumerate(sub_ids.tolist())},
            hours_res=h_res, hours_weekday=h_wd, hours_start=h_s, hours_end=h_e,
            ov_res=o_res, ov_day=o_day, ov_start=o_s, ov_end=o_e,
            busy_res=owner, busy_start=t.busy_start[pos], busy_end=t.busy_end[pos],
        )  # fmt: skip

    def busy_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Busy blocks (start, end ns) of one resource row, sorted by start (views)."""
        a, b = self._b_off[row], self._b_off[row + 1]
        return self._tables.busy_start[a:b], self._tables.busy_end[a:b]

    # -- queries ---------------------------------------------------------------------------
    def _request_tables(self, request: SlotRequest) -> Tables:
        lo, hi = request.frame_ns
        span = request.buffer_before.value + request.buffer_after.value
        return self.subset(request.all_members + request.rooms, lo - span, hi + span)

    def find_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> pd.DataFrame:
        """Same as :func:`planner.find_slots` on the loaded tables (panels, rotation and ``limits`` included)."""
        return find_slots_in(request, self._request_tables(_check_request(request)), limits=limits)

    def count_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> int:
        """Same as :func:`planner.count_slots` on the loaded tables."""
        return count_slots_in(request, self._request_tables(_check_request(request)), limits=limits)

    def check_slot(
        self, request: SlotRequest, *, start: dt.datetime | pd.Timestamp, limits: Limits | None = None
    ) -> SlotCheck:
        """Same as :func:`planner.check_slot` on the loaded tables (reads only the request's rows)."""
        return check_slot_in(request, self._request_tables(_check_request(request)), start=start, limits=limits)


def _segmented_cummax(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Cumulative maximum of ``values`` restarting at each segment ``offsets[i]:offsets[i+1]``."""
    out = np.empty_like(values)
    if values.size == 0:
        return out
    # Shift each segment above all earlier ones: subtract the segment's minimum, then add a
    # base that grows by the previous segments' spread. Values are ns (< 2**62); the spread
    # within a segment is small enough for int64 when segments are processed in blocks.
    counts = np.diff(offsets)
    seg = np.repeat(np.arange(counts.size), counts)
    firsts = offsets[:-1][counts > 0]
    mins = np.minimum.reduceat(values, firsts)
    rel = values - np.repeat(mins, counts[counts > 0])
    spread = int(rel.max()) + 1
    if spread * max(counts.size, 1) < 2**62:
        keyed = rel + seg * spread
        np.maximum.accumulate(keyed, out=keyed)
        out[:] = keyed - seg * spread + np.repeat(mins, counts[counts > 0])
        return out
    for i in range(counts.size):  # pragma: no cover - blocks spanning centuries
        s, e = offsets[i], offsets[i + 1]
        if e > s:
            out[s:e] = np.maximum.accumulate(values[s:e])
    return out
