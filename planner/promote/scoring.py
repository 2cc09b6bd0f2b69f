"""Score parts: how good each available slot of an invitation is, part by part.

:func:`score_slots` computes every score part for every candidate, vectorized in pandas, from
the planner's slot table (``start``, ``end``, ``members``, ``pool_members``, ``rooms``) and a
:class:`planner.promote.PromoteContext`; :class:`PromoteWeights` names the weights.
:func:`local_time_quality` is the local-time part on its own, and :func:`contention_claims`
turns one invitation's promoted slots into the claims another invitation's context lists.

Score parts
-----------
The model maximizes the sum of the promoted slots' scores (:mod:`planner.promote.model`). The
score parts ``f_p`` (weights ``w_p`` in :class:`PromoteWeights`) are:

- ``local_time`` (customer-friendly), ``f in [-1, 1]``: with the customer's business hours
  ``[h0, h1)`` (default 09:00-17:00) on the local date of the start,
  ``outside = max(h0 - start, 0) + max(end - h1, 0)`` (minutes in the customer zone) and
  ``f = clip(1 - outside / outside_hours_scale, -1, 1)``: 1 inside the hours, 0 two hours
  outside (default scale), -1 four or more hours outside (night). On a day that is not one of
  the customer's business weekdays ``f = min(f, 0)``.
- ``soonness``, ``f in (0, 1]``: exponential decay ``f = 0.5 ** (lead / soonness_half_life)``
  with ``lead = max(start - now, 0)``; with the default half-life of 2 days a slot tomorrow
  scores 0.71, in 2 days 0.5, in a week 0.09. Its weight is the smallest, so it orders
  otherwise equal slots but never outweighs a full point of any other part.
- ``fairness`` (pools), ``f in [0, 1]``: for each pool the likely assignee is the free pool
  member with the fewest meetings in the frame (ties by id; the booking service assigns the
  same way); ``f = 1 - (m_a - m_min) / (m_max - m_min)`` with ``m_a`` the assignee's meeting
  count and ``m_min``, ``m_max`` the extremes over the pool's members (1 when they are equal),
  averaged over pools. 0 when the invitation has no pools.
- ``room``, ``f in [0, 1]``: ``f = cap* / cap_s`` where ``cap*`` is the capacity of the
  smallest adequate room (capacity >= the needed capacity) among the invitation's rooms and
  ``cap_s`` that of the smallest adequate room free for this slot: 1 exactly when the smallest
  adequate room is free. 0 when no room is needed or room capacities are not given.
- ``contention``, ``f >= 0``, weighted negatively: the expected occupancy of this slot's
  resources by slots already promoted in other active invitations. Each promoted slot of
  another invitation claims its resources over ``[start, end)`` with a demand (1 for a
  required member, ``1/m`` for each of the ``m`` free members of a pool or of its ``m``
  rooms; see :func:`contention_claims`). For a candidate, ``f`` is the sum over its required
  members of the overlapping demand, plus for each pool the mean overlapping demand over its
  free pool members, plus the mean over its free rooms. Two customers are thus rarely offered
  the same scarce time.
- ``calendar_shape``, ``f in [0, 1]``: for each involved member (required members and each
  pool's likely assignee), ``g = min(gap before, gap after)`` is the free time between the slot
  and the member's nearest busy block on the tighter side, and
  ``f = clip(1 - max(g - adjacent_within, 0) / focus_block, 0, 1)``, averaged over members:
  1 next to existing busy time, 0 when the slot would cut a long free block into two long
  pieces (keeps focus time whole). Rooms do not count (a room has no focus time). Members with
  no busy blocks in the context score 0, so pass non-working time as busy blocks when the day
  edges should count as edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.promote.context import PromoteContext, _check_context, _check_slots, _utc_column, _zone

__all__ = [
    "PART_COLUMNS",
    "PromoteWeights",
    "contention_claims",
    "local_time_quality",
    "score_slots",
]

PART_COLUMNS = ("local_time", "soonness", "fairness", "room", "contention", "calendar_shape")
"""Score parts; the result has one column per part (weighted points) and ``score``, their sum."""

SCALE = 1000
"""Score points per unit: CP-SAT needs integer coefficients, scores keep 3 decimals."""

DEFAULT_OUTSIDE_HOURS_SCALE = pd.Timedelta(hours=2)
NOON_MINUTES = 12 * 60


@dataclass(frozen=True)
class PromoteWeights:
    """Weights of the score parts and the shapes of their curves.

    A score is ``sum_p weight_p * f_p`` (see the module docstring for each ``f_p``). The
    defaults make customer-friendly local time dominate (a slot two hours outside the
    customer's hours loses 3 points), keep one competing promoted slot on a required member
    (2 points) above soonness, fairness, room and calendar shape (at most 1 point each), and
    let soonness order otherwise equal slots.

    Attributes
    ----------
    local_time : float
        Weight of the customer's local-time quality, ``f in [-1, 1]``. Default 3.
    soonness : float
        Weight of the soonness decay, ``f in (0, 1]``. Default 1.
    fairness : float
        Weight of the pool fairness part, ``f in [0, 1]``. Default 1.
    room : float
        Weight of the room fit, ``f in [0, 1]``. Default 1.
    contention : float
        Penalty per unit of expected occupancy by other invitations' promoted slots. Default 2.
    calendar_shape : float
        Weight of the calendar shape part, ``f in [0, 1]``. Default 1.
    soonness_half_life : pandas.Timedelta
        Lead time after which soonness halves. Default 2 days.
    outside_hours_scale : pandas.Timedelta
        Time outside the customer's hours at which local-time quality reaches 0 (and -1 at
        twice that). Default 2 hours.
    adjacent_within : pandas.Timedelta
        A gap up to this long to a busy block still counts as adjacent (room for buffers).
        Default 15 minutes.
    focus_block : pandas.Timedelta
        Beyond ``adjacent_within``, the gap at which calendar shape reaches 0. Default 2 hours.
    """

    local_time: float = 3.0
    soonness: float = 1.0
    fairness: float = 1.0
    room: float = 1.0
    contention: float = 2.0
    calendar_shape: float = 1.0
    soonness_half_life: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=2))
    outside_hours_scale: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=2))
    adjacent_within: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(minutes=15))
    focus_block: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=2))

    def __post_init__(self) -> None:
        for name in PART_COLUMNS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise PlannerInputError(
                    f"weight {name}={value!r} must be a finite number >= 0 (set it to 0 to ignore that part)"
                )
        for name in ("soonness_half_life", "outside_hours_scale", "focus_block"):
            value = getattr(self, name)
            if not isinstance(value, pd.Timedelta) or value <= pd.Timedelta(0):
                raise PlannerInputError(f"{name}={value!r} must be a positive pandas.Timedelta")
        if not isinstance(self.adjacent_within, pd.Timedelta) or self.adjacent_within < pd.Timedelta(0):
            raise PlannerInputError(
                f"adjacent_within={self.adjacent_within!r} must be a pandas.Timedelta >= 0"
            )


# --------------------------------------------------------------------------------------------
# Score parts (vectorized over candidates)
# --------------------------------------------------------------------------------------------


def local_time_quality(
    start: pd.Series,
    end: pd.Series,
    zone: str,
    hours: tuple[int, int] = (540, 1020),
    weekdays: Sequence[int] = (0, 1, 2, 3, 4),
    scale: pd.Timedelta = DEFAULT_OUTSIDE_HOURS_SCALE,
) -> np.ndarray:
    """Customer-friendliness of each slot's local time, in [-1, 1].

    Parameters
    ----------
    start, end : pandas.Series of datetime64[ns, tz]
        Slot bounds, tz-aware.
    zone : str
        The customer's IANA zone.
    hours : tuple of int
        Business hours ``(start, end)`` in minutes after local midnight.
    weekdays : sequence of int
        Business weekdays, 0 = Monday.
    scale : pandas.Timedelta
        Time outside the hours at which the quality reaches 0.

    Returns
    -------
    ndarray of float, shape (n,)
        1 inside the hours, ``1 - outside / scale`` outside them (clipped at -1), at most 0 on
        days that are not business weekdays.
    """
    local = start.dt.tz_convert(_zone(zone, "zone"))
    start_min = (local.dt.hour * 60 + local.dt.minute + local.dt.second / 60).to_numpy(float)
    # End measured from the start's local midnight with the slot's real duration, so a slot
    # crossing midnight counts as late rather than wrapping to an early time.
    end_min = start_min + ((end - start).dt.total_seconds() / 60).to_numpy(float)
    outside = np.maximum(hours[0] - start_min, 0.0) + np.maximum(end_min - hours[1], 0.0)
    quality = np.clip(1.0 - outside / (scale.total_seconds() / 60), -1.0, 1.0)
    workday = local.dt.day_of_week.isin(list(weekdays)).to_numpy()
    return np.where(workday, quality, np.minimum(quality, 0.0))


def _soonness(start: pd.Series, now: datetime, half_life: pd.Timedelta) -> np.ndarray:
    lead = (start - pd.Timestamp(now).tz_convert("UTC")).dt.total_seconds().to_numpy(float)
    return np.power(0.5, np.maximum(lead, 0.0) / half_life.total_seconds())


def _pool_assignees(
    pool_members: pd.Series, counts: Mapping[str, int]
) -> tuple[list[np.ndarray], np.ndarray]:
    """Likely assignee of each pool per slot, and the fairness part.

    Distinct ``pool_members`` values are few (slots share patterns), so the per-value work is
    done once per distinct value and broadcast back through the factorize codes.
    """
    n = len(pool_members)
    codes, uniques = pd.factorize(pool_members)
    n_pools = len(uniques[0]) if len(uniques) else 0
    if n_pools == 0:
        return [], np.zeros(n)
    fairness = np.zeros(n)
    assignees: list[np.ndarray] = []
    for j in range(n_pools):
        pool = set().union(*(u[j] for u in uniques))
        pool_counts = [counts.get(m, 0) for m in pool]
        low, high = min(pool_counts), max(pool_counts)
        chosen = [min(u[j], key=lambda m: (counts.get(m, 0), m)) for u in uniques]
        if high > low:
            score = np.array([1.0 - (counts.get(m, 0) - low) / (high - low) for m in chosen])
        else:
            score = np.ones(len(uniques))
        fairness += score[codes]
        assignees.append(np.array(chosen, dtype=object)[codes])
    return assignees, fairness / n_pools


def _room_fit(rooms: pd.Series, capacities: Mapping[str, int], min_capacity: int) -> np.ndarray:
    n = len(rooms)
    codes, uniques = pd.factorize(rooms)
    listed = {r for u in uniques for r in u}
    if not capacities or not listed:
        # Capacities unknown, or no slot needs a room: the part is 0 everywhere.
        return np.zeros(n)
    unknown = sorted(listed - set(capacities))
    if unknown:
        raise PlannerInputError(
            f"room_capacities has no capacity for rooms {unknown}; give every candidate room's "
            "capacity, or an empty mapping to skip the room part"
        )
    # The engine lists only rooms big enough for the meeting, so an adequate room must exist;
    # if none does, min_capacity and the capacities do not belong to these slots.
    smallest = min((c for c in capacities.values() if c >= min_capacity), default=None)
    if smallest is None:
        raise PlannerInputError(
            f"no room in room_capacities holds min_capacity={min_capacity}, yet slots list rooms; "
            "pass the meeting's min_capacity and the capacities of its candidate rooms"
        )
    fit = np.array(
        [
            smallest / min(caps)
            if (caps := [capacities[r] for r in u if capacities[r] >= min_capacity])
            else 0.0
            for u in uniques
        ]
    )
    return fit[codes]


def _overlap_demand(
    start: np.ndarray, end: np.ndarray, claims: pd.DataFrame, resources: Sequence[str]
) -> np.ndarray:
    """Demand of ``claims`` overlapping each ``[start, end)``, per resource: shape (n, R).

    With rows sorted by start and by end, the demand overlapping ``[s, e)`` is the demand of
    rows starting before ``e`` minus that of rows ending at or before ``s``: a row ending at or
    before ``s`` also starts before ``e``, and every other row starting before ``e`` ends after
    ``s`` (half-open intervals, so touching rows do not overlap).
    """
    out = np.zeros((len(start), len(resources)))
    if claims is None or claims.empty:
        return out
    owner = pd.Index(resources).get_indexer(claims["resource_id"])
    all_start, all_end = _ns(claims["start"]), _ns(claims["end"])
    all_demand = claims["demand"].to_numpy(float)
    for col in np.unique(owner[owner >= 0]):
        mine = owner == col
        demand, r_start, r_end = all_demand[mine], all_start[mine], all_end[mine]
        by_start = np.argsort(r_start, kind="stable")
        by_end = np.argsort(r_end, kind="stable")
        cum_start = np.concatenate([[0.0], np.cumsum(demand[by_start])])
        cum_end = np.concatenate([[0.0], np.cumsum(demand[by_end])])
        began = np.searchsorted(r_start[by_start], end, side="left")
        ended = np.searchsorted(r_end[by_end], start, side="right")
        out[:, col] = cum_start[began] - cum_end[ended]
    return out


def _ns(values: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds since the epoch."""
    return values.to_numpy("datetime64[ns]").astype(np.int64)


def _weights_table(groups: Sequence[tuple[str, ...]], resources: Sequence[str], mean: bool) -> np.ndarray:
    """Weights (len(groups), R) of resource groups over ``resources``: 1 (sum) or 1/len (mean)."""
    index = {r: i for i, r in enumerate(resources)}
    table = np.zeros((max(len(groups), 1), len(resources)))
    for u, members in enumerate(groups):
        for m in members:
            if m in index:
                table[u, index[m]] += 1.0 / len(members) if mean else 1.0
    return table


def _group_weights(values: pd.Series, resources: Sequence[str], mean: bool) -> np.ndarray:
    """Per-slot weights (n, R) of a tuple column over ``resources``: 1 (sum) or 1/len (mean)."""
    codes, uniques = pd.factorize(values)
    return _weights_table(list(uniques), resources, mean)[codes]


def _contention(
    slots: pd.DataFrame, start: np.ndarray, end: np.ndarray, claims: pd.DataFrame | None
) -> np.ndarray:
    n = len(slots)
    if n == 0 or claims is None or claims.empty:
        return np.zeros(n)
    pool_codes, pool_uniques = pd.factorize(slots["pool_members"])
    claimed = set(claims["resource_id"])
    involved = (
        {m for t in pd.unique(slots["members"]) for m in t}
        | {m for t in pool_uniques for p in t for m in p}
        | {r for t in pd.unique(slots["rooms"]) for r in t}
    )
    resources = sorted(claimed & involved)
    if not resources:
        return np.zeros(n)
    overlap = _overlap_demand(start, end, claims, resources)
    weights = _group_weights(slots["members"], resources, mean=False)
    for j in range(len(pool_uniques[0])):
        weights += _weights_table([u[j] for u in pool_uniques], resources, mean=True)[pool_codes]
    weights += _group_weights(slots["rooms"], resources, mean=True)
    return np.einsum("ij,ij->i", overlap, weights)


def _shape_per_member(
    start: np.ndarray,
    end: np.ndarray,
    busy: pd.DataFrame | None,
    members: Sequence[str],
    weights: PromoteWeights,
) -> np.ndarray:
    """Calendar shape ``f`` for each slot and member: shape (n, len(members))."""
    out = np.zeros((len(start), len(members)))
    if busy is None or busy.empty:
        return out
    tolerance = weights.adjacent_within.value
    span = weights.focus_block.value
    owner = pd.Index(members).get_indexer(busy["resource_id"])
    all_start, all_end = _ns(busy["start"]), _ns(busy["end"])
    for col in np.unique(owner[owner >= 0]):
        mine = owner == col
        ends = np.sort(all_end[mine])
        starts = np.sort(all_start[mine])
        # Latest busy end at or before the slot start, earliest busy start at or after its end.
        before = np.searchsorted(ends, start, side="right") - 1
        after = np.searchsorted(starts, end, side="left")
        gap_before = np.where(before >= 0, start - ends[np.maximum(before, 0)], np.iinfo(np.int64).max)
        gap_after = np.where(
            after < len(starts), starts[np.minimum(after, len(starts) - 1)] - end, np.iinfo(np.int64).max
        )
        # A block overlapping the slot (only possible within buffers) counts as adjacent.
        gap = np.maximum(np.minimum(gap_before, gap_after), 0).astype(float)
        out[:, col] = np.clip(1.0 - np.maximum(gap - tolerance, 0.0) / span, 0.0, 1.0)
    return out


def _calendar_shape(
    slots: pd.DataFrame,
    start: np.ndarray,
    end: np.ndarray,
    assignees: list[np.ndarray],
    busy: pd.DataFrame | None,
    weights: PromoteWeights,
) -> np.ndarray:
    n = len(slots)
    required = sorted({m for t in pd.unique(slots["members"]) for m in t})
    pooled = sorted({m for a in assignees for m in pd.unique(a)})
    members = sorted(set(required) | set(pooled))
    if not members:
        return np.zeros(n)
    shape = _shape_per_member(start, end, busy, members, weights)
    total = (shape * _group_weights(slots["members"], members, mean=False)).sum(axis=1)
    count = slots["members"].map(len).to_numpy(float) + len(assignees)
    column = {m: i for i, m in enumerate(members)}
    rows = np.arange(n)
    for chosen in assignees:
        total += shape[rows, np.array([column[m] for m in chosen], dtype=int)]
    return np.divide(total, count, out=np.zeros(n), where=count > 0)


def contention_claims(promoted: pd.DataFrame) -> pd.DataFrame:
    """Resource claims of one invitation's promoted slots, for another invitation's context.

    Parameters
    ----------
    promoted : pandas.DataFrame
        Promoted slots in the slot-table shape (``start``, ``end``, ``members``,
        ``pool_members``, ``rooms``), e.g. ``Promotion.slots``.

    Returns
    -------
    pandas.DataFrame
        Columns ``resource_id``, ``start``, ``end``, ``demand``: each required member with
        demand 1, each of a pool's ``m`` free members with ``1/m``, each of ``r`` free rooms
        with ``1/r`` (the slot needs one of them). Pass the concatenation over the other active
        invitations as ``PromoteContext.other_promoted``.
    """
    _check_slots(promoted)
    rows: list[tuple[str, pd.Timestamp, pd.Timestamp, float]] = []
    start = _utc_column(promoted, "start", "promoted")
    end = _utc_column(promoted, "end", "promoted")
    for s, e, members, pools, rooms in zip(
        start, end, promoted["members"], promoted["pool_members"], promoted["rooms"], strict=True
    ):
        rows.extend((m, s, e, 1.0) for m in members)
        for pool in pools:
            rows.extend((m, s, e, 1.0 / len(pool)) for m in pool)
        rows.extend((r, s, e, 1.0 / len(rooms)) for r in rooms)
    out = pd.DataFrame(rows, columns=["resource_id", "start", "end", "demand"])
    for column in ("start", "end"):
        out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[ns, UTC]")
    out["resource_id"] = out["resource_id"].astype(str)
    return out


def score_slots(
    slots: pd.DataFrame, context: PromoteContext, weights: PromoteWeights | None = None
) -> pd.DataFrame:
    """Score every available slot, part by part.

    Parameters
    ----------
    slots : pandas.DataFrame
        The planner's slot table (``start``, ``end``, ``members``, ``pool_members``,
        ``rooms``).
    context : PromoteContext
    weights : PromoteWeights, optional
        Defaults to ``PromoteWeights()``.

    Returns
    -------
    pandas.DataFrame
        A new frame, same index and order as ``slots``, with the input's columns plus:
        ``local_day`` (date in the customer zone), ``afternoon`` (bool, starts at or after
        12:00 there), ``assignees`` (tuple, likely member per pool), one raw column per part
        named ``f_<part>`` (the ``f_p`` of the module docstring), one weighted column per part
        (``PART_COLUMNS``), ``score`` (their sum) and ``points`` (integer score used by the
        solver, ``SCALE`` per unit).
    """
    weights = weights if weights is not None else PromoteWeights()
    _check_slots(slots)
    _check_context(context)
    start_s = _utc_column(slots, "start", "slots")
    end_s = _utc_column(slots, "end", "slots")
    start = start_s.to_numpy("datetime64[ns]").astype(np.int64)
    end = end_s.to_numpy("datetime64[ns]").astype(np.int64)

    local = start_s.dt.tz_convert(_zone(context.display_zone, "customer_zone"))
    added: dict[str, object] = {
        "local_day": local.dt.date.to_numpy(),
        "afternoon": (local.dt.hour * 60 + local.dt.minute >= NOON_MINUTES).to_numpy(),
    }

    claims = _normalised_claims(context.other_promoted)
    busy = _normalised_busy(context.busy)
    assignees, fairness = _pool_assignees(slots["pool_members"], context.meeting_counts)
    raw = {
        "local_time": local_time_quality(
            start_s,
            end_s,
            context.display_zone,
            context.customer_hours,
            context.customer_weekdays,
            weights.outside_hours_scale,
        ),
        "soonness": _soonness(start_s, context.now, weights.soonness_half_life),
        "fairness": fairness,
        "room": _room_fit(slots["rooms"], context.room_capacities, context.min_capacity),
        "contention": _contention(slots, start, end, claims),
        "calendar_shape": _calendar_shape(slots, start, end, assignees, busy, weights),
    }
    n = len(slots)
    added["assignees"] = pd.Series(
        list(zip(*assignees, strict=True)) if assignees else [()] * n, index=slots.index, dtype=object
    )
    points = np.zeros(n, dtype=np.int64)
    for part in PART_COLUMNS:
        added[f"f_{part}"] = raw[part]
        sign = -1.0 if part == "contention" else 1.0
        part_points = np.rint(sign * getattr(weights, part) * raw[part] * SCALE).astype(np.int64)
        added[part] = part_points / SCALE
        points += part_points
    added["points"] = points
    added["score"] = points / SCALE
    # One concat instead of a column insert per part; input columns of the same name give way.
    kept = slots.drop(columns=[c for c in added if c in slots.columns])
    return pd.concat([kept, pd.DataFrame(added, index=slots.index)], axis=1)


def _normalised_claims(claims: pd.DataFrame | None) -> pd.DataFrame | None:
    if claims is None or claims.empty:
        return None
    out = pd.DataFrame(
        {
            "resource_id": claims["resource_id"].astype(str).to_numpy(),
            "start": claims["start"].dt.tz_convert("UTC").to_numpy("datetime64[ns]"),
            "end": claims["end"].dt.tz_convert("UTC").to_numpy("datetime64[ns]"),
            "demand": pd.to_numeric(claims["demand"]).to_numpy(float)
            if "demand" in claims.columns
            else np.ones(len(claims)),
        }
    )
    return out


def _normalised_busy(busy: pd.DataFrame | None) -> pd.DataFrame | None:
    if busy is None or busy.empty:
        return None
    return pd.DataFrame(
        {
            "resource_id": busy["resource_id"].astype(str).to_numpy(),
            "start": busy["start"].dt.tz_convert("UTC").to_numpy("datetime64[ns]"),
            "end": busy["end"].dt.tz_convert("UTC").to_numpy("datetime64[ns]"),
        }
    )
