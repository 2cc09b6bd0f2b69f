"""The organisation grid: every resource's availability, built once and kept.

:class:`OrgGrid` rasterizes all members and rooms over a horizon (default
5-minute quanta) into two bit-packed layers, *in hours* and *busy*. A query
for one invitation then only gathers its resources' rows and runs the slot
rules on them (:mod:`planner.slots`): no table is re-read, no wall clock
converted. Adding or removing one busy block or reservation rewrites the few
words of one row it touches, without a rebuild.

Design notes

* Busy is kept as bits, not as a per-quantum count: removing a block
  re-rasterizes the words it covered from that resource's remaining blocks
  (kept per resource), which is exact even when blocks overlap.
* A request whose quantum does not fit the grid (a 7-minute buffer on a
  5-minute grid) or whose frame reaches outside the horizon is answered by the
  cold path on the grid's current tables, so answers never depend on the
  horizon chosen.
* The grid is a cache for listing slots. Booking re-checks a start with
  :func:`planner.check_slot` on freshly read data, never on a grid.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from planner import bits
from planner.availability import DEFAULT_QUANTUM, AvailabilityGrid, _instant_ns, _quantum_ns, rasterize
from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.slots import (
    _assemble,
    _candidates,
    _check_limits,
    _check_request,
    _empty_slots,
    _evaluate,
    _layout,
    _request_quantum,
    allowed_rows,
    solve_tables,
)
from planner.tables import Tables, prepare
from planner.teams.limits import Limits
from planner.teams.turns import resolve_turns

__all__ = ["OrgGrid"]


class OrgGrid:
    """Availability of every resource over a horizon, with incremental updates.

    Build it with :meth:`OrgGrid.build`. Attributes are read-only views;
    change busy time only through :meth:`add_busy` / :meth:`remove_busy`
    (a reservation is a busy block widened by its meeting's buffers).
    Queries may run from several threads; updates must not run concurrently
    with queries or with each other (hold a lock, or rebuild per data version).

    Examples
    --------
    >>> grid = OrgGrid.build(resources, hours, busy, overrides,
    ...                      start=pd.Timestamp("2026-10-01", tz="UTC"),
    ...                      end=pd.Timestamp("2027-01-01", tz="UTC"))  # doctest: +SKIP
    >>> grid.count_slots(request)  # doctest: +SKIP
    >>> grid.add_busy("m0001", start, end)  # doctest: +SKIP

    Attributes
    ----------
    resource_ids : tuple of str
    origin : pandas.Timestamp
        Start of quantum 0 (UTC).
    quantum : pandas.Timedelta
    n_quanta : int
    """

    def __init__(
        self,
        tables: Tables,
        origin_ns: int,
        quantum_ns: int,
        n_quanta: int,
        in_hours: np.ndarray,
        busy: np.ndarray,
    ) -> None:
        self._tables = tables
        self._origin = int(origin_ns)
        self._q = int(quantum_ns)
        self._n = int(n_quanta)
        self._in_hours = in_hours
        self._busy = busy
        # Busy blocks per resource, as a CSR base (rows sorted by resource)
        # plus copies of the rows that have been changed since the build.
        res = tables.busy_res
        if res.size and (res[1:] < res[:-1]).any():
            order = np.argsort(res, kind="stable")
            self._base_start = tables.busy_start[order]
            self._base_end = tables.busy_end[order]
        else:  # already grouped by resource (the usual order of busy tables)
            self._base_start = tables.busy_start
            self._base_end = tables.busy_end
        counts = np.bincount(res, minlength=tables.n)
        self._base_offsets = np.concatenate(([0], np.cumsum(counts)))
        self._changed: dict[int, np.ndarray] = {}
        # Row layout per (members, pools, rooms, capacity): resources never
        # change in a grid, so the dashboard's repeated queries reuse it.
        self._layouts: dict[tuple, object] = {}

    # -- construction ---------------------------------------------------------------
    @classmethod
    def build(
        cls,
        resources: pd.DataFrame,
        hours: pd.DataFrame,
        busy: pd.DataFrame,
        overrides: pd.DataFrame | None = None,
        *,
        start: dt.datetime | pd.Timestamp,
        end: dt.datetime | pd.Timestamp,
        quantum: pd.Timedelta | str = DEFAULT_QUANTUM,
    ) -> OrgGrid:
        """Rasterize every resource of the tables over ``[start, end)``.

        Parameters
        ----------
        resources, hours, busy, overrides : pandas.DataFrame
            Input tables (see :mod:`planner`).
        start, end : tz-aware datetime
            Horizon; floored/ceiled to the quantum (quanta are aligned on the
            Unix epoch).
        quantum : pandas.Timedelta
            Default 5 minutes.

        Returns
        -------
        OrgGrid
        """
        q = _quantum_ns(quantum)
        lo = _instant_ns(start, "start")
        hi = _instant_ns(end, "end")
        if hi <= lo:
            raise PlannerInputError(f"end {end} must be after start {start}")
        tab = prepare(resources, hours, busy, overrides)
        origin = (lo // q) * q
        n_quanta = int(-((origin - hi) // q))
        in_hours, busy_bits = rasterize(tab, np.arange(tab.n), origin, q, n_quanta)
        return cls(tab, origin, q, n_quanta, in_hours, busy_bits)

    # -- read access -----------------------------------------------------------------
    @property
    def resource_ids(self) -> tuple[str, ...]:
        """Ids of the grid's rows."""
        return tuple(self._tables.ids.tolist())

    @property
    def origin(self) -> pd.Timestamp:
        """Start of the horizon (UTC)."""
        return pd.Timestamp(self._origin, unit="ns", tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        """End of the horizon (UTC, exclusive)."""
        return pd.Timestamp(self._origin + self._n * self._q, unit="ns", tz="UTC")

    @property
    def quantum(self) -> pd.Timedelta:
        """Quantum length."""
        return pd.Timedelta(self._q, unit="ns")

    @property
    def n_quanta(self) -> int:
        """Number of quanta in the horizon."""
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the two bit layers, in bytes."""
        return int(self._in_hours.nbytes + self._busy.nbytes)

    def availability(self) -> AvailabilityGrid:
        """Snapshot as an :class:`~planner.availability.AvailabilityGrid` (bool arrays, tidy frames)."""
        return AvailabilityGrid(
            resource_ids=self.resource_ids,
            origin=self.origin,
            quantum=self.quantum,
            n_quanta=self._n,
            zones=tuple(self._tables.zone.tolist()),
            in_hours_bits=self._in_hours.copy(),
            busy_bits=self._busy.copy(),
        )

    def _blocks(self, row: int) -> np.ndarray:
        """Busy blocks of one resource row as an (n, 2) int64 array of ns (start, end)."""
        if row in self._changed:
            return self._changed[row]
        a, b = self._base_offsets[row], self._base_offsets[row + 1]
        return np.stack([self._base_start[a:b], self._base_end[a:b]], axis=1)

    @property
    def busy(self) -> pd.DataFrame:
        """Current busy blocks: ``resource_id``, ``start``, ``end`` (datetime64[ns, UTC])."""
        res, start, end = self._busy_arrays()
        return pd.DataFrame(
            {
                "resource_id": pd.array(self._tables.ids[res].tolist(), dtype="str"),
                "start": pd.DatetimeIndex(start.view("datetime64[ns]"), tz="UTC"),
                "end": pd.DatetimeIndex(end.view("datetime64[ns]"), tz="UTC"),
            }
        )

    def _busy_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.diff(self._base_offsets)
        base_res = np.repeat(np.arange(self._tables.n), counts)
        keep = np.ones(base_res.size, dtype=bool)
        res_parts, start_parts, end_parts = [], [], []
        for row, blocks in self._changed.items():
            keep[self._base_offsets[row] : self._base_offsets[row + 1]] = False
            res_parts.append(np.full(len(blocks), row, dtype=np.int64))
            start_parts.append(blocks[:, 0])
            end_parts.append(blocks[:, 1])
        res = np.concatenate([base_res[keep], *res_parts])
        start = np.concatenate([self._base_start[keep], *start_parts])
        end = np.concatenate([self._base_end[keep], *end_parts])
        return res, start, end

    def _current_tables(self) -> Tables:
        res, start, end = self._busy_arrays()
        t = self._tables
        return Tables(
            ids=t.ids, kind=t.kind, zone=t.zone, capacity=t.capacity, lookup=t.lookup,
            hours_res=t.hours_res, hours_weekday=t.hours_weekday, hours_start=t.hours_start, hours_end=t.hours_end,
            ov_res=t.ov_res, ov_day=t.ov_day, ov_start=t.ov_start, ov_end=t.ov_end,
            busy_res=res, busy_start=start, busy_end=end,
        )  # fmt: skip

    # -- incremental updates ------------------------------------------------------------
    def _row_of(self, resource_id: str) -> int:
        row = self._tables.lookup.get(resource_id)
        if row is None:
            raise PlannerInputError(f"resource {resource_id!r} is not in this grid; rebuild it with the resource")
        return row

    @staticmethod
    def _block_ns(start: object, end: object) -> tuple[int, int]:
        bounds = []
        for name, value in (("start", start), ("end", end)):
            if not isinstance(value, (dt.datetime, pd.Timestamp)):
                raise PlannerInputError(f"{name} must be a tz-aware datetime, got {value!r}")
            ts = pd.Timestamp(value)
            if ts.tzinfo is None:
                raise PlannerInputError(f"{name} must be tz-aware, got naive {value!r}")
            bounds.append(int(ts.as_unit("ns").value))
        s, e = bounds
        if e <= s:
            raise PlannerInputError(f"a busy block needs start < end, got {start} .. {end}")
        return s, e

    def _quanta(self, s: int, e: int) -> tuple[int, int]:
        """Quanta a block touches, clipped to the horizon (outward rounding)."""
        a = max((s - self._origin) // self._q, 0)
        b = min(-((self._origin - e) // self._q), self._n)
        return int(a), int(b)

    def add_busy(self, resource_id: str, start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp) -> None:
        """Add one busy block (or reservation, already widened by its buffers).

        Parameters
        ----------
        resource_id : str
        start, end : tz-aware datetime
            Half-open interval.
        """
        row = self._row_of(resource_id)
        s, e = self._block_ns(start, end)
        blocks = self._blocks(row)
        at = int(np.searchsorted(blocks[:, 0], s)) if row in self._changed else len(blocks)
        self._changed[row] = np.insert(blocks, at, [s, e], axis=0)
        a, b = self._quanta(s, e)
        if b > a:
            words, masks = bits.interval_words(a, b)
            self._busy[row, words] |= masks

    def remove_busy(
        self, resource_id: str, start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp
    ) -> None:
        """Remove one busy block (it must exist with exactly these bounds).

        The words the block covered are re-rasterized from the resource's
        remaining blocks, so overlapping blocks stay busy.
        """
        row = self._row_of(resource_id)
        s, e = self._block_ns(start, end)
        blocks = self._blocks(row)
        hit = np.flatnonzero((blocks[:, 0] == s) & (blocks[:, 1] == e))
        if hit.size == 0:
            raise PlannerInputError(
                f"{resource_id!r} has no busy block {pd.Timestamp(s, tz='UTC')} .. {pd.Timestamp(e, tz='UTC')} to remove"
            )
        blocks = np.delete(blocks, hit[0], axis=0)
        self._changed[row] = blocks
        a, b = self._quanta(s, e)
        if b <= a:
            return
        w0, w1 = a >> 6, ((b - 1) >> 6) + 1
        lo_q, hi_q = w0 * 64, w1 * 64
        # Remaining blocks touching those words, in quanta clipped to them.
        qa = np.maximum((blocks[:, 0] - self._origin) // self._q, lo_q)
        qb = np.minimum(-((self._origin - blocks[:, 1]) // self._q), min(hi_q, self._n))
        sel = qb > qa
        fresh = np.zeros(w1 - w0, dtype=np.uint64)
        if sel.any():
            _, words, masks = bits.segments(qa[sel] - lo_q, qb[sel] - lo_q)
            np.bitwise_or.at(fresh, words, masks)  # overlapping blocks share words
        self._busy[row, w0:w1] = fresh

    # -- queries -----------------------------------------------------------------------------
    def _solve(self, request: SlotRequest, limits: Limits | None = None):
        request = _check_request(request)
        limits = _check_limits(limits)
        cands, firsts = _candidates(request)
        if cands.size and any(request.pool_turns):
            request = resolve_turns(request, self._tables, cands, _request_quantum(request, firsts))
        key = (request.members, request.pools, request.rooms, request.min_capacity)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= 1024:
                self._layouts.clear()
            layout = self._layouts[key] = _layout(request, self._tables)
        if cands.size == 0:
            return layout, None, 0, 0
        q_req = _request_quantum(request, firsts)
        q = self._q
        d, bb, ba = (request.duration.value // q, request.buffer_before.value // q, request.buffer_after.value // q)
        first = int(cands[0]) - bb * q
        last = int(cands[-1]) + (d + ba) * q
        if q_req % q or first < self._origin or last > self._origin + self._n * q:
            # Finer quantum needed, or the frame leaves the horizon: exact cold path.
            return solve_tables(request, self._current_tables(), limits)
        pos = (cands - self._origin) // q
        w_lo = int(pos[0] - bb) >> 6
        w_hi = (int(pos[-1] + d + ba) >> 6) + 1
        cols = slice(w_lo, w_hi)
        in_hours = self._in_hours[layout.rows, cols]
        busy = self._busy[layout.rows, cols]
        cand = bits.from_positions(pos - w_lo * 64, w_hi - w_lo)
        allowed = allowed_rows(layout, self._tables, limits, request, pos - w_lo * 64, cands, w_hi - w_lo)
        ev = _evaluate(layout, in_hours, busy, cand, int(d), int(bb), int(ba), request.pool_k, allowed)
        return layout, ev, self._origin + w_lo * 64 * q, q

    def find_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> pd.DataFrame:
        """Available slots for ``request`` on the grid; same result as :func:`planner.find_slots`."""
        layout, ev, origin, q = self._solve(request, limits)
        if ev is None:
            return _empty_slots()
        return _assemble(request, layout, ev, origin, q)

    def count_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> int:
        """Number of available slots for ``request`` on the grid; same as :func:`planner.count_slots`."""
        _, ev, _, _ = self._solve(request, limits)
        return 0 if ev is None else bits.popcount(ev.final)
