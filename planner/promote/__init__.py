"""Promoted slots: pick the k best available slots of one invitation, and say why.

The invitation email lists a handful of times the customer can take with one click. This
package chooses them from the slots the engine found (the planner's slot DataFrame: ``start``,
``end``, ``members``, ``pool_members``, ``rooms``) with an OR-Tools CP-SAT model, scores each
chosen slot part by part and writes a short reason for it.

Modules
-------
Every name below is importable from ``planner.promote``.

:mod:`planner.promote.pipeline`
    The entry point :func:`promote_slots` and the :class:`Promotion` it returns; its docstring
    lists the steps.
:mod:`planner.promote.context`
    :class:`PromoteContext` (zones, customer hours, now, meeting counts, room capacities, other
    invitations' promoted slots, busy blocks) and the checks of the slot table and the context.
:mod:`planner.promote.scoring`
    :func:`score_slots` with :class:`PromoteWeights` and ``PART_COLUMNS``,
    :func:`local_time_quality` and :func:`contention_claims`; its docstring defines each score
    part.
:mod:`planner.promote.model`
    :func:`prefilter`, :func:`day_cap`, :func:`build_model` (:class:`PromoteModel`),
    :func:`solve` (:class:`SolveConfig`, :class:`SolveOutcome`) and :func:`greedy_select`; its
    docstring writes out the model, why the pre-filter keeps the optimum and what keeps the
    answer deterministic.
:mod:`planner.promote.explain`
    The result table and the reason for each promoted slot.
"""

from planner.promote.context import PromoteContext
from planner.promote.model import (
    PromoteModel,
    SolveConfig,
    SolveOutcome,
    build_model,
    day_cap,
    greedy_select,
    prefilter,
    solve,
)
from planner.promote.pipeline import Promotion, promote_slots
from planner.promote.scoring import (
    PART_COLUMNS,
    PromoteWeights,
    contention_claims,
    local_time_quality,
    score_slots,
)

__all__ = [
    "PART_COLUMNS",
    "PromoteContext",
    "PromoteModel",
    "PromoteWeights",
    "Promotion",
    "SolveConfig",
    "SolveOutcome",
    "build_model",
    "contention_claims",
    "day_cap",
    "greedy_select",
    "local_time_quality",
    "prefilter",
    "promote_slots",
    "score_slots",
    "solve",
]
