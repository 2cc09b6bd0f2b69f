"""Slotwise planner: availability grids and slot finding on numpy/pandas.

(API documentation is completed below as the engine lands.)
"""

from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.synthetic import DEFAULT_ZONES, Organisation, generate_organisation

__all__ = [
    "DEFAULT_ZONES",
    "Organisation",
    "PlannerInputError",
    "SlotRequest",
    "generate_organisation",
]
