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
import html
import os
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from planner import bits
from planner.availability import DEFAULT_QUANTUM, AvailabilityGrid, _instant_ns, _quantum_ns, rasterize
from planner.errors import PlannerInputError
from planner.index import OrgTables
from planner.request import SlotRequest
from planner.slots import (
    _assemble,
    _candidates,
    _check_limits,
    _check_request,
    _count,
    _empty_slots,
    _evaluate,
    _Evaluation,
    _layout,
    _ok_rows,
    _request_quantum,
    allowed_rows,
    solve_tables,
)
from planner.tables import Tables
from planner.teams.limits import Limits
from planner.teams.panels import at_least
from planner.teams.turns import resolve_turns

#: Resources rasterized together when a grid is built: bounds the build's transient memory.
DEFAULT_CHUNK = 128
#: Most threads a build rasterizes chunks in (numpy works outside the interpreter lock there).
MAX_BUILD_WORKERS = 4
#: Words per layer from which a build uses threads by default: below it (about 1,000 resources by
#: 30 days) starting them and sharing the interpreter lock cost more than they save.
_THREADED_BUILD_WORDS = 1_000_000
#: Default memory bound of the per-shape cache of "ok to start here" rows, in bytes.
DEFAULT_CACHE_BYTES = 64 * 2**20
#: Limit masks kept per :class:`~planner.Limits` object (one per request shape and frame).
_ALLOWED_PER_LIMITS = 16

__all__ = ["OrgGrid"]


class OrgGrid:
    """Availability of every resource over a horizon, with incremental updates.

    Build it with :meth:`OrgGrid.build`. Attributes are read-only views;
    change busy time only through :meth:`add_busy` / :meth:`remove_busy`
    (a reservation is a busy block widened by its meeting's buffers).
    Queries may run from several threads (their caches are shared under a
    lock); updates must not run concurrently with queries or with each other
    (hold a lock, or rebuild per data version).

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
        index: OrgTables,
        origin_ns: int,
        quantum_ns: int,
        n_quanta: int,
        in_hours: np.ndarray,
        busy: np.ndarray,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._index = index
        self._tables = index.tables
        self._origin = int(origin_ns)
        self._q = int(quantum_ns)
        self._n = int(n_quanta)
        self._in_hours = in_hours
        self._busy = busy
        # Busy blocks per resource: the index's CSR arrays (sorted by resource, then start)
        # plus copies of the rows that have been changed since the build.
        self._changed: dict[int, np.ndarray] = {}
        # Row layout per (members, pools, rooms, capacity): resources never
        # change in a grid, so the dashboard's repeated queries reuse it.
        self._layouts: dict[tuple, object] = {}
        # Per meeting shape (duration, buffers in quanta) and resource row: the bit row of
        # starts that are ok for the resource over the whole horizon (rule 2 of the slot
        # semantics), least recently used first; dropped for a row when its busy time changes.
        self._ok_cache: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
        self._ok_shapes: dict[tuple[int, int, int], int] = {}
        self._cache_bytes = int(cache_bytes)
        # Queries may run from several threads (the dashboard shares one grid): the caches
        # are read and changed under this lock.
        self._lock = threading.Lock()
        # Candidate starts per (zone, interval, frame, duration): positions on the grid.
        self._cands: OrderedDict[tuple, tuple] = OrderedDict()
        self._cands_nbytes = 0
        # Per Limits object (immutable; held weakly) and (resources, frame, shape, earliest
        # start): the layout rows' "within the limits" masks, a few per Limits object. The
        # masks depend on the limits and meetings, not on busy time, so add_busy keeps them.
        self._allowed: weakref.WeakKeyDictionary[Limits, OrderedDict[tuple, np.ndarray | None]] = (
            weakref.WeakKeyDictionary()
        )

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
        chunk: int = DEFAULT_CHUNK,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        workers: int | None = None,
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
        chunk : int
            Resources rasterized at a time (bounds the build's transient memory).
        cache_bytes : int
            Memory bound of the per-shape cache of repeated queries (see
            :attr:`cache_nbytes`); 0 turns the cache off.
        workers : int, optional
            Threads that rasterize chunks at once; default one per CPU, at
            most :data:`MAX_BUILD_WORKERS`, for a grid of a million words a
            layer or more, else 1 (the calling thread).

        Returns
        -------
        OrgGrid
        """
        cls._horizon(start, end, quantum)  # refuse a bad horizon before loading the tables
        return cls.from_tables(OrgTables.load(resources, hours, busy, overrides), start=start, end=end,
                               quantum=quantum, chunk=chunk, cache_bytes=cache_bytes, workers=workers)  # fmt: skip

    @classmethod
    def from_tables(
        cls,
        tables: OrgTables,
        *,
        start: dt.datetime | pd.Timestamp,
        end: dt.datetime | pd.Timestamp,
        quantum: pd.Timedelta | str = DEFAULT_QUANTUM,
        chunk: int = DEFAULT_CHUNK,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        workers: int | None = None,
    ) -> OrgGrid:
        """Rasterize every resource of already loaded :class:`~planner.OrgTables` (see :meth:`build`).

        Resources are rasterized ``chunk`` at a time straight into the two
        layers, so the build needs little memory beyond what the grid keeps;
        ``workers`` threads take chunks at once, each writing its own rows.
        """
        if not isinstance(tables, OrgTables):
            raise PlannerInputError(f"tables must be a planner.OrgTables, got {type(tables).__name__}")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise PlannerInputError(f"chunk must be a positive number of resources, got {chunk!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise PlannerInputError(f"workers must be a positive number of threads, got {workers!r}")
        q, lo, hi = cls._horizon(start, end, quantum)
        origin = (lo // q) * q
        n_quanta = int(-((origin - hi) // q))
        n = tables.tables.n
        shape = (n, bits.n_words(n_quanta))
        if workers is None:
            large = shape[0] * shape[1] >= _THREADED_BUILD_WORDS
            workers = min(os.cpu_count() or 1, MAX_BUILD_WORKERS) if large else 1
        # Fresh zeros (pages the system hands out zeroed), filled chunk by chunk.
        in_hours = np.zeros(shape, dtype=np.uint64)
        busy_bits = np.zeros(shape, dtype=np.uint64)
        top = origin + n_quanta * q

        def rasterize_chunk(a: int) -> None:
            b = min(a + chunk, n)
            sub = tables.subset_rows(np.arange(a, b), origin, top)
            rasterize(
                sub, np.arange(b - a), origin, q, n_quanta, out=(in_hours[a:b], busy_bits[a:b]), zeroed=True
            )

        starts = range(0, n, chunk)
        if workers == 1 or len(starts) <= 1:
            for a in starts:
                rasterize_chunk(a)
        else:
            with ThreadPoolExecutor(min(workers, len(starts))) as pool:
                for _ in pool.map(rasterize_chunk, starts):  # re-raises a chunk's error here
                    pass
        return cls(tables, origin, q, n_quanta, in_hours, busy_bits, cache_bytes=cache_bytes)

    @staticmethod
    def _horizon(start: object, end: object, quantum: object) -> tuple[int, int, int]:
        q = _quantum_ns(quantum)
        lo = _instant_ns(start, "start")
        hi = _instant_ns(end, "end")
        if hi <= lo:
            raise PlannerInputError(f"end {end} must be after start {start}")
        return q, lo, hi

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

    def __repr__(self) -> str:
        return (
            f"OrgGrid({len(self.resource_ids)} resources x {self._n} quanta of {_minutes(self.quantum)}, "
            f"{self.origin:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC, {self.nbytes / 2**20:.1f} MiB)"
        )

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"

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
        return np.stack(self._index.busy_of(row), axis=1)

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
        base_res = self._tables.busy_res
        offsets = self._index._b_off
        keep = np.ones(base_res.size, dtype=bool)
        res_parts, start_parts, end_parts = [], [], []
        for row, blocks in self._changed.items():
            keep[offsets[row] : offsets[row + 1]] = False
            res_parts.append(np.full(len(blocks), row, dtype=np.int64))
            start_parts.append(blocks[:, 0])
            end_parts.append(blocks[:, 1])
        res = np.concatenate([base_res[keep], *res_parts])
        start = np.concatenate([self._tables.busy_start[keep], *start_parts])
        end = np.concatenate([self._tables.busy_end[keep], *end_parts])
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
            raise PlannerInputError(
                f"resource {resource_id!r} is not in this grid; rebuild it with the resource"
            )
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

    def add_busy(
        self, resource_id: str, start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp
    ) -> None:
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
        at = int(np.searchsorted(blocks[:, 0], s))  # keep the row's blocks in start order
        self._changed[row] = np.insert(blocks, at, [s, e], axis=0)
        a, b = self._quanta(s, e)
        if b > a:
            words, masks = bits.interval_words(a, b)
            self._busy[row, words] |= masks
            self._forget(row)

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
        self._forget(row)
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

    # -- the per-shape cache ----------------------------------------------------------------
    @property
    def cache_nbytes(self) -> int:
        """Memory held by the caches of repeated queries, in bytes (at most ``cache_bytes``).

        The "ok to start here" rows per shape and resource, and the candidate
        starts per (zone, interval, frame, shape).
        """
        with self._lock:
            return len(self._ok_cache) * self._in_hours.shape[1] * 8 + self._cands_nbytes + self._masks_nbytes()

    def _masks_nbytes(self) -> int:
        """Memory held by the kept limit masks (call under the lock)."""
        return sum(a.nbytes for kept in list(self._allowed.values()) for a in kept.values() if a is not None)

    def clear_cache(self) -> None:
        """Drop every cached row (the next query of each shape runs the sliding windows again)."""
        with self._lock:
            self._ok_cache.clear()
            self._ok_shapes.clear()
            self._cands.clear()
            self._cands_nbytes = 0
            self._allowed.clear()

    def _forget(self, row: int) -> None:
        """Busy time of ``row`` changed: drop its cached rows of every shape."""
        with self._lock:
            self._forget_unlocked(row)

    def _forget_unlocked(self, row: int) -> None:
        for shape in list(self._ok_shapes):
            if self._ok_cache.pop((*shape, row), None) is not None:
                self._ok_shapes[shape] -= 1
                if not self._ok_shapes[shape]:
                    del self._ok_shapes[shape]

    def _ok_for_unlocked(
        self, rows: np.ndarray, d: int, bb: int, ba: int, w_lo: int, w_hi: int
    ) -> np.ndarray | None:
        """Words ``[w_lo, w_hi)`` of the cached "ok to start" rows of ``rows`` for one shape.

        Missing rows are computed over the whole horizon and cached; None when the
        request's rows alone would not fit the cache.
        """
        width = self._in_hours.shape[1]
        if len(rows) * width * 8 > self._cache_bytes:
            return None
        cache = self._ok_cache
        out = np.empty((len(rows), w_hi - w_lo), dtype=np.uint64)
        missing = []
        for i, r in enumerate(rows.tolist()):
            key = (d, bb, ba, r)
            row = cache.get(key)
            if row is None:
                missing.append(i)
            else:
                cache.move_to_end(key)
                out[i] = row[w_lo:w_hi]
        if missing:
            miss = np.asarray(missing, dtype=np.int64)
            fresh = _ok_rows(self._in_hours[rows[miss]], self._busy[rows[miss]], d, bb, ba)
            # Rows are shifted as one stream, so a row's first bb and last quanta hold bits of
            # its neighbours; queries only read starts whose windows lie inside the horizon.
            out[miss] = fresh[:, w_lo:w_hi]
            shape = (d, bb, ba)
            for k, r in enumerate(rows[miss].tolist()):
                if (d, bb, ba, r) not in cache:  # a row listed twice is cached once
                    cache[(d, bb, ba, r)] = fresh[k].copy()
                    self._ok_shapes[shape] = self._ok_shapes.get(shape, 0) + 1
            limit = (self._cache_bytes - self._cands_nbytes - self._masks_nbytes()) // (width * 8)
            while len(cache) > limit:
                (d0, b0, a0, _), _ = cache.popitem(last=False)
                self._ok_shapes[(d0, b0, a0)] -= 1
                if not self._ok_shapes[(d0, b0, a0)]:
                    del self._ok_shapes[(d0, b0, a0)]
        return out

    def _candidate_bits_unlocked(self, request: SlotRequest, d: int, bb: int, ba: int):
        """Candidate starts of ``request`` on the grid: (starts ns, firsts, w_lo, w_hi, bit row).

        Cached per (zone, interval, frame, shape) without the notice cut, which is applied
        to a copy of the cached row. The row is None when the starts are off the grid's
        quanta or their windows leave the horizon.
        """
        key = (request.zone, request.interval.value, request.frame_ns, request.duration.value, bb, ba)
        hit = self._cands.get(key)
        if hit is None:
            unlimited = SlotRequest(
                members=(), pools=(), rooms=(), min_capacity=1, duration=request.duration,
                buffer_before=pd.Timedelta(0), buffer_after=pd.Timedelta(0), minimum_notice=pd.Timedelta(0),
                interval=request.interval, frame_start=request.frame_start, frame_end=request.frame_end,
                zone=request.zone, now=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
            )  # fmt: skip
            cands, firsts = _candidates(unlimited)
            q = self._q
            pos = (cands - self._origin) // q
            on_grid = all((f - self._origin) % q == 0 for f in firsts)
            if pos.size and on_grid and pos[0] >= bb and pos[-1] + d + ba <= self._n:
                w_lo = int(pos[0] - bb) >> 6
                w_hi = (int(pos[-1] + d + ba) >> 6) + 1
                hit = (cands, firsts, pos, w_lo, w_hi, bits.from_positions(pos - w_lo * 64, w_hi - w_lo))
            else:
                hit = (cands, firsts, pos, 0, 0, None)
            self._remember_candidates(key, hit)
        else:
            self._cands.move_to_end(key)
        cands, firsts, pos, w_lo, w_hi, row = hit
        cut = request.now_ns + request.minimum_notice.value
        if cands.size and cands[0] < cut:
            # Starts before now + notice are dropped; the progression of the first kept start
            # then begins there.
            at = int(np.searchsorted(cands, cut))
            cands = cands[at:]
            firsts = [int(cands[0])] + [f for f in firsts if f > cands[0]] if cands.size else []
            if row is not None:
                row = row.copy()
                if at < pos.size:
                    p = int(pos[at]) - w_lo * 64
                    row[: p >> 6] = 0
                    row[p >> 6] &= ~bits._LOW[p & 63]
                else:
                    row[:] = 0
        return cands, firsts, w_lo, w_hi, row

    def _ok_for(self, rows: np.ndarray, d: int, bb: int, ba: int, w_lo: int, w_hi: int) -> np.ndarray | None:
        with self._lock:
            return self._ok_for_unlocked(rows, d, bb, ba, w_lo, w_hi)

    def _candidate_bits(self, request: SlotRequest, d: int, bb: int, ba: int):
        with self._lock:
            return self._candidate_bits_unlocked(request, d, bb, ba)

    def _remember_candidates(self, key: tuple, hit: tuple) -> None:
        """Cache one entry of candidate starts if it fits the bound, evicting the oldest entries."""
        size = _candidate_nbytes(hit)
        width_bytes = self._in_hours.shape[1] * 8
        while (
            self._cands
            and self._cands_nbytes + size + len(self._ok_cache) * width_bytes + self._masks_nbytes() > self._cache_bytes
        ):
            if len(self._cands) * 4 < len(self._ok_cache) + 4 and self._ok_cache:
                # Make room in the rows first while they hold most of the memory.
                (d0, b0, a0, _), _ = self._ok_cache.popitem(last=False)
                self._ok_shapes[(d0, b0, a0)] -= 1
                if not self._ok_shapes[(d0, b0, a0)]:
                    del self._ok_shapes[(d0, b0, a0)]
            else:
                _, old = self._cands.popitem(last=False)
                self._cands_nbytes -= _candidate_nbytes(old)
        if self._cands_nbytes + size + len(self._ok_cache) * width_bytes + self._masks_nbytes() <= self._cache_bytes:
            self._cands[key] = hit
            self._cands_nbytes += size

    # -- queries -----------------------------------------------------------------------------
    def _layout_for(self, request: SlotRequest):
        key = (request.members, request.pools, request.rooms, request.min_capacity)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) >= 1024:
                self._layouts.clear()
            layout = self._layouts[key] = _layout(request, self._tables)
        return layout

    def _resolve_turns(self, request: SlotRequest, cands: np.ndarray, firsts: list[int]) -> SlotRequest:
        """``request`` with its rotating pools cut down to whose turn it is (hours only matter).

        The rotating pools' members are read from the index (their rows only), not from the
        whole organisation's tables.
        """
        ids = tuple(dict.fromkeys(m for pool, turns in zip(request.pools, request.pool_turns, strict=True)
                                  if turns for m in pool))  # fmt: skip
        lo, hi = int(cands[0]), int(cands[-1]) + request.duration.value
        return resolve_turns(
            request, self._index.subset(ids, lo, hi), cands, _request_quantum(request, firsts)
        )

    def _solve(self, request: SlotRequest, limits: Limits | None = None):
        request = _check_request(request)
        limits = _check_limits(limits)
        q = self._q
        d, bb, ba = (
            request.duration.value // q,
            request.buffer_before.value // q,
            request.buffer_after.value // q,
        )
        cands, firsts, w_lo, w_hi, cand = self._candidate_bits(request, int(d), int(bb), int(ba))
        layout = self._layout_for(request)  # also checks the request's resources
        if cands.size and any(request.pool_turns):
            request = self._resolve_turns(request, cands, firsts)
            layout = self._layout_for(request)
        if cands.size == 0:
            return layout, None, 0, 0
        if cand is None or _request_quantum(request, firsts) % q:
            # Finer quantum needed, or the frame leaves the horizon: exact cold path.
            return solve_tables(request, self._current_tables(), limits)
        origin = self._origin + w_lo * 64 * q
        width = w_hi - w_lo
        # Limits depend on the meetings passed with each query: never cached, a mask per row.
        allowed = None
        if limits is not None:
            pos = (cands - self._origin) // q - w_lo * 64
            key = (request.members, request.pools, request.rooms, request.min_capacity, request.zone,
                   request.interval.value, request.frame_ns, request.duration.value, int(cands[0]), w_lo, w_hi)
            with self._lock:
                kept = self._allowed.setdefault(limits, OrderedDict())
                hit = kept.get(key, False)
            if hit is False:
                hit = allowed_rows(layout, self._tables, limits, request, pos, cands, width)
                if hit is not None:
                    hit.flags.writeable = False
                with self._lock:
                    size = 0 if hit is None else hit.nbytes
                    used = len(self._ok_cache) * self._in_hours.shape[1] * 8 + self._cands_nbytes
                    if used + self._masks_nbytes() + size <= self._cache_bytes:
                        kept[key] = hit
                        while len(kept) > _ALLOWED_PER_LIMITS:
                            kept.popitem(last=False)
            allowed = hit
        ok = self._ok_for(layout.rows, int(d), int(bb), int(ba), w_lo, w_hi) if self._cache_bytes else None
        if ok is None:
            cols = slice(w_lo, w_hi)
            ev = _evaluate(layout, self._in_hours[layout.rows, cols], self._busy[layout.rows, cols], cand,
                           int(d), int(bb), int(ba), request.pool_k, allowed)  # fmt: skip
            return layout, ev, origin, q
        return layout, _combine(layout, ok, cand, request.pool_k, allowed), origin, q

    def find_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> pd.DataFrame:
        """Available slots for ``request`` on the grid; same result as :func:`planner.find_slots`."""
        layout, ev, origin, q = self._solve(request, limits)
        if ev is None:
            return _empty_slots()
        return _assemble(request, layout, ev, origin, q)

    def count_slots(self, request: SlotRequest, *, limits: Limits | None = None) -> int:
        """Number of available slots for ``request`` on the grid; same as :func:`planner.count_slots`."""
        _, ev, _, _ = self._solve(request, limits)
        return _count(ev)


def _combine(
    layout, ok: np.ndarray, cand: np.ndarray, pool_k: tuple[int, ...] = (), allowed: np.ndarray | None = None
) -> _Evaluation:
    """Slot rules 2-5 from each resource's "ok to start" row (the shape's cached rows).

    ``ok`` is the query's own copy of the rows (one per layout row). ``allowed`` (one row per
    layout row, or None) masks each resource's row with the starts within its limits, in place,
    before the rows are combined. Each pool needs ``pool_k[i]`` of its rows (one by default):
    :func:`~planner.teams.at_least` counts them bit by bit.
    """
    if allowed is not None:
        ok &= allowed
    final = cand
    if layout.member_rows.size:
        final = final & np.bitwise_and.reduce(ok[layout.member_rows], axis=0)
    if layout.rooms_needed and not layout.room_rows.size:
        final = np.zeros_like(cand)
    pool_ok = []
    for i, rows in enumerate(layout.pool_rows):
        block = ok[rows]
        pool_ok.append(block)
        final = final & at_least(block, pool_k[i] if pool_k else 1)
    if layout.rooms_needed and layout.room_rows.size:
        room_ok = ok[layout.room_rows]
        final = final & np.bitwise_or.reduce(room_ok, axis=0)
    else:
        room_ok = np.zeros((0, cand.shape[-1]), dtype=np.uint64)
    return _Evaluation(final, tuple(pool_ok), room_ok)


def _candidate_nbytes(hit: tuple) -> int:
    cands, _firsts, pos, _w_lo, _w_hi, row = hit
    return int(cands.nbytes + pos.nbytes + (row.nbytes if row is not None else 0))


def _minutes(quantum: pd.Timedelta) -> str:
    minutes = quantum / pd.Timedelta(minutes=1)
    return f"{minutes:g} min"
