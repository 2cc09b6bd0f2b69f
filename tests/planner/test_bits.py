"""Bit rows: interval masks, shifts and sliding windows against plain boolean arrays."""

from __future__ import annotations

import numpy as np
import pytest

from planner import bits


def as_bool(x: np.ndarray, n: int) -> np.ndarray:
    return bits.to_bool(x, n)


def random_disjoint(rng, n_rows: int, n_quanta: int):
    rows, a, b = [], [], []
    for r in range(n_rows):
        cuts = np.sort(rng.choice(np.arange(n_quanta + 1), size=2 * int(rng.integers(0, 8)), replace=False))
        for i in range(0, len(cuts), 2):
            if not (a and rows[-1] == r and cuts[i] == b[-1]):  # not touching the previous one
                rows.append(r)
                a.append(cuts[i])
                b.append(cuts[i + 1])
    return np.array(rows, np.int64), np.array(a, np.int64), np.array(b, np.int64)


@pytest.mark.parametrize("seed", range(20))
def test_mask_intervals_sets_exactly_the_interval_bits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n_quanta = int(rng.integers(1, 6)), int(rng.integers(1, 400))
    rows, a, b = random_disjoint(rng, n_rows, n_quanta)
    order = rng.permutation(a.size)  # any order
    got = bits.mask_intervals(rows[order], a[order], b[order], (n_rows, bits.n_words(n_quanta)))
    want = np.zeros((n_rows, n_quanta), bool)
    for r, x, y in zip(rows, a, b, strict=True):
        want[r, x:y] = True
    assert np.array_equal(as_bool(got, n_quanta), want)
    assert not bits.to_bool(got, bits.n_words(n_quanta) * 64)[:, n_quanta:].any()


@pytest.mark.parametrize("seed", range(10))
def test_shifts_and_windows_match_boolean_arrays(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 300))
    width = bits.n_words(n)
    flags = rng.random((3, n)) < 0.8
    x = np.packbits(np.pad(flags, ((0, 0), (0, width * 64 - n))), axis=1, bitorder="little").view(np.uint64)
    for m in (0, 1, 5, 63, 64, 65, 130):
        down = np.zeros_like(flags)
        down[:, : max(n - m, 0)] = flags[:, m:]
        assert np.array_equal(as_bool(bits.shift_down(x, m), n), down)
        up = np.zeros_like(flags)
        up[:, m:] = flags[:, : max(n - m, 0)]
        assert np.array_equal(as_bool(bits.shift_up(x, m), n), up)
        # The stream variants agree wherever the shifted bits stay in their row.
        assert np.array_equal(as_bool(bits.stream_shift_down(x, m), n)[:, : max(n - m, 0)], down[:, : max(n - m, 0)])
        assert np.array_equal(as_bool(bits.stream_shift_up(x, m), n)[:, m:], up[:, m:])
    for length in (1, 2, 3, 9, 12, 64, 100):
        want = np.array([[row[j : j + length].all() if j + length <= n else False for j in range(n)] for row in flags])
        got = as_bool(bits.all_window(x, length), n)
        assert np.array_equal(got[:, : max(n - length + 1, 0)], want[:, : max(n - length + 1, 0)])


def test_positions_bits_at_and_popcount() -> None:
    pos = np.array([0, 3, 63, 64, 200], dtype=np.int64)
    row = bits.from_positions(pos, bits.n_words(256))
    assert bits.positions(row).tolist() == pos.tolist()
    assert bits.popcount(row) == 5
    assert bits.bits_at(row[None, :], np.array([3, 4, 64])).tolist() == [[True, False, True]]


@pytest.mark.parametrize("seed", range(5))
def test_in_place_window_steps_match_shift_then_and(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    for _ in range(40):
        n = int(rng.integers(1, 500))
        x = rng.integers(0, 2**63, n).astype(np.uint64) | rng.integers(0, 2, n).astype(np.uint64) << np.uint64(63)
        y = rng.integers(0, 2**63, n).astype(np.uint64)
        m = int(rng.integers(0, 200))
        got = x.copy()
        bits.and_shifted_down(got, m)
        assert np.array_equal(got, x & bits.stream_shift_down(x, m))
        got = x.copy()
        bits.and_shifted_up(got, y, m)
        assert np.array_equal(got, x & bits.stream_shift_up(y, m))


@pytest.mark.parametrize("seed", range(5))
def test_mask_intervals_writes_into_a_given_array(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n_quanta = 4, int(rng.integers(1, 300))
    rows, a, b = random_disjoint(rng, n_rows, n_quanta)
    shape = (n_rows, bits.n_words(n_quanta))
    want = bits.mask_intervals(rows, a, b, shape)
    dirty = np.full(shape, np.uint64(0xDEAD_BEEF))
    assert bits.mask_intervals(rows, a, b, shape, out=dirty) is dirty  # cleared first
    assert np.array_equal(dirty, want)
    fresh = np.zeros(shape, dtype=np.uint64)
    assert np.array_equal(bits.mask_intervals(rows, a, b, shape, out=fresh, zeroed=True), want)
    with pytest.raises(ValueError, match="C-contiguous"):
        bits.mask_intervals(rows, a, b, shape, out=np.zeros((n_rows, shape[1] + 1), dtype=np.uint64)[:, 1:])
