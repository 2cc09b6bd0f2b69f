"""Promoted slots: pick the k best available slots of one invitation (see :mod:`planner.promote.scoring`)."""

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
