"""Capacity analytics on the engine's grids and tables (see :mod:`planner.analytics.whatif`)."""

from planner.analytics.capacity import free_capacity, pack_meetings
from planner.analytics.inputs import PlannerTables, as_organisation
from planner.analytics.invitations import contention, invitation_contention, invitation_requests
from planner.analytics.usage import availability_by_hour, free_count_by_hour, partition_hours, utilization
from planner.analytics.whatif import (
    AddPoolMember,
    AddRoom,
    AlwaysFree,
    ChangeRequest,
    ExtendHours,
    WhatIf,
    apply_changes,
    bottleneck_summary,
    bottlenecks,
    what_if,
    what_if_table,
)

__all__ = [
    "AddPoolMember",
    "AddRoom",
    "AlwaysFree",
    "ChangeRequest",
    "ExtendHours",
    "PlannerTables",
    "WhatIf",
    "apply_changes",
    "as_organisation",
    "availability_by_hour",
    "bottleneck_summary",
    "bottlenecks",
    "contention",
    "free_capacity",
    "free_count_by_hour",
    "invitation_contention",
    "invitation_requests",
    "pack_meetings",
    "partition_hours",
    "utilization",
    "what_if",
    "what_if_table",
]
