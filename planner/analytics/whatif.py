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

from planner.analytics.inputs import PlannerTables, _count, _request_tables, as_organisation
from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.synthetic import Organisation
from planner.zones import NS_PER_MINUTE, check_zone

__all__ = [
    "AddPoolMember",
    "AddRoom",
    "AlwaysFree",
    "ChangeRequest",
    "ExtendHours",
    "WhatIf",
    "apply_changes",
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
        raise PlannerInputError(f"unknown resource_id {resource_id!r}; it is not in the resources table")
    return rows.iloc[0]


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
    ``like`` (default: the request's first candidate room), unless ``hours`` (``weekday``,
    ``start``, ``end``) or ``zone`` are given.
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

    The new member has no busy time and the working hours and zone of ``like`` (default: the
    pool's first member), unless ``hours`` or ``zone`` are given.
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
        like = self.like or request.pools[self.pool][0]
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
        earlier, later = pd.Timedelta(self.earlier), pd.Timedelta(self.later)
        for label, value in (("earlier", earlier), ("later", later)):
            if value < pd.Timedelta(0) or value.value % NS_PER_MINUTE:
                raise PlannerInputError(f"ExtendHours.{label} must be whole minutes >= 0, got {value}")
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
    """Slot counts of one request before and after a scenario's changes."""

    before: int
    after: int

    @property
    def gained(self) -> int:
        """``after - before`` (negative when the scenario loses slots)."""
        return self.after - self.before


def apply_changes(
    org: PlannerTables, request: SlotRequest, changes: Sequence[Change]
) -> tuple[Organisation, SlotRequest]:
    """The tables and request after applying ``changes`` in order (inputs are not modified)."""
    tables = as_organisation(org)
    for change in changes:
        if not hasattr(change, "apply"):
            raise PlannerInputError(
                f"{change!r} is not a what-if change; use AddRoom, AddPoolMember, ExtendHours, ChangeRequest or AlwaysFree"
            )
        tables, request = change.apply(tables, request)
    return tables, request


# --- what-if ----------------------------------------------------------------------------------


def what_if(org: PlannerTables, request: SlotRequest, *changes: Change) -> WhatIf:
    """Slot count of ``request`` before and after ``changes`` (applied in order).

    Parameters
    ----------
    org : Organisation-like
        ``resources``, ``hours``, ``overrides``, ``busy`` tables.
    request : SlotRequest
    *changes : AddRoom, AddPoolMember, ExtendHours, ChangeRequest or AlwaysFree

    Returns
    -------
    WhatIf
        ``before``, ``after`` and ``gained`` (= after - before).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> from planner import SlotRequest, generate_organisation
    >>> org = generate_organisation(n_members=4, n_rooms=2, start_date=dt.date(2026, 10, 5), days=7, seed=1)
    >>> request = SlotRequest(members=("m0000",), duration=pd.Timedelta(minutes=60),
    ...                       frame_start=dt.date(2026, 10, 5), frame_end=dt.date(2026, 10, 9),
    ...                       zone="Europe/London", now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    >>> result = what_if(org, request, ChangeRequest(duration=pd.Timedelta(minutes=30)))
    >>> result.after > result.before
    True
    """
    tables = _request_tables(as_organisation(org), request)
    before = _count(tables, request)
    changed, changed_request = apply_changes(tables, request, changes)
    return WhatIf(before=before, after=_count(_request_tables(changed, changed_request), changed_request))


def what_if_table(
    org: PlannerTables, request: SlotRequest, scenarios: Mapping[str, Change | Sequence[Change]]
) -> pd.DataFrame:
    """Slot counts before and after each named scenario.

    Parameters
    ----------
    org : Organisation-like
    request : SlotRequest
    scenarios : mapping of str to a change or a sequence of changes
        E.g. ``{"one more room": AddRoom(capacity=8), "30-minute meetings":
        ChangeRequest(duration=pd.Timedelta(minutes=30))}``.

    Returns
    -------
    DataFrame
        ``scenario``, ``before``, ``after``, ``gained`` (ints), in the order given.

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
    >>> list(table["scenario"]), bool((table["gained"] >= 0).all())
    (['one more room', 'hours end 1 h later'], True)
    """
    tables = _request_tables(as_organisation(org), request)
    before = _count(tables, request)
    rows = []
    for name, changes in scenarios.items():
        changes = (changes,) if hasattr(changes, "apply") else tuple(changes)
        changed, changed_request = apply_changes(tables, request, changes)
        after = _count(_request_tables(changed, changed_request), changed_request)
        rows.append({"scenario": name, "before": before, "after": after, "gained": after - before})
    return pd.DataFrame(rows, columns=["scenario", "before", "after", "gained"])


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


def bottlenecks(org: PlannerTables, request: SlotRequest, *, keep_hours: bool = False) -> pd.DataFrame:
    """How many more slots each resource of the request would allow if it were always free.

    For every required member, pool member and candidate room ``r``, the slots are counted again
    with ``r`` always free (:class:`AlwaysFree`: no busy time, available around the clock);
    everything else stays as it is.

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
        ``resource_id``, ``name``, ``kind``, ``role`` ("required member", "pool" / "pool 2",
        "room"), ``slots`` (the real count, the same on every row), ``slots_if_free`` and
        ``gained`` (= slots_if_free - slots, >= 0), sorted by ``gained`` (largest first), then
        request order. The first row names the tightest bottleneck when its gain is positive;
        see :func:`bottleneck_summary` for a sentence.

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
    ['resource_id', 'name', 'kind', 'role', 'slots', 'slots_if_free', 'gained']
    >>> bool((table["gained"] >= 0).all())
    True
    """
    tables = _request_tables(as_organisation(org), request)
    base = _count(tables, request)
    roles = _roles(request)
    info = tables.resources.set_index(tables.resources["resource_id"].astype(str))
    rows = []
    for order, (rid, role) in enumerate(roles.items()):
        changed, _ = AlwaysFree(rid, keep_hours=keep_hours).apply(tables, request)
        free = _count(changed, request)
        rows.append(
            {
                "resource_id": rid,
                "name": info["name"].get(rid, rid) if "name" in info.columns else rid,
                "kind": info["kind"].get(rid, ""),
                "role": role,
                "slots": base,
                "slots_if_free": free,
                "gained": free - base,
                "_order": order,
            }
        )
    table = pd.DataFrame(
        rows, columns=["resource_id", "name", "kind", "role", "slots", "slots_if_free", "gained", "_order"]
    )
    table = table.sort_values(["gained", "_order"], ascending=[False, True], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


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
    """
    if table.empty:
        return "The request names no team member or room."
    base = int(table["slots"].iloc[0])
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
