"""Team scheduling: panels (k of n), strict rotation, per-person limits, assignment policies, fairness.

Pure computation like the rest of :mod:`planner`:

- :mod:`planner.teams.panels`: "at least k of these members are free", word-parallel;
- :mod:`planner.teams.turns`: whose turn it is in a strictly rotating pool;
- :mod:`planner.teams.limits`: :class:`Limits`, meetings and meeting hours per local day and week;
- :mod:`planner.teams.policy`: which free members a booking takes (pooled, strict round robin,
  weighted), with the sentence that explains it;
- :mod:`planner.teams.fairness`: bookings per pool member against their target share over time.
"""

from planner.teams.fairness import FAIRNESS_COLUMNS, fairness, fairness_over_time
from planner.teams.limits import LIMIT_COLUMNS, Limits, empty_limits, empty_meetings
from planner.teams.panels import at_least
from planner.teams.policy import POLICIES, POLICY_NAMES, Choice, PoolState, choose, share_sentence, turn_order
from planner.teams.turns import on_duty, resolve_turns

__all__ = [
    "FAIRNESS_COLUMNS",
    "POLICIES",
    "POLICY_NAMES",
    "Choice",
    "PoolState",
    "choose",
    "fairness",
    "fairness_over_time",
    "share_sentence",
    "turn_order",
    "LIMIT_COLUMNS",
    "Limits",
    "at_least",
    "empty_limits",
    "empty_meetings",
    "on_duty",
    "resolve_turns",
]
