"""What-if scenarios and bottlenecks: slot counts of a request before and after changes.

:func:`what_if` / :func:`what_if_table`
    Slot count before and after a list of changes (:class:`AddRoom`, :class:`AddPoolMember`,
    :class:`ExtendHours`, :class:`ChangeRequest`, :class:`AlwaysFree`), applied in order by
    :func:`apply_changes` to new tables and a new request; the inputs are not modified.
:func:`bottlenecks` (and :func:`bottleneck_summary`, one sentence)
    For each resource of a request, how many slots there would be if that resource were always
    free (no busy time, available around the clock; or, with ``keep_hours=True``, only its
    calendar emptied), and the gain over the real count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from planner.analytics.capacity import pack_meetings
from planner.analytics.inputs import PlannerTables, _count, _request_tables, as_organisation
from planner.errors import PlannerInputError
from planner.request import SlotRequest, _timedelta
from planner.synthetic import Organisation
from planner.zones import NS_PER_MINUTE, check_zone

__all__ = [
    "AddPoolMember",
    "AddRoom",
    "AlwaysFree",
    "ChangeRequest",
    "ExtendHours",
    "BOTTLENECK_COLUMNS",
    "WHAT_IF_COLUMNS",
    "WhatIf",
    "apply_changes",
    "main_zone",
    "bottleneck_summary",
    "bottlenecks",
    "what_if",
    "what_if_table",
]


# --- what-if changes ------------------------------------------------------------------------


def _new_id(tables: Organisation, wanted: str | None, stem: str) -> str:
    taken = set(tables.resources["resource_id"].astype(str))
    if wanted is not None:
        if wanted in taken:
            raise PlannerInputError(f"resource id {wanted!r} already exists; choose a new id")
        return wanted
    n = 1
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def _resource_row(tables: Organisation, resource_id: str) -> pd.Series:
    rows = tables.resources.loc[tables.resources["resource_id"] == resource_id]
    if rows.empty:
        raise PlannerInputError(
            f"unknown resource_id {resource_id!r}; it is not in the organisation's resources table "
            "(use one of its resource ids, e.g. from org.resources['resource_id'])"
        )
    return rows.iloc[0]


def main_zone(tables: PlannerTables) -> str | None:
    """The zone most team members work in (ties: the first by name); None without members."""
    resources = tables.resources
    zones = resources.loc[resources["kind"] == "member", "zone"].astype(str)
    if zones.empty:
        return None
    counts = zones.value_counts()
    return str(sorted(counts[counts == counts.max()].index)[0])


def _default_member(tables: Organisation, pool: tuple[str, ...]) -> str:
    """The pool's first member in the organisation's main zone, else its first member."""
    zone = main_zone(tables)
    zones = tables.resources.set_index(tables.resources["resource_id"].astype(str))["zone"]
    for member in pool:
        if zones.get(member) == zone:
            return member
    return pool[0]


def _copy_resource(
    tables: Organisation,
    like: str,
    new_id: str,
    *,
    kind: str,
    zone: str | None,
    capacity: int,
    name: str,
    hours: pd.DataFrame | None,
) -> Organisation:
    """``tables`` plus a new resource with ``like``'s zone and weekly hours and no busy time."""
    template = _resource_row(tables, like)
    zone = template["zone"] if zone is None else zone
    check_zone(zone, "zone")
    row = {c: template[c] for c in tables.resources.columns}
    row.update(resource_id=new_id, kind=kind, zone=zone, capacity=capacity)
    if "name" in row:
        row["name"] = name
    if "email" in row:
        row["email"] = None
    resources = pd.concat(
        [tables.resources, pd.DataFrame([row]).astype(tables.resources.dtypes.to_dict())], ignore_index=True
    )
    if hours is None:
        new_hours = tables.hours.loc[tables.hours["resource_id"] == like].assign(resource_id=new_id)
    else:
        new_hours = hours.assign(resource_id=new_id)[["resource_id", "weekday", "start", "end"]]
    all_hours = pd.concat([tables.hours, new_hours.astype(tables.hours.dtypes.to_dict())], ignore_index=True)
    return dataclasses.replace(tables, resources=resources, hours=all_hours)


@dataclasses.dataclass(frozen=True)
class AddRoom:
    """Add one more candidate room to the request.

    The new room has no busy time, ``capacity`` seats and the opening hours and zone of
    ``like`` (any room of the organisation; default: the request's first candidate room),
    unless ``hours`` (``weekday``, ``start``, ``end``) or ``zone`` are given.
    """

    capacity: int
    like: str | None = None
    zone: str | None = None
    hours: pd.DataFrame | None = None
    room_id: str | None = None

    def apply(self, tables: Organisation, request: SlotRequest) -> tuple[Organisation, SlotRequest]:
        """Return the changed tables and request."""
        like = self.like or (request.rooms[0] if request.rooms else None)
        if like is None:
            raise PlannerInputError(
                "AddRoom needs like=<an existing room id> when the request lists no rooms "
                "(a request without rooms needs no room; adding one cannot add slots)"
            )
        new_id = _new_id(tables, self.room_id, "new-room")
        tables = _copy_resource(
            tables,
            like,
            new_id,
            kind="room",
            zone=self.zone,
            capacity=int(self.capacity),
            name=f"New room ({self.capacity} seats)",
            hours=self.hours,
        )
        return tables, dataclasses.replace(request, rooms=(*request.rooms, new_id))


@dataclasses.dataclass(frozen=True)
class AddPoolMember:
    """Add one more member to pool number ``pool`` of the request (0 = its first pool).

    The new member has no busy time and the working hours and zone of ``like`` (any member of
    the organisation; default: the pool's first member in the organisation's main zone, the zone
    most team members work in, else the pool's first member), unless ``hours`` or ``zone`` are
    given.
    """

    pool: int = 0
    like: str | None = None
    zone: str | None = None
    hours: pd.DataFrame | None = None
    member_id: str | None = None

    def apply(self, tables: Organisation, request: SlotRequest) -> tuple[Organisation, SlotRequest]:
        """Return the changed tables and request."""
        if not 0 <= self.pool < len(request.pools):
            raise PlannerInputError(
                f"pool={self.pool} but the request has {len(request.pools)} pool(s); use 0..{len(request.pools) - 1}"
            )
        like = self.like or _default_member(tables, request.pools[self.pool])
        new_id = _new_id(tables, self.member_id, "new-member")
        tables = _copy_resource(
            tables,
            like,
            new_id,
            kind="member",
            zone=self.zone,
            capacity=1,
            name="New member",
            hours=self.hours,
        )
        pools = list(request.pools)
        pools[self.pool] = (*pools[self.pool], new_id)
        return tables, dataclasses.replace(request, pools=tuple(pools))


def _extend(frame: pd.DataFrame, ids: set[str], earlier: int, later: int) -> pd.DataFrame:
    sel = frame["resource_id"].isin(ids) & frame["start"].notna()
    if not sel.any():
        return frame
    out = frame.copy()
    start = out.loc[sel, "start"].astype("int64")
    end = out.loc[sel, "end"].astype("int64")
    # Intervals stay within one local day's row: starts not before midnight, at most 24 h long.
    new_start = (start - earlier).clip(lower=0)
    new_end = np.minimum(end + later, new_start + 1440)
    out.loc[sel, "start"] = new_start.to_numpy()
    out.loc[sel, "end"] = new_end.to_numpy()
    return out


@dataclasses.dataclass(frozen=True)
class ExtendHours:
    """Start every working/opening interval ``earlier`` and end it ``later``.

    Applies to the weekly hours and the dated overrides of ``resource_ids`` (default: every
    resource of the request). Starts are clamped at local midnight and intervals at 24 hours.
    """

    earlier: pd.Timedelta = pd.Timedelta(0)
    later: pd.Timedelta = pd.Timedelta(0)
    resource_ids: tuple[str, ...] | None = None

    def apply(self, tables: Organisation, request: SlotRequest) -> tuple[Organisation, SlotRequest]:
        """Return the changed tables and request."""
        earlier = _timedelta(self.earlier, "ExtendHours.earlier")
        later = _timedelta(self.later, "ExtendHours.later")
        ids = (
            set(self.resource_ids)
            if self.resource_ids is not None
            else {*request.all_members, *request.rooms}
        )
        e, lt = earlier.value // NS_PER_MINUTE, later.value // NS_PER_MINUTE
        return (
            dataclasses.replace(
                tables,
                hours=_extend(tables.hours, ids, e, lt),
                overrides=_extend(tables.overrides, ids, e, lt),
            ),
            request,
        )


@dataclasses.dataclass(frozen=True)
class ChangeRequest:
    """Change fields of the request (duration, interval, buffers, notice, capacity, frame)."""

    duration: pd.Timedelta | None = None
    interval: pd.Timedelta | None = None
    buffer_before: pd.Timedelta | None = None
    buffer_after: pd.Timedelta | None = None
    minimum_notice: pd.Timedelta | None = None
    min_capacity: int | None = None
    frame_start: dt.date | None = None
    frame_end: dt.date | None = None

    def apply(self, tables: Organisation, request: SlotRequest) -> tuple[Organisation, SlotRequest]:
        """Return the tables unchanged and the changed request (validated again)."""
        changes = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }
        return tables, dataclasses.replace(request, **changes)


@dataclasses.dataclass(frozen=True)
class AlwaysFree:
    """Make ``resource_id`` always free: no busy time and available around the clock every day.

    With ``keep_hours=True`` only its busy time (calendar and reservations) is cleared; its
    working/opening hours and dated overrides stay as they are ("what if their calendar were
    empty?").
    """

    resource_id: str
    keep_hours: bool = False

    def apply(self, tables: Organisation, request: SlotRequest) -> tuple[Organisation, SlotRequest]:
        """Return the changed tables and the request unchanged."""
        _resource_row(tables, self.resource_id)
        rid = self.resource_id
        busy = tables.busy.loc[tables.busy["resource_id"] != rid]
        if self.keep_hours:
            return dataclasses.replace(tables, busy=busy), request
        hours = tables.hours.loc[tables.hours["resource_id"] != rid]
        day = pd.DataFrame(
            {"resource_id": rid, "weekday": np.arange(7, dtype=np.int64), "start": 0, "end": 1440}
        )
        return (
            dataclasses.replace(
                tables,
                hours=pd.concat([hours, day.astype(tables.hours.dtypes.to_dict())], ignore_index=True),
                overrides=tables.overrides.loc[tables.overrides["resource_id"] != rid],
                busy=busy,
            ),
            request,
        )


Change = AddRoom | AddPoolMember | ExtendHours | ChangeRequest | AlwaysFree


@dataclasses.dataclass(frozen=True)
class WhatIf:
    """Meetings that fit and slot starts of one request, before and after a scenario's changes.

    ``meetings_*`` count the meetings that fit, packed earliest first without overlapping any
    member or room (:func:`planner.analytics.pack_meetings`): the number to plan with.
    ``starts_*`` count the available slot starts (:func:`planner.count_slots`), which move
    much more than the meetings (a 30-minute interval halves the starts but loses few meetings).
    """

    meetings_before: int
    meetings_after: int
    starts_before: int
    starts_after: int

    @property
    def meetings_gained(self) -> int:
        """``meetings_after - meetings_before`` (negative when the scenario loses meetings)."""
        return self.meetings_after - self.meetings_before

    @property
    def starts_gained(self) -> int:
        """``starts_after - starts_before``."""
        return self.starts_after - self.starts_before

    def __repr__(self) -> str:
        return (
            f"WhatIf(meetings {self.meetings_before} -> {self.meetings_after} ({self.meetings_gained:+d}), "
            f"starts {self.starts_before} -> {self.starts_after} ({self.starts_gained:+d}))"
        )

    def _repr_html_(self) -> str:
        return (
            "<table><tr><th></th><th>before</th><th>after</th><th>gained</th></tr>"
            f"<tr><th>meetings that fit</th><td>{self.meetings_before}</td><td>{self.meetings_after}</td>"
            f"<td>{self.meetings_gained:+d}</td></tr>"
            f"<tr><th>slot starts</th><td>{self.starts_before}</td><td>{self.starts_after}</td>"
            f"<td>{self.starts_gained:+d}</td></tr></table>"
        )


def _changes(changes: object) -> tuple[Change, ...]:
    if hasattr(changes, "apply"):
        return (changes,)  # type: ignore[return-value]
    if isinstance(changes, str) or not isinstance(changes, Sequence):
        raise PlannerInputError(
            f"{changes!r} is not a what-if change; use AddRoom, AddPoolMember, ExtendHours, "
            "ChangeRequest or AlwaysFree, or a list of them"
        )
    return tuple(changes)


def apply_changes(
    org: PlannerTables, request: SlotRequest, changes: Change | Sequence[Change]
) -> tuple[Organisation, SlotRequest]:
    """The organisation and request after applying ``changes`` in order.

    Public so that any planner function can run on the changed organisation: the result is an
    :class:`planner.Organisation` (the same four tables plus ``pools``) holding every resource
    of ``org``, so ``planner.utilization(changed, ...)``, ``planner.free_capacity(changed,
    changed_request)`` or ``planner.find_slots(changed_request, changed.resources, ...)`` work
    on it. The inputs are not modified.

    Parameters
    ----------
    org : Organisation-like
        ``resources``, ``hours``, ``overrides``, ``busy`` tables.
    request : SlotRequest
    changes : a change or a sequence of changes
        :class:`AddRoom`, :class:`AddPoolMember`, :class:`ExtendHours`,
        :class:`ChangeRequest`, :class:`AlwaysFree`; templates (``like=``) may be any resource
        of ``org``.

    Returns
    -------
    (Organisation, SlotRequest)

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation, utilization
    >>> org = generate_organisation(n_members=4, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=(), pools=(("m0000", "m0001"),), duration=pd.Timedelta(minutes=60),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 9),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> changed, changed_request = apply_changes(org, request, AddPoolMember(like="m0003"))
    >>> changed_request.pools
    (('m0000', 'm0001', 'new-member-1'),)
    >>> len(utilization(changed, dt.date(2026, 10, 5), dt.date(2026, 10, 9), resource_ids=["new-member-1"]))
    5
    """
    tables = as_organisation(org)
    if not isinstance(request, SlotRequest):
        raise PlannerInputError(f"request must be a planner.SlotRequest, got {type(request).__name__}")
    for change in _changes(changes):
        if not hasattr(change, "apply"):
            raise PlannerInputError(
                f"{change!r} is not a what-if change; use AddRoom, AddPoolMember, ExtendHours, ChangeRequest or AlwaysFree"
            )
        tables, request = change.apply(tables, request)
    return tables, request


# --- what-if ----------------------------------------------------------------------------------


def _measure(tables: Organisation, request: SlotRequest, meetings: bool) -> tuple[int, int]:
    """(meetings that fit, slot starts) of ``request`` on ``tables`` (restricted first)."""
    tables = _request_tables(tables, request)
    starts = _count(tables, request)
    if not meetings:
        return -1, starts
    return (len(pack_meetings(tables, request)) if starts else 0), starts


def what_if(org: PlannerTables, request: SlotRequest, *changes: Change, meetings: bool = True) -> WhatIf:
    """Meetings that fit and slot starts of ``request`` before and after ``changes`` (in order).

    Parameters
    ----------
    org : Organisation-like
        ``resources``, ``hours``, ``overrides``, ``busy`` tables.
    request : SlotRequest
    *changes : AddRoom, AddPoolMember, ExtendHours, ChangeRequest or AlwaysFree
        Templates (``like=``) may be any resource of ``org``, in the request or not.
    meetings : bool
        Also pack meetings (default). False counts only slot starts (faster);
        ``meetings_before``/``meetings_after`` are then -1.

    Returns
    -------
    WhatIf
        ``meetings_before``, ``meetings_after``, ``meetings_gained`` and ``starts_before``,
        ``starts_after``, ``starts_gained``.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=("m0000",), duration=pd.Timedelta(minutes=60),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 9),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> result = what_if(org, request, ChangeRequest(duration=pd.Timedelta(minutes=30)))
    >>> result.meetings_after > result.meetings_before, result.starts_after > result.starts_before
    (True, True)
    """
    tables = as_organisation(org)
    m0, s0 = _measure(tables, request, meetings)
    changed, changed_request = apply_changes(tables, request, changes)
    m1, s1 = _measure(changed, changed_request, meetings)
    return WhatIf(meetings_before=m0, meetings_after=m1, starts_before=s0, starts_after=s1)


WHAT_IF_COLUMNS = [
    "scenario", "meetings_before", "meetings_after", "meetings_gained", "starts_before", "starts_after",
    "starts_gained",
]


def what_if_table(
    org: PlannerTables,
    request: SlotRequest,
    scenarios: Mapping[str, Change | Sequence[Change]],
    *,
    meetings: bool = True,
) -> pd.DataFrame:
    """Meetings that fit and slot starts before and after each named scenario.

    Parameters
    ----------
    org : Organisation-like
    request : SlotRequest
    scenarios : mapping of str to a change or a sequence of changes
        E.g. ``{"one more room": AddRoom(capacity=8), "30-minute meetings":
        ChangeRequest(duration=pd.Timedelta(minutes=30))}``.
    meetings : bool
        Also pack meetings (default); False leaves the meetings columns at -1.

    Returns
    -------
    DataFrame
        ``scenario``, ``meetings_before``, ``meetings_after``, ``meetings_gained``,
        ``starts_before``, ``starts_after``, ``starts_gained`` (ints), in the order given.
        Meetings come first: they are what the organisation can take; starts are how many
        times a customer could pick from.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation
    >>> org = generate_organisation(n_members=6, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=(), pools=(org.pool_members("p0"),), rooms=tuple(org.room_ids),
    ...                       min_capacity=4, duration=pd.Timedelta(minutes=60),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 9),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> table = what_if_table(org, request, {"one more room": AddRoom(capacity=8),
    ...                                       "hours end 1 h later": ExtendHours(later=pd.Timedelta(hours=1))})
    >>> list(table["scenario"]), bool((table["starts_gained"] >= 0).all())
    (['one more room', 'hours end 1 h later'], True)
    """
    if not isinstance(scenarios, Mapping):
        raise PlannerInputError(
            f"scenarios must be a dict of name -> change(s), got {type(scenarios).__name__}"
        )
    tables = as_organisation(org)
    m0, s0 = _measure(tables, request, meetings)
    rows = []
    for name, changes in scenarios.items():
        changed, changed_request = apply_changes(tables, request, _changes(changes))
        m1, s1 = _measure(changed, changed_request, meetings)
        rows.append([name, m0, m1, m1 - m0 if meetings else 0, s0, s1, s1 - s0])
    return pd.DataFrame(rows, columns=WHAT_IF_COLUMNS).astype({c: "int64" for c in WHAT_IF_COLUMNS[1:]})


# --- bottlenecks --------------------------------------------------------------------------------


def _roles(request: SlotRequest) -> dict[str, str]:
    """Each resource of the request and the part it plays (first part when several)."""
    roles: dict[str, str] = {}
    for member in request.members:
        roles.setdefault(member, "required member")
    for i, pool in enumerate(request.pools):
        for member in pool:
            roles.setdefault(member, f"pool {i + 1}" if len(request.pools) > 1 else "pool")
    for room in request.rooms:
        roles.setdefault(room, "room")
    return roles


BOTTLENECK_COLUMNS = [
    "resource_id", "name", "kind", "role", "size", "slots", "slots_if_free", "gained", "one_more",
]


def _busiest(tables: Organisation, request: SlotRequest, pool: tuple[str, ...]) -> str:
    """The pool member with the most busy time within the request's frame (ties: pool order)."""
    lo, hi = request.frame
    busy = tables.busy.loc[tables.busy["resource_id"].isin(pool)]
    length = (busy["end"].clip(upper=hi) - busy["start"].clip(lower=lo)).clip(lower=pd.Timedelta(0))
    per_member = length.groupby(busy["resource_id"].astype(str)).sum()
    return max(pool, key=lambda m: (per_member.get(m, pd.Timedelta(0)), -pool.index(m)))


def bottlenecks(org: PlannerTables, request: SlotRequest, *, keep_hours: bool = False) -> pd.DataFrame:
    """How many more slots each resource of the request would allow if it were always free.

    For every required member, pool member and candidate room ``r``, the slots are counted again
    with ``r`` always free (:class:`AlwaysFree`: no busy time, available around the clock);
    everything else stays as it is. When every member of a pool gains the same (freeing any one
    of them changes the same, often nothing), the pool itself is the bottleneck: its members
    become one row of kind ``"pool"`` with the pool's ``size`` and ``one_more``, the slots
    gained by one more member like its busiest one (:class:`AddPoolMember`).

    Parameters
    ----------
    org : Organisation-like
    request : SlotRequest
    keep_hours : bool
        Clear only each resource's busy time and keep its working/opening hours: "how many more
        slots if this calendar were empty". Default: free around the clock.

    Returns
    -------
    DataFrame
        ``resource_id`` (for a pool row: its busiest member), ``name`` (for a pool row: "pool"
        or "pool 2" and its members' names), ``kind`` ("member", "room" or "pool"), ``role``
        ("required member", "pool" / "pool 2", "room"), ``size`` (1, or the pool's member
        count), ``slots`` (the real count, the same on every row), ``slots_if_free``,
        ``gained`` (= slots_if_free - slots, >= 0) and ``one_more`` (pool rows: slots gained
        with one more member like the busiest; else 0), sorted by the larger of ``gained`` and
        ``one_more`` (largest first), then request order. See :func:`bottleneck_summary` for a
        sentence.

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=("m0000", "m0001"), duration=pd.Timedelta(minutes=60),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 9),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> table = bottlenecks(org, request)
    >>> list(table.columns)
    ['resource_id', 'name', 'kind', 'role', 'size', 'slots', 'slots_if_free', 'gained', 'one_more']
    >>> bool((table["gained"] >= 0).all())
    True
    """
    if not isinstance(request, SlotRequest):
        raise PlannerInputError(f"request must be a planner.SlotRequest, got {type(request).__name__}")
    tables = _request_tables(as_organisation(org), request)
    base = _count(tables, request)
    roles = _roles(request)
    info = tables.resources.set_index(tables.resources["resource_id"].astype(str))

    def name_of(rid: str) -> str:
        return str(info["name"].get(rid, rid)) if "name" in info.columns else rid

    gains: dict[str, int] = {}
    for rid in roles:
        changed, _ = AlwaysFree(rid, keep_hours=keep_hours).apply(tables, request)
        gains[rid] = _count(changed, request) - base
    rows = []
    pooled: set[str] = set()
    for i, pool in enumerate(request.pools):
        own = [m for m in pool if roles.get(m, "").startswith("pool")]
        if len(own) < 2 or len({gains[m] for m in own}) != 1:
            continue
        busiest = _busiest(tables, request, pool)
        grown_tables, grown = AddPoolMember(pool=i, like=busiest).apply(tables, request)
        one_more = _count(grown_tables, grown) - base
        role = roles[own[0]]
        rows.append(
            {
                "resource_id": busiest,
                "name": f"{role} ({', '.join(name_of(m) for m in pool)})",
                "kind": "pool",
                "role": role,
                "size": len(pool),
                "slots": base,
                "slots_if_free": base + gains[own[0]],
                "gained": gains[own[0]],
                "one_more": one_more,
                "_order": list(roles).index(own[0]),
            }
        )
        pooled.update(own)
    for order, (rid, role) in enumerate(roles.items()):
        if rid in pooled:
            continue
        rows.append(
            {
                "resource_id": rid,
                "name": name_of(rid),
                "kind": info["kind"].get(rid, ""),
                "role": role,
                "size": 1,
                "slots": base,
                "slots_if_free": base + gains[rid],
                "gained": gains[rid],
                "one_more": 0,
                "_order": order,
            }
        )
    table = pd.DataFrame(rows, columns=[*BOTTLENECK_COLUMNS, "_order"])
    table["_best"] = table[["gained", "one_more"]].max(axis=1) if len(table) else []
    table = table.sort_values(["_best", "_order"], ascending=[False, True], kind="stable")
    return table.drop(columns=["_order", "_best"]).reset_index(drop=True).astype(
        {c: "int64" for c in ("size", "slots", "slots_if_free", "gained", "one_more")}
    )


def bottleneck_summary(table: pd.DataFrame, *, keep_hours: bool = False) -> str:
    """One sentence naming what limits a request, from :func:`bottlenecks`' table.

    Pass the same ``keep_hours`` as to :func:`bottlenecks` so that the sentence says what was
    freed ("always free" or "with an empty calendar").

    Examples
    --------
    >>> table = pd.DataFrame({"resource_id": ["7", "9"], "name": ["Ada Okafor", "Blue room"],
    ...                       "kind": ["member", "room"], "role": ["required member", "room"],
    ...                       "slots": [0, 0], "slots_if_free": [12, 0], "gained": [12, 0]})
    >>> bottleneck_summary(table)
    'Ada Okafor (required member) limits this request most: always free, there would be 12 slots instead of 0.'
    >>> pool = pd.DataFrame({"resource_id": ["7"], "name": ["pool (Ada, Bo, Cy)"], "kind": ["pool"],
    ...                      "role": ["pool"], "size": [3], "slots": [10], "slots_if_free": [10],
    ...                      "gained": [0], "one_more": [6]})
    >>> bottleneck_summary(pool)
    'The pool (3 members, Ada, Bo, Cy) is the bottleneck: freeing any one member changes the same (+0 slots); one more member like the busiest would give 16 slots instead of 10.'
    """
    if table.empty:
        return "The request names no team member or room."
    base = int(table["slots"].iloc[0])
    one_more = table["one_more"] if "one_more" in table.columns else pd.Series(0, index=table.index)
    first = table.iloc[0]
    if "kind" in table.columns and first["kind"] == "pool" and max(int(first["gained"]), int(one_more.iloc[0])) > 0:
        members = str(first["name"]).partition("(")[2].rstrip(")")
        return (
            f"The {first['role']} ({int(first['size'])} members, {members}) is the bottleneck: freeing "
            f"any one member changes the same ({int(first['gained']):+d} slots); one more member like "
            f"the busiest would give {base + int(one_more.iloc[0])} slots instead of {base}."
        )
    best = int(table["gained"].max())
    if best <= 0:
        return (
            f"No single team member or room limits this request ({base} slots): freeing any one of "
            "them adds no slot. Several are busy at the same times, or the frame, the notice or the "
            "working hours of the others leave no room."
        )
    top = table.loc[table["gained"] == best]
    names = [f"{r.name} ({r.role})" for r in top.itertuples()]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "limits" if len(names) == 1 else "each limit"
    after = base + best
    freed = "with an empty calendar" if keep_hours else "always free"
    return f"{who} {verb} this request most: {freed}, there would be {after} slots instead of {base}."
