"""Slot finding: which starts can an invitation's meeting take?

Implements DESIGN.md "Slot semantics" on availability grids
(:mod:`planner.availability`). A start ``t`` is available when

1. its wall-clock time in the invitation zone is a multiple of the interval
   counted from local midnight, ``t >= now + minimum_notice`` and
   ``[t, t + duration)`` lies in the frame;
2. every required member is in hours on ``[t, t + duration)`` and not busy on
   ``[t - buffer_before, t + duration + buffer_after)``;
3. each pool has at least ``k`` members satisfying (2) (``k = 1`` unless the
   pool is a panel; a pool in strict rotation counts only the members whose
   turn it is, :mod:`planner.teams.turns`);
4. if rooms are listed, one with enough capacity satisfies (2);
5. with :class:`planner.Limits`, a required member or room is also within
   its per-day and per-week limits, and a pool member or room outside them
   does not count (:mod:`planner.teams.limits`).

The candidate starts, each resource's "ok at this start" and their
combinations are bit rows (:mod:`planner.bits`): "in hours for the next d
quanta" is a sliding AND computed by doubling, required members are ANDed,
pools and rooms ORed, and the count is a popcount. A cold query evaluates the
required members first, by one sweep over the edges of their hours and busy
ranges (:func:`_all_ok_at`); pool members and rooms are then checked only at
the starts that survive them, all in one vectorised search (:func:`_staged`),
or as bit rows like everything else when many starts survive.

Public entry points (re-exported by :mod:`planner`): :func:`find_slots`,
:func:`count_slots`, :func:`check_slot` and :class:`SlotCheck`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import compress
from math import gcd

import numpy as np
import pandas as pd

from planner import bits
from planner.availability import quantum_intervals, rasterize
from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.tables import Tables, prepare
from planner.teams.limits import Limits
from planner.teams.panels import at_least
from planner.teams.turns import resolve_turns
from planner.zones import NS_PER_MINUTE, utc_offsets, zone_segments

__all__ = [
    "SLOT_COLUMNS",
    "SlotCheck",
    "candidate_starts",
    "check_slot",
    "count_slots",
    "find_slots",
]

#: Columns of the DataFrame returned by :func:`find_slots`.
SLOT_COLUMNS = ("start", "end", "members", "pool_members", "rooms")
_BASE_QUANTUM_NS = 5 * NS_PER_MINUTE
_FAR_FUTURE = 2**62
_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


@dataclass(frozen=True)
class SlotCheck:
    """Answer of :func:`check_slot` for one start.

    Attributes
    ----------
    available : bool
    start, end : pandas.Timestamp
        The slot, tz-aware UTC.
    members : tuple of str
        Required members.
    pool_members : tuple of tuple of str
        For each pool (request order), its members free for this slot, sorted.
    rooms : tuple of str
        Candidate rooms free and big enough for this slot, sorted.
    reason : str or None
        Why the start is not available (None when it is).
    """

    available: bool
    start: pd.Timestamp
    end: pd.Timestamp
    members: tuple[str, ...]
    pool_members: tuple[tuple[str, ...], ...]
    rooms: tuple[str, ...]
    reason: str | None = None


def _minutes(td: pd.Timedelta) -> str:
    return f"{td.value // NS_PER_MINUTE} min"


def _check_request(request: object) -> SlotRequest:
    if not isinstance(request, SlotRequest):
        raise PlannerInputError(f"request must be a planner.SlotRequest, got {type(request).__name__}")
    return request


def candidate_starts(request: SlotRequest) -> np.ndarray:
    """Candidate starts of ``request`` before any resource is consulted.

    Every instant whose wall-clock time in ``request.zone`` is a multiple of
    ``request.interval`` after local midnight (on a fall-back day both
    occurrences of a repeated wall time qualify; on a spring-forward day the
    skipped wall times have no instant), with ``[t, t + duration)`` inside
    the frame and ``t >= now + minimum_notice``.

    Returns
    -------
    ndarray of int64
        Instants in ns since the epoch (UTC), ascending.
    """
    return _candidates(request)[0]


def _candidates(request: SlotRequest) -> tuple[np.ndarray, list[int]]:
    """Candidate starts and the first instant of each of their progressions."""
    lo, hi = request.frame_ns
    first = max(lo, request.now_ns + request.minimum_notice.value)
    last = hi - request.duration.value  # inclusive
    if last < first:
        return np.zeros(0, np.int64), []
    iv = request.interval.value
    starts, offsets = zone_segments(request.zone, first, last)
    parts = []
    firsts = []
    # One arithmetic progression per constant-offset segment (a handful).
    for i in range(int(np.searchsorted(starts, first, side="right")) - 1, starts.size):
        s0 = max(first, int(starts[i]))
        if s0 > last:
            break
        s1 = min(last, int(starts[i + 1]) - 1) if i + 1 < starts.size else last
        t0 = s0 + (-(s0 + int(offsets[i]))) % iv  # local time t + offset is a multiple of iv
        if t0 <= s1:
            parts.append(np.arange(t0, s1 + 1, iv, dtype=np.int64))
            firsts.append(t0)
    if not parts:
        return np.zeros(0, np.int64), []
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), firsts


def _request_quantum(request: SlotRequest, firsts: list[int]) -> int:
    """Largest quantum (<= 5 min) dividing duration, buffers, interval and the candidate instants.

    ``firsts`` are the first instants of the candidates' progressions (step
    ``interval``, a multiple of the quantum): only they can lower the gcd.
    """
    q = _BASE_QUANTUM_NS
    for td in (request.duration, request.buffer_before, request.buffer_after, request.interval):
        q = gcd(q, int(td.value))
    for t in firsts:
        q = gcd(q, t)
    return q


@dataclass(frozen=True)
class _Layout:
    """Rows of the grid used by one request, and their roles."""

    rows: np.ndarray  # resource rows of Tables, one per grid row
    ids: tuple[str, ...]  # ids of those rows
    member_rows: np.ndarray  # grid rows of required members
    pool_rows: tuple[np.ndarray, ...]  # grid rows of each pool's members
    room_rows: np.ndarray  # grid rows of eligible rooms
    rooms_needed: bool
    other_rows: np.ndarray  # pool rows then room rows, evaluated together


def _layout(request: SlotRequest, tab: Tables) -> _Layout:
    """Map the request's ids to grid rows, checking kinds and capacities."""
    lookup = tab.lookup
    kind = tab.kind

    # Plain Python on a few dozen ids: cheaper than numpy's fixed cost per call here.
    def rows_of(names: tuple[str, ...], want: str, what: str) -> list[int]:
        rows = []
        for n in names:
            r = lookup.get(n)
            if r is None:
                raise PlannerInputError(f"{what} names {n!r}, which is not in resources")
            if kind[r] != want:
                raise PlannerInputError(f"{what} names {n!r}, which is a {kind[r]}, not a {want}")
            rows.append(r)
        return rows

    members = rows_of(request.members, "member", "members")
    pools = [rows_of(p, "member", f"pools[{i}]") for i, p in enumerate(request.pools)]
    rooms = rows_of(request.rooms, "room", "rooms")
    if rooms:
        capacity = tab.capacity.tolist()
        rooms = [r for r in rooms if capacity[r] >= request.min_capacity]
    used = sorted(set(members).union(*pools, rooms))
    grid_of = {r: i for i, r in enumerate(used)}
    ids = tab.ids.tolist()

    def to_grid(rs: list[int]) -> np.ndarray:
        return np.array([grid_of[r] for r in rs], dtype=np.int64)

    pool_rows = tuple(to_grid(p) for p in pools)
    room_rows = to_grid(rooms)
    return _Layout(
        rows=np.array(used, dtype=np.int64),
        ids=tuple(ids[r] for r in used),
        member_rows=to_grid(members),
        pool_rows=pool_rows,
        room_rows=room_rows,
        rooms_needed=bool(request.rooms),
        other_rows=to_grid([r for p in pools for r in p] + rooms),
    )


def _ok_rows(in_hours: np.ndarray, busy: np.ndarray, d: int, bb: int, ba: int) -> np.ndarray:
    """Bit rows: start ``j`` is ok for the resource (rule 2 of the slot semantics).

    In hours on quanta ``[j, j + d)`` and not busy on ``[j - bb, j + d + ba)``:
    the AND of the not-busy window of length ``bb + d + ba`` starting at
    ``j - bb`` is shifted up by ``bb`` so that its bit lands on ``j``. Both
    sliding ANDs double their window together while it fits the shorter one
    (see :func:`planner.bits.all_window`).

    Rows are shifted as one stream (:func:`planner.bits.stream_shift_down`):
    the bits of a row's last (first) quanta then come from the next
    (previous) row, which only matters for starts whose windows leave the
    row, and callers lay rows out so that no candidate start does.
    """
    k = in_hours.shape[0]
    span = bb + d + ba
    # A fresh C-ordered array, so that the flat views below share its memory
    # and the steps work in place (fancy-indexed inputs need not be C-ordered).
    acc = np.empty((2 * k, *in_hours.shape[1:]), dtype=np.uint64)
    acc[:k] = in_hours
    np.invert(busy, out=acc[k:])
    both = acc.reshape(-1)
    p = 1
    while 2 * p <= d:
        bits.and_shifted_down(both, p)
        p *= 2
    hours = acc[:k].reshape(-1)
    if p < d:
        bits.and_shifted_down(hours, d - p)
    free = acc[k:].reshape(-1)
    while 2 * p <= span:
        bits.and_shifted_down(free, p)
        p *= 2
    if p < span:
        bits.and_shifted_down(free, span - p)
    bits.and_shifted_up(hours, free, bb)
    return acc[:k]


@dataclass(frozen=True)
class _Evaluation:
    final: np.ndarray  # (n_words,) bits of available starts
    pool_ok: tuple[np.ndarray, ...]  # per pool, (n_pool_members, n_words)
    room_ok: np.ndarray  # (n_rooms, n_words)


def _evaluate(
    layout: _Layout,
    in_hours: np.ndarray,
    busy: np.ndarray,
    cand: np.ndarray,
    d: int,
    bb: int,
    ba: int,
    pool_k: tuple[int, ...] = (),
    allowed: np.ndarray | None = None,
) -> _Evaluation:
    """Combine resources' ok rows with the candidate row.

    ``pool_k``: members needed per pool (default one each). ``allowed``: bit
    rows (one per grid row) of the starts within each resource's limits, or
    ``None`` when no limit applies.

    Required members come first. Pool members and rooms (all of them in one
    call) are then evaluated only where a start survives: on the words (64
    quanta) that still hold a surviving start, each with the neighbouring
    words its windows reach (``bb`` quanta back, ``d + ba`` forward), or on
    the one span of words from the first to the last survivor when that is
    smaller.
    """
    width = cand.shape[-1]
    no_rows = np.zeros((0, width), dtype=np.uint64)
    final = cand.copy()
    if layout.member_rows.size:
        ok = _ok_rows(in_hours[layout.member_rows], busy[layout.member_rows], d, bb, ba)
        if allowed is not None:
            ok &= allowed[layout.member_rows]
        final &= np.bitwise_and.reduce(ok, axis=0)
    if layout.rooms_needed and not layout.room_rows.size:
        final[:] = 0
    others = layout.other_rows
    survivors = np.flatnonzero(final)
    if survivors.size == 0 or others.size == 0:
        return _Evaluation(final, tuple(no_rows for _ in layout.pool_rows), no_rows)
    back = (bb + 63) >> 6
    ahead = (d + ba + 63) >> 6
    a = max(int(survivors[0]) - back, 0)
    b = min(int(survivors[-1]) + ahead + 1, width)
    ok = np.zeros((others.size, width), dtype=np.uint64)
    if survivors.size * (back + 1 + ahead) < b - a:
        # Each surviving word with its neighbours becomes a short row of its
        # own; neighbours clipped at the grid's edges only feed windows that
        # leave the grid, which are never candidates.
        cols = np.minimum(np.maximum(survivors[:, None] + np.arange(-back, ahead + 1), 0), width - 1)
        sub = _ok_rows(in_hours[others[:, None, None], cols], busy[others[:, None, None], cols], d, bb, ba)
        ok[:, survivors] = sub[:, :, back]
    else:
        ok[:, a:b] = _ok_rows(in_hours[others, a:b], busy[others, a:b], d, bb, ba)
    if allowed is not None:
        ok &= allowed[others]
    pool_ok = []
    at = 0
    for i, rows in enumerate(layout.pool_rows):
        block = ok[at : at + rows.size]
        pool_ok.append(block)
        final &= at_least(block, pool_k[i] if pool_k else 1)
        at += rows.size
    room_ok = ok[at:] if layout.rooms_needed else no_rows
    if layout.rooms_needed:
        final &= np.bitwise_or.reduce(room_ok, axis=0)
    return _Evaluation(final, tuple(pool_ok), room_ok)


def _empty_slots() -> pd.DataFrame:
    empty_ts = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "start": empty_ts,
            "end": empty_ts,
            "members": pd.Series([], dtype=object),
            "pool_members": pd.Series([], dtype=object),
            "rooms": pd.Series([], dtype=object),
        }
    )


def _assemble(
    request: SlotRequest,
    layout: _Layout,
    ev: _Evaluation | _Staged,
    origin: int,
    q: int,
) -> pd.DataFrame:
    """Result DataFrame from an evaluation (bit rows, or the staged evaluation's flags)."""
    if isinstance(ev, _Staged):
        return _slot_table(request, layout, origin + ev.pos * q, ev.pool_ok, ev.room_ok)
    pos = bits.positions(ev.final)
    if pos.size == 0:
        return _empty_slots()
    pool_flags = [bits.bits_at(ok, pos) for ok in ev.pool_ok]
    room_flags = bits.bits_at(ev.room_ok, pos) if layout.rooms_needed else None
    return _slot_table(request, layout, origin + pos * q, pool_flags, room_flags)


def _count(ev: _Evaluation | _Staged | None) -> int:
    """Number of available starts of an evaluation."""
    if ev is None:
        return 0
    if isinstance(ev, _Staged):
        return int(ev.pos.size)
    return bits.popcount(ev.final)


def _slot_table(request: SlotRequest, layout: _Layout, start: np.ndarray, pool_flags, room_flags) -> pd.DataFrame:
    """Result DataFrame from the available starts (ns) and, per pool and for the rooms, who is free.

    ``pool_flags[i]``: bool (pool size, n); ``room_flags``: bool (n rooms, n), or None without rooms.
    """
    n = start.size
    if n == 0:
        return _empty_slots()
    # Who is free at each start: per pool and for the rooms, the distinct
    # patterns of free resources become one shared tuple each.
    pool_parts = []
    for rows, flags in zip(layout.pool_rows, pool_flags, strict=True):
        pool_parts.append(_free_tuples(tuple(layout.ids[r] for r in rows), flags))
    if layout.rooms_needed:
        rooms_uniq, rooms_inv = _free_tuples(tuple(layout.ids[r] for r in layout.room_rows), room_flags)
    else:
        rooms_uniq, rooms_inv = np.empty(1, dtype=object), np.zeros(n, dtype=np.int64)
        rooms_uniq[0] = ()
    # Combine the pools' pattern numbers (mixed radix) into one tuple of tuples per slot.
    if len(pool_parts) == 1:
        uniq, pool_inv = pool_parts[0]
        pool_objs = np.empty(len(uniq), dtype=object)
        pool_objs[:] = [(u,) for u in uniq]
    else:
        key = np.zeros(n, dtype=np.int64)
        for uniq, inv in pool_parts:
            key = key * len(uniq) + inv
        keys, pool_inv = np.unique(key, return_inverse=True)
        pool_objs = np.empty(len(keys), dtype=object)
        for i, code in enumerate(keys.tolist()):
            chosen = []
            for uniq, _ in reversed(pool_parts):
                code, digit = divmod(code, len(uniq))
                chosen.append(uniq[digit])
            pool_objs[i] = tuple(reversed(chosen))
    members = np.empty(n, dtype=object)
    members.fill(request.members)  # the one tuple in every row
    end = start + request.duration.value
    return _slot_frame(start, end, members, pool_objs[pool_inv], rooms_uniq[rooms_inv])


_SLOT_INDEX = pd.Index(SLOT_COLUMNS)


def _slot_frame(start: np.ndarray, end: np.ndarray, members, pool_members, rooms) -> pd.DataFrame:
    """The slot table from fresh arrays (start/end: int64 ns UTC; the rest object arrays).

    pandas' public constructors validate and infer every column, which costs more than
    finding the slots on a small request; the arrays here are already of the final dtypes,
    so the frame is assembled without those checks, falling back to the public
    constructor should a pandas version lack the shortcut.
    """
    n = start.size
    try:
        cols = [
            pd.arrays.DatetimeArray._simple_new(start.view("datetime64[ns]"), dtype=_UTC_NS),
            pd.arrays.DatetimeArray._simple_new(end.view("datetime64[ns]"), dtype=_UTC_NS),
            members,
            pool_members,
            rooms,
        ]
        return pd.DataFrame._from_arrays(
            cols, columns=_SLOT_INDEX, index=pd.RangeIndex(n), verify_integrity=False
        )
    except (AttributeError, TypeError):  # pragma: no cover - a pandas without the private shortcut
        return _slot_frame_public(start, end, members, pool_members, rooms)


def _slot_frame_public(start: np.ndarray, end: np.ndarray, members, pool_members, rooms) -> pd.DataFrame:
    """:func:`_slot_frame` through pandas' public constructor (the reference)."""
    return pd.DataFrame(
        {
            "start": pd.array(start.view("datetime64[ns]"), dtype=_UTC_NS),
            "end": pd.array(end.view("datetime64[ns]"), dtype=_UTC_NS),
            "members": members,
            "pool_members": pool_members,
            "rooms": rooms,
        },
        index=pd.RangeIndex(start.size),
        copy=False,  # every column is a fresh array made here
    )


def _free_tuples(ids: tuple[str, ...], flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct sets of free resources among ``ids`` (flags: bool (len(ids), n)).

    Returns an object array of sorted id tuples and, per column, its index.
    """
    k, n = flags.shape
    order = sorted(range(k), key=ids.__getitem__)
    ids = tuple(ids[j] for j in order)
    if k <= 62:
        # A column's code has bit i set when the i-th of the sorted ids is free: row j of the
        # flags weighs 2 ** (rank of ids[j]), so the rows need no reordering.
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        codes = np.left_shift(1, rank) @ flags
        if k <= 16:
            # Few resources: a table over all 2**k codes finds the distinct patterns without a sort.
            seen = np.zeros(1 << k, dtype=np.int64)
            seen[codes] = 1
            uniq = np.flatnonzero(seen)
            seen[uniq] = np.arange(uniq.size)
            inverse = seen[codes]
        else:
            uniq, inverse = np.unique(codes, return_inverse=True)
        patterns = ((uniq[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(bool)
    else:
        patterns, inverse = np.unique(flags[order].T, axis=0, return_inverse=True)
    out = np.empty(len(patterns), dtype=object)
    for i, row in enumerate(patterns.tolist()):
        out[i] = tuple(compress(ids, row))
    return out, inverse.reshape(-1)


def _prepare_for(request: SlotRequest, resources, hours, busy, overrides) -> Tables:
    ids = list(dict.fromkeys(request.all_members + request.rooms))
    return prepare(resources, hours, busy, overrides, only=ids)


def _solve(request: SlotRequest, resources, hours, busy, overrides, limits=None):
    """Cold path: rasterize only this request's resources over its frame."""
    request = _check_request(request)
    limits = _check_limits(limits)
    tab = _prepare_for(request, resources, hours, busy, overrides)
    return solve_tables(request, tab, limits)


def _check_limits(limits: object) -> Limits | None:
    if limits is not None and not isinstance(limits, Limits):
        raise PlannerInputError(f"limits must be a planner.Limits (or None), got {type(limits).__name__}")
    return limits


def allowed_rows(
    layout: _Layout,
    tab: Tables,
    limits: Limits | None,
    request: SlotRequest,
    pos: np.ndarray,
    cands: np.ndarray,
    width: int,
) -> np.ndarray | None:
    """Bit rows (one per grid row) of the candidate starts within each resource's limits.

    ``pos`` are the candidates' quanta on the grid, ``cands`` their instants. ``None`` when no
    resource of the layout has a limit.
    """
    if limits is None:
        return None
    limited = [i for i, rid in enumerate(layout.ids) if limits.limited(rid)]
    if not limited:
        return None
    zones = tab.zone[layout.rows].tolist()
    rows, first, stop = limits.blocked(layout.ids, zones, cands, int(request.duration.value))
    if rows.size == 0:
        return None
    # Rows allow every start but those on days past a limit: each such day's run of candidates
    # is one interval of quanta from its first start to just after its last.
    blocked = bits.mask_intervals(rows, pos[first], pos[stop - 1] + 1, (len(layout.ids), width))
    return np.invert(blocked, out=blocked)


def solve_tables(
    request: SlotRequest, tab: Tables, limits: Limits | None = None
) -> tuple[_Layout, _Evaluation | _Staged | None, int, int]:
    """Evaluate ``request`` on prepared tables; returns (layout, evaluation, origin_ns, quantum_ns).

    When the request has rotating pools, the layout and the evaluation are those of the
    request with each such pool cut down to the members whose turn it is.
    """
    cands, firsts = _candidates(request)
    q = _request_quantum(request, firsts) if cands.size else 0
    request = resolve_turns(request, tab, cands, q) if cands.size else request
    layout = _layout(request, tab)
    if cands.size == 0:
        return layout, None, 0, 0
    d = request.duration.value // q
    bb = request.buffer_before.value // q
    ba = request.buffer_after.value // q
    origin = int(cands[0]) - bb * q
    n_quanta = int((int(cands[-1]) - origin) // q + d + bb + ba)
    pos = (cands - origin) // q
    hours, busy = quantum_intervals(tab, layout.rows, origin, q, n_quanta)
    ev = _staged(layout, tab, limits, request, hours, busy, pos, cands, d, bb, ba)
    if ev is None:
        # Too many (resource, start) pairs for the second stage: every row as bits.
        shape = (layout.rows.size, bits.n_words(n_quanta))
        in_hours = bits.mask_intervals(*hours, shape)
        busy_bits = bits.mask_intervals(*busy, shape)
        cand = bits.from_positions(pos, shape[1])
        allowed = allowed_rows(layout, tab, limits, request, pos, cands, shape[1])
        ev = _evaluate(layout, in_hours, busy_bits, cand, d, bb, ba, request.pool_k, allowed)
    return layout, ev, origin, q


#: Most (pool member or room, start) pairs the second stage of :func:`_staged` checks one by
#: one; beyond that the pools and rooms are laid out as bit rows like the required members.
PAIR_LIMIT = 40_000


@dataclass(frozen=True)
class _Staged:
    """The available starts found by :func:`_staged`, and who is free at each."""

    pos: np.ndarray  # int64 quanta from the origin, ascending
    pool_ok: tuple[np.ndarray, ...]  # per pool, bool (n_pool_members, n_starts)
    room_ok: np.ndarray | None  # bool (n_rooms, n_starts), None without rooms


def _staged(
    layout: _Layout,
    tab: Tables,
    limits: Limits | None,
    request: SlotRequest,
    hours: tuple[np.ndarray, np.ndarray, np.ndarray],
    busy: tuple[np.ndarray, np.ndarray, np.ndarray],
    pos: np.ndarray,
    cands: np.ndarray,
    d: int,
    bb: int,
    ba: int,
    pair_limit: int | None = None,
) -> _Staged | None:
    """Slot rules 2-5 in two stages: required members by a sweep, then the others per start.

    ``hours`` and ``busy`` are the layout rows' quantum ranges (:func:`quantum_intervals`),
    ``pos`` the candidates' quanta. The starts at which every required member is ok are
    found from the members' ranges alone (:func:`_all_ok_at`); their limits are then read at
    the surviving starts. A request's members usually leave a few hundred of thousands of
    candidates, so each pool member and room is then checked only at those starts, all of
    them in one vectorised pass: in hours for ``[j, j + d)`` means the last hours range of the
    row starting at or before ``j`` reaches ``j + d``; free on ``[j - bb, j + d + ba)`` means
    the first busy range of the row ending after ``j - bb`` starts at or after ``j + d + ba``
    (ranges are merged, so their ends ascend like their starts). Both are one
    ``searchsorted`` on keys ``row << 32 | quantum``. This is the same rule as the bit rows
    (quantum by quantum), asked of fewer starts.

    Returns None when the second stage would check more than ``pair_limit`` pairs (the
    caller then lays every row out as bits).
    """
    hk, ha, hb = hours
    bk, b_a, b_b = busy
    n_rows = layout.rows.size
    empty_pools = tuple(np.zeros((r.size, 0), dtype=bool) for r in layout.pool_rows)
    empty_rooms = np.zeros((layout.room_rows.size, 0), dtype=bool) if layout.rooms_needed else None
    nothing = _Staged(np.zeros(0, np.int64), empty_pools, empty_rooms)
    if layout.rooms_needed and not layout.room_rows.size:
        return nothing
    members = layout.member_rows
    zones = None
    surv = pos
    if members.size:
        surv = _all_ok_at(members, n_rows, hours, busy, pos, d, bb, ba)
        if limits is not None and surv.size:
            zones = tab.zone[layout.rows].tolist()
            within = limits.allowed([layout.ids[r] for r in members], [zones[r] for r in members],
                                    _starts_at(surv, pos, cands), int(request.duration.value))
            if within is not None:
                surv = surv[within.all(axis=0)]
    others = layout.other_rows
    if surv.size == 0 or others.size == 0:
        if others.size == 0 and surv.size:
            return _Staged(surv, empty_pools, empty_rooms)
        return nothing
    limit = PAIR_LIMIT if pair_limit is None else pair_limit
    if others.size * surv.size > limit:
        return None
    # Stage 2: every pool member and room at every surviving start. Keys ``row << 32 | quantum``
    # compare rows first, so the ranges found are compared with the start's own row as well:
    # the range before ``at`` (the last one keyed at or before it) holds ``[j, j + d)`` only if
    # its keyed end reaches ``at + d``, which a range of an earlier row never does; the first
    # range keyed to end after ``at - bb`` clashes only if its keyed start lies before
    # ``at + d + ba``, which a range of a later row never does. The sentinels stand for "no
    # such range" (before the first, after the last).
    at = (others[:, None] << 32) | surv
    hkk = hk << 32
    h_end = np.concatenate(([-1], hkk | hb))
    ok = h_end[np.searchsorted(hkk | ha, at, side="right")] >= at + d
    bkk = bk << 32
    b_start = np.concatenate((bkk | b_a, [np.iinfo(np.int64).max]))
    ok &= b_start[np.searchsorted(bkk | b_b, at - bb, side="right")] >= at + (d + ba)
    if limits is not None:
        zones = zones if zones is not None else tab.zone[layout.rows].tolist()
        within = limits.allowed([layout.ids[r] for r in others], [zones[r] for r in others],
                                _starts_at(surv, pos, cands), int(request.duration.value))
        if within is not None:
            ok &= within
    keep = np.ones(surv.size, dtype=bool)
    at = 0
    pool_ok = []
    for i_pool, rows in enumerate(layout.pool_rows):
        block = ok[at : at + rows.size]
        pool_ok.append(block)
        keep &= np.count_nonzero(block, axis=0) >= request.pool_k[i_pool]
        at += rows.size
    room_ok = None
    if layout.rooms_needed:
        room_ok = ok[at:]
        keep &= room_ok.any(axis=0)
    if not keep.all():
        surv = surv[keep]
        pool_ok = [b[:, keep] for b in pool_ok]
        room_ok = room_ok[:, keep] if room_ok is not None else None
    return _Staged(surv, tuple(pool_ok), room_ok)


def _all_ok_at(
    rows: np.ndarray,
    n_rows: int,
    hours: tuple[np.ndarray, np.ndarray, np.ndarray],
    busy: tuple[np.ndarray, np.ndarray, np.ndarray],
    pos: np.ndarray,
    d: int,
    bb: int,
    ba: int,
) -> np.ndarray:
    """The starts among ``pos`` at which every one of ``rows`` is ok (slot rule 2).

    Parameters
    ----------
    rows : ndarray of int64, shape (m,)
        Distinct grid rows, ``m >= 1``.
    n_rows : int
        Number of grid rows.
    hours, busy : (k, a, b) each, ndarray of int64
        Quantum ranges of the grid rows (:func:`planner.availability.quantum_intervals`):
        sorted by ``(k, a)``, disjoint and not touching within a row.
    pos : ndarray of int64, shape (n,)
        Candidate starts, quanta from the origin, ascending; their windows
        ``[j - bb, j + d + ba)`` lie inside the horizon.
    d, bb, ba : int
        Duration and buffers in quanta, ``d >= 1``.

    Returns
    -------
    ndarray of int64
        The ok starts, a subset of ``pos``, ascending.

    Notes
    -----
    Row ``r`` is ok at ``j`` when ``j`` lies in ``[a, b - d + 1)`` for one of its hours ranges
    ``[a, b)`` (in hours on ``[j, j + d)``) and in no ``[a - d - ba + 1, b + bb)`` for its busy
    ranges ``[a, b)`` (free on ``[j - bb, j + d + ba)``). A sweep over the edges of those
    intervals adds 1 on each hours interval and ``-(m + 1)`` on each busy one. A row's hours
    ranges are disjoint, so the level at ``j`` is ``m`` exactly when every row is in hours and
    no busy interval covers ``j`` (one busy interval alone takes it below 0). The level after
    an edge holds up to the next edge, so the ok starts are the candidates between the edges
    after which the level is ``m`` and the following edges. Hours ranges shorter than ``d``
    are kept as empty intervals (both edges at ``a``), which add nothing anywhere.
    """
    hk, ha, hb = hours
    bk, b_a, b_b = busy
    m = rows.size
    wanted = np.zeros(n_rows, dtype=bool)
    wanted[rows] = True
    hsel, bsel = wanted[hk], wanted[bk]
    h_a = ha[hsel]
    b_lo = b_a[bsel]
    nh, nb = h_a.size, b_lo.size
    edges = np.concatenate([h_a, np.maximum(hb[hsel] - (d - 1), h_a), b_lo - (d + ba - 1), b_b[bsel] + bb])
    step = np.repeat(np.array([1, -1, -(m + 1), m + 1]), [nh, nh, nb, nb])
    # Each of the four parts is sorted within a row; a stable sort (timsort) merges such runs
    # fast. Edges that tie make zero-length stretches, which hold no candidate.
    order = np.argsort(edges, kind="stable")
    edges = edges[order]
    # The level returns to 0 after the last edge, so an edge after which it is m (>= 1) has a
    # next one.
    ok = np.flatnonzero(np.cumsum(step[order]) == m)
    lo = np.searchsorted(pos, edges[ok])
    n = np.searchsorted(pos, edges[ok + 1]) - lo
    return pos[np.arange(int(n.sum())) + np.repeat(lo - (np.cumsum(n) - n), n)]


def _starts_at(surv: np.ndarray, pos: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """Instants (ns) of the candidate starts at quanta ``surv`` (a subset of ``pos``)."""
    return cands[np.searchsorted(pos, surv)]


def find_slots(
    request: SlotRequest,
    resources: pd.DataFrame,
    hours: pd.DataFrame,
    busy: pd.DataFrame,
    overrides: pd.DataFrame | None = None,
    *,
    limits: Limits | None = None,
) -> pd.DataFrame:
    """Every available start for ``request``, from the raw tables.

    Parameters
    ----------
    request : SlotRequest
    resources, hours, busy, overrides : pandas.DataFrame
        Input tables (see :mod:`planner`); rows of other resources are ignored.
    limits : Limits, optional
        Per-person limits and the meetings that count against them.

    Returns
    -------
    pandas.DataFrame
        One row per available start, sorted by ``start``: ``start``, ``end``
        (datetime64[ns, UTC], ``end = start + duration``), ``members`` (tuple
        of the required members), ``pool_members`` (tuple per pool of the
        members free for that slot, sorted), ``rooms`` (tuple of the
        candidate rooms free and big enough, sorted; empty when no room is
        needed).

    Raises
    ------
    PlannerInputError
        Unknown resources, wrong kinds, invalid tables.
    """
    layout, ev, origin, q = _solve(request, resources, hours, busy, overrides, limits)
    if ev is None:
        return _empty_slots()
    return _assemble(request, layout, ev, origin, q)


def count_slots(
    request: SlotRequest,
    resources: pd.DataFrame,
    hours: pd.DataFrame,
    busy: pd.DataFrame,
    overrides: pd.DataFrame | None = None,
    *,
    limits: Limits | None = None,
) -> int:
    """Number of available starts for ``request`` (what :func:`find_slots` would return)."""
    _, ev, _, _ = _solve(request, resources, hours, busy, overrides, limits)
    return _count(ev)


def find_slots_in(request: SlotRequest, tab: Tables, *, limits: Limits | None = None) -> pd.DataFrame:
    """:func:`find_slots` on prepared tables holding (at least) the request's resources.

    For a loader that builds :class:`~planner.tables.Tables` itself from data it already trusts
    (the booking service's database): nothing of :func:`~planner.tables.prepare` is repeated.
    """
    request = _check_request(request)
    limits = _check_limits(limits)
    layout, ev, origin, q = solve_tables(request, _covering(tab, request), limits)
    if ev is None:
        return _empty_slots()
    return _assemble(request, layout, ev, origin, q)


def count_slots_in(request: SlotRequest, tab: Tables, *, limits: Limits | None = None) -> int:
    """:func:`count_slots` on prepared tables holding (at least) the request's resources."""
    request = _check_request(request)
    limits = _check_limits(limits)
    return _count(solve_tables(request, _covering(tab, request), limits)[1])


def check_slot_in(
    request: SlotRequest, tab: Tables, *, start: dt.datetime | pd.Timestamp, limits: Limits | None = None
) -> SlotCheck:
    """:func:`check_slot` on prepared tables holding (at least) the request's resources."""
    request = _check_request(request)
    limits = _check_limits(limits)
    return check_tables(request, _covering(tab, request), start, limits)


def _covering(tab: Tables, request: SlotRequest) -> Tables:
    """``tab``, once it is known to hold every resource of ``request``."""
    missing = [rid for rid in (*request.all_members, *request.rooms) if rid not in tab.lookup]
    if missing:
        raise PlannerInputError(f"resource {missing[0]!r} is not in resources; add it or remove it from the request")
    return tab


def check_slot(
    request: SlotRequest,
    resources: pd.DataFrame,
    hours: pd.DataFrame,
    busy: pd.DataFrame,
    overrides: pd.DataFrame | None = None,
    *,
    start: dt.datetime | pd.Timestamp,
    limits: Limits | None = None,
) -> SlotCheck:
    """Is ``start`` still available for ``request``, and with whom?

    Looks only at the slot's own window (with buffers), so it is cheap enough
    to run inside the booking transaction on freshly read busy data.

    Parameters
    ----------
    request : SlotRequest
    resources, hours, busy, overrides : pandas.DataFrame
        The latest committed data (see :mod:`planner`).
    start : tz-aware datetime
        The start the customer picked.
    limits : Limits, optional
        Per-person limits and the meetings that count against them (the booking re-check
        passes the meetings read under its locks).

    Returns
    -------
    SlotCheck
        ``available`` and, when not, a ``reason`` naming the rule or the
        resource that fails; ``pool_members`` and ``rooms`` list who is free.
    """
    request = _check_request(request)
    limits = _check_limits(limits)
    return check_tables(request, _prepare_for(request, resources, hours, busy, overrides), start, limits)


def check_tables(
    request: SlotRequest, tab: Tables, start: dt.datetime | pd.Timestamp, limits: Limits | None = None
) -> SlotCheck:
    """:func:`check_slot` on prepared tables holding (at least) the request's resources."""
    if not isinstance(start, (dt.datetime, pd.Timestamp)):
        raise PlannerInputError(f"start must be a tz-aware datetime, got {start!r}")
    ts = pd.Timestamp(start)
    if ts.tzinfo is None:
        raise PlannerInputError(f"start must be tz-aware, got naive {start!r}")
    ts = ts.tz_convert("UTC").as_unit("ns")
    t = int(ts.value)
    end = ts + request.duration
    limits = _check_limits(limits)
    if any(request.pool_turns):
        cands, firsts = _candidates(request)
        if cands.size:
            request = resolve_turns(request, tab, cands, _request_quantum(request, firsts))
    layout = _layout(request, tab)
    empty_pools = tuple(() for _ in request.pools)

    def no(reason: str) -> SlotCheck:
        return SlotCheck(False, ts, end, request.members, empty_pools, (), reason)

    lo, hi = request.frame_ns
    if t < lo or t + request.duration.value > hi:
        return no(f"{ts} is outside the frame {request.frame_start}..{request.frame_end} ({request.zone})")
    local = t + int(utc_offsets(np.array([t]), request.zone)[0])
    if local % request.interval.value:
        return no(
            f"{ts} is not on the slot grid (every {_minutes(request.interval)} from local midnight in {request.zone})"
        )
    if t < request.now_ns + request.minimum_notice.value:
        return no(f"{ts} starts sooner than the minimum notice ({request.minimum_notice}) from now")

    q = gcd(int(request.duration.value), int(request.buffer_before.value), int(request.buffer_after.value))
    d = request.duration.value // q
    bb = request.buffer_before.value // q
    ba = request.buffer_after.value // q
    origin = t - bb * q
    in_hours, busy_bits = rasterize(tab, layout.rows, origin, q, int(bb + d + ba))
    ok = bits.bits_at(_ok_rows(in_hours, busy_bits, d, bb, ba), np.array([bb]))[:, 0]
    hours_ok = bits.bits_at(bits.all_window(in_hours, d), np.array([bb]))[:, 0]
    zones = tab.zone[layout.rows].tolist()
    over = {}
    if limits is not None:
        within = limits.allowed(layout.ids, zones, np.array([t], dtype=np.int64), int(request.duration.value))
        if within is not None:
            over = {r: limits.reason(layout.ids[r], zones[r], t, int(request.duration.value))
                    for r in range(len(layout.ids)) if not within[r, 0]}  # fmt: skip
            ok = ok & within[:, 0]

    pool_free = tuple(tuple(sorted(layout.ids[r] for r in rows if ok[r])) for rows in layout.pool_rows)
    rooms_free = tuple(sorted(layout.ids[r] for r in layout.room_rows if ok[r]))
    reason = None
    for r in layout.member_rows:
        if not ok[r]:
            if r in over:
                why = over[r]
            else:
                why = "is busy (buffers included)" if hours_ok[r] else "is outside working hours"
            reason = f"member {layout.ids[r]!r} {why} for this slot"
            break
    if reason is None:
        for i, free in enumerate(pool_free):
            k = request.pool_k[i]
            if len(free) < k:
                if k == 1:
                    reason = f"no member of pool {i} {request.pools[i]!r} is free for this slot"
                else:
                    reason = (
                        f"only {len(free)} of pool {i} {request.pools[i]!r} free for this slot, {k} needed"
                    )
                break
    if reason is None and request.rooms and not rooms_free:
        reason = (
            f"no room among {request.rooms!r} with capacity >= {request.min_capacity} is free for this slot"
        )
    return SlotCheck(reason is None, ts, end, request.members, pool_free, rooms_free, reason)
