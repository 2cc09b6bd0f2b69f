"""What the optimizer is told besides the slots, and the checks every input passes.

:class:`PromoteContext` holds the invitation's and the customer's zones, the customer's business
hours and weekdays, now, meeting counts, room capacities, other invitations' promoted slots and
busy blocks. The checks run where the inputs enter (:func:`planner.promote.score_slots`,
:func:`planner.promote.contention_claims`) and name the bad value: a missing column, a naive
datetime, an unknown zone, a malformed slot table or context field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.slots import SLOT_COLUMNS

__all__ = ["PromoteContext"]

"""Columns a slot DataFrame must have (planner data contract)."""


@dataclass(frozen=True, eq=False)
class PromoteContext:
    """What the optimizer needs to know besides the slots.

    Attributes
    ----------
    zone : str
        The invitation's IANA zone.
    now : datetime.datetime
        Current instant, tz-aware; soonness counts from here.
    customer_zone : str or None
        The customer's IANA zone when known; local day, morning/afternoon and business hours
        are read in this zone, else in ``zone``.
    customer_hours : tuple of int
        The customer's business hours ``(start, end)`` in minutes after local midnight,
        ``0 <= start < end <= 1440``. Default ``(540, 1020)``, 09:00-17:00.
    customer_weekdays : tuple of int
        The customer's business weekdays, 0 = Monday. Default Monday to Friday.
    meeting_counts : Mapping[str, int]
        Meetings per member in the frame (fairness); members not listed have 0.
    room_capacities : Mapping[str, int]
        Capacity of each of the invitation's candidate rooms (room fit). Empty: room fit is
        not scored.
    min_capacity : int
        Capacity the meeting needs; rooms below it are not adequate. Default 1.
    other_promoted : pandas.DataFrame or None
        Slots currently promoted in other active invitations, one row per claimed resource:
        ``resource_id`` (str), ``start``, ``end`` (tz-aware), optional ``demand`` (float,
        default 1). :func:`contention_claims` builds these rows from a promoted-slot table.
    busy : pandas.DataFrame or None
        Busy blocks of the involved members (the planner's ``busy`` table: ``resource_id``,
        ``start``, ``end``), for the calendar shape part.
    """

    zone: str
    now: datetime
    customer_zone: str | None = None
    customer_hours: tuple[int, int] = (540, 1020)
    customer_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    meeting_counts: Mapping[str, int] = field(default_factory=dict)
    room_capacities: Mapping[str, int] = field(default_factory=dict)
    min_capacity: int = 1
    other_promoted: pd.DataFrame | None = None
    busy: pd.DataFrame | None = None

    @property
    def display_zone(self) -> str:
        """The zone the customer reads times in: ``customer_zone`` if known, else ``zone``."""
        return self.customer_zone if self.customer_zone is not None else self.zone


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _zone(name: str, what: str) -> ZoneInfo:
    if not isinstance(name, str):
        raise PlannerInputError(f"{what}={name!r} must be an IANA zone name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PlannerInputError(
            f"{what}={name!r} is not a known IANA zone; use a name such as 'Europe/Berlin'"
        ) from exc


def _utc_column(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    values = frame[column]
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(values.dtype):
            raise PlannerInputError(
                f"{what} column {column!r} holds naive datetimes; localize them "
                "(e.g. .dt.tz_localize('UTC')) so every instant is tz-aware"
            )
        raise PlannerInputError(
            f"{what} column {column!r} has dtype {values.dtype}; it must be tz-aware datetime64"
        )
    return values.dt.tz_convert("UTC")


def _check_slots(slots: pd.DataFrame) -> None:
    if not isinstance(slots, pd.DataFrame):
        raise PlannerInputError(f"slots must be a pandas DataFrame, got {type(slots).__name__}")
    missing = [c for c in SLOT_COLUMNS if c not in slots.columns]
    if missing:
        raise PlannerInputError(
            f"slots is missing columns {missing}; it needs {list(SLOT_COLUMNS)} "
            "as returned by planner.find_slots"
        )
    if not slots.index.is_unique:
        raise PlannerInputError(
            "slots has a duplicate index label; give each row its own (e.g. reset_index())"
        )
    start = _utc_column(slots, "start", "slots")
    end = _utc_column(slots, "end", "slots")
    bad = ~(start < end)
    if bad.any():
        first = slots.index[bad.to_numpy()][0]
        raise PlannerInputError(f"slots row {first!r} has end <= start; every slot needs start < end")
    if start.duplicated().any():
        dup = start[start.duplicated()].iloc[0]
        raise PlannerInputError(f"slots lists start {dup} twice; give one row per available start")
    # Checks run on the distinct values only: slots of one request share a few patterns.
    uniques = {}
    for column in ("members", "pool_members", "rooms"):
        try:
            uniques[column] = pd.unique(slots[column])
        except TypeError as exc:
            raise PlannerInputError(f"slots column {column!r} must hold tuples, not lists") from exc
    for column in ("members", "rooms"):
        if not all(isinstance(v, tuple) for v in uniques[column]):
            raise PlannerInputError(f"slots column {column!r} must hold tuples of resource ids")
    pools = uniques["pool_members"]
    if not all(isinstance(v, tuple) and all(isinstance(p, tuple) for p in v) for v in pools):
        raise PlannerInputError("slots column 'pool_members' must hold tuples of tuples of member ids")
    if len({len(v) for v in pools}) > 1:
        raise PlannerInputError(
            "slots column 'pool_members' has a different number of pools on different rows; "
            "all rows must come from one request"
        )
    if any(len(p) == 0 for v in pools for p in v):
        raise PlannerInputError(
            "slots column 'pool_members' has a pool with no free member; such a start is not "
            "an available slot"
        )


def _check_interval_table(table: pd.DataFrame | None, what: str, extra: Sequence[str] = ()) -> None:
    if table is None:
        return
    if not isinstance(table, pd.DataFrame):
        raise PlannerInputError(f"{what} must be a pandas DataFrame or None")
    missing = [c for c in ("resource_id", "start", "end") if c not in table.columns]
    if missing:
        raise PlannerInputError(f"{what} is missing columns {missing}; it needs resource_id, start, end")
    _utc_column(table, "start", what)
    _utc_column(table, "end", what)
    if "demand" in extra and "demand" in table.columns:
        demand = pd.to_numeric(table["demand"], errors="coerce")
        if demand.isna().any() or (demand < 0).any():
            raise PlannerInputError(f"{what} column 'demand' must hold numbers >= 0")


def _check_context(context: PromoteContext) -> None:
    if not isinstance(context, PromoteContext):
        raise PlannerInputError(f"context must be a PromoteContext, got {type(context).__name__}")
    _zone(context.zone, "zone")
    if context.customer_zone is not None:
        _zone(context.customer_zone, "customer_zone")
    if not isinstance(context.now, datetime) or context.now.tzinfo is None:
        raise PlannerInputError(
            f"now={context.now!r} must be a tz-aware datetime (e.g. datetime.now(timezone.utc))"
        )
    hours = context.customer_hours
    if (
        not isinstance(hours, tuple)
        or len(hours) != 2
        or not all(isinstance(h, int) for h in hours)
        or not 0 <= hours[0] < hours[1] <= 1440
    ):
        raise PlannerInputError(
            f"customer_hours={hours!r} must be (start, end) minutes after local midnight with "
            "0 <= start < end <= 1440, e.g. (540, 1020) for 09:00-17:00"
        )
    if not all(isinstance(d, int) and 0 <= d <= 6 for d in context.customer_weekdays):
        raise PlannerInputError(
            f"customer_weekdays={context.customer_weekdays!r} must hold weekdays 0 (Monday) to 6"
        )
    if not isinstance(context.min_capacity, int) or context.min_capacity < 1:
        raise PlannerInputError(f"min_capacity={context.min_capacity!r} must be an int >= 1")
    for room, capacity in context.room_capacities.items():
        if not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise PlannerInputError(f"room_capacities[{room!r}]={capacity!r} must be an int >= 1")
    for member, count in context.meeting_counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise PlannerInputError(f"meeting_counts[{member!r}]={count!r} must be an int >= 0")
    _check_interval_table(context.other_promoted, "other_promoted", extra=("demand",))
    _check_interval_table(context.busy, "busy")
