"""Strict rotation: whose turn it is in a pool, skipping members who are off for the frame.

A pool under strict round robin lists its members in turn order (the member whose turn it is
first). Only the first ``k`` of them who are *on duty* count for availability: on duty means in
working hours for the whole of at least one candidate start of the request (busy or not), so a
member on leave, on a day off or without hours for the whole frame is skipped this time and
keeps their place for the next.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from planner import bits
from planner.availability import rasterize
from planner.request import SlotRequest
from planner.tables import Tables

__all__ = ["on_duty", "resolve_turns"]


def on_duty(request: SlotRequest, tab: Tables, ids: tuple[str, ...], cands: np.ndarray, quantum_ns: int) -> np.ndarray:
    """Which of ``ids`` are in hours for the whole of at least one of the candidate starts.

    Parameters
    ----------
    request : SlotRequest
    tab : Tables
        Prepared tables holding ``ids``.
    ids : tuple of str
        Members to look at.
    cands : ndarray of int64
        Candidate starts (ns, UTC), ascending; multiples of ``quantum_ns`` apart.
    quantum_ns : int
        A quantum dividing the duration and the candidates' offsets.

    Returns
    -------
    ndarray of bool, shape (len(ids),)
    """
    if cands.size == 0 or not ids:
        return np.zeros(len(ids), dtype=bool)
    rows = np.array([tab.lookup[i] for i in ids], dtype=np.int64)
    d = request.duration.value // quantum_ns
    origin = int(cands[0])
    n_quanta = int((int(cands[-1]) - origin) // quantum_ns + d)
    in_hours, _ = rasterize(tab, rows, origin, quantum_ns, n_quanta)
    hours_ok = bits.all_window(in_hours, int(d))
    cand = bits.from_positions((cands - origin) // quantum_ns, in_hours.shape[1])
    return (hours_ok & cand).any(axis=1)


def resolve_turns(request: SlotRequest, tab: Tables, cands: np.ndarray, quantum_ns: int) -> SlotRequest:
    """``request`` with each rotating pool cut down to the members whose turn it is.

    A rotating pool (``request.pool_turns[i]``) becomes its first ``k`` on-duty members in turn
    order, all of whom are then needed; when fewer than ``k`` are on duty, the pool keeps those
    (and no start is available). Requests without rotating pools are returned as they are.
    """
    if not any(request.pool_turns):
        return request
    pools, ks = list(request.pools), list(request.pool_k)
    for i, pool in enumerate(request.pools):
        if not request.pool_turns[i]:
            continue
        duty = on_duty(request, tab, pool, cands, quantum_ns)
        turn = tuple(m for m, ok in zip(pool, duty, strict=True) if ok)[: ks[i]]
        if len(turn) < ks[i]:
            # Too few on duty: keep one member who is not, so the pool stays valid and unmet.
            turn = turn + tuple(m for m in pool if m not in turn)[: ks[i] - len(turn)]
        pools[i] = turn
    return dataclasses.replace(
        request, pools=tuple(pools), pool_k=tuple(ks), pool_turns=(False,) * len(pools)
    )
