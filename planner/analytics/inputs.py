"""The analytics' inputs: the tables they accept and the rows one request looks at.

Every analytics function takes the planner's input tables as one object with ``resources``,
``hours``, ``overrides`` and ``busy`` DataFrames (:class:`PlannerTables`): a
:class:`planner.Organisation`, the database loader's ``OrganisationData`` or anything else of
that shape; :func:`as_organisation` checks their columns. The counting helpers keep only the
rows one :class:`planner.SlotRequest` can look at and count or find its slots with the engine
itself (:func:`planner.count_slots`, :func:`planner.find_slots`), so that no slot rule is
implemented twice. Inputs are never modified.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import pandas as pd

from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.slots import count_slots, find_slots
from planner.synthetic import Organisation

__all__ = ["PlannerTables", "as_organisation"]


class PlannerTables(Protocol):
    """Anything holding the planner's input tables (an ``Organisation``, the loader's data)."""

    resources: pd.DataFrame
    hours: pd.DataFrame
    overrides: pd.DataFrame
    busy: pd.DataFrame


_EMPTY_POOLS = pd.DataFrame(
    {
        "pool_id": pd.Series([], dtype=object),
        "name": pd.Series([], dtype=object),
        "member_id": pd.Series([], dtype=object),
    }
)


def as_organisation(org: PlannerTables) -> Organisation:
    """The input tables of ``org`` as an :class:`Organisation` (checked for their columns).

    ``org`` may be an :class:`Organisation`, the database loader's ``OrganisationData`` or any
    object with ``resources``, ``hours``, ``overrides`` and ``busy`` DataFrames (``pools``
    optional). The tables are shared, not copied; the analytics never modify them.
    """
    for name, columns in (
        ("resources", ("resource_id", "kind", "zone")),
        ("hours", ("resource_id", "weekday", "start", "end")),
        ("overrides", ("resource_id", "date", "start", "end")),
        ("busy", ("resource_id", "start", "end")),
    ):
        table = getattr(org, name, None)
        if not isinstance(table, pd.DataFrame):
            raise PlannerInputError(
                f"{name} must be a pandas DataFrame (the planner's {name} table), got {type(table).__name__}"
            )
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise PlannerInputError(
                f"the {name} table lacks the column(s) {missing}; it has {list(table.columns)}"
            )
    if isinstance(org, Organisation):
        return org
    pools = getattr(org, "pools", None)
    return Organisation(
        resources=org.resources,
        hours=org.hours,
        overrides=org.overrides,
        busy=org.busy,
        pools=pools if isinstance(pools, pd.DataFrame) else _EMPTY_POOLS,
    )


# --- counting with the engine -----------------------------------------------------------------


def _request_tables(tables: Organisation, request: SlotRequest) -> Organisation:
    """Only the rows the request can look at (its resources; busy time near its frame).

    The engine ignores other rows anyway; dropping them once makes the many counts of a
    what-if, bottleneck or packing run cheap.
    """
    ids = {*request.all_members, *request.rooms}
    lo, hi = request.frame
    margin = request.buffer_before + request.buffer_after + pd.Timedelta(days=1)
    busy = tables.busy
    keep = busy["resource_id"].isin(ids) & (busy["end"] > lo - margin) & (busy["start"] < hi + margin)
    return dataclasses.replace(
        tables,
        resources=tables.resources.loc[tables.resources["resource_id"].isin(ids)],
        hours=tables.hours.loc[tables.hours["resource_id"].isin(ids)],
        overrides=tables.overrides.loc[tables.overrides["resource_id"].isin(ids)],
        busy=busy.loc[keep],
    )


def _count(tables: Organisation, request: SlotRequest) -> int:
    return count_slots(request, tables.resources, tables.hours, tables.busy, tables.overrides)


def _find(tables: Organisation, request: SlotRequest) -> pd.DataFrame:
    return find_slots(request, tables.resources, tables.hours, tables.busy, tables.overrides)
