"""Why a request has no slot, in plain words: the cause a scheduler can act on, first.

:func:`why_no_slots` asks the engine itself a few narrower questions (the same request with
calendars emptied, without the minimum notice, one member at a time, without rooms) and turns
the first one that still finds nothing into a sentence such as "Nobody on this team works on
Saturdays and Sundays (Europe/London)." No slot rule is implemented here: every answer is a
count by :func:`planner.count_slots`. :func:`planner.analytics.bottlenecks` gives the technical
breakdown that a page may show after it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import pandas as pd

from planner.analytics.inputs import PlannerTables, _count, _request_tables, as_organisation
from planner.request import SlotRequest

__all__ = ["why_no_slots"]

_DAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def _and(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _minutes(value: pd.Timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minutes"


def _frame_weekdays(request: SlotRequest) -> list[int]:
    days = pd.date_range(request.frame_start, request.frame_end, freq="D")
    return sorted({d.weekday() for d in days})


def _clock(value: int) -> str:
    """Minutes after local midnight (the hours table's unit) as ``"09:00"``."""
    minutes = int(value)
    day, minute = divmod(minutes, 1440)
    text = f"{minute // 60:02d}:{minute % 60:02d}"
    return text if not day else ("24:00" if minute == 0 and day == 1 else f"{text} (next day)")


def why_no_slots(org: PlannerTables, request: SlotRequest) -> list[str]:
    """Plain sentences saying why ``request`` has no available slot; empty when it has some.

    The first sentence names the cause a scheduler can act on (nobody works on those days, a
    member works no hours then, their hours do not overlap, no room is open, the notice is
    longer than the frame, or the calendars are full); later ones add detail.

    Parameters
    ----------
    org : Organisation-like
        The planner's input tables (``resources`` with ``name``, ``kind``, ``zone``; ``hours``,
        ``overrides``, ``busy``).
    request : SlotRequest

    Returns
    -------
    list of str

    Examples
    --------
    >>> import datetime as dt, types, pandas as pd
    >>> from planner import SlotRequest
    >>> resources = pd.DataFrame({"resource_id": ["a"], "name": ["Ada"], "kind": ["member"],
    ...                           "zone": ["Europe/London"], "capacity": [1]})
    >>> hours = pd.DataFrame({"resource_id": ["a"] * 5, "weekday": range(5),
    ...                       "start": [540] * 5, "end": [1020] * 5})
    >>> empty = pd.DataFrame({"resource_id": [], "date": [], "start": [], "end": []})
    >>> busy = pd.DataFrame({"resource_id": pd.Series([], dtype=object),
    ...                      "start": pd.Series([], dtype="datetime64[ns, UTC]"),
    ...                      "end": pd.Series([], dtype="datetime64[ns, UTC]")})
    >>> org = types.SimpleNamespace(resources=resources, hours=hours, overrides=empty, busy=busy)
    >>> weekend = SlotRequest(members=("a",), duration=pd.Timedelta(minutes=30),
    ...                       frame_start=dt.date(2026, 12, 12), frame_end=dt.date(2026, 12, 13),
    ...                       zone="Europe/London", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    >>> why_no_slots(org, weekend)[0]
    'Ada does not work on Saturdays and Sundays (Europe/London).'
    """
    tables = _request_tables(as_organisation(org), request)
    if _count(tables, request) > 0:
        return []
    resources = tables.resources.set_index(tables.resources["resource_id"].astype(str))

    def name(rid: str) -> str:
        return str(resources["name"].get(rid, rid)) if "name" in resources.columns else rid

    def zone(rid: str) -> str:
        return str(resources["zone"].get(rid, request.zone))

    free = dataclasses.replace(tables, busy=tables.busy.iloc[0:0])
    start = dt.datetime.combine(request.frame_start, dt.time(), ZoneInfo(request.zone))
    no_notice = dataclasses.replace(
        request, now=start - request.minimum_notice - request.buffer_before - dt.timedelta(days=1)
    )
    if _count(free, no_notice) == 0:
        return _hours_reasons(free, no_notice, request, name, zone)
    if _count(free, request) == 0:
        earliest = pd.Timestamp(request.now + request.minimum_notice).tz_convert(request.zone)
        return [
            f"The minimum notice of {_minutes(request.minimum_notice)} leaves no working time in this frame: "
            f"the earliest start is {earliest:%a %d %b %H:%M} ({request.zone}). Lower the notice or move the "
            "frame later."
        ]
    members = list(dict.fromkeys(request.all_members))
    if len(members) == 1:
        return [
            f"{name(members[0])} works at these times, but their calendar is full: every time they work is "
            "already taken by a meeting or busy time. Widen the frame or free some time."
        ]
    return [
        f"{_and(name(m) for m in members) or 'The rooms'} work at these times, but their calendars are full: every "
        "time they all work is already taken by a meeting or busy time. Widen the frame or free some time."
    ]


def _hours_reasons(free, request: SlotRequest, original: SlotRequest, name, zone) -> list[str]:
    """With empty calendars and no notice there is still no slot: the hours, days or rooms say why."""
    weekdays = _frame_weekdays(original)
    hours = free.hours
    worked = {str(rid): set(group["weekday"].astype(int)) for rid, group in hours.groupby(hours["resource_id"].astype(str))}

    def alone(member: str) -> int:
        return _count(
            free,
            dataclasses.replace(request, members=(member,), pools=(), pool_k=(), pool_turns=(), rooms=()),
        )

    people = list(dict.fromkeys([*request.members, *(m for pool in request.pools for m in pool)]))
    idle = [m for m in people if alone(m) == 0]
    reasons: list[str] = []
    off_days = [m for m in idle if not worked.get(str(m), set()) & set(weekdays)]
    if people and len(off_days) == len(people):
        zones = sorted({zone(m) for m in people})
        days = _and(_DAYS[d] for d in weekdays)
        who = "Nobody on this team works" if len(people) > 1 else f"{name(people[0])} does not work"
        reasons.append(f"{who} on {days} ({', '.join(zones)}).")
    else:
        for m in idle:
            days = worked.get(str(m), set())
            if not days:
                reasons.append(f"{name(m)} has no working hours set ({zone(m)}): add them under Team and rooms.")
            elif not days & set(weekdays):
                reasons.append(f"{name(m)} does not work on {_and(_DAYS[d] for d in weekdays)} ({zone(m)}).")
            else:
                reasons.append(
                    f"{name(m)} has no stretch of {_minutes(original.duration)} of working time in this frame "
                    f"({zone(m)}): their hours are shorter than the meeting, or they are off on these dates."
                )
        for i, pool in enumerate(request.pools):
            # A panel needs pool_k[i] of its members: fewer who work in the frame block it.
            working, k = sum(m not in idle for m in pool), request.pool_k[i]
            if not pool or working >= k:
                continue
            label = "the pool" if len(request.pools) == 1 else f"pool {i + 1}"
            who = f"{label} ({_and(name(m) for m in pool)})"
            if working == 0:
                reasons.append(f"Nobody in {who} works in this frame.")
            else:
                verb = "works" if working == 1 else "work"
                reasons.append(f"Only {working} of {who} {verb} in this frame; {k} are needed.")
    if reasons:
        return reasons
    without_rooms = dataclasses.replace(request, rooms=())
    if request.rooms and _count(free, without_rooms) > 0:
        return [
            f"No listed room with at least {request.min_capacity} seats is open when the team works: "
            f"{_and(name(r) for r in request.rooms)}. Pick another room or fewer seats."
        ]
    if len(request.members) > 1:
        day = weekdays[0]
        spans = []
        for m in request.members:
            rows = hours.loc[(hours["resource_id"].astype(str) == str(m)) & (hours["weekday"] == day)]
            text = ", ".join(f"{_clock(r.start)}-{_clock(r.end)}" for r in rows.itertuples()) or "off"
            spans.append(f"{name(m)} {text} ({zone(m)})")
        return [
            f"The team's working hours do not overlap by {_minutes(original.duration)}: on "
            f"{_DAYS[day]} {_and(spans)}. A pool instead of one of them, or a shorter meeting, may help."
        ]
    return [f"No {_minutes(original.duration)} stretch of working time fits in this frame."]
