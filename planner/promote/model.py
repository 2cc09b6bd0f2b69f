"""The CP-SAT model that picks k of the scored candidates, its solver and the greedy fallback.

The candidates are the table :func:`planner.promote.score_slots` returns. :func:`prefilter` keeps
the best few of each (local day, half) group without losing the optimum, :func:`build_model`
builds the model from that table only (one small function per constraint, one objective term
per score part), :func:`solve` runs CP-SAT deterministically and reports its status, and
:func:`greedy_select` answers with the same scores when CP-SAT has no solution in time.

Model
-----
Data. Candidates ``i = 1..n``. In the *customer zone* (the customer's zone when known, else
the invitation zone) each candidate has a local day ``d(i)`` and a half ``h(i)``: morning when
it starts before 12:00 local, afternoon otherwise. Each has an integer score
``s_i = sum_p s_ip`` with ``s_ip = round(1000 * w_p * f_p(i))`` for the score parts ``p`` of
:mod:`planner.promote.scoring`.

Variables. ``x_i in {0, 1}``: candidate ``i`` is promoted.

Constraints.

- (C1) exactly k promoted: ``sum_i x_i = k``.
- (C2) spread over days: ``sum_{i : d(i) = d} x_i <= c`` for every local day ``d``, where
  ``c = min{c' >= 1 : sum_d min(n_d, c') >= k}`` and ``n_d`` is the number of candidates on day
  ``d``. So ``c = 1`` (no two promoted slots on the same local day) whenever at least k days
  have candidates, and otherwise the k slots are spread as evenly as the days allow.
- (C3) morning and afternoon mix: if ``k >= 2`` and both halves occur among the candidates,
  ``sum_{i : h(i) = morning} x_i >= 1`` and ``sum_{i : h(i) = afternoon} x_i >= 1``.

(C1)-(C3) are always jointly satisfiable when ``n > k``: (C2) admits k slots by the choice of
``c``, and swapping one promoted slot for a slot of the missing half on its own day (or on a
day with room) keeps (C2) and fixes (C3). (C2) and (C3) are hard rules: when the only slots
of one half are poor (weeks away, or at night for the customer), the best of them is still
promoted.

Objective. ``maximize sum_p sum_i s_ip x_i``.

Pre-filter
----------
All constraints treat two candidates of the same (local day, half) group alike, and a group
can hold at most ``min(k, c)`` promoted slots (C1, C2). If an optimal choice promoted a
candidate outside its group's best ``min(k, c)``, one of those best is unpromoted and swapping
them keeps every constraint and does not lower the objective. So keeping the best ``min(k, c)``
of each group (score, then start) keeps an optimal solution; with ``k = 5`` and enough days it
keeps at most two candidates per day, and 10,000 candidates become a model of a few hundred
booleans at most.

Determinism
-----------
Candidates are ordered by start before modelling; CP-SAT runs with ``num_workers = 1``, a fixed
``random_seed`` and ``max_time_in_seconds`` (default 1 s). The same input gives the same output.
Greedy ties are broken by start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from planner.errors import PlannerInputError
from planner.promote.scoring import PART_COLUMNS, SCALE

__all__ = [
    "PromoteModel",
    "SolveConfig",
    "SolveOutcome",
    "build_model",
    "day_cap",
    "greedy_select",
    "prefilter",
    "solve",
]


@dataclass(frozen=True)
class SolveConfig:
    """How CP-SAT runs.

    Attributes
    ----------
    time_limit : float
        ``max_time_in_seconds``; 0 means no search (the greedy fallback answers). Default 1.
    seed : int
        ``random_seed``; with ``num_workers = 1`` the search is deterministic. Default 0.
    """

    time_limit: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if (
            not isinstance(self.time_limit, (int, float))
            or not math.isfinite(self.time_limit)
            or self.time_limit < 0
        ):
            raise PlannerInputError(f"time_limit={self.time_limit!r} must be a finite number of seconds >= 0")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise PlannerInputError(f"seed={self.seed!r} must be an int")


@dataclass(eq=False)
class PromoteModel:
    """A built CP-SAT model and the data it was built from.

    Attributes
    ----------
    model : ortools.sat.python.cp_model.CpModel
    pick : list of cp_model.IntVar
        One boolean per row of ``table`` (same order): promote this candidate.
    table : pandas.DataFrame
        The candidates modelled (scored, pre-filtered, sorted by start).
    k : int
    day_cap : int
        ``c`` of constraint (C2).
    mix : bool
        Whether constraint (C3) is in the model.
    """

    model: cp_model.CpModel
    pick: list[cp_model.IntVar]
    table: pd.DataFrame
    k: int
    day_cap: int
    mix: bool


@dataclass(frozen=True, eq=False)
class SolveOutcome:
    """What :func:`solve` found.

    Attributes
    ----------
    solver_status : str
        CP-SAT's status name (OPTIMAL, FEASIBLE, UNKNOWN, INFEASIBLE).
    positions : tuple of int or None
        Row positions in the model's table of the promoted candidates; None when CP-SAT found
        no solution.
    objective : int or None
        Objective value in score points (``SCALE`` per unit).
    wall_time : float
        Solver wall time in seconds.
    """

    solver_status: str
    positions: tuple[int, ...] | None
    objective: int | None
    wall_time: float


def day_cap(day_counts: Sequence[int], k: int) -> int:
    """Smallest per-day cap ``c`` with ``sum_d min(n_d, c) >= k`` (constraint C2)."""
    counts = np.asarray(day_counts, dtype=np.int64)
    for cap in range(1, k + 1):
        if np.minimum(counts, cap).sum() >= k:
            return cap
    raise PlannerInputError(f"only {int(counts.sum())} candidates for k={k}; cannot promote k slots")


def _needs_mix(table: pd.DataFrame, k: int) -> bool:
    return k >= 2 and table["afternoon"].any() and (~table["afternoon"]).any()


def prefilter(table: pd.DataFrame, k: int, cap: int) -> pd.DataFrame:
    """Keep the best ``min(k, cap)`` candidates of each (local day, half); sorted by start.

    Lossless for the model (see *Pre-filter* in the module docstring).
    """
    keep = min(k, cap)
    ranked = table.sort_values(["points", "start"], ascending=[False, True], kind="stable")
    kept = ranked.groupby(["local_day", "afternoon"], sort=False).head(keep)
    return kept.sort_values("start", kind="stable")


def _add_exactly_k(model: cp_model.CpModel, pick: list[cp_model.IntVar], k: int) -> None:
    """(C1) exactly k promoted slots."""
    model.add(sum(pick) == k)


def _add_day_spread(model: cp_model.CpModel, pick: list[cp_model.IntVar], days: np.ndarray, cap: int) -> None:
    """(C2) at most ``cap`` promoted slots per local day."""
    for positions in pd.Series(np.arange(len(days))).groupby(days, sort=True).groups.values():
        if len(positions) > cap:
            model.add(sum(pick[i] for i in positions) <= cap)


def _add_half_mix(model: cp_model.CpModel, pick: list[cp_model.IntVar], afternoon: np.ndarray) -> None:
    """(C3) at least one morning and one afternoon slot."""
    model.add(sum(pick[i] for i in np.flatnonzero(~afternoon)) >= 1)
    model.add(sum(pick[i] for i in np.flatnonzero(afternoon)) >= 1)


def _objective_term(pick: list[cp_model.IntVar], points: np.ndarray) -> cp_model.LinearExpr:
    """One score part's objective term: ``sum_i s_ip x_i``."""
    return cp_model.LinearExpr.weighted_sum(pick, [int(p) for p in points])


def build_model(table: pd.DataFrame, k: int, cap: int | None = None) -> PromoteModel:
    """Build the CP-SAT model over a scored candidate table.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`score_slots` (possibly pre-filtered) with more than k rows.
    k : int
        Slots to promote.
    cap : int, optional
        Per-day cap ``c`` of (C2); computed from ``table`` when omitted. Pass the cap of the
        unfiltered table when ``table`` was pre-filtered.

    Returns
    -------
    PromoteModel
    """
    table = table.sort_values("start", kind="stable")
    days = table["local_day"].to_numpy()
    if cap is None:
        cap = day_cap(table.groupby("local_day").size().to_numpy(), k)
    afternoon = table["afternoon"].to_numpy(bool)
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"promote_{i}") for i in range(len(table))]
    _add_exactly_k(model, pick, k)
    _add_day_spread(model, pick, days, cap)
    mix = _needs_mix(table, k)
    if mix:
        _add_half_mix(model, pick, afternoon)
    points = {part: np.rint(table[part].to_numpy(float) * SCALE).astype(np.int64) for part in PART_COLUMNS}
    model.maximize(sum(_objective_term(pick, points[part]) for part in PART_COLUMNS))
    return PromoteModel(model=model, pick=pick, table=table, k=k, day_cap=cap, mix=mix)


def solve(built: PromoteModel, config: SolveConfig | None = None) -> SolveOutcome:
    """Solve a built model deterministically.

    Parameters
    ----------
    built : PromoteModel
    config : SolveConfig, optional
        Time limit and seed; defaults to ``SolveConfig()``.

    Returns
    -------
    SolveOutcome
        ``positions`` is None when CP-SAT has no solution (UNKNOWN: time limit hit first;
        INFEASIBLE: cannot happen for models from :func:`build_model` on more than k
        candidates).

    Raises
    ------
    RuntimeError
        If CP-SAT reports MODEL_INVALID (a bug in model building, not a bad input).
    """
    config = config if config is not None else SolveConfig()
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(config.time_limit)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = config.seed
    status = solver.solve(built.model)
    name = solver.status_name(status)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        positions = tuple(i for i, var in enumerate(built.pick) if solver.boolean_value(var))
        return SolveOutcome(name, positions, int(round(solver.objective_value)), solver.wall_time)
    if status in (cp_model.UNKNOWN, cp_model.INFEASIBLE):
        return SolveOutcome(name, None, None, solver.wall_time)
    if status == cp_model.MODEL_INVALID:
        raise RuntimeError(f"promoted-slots model is invalid: {built.model.validate()}")
    raise RuntimeError(f"unexpected CP-SAT status {name}")


def greedy_select(table: pd.DataFrame, k: int, cap: int | None = None) -> tuple[tuple[int, ...], bool]:
    """Greedy choice with the same scores: best first, keeping (C2) and, when possible, (C3).

    Candidates are taken by score (ties: earlier start) when their day is below the cap and
    taking them still leaves enough picks for a missing half. If that leaves fewer than k, the
    rest is filled by score under (C2) alone.

    Parameters
    ----------
    table : pandas.DataFrame
        Scored candidates (output of :func:`score_slots`), more than k rows.
    k : int
    cap : int, optional
        Per-day cap; computed from ``table`` when omitted.

    Returns
    -------
    positions : tuple of int
        Row positions (in ``table``) of the chosen candidates, ascending.
    mixed : bool
        False when (C3) applied but the greedy could not meet it.
    """
    if cap is None:
        cap = day_cap(table.groupby("local_day").size().to_numpy(), k)
    days = table["local_day"].to_numpy()
    afternoon = table["afternoon"].to_numpy(bool)
    order = np.lexsort((table["start"].to_numpy("datetime64[ns]"), -table["points"].to_numpy()))
    need_mix = _needs_mix(table, k)
    chosen: list[int] = []
    per_day: dict[object, int] = {}
    halves: set[bool] = set()
    for i in order:
        if per_day.get(days[i], 0) >= cap:
            continue
        missing = (2 - len(halves | {bool(afternoon[i])})) if need_mix else 0
        if missing > k - len(chosen) - 1:
            continue
        chosen.append(int(i))
        per_day[days[i]] = per_day.get(days[i], 0) + 1
        halves.add(bool(afternoon[i]))
        if len(chosen) == k:
            break
    if len(chosen) < k:
        taken = set(chosen)
        for i in order:
            if i not in taken and per_day.get(days[i], 0) < cap:
                chosen.append(int(i))
                per_day[days[i]] = per_day.get(days[i], 0) + 1
                halves.add(bool(afternoon[i]))
                if len(chosen) == k:
                    break
    return tuple(sorted(chosen)), (not need_mix) or len(halves) == 2
