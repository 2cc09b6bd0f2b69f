"""The slot request: what one invitation asks the engine for.

:class:`SlotRequest` names the required members, the resource pools, the
candidate rooms, the meeting's duration and buffers, the minimum notice, the
slot interval, the frame (dates in the invitation zone) and ``now``. It is
validated when it is made, so the engine can trust it; every problem raises
:class:`planner.errors.PlannerInputError` naming the bad value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.errors import PlannerInputError
from planner.zones import NS_PER_MINUTE, check_zone, wall_to_utc

__all__ = ["SlotRequest"]

_DAY = pd.Timedelta(days=1)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _timedelta(value: Any, name: str) -> pd.Timedelta:
    """Coerce ``value`` to a whole-minute, non-negative :class:`pandas.Timedelta`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) or (
        hasattr(value, "dtype") and getattr(value, "ndim", None) == 0 and value.dtype.kind in "iuf"
    ):
        # pandas reads a bare number as nanoseconds: duration=30 would be 30 ns, not 30 minutes.
        raise PlannerInputError(
            f"{name}={value!r} is a bare number; give a Timedelta or minutes=..., "
            f"e.g. pd.Timedelta(minutes={value!r})"
        )
    try:
        td = pd.Timedelta(value)
    except (TypeError, ValueError) as exc:
        raise PlannerInputError(
            f"{name} must be a duration such as pd.Timedelta(minutes=30), got {value!r}"
        ) from exc
    if pd.isna(td):
        raise PlannerInputError(f"{name} must be a duration, got a missing value")
    if td < pd.Timedelta(0):
        raise PlannerInputError(f"{name} must not be negative, got {td}")
    if td.value % NS_PER_MINUTE:
        raise PlannerInputError(f"{name} must be a whole number of minutes, got {td}")
    return td.as_unit("ns")


def _ids(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise PlannerInputError(f"{name} must be a sequence of resource ids, not the single string {value!r}")
    try:
        ids = tuple(value)
    except TypeError as exc:
        raise PlannerInputError(f"{name} must be a sequence of resource ids, got {value!r}") from exc
    for item in ids:
        if not isinstance(item, str):
            raise PlannerInputError(f"{name} must hold resource ids as str (use str(id)), got {item!r}")
    if len(set(ids)) != len(ids):
        raise PlannerInputError(f"{name} lists a resource twice: {ids!r}")
    return ids


def _date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime) or isinstance(value, pd.Timestamp):
        raise PlannerInputError(
            f"{name} must be a datetime.date (a date in the invitation zone), got {value!r}"
        )
    if not isinstance(value, dt.date):
        raise PlannerInputError(f"{name} must be a datetime.date, got {value!r}")
    return value


def _pool_k(value: Any, pools: tuple[tuple[str, ...], ...]) -> tuple[int, ...]:
    if isinstance(value, (str, int)):
        raise PlannerInputError(f"pool_k must be a sequence with one int per pool, got {value!r}")
    ks = tuple(value)
    if not ks or (ks == (1,) * len(ks) and len(ks) != len(pools)):
        # The default (one from each pool), also when carried over by dataclasses.replace.
        return (1,) * len(pools)
    if len(ks) != len(pools):
        raise PlannerInputError(f"pool_k has {len(ks)} entries for {len(pools)} pools; give one k per pool")
    for i, (k, pool) in enumerate(zip(ks, pools, strict=True)):
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(pool):
            raise PlannerInputError(
                f"pool_k[{i}] must be an int from 1 to the pool's size {len(pool)}, got {k!r}"
            )
    return ks


def _pool_turns(value: Any, pools: tuple[tuple[str, ...], ...]) -> tuple[bool, ...]:
    flags = tuple(value)
    if not flags or (not any(flags) and len(flags) != len(pools)):
        return (False,) * len(pools)
    if len(flags) != len(pools) or not all(isinstance(f, bool) for f in flags):
        raise PlannerInputError(f"pool_turns must hold one bool per pool ({len(pools)}), got {value!r}")
    return flags


@dataclass(frozen=True)
class SlotRequest:
    """One invitation's question: when can this meeting happen?

    Parameters
    ----------
    members : tuple of str
        Required members; all of them attend.
    duration : pandas.Timedelta
        Meeting length, whole minutes, > 0.
    frame_start, frame_end : datetime.date
        First and last date (inclusive) of the frame, in ``zone``. The frame
        runs from ``frame_start`` 00:00 to ``frame_end`` 24:00 local.
    zone : str
        IANA zone of the invitation: the frame dates and the slot grid are wall
        clock there.
    now : datetime.datetime
        Tz-aware "now"; with ``minimum_notice`` it bounds the earliest start.
    pools : tuple of tuple of str
        Resource pools; from each, ``pool_k[i]`` members attend (any one by
        default).
    pool_k : tuple of int
        Members needed from each pool (a panel: "2 of these 5"); empty means
        one from every pool. Each ``1 <= k <= len(pool)``.
    pool_turns : tuple of bool
        Per pool, True for a strict rotation: the pool lists its members in
        turn order and only the first ``k`` of them who are *on duty* (in
        working hours for at least one candidate start of the frame, busy or
        not) count; the others are skipped this time. Empty means no rotation.
    rooms : tuple of str
        Candidate rooms; one of them with ``capacity >= min_capacity`` is
        needed. Empty: no room needed.
    min_capacity : int
        Seats a room must have.
    buffer_before, buffer_after : pandas.Timedelta
        Time that must also be free (not busy) before and after the meeting,
        for members and rooms alike. Whole minutes, >= 0.
    minimum_notice : pandas.Timedelta
        A slot must start at or after ``now + minimum_notice``.
    interval : pandas.Timedelta
        Spacing of slot starts on the invitation zone's wall clock, counted
        from local midnight; must divide 24 hours.

    Raises
    ------
    PlannerInputError
        On any invalid field (unknown zone, naive ``now``, frame ending before
        it starts, negative buffers, duration longer than the frame, interval
        not dividing the day, ...).

    Examples
    --------
    >>> import datetime as dt, pandas as pd
    >>> SlotRequest(members=("m0001",), duration=pd.Timedelta(minutes=45),
    ...             frame_start=dt.date(2026, 11, 2), frame_end=dt.date(2026, 11, 6),
    ...             zone="Europe/London",
    ...             now=dt.datetime(2026, 10, 30, tzinfo=dt.timezone.utc)).interval
    Timedelta('0 days 00:15:00')
    """

    members: tuple[str, ...]
    duration: pd.Timedelta
    frame_start: dt.date
    frame_end: dt.date
    zone: str
    now: dt.datetime
    pools: tuple[tuple[str, ...], ...] = ()
    pool_k: tuple[int, ...] = ()
    pool_turns: tuple[bool, ...] = ()
    rooms: tuple[str, ...] = ()
    min_capacity: int = 1
    buffer_before: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))
    buffer_after: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))
    minimum_notice: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(0))
    interval: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(minutes=15))
    # Derived in __post_init__: frame and now as ns (UTC).
    _frame: tuple[int, int] = field(init=False, repr=False, compare=False, default=(0, 0))
    _now: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "members", _ids(self.members, "members"))
        if isinstance(self.pools, str):
            raise PlannerInputError(
                f"pools must be a sequence of sequences of member ids, got {self.pools!r}"
            )
        pools = tuple(_ids(pool, f"pools[{i}]") for i, pool in enumerate(self.pools))
        for i, pool in enumerate(pools):
            if not pool:
                raise PlannerInputError(f"pools[{i}] is empty; a pool needs at least one member")
        put(self, "pools", pools)
        put(self, "pool_k", _pool_k(self.pool_k, pools))
        put(self, "pool_turns", _pool_turns(self.pool_turns, pools))
        put(self, "rooms", _ids(self.rooms, "rooms"))
        if (
            isinstance(self.min_capacity, bool)
            or not isinstance(self.min_capacity, int)
            or self.min_capacity < 1
        ):
            raise PlannerInputError(f"min_capacity must be an int >= 1, got {self.min_capacity!r}")
        put(self, "duration", _timedelta(self.duration, "duration"))
        if self.duration <= pd.Timedelta(0):
            raise PlannerInputError(f"duration must be positive, got {self.duration}")
        put(self, "buffer_before", _timedelta(self.buffer_before, "buffer_before"))
        put(self, "buffer_after", _timedelta(self.buffer_after, "buffer_after"))
        put(self, "minimum_notice", _timedelta(self.minimum_notice, "minimum_notice"))
        put(self, "interval", _timedelta(self.interval, "interval"))
        if self.interval <= pd.Timedelta(0) or _DAY.value % self.interval.value:
            raise PlannerInputError(
                f"interval must divide 24 hours (e.g. 5, 10, 15, 20, 30, 45 or 60 minutes), got {self.interval}"
            )
        put(self, "frame_start", _date(self.frame_start, "frame_start"))
        put(self, "frame_end", _date(self.frame_end, "frame_end"))
        if self.frame_end < self.frame_start:
            raise PlannerInputError(
                f"frame_end {self.frame_end} is before frame_start {self.frame_start}; the frame needs end >= start"
            )
        check_zone(self.zone, "zone")
        if not isinstance(self.now, dt.datetime):
            raise PlannerInputError(f"now must be a tz-aware datetime, got {self.now!r}")
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise PlannerInputError(
                f"now must be tz-aware (e.g. datetime.now(timezone.utc)), got naive {self.now!r}"
            )
        first = self.frame_start.toordinal() - _EPOCH_ORDINAL
        last = self.frame_end.toordinal() - _EPOCH_ORDINAL + 1
        lo = int(wall_to_utc([first * 1440], self.zone, side="start")[0])
        hi = int(wall_to_utc([last * 1440], self.zone, side="end")[0])
        put(self, "_frame", (lo, hi))
        put(self, "_now", int(pd.Timestamp(self.now).as_unit("ns").value))
        if self.duration.value > hi - lo:
            raise PlannerInputError(
                f"duration {self.duration} is longer than the frame {self.frame_start}..{self.frame_end} "
                f"({pd.Timedelta(hi - lo, unit='ns')}); widen the frame or shorten the meeting"
            )

    @property
    def frame_ns(self) -> tuple[int, int]:
        """Frame as UTC instants (ns): first date 00:00 to last date 24:00 in ``zone``."""
        return self._frame

    @property
    def frame(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Frame as tz-aware UTC timestamps ``(start, end)``, half-open."""
        lo, hi = self.frame_ns
        return pd.Timestamp(lo, unit="ns", tz="UTC"), pd.Timestamp(hi, unit="ns", tz="UTC")

    @property
    def now_ns(self) -> int:
        """``now`` as ns since the epoch (UTC)."""
        return self._now

    @property
    def all_members(self) -> tuple[str, ...]:
        """Required members followed by every pool member (no repeats)."""
        seen = dict.fromkeys(self.members)
        for pool in self.pools:
            seen.update(dict.fromkeys(pool))
        return tuple(seen)
