"""Invitations competing for resources: how many active invitations could use each resource-hour.

:func:`contention`
    For each resource and UTC hour, how many invitations have at least one available slot that
    would use the resource during that hour: the resource is a required member, a free member
    of one of its pools or a free candidate room of that slot.
:func:`invitation_contention`
    The same for the active invitations as the database loader returns them, their slots found
    by the engine; :func:`invitation_requests` turns each row into a
    :class:`planner.SlotRequest`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd

from planner.analytics.inputs import PlannerTables, _find, _request_tables, as_organisation
from planner.errors import PlannerInputError
from planner.request import SlotRequest
from planner.zones import NS_PER_MINUTE

__all__ = ["contention", "invitation_contention", "invitation_requests"]

_NS_PER_HOUR = 60 * NS_PER_MINUTE


# --- contention between invitations ---------------------------------------------------------


def _slot_resources(slots: pd.DataFrame) -> pd.DataFrame:
    """One row per (slot, resource it could use): ``start``, ``end`` (int64 ns), ``resource_id``."""
    starts = pd.DatetimeIndex(slots["start"]).as_unit("ns").asi8
    ends = pd.DatetimeIndex(slots["end"]).as_unit("ns").asi8
    parts = []
    # Required members, free pool members and free candidate rooms all compete for the slot.
    for column in ("members", "pool_members", "rooms"):
        if column not in slots.columns:
            continue
        values = slots[column].tolist()
        if column == "pool_members":
            values = [tuple(m for pool in row for m in pool) for row in values]
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
        ids = [r for row in values for r in row]
        parts.append(
            pd.DataFrame(
                {
                    "start": np.repeat(starts, lengths),
                    "end": np.repeat(ends, lengths),
                    "resource_id": pd.Series(ids, dtype=object),
                }
            )
        )
    if not parts:
        return pd.DataFrame({"start": np.zeros(0, np.int64), "end": np.zeros(0, np.int64), "resource_id": []})
    return pd.concat(parts, ignore_index=True)


def contention(slots_by_invitation: Mapping[Hashable, pd.DataFrame]) -> pd.DataFrame:
    """How many invitations compete for each resource-hour.

    An invitation competes for resource ``r`` during the UTC hour ``[h, h + 1 h)`` when one of its
    available slots overlaps that hour and could use ``r``: ``r`` is a required member, a free
    member of one of its pools, or a free candidate room of that slot.

    Parameters
    ----------
    slots_by_invitation : mapping of invitation id to DataFrame
        For each invitation, its available slots as :func:`planner.find_slots` returns them
        (``start``, ``end``, ``members``, ``pool_members``, ``rooms``).

    Returns
    -------
    DataFrame
        ``resource_id`` (str), ``hour`` (datetime64[ns, UTC], start of the UTC hour),
        ``invitations`` (int, >= 1) and ``invitation_ids`` (tuple, sorted), one row per
        resource-hour with at least one invitation, sorted by ``invitations`` descending, then
        resource and hour. Convert ``hour`` to a zone with ``.dt.tz_convert`` for display.

    Examples
    --------
    >>> start = pd.Timestamp("2026-11-02 09:30", tz="UTC")
    >>> a = pd.DataFrame({"start": [start], "end": [start + pd.Timedelta(minutes=60)],
    ...                   "members": [("m1",)], "pool_members": [()], "rooms": [()]})
    >>> b = a.assign(members=[("m1", "m2")])
    >>> contention({"A": a, "B": b})[["resource_id", "hour", "invitations"]]
      resource_id                      hour  invitations
    0          m1 2026-11-02 09:00:00+00:00            2
    1          m1 2026-11-02 10:00:00+00:00            2
    2          m2 2026-11-02 09:00:00+00:00            1
    3          m2 2026-11-02 10:00:00+00:00            1
    """
    pieces = []
    for key, slots in slots_by_invitation.items():
        if slots is None or len(slots) == 0:
            continue
        for column in ("start", "end"):
            if column not in slots.columns:
                raise PlannerInputError(f"the slots of invitation {key!r} lack the column {column!r}")
        rows = _slot_resources(slots)
        if rows.empty:
            continue
        first = rows["start"].to_numpy() // _NS_PER_HOUR
        # Half-open: a slot ending exactly on the hour does not touch the next hour.
        last = (rows["end"].to_numpy() - 1) // _NS_PER_HOUR
        count = last - first + 1
        hours = np.repeat(first, count) + (
            np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        )
        frame = pd.DataFrame(
            {"resource_id": np.repeat(rows["resource_id"].to_numpy(), count), "hour": hours}
        ).drop_duplicates(ignore_index=True)
        frame["invitation"] = pd.Series([key] * len(frame), dtype=object)
        pieces.append(frame)
    if not pieces:
        return pd.DataFrame(
            {
                "resource_id": pd.Series([], dtype=object),
                "hour": pd.DatetimeIndex([], tz="UTC").as_unit("ns"),
                "invitations": np.zeros(0, np.int64),
                "invitation_ids": pd.Series([], dtype=object),
            }
        )
    table = pd.concat(pieces, ignore_index=True)
    grouped = table.groupby(["resource_id", "hour"], sort=True)["invitation"]
    out = grouped.agg(invitations="size", invitation_ids=lambda s: tuple(sorted(s, key=str))).reset_index()
    out["invitations"] = out["invitations"].astype(np.int64)
    out["hour"] = pd.to_datetime(out["hour"].to_numpy() * _NS_PER_HOUR, unit="ns", utc=True).as_unit("ns")
    out["resource_id"] = out["resource_id"].astype(str)
    out = out.sort_values(
        ["invitations", "resource_id", "hour"], ascending=[False, True, True], kind="stable"
    )
    return out.reset_index(drop=True)[["resource_id", "hour", "invitations", "invitation_ids"]]


# --- requests from the invitations table ----------------------------------------------------


def _number(row: Mapping[str, object], column: str, default: int) -> int:
    value = row.get(column, default)
    return default if value is None or pd.isna(value) else int(value)


def _minutes(row: Mapping[str, object], column: str, default: int = 0) -> pd.Timedelta:
    return pd.Timedelta(minutes=_number(row, column, default))


def invitation_requests(invitations: pd.DataFrame, now: dt.datetime) -> dict[Hashable, SlotRequest]:
    """One :class:`SlotRequest` per invitation row, keyed by ``invitation_id``.

    Parameters
    ----------
    invitations : DataFrame
        As the database loader's ``load_invitations`` returns it: ``invitation_id``,
        ``members``, ``pools`` (tuple of member-id tuples), ``rooms``, ``duration_minutes``,
        ``frame_start``, ``frame_end``, ``zone`` and optionally ``min_capacity``,
        ``buffer_before_minutes``, ``buffer_after_minutes``, ``minimum_notice_minutes``,
        ``slot_interval_minutes`` (defaults 1, 0, 0, 0, 15).
    now : datetime
        Tz-aware "now" for every request.

    Raises
    ------
    PlannerInputError
        When a row cannot be a request; the message names the invitation.
    """
    required = ("invitation_id", "members", "duration_minutes", "frame_start", "frame_end", "zone")
    missing = [c for c in required if c not in invitations.columns]
    if missing:
        raise PlannerInputError(f"the invitations table lacks the column(s) {missing}; see load_invitations")
    requests: dict[Hashable, SlotRequest] = {}
    for row in invitations.to_dict("records"):
        key = row["invitation_id"]
        try:
            requests[key] = SlotRequest(
                members=tuple(row["members"]),
                pools=tuple(tuple(p) for p in (row.get("pools") or ())),
                rooms=tuple(row.get("rooms") or ()),
                min_capacity=_number(row, "min_capacity", 1),
                duration=_minutes(row, "duration_minutes"),
                buffer_before=_minutes(row, "buffer_before_minutes"),
                buffer_after=_minutes(row, "buffer_after_minutes"),
                minimum_notice=_minutes(row, "minimum_notice_minutes"),
                interval=_minutes(row, "slot_interval_minutes", 15),
                frame_start=pd.Timestamp(row["frame_start"]).date(),
                frame_end=pd.Timestamp(row["frame_end"]).date(),
                zone=row["zone"],
                now=now,
            )
        except PlannerInputError as exc:
            raise PlannerInputError(f"invitation {key!r}: {exc}") from exc
    return requests


# --- contention from the invitations table -----------------------------------------------------


def invitation_contention(org: PlannerTables, invitations: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """:func:`contention` of the given invitations, their slots found by the engine.

    Parameters
    ----------
    org : Organisation-like
    invitations : DataFrame
        Active invitations as the loader returns them (see :func:`invitation_requests`).
    now : datetime
        Tz-aware "now": slots before ``now`` plus an invitation's notice do not compete.

    Returns
    -------
    DataFrame
        As :func:`contention`.

    Examples
    --------
    >>> from booking_service.store.loader import open_organisation  # doctest: +SKIP
    >>> org = open_organisation("sqlite:///var/slotwise.db")  # doctest: +SKIP
    >>> invitation_contention(org, org.invitations, dt.datetime.now(dt.UTC)).head()  # doctest: +SKIP
    """
    tables = as_organisation(org)
    requests = invitation_requests(invitations, now)
    slots = {key: _find(_request_tables(tables, req), req) for key, req in requests.items()}
    return contention(slots)
