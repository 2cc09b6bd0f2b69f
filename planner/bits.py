"""Bit-packed time rows: 64 quanta per ``uint64`` word.

Availability grids are kept as rows of bits (bit ``j`` of a row is quantum
``j``, stored in word ``j // 64`` at bit ``j % 64``). A resource's 90 days of
5-minute quanta are 406 words, so whole-row operations (AND of required
members, OR over a pool, "free for the next L quanta") are a few numpy calls
on tiny arrays, and the organisation grid of 1,200 resources takes about
4 MB per layer instead of 31 MB of booleans.

Functions here are private building blocks of :mod:`planner.availability`
and :mod:`planner.slots`; rows are 2-D arrays of shape ``(n_rows, n_words)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "all_window",
    "and_shifted_down",
    "and_shifted_up",
    "bits_at",
    "interval_words",
    "segments",
    "mask_intervals",
    "n_words",
    "positions",
    "popcount",
    "shift_down",
    "shift_up",
    "stream_shift_down",
    "stream_shift_up",
    "to_bool",
    "from_positions",
]

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
# _LOW[n] has the n lowest bits set, n = 0..64.
_SHIFTS = tuple(np.uint64(i) for i in range(65))
_BIT = np.array([1 << i for i in range(64)], dtype=np.uint64)  # _BIT[i]: bit i alone
_LOW = np.array([(1 << n) - 1 for n in range(65)], dtype=np.uint64)


def n_words(n_quanta: int) -> int:
    """Words per row for ``n_quanta`` quanta, plus one zero word of padding.

    The padding word lets shifts read "past the end" without bounds checks.
    """
    return n_quanta // 64 + 2


def shift_down(x: np.ndarray, m: int) -> np.ndarray:
    """Bit ``j`` of the result is bit ``j + m`` of ``x`` (zeros shifted in at the end)."""
    if m == 0:
        return x
    wq, r = divmod(int(m), 64)
    width = x.shape[-1]
    out = np.empty_like(x)
    n = width - wq
    if n <= 0:
        out[...] = 0
        return out
    src = x[..., wq:]
    if r == 0:
        out[..., :n] = src
    else:
        np.right_shift(src, _SHIFTS[r], out=out[..., :n])
        out[..., : n - 1] |= src[..., 1:] << _SHIFTS[64 - r]
    out[..., n:] = 0
    return out


def shift_up(x: np.ndarray, m: int) -> np.ndarray:
    """Bit ``j`` of the result is bit ``j - m`` of ``x`` (zeros shifted in at the start)."""
    if m == 0:
        return x
    wq, r = divmod(int(m), 64)
    width = x.shape[-1]
    out = np.empty_like(x)
    n = width - wq
    if n <= 0:
        out[...] = 0
        return out
    src = x[..., :n]
    if r == 0:
        out[..., wq:] = src
    else:
        np.left_shift(src, _SHIFTS[r], out=out[..., wq:])
        out[..., wq + 1 :] |= src[..., :-1] >> _SHIFTS[64 - r]
    out[..., :wq] = 0
    return out


def stream_shift_down(x: np.ndarray, m: int) -> np.ndarray:
    """Like :func:`shift_down` on the rows laid end to end as one stream of bits.

    Faster than :func:`shift_down` (contiguous 1-D operations), but a row's
    last ``m`` bits receive the next row's first bits instead of zeros. A
    caller may use it when every bit it reads back depends only on bits of
    its own row (windows that end inside the row).
    """
    if m == 0:
        return x
    flat = np.ascontiguousarray(x).reshape(-1)
    wq, r = divmod(int(m), 64)
    n = flat.size - wq
    out = np.empty_like(flat)
    if n <= 0:
        out[:] = 0
        return out.reshape(x.shape)
    if r == 0:
        out[:n] = flat[wq:]
    else:
        np.right_shift(flat[wq:], _SHIFTS[r], out=out[:n])
        out[: n - 1] |= flat[wq + 1 :] << _SHIFTS[64 - r]
    out[n:] = 0
    return out.reshape(x.shape)


def stream_shift_up(x: np.ndarray, m: int) -> np.ndarray:
    """Like :func:`shift_up` on the rows laid end to end (a row's first ``m`` bits
    receive the previous row's last bits); see :func:`stream_shift_down`."""
    if m == 0:
        return x
    flat = np.ascontiguousarray(x).reshape(-1)
    wq, r = divmod(int(m), 64)
    n = flat.size - wq
    out = np.empty_like(flat)
    if n <= 0:
        out[:] = 0
        return out.reshape(x.shape)
    if r == 0:
        out[wq:] = flat[:n]
    else:
        np.left_shift(flat[:n], _SHIFTS[r], out=out[wq:])
        out[wq + 1 :] |= flat[: n - 1] >> _SHIFTS[64 - r]
    out[:wq] = 0
    return out.reshape(x.shape)


def and_shifted_down(flat: np.ndarray, m: int) -> None:
    """In place: ``flat &= stream_shift_down(flat, m)`` for a contiguous 1-D row stream.

    Three or four numpy calls instead of a shift and an AND (the hot step of
    the sliding windows).
    """
    wq, r = divmod(int(m), 64)
    n = flat.size - wq
    if n <= 0:
        flat[:] = 0
        return
    if m == 0:
        return
    if r == 0:
        flat[:n] &= flat[wq:]  # numpy copies overlapping operands first
    else:
        t = flat[wq:] >> _SHIFTS[r]
        t[:-1] |= flat[wq + 1 :] << _SHIFTS[64 - r]
        flat[:n] &= t
    flat[n:] = 0


def and_shifted_up(dst: np.ndarray, src: np.ndarray, m: int) -> None:
    """In place: ``dst &= stream_shift_up(src, m)`` for contiguous 1-D row streams of one size."""
    wq, r = divmod(int(m), 64)
    n = src.size - wq
    if n <= 0:
        dst[:] = 0
        return
    if m == 0:
        dst &= src
        return
    if r == 0:
        dst[wq:] &= src[:n]
    else:
        t = src[:n] << _SHIFTS[r]
        t[1:] |= src[: n - 1] >> _SHIFTS[64 - r]
        dst[wq:] &= t
    dst[:wq] = 0


def all_window(x: np.ndarray, length: int) -> np.ndarray:
    """Bit ``j`` set iff bits ``j .. j + length - 1`` of ``x`` are all set.

    Sparse-table doubling: ``A_2p[j] = A_p[j] & A_p[j + p]``; for a length that
    is not a power of two, ``A_L[j] = A_p[j] & A_p[j + L - p]`` with the
    largest ``p <= L`` (the two windows overlap, which AND does not mind).
    ``length == 0`` is the empty window: all bits set.
    """
    if length <= 0:
        return np.full_like(x, _ALL)
    acc = x
    p = 1
    while 2 * p <= length:
        acc = acc & shift_down(acc, p)
        p *= 2
    if p < length:
        acc = acc & shift_down(acc, length - p)
    return acc


def segments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split quantum ranges ``[a_i, b_i)`` into per-word pieces.

    Returns
    -------
    owner, word, mask : ndarray
        For each piece: the index ``i`` of its range, its word number and the
        bits it sets in that word. Pieces come in order of ``i``, then word.
    """
    w0 = a >> 6
    w1 = (b - 1) >> 6
    nseg = w1 - w0 + 1
    total = int(nseg.sum())
    owner = np.repeat(np.arange(a.size), nseg)
    # Index of each piece within its range: 0, 1, ..., nseg-1.
    k = np.arange(total) - (np.cumsum(nseg) - nseg)[owner]
    word = w0[owner] + k
    base = word << 6
    lo = np.maximum(a[owner] - base, 0)
    hi = np.minimum(b[owner] - base, 64)
    return owner, word, _LOW[hi] & ~_LOW[lo]


def interval_words(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Word numbers and bit masks covering the quantum range ``[a, b)`` (``a < b``)."""
    _, word, mask = segments(np.array([a], dtype=np.int64), np.array([b], dtype=np.int64))
    return word, mask


def mask_intervals(
    rows: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    shape: tuple[int, int],
    out: np.ndarray | None = None,
    zeroed: bool = False,
) -> np.ndarray:
    """Rows of bits with quanta ``[a_i, b_i)`` of row ``rows_i`` set.

    Parameters
    ----------
    rows, a, b : ndarray of int64, shape (n,)
        Row and half-open quantum range of each interval, ``0 <= a < b``,
        ``b <= 64 * (shape[1] - 1)``. Within a row the intervals must not
        overlap (touching is fine). Sorted by ``(row, a)`` is fastest.
    shape : (n_rows, n_words)
    out : ndarray of uint64, optional
        C-contiguous array of ``shape`` to write into (overwritten; with
        ``zeroed`` it must hold zeros already and is not cleared again).

    Returns
    -------
    ndarray of uint64, shape ``shape``

    Notes
    -----
    Each interval toggles the bit at its start and at its end; a prefix XOR
    over the bits of each row then sets exactly the bits inside intervals.
    For sorted, non-overlapping intervals the toggle positions ``a1 <= b1 <=
    a2 <= b2 ...`` are already in order, so the toggles of each word combine
    by XOR (a shared position of two touching intervals cancels out, as it
    should). Only the words holding a toggle are worked on: their prefix XOR
    runs inside the word by doubling shifts and across words through each
    word's parity (its top bit afterwards); every row holds an even number of
    toggles, so no parity leaks from one row into the next. The words
    strictly between two toggled words are whole: all ones when an odd
    number of toggles precedes them, and they are filled as runs.
    """
    if out is None:
        out = np.zeros(shape, dtype=np.uint64)
    else:
        if out.shape != tuple(shape) or out.dtype != np.uint64 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous uint64 array of shape {shape}")
        if not zeroed:
            out[...] = 0
    if a.size == 0:
        return out
    width = shape[1]
    toggles = np.empty(2 * a.size, dtype=np.int64)
    base = rows * (width * 64)
    toggles[0::2] = base + a
    toggles[1::2] = base + b
    if (toggles[1:] < toggles[:-1]).any():
        toggles.sort()
    word = toggles >> 6
    # XOR of the toggles of each word: differences of a running XOR at the
    # word boundaries (cheaper than a reduceat with many small groups).
    running = np.bitwise_xor.accumulate(_BIT[toggles & 63])
    last = np.flatnonzero(np.concatenate((word[1:] != word[:-1], [True])))
    vals = running[last]
    vals[1:] ^= running[last[:-1]]
    words = word[last]
    for step in (1, 2, 4, 8, 16, 32):  # inclusive prefix XOR inside each toggled word
        vals ^= vals << _SHIFTS[step]
    parity = (vals >> _SHIFTS[63]).astype(np.int64)
    after = np.cumsum(parity) & 1  # inside an interval after this word?
    # A toggled word entered inside an interval is inverted.
    vals ^= np.negative(np.concatenate(([0], after[:-1])).astype(np.uint64))
    flat = out.reshape(-1)
    flat[words] = vals
    # Whole words between a toggled word left inside an interval and the next toggled word.
    inside = np.flatnonzero(after[:-1])
    if inside.size:
        lo = words[inside] + 1
        n = words[inside + 1] - lo
        keep = n > 0
        lo, n = lo[keep], n[keep]
        if n.size:
            total = int(n.sum())
            idx = np.arange(total, dtype=np.int64) + np.repeat(lo - (np.cumsum(n) - n), n)
            flat[idx] = _ALL
    return out


def from_positions(pos: np.ndarray, width: int) -> np.ndarray:
    """One row (shape ``(width,)``) with the bits at ``pos`` (int64 quanta) set."""
    flags = np.zeros(width * 64, dtype=np.uint8)
    flags[pos] = 1
    return np.packbits(flags, bitorder="little").view(np.uint64)


def to_bool(x: np.ndarray, n_quanta: int) -> np.ndarray:
    """Unpack rows of bits to booleans, shape ``x.shape[:-1] + (n_quanta,)``."""
    x = np.ascontiguousarray(x)
    flat = np.unpackbits(x.view(np.uint8), axis=-1, bitorder="little")
    return flat[..., :n_quanta].view(bool)


def positions(row: np.ndarray) -> np.ndarray:
    """Indices (int64) of the set bits of one row, ascending."""
    return np.flatnonzero(np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little"))


def bits_at(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Bits of rows ``x`` (shape (k, w)) at quanta ``pos``: bool array (k, len(pos))."""
    return ((x[:, pos >> 6] >> (pos & 63).astype(np.uint64)) & _ONE).astype(bool)


def popcount(x: np.ndarray) -> int:
    """Number of set bits in ``x``."""
    return int(np.bitwise_count(x).sum())
