"""Input tables: validation and conversion to numpy arrays.

The planner's inputs are four pandas DataFrames (see the planner data
contract and :mod:`planner`): ``resources``, ``hours``, ``overrides`` and
``busy``. :func:`prepare` checks them once where they enter (columns, dtypes,
units, tz-awareness, ranges) and turns them into :class:`Tables`, plain numpy
arrays indexed by resource *row* (position in ``resources``), which the grid
and slot code trust without further checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.zones import check_zone

try:  # pandas' Arrow-backed strings make this the fast path
    import pyarrow as _pa
    import pyarrow.compute as _pc
except ImportError:  # pragma: no cover
    _pa = None
    _pc = None

__all__ = ["Tables", "prepare", "resource_rows", "timestamps_ns"]

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_SMALL_TABLE = 2000  # rows; below this, resource ids are looked up in a dict


@dataclass(frozen=True)
class Tables:
    """Validated input tables as numpy arrays (resource ids replaced by rows).

    Attributes
    ----------
    ids : ndarray of object (str), shape (n_resources,)
    kind : ndarray of object (str), "member" or "room"
    zone : ndarray of object (str), IANA zone names
    capacity : ndarray of int64
    lookup : dict mapping resource id to row
    hours_res, hours_weekday, hours_start, hours_end : ndarray of int64
        Weekly hours, sorted by (resource row, weekday, start); minutes.
    ov_res, ov_day, ov_start, ov_end : ndarray of int64
        Overrides sorted by (resource row, day, start); ``day`` counts days
        since 1970-01-01 (local date); ``start = end = -1`` marks a whole
        date unavailable.
    busy_res, busy_start, busy_end : ndarray of int64
        Busy blocks; instants in ns since the epoch (UTC), half-open.
    """

    ids: np.ndarray
    kind: np.ndarray
    zone: np.ndarray
    capacity: np.ndarray
    lookup: dict[str, int]
    hours_res: np.ndarray
    hours_weekday: np.ndarray
    hours_start: np.ndarray
    hours_end: np.ndarray
    ov_res: np.ndarray
    ov_day: np.ndarray
    ov_start: np.ndarray
    ov_end: np.ndarray
    busy_res: np.ndarray
    busy_start: np.ndarray
    busy_end: np.ndarray

    @property
    def n(self) -> int:
        """Number of resources."""
        return int(self.ids.size)


def _require(df: object, name: str, columns: Iterable[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise PlannerInputError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise PlannerInputError(f"{name} is missing column(s) {missing}; it has {list(df.columns)}")
    return df


def _int_column(df: pd.DataFrame, name: str, col: str, allow_na: bool = False) -> np.ndarray:
    values = df[col]
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return values.to_numpy(dtype=np.int64)  # numpy ints cannot be missing
    if (
        allow_na
        and isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_integer_dtype(dtype)
    ):
        return values.to_numpy(dtype=np.int64, na_value=-1)  # nullable ints (Int64): missing -> -1
    if values.isna().any():
        if not allow_na:
            raise PlannerInputError(f"{name}.{col} has missing values; give whole minutes")
        if not pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_float_dtype(dtype):
            if not pd.api.types.is_object_dtype(dtype):
                raise PlannerInputError(f"{name}.{col} must hold integers (minutes), got dtype {dtype}")
        return values.astype("Int64").to_numpy(dtype=np.int64, na_value=-1)
    if not pd.api.types.is_integer_dtype(dtype):
        raise PlannerInputError(f"{name}.{col} must hold integers (minutes), got dtype {dtype}")
    return values.to_numpy(dtype=np.int64)


def timestamps_ns(values: pd.Series | pd.Index, what: str) -> np.ndarray:
    """Tz-aware timestamps as int64 ns since the epoch (UTC).

    Raises
    ------
    PlannerInputError
        If the values are not tz-aware datetimes (naive times are ambiguous).
    """
    dtype = values.dtype
    if not isinstance(dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(dtype):
            raise PlannerInputError(
                f"{what} holds naive datetimes; localize them first, e.g. .dt.tz_localize('UTC')"
            )
        if len(values) == 0:
            return np.zeros(0, np.int64)
        raise PlannerInputError(f"{what} must be tz-aware datetime64 (UTC), got dtype {dtype}")
    arr = values.array if isinstance(values, pd.Series) else values.array
    out = arr.as_unit("ns").asi8
    if out.size and (out == np.iinfo(np.int64).min).any():  # NaT
        raise PlannerInputError(f"{what} has missing values")
    return out


def resource_rows(known: np.ndarray, ids: pd.Series, what: str, strict: bool = True) -> np.ndarray:
    """Positions in ``known`` (resource ids) of the ids ``ids``; -1 if unknown.

    With ``strict`` an unknown id raises :class:`PlannerInputError`.
    """
    if len(ids) == 0:
        return np.zeros(0, np.int64)
    if len(ids) <= _SMALL_TABLE:
        # A dict lookup beats Arrow's set-up cost on small tables (hours, overrides).
        lookup = {rid: i for i, rid in enumerate(known.tolist())}
        rows = np.array([lookup.get(rid if isinstance(rid, str) else str(rid), -1) for rid in ids.tolist()],
                        dtype=np.int64)  # fmt: skip
    elif _pa is not None:
        # Hash lookup in Arrow: ~20x faster than pandas on Arrow-backed strings.
        values = (
            _pa.array(ids.array) if isinstance(ids, pd.Series) else _pa.array(np.asarray(ids, dtype=object))
        )
        if not _pa.types.is_string(values.type) and not _pa.types.is_large_string(values.type):
            values = values.cast(_pa.string())
        value_set = _pa.array(known.tolist(), type=values.type)
        rows = _pc.index_in(values, value_set=value_set).fill_null(-1).to_numpy(zero_copy_only=False)
        rows = rows.astype(np.int64)
    else:  # pragma: no cover - pandas without pyarrow
        rows = pd.Index(known).get_indexer(pd.Index(ids, dtype=object))
    if strict and (rows < 0).any():
        bad = pd.Series(ids).iloc[int(np.flatnonzero(rows < 0)[0])]
        raise PlannerInputError(f"{what} names resource {bad!r}, which is not in resources")
    return rows


def prepare(
    resources: pd.DataFrame,
    hours: pd.DataFrame,
    busy: pd.DataFrame,
    overrides: pd.DataFrame | None = None,
    *,
    only: Iterable[str] | None = None,
) -> Tables:
    """Validate the input tables and convert them to :class:`Tables`.

    Parameters
    ----------
    resources : pandas.DataFrame
        ``resource_id`` (str, unique), ``kind`` ("member"/"room"), ``zone``
        (IANA name), ``capacity`` (int; optional, default 1).
    hours : pandas.DataFrame
        ``resource_id``, ``weekday`` (int 0=Monday..6), ``start``, ``end``
        (int minutes after local midnight, ``0 <= start < 1440``,
        ``start < end <= start + 1440``).
    busy : pandas.DataFrame
        ``resource_id``, ``start``, ``end`` (tz-aware datetime64, ``start < end``).
    overrides : pandas.DataFrame, optional
        ``resource_id``, ``date`` (datetime.date), ``start``, ``end`` (Int64
        minutes as in ``hours``, or both missing for "unavailable all day").
    only : iterable of str, optional
        Keep only these resources' rows (the ids must exist in ``resources``).
        Rows of ``hours``/``busy``/``overrides`` naming resources outside
        ``only`` are ignored; without ``only`` they raise.

    Returns
    -------
    Tables

    Raises
    ------
    PlannerInputError
        Naming the table, column and value at fault.
    """
    _require(resources, "resources", ("resource_id", "kind", "zone"))
    _require(hours, "hours", ("resource_id", "weekday", "start", "end"))
    _require(busy, "busy", ("resource_id", "start", "end"))
    if overrides is not None:
        _require(overrides, "overrides", ("resource_id", "date", "start", "end"))

    all_ids = resources["resource_id"].tolist()
    lookup_all = {rid: i for i, rid in enumerate(all_ids)}
    if len(lookup_all) != len(all_ids):
        seen: set[object] = set()
        dup = next(r for r in all_ids if r in seen or seen.add(r))
        raise PlannerInputError(f"resources.resource_id must be unique; {dup!r} appears twice")
    for rid in all_ids:
        if not isinstance(rid, str):
            raise PlannerInputError(f"resources.resource_id must be str (use str(id)), got {rid!r}")
    if only is not None:
        wanted = list(dict.fromkeys(only))
        missing = [w for w in wanted if w not in lookup_all]
        if missing:
            raise PlannerInputError(
                f"resource {missing[0]!r} is not in resources; add it or remove it from the request"
            )
        pos = np.array([lookup_all[w] for w in wanted], dtype=np.int64)
    else:
        pos = np.arange(len(all_ids))
    ids = np.array(all_ids, dtype=object)[pos]
    kind = resources["kind"].to_numpy(dtype=object)[pos]
    bad_kind = ~np.isin(kind, np.array(["member", "room"], dtype=object))
    if bad_kind.any():
        raise PlannerInputError(f"resources.kind must be 'member' or 'room', got {kind[bad_kind][0]!r}")
    zone = resources["zone"].to_numpy(dtype=object)[pos]
    for z in set(zone.tolist()):
        check_zone(z, "resources.zone")
    if "capacity" in resources.columns:
        capacity = _int_column(resources, "resources", "capacity")[pos]
    else:
        capacity = np.ones(ids.size, dtype=np.int64)
    lookup = {rid: i for i, rid in enumerate(ids.tolist())}

    strict = only is None

    # --- weekly hours ---------------------------------------------------------
    h_res = resource_rows(ids, hours["resource_id"], "hours.resource_id", strict)
    keep = h_res >= 0
    h_wd = _int_column(hours, "hours", "weekday")[keep]
    h_start = _int_column(hours, "hours", "start")[keep]
    h_end = _int_column(hours, "hours", "end")[keep]
    h_res = h_res[keep]
    if ((h_wd < 0) | (h_wd > 6)).any():
        raise PlannerInputError(
            f"hours.weekday must be 0 (Monday) to 6 (Sunday), got {h_wd[(h_wd < 0) | (h_wd > 6)][0]}"
        )
    _check_minutes(h_start, h_end, "hours")
    order = np.lexsort((h_start, h_wd, h_res))

    # --- overrides --------------------------------------------------------------
    if overrides is not None and len(overrides):
        o_res = resource_rows(ids, overrides["resource_id"], "overrides.resource_id", strict)
        keep = o_res >= 0
        o_start = _int_column(overrides, "overrides", "start", allow_na=True)[keep]
        o_end = _int_column(overrides, "overrides", "end", allow_na=True)[keep]
        o_day = _day_numbers(overrides["date"])[keep]
        o_res = o_res[keep]
        half = (o_start < 0) != (o_end < 0)
        if half.any():
            raise PlannerInputError(
                "overrides rows need both start and end, or neither (unavailable all day)"
            )
        timed = o_start >= 0
        _check_minutes(o_start[timed], o_end[timed], "overrides")
        o_order = np.lexsort((o_start, o_day, o_res))
        o_res, o_day, o_start, o_end = o_res[o_order], o_day[o_order], o_start[o_order], o_end[o_order]
    else:
        o_res = o_day = o_start = o_end = np.zeros(0, np.int64)

    # --- busy -------------------------------------------------------------------------
    b_res = resource_rows(ids, busy["resource_id"], "busy.resource_id", strict)
    keep = b_res >= 0
    b_start = timestamps_ns(busy["start"], "busy.start")
    b_end = timestamps_ns(busy["end"], "busy.end")
    if not keep.all():
        b_res, b_start, b_end = b_res[keep], b_start[keep], b_end[keep]
    bad = b_end <= b_start
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PlannerInputError(
            f"busy block of {ids[b_res[i]]!r} ends before it starts "
            f"({pd.Timestamp(b_start[i], tz='UTC')} .. {pd.Timestamp(b_end[i], tz='UTC')}); swap or drop it"
        )

    return Tables(
        ids=ids,
        kind=kind,
        zone=zone,
        capacity=capacity,
        lookup=lookup,
        hours_res=h_res[order],
        hours_weekday=h_wd[order],
        hours_start=h_start[order],
        hours_end=h_end[order],
        ov_res=o_res,
        ov_day=o_day,
        ov_start=o_start,
        ov_end=o_end,
        busy_res=b_res,
        busy_start=b_start,
        busy_end=b_end,
    )


def _check_minutes(start: np.ndarray, end: np.ndarray, name: str) -> None:
    bad = (start < 0) | (start >= 1440)
    if bad.any():
        raise PlannerInputError(f"{name}.start must be minutes in [0, 1440), got {start[bad][0]}")
    bad = (end <= start) | (end > start + 1440)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PlannerInputError(
            f"{name} interval start={start[i]} end={end[i]} is invalid: need start < end <= start + 1440 "
            "(an interval crossing midnight has end > 1440)"
        )


def _day_numbers(dates: pd.Series) -> np.ndarray:
    out = np.empty(len(dates), dtype=np.int64)
    for i, d in enumerate(dates.tolist()):
        if isinstance(d, (dt.datetime, pd.Timestamp)) or not isinstance(d, dt.date):
            raise PlannerInputError(f"overrides.date must hold datetime.date values (local dates), got {d!r}")
        out[i] = d.toordinal() - _EPOCH_ORDINAL
    return out
