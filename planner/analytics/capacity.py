"""Free capacity: how many more meetings of one request still fit, and which.

:func:`pack_meetings` (and :func:`free_capacity`, its count per date)
    How many more meetings of one request still fit per local date (request zone), by greedy
    packing: repeatedly book the earliest available slot, reserve what it uses (meeting plus
    buffers, DESIGN rule 6; for a pool the free member with the fewest packed meetings, for
    rooms the smallest free room that fits, ties by id) and look again. Earliest-first is
    optimal when only required members are involved; with pools and rooms it is a lower
    bound, not necessarily the maximum.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from planner.analytics.inputs import PlannerTables, _request_tables, as_organisation
from planner.grid import OrgGrid
from planner.request import SlotRequest

__all__ = ["free_capacity", "pack_meetings"]


def pack_meetings(org: PlannerTables, request: SlotRequest, *, limit: int = 10_000) -> pd.DataFrame:
    """Greedily book as many meetings of ``request`` as still fit, earliest first.

    Repeatedly takes the earliest available slot (found by :func:`planner.find_slots`),
    assigns it concrete resources as the booking service would (each pool: the free member with
    the fewest meetings packed so far, ties by id; rooms: the smallest free room that fits, ties
    by id), reserves them for the meeting plus its buffers, and looks again, until no slot is
    left. So two packed meetings never share a member or room, and their buffers add up as
    they do between real bookings (DESIGN rule 6).

    Earliest-first packing is the maximum number of meetings when the request has only
    required members (equal-length meetings on one timeline); with pools or rooms it is a
    lower bound on the maximum.

    Parameters
    ----------
    org : Organisation-like
    request : SlotRequest
    limit : int
        Stop after this many meetings (a guard for very wide frames).

    Returns
    -------
    DataFrame
        One row per packed meeting, by start: ``start``, ``end`` (datetime64[ns, UTC]),
        ``date`` (local date in the request zone), ``resources`` (tuple of the resource ids it
        reserves: required members, one member per pool, one room when rooms are listed).

    Examples
    --------
    >>> from planner import SlotRequest
    >>> from types import SimpleNamespace
    >>> org = SimpleNamespace(  # any object with the four tables will do
    ...     resources=pd.DataFrame({"resource_id": ["ann"], "kind": ["member"], "zone": ["Europe/London"],
    ...                             "capacity": [1]}),
    ...     hours=pd.DataFrame({"resource_id": ["ann"], "weekday": [0], "start": [540], "end": [1020]}),
    ...     overrides=pd.DataFrame(columns=["resource_id", "date", "start", "end"]),
    ...     busy=pd.DataFrame({"resource_id": ["ann"], "start": [pd.Timestamp("2026-11-02 12:00", tz="UTC")],
    ...                        "end": [pd.Timestamp("2026-11-02 13:00", tz="UTC")]}))
    >>> request = SlotRequest(members=("ann",), duration=pd.Timedelta(minutes=60),
    ...                       buffer_after=pd.Timedelta(minutes=15),
    ...                       frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 2),
    ...                       zone="Europe/London", now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    >>> packed = pack_meetings(org, request)
    >>> [t.strftime("%H:%M") for t in packed["start"]]  # London is on UTC in November
    ['09:00', '10:15', '13:00', '14:15', '15:30']
    """
    tables = _request_tables(as_organisation(org), request)
    seats = tables.resources["capacity"].to_numpy() if "capacity" in tables.resources.columns else 1
    capacity = pd.Series(seats, index=tables.resources["resource_id"].astype(str)).to_dict()
    # One prebuilt grid of the request's resources over its frame; each booking is added to it
    # as busy time, so every look again is a query on the grid, not a rebuild.
    lo, hi = request.frame
    grid = OrgGrid.build(
        tables.resources,
        tables.hours,
        tables.busy,
        tables.overrides,
        start=lo - request.buffer_before - pd.Timedelta(days=1),
        end=hi + request.buffer_after + pd.Timedelta(days=1),
    )
    packed: dict[str, int] = {}
    picks: list[dict[str, object]] = []
    current = request
    while len(picks) < limit:
        slots = grid.find_slots(current)
        if slots.empty:
            break
        first = slots.iloc[0]
        chosen = list(first["members"])
        for free in first["pool_members"]:
            chosen.append(min(free, key=lambda m: (packed.get(m, 0), m)))
        if request.rooms:
            chosen.append(min(first["rooms"], key=lambda r: (capacity[r], r)))
        start, end = first["start"], first["end"]
        for rid in chosen:
            packed[rid] = packed.get(rid, 0) + 1
            grid.add_busy(rid, start - request.buffer_before, end + request.buffer_after)
        picks.append({"start": start, "end": end, "resources": tuple(chosen)})
        # Booking only removes slots, so the next pick starts no earlier: look from its date on.
        pick_date = pd.Timestamp(start).tz_convert(request.zone).date()
        if pick_date > current.frame_start:
            current = dataclasses.replace(current, frame_start=pick_date)
    starts = pd.DatetimeIndex([p["start"] for p in picks], dtype="datetime64[ns, UTC]")
    return pd.DataFrame(
        {
            "start": starts,
            "end": pd.DatetimeIndex([p["end"] for p in picks], dtype="datetime64[ns, UTC]"),
            "date": pd.Series(starts.tz_convert(request.zone).date, dtype=object),
            "resources": pd.Series([p["resources"] for p in picks], dtype=object),
        }
    )


def free_capacity(org: PlannerTables, request: SlotRequest) -> pd.DataFrame:
    """How many more meetings of ``request`` fit on each date of its frame.

    Counts the meetings :func:`pack_meetings` packs (earliest first, without overlapping any
    member or room, buffers included) by the local date of their start in the request zone.

    Parameters
    ----------
    org : Organisation-like
        ``resources``, ``hours``, ``overrides`` and ``busy`` tables.
    request : SlotRequest
        The meeting type (members, pools, rooms, duration, buffers, interval) and the frame.

    Returns
    -------
    DataFrame
        ``date`` (datetime.date, every date of the frame) and ``meetings`` (int).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=("m0000",), duration=pd.Timedelta(minutes=60),
    ...                       buffer_after=pd.Timedelta(minutes=15), interval=pd.Timedelta(minutes=15),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 11),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> capacity = free_capacity(org, request)
    >>> capacity["meetings"].tolist()[-2:]  # nobody works at the weekend
    [0, 0]
    """
    packed = pack_meetings(org, request)
    dates = [
        request.frame_start + dt.timedelta(days=k)
        for k in range((request.frame_end - request.frame_start).days + 1)
    ]
    counts = packed.groupby("date").size() if len(packed) else pd.Series(dtype="int64")
    meetings = [int(counts.get(d, 0)) for d in dates]
    return pd.DataFrame({"date": dates, "meetings": np.array(meetings, dtype=np.int64)})
