"""The entry point: pick the k slots an invitation email promotes, and say how they were found.

:func:`promote_slots` runs the pipeline and returns a :class:`Promotion`:

1. :func:`score_slots` computes every score part for every candidate, vectorized in pandas.
2. The table is pre-filtered to the best ``min(k, c)`` candidates of each (local day,
   morning/afternoon) group; this never loses the optimum (see *Pre-filter* in
   :mod:`planner.promote.model`).
3. :func:`build_model` builds the CP-SAT model from that table only: one small function per
   constraint, one objective term per score part.
4. :func:`solve` runs CP-SAT with a time limit, one worker and a fixed seed (deterministic) and
   reports the status. If CP-SAT returns no solution in time, :func:`greedy_select` answers with
   the same scores and the result says so (``status == "FALLBACK"``).
5. The chosen slots keep their score parts and get a short reason each
   (:mod:`planner.promote.explain`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.promote.context import PromoteContext
from planner.promote.explain import _result_frame
from planner.promote.model import SolveConfig, build_model, day_cap, greedy_select, prefilter, solve
from planner.promote.scoring import SCALE, PromoteWeights, score_slots

__all__ = ["Promotion", "promote_slots"]

MAX_K = 10

Status = Literal["OPTIMAL", "FEASIBLE", "FALLBACK", "ALL"]


@dataclass(frozen=True, eq=False)
class Promotion:
    """The promoted slots of one invitation.

    Attributes
    ----------
    slots : pandas.DataFrame
        The chosen slots sorted by start, with the input's columns and index, plus ``score``,
        one column per score part (``PART_COLUMNS``, weighted points summing to ``score``) and
        ``reason``, a short human-readable explanation.
    status : {"OPTIMAL", "FEASIBLE", "FALLBACK", "ALL"}
        OPTIMAL or FEASIBLE: CP-SAT's answer (FEASIBLE: best found within the time limit).
        FALLBACK: CP-SAT found no solution in time (or none existed); the greedy answered.
        ALL: there were at most k slots, all are returned, no model was solved.
    solver_status : str or None
        CP-SAT's own status name; None when no model was solved.
    used_fallback : bool
        True when the greedy fallback chose the slots.
    objective : float
        Sum of the chosen slots' scores.
    message : str
        One sentence about how the answer was found.
    n_candidates : int
        Available slots given.
    n_modelled : int
        Candidates left after the pre-filter (the model's size).
    wall_time : float
        Seconds spent in CP-SAT (0 when it did not run).
    """

    slots: pd.DataFrame
    status: Status
    solver_status: str | None
    used_fallback: bool
    objective: float
    message: str
    n_candidates: int
    n_modelled: int
    wall_time: float

    def __repr__(self) -> str:
        starts = ", ".join(f"{t:%a %d %b %H:%M}" for t in self.slots["start"]) if "start" in self.slots else ""
        return (
            f"Promotion({len(self.slots)} of {self.n_candidates} slots, {self.status}, "
            f"objective {self.objective:.2f}: {starts} UTC)"
        )

    def _repr_html_(self) -> str:
        head = html.escape(
            f"{len(self.slots)} of {self.n_candidates} slots promoted ({self.status}); {self.message}"
        )
        rows = "".join(
            f"<tr><td>{t:%a %d %b %H:%M} UTC</td><td>{score:.2f}</td><td>{html.escape(str(reason))}</td></tr>"
            for t, score, reason in zip(
                self.slots.get("start", []), self.slots.get("score", []), self.slots.get("reason", []), strict=False
            )
        )
        return f"<p>{head}</p><table><tr><th>start</th><th>score</th><th>why</th></tr>{rows}</table>"


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise PlannerInputError(f"k={k!r} must be an int from 1 to {MAX_K}")


def promote_slots(
    slots: pd.DataFrame,
    context: PromoteContext,
    k: int = 5,
    *,
    weights: PromoteWeights | None = None,
    config: SolveConfig | None = None,
) -> Promotion:
    """Pick the k slots to promote in an invitation email.

    Parameters
    ----------
    slots : pandas.DataFrame
        Available slots of one invitation, as returned by ``planner.find_slots``: ``start``,
        ``end`` (tz-aware), ``members``, ``pool_members``, ``rooms``. Not modified.
    context : PromoteContext
        Zones, customer hours, now, meeting counts, room capacities, other invitations'
        promoted slots and busy blocks.
    k : int, default 5
        Slots to promote, 1 to 10.
    weights : PromoteWeights, optional
        Score weights; defaults to ``PromoteWeights()``.
    config : SolveConfig, optional
        CP-SAT time limit (default 1 s) and seed.

    Returns
    -------
    Promotion
        The chosen slots (all of them when there are at most k) with score, parts and reason,
        the status and whether the greedy fallback answered.

    Raises
    ------
    PlannerInputError
        If k is outside 1..10, a column is missing, a datetime is naive, a zone is unknown or
        another input is malformed.
    """
    _check_k(k)
    weights = weights if weights is not None else PromoteWeights()
    config = config if config is not None else SolveConfig()
    table = score_slots(slots, context, weights)
    n = len(table)
    if n <= k:
        out = _result_frame(slots, table, context, table)
        return Promotion(
            slots=out,
            status="ALL",
            solver_status=None,
            used_fallback=False,
            objective=float(table["points"].sum()) / SCALE,
            message=f"{n} available slot(s), at most k={k}: all are promoted",
            n_candidates=n,
            n_modelled=0,
            wall_time=0.0,
        )
    table = table.sort_values("start", kind="stable")
    cap = day_cap(table.groupby("local_day").size().to_numpy(), k)
    candidates = prefilter(table, k, cap)
    built = build_model(candidates, k, cap)
    outcome = solve(built, config)
    if outcome.positions is not None:
        chosen = built.table.iloc[list(outcome.positions)]
        status: Status = "OPTIMAL" if outcome.solver_status == "OPTIMAL" else "FEASIBLE"
        used_fallback = False
        message = f"CP-SAT {outcome.solver_status.lower()} over {len(candidates)} of {n} candidates" + (
            "" if status == "OPTIMAL" else f" (best found within {config.time_limit:g} s)"
        )
    else:
        positions, mixed = greedy_select(built.table, k, cap)
        chosen = built.table.iloc[list(positions)]
        status = "FALLBACK"
        used_fallback = True
        why = (
            f"no solution within the {config.time_limit:g} s time limit"
            if outcome.solver_status == "UNKNOWN"
            else f"CP-SAT status {outcome.solver_status}"
        )
        message = f"greedy fallback answered: {why}" + (
            "" if mixed else "; it could not mix morning and afternoon slots"
        )
    return Promotion(
        slots=_result_frame(slots, chosen, context, table),
        status=status,
        solver_status=outcome.solver_status,
        used_fallback=used_fallback,
        objective=float(chosen["points"].sum()) / SCALE,
        message=message,
        n_candidates=n,
        n_modelled=len(candidates),
        wall_time=outcome.wall_time,
    )
