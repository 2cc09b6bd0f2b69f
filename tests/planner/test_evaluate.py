"""The bit-row evaluation of one request against its definition, written out on booleans.

``planner.slots._evaluate`` evaluates the required members over the whole grid, then the pool
members and rooms only on the words where a start survives (each with the words its windows
reach), or on the one span from the first to the last survivor when that is smaller. Both ways
must give what evaluating every resource at every start gives; the random grids below take
each way, with buffers and durations that reach one, two or more words away.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner import bits
from planner.slots import _evaluate, _Layout


def _definition(in_hours, busy, cand, d, bb, ba, members, pools, pool_k, rooms, rooms_needed, allowed):
    """Start ``j`` is ok for a resource when it is in hours on ``[j, j + d)`` and not busy on
    ``[j - bb, j + d + ba)``; a start is available when every required member, ``pool_k[i]`` of
    each pool and one room (when rooms are asked for) are ok there."""
    k, n = in_hours.shape
    ok = np.zeros((k, n), bool)
    for j in range(bb, n - d - ba + 1):
        ok[:, j] = in_hours[:, j : j + d].all(axis=1) & ~busy[:, j - bb : j + d + ba].any(axis=1)
    if allowed is not None:
        ok &= allowed
    final = cand.copy()
    for r in members:
        final &= ok[r]
    for rows, need in zip(pools, pool_k or (1,) * len(pools), strict=True):
        final &= ok[rows].sum(axis=0) >= need
    if rooms_needed:
        final &= ok[rooms].any(axis=0)
    return final, ok


def _windows(rng, n: int, count: int, longest: int) -> np.ndarray:
    row = np.zeros(n, bool)
    for _ in range(count):
        a = int(rng.integers(0, n))
        row[a : a + int(rng.integers(1, longest + 1))] = True
    return row


def _case(seed: int, sparse: bool):
    rng = np.random.default_rng(seed)
    # Sparse: one required member free in a few short windows over a wide grid, and someone
    # else to check, so that the starts left are a few words far apart.
    width = int(rng.integers(16, 25)) if sparse else int(rng.integers(1, 5))
    n = width * 64
    d = int(rng.integers(1, 40))
    bb, ba = (int(rng.integers(0, 80)), int(rng.integers(0, 50))) if sparse else (int(rng.integers(0, 130)),
                                                                                 int(rng.integers(0, 90)))
    n_members = 1 if sparse else int(rng.integers(0, 3))
    pool_sizes = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1 if sparse else 0, 3)))]
    n_rooms = int(rng.integers(0, 4))
    rooms_needed = n_rooms > 0 or (not sparse and bool(rng.integers(0, 2)))  # rooms asked for, none fit
    k = n_members + sum(pool_sizes) + n_rooms
    order = rng.permutation(k)  # grid rows in any order of roles
    members = order[:n_members]
    pools, at = [], n_members
    for size in pool_sizes:
        pools.append(order[at : at + size])
        at += size
    rooms = order[at:]
    pool_k = tuple(int(rng.integers(1, len(p) + 1)) for p in pools)
    if all(k == 1 for k in pool_k) and rng.integers(0, 2):
        pool_k = ()  # the default: one of each pool
    in_hours = np.zeros((k, n), bool)
    busy = np.zeros((k, n), bool)
    for r in range(k):
        # Required members free only now and then (sparse: a start survives in a word or two);
        # the others free much of the time, busy in places.
        is_member = r in set(members.tolist())
        in_hours[r] = _windows(rng, n, 3 if sparse and is_member else 6, d + 30 if is_member else 300)
        busy[r] = _windows(rng, n, int(rng.integers(0, 2 if sparse and is_member else 8)), 30)
        if sparse and is_member and seed % 2:
            in_hours[r, : bb + d + 5] = in_hours[r, n - ba - d - 5 :] = True  # starts at both edges of the grid
            busy[r, : bb + d + 5] = busy[r, n - ba - d - 5 :] = False
    cand = np.zeros(n, bool)
    lo, hi = bb, n - d - ba  # a candidate's windows stay inside the grid
    if hi >= lo:
        cand[lo : hi + 1] = rng.random(hi + 1 - lo) < 0.6
    allowed = rng.random((k, n)) < 0.85 if rng.integers(0, 2) else None
    layout = _Layout(
        rows=np.arange(k), ids=tuple(f"r{i}" for i in range(k)), member_rows=members,
        pool_rows=tuple(pools), room_rows=rooms, rooms_needed=rooms_needed,
        other_rows=np.concatenate([*pools, rooms]).astype(np.int64) if k else np.zeros(0, np.int64),
    )
    return layout, in_hours, busy, cand, d, bb, ba, pool_k, allowed


def _packed(rows: np.ndarray) -> np.ndarray:
    flags = np.zeros((*rows.shape[:-1], bits.n_words(rows.shape[-1]) * 64), np.uint8)
    flags[..., : rows.shape[-1]] = rows
    return np.packbits(flags, axis=-1, bitorder="little").view(np.uint64)


def _sparse_path_taken(final: np.ndarray, layout: _Layout, d: int, bb: int, ba: int) -> bool:
    """The condition under which :func:`_evaluate` takes the survivors' words one by one."""
    survivors = np.flatnonzero(final)
    if not survivors.size or not layout.other_rows.size:
        return False
    back, ahead = (bb + 63) >> 6, (d + ba + 63) >> 6
    a = max(int(survivors[0]) - back, 0)
    b = min(int(survivors[-1]) + ahead + 1, final.size)
    return survivors.size * (back + 1 + ahead) < b - a


@pytest.mark.parametrize("sparse", [True, False], ids=["few-survivors", "many-survivors"])
@pytest.mark.parametrize("seed", range(40))
def test_evaluate_gives_what_every_resource_at_every_start_gives(seed: int, sparse: bool) -> None:
    layout, in_hours, busy, cand, d, bb, ba, pool_k, allowed = _case(seed, sparse)
    n = cand.size
    want, ok = _definition(in_hours, busy, cand, d, bb, ba, layout.member_rows, layout.pool_rows, pool_k,
                           layout.room_rows, layout.rooms_needed, allowed)
    got = _evaluate(layout, _packed(in_hours), _packed(busy), _packed(cand), d, bb, ba, pool_k,
                    None if allowed is None else _packed(allowed))
    assert np.array_equal(bits.to_bool(got.final, n), want)
    # Who is free is read only at the available starts: there it must be exact.
    assert len(got.pool_ok) == len(layout.pool_rows)
    if not want.any():
        return  # nothing to read (the rows may then be empty)
    for rows, pool_ok in zip(layout.pool_rows, got.pool_ok, strict=True):
        assert np.array_equal(bits.to_bool(pool_ok, n) & want, ok[rows] & want)
    if layout.rooms_needed:
        assert np.array_equal(bits.to_bool(got.room_ok, n) & want, ok[layout.room_rows] & want)


def test_both_ways_of_evaluating_the_pools_and_rooms_are_taken() -> None:
    """The cases above take the survivors' words one by one, and the span, each many times."""
    taken = {True: 0, False: 0}
    for seed in range(40):
        for sparse in (True, False):
            layout, in_hours, busy, cand, d, bb, ba, _, allowed = _case(seed, sparse)
            if not layout.other_rows.size or (layout.rooms_needed and not layout.room_rows.size):
                continue  # no second step
            # The starts the required members leave decide the way.
            members_only = _Layout(layout.rows, layout.ids, layout.member_rows, (), np.zeros(0, np.int64), False,
                                   np.zeros(0, np.int64))
            left = _evaluate(members_only, _packed(in_hours), _packed(busy), _packed(cand), d, bb, ba, (),
                             None if allowed is None else _packed(allowed)).final
            if bits.popcount(left):
                taken[_sparse_path_taken(left, layout, d, bb, ba)] += 1
    assert taken[True] >= 10 and taken[False] >= 10, taken
