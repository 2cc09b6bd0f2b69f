"""Panels: "at least k of these n members" over bit rows.

A pool that needs ``k`` members (a panel of two interviewers out of five) is
available at a start when at least ``k`` of its members' ok rows have that
bit set. :func:`at_least` counts per bit position with ``k`` running
threshold rows, so it stays word-parallel like the OR it replaces.
"""

from __future__ import annotations

import numpy as np

__all__ = ["at_least"]


def at_least(rows: np.ndarray, k: int) -> np.ndarray:
    """Bits set in at least ``k`` of ``rows``.

    Parameters
    ----------
    rows : ndarray of uint64, shape (n, n_words)
        Bit rows (one per pool member).
    k : int
        Threshold, >= 1.

    Returns
    -------
    ndarray of uint64, shape (n_words,)
        Bit ``j`` is set where at least ``k`` rows have bit ``j`` set
        (all zeros when ``k > n``).

    Notes
    -----
    ``seen[i]`` holds the bits set in at least ``i + 1`` of the rows read so
    far. Reading one more row ``r`` raises a bit from "at least i" to "at
    least i + 1" exactly where it was in ``seen[i - 1]`` and is set in ``r``;
    updating from the top threshold down uses each ``seen[i - 1]`` before
    ``r`` is folded into it. That is ``n * k`` word-wide ANDs and ORs, the
    same order as the OR over a pool for the usual ``k <= 3``.
    """
    n, width = rows.shape
    if k <= 1:
        return np.bitwise_or.reduce(rows, axis=0) if n else np.zeros(width, dtype=np.uint64)
    if k > n:
        return np.zeros(width, dtype=np.uint64)
    if k == n:
        return np.bitwise_and.reduce(rows, axis=0)
    seen = np.zeros((k, width), dtype=np.uint64)
    tmp = np.empty(width, dtype=np.uint64)
    for j in range(n):
        r = rows[j]
        # Thresholds above j + 1 cannot be reached yet: skip them.
        for i in range(min(k - 1, j), 0, -1):
            np.bitwise_and(seen[i - 1], r, out=tmp)
            seen[i] |= tmp
        seen[0] |= r
    return seen[k - 1]
