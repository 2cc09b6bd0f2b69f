"""How resources spend their time: hours booked, busy, free and outside hours; free time by hour.

:func:`utilization`
    Per resource and local day (in the resource's own zone) or local week (Monday to Sunday),
    hours split into four categories that partition the day: ``outside`` (not working/opening
    hours), and within the hours ``booked`` (Slotwise reservations), ``busy`` (calendar busy,
    not booked) and ``free``. Measured on the engine's availability grid: a busy block that
    covers part of a quantum (5 minutes by default) takes the whole quantum, exactly as the
    engine sees it. Busy time outside the hours counts as ``outside``. :func:`partition_hours`
    does the counting on boolean masks.
:func:`availability_by_hour` / :func:`free_count_by_hour`
    Heatmap tables: share of each local hour a resource is free; how many of a team are free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from planner.analytics.inputs import PlannerTables, as_organisation
from planner.availability import DEFAULT_QUANTUM, AvailabilityGrid, build_grid
from planner.errors import PlannerInputError
from planner.zones import check_zone, utc_offsets, wall_to_utc

__all__ = [
    "availability_by_hour",
    "capacity_overview",
    "free_count_by_hour",
    "hours_by_hour",
    "partition_hours",
    "utilization",
]

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
CATEGORIES = ("booked", "busy", "free", "outside")


# --- utilization ------------------------------------------------------------------------------


def _local_day_numbers(starts_ns: np.ndarray, zone: str) -> np.ndarray:
    """Local date (days since 1970-01-01) in ``zone`` of each instant."""
    local = starts_ns + utc_offsets(starts_ns, zone)
    return np.floor_divide(local, 86_400 * 1_000_000_000)


def partition_hours(
    resource_ids: Sequence[str],
    zones: Sequence[str],
    quanta_ns: np.ndarray,
    quantum: pd.Timedelta,
    in_hours: np.ndarray,
    booked: np.ndarray,
    busy: np.ndarray,
    first_date: dt.date,
    last_date: dt.date,
) -> pd.DataFrame:
    """Hours booked / busy / free / outside per resource and local day, from boolean masks.

    Each quantum of each resource falls in exactly one category: ``outside`` when not in
    ``in_hours``; else ``booked`` when in ``booked``; else ``busy`` when in ``busy``; else
    ``free``. Quanta are assigned to the local date (in the resource's zone) on which they start.

    Parameters
    ----------
    resource_ids, zones : sequence of str, length n_resources
        Row labels of the masks and each row's IANA zone.
    quanta_ns : ndarray of int64, shape (n_quanta,)
        Start of each quantum, ns since the epoch (UTC).
    quantum : pandas.Timedelta
        Length of a quantum.
    in_hours, booked, busy : ndarray of bool, shape (n_resources, n_quanta)
        Working/opening hours, reserved time, calendar busy time.
    first_date, last_date : datetime.date
        Local dates to report (inclusive); the masks must cover each of them completely in every
        resource's zone.

    Returns
    -------
    DataFrame
        ``resource_id``, ``date`` (datetime.date), ``booked``, ``busy``, ``free``, ``outside``
        (float hours), one row per resource and date, sorted by resource then date.
    """
    quanta_ns = np.asarray(quanta_ns, dtype=np.int64)
    first = first_date.toordinal() - _EPOCH_ORDINAL
    n_days = last_date.toordinal() - first_date.toordinal() + 1
    hours_per_quantum = quantum / pd.Timedelta(hours=1)
    in_hours = np.asarray(in_hours, dtype=bool)
    booked_q = in_hours & np.asarray(booked, dtype=bool)
    busy_q = in_hours & ~booked_q & np.asarray(busy, dtype=bool)
    free_q = in_hours & ~booked_q & ~busy_q
    categories = (booked_q, busy_q, free_q, ~in_hours)
    totals = np.zeros((4, len(resource_ids), n_days), dtype=np.int64)
    zones_arr = np.asarray(zones, dtype=object)
    for zone in pd.unique(zones_arr):
        rows = np.flatnonzero(zones_arr == zone)
        day = _local_day_numbers(quanta_ns, str(zone)) - first
        kept = np.flatnonzero((day >= 0) & (day < n_days))
        # Sort quanta by local day (stable) so that each day is one run; a zone whose date steps
        # back at a DST change at midnight then still sums each date once.
        kept = kept[np.argsort(day[kept], kind="stable")]
        if kept.size == 0:
            continue
        run_days = day[kept]
        run_starts = np.flatnonzero(np.r_[True, run_days[1:] != run_days[:-1]])
        for k, mask in enumerate(categories):
            for chunk in np.array_split(rows, max(1, rows.size // 256)):
                sums = np.add.reduceat(mask[np.ix_(chunk, kept)].astype(np.int32), run_starts, axis=1)
                totals[k][np.ix_(chunk, run_days[run_starts])] = sums
    dates = [dt.date.fromordinal(first + k + _EPOCH_ORDINAL) for k in range(n_days)]
    frame = pd.DataFrame(
        {
            "resource_id": np.repeat(np.asarray(resource_ids, dtype=object), n_days),
            "date": dates * len(resource_ids),
        }
    )
    for k, name in enumerate(CATEGORIES):
        frame[name] = totals[k].reshape(-1) * hours_per_quantum
    return frame


def _local_midnights_ns(zone: str, first: dt.date, last: dt.date) -> np.ndarray:
    """UTC instants (ns) of local midnight in ``zone`` on each date ``first .. last + 1``."""
    days = np.arange(first.toordinal(), last.toordinal() + 2, dtype=np.int64) - _EPOCH_ORDINAL
    return wall_to_utc(days * 1440, zone, side="start")


def utilization(
    org: PlannerTables,
    start_date: dt.date,
    end_date: dt.date,
    *,
    by: Literal["day", "week"] = "day",
    resource_ids: Sequence[str] | None = None,
    quantum: pd.Timedelta | str = DEFAULT_QUANTUM,
) -> pd.DataFrame:
    """Hours booked, busy, free and outside hours per resource and local day or week.

    Every quantum of a resource's local day (in the resource's own zone) falls in exactly one
    category, so the four columns add up to the length of the day (24 hours; 23 or 25 on a DST
    change):

    - ``outside``: not inside working (member) or opening (room) hours, busy or not;
    - ``booked``: inside the hours and held by a Slotwise reservation (``busy`` rows whose
      ``source`` is ``"reservation"``; reservations include their meeting's buffers);
    - ``busy``: inside the hours, not booked, and busy in a connected calendar;
    - ``free``: inside the hours and neither booked nor busy.

    Measured on the engine's availability grid (:func:`planner.build_grid`): hours are rounded
    inward and busy time outward to the quantum, exactly as slot finding sees them.

    Parameters
    ----------
    org : Organisation-like
        ``resources``, ``hours``, ``overrides`` and ``busy`` tables (``busy.source`` optional;
        without it all busy time is calendar time).
    start_date, end_date : datetime.date
        First and last local date to report (inclusive), in each resource's own zone.
    by : {"day", "week"}
        One row per local date, or per local week (Monday to Sunday, labelled by its Monday,
        counting only the dates within ``start_date .. end_date``; ``days`` says how many).
    resource_ids : sequence of str, optional
        Resources to report (default: all).
    quantum : pandas.Timedelta
        Grid resolution (default 5 minutes); local midnights must fall on quantum boundaries.

    Returns
    -------
    DataFrame
        ``resource_id``, ``name``, ``kind``, ``zone``, ``date`` (or ``week`` and ``days``),
        ``booked``, ``busy``, ``free``, ``outside`` (float hours), ``hours``
        (= booked + busy + free: the working/opening hours) and ``utilization``
        (= (booked + busy) / hours; missing when there are no hours).

    Examples
    --------
    >>> from planner import generate_organisation
    >>> org = generate_organisation(n_members=3, n_rooms=1, start_date=dt.date(2026, 10, 5), days=7)
    >>> week = utilization(org, dt.date(2026, 10, 5), dt.date(2026, 10, 11), by="week")
    >>> week[["resource_id", "days", "hours"]].head(2)
      resource_id  days  hours
    0       m0000     7   40.0
    1       m0001     7   40.0
    >>> bool(((week["booked"] + week["busy"] + week["free"] + week["outside"]) == 24 * 7).all())
    True
    """
    if by not in ("day", "week"):
        raise PlannerInputError(f"by must be 'day' or 'week', got {by!r}")
    for label, value in (("start_date", start_date), ("end_date", end_date)):
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise PlannerInputError(f"{label} must be a datetime.date, got {value!r}")
    if end_date < start_date:
        raise PlannerInputError(f"end_date {end_date} is before start_date {start_date}")
    tables = as_organisation(org)
    resources = tables.resources
    if resource_ids is not None:
        resources = resources.loc[resources["resource_id"].isin(list(resource_ids))]
    ids = resources["resource_id"].astype(str).tolist()
    zones = sorted(set(resources["zone"].astype(str)))
    for zone in zones:
        check_zone(zone, "resources.zone")
    q = pd.Timedelta(quantum).as_unit("ns")
    midnights = {zone: _local_midnights_ns(zone, start_date, end_date) for zone in zones}
    lo = min((int(m[0]) for m in midnights.values()), default=0)
    hi = max((int(m[-1]) for m in midnights.values()), default=0)
    for zone, m in midnights.items():
        if (m % q.value).any():  # the grid aligns quanta on the epoch
            raise PlannerInputError(
                f"quantum {q} does not divide local days in {zone}; use 5, 15 or 30 minutes"
            )
    busy = tables.busy
    if "source" in busy.columns:
        booked_rows = busy["source"].astype(str).eq("reservation").to_numpy()
    else:
        booked_rows = np.zeros(len(busy), dtype=bool)
    if ids:
        common = dict(
            start=pd.Timestamp(lo, unit="ns", tz="UTC"),
            end=pd.Timestamp(hi, unit="ns", tz="UTC"),
            quantum=q,
            resource_ids=ids,
        )
        calendar = build_grid(
            tables.resources, tables.hours, busy.loc[~booked_rows], tables.overrides, **common
        )
        reserved = build_grid(
            tables.resources, tables.hours, busy.loc[booked_rows], tables.overrides, **common
        )
        table = partition_hours(
            calendar.resource_ids,
            calendar.zones,
            calendar.index.asi8,
            calendar.quantum,
            calendar.in_hours,
            reserved.busy,
            calendar.busy,
            start_date,
            end_date,
        )
    else:
        table = pd.DataFrame({"resource_id": [], "date": [], **{c: [] for c in CATEGORIES}})
    info = resources.set_index(resources["resource_id"].astype(str))
    table = table.assign(
        name=table["resource_id"].map(info["name"]) if "name" in info.columns else table["resource_id"],
        kind=table["resource_id"].map(info["kind"]),
        zone=table["resource_id"].map(info["zone"]),
    )
    if by == "week":
        dates = pd.to_datetime(table["date"])
        monday = dates - pd.to_timedelta(dates.dt.day_of_week, unit="D")
        table = (
            table.assign(week=monday.dt.date)
            .groupby(["resource_id", "name", "kind", "zone", "week"], sort=False)
            .agg(days=("date", "size"), **{c: (c, "sum") for c in CATEGORIES})
            .reset_index()
        )
        key = ["week", "days"]
    else:
        key = ["date"]
    table["hours"] = table["booked"] + table["busy"] + table["free"]
    used = table["booked"] + table["busy"]
    table["utilization"] = (used / table["hours"]).where(table["hours"] > 0)
    columns = ["resource_id", "name", "kind", "zone", *key, *CATEGORIES, "hours", "utilization"]
    return table[columns].reset_index(drop=True)


def capacity_overview(
    org: PlannerTables,
    start_date: dt.date,
    end_date: dt.date,
    *,
    by: Literal["day", "week"] = "week",
    quantum: pd.Timedelta | str = DEFAULT_QUANTUM,
) -> pd.DataFrame:
    """Utilization and free hours of the whole organisation, without a meeting type, in one call.

    Every team member and room (:func:`utilization`, each in its own zone's local days or
    weeks), and every pool (``org.pools``: ``pool_id``, ``name``, ``member_id``) as the sum of
    its members' hours on the same local dates.

    Parameters
    ----------
    org : Organisation-like
        The four tables, and ``pools`` when there are any.
    start_date, end_date : datetime.date
        First and last local date (inclusive).
    by : {"day", "week"}
        Rows per local date or per local week (labelled by its Monday).

    Returns
    -------
    DataFrame
        ``level`` ("member", "room" or "pool"), ``id`` (resource id or pool id), ``name``,
        ``size`` (1, or the pool's member count), ``date`` or ``week`` (with ``days``),
        ``booked``, ``busy``, ``free``, ``hours`` (float hours) and ``utilization``
        (= (booked + busy) / hours; missing without hours), members, then rooms, then pools.

    Examples
    --------
    >>> from planner import generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=1, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> table = capacity_overview(org, dt.date(2026, 10, 5), dt.date(2026, 10, 11))
    >>> sorted(table["level"].unique())
    ['member', 'pool', 'room']
    """
    table = utilization(org, start_date, end_date, by=by, quantum=quantum)
    key = "week" if by == "week" else "date"
    extra = ["days"] if by == "week" else []
    parts = ["booked", "busy", "free", "hours"]
    own = table.assign(level=table["kind"], id=table["resource_id"], size=1)
    frames = [own]
    pools = getattr(org, "pools", None)
    if isinstance(pools, pd.DataFrame) and len(pools):
        needed = {"pool_id", "member_id"}
        if not needed <= set(pools.columns):
            raise PlannerInputError(f"the pools table needs the columns {sorted(needed)}; it has {list(pools.columns)}")
        links = pools.assign(pool_id=pools["pool_id"].astype(str), member_id=pools["member_id"].astype(str))
        names = links.drop_duplicates("pool_id").set_index("pool_id")["name"] if "name" in links.columns else None
        joined = own[own["level"] == "member"].merge(links[["pool_id", "member_id"]], left_on="id", right_on="member_id")
        pooled = joined.groupby(["pool_id", key], sort=True).agg(
            **{p: (p, "sum") for p in parts}, size=("member_id", "nunique"),
            **({"days": ("days", "max")} if extra else {}),
        ).reset_index()
        pooled = pooled.assign(
            level="pool", id=pooled["pool_id"],
            name=pooled["pool_id"].map(names) if names is not None else pooled["pool_id"],
        )
        pooled["utilization"] = ((pooled["booked"] + pooled["busy"]) / pooled["hours"]).where(pooled["hours"] > 0)
        frames.append(pooled)
    out = pd.concat(frames, ignore_index=True)
    order = out["level"].map({"member": 0, "room": 1, "pool": 2})
    out = out.assign(_o=order).sort_values(["_o", "id", key], kind="stable").drop(columns="_o")
    return out[["level", "id", "name", "size", key, *extra, *parts, "utilization"]].reset_index(drop=True)


# --- availability by hour of day (heatmaps) ----------------------------------------------------


def _grid_rows(grid: AvailabilityGrid, resource_ids: Sequence[str] | None) -> list[int]:
    if resource_ids is None:
        return list(range(len(grid.resource_ids)))
    return [grid.row(rid) for rid in resource_ids]


def hours_by_hour(
    grid: AvailabilityGrid,
    resource_ids: Sequence[str] | None = None,
    *,
    zone: str | None = None,
    weekdays: Sequence[int] = (0, 1, 2, 3, 4),
) -> pd.DataFrame:
    """Share of each local hour inside working/opening hours: :func:`availability_by_hour`'s
    companion, so a heatmap can tell "outside hours" (0 here) from "fully busy" (in hours, 0 free).

    Same parameters and table shape as :func:`availability_by_hour`, with ``in_hours`` counted
    instead of ``free``.
    """
    return _share_by_hour(grid, grid.in_hours, resource_ids, zone, weekdays)


def availability_by_hour(
    grid: AvailabilityGrid,
    resource_ids: Sequence[str] | None = None,
    *,
    zone: str | None = None,
    weekdays: Sequence[int] = (0, 1, 2, 3, 4),
) -> pd.DataFrame:
    """Share of time each resource is free, by local hour of day.

    Parameters
    ----------
    grid : AvailabilityGrid
        From :func:`planner.build_grid`.
    resource_ids : sequence of str, optional
        Rows to report, in this order (default: every resource of the grid).
    zone : str, optional
        Zone whose wall clock defines the hours; default: each resource's own zone.
    weekdays : sequence of int
        Local weekdays to include (0 = Monday; default Monday to Friday).

    Returns
    -------
    DataFrame
        Index ``resource_id``; columns ``0 .. 23`` (local hour of day); values in ``[0, 1]``:
        the share of that hour's quanta on the included days in which the resource is free
        (in hours and not busy). Hours that never occur (a skipped DST hour only) are 0.

    Examples
    --------
    >>> from planner import build_grid, generate_organisation
    >>> org = generate_organisation(n_members=2, n_rooms=0, start_date=dt.date(2026, 10, 5), days=7, busy_per_week=0)
    >>> grid = build_grid(org.resources, org.hours, org.busy, org.overrides,
    ...                   start=pd.Timestamp("2026-10-01", tz="UTC"), end=pd.Timestamp("2026-10-15", tz="UTC"))
    >>> availability_by_hour(grid, zone="UTC").shape
    (2, 24)
    """
    return _share_by_hour(grid, grid.free, resource_ids, zone, weekdays)


def _share_by_hour(grid, mask, resource_ids, zone, weekdays) -> pd.DataFrame:
    if zone is not None:
        check_zone(zone, "zone")
    rows = _grid_rows(grid, resource_ids)
    free = mask
    index = grid.index
    out = np.zeros((len(rows), 24))
    by_zone: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        by_zone.setdefault(zone or grid.zones[r], []).append(k)
    for z, positions in by_zone.items():
        local = index.tz_convert(z)
        include = np.isin(local.day_of_week, list(weekdays))
        hour = np.asarray(local.hour)[include]
        quanta_per_hour = np.bincount(hour, minlength=24).astype(float)
        for k in positions:
            counts = np.bincount(hour, weights=free[rows[k]][include], minlength=24)
            out[k] = np.divide(counts, quanta_per_hour, out=np.zeros(24), where=quanta_per_hour > 0)
    return pd.DataFrame(
        out, index=pd.Index([grid.resource_ids[r] for r in rows], name="resource_id"), columns=range(24)
    )


def free_count_by_hour(
    grid: AvailabilityGrid, resource_ids: Sequence[str] | None = None, *, zone: str
) -> pd.DataFrame:
    """How many of the given resources are free, by local date and hour in ``zone``.

    Parameters
    ----------
    grid : AvailabilityGrid
    resource_ids : sequence of str, optional
        The team (default: every resource of the grid).
    zone : str
        IANA zone whose dates and hours label the table.

    Returns
    -------
    DataFrame
        Index: local dates (datetime.date); columns ``0 .. 23``; values: the mean number of
        the resources free during that local hour (a resource free for half the hour counts
        0.5). Hours the grid does not cover are missing.

    Examples
    --------
    >>> from planner import build_grid, generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=0, start_date=dt.date(2026, 10, 5), days=7)
    >>> grid = build_grid(org.resources, org.hours, org.busy, org.overrides,
    ...                   start=pd.Timestamp("2026-10-05", tz="UTC"), end=pd.Timestamp("2026-10-10", tz="UTC"))
    >>> table = free_count_by_hour(grid, org.member_ids, zone="Europe/London")
    >>> float(table.max().max()) <= 4
    True
    """
    check_zone(zone, "zone")
    rows = _grid_rows(grid, resource_ids)
    local = grid.index.tz_convert(zone)
    free_count = grid.free[rows].sum(axis=0).astype(float)
    frame = pd.DataFrame({"date": local.date, "hour": local.hour, "free": free_count})
    return frame.pivot_table(index="date", columns="hour", values="free", aggfunc="mean").reindex(
        columns=range(24)
    )
