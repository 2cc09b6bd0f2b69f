"""Demand against supply: what customers asked for, how they booked, and whether it still fits.

Everything here reads one plain table, the *invitation history* (one row per invitation; the
database loader ``booking_service.store.loader.load_invitation_history`` builds it, and
:func:`generate_invitation_history` makes a synthetic one):

``invitation_id``
    Any hashable id.
``created_at``
    When the invitation was sent (tz-aware datetime64).
``status``
    ``"active"``, ``"scheduled"``, ``"cancelled"`` or ``"expired"``.
``booked_at``, ``meeting_start``
    When the customer booked (the meeting was made) and when the meeting starts (NaT when not
    booked).
``cancelled_at``, ``expired_at``
    When the invitation or its meeting was cancelled (status ``"cancelled"``), when its frame
    ended unbooked (status ``"expired"``); NaT otherwise.
``booked_from``
    ``"promoted"`` (the customer booked one of the slots the email promoted), ``"more times"``
    (a time from the full list, although slots were promoted), ``"not promoted"`` (the
    invitation promoted no slot) or missing (not booked; or moved since, so the first pick is
    unknown).
``members``, ``pools``, ``rooms``, ``min_capacity``, ``duration_minutes``,
``buffer_before_minutes``, ``buffer_after_minutes``, ``slot_interval_minutes``, ``zone``
    The request shape, as in ``load_invitations`` (tuples of str resource ids).

Functions
---------
:func:`invitation_flow`
    Invitations created, booked, expired and cancelled per local week.
:func:`time_to_booking`, :func:`lead_time`
    Distributions: invitation to booking, booking to meeting.
:func:`booking_sources`
    Share booked from promoted slots against "more times".
:func:`request_shapes`, :func:`shape_request`
    The organisation's common request shapes, and one shape as a :class:`planner.SlotRequest`.
:func:`weekly_supply`
    Meetings that fit per week for each shape (packed, :func:`planner.analytics.pack_meetings`).
:func:`forecast_demand`
    A simple, stated forecast: the mean of the last whole weeks, flat.
:func:`demand_vs_supply`
    Per shape and coming week: forecast demand, supply, and whether demand would exceed it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner.analytics.capacity import pack_meetings
from planner.analytics.inputs import PlannerTables, as_organisation
from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.zones import check_zone

__all__ = [
    "HISTORY_COLUMNS",
    "SHAPE_COLUMNS",
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
]

SHAPE_COLUMNS = (
    "members", "pools", "rooms", "min_capacity", "duration_minutes", "buffer_before_minutes",
    "buffer_after_minutes", "slot_interval_minutes", "zone",
)
HISTORY_COLUMNS = (
    "invitation_id", "created_at", "status", "booked_at", "meeting_start", "cancelled_at", "expired_at",
    "booked_from", *SHAPE_COLUMNS,
)
_INSTANTS = ("created_at", "booked_at", "meeting_start", "cancelled_at", "expired_at")
STATUSES = ("active", "scheduled", "cancelled", "expired")
SOURCES = ("promoted", "more times", "not promoted")


# --- checking the history ---------------------------------------------------------------------


def _check_history(history: pd.DataFrame, columns: Sequence[str] = HISTORY_COLUMNS[:8]) -> pd.DataFrame:
    if not isinstance(history, pd.DataFrame):
        raise PlannerInputError(
            f"history must be a pandas DataFrame (the invitation history table), got {type(history).__name__}; "
            "load it with booking_service.store.loader.load_invitation_history"
        )
    missing = [c for c in columns if c not in history.columns]
    if missing:
        raise PlannerInputError(f"the invitation history lacks the column(s) {missing}; it has {list(history.columns)}")
    for column in _INSTANTS:
        if column in columns and not isinstance(history[column].dtype, pd.DatetimeTZDtype):
            if len(history) and history[column].notna().any():
                raise PlannerInputError(
                    f"history.{column} must be tz-aware datetime64 (UTC), got {history[column].dtype}"
                )
    if "status" in columns:
        bad = sorted(set(history["status"].dropna().astype(str)) - set(STATUSES))
        if bad:
            raise PlannerInputError(f"history.status has unknown value(s) {bad}; use {list(STATUSES)}")
    out = history.copy()
    for column in _INSTANTS:
        if column in out.columns:
            out[column] = pd.to_datetime(out[column], utc=True)
    return out


def _week(instants: pd.Series, zone: str) -> pd.Series:
    """The Monday (local date in ``zone``) of each instant's week; NaT stays missing."""
    local = instants.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    return (local - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


# --- flow per week ----------------------------------------------------------------------------


def invitation_flow(
    history: pd.DataFrame,
    *,
    zone: str = "UTC",
    first_week: dt.date | None = None,
    last_week: dt.date | None = None,
) -> pd.DataFrame:
    """Invitations created, booked, expired and cancelled per local week (Monday to Sunday).

    Each event counts in the week it happened: ``created`` at ``created_at``, ``booked`` at
    ``booked_at``, ``expired`` at ``expired_at`` (the end of its frame), ``cancelled`` at
    ``cancelled_at`` (the invitation, or its meeting, was cancelled). One invitation can count in
    several weeks (created in one, booked in the next).

    Parameters
    ----------
    history : DataFrame
        The invitation history (module docstring).
    zone : str
        IANA zone whose local weeks the rows follow.
    first_week, last_week : datetime.date, optional
        Range of weeks to report (any date of the week); default: from the first to the last
        event. Weeks without events are rows of zeros.

    Returns
    -------
    DataFrame
        ``week`` (datetime.date, the Monday), ``created``, ``booked``, ``expired``,
        ``cancelled`` (int).

    Examples
    --------
    >>> history = pd.DataFrame({
    ...     "invitation_id": [1, 2], "status": ["scheduled", "expired"], "booked_from": ["promoted", None],
    ...     "created_at": pd.to_datetime(["2026-11-02 09:00", "2026-11-03 09:00"], utc=True),
    ...     "booked_at": pd.to_datetime(["2026-11-10 12:00", None], utc=True),
    ...     "meeting_start": pd.to_datetime(["2026-11-12 12:00", None], utc=True),
    ...     "cancelled_at": pd.to_datetime([None, None], utc=True),
    ...     "expired_at": pd.to_datetime([None, "2026-11-14 00:00"], utc=True)})
    >>> invitation_flow(history)
             week  created  booked  expired  cancelled
    0  2026-11-02        2       0        0          0
    1  2026-11-09        0       1        1          0
    """
    check_zone(zone, "zone")
    h = _check_history(history)
    events = {
        "created": h["created_at"],
        "booked": h["booked_at"],
        "expired": h["expired_at"].where(h["status"] == "expired"),
        "cancelled": h["cancelled_at"].where(h["status"] == "cancelled"),
    }
    counts = {}
    weeks: set[dt.date] = set()
    for name, instants in events.items():
        week = _week(instants.dropna(), zone)
        counts[name] = week.value_counts()
        weeks.update(week)
    for label, value in (("first_week", first_week), ("last_week", last_week)):
        if value is not None and (isinstance(value, dt.datetime) or not isinstance(value, dt.date)):
            raise PlannerInputError(f"{label} must be a datetime.date, got {value!r}")
    lo = _monday(first_week) if first_week else (min(weeks) if weeks else None)
    hi = _monday(last_week) if last_week else (max(weeks) if weeks else None)
    if lo is None or hi is None or hi < lo:
        rows: list[dt.date] = []
    else:
        rows = [lo + dt.timedelta(weeks=k) for k in range((hi - lo).days // 7 + 1)]
    out = pd.DataFrame({"week": pd.Series(rows, dtype=object)})
    for name in events:
        out[name] = np.array([int(counts[name].get(w, 0)) for w in rows], dtype=np.int64)
    return out


# --- distributions ------------------------------------------------------------------------------

TIME_TO_BOOKING_BUCKETS = (
    ("under 1 hour", pd.Timedelta(hours=1)),
    ("1-4 hours", pd.Timedelta(hours=4)),
    ("4-24 hours", pd.Timedelta(days=1)),
    ("1-3 days", pd.Timedelta(days=3)),
    ("3-7 days", pd.Timedelta(days=7)),
    ("over 7 days", None),
)
LEAD_TIME_BUCKETS = (
    ("under 1 day", pd.Timedelta(days=1)),
    ("1-3 days", pd.Timedelta(days=3)),
    ("3-7 days", pd.Timedelta(days=7)),
    ("1-2 weeks", pd.Timedelta(days=14)),
    ("2-4 weeks", pd.Timedelta(days=28)),
    ("over 4 weeks", None),
)


def _distribution(durations: pd.Series, buckets) -> pd.DataFrame:
    durations = durations.dropna()
    labels = [b[0] for b in buckets]
    edges = [b[1] for b in buckets if b[1] is not None]
    if (durations < pd.Timedelta(0)).any():
        raise PlannerInputError("a booking comes before its invitation or a meeting before its booking; check the history's instants")
    # In seconds: the instants' unit (ns or us) depends on how the history was built.
    seconds = (durations / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    index = np.searchsorted(np.array([e.total_seconds() for e in edges]), seconds, side="right")
    counts = np.bincount(index, minlength=len(labels)).astype(np.int64)
    total = int(counts.sum())
    share = counts / total if total else np.zeros(len(labels))
    hours = durations / pd.Timedelta(hours=1)
    out = pd.DataFrame({"bucket": labels, "bookings": counts, "share": share, "cumulative": np.cumsum(share)})
    out.attrs["median_hours"] = float(hours.median()) if total else float("nan")
    out.attrs["bookings"] = total
    return out


def time_to_booking(history: pd.DataFrame) -> pd.DataFrame:
    """How long customers take from the invitation to booking (booked invitations only).

    Returns
    -------
    DataFrame
        ``bucket`` (``"under 1 hour"``, ``"1-4 hours"``, ``"4-24 hours"``, ``"1-3 days"``,
        ``"3-7 days"``, ``"over 7 days"``), ``bookings`` (int), ``share`` and ``cumulative``
        (of the booked invitations). ``.attrs["median_hours"]`` holds the median in hours and
        ``.attrs["bookings"]`` the count.
    """
    h = _check_history(history)
    return _distribution(h["booked_at"] - h["created_at"], TIME_TO_BOOKING_BUCKETS)


def lead_time(history: pd.DataFrame) -> pd.DataFrame:
    """How far ahead meetings are booked: from the booking to the meeting's start.

    Returns
    -------
    DataFrame
        ``bucket`` (``"under 1 day"`` ... ``"over 4 weeks"``), ``bookings``, ``share``,
        ``cumulative``; ``.attrs["median_hours"]`` and ``.attrs["bookings"]``.
    """
    h = _check_history(history)
    return _distribution(h["meeting_start"] - h["booked_at"], LEAD_TIME_BUCKETS)


def booking_sources(history: pd.DataFrame) -> pd.DataFrame:
    """How bookings were made: from a promoted slot, from "more times", or without promoted slots.

    Returns
    -------
    DataFrame
        One row per source in the order ``"promoted"``, ``"more times"``, ``"not promoted"``:
        ``source``, ``bookings`` (int) and ``share``: for ``promoted`` and ``more times`` the
        share among the bookings of invitations that promoted slots (what the promotion
        achieves), for ``not promoted`` the share of all bookings with a known source.
        Moved meetings (first pick unknown) are not counted.

    Examples
    --------
    >>> history = pd.DataFrame({"booked_from": ["promoted", "promoted", "more times", "not promoted", None]})
    >>> booking_sources(history)
             source  bookings      share
    0      promoted         2  0.666667
    1    more times         1  0.333333
    2  not promoted         1  0.250000
    """
    h = _check_history(history, ("booked_from",))
    known = h["booked_from"].dropna().astype(str)
    bad = sorted(set(known) - set(SOURCES))
    if bad:
        raise PlannerInputError(f"history.booked_from has unknown value(s) {bad}; use {list(SOURCES)} or missing")
    counts = {s: int((known == s).sum()) for s in SOURCES}
    offered = counts["promoted"] + counts["more times"]
    total = len(known)
    return pd.DataFrame(
        {
            "source": list(SOURCES),
            "bookings": np.array([counts[s] for s in SOURCES], dtype=np.int64),
            "share": [
                counts["promoted"] / offered if offered else np.nan,
                counts["more times"] / offered if offered else np.nan,
                counts["not promoted"] / total if total else np.nan,
            ],
        }
    )


# --- request shapes and supply ------------------------------------------------------------------


def _shape_key(row) -> tuple:
    return tuple(
        tuple(tuple(p) for p in row[c]) if c == "pools" else (tuple(row[c]) if c in ("members", "rooms") else row[c])
        for c in SHAPE_COLUMNS
    )


def request_shapes(history: pd.DataFrame, *, top: int = 3, names: pd.Series | None = None) -> pd.DataFrame:
    """The organisation's most common request shapes (who attends, rooms, length, buffers, zone).

    Parameters
    ----------
    history : DataFrame
        The invitation history with its shape columns.
    top : int
        How many shapes to return (the most frequent; ties by first seen).
    names : Series, optional
        Resource names by resource id, for the labels (default: the ids).

    Returns
    -------
    DataFrame
        ``shape`` ("S1", "S2", ...), ``label`` (a readable summary), ``invitations`` (int),
        ``share`` (of all invitations) and the shape columns.
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise PlannerInputError(f"top must be a whole number >= 1, got {top!r}")
    h = _check_history(history, ("invitation_id", *SHAPE_COLUMNS))
    columns = ["shape", "label", "invitations", "share", *SHAPE_COLUMNS]
    if h.empty:
        return pd.DataFrame(columns=columns)
    keys = [_shape_key(r) for _, r in h.iterrows()]
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts, key=lambda k: -counts[k])[:top]

    def who(ids) -> str:
        return ", ".join(str(names.get(i, i)) if names is not None else str(i) for i in ids)

    rows = []
    for n, key in enumerate(ranked, start=1):
        shape = dict(zip(SHAPE_COLUMNS, key, strict=True))
        parts = []
        if shape["members"]:
            parts.append(who(shape["members"]))
        parts += [f"one of {who(p)}" for p in shape["pools"]]
        if shape["rooms"]:
            parts.append(f"a room for {shape['min_capacity']}")
        label = f"{shape['duration_minutes']} min: " + " + ".join(parts) + f" ({shape['zone']})"
        rows.append({"shape": f"S{n}", "label": label, "invitations": counts[key], "share": counts[key] / len(keys), **shape})
    return pd.DataFrame(rows, columns=columns)


def shape_request(shape, *, frame_start: dt.date, frame_end: dt.date, now: dt.datetime, notice_minutes: int = 0) -> SlotRequest:
    """One row of :func:`request_shapes` as a :class:`planner.SlotRequest` over a frame."""
    minutes = {c: int(shape[c]) for c in ("duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "slot_interval_minutes")}
    return SlotRequest(
        members=tuple(shape["members"]),
        pools=tuple(tuple(p) for p in shape["pools"]),
        rooms=tuple(shape["rooms"]),
        min_capacity=int(shape["min_capacity"]),
        duration=pd.Timedelta(minutes=minutes["duration_minutes"]),
        buffer_before=pd.Timedelta(minutes=minutes["buffer_before_minutes"]),
        buffer_after=pd.Timedelta(minutes=minutes["buffer_after_minutes"]),
        interval=pd.Timedelta(minutes=minutes["slot_interval_minutes"]),
        minimum_notice=pd.Timedelta(minutes=notice_minutes),
        frame_start=frame_start,
        frame_end=frame_end,
        zone=str(shape["zone"]),
        now=now,
    )


def _check_weeks(weeks: object) -> int:
    if isinstance(weeks, bool) or not isinstance(weeks, int | np.integer) or not 1 <= weeks <= 52:
        raise PlannerInputError(f"weeks must be a whole number from 1 to 52, got {weeks!r}")
    return int(weeks)


def _check_now(now: object) -> pd.Timestamp:
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise PlannerInputError(f"now must be a tz-aware datetime (e.g. datetime.now(UTC)), got {now!r}")
    return pd.Timestamp(now).tz_convert("UTC")


def weekly_supply(
    org: PlannerTables, shapes: pd.DataFrame, *, now: dt.datetime, weeks: int = 4, first_week: dt.date | None = None
) -> pd.DataFrame:
    """Meetings of each shape that still fit per week, packed earliest first.

    Each shape is packed on its own (:func:`planner.analytics.pack_meetings`: no two of its
    meetings share a member or room, buffers included) over whole local weeks in the shape's
    zone, from ``first_week`` (default: the week of ``now``) on, starting no earlier than
    ``now``. Shapes that share people compete for the same free time, so the supplies of two
    shapes do not add up; each is what that shape alone could still get.

    Parameters
    ----------
    org : Organisation-like
    shapes : DataFrame
        Rows of :func:`request_shapes`.
    now : datetime (tz-aware)
    weeks : int
        Number of weeks, 1 to 52.
    first_week : datetime.date, optional
        Any date of the first week.

    Returns
    -------
    DataFrame
        ``shape``, ``week`` (the Monday), ``supply`` (int: meetings that fit).
    """
    weeks = _check_weeks(weeks)
    stamp = _check_now(now)
    tables = as_organisation(org)
    if not isinstance(shapes, pd.DataFrame) or "shape" not in shapes.columns:
        raise PlannerInputError("shapes must be the DataFrame planner.request_shapes returns")
    rows = []
    for _, shape in shapes.iterrows():
        zone = str(shape["zone"])
        start = _monday(first_week or stamp.tz_convert(zone).date())
        monday_list = [start + dt.timedelta(weeks=k) for k in range(weeks)]
        request = shape_request(shape, frame_start=start, frame_end=start + dt.timedelta(weeks=weeks, days=-1), now=now)
        known = set(tables.resources["resource_id"].astype(str))
        missing = [r for r in (*request.all_members, *request.rooms) if r not in known]
        packed = pack_meetings(tables, request) if not missing else pd.DataFrame({"date": []})
        week = pd.Series([_monday(d) for d in packed["date"]], dtype=object)
        counts = week.value_counts()
        rows += [{"shape": shape["shape"], "week": w, "supply": int(counts.get(w, 0))} for w in monday_list]
    return pd.DataFrame(rows, columns=["shape", "week", "supply"]).astype({"supply": "int64"})


# --- forecast and comparison --------------------------------------------------------------------


def forecast_demand(flow: pd.DataFrame, *, weeks: int = 4, window: int = 4, after: dt.date | None = None) -> pd.DataFrame:
    """A simple, stated forecast of invitations per week: the mean of the last whole weeks, flat.

    The forecast for each of the next ``weeks`` weeks is the mean number of invitations created
    in the last ``window`` weeks of ``flow`` (fewer when the history is shorter; 0 without any).
    It says nothing about trends or seasons; it is a baseline to compare supply with.

    Parameters
    ----------
    flow : DataFrame
        :func:`invitation_flow`'s table (``week``, ``created``); its last row should be the
        last whole week.
    weeks : int
        Weeks to forecast, 1 to 52.
    window : int
        Weeks of history to average, 1 to 52.
    after : datetime.date, optional
        Forecast the weeks after this one (any date of it); default: after the last week of
        ``flow``.

    Returns
    -------
    DataFrame
        ``week`` (Monday), ``forecast`` (float invitations), ``method`` (the sentence that
        states the forecast).

    Examples
    --------
    >>> flow = pd.DataFrame({"week": [dt.date(2026, 11, 2), dt.date(2026, 11, 9)], "created": [4, 6]})
    >>> forecast_demand(flow, weeks=2)[["week", "forecast"]]
             week  forecast
    0  2026-11-16       5.0
    1  2026-11-23       5.0
    """
    weeks = _check_weeks(weeks)
    window = _check_weeks(window)
    if not isinstance(flow, pd.DataFrame) or not {"week", "created"} <= set(flow.columns):
        raise PlannerInputError("flow must be planner.invitation_flow's table (columns week, created)")
    recent = flow.sort_values("week").tail(window)
    mean = float(recent["created"].mean()) if len(recent) else 0.0
    if after is None:
        if flow.empty:
            raise PlannerInputError("flow has no weeks; give after=<a date> to say which weeks to forecast")
        after = max(flow["week"])
    base = _monday(after)
    method = (
        f"mean of invitations created in the last {len(recent)} week(s) "
        f"({', '.join(str(int(c)) for c in recent['created'])}), held flat"
        if len(recent)
        else "no history: 0 invitations a week"
    )
    return pd.DataFrame(
        {
            "week": [base + dt.timedelta(weeks=k + 1) for k in range(weeks)],
            "forecast": np.full(weeks, mean),
            "method": method,
        }
    )


def demand_vs_supply(
    org: PlannerTables,
    history: pd.DataFrame,
    *,
    now: dt.datetime,
    weeks: int = 4,
    window: int = 4,
    top: int = 3,
    zone: str = "UTC",
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Per common request shape and coming week: forecast demand against meetings that fit.

    Demand: :func:`forecast_demand` on the invitations created per week (``zone``'s weeks, the
    last ``window`` whole weeks before the week of ``now``), split over the ``top`` shapes by
    their share of all invitations. Supply: :func:`weekly_supply` of each shape over the
    ``weeks`` whole weeks after the week of ``now`` (the same weeks the forecast covers). A week
    is short when the forecast demand of a shape exceeds the meetings of that shape that still
    fit. ``names`` (resource names by id) makes the labels readable.

    Returns
    -------
    DataFrame
        ``shape``, ``label``, ``week``, ``demand`` (float forecast invitations), ``supply``
        (int meetings that fit), ``short`` (bool: demand > supply), ``method`` (how demand was
        forecast).
    """
    check_zone(zone, "zone")
    stamp = _check_now(now)
    h = _check_history(history, HISTORY_COLUMNS)
    this_week = _monday(stamp.tz_convert(zone).date())
    flow = invitation_flow(h, zone=zone, first_week=this_week - dt.timedelta(weeks=_check_weeks(window)),
                           last_week=this_week - dt.timedelta(weeks=1))
    forecast = forecast_demand(flow, weeks=weeks, window=window, after=this_week)
    shapes = request_shapes(h, top=top, names=names)
    columns = ["shape", "label", "week", "demand", "supply", "short", "method"]
    if shapes.empty:
        return pd.DataFrame(columns=columns)
    supply = weekly_supply(org, shapes, now=now, weeks=weeks, first_week=this_week + dt.timedelta(weeks=1))
    # A shape's zone may start its week a day apart from ``zone``: align by position.
    supply["k"] = supply.groupby("shape").cumcount()
    demand = forecast.assign(k=range(len(forecast)))
    table = supply.merge(shapes[["shape", "label", "share"]], on="shape").merge(
        demand[["k", "forecast", "method"]], on="k"
    )
    table["demand"] = table["forecast"] * table["share"]
    table["short"] = table["demand"] > table["supply"]
    return table[columns].reset_index(drop=True)


# --- a synthetic history --------------------------------------------------------------------------


def generate_invitation_history(
    shapes: pd.DataFrame | Sequence[dict],
    *,
    end: dt.datetime,
    weeks: int = 8,
    per_week: float = 12.0,
    seed: int = 0,
) -> pd.DataFrame:
    """A plausible invitation history for trying the demand analysis without real data.

    Invitations arrive at ``per_week`` a week on average (Poisson, weekdays, working hours UTC)
    over the ``weeks`` weeks before ``end``, each of one of ``shapes`` (rows with the shape
    columns; equally likely). About 70 % are booked (40 % within a day), 10 % cancelled and the
    rest expire after a week or stay active; 60 % of invitations promote slots and two thirds
    of their bookings take a promoted slot. Deterministic for a seed.
    """
    weeks = _check_weeks(weeks)
    end_ts = _check_now(end)
    rng = np.random.default_rng(seed)
    shapes = pd.DataFrame(list(shapes)) if not isinstance(shapes, pd.DataFrame) else shapes
    missing = [c for c in SHAPE_COLUMNS if c not in shapes.columns]
    if shapes.empty or missing:
        raise PlannerInputError(f"shapes needs at least one row with the columns {list(SHAPE_COLUMNS)}; missing {missing}")
    rows = []
    start = end_ts - pd.Timedelta(weeks=weeks)
    n = int(rng.poisson(per_week * weeks))
    for i in range(n):
        created = start + pd.Timedelta(minutes=int(rng.integers(0, weeks * 7 * 1440)))
        while created.weekday() >= 5:
            created -= pd.Timedelta(days=1)
        shape = shapes.iloc[int(rng.integers(0, len(shapes)))]
        roll = rng.random()
        promoted = rng.random() < 0.6
        wait = pd.Timedelta(hours=float(rng.exponential(30)))
        lead = pd.Timedelta(hours=float(24 + rng.exponential(96)))
        row = {c: pd.NaT for c in _INSTANTS} | {"booked_from": None}
        row.update(invitation_id=i + 1, created_at=created, **{c: shape[c] for c in SHAPE_COLUMNS})
        if roll < 0.7 and created + wait < end_ts:
            row.update(status="scheduled", booked_at=created + wait, meeting_start=(created + wait + lead).floor("15min"),
                       booked_from=("promoted" if rng.random() < 2 / 3 else "more times") if promoted else "not promoted")
        elif roll < 0.8 and created + wait < end_ts:
            row.update(status="cancelled", cancelled_at=created + wait)
        elif created + pd.Timedelta(days=7) < end_ts:
            row.update(status="expired", expired_at=created + pd.Timedelta(days=7))
        else:
            row.update(status="active")
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    for column in _INSTANTS:
        out[column] = pd.to_datetime(out[column], utc=True)
    return out.sort_values("created_at").reset_index(drop=True).assign(invitation_id=lambda d: range(1, len(d) + 1))

