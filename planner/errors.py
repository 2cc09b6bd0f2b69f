"""The one exception the planner raises for bad inputs.

Every input check in :mod:`planner` raises :class:`PlannerInputError`, a
:class:`ValueError` subclass, with a message that names the bad value and says
what to change. Callers (the booking service, the dashboard, notebooks) catch
this one class to turn a bad request into a readable message.
"""

from __future__ import annotations

__all__ = ["PlannerInputError"]


class PlannerInputError(ValueError):
    """An input to the planner is invalid (unknown zone, naive datetime, ...).

    The message names the offending value and what to do about it.
    """
