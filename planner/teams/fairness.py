"""Fairness: bookings per pool member against their target share, overall and over time.

Inputs are two plain tables, so the dashboard, the notebooks and tests use the same view:

``assignments``
    ``pool_id`` (str), ``member_id`` (str), ``at`` (tz-aware datetime64: when the member was
    assigned), optional ``counted`` (bool, default True: False for an assignment whose meeting
    was cancelled and given back).
``targets``
    ``pool_id``, ``member_id``, ``weight`` (float >= 0): every member of every pool, with their
    weight (1 each for pools without weights).

A member's *share* is their counted assignments over the pool's; their *target share* is their
weight over the pool's total weight; ``gap = share - target_share``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.zones import check_zone

__all__ = ["FAIRNESS_COLUMNS", "fairness", "fairness_over_time"]

FAIRNESS_COLUMNS = ("pool_id", "member_id", "bookings", "share", "target_share", "gap")


def _check(assignments: pd.DataFrame, targets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    for name, df, cols in (("assignments", assignments, ("pool_id", "member_id", "at")),
                           ("targets", targets, ("pool_id", "member_id", "weight"))):  # fmt: skip
        if not isinstance(df, pd.DataFrame):
            raise PlannerInputError(f"{name} must be a DataFrame, got {type(df).__name__}")
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise PlannerInputError(f"{name} needs the columns {', '.join(cols)}; missing {', '.join(missing)}")
    if len(assignments) and not isinstance(assignments["at"].dtype, pd.DatetimeTZDtype):
        raise PlannerInputError("assignments.at must be tz-aware datetime64 (UTC)")
    if (pd.to_numeric(targets["weight"]) < 0).any():
        raise PlannerInputError("targets.weight must be >= 0")
    a = assignments.assign(pool_id=assignments["pool_id"].astype(str), member_id=assignments["member_id"].astype(str))
    if "counted" not in a.columns:
        a = a.assign(counted=True)
    t = targets.assign(pool_id=targets["pool_id"].astype(str), member_id=targets["member_id"].astype(str),
                       weight=pd.to_numeric(targets["weight"]).astype(float))  # fmt: skip
    total = t.groupby("pool_id")["weight"].transform("sum")
    t = t.assign(target_share=np.where(total > 0, t["weight"] / total.where(total > 0, 1.0), 0.0))
    return a, t


def fairness(assignments: pd.DataFrame, targets: pd.DataFrame, *, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Each pool member's bookings and share against their target share.

    Parameters
    ----------
    assignments, targets : pandas.DataFrame
        See the module docstring.
    since : tz-aware pandas.Timestamp, optional
        Count only assignments at or after this instant ("recent bookings").

    Returns
    -------
    pandas.DataFrame
        One row per pool member (of ``targets``): :data:`FAIRNESS_COLUMNS`; ``share`` is 0 in a
        pool without counted bookings.
    """
    a, t = _check(assignments, targets)
    a = a[a["counted"].astype(bool)]
    if since is not None:
        a = a[a["at"] >= pd.Timestamp(since)]
    n = a.groupby(["pool_id", "member_id"]).size().rename("bookings")
    out = t.merge(n, how="left", left_on=["pool_id", "member_id"], right_index=True)
    out["bookings"] = out["bookings"].fillna(0).astype("int64")
    pool_total = out.groupby("pool_id")["bookings"].transform("sum")
    out["share"] = np.where(pool_total > 0, out["bookings"] / pool_total.where(pool_total > 0, 1), 0.0)
    out["gap"] = out["share"] - out["target_share"]
    return out[list(FAIRNESS_COLUMNS)].sort_values(["pool_id", "member_id"]).reset_index(drop=True)


def fairness_over_time(
    assignments: pd.DataFrame, targets: pd.DataFrame, *, freq: str = "W-MON", zone: str = "UTC"
) -> pd.DataFrame:
    """Cumulative share of each pool member at the end of every period, against the target.

    Parameters
    ----------
    assignments, targets : pandas.DataFrame
    freq : str
        Period of the rows, a pandas offset alias on local dates ("D", "W-MON" for weeks
        starting on Monday, "MS" for months).
    zone : str
        IANA zone whose dates the periods follow.

    Returns
    -------
    pandas.DataFrame
        ``pool_id``, ``member_id``, ``period`` (local date the period starts), ``bookings`` (in
        the period), ``cumulative`` (up to its end), ``share`` (cumulative share of the pool),
        ``target_share``, ``gap``. Empty when there are no counted assignments.
    """
    check_zone(zone, "zone")
    a, t = _check(assignments, targets)
    a = a[a["counted"].astype(bool)]
    columns = ["pool_id", "member_id", "period", "bookings", "cumulative", "share", "target_share", "gap"]
    if a.empty:
        return pd.DataFrame(columns=columns)
    local = a["at"].dt.tz_convert(zone).dt.tz_localize(None)
    try:
        period = local.dt.to_period(freq.replace("W-MON", "W-SUN")).dt.start_time.dt.date
    except ValueError as exc:
        raise PlannerInputError(f"freq must be a pandas period alias such as 'D', 'W-MON' or 'MS', got {freq!r}") from exc
    a = a.assign(period=period)
    periods = sorted(a["period"].unique())
    grid = t[["pool_id", "member_id", "target_share"]].merge(pd.DataFrame({"period": periods}), how="cross")
    n = a.groupby(["pool_id", "member_id", "period"]).size().rename("bookings")
    out = grid.merge(n, how="left", left_on=["pool_id", "member_id", "period"], right_index=True)
    out["bookings"] = out["bookings"].fillna(0).astype("int64")
    out = out.sort_values(["pool_id", "member_id", "period"])
    out["cumulative"] = out.groupby(["pool_id", "member_id"])["bookings"].cumsum()
    pool_cum = out.groupby(["pool_id", "period"])["cumulative"].transform("sum")
    out["share"] = np.where(pool_cum > 0, out["cumulative"] / pool_cum.where(pool_cum > 0, 1), 0.0)
    out["gap"] = out["share"] - out["target_share"]
    return out[columns].reset_index(drop=True)
