"""Capacity analytics on the engine's grids and tables: utilization, free capacity, bottlenecks,
what-if scenarios and contention between invitations.

These are the functions behind the analysts' notebooks and the dashboard's Capacity page. They
take the planner's input tables (any object with ``resources``, ``hours``, ``overrides`` and
``busy`` DataFrames, such as :class:`planner.Organisation` or the database loader's
``OrganisationData``) and :class:`planner.SlotRequest` objects, and they count slots with the
engine itself (:func:`planner.count_slots`, :func:`planner.find_slots`,
:class:`planner.OrgGrid`): no slot rule is implemented twice. Inputs are never modified.

Modules
-------
Every name below is importable from ``planner.analytics``; each module's docstring says what its
functions count.

:mod:`planner.analytics.usage`
    :func:`utilization` (hours booked / busy / free / outside per resource and local day or
    week) and :func:`partition_hours` under it; :func:`capacity_overview` (every member, room
    and pool of the organisation in one call); the heatmap tables :func:`availability_by_hour`
    and :func:`free_count_by_hour`.
:mod:`planner.analytics.capacity`
    :func:`free_capacity` and :func:`pack_meetings`: how many more meetings of a request fit.
:mod:`planner.analytics.whatif`
    :func:`what_if` and :func:`what_if_table` with the changes :class:`AddRoom`,
    :class:`AddPoolMember`, :class:`ExtendHours`, :class:`ChangeRequest` and
    :class:`AlwaysFree` (:func:`apply_changes`); :func:`bottlenecks` and
    :func:`bottleneck_summary`.
:mod:`planner.analytics.demand`
    Demand against supply on the invitation history table: :func:`invitation_flow` (created,
    booked, expired, cancelled per week), :func:`time_to_booking`, :func:`lead_time`,
    :func:`booking_sources` (promoted against "more times"), :func:`request_shapes`,
    :func:`weekly_supply` (meetings that fit per week), :func:`forecast_demand` (stated: mean
    of the last weeks, flat) and :func:`demand_vs_supply` (the weeks demand would exceed supply).
:mod:`planner.analytics.explain`
    :func:`why_no_slots`: why a request has no slot, in plain words, from narrower counts.
:mod:`planner.analytics.invitations`
    :func:`contention` and :func:`invitation_contention` (active invitations competing per
    resource-hour); :func:`invitation_requests`.
:mod:`planner.analytics.inputs`
    :class:`PlannerTables` and :func:`as_organisation`, and the counting helpers the others
    share.

``usage`` and ``invitations`` are not named after their main functions so that
``planner.analytics.utilization`` and ``planner.analytics.contention`` stay the functions.
"""

from planner.analytics.capacity import free_capacity, pack_meetings
from planner.analytics.demand import (
    booking_sources,
    demand_vs_supply,
    forecast_demand,
    generate_invitation_history,
    invitation_flow,
    lead_time,
    request_shapes,
    shape_request,
    time_to_booking,
    weekly_supply,
)
from planner.analytics.explain import why_no_slots
from planner.analytics.inputs import PlannerTables, as_organisation
from planner.analytics.invitations import contention, invitation_contention, invitation_requests
from planner.analytics.usage import (
    availability_by_hour,
    capacity_overview,
    free_count_by_hour,
    hours_by_hour,
    partition_hours,
    utilization,
)
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
    "booking_sources",
    "demand_vs_supply",
    "forecast_demand",
    "generate_invitation_history",
    "invitation_flow",
    "lead_time",
    "request_shapes",
    "shape_request",
    "time_to_booking",
    "weekly_supply",
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
    "capacity_overview",
    "hours_by_hour",
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
    "why_no_slots",
]
