"""Slotwise planner: availability grids and slot finding on numpy/pandas.

Pure computation: no database, web framework or UI imports. Inputs are plain
DataFrames and dataclasses, outputs DataFrames and dataclasses, so the same
functions serve the booking service, the dashboard and notebooks.

Input tables
------------
Resource ids are strings everywhere (``str(primary_key)``).

``resources``
    ``resource_id`` (str, unique), ``kind`` ("member" or "room"), ``zone``
    (IANA name: working/opening hours are wall clock there), ``capacity``
    (int: seats for rooms, 1 for members), optional ``name``/``email``.
``hours``
    Weekly hours: ``resource_id``, ``weekday`` (int, 0=Monday, the local
    weekday the window *starts* on), ``start``, ``end`` (int minutes after
    local midnight, ``0 <= start < 1440``, ``start < end <= start + 1440``;
    ``end > 1440`` crosses midnight). Several rows per day are allowed; no
    rows means never available.
``overrides`` (optional)
    ``resource_id``, ``date`` (datetime.date, local), ``start``/``end``
    (Int64 minutes, or both missing = unavailable that date). A date with any
    override row uses only its override rows.
``busy``
    ``resource_id``, ``start``, ``end`` (tz-aware datetime64, half-open),
    optional ``source`` ("calendar" or "reservation"). Reservations come
    already widened by their own meeting's buffers.

Wall clock: windows convert per local date; a nonexistent wall time (spring
forward) maps forward to the transition instant; an ambiguous one (fall back)
takes its first occurrence for starts and its second for ends, so 01:00-03:00
on a fall-back day is three real hours. (pandas' ``shift_forward`` lands half
an hour late on Australia/Lord_Howe's half-hour shift; the planner uses the
transition instant itself.)

Slot requests and slots
-----------------------
>>> import dataclasses, datetime as dt, pandas as pd
>>> import planner
>>> org = planner.generate_organisation(n_members=12, n_rooms=5, seed=1,
...     zones=("Europe/London", "America/New_York", "Asia/Kolkata"))
>>> request = planner.SlotRequest(
...     members=("m0000",), pools=(org.pool_members("p0"),), rooms=tuple(org.room_ids),
...     min_capacity=4, duration=pd.Timedelta(minutes=45),
...     buffer_before=pd.Timedelta(minutes=10), buffer_after=pd.Timedelta(minutes=5),
...     minimum_notice=pd.Timedelta(hours=4), interval=pd.Timedelta(minutes=15),
...     frame_start=dt.date(2026, 10, 19), frame_end=dt.date(2026, 10, 30),
...     zone="Europe/London", now=dt.datetime(2026, 10, 16, tzinfo=dt.timezone.utc))
>>> slots = planner.find_slots(request, org.resources, org.hours, org.busy, org.overrides)
>>> list(slots.columns)
['start', 'end', 'members', 'pool_members', 'rooms']
>>> planner.count_slots(request, org.resources, org.hours, org.busy, org.overrides) == len(slots)
True
>>> check = planner.check_slot(request, org.resources, org.hours, org.busy, org.overrides,
...                            start=slots["start"].iloc[0])
>>> check.available
True

``find_slots`` returns one row per available start, sorted: ``start``/``end``
(datetime64[ns, UTC]), ``members`` (the required members), ``pool_members``
(per pool, the members free for that slot) and ``rooms`` (candidate rooms
free and big enough). ``count_slots`` is the cheaper count. ``check_slot``
re-checks one start against the latest tables and says why it fails.

Organisation tables loaded once
-------------------------------
``find_slots`` reads the DataFrames it is given on every call, so it suits
tables that hold only the request's resources (the booking service loads
those). For a whole organisation, :class:`OrgTables` validates the tables
once and indexes every table by resource (busy blocks sorted by resource and
start, with offsets); its queries read only the request's rows, so their cost
does not grow with the organisation:

>>> org_tables = planner.OrgTables.load(org.resources, org.hours, org.busy, org.overrides)
>>> org_tables.find_slots(request)["start"].equals(slots["start"])
True
>>> org_tables.count_slots(request) == len(slots)
True
>>> org_tables.check_slot(request, start=slots["start"].iloc[0]).available
True

It is immutable: load it again when the data changes (or keep an
:class:`OrgGrid`, which takes updates).

Prebuilt organisation grid
--------------------------
:class:`OrgGrid` rasterizes every resource once over a horizon; queries for
one invitation then run on it, and busy blocks / reservations are added or
removed without a rebuild:

>>> grid = planner.OrgGrid.build(org.resources, org.hours, org.busy, org.overrides,
...     start=pd.Timestamp("2026-10-12", tz="UTC"), end=pd.Timestamp("2026-11-09", tz="UTC"))
>>> grid.count_slots(request) == len(slots)
True
>>> first = slots["start"].iloc[0]
>>> grid.add_busy("m0000", first, first + pd.Timedelta(minutes=45))  # e.g. a new reservation
>>> grid.count_slots(request) < len(slots)
True
>>> grid.remove_busy("m0000", first, first + pd.Timedelta(minutes=45))
>>> grid.count_slots(request) == len(slots)
True

``OrgGrid.from_tables(org_tables, start=..., end=...)`` builds it from loaded
tables; the build rasterizes ``chunk`` resources at a time (default 256)
straight into the layers, so its peak memory stays close to what the grid
keeps. Repeated request shapes (the dashboard's live count) are served from a
per-shape cache: for each meeting shape (duration and buffers) and resource,
the bit row of starts that are ok for that resource, computed once over the
horizon; a query then only ANDs and ORs its resources' rows with its
candidate starts. ``add_busy``/``remove_busy`` drop the changed resource's
cached rows, and the cache holds at most ``cache_bytes`` (default 64 MiB,
least recently used rows go first; ``grid.cache_nbytes`` says how much it
holds). Panels and limits (see *Team scheduling*) reuse the same
per-resource rows: a panel counts its members' rows bit by bit instead of
ORing them, and a limit masks its resource's row for the query; neither
changes what a cached row says.

The grid keeps two bit layers (in hours, busy) of 5-minute quanta, 64 per
word. A request whose duration, buffers or interval are not multiples of the
grid's quantum (a 7-minute buffer), or whose frame leaves the horizon, is
answered by the cold path on the grid's tables, so the answer is always
exact. The grid serves listing and counting; a booking re-checks its start
with :func:`check_slot` on freshly read data, never on a grid.

Engine in short: slot starts, durations and buffers fall on quantum
boundaries (the cold path picks the largest quantum <= 5 minutes dividing
them all), working hours are rounded inward and busy time outward to quanta,
so a slot is exact to the minute. "Free for the next d quanta" is a sliding
AND over bit rows by doubling; required members are evaluated first, pools
and rooms only on the words that still hold a surviving start.

Team scheduling
---------------
A pool may need several members (a panel): ``pool_k=(2,)`` makes a start
available when at least 2 of the pool's members are free, counted bit-parallel
over the members' rows (:func:`planner.teams.at_least`). A pool in strict
rotation (``pool_turns=(True,)``) lists its members in turn order and only the
first ``k`` who are on duty (in hours for some candidate start) count.
:class:`Limits` caps meetings and meeting minutes per local day and week of
each resource; ``find_slots``, ``count_slots``, ``check_slot`` and the
:class:`OrgTables` and :class:`OrgGrid` queries take it as ``limits=``:

>>> panel = dataclasses.replace(request, pool_k=(2,))
>>> limits = planner.Limits(
...     pd.DataFrame({"resource_id": ["m0000"], "max_meetings_day": [0]}))
>>> planner.count_slots(panel, org.resources, org.hours, org.busy, org.overrides,
...                     limits=limits)
0
>>> org_tables.count_slots(panel, limits=limits), grid.count_slots(panel, limits=limits)
(0, 0)

:mod:`planner.teams` also has the assignment policies (pooled, strict round
robin, weighted: :func:`planner.teams.choose`, with the sentence that explains
a choice) and the fairness view (:func:`planner.teams.fairness`,
:func:`planner.teams.fairness_over_time`: bookings per pool member against
their target share).

Availability grids for analysis
-------------------------------
:func:`build_grid` gives an :class:`AvailabilityGrid`: boolean ``in_hours``,
``busy`` and ``free`` arrays of shape (n_resources, n_quanta), a UTC
``index``, ``to_frame()`` (tidy) and ``pivot(resource_id)`` (local day x time
of day, for heatmaps).

Capacity analytics
------------------
:mod:`planner.analytics` answers capacity questions on the same grids and
slot counts (the notebooks and the dashboard's Capacity page call these):
:func:`utilization` (hours booked / busy / free / outside hours per resource
and local day or week), :func:`free_capacity` and :func:`pack_meetings` (how
many more meetings of a request fit per day, packed greedily),
:func:`bottlenecks` and :func:`bottleneck_summary` (slots gained if one
resource were always free), :func:`what_if` and :func:`what_if_table` with
the changes :class:`AddRoom`, :class:`AddPoolMember`, :class:`ExtendHours`,
:class:`ChangeRequest` and :class:`AlwaysFree`, :func:`contention` and
:func:`invitation_contention` (active invitations competing per
resource-hour), and :func:`availability_by_hour` / :func:`hours_by_hour` /
:func:`free_count_by_hour` for heatmaps (``hours_by_hour`` tells "outside hours"
from "fully busy"). :func:`capacity_overview` gives every member, room and pool
of the organisation per local day or week in one call. :func:`apply_changes`
returns the organisation and request a what-if describes, for any other
function; every what-if counts meetings that fit (packed) and slot starts.

Demand against supply
---------------------
On the invitation history table (one row per invitation and what became of it;
``booking_service.store.loader.load_invitation_history`` reads it):
:func:`invitation_flow` (created, booked, expired, cancelled per week),
:func:`time_to_booking`, :func:`lead_time`, :func:`booking_sources` (promoted
slots against "more times"), :func:`request_shapes`, :func:`weekly_supply`
(meetings of a shape that fit per week), :func:`forecast_demand` (the mean of
the last whole weeks, held flat: simple and stated) and
:func:`demand_vs_supply` (the weeks demand would exceed supply).
:func:`generate_invitation_history` makes a synthetic history to try them on.

Promoted slots
--------------
:func:`promote_slots` picks the k (default 5, 1 to 10) slots an invitation
email promotes, from ``find_slots``' table and a :class:`PromoteContext`
(zones, customer hours, now, meeting counts, room capacities, other
invitations' promoted slots, busy blocks), with an OR-Tools CP-SAT model
(deterministic, 1 s limit, greedy fallback). The :class:`Promotion` holds the
chosen rows with ``score``, one column per score part and a ``reason``, and
the solver status. :class:`PromoteWeights` names the weights;
:func:`contention_claims` turns one invitation's promoted slots into the
claims the next invitation's context lists. The model is written out in
:mod:`planner.promote.model`, the score parts in
:mod:`planner.promote.scoring`.

Charts
------
:mod:`planner.charts` holds what charts share: the colours of time (``COLORS``: booked, busy,
free, outside hours, fully busy, meetings, starts, demand, supply) that the dashboard and the
notebooks both use, and :func:`planner.charts.date_labels` (the year shown when a range
crosses one).

Errors
------
Every bad input raises :class:`PlannerInputError` (a ``ValueError``) naming
the value and what to change.

Synthetic data
--------------
:func:`generate_organisation` builds realistic tables (members in many zones,
rooms, pools, calendars), deterministic for a seed.
"""

from planner.analytics import (
    AddPoolMember,
    AddRoom,
    AlwaysFree,
    ChangeRequest,
    ExtendHours,
    WhatIf,
    apply_changes,
    availability_by_hour,
    booking_sources,
    bottleneck_summary,
    bottlenecks,
    capacity_overview,
    contention,
    demand_vs_supply,
    forecast_demand,
    free_capacity,
    free_count_by_hour,
    generate_invitation_history,
    hours_by_hour,
    invitation_contention,
    invitation_flow,
    invitation_requests,
    lead_time,
    pack_meetings,
    request_shapes,
    time_to_booking,
    utilization,
    weekly_supply,
    what_if,
    what_if_table,
)
from planner.availability import DEFAULT_QUANTUM, AvailabilityGrid, build_grid
from planner.errors import PlannerInputError
from planner.grid import OrgGrid
from planner.index import OrgTables
from planner.promote import (
    PromoteContext,
    PromoteWeights,
    Promotion,
    SolveConfig,
    contention_claims,
    promote_slots,
    score_slots,
)
from planner.request import SlotRequest
from planner.slots import SLOT_COLUMNS, SlotCheck, check_slot, count_slots, find_slots
from planner.synthetic import DEFAULT_ZONES, Organisation, generate_organisation
from planner.teams import Limits

__all__ = [
    "AddPoolMember",
    "AddRoom",
    "AlwaysFree",
    "ChangeRequest",
    "ExtendHours",
    "WhatIf",
    "availability_by_hour",
    "bottleneck_summary",
    "bottlenecks",
    "contention",
    "free_capacity",
    "free_count_by_hour",
    "invitation_contention",
    "invitation_requests",
    "pack_meetings",
    "utilization",
    "what_if",
    "what_if_table",
    "apply_changes",
    "booking_sources",
    "capacity_overview",
    "demand_vs_supply",
    "forecast_demand",
    "generate_invitation_history",
    "hours_by_hour",
    "invitation_flow",
    "lead_time",
    "request_shapes",
    "time_to_booking",
    "weekly_supply",
    "DEFAULT_QUANTUM",
    "DEFAULT_ZONES",
    "SLOT_COLUMNS",
    "AvailabilityGrid",
    "Organisation",
    "OrgGrid",
    "OrgTables",
    "PlannerInputError",
    "Limits",
    "SlotCheck",
    "SlotRequest",
    "build_grid",
    "check_slot",
    "count_slots",
    "find_slots",
    "generate_organisation",
    "PromoteContext",
    "PromoteWeights",
    "Promotion",
    "SolveConfig",
    "contention_claims",
    "promote_slots",
    "score_slots",
]
