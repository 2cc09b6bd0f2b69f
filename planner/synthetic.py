"""Synthetic organisations: realistic members, rooms, pools, hours and calendars.

:func:`generate_organisation` builds a whole organisation as the planner's input
tables (see the planner data contract): members spread over many IANA zones
(half-hour and 45-minute offsets included), weekly working hours with some
variety, rooms with capacities and opening hours, resource pools, and busy
blocks that look like real calendars (daily stand-ups, lunches, meetings of
various lengths, some with minute-level edges, a few all-day absences).

It is deterministic for a seed and vectorized, so the same function seeds the
demo database (a dozen members) and the benchmarks (a thousand members and
two hundred rooms over 90 days, about 300,000 busy blocks) in well under a
second.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.errors import PlannerInputError
from planner.zones import NS_PER_MINUTE, check_zone, wall_to_utc

__all__ = ["DEFAULT_ZONES", "Organisation", "generate_organisation"]

#: Zones members and rooms are spread over by default: the Americas, Europe,
#: Africa, Asia and Oceania, including +5:30 (Asia/Kolkata), +5:45
#: (Asia/Kathmandu), -3:30/-2:30 (America/St_Johns) and the half-hour DST
#: shift of Australia/Lord_Howe.
DEFAULT_ZONES: tuple[str, ...] = (
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Tokyo",
    "America/Chicago",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Asia/Singapore",
    "Australia/Sydney",
    "Pacific/Auckland",
)

_FIRST_NAMES = (
    "Ada",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Farah",
    "Gustav",
    "Hana",
    "Ines",
    "Jonas",
    "Kavya",
    "Liam",
    "Maya",
    "Nikhil",
    "Olga",
    "Pablo",
    "Qing",
    "Rosa",
    "Sanjay",
    "Tomoko",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Arjun",
    "Beatriz",
    "Carlos",
    "Dorothea",
    "Elif",
    "Femi",
    "Grace",
    "Hiro",
    "Isla",
    "Jamal",
    "Kirsten",
    "Luca",
    "Mei",
    "Nadia",
)
_LAST_NAMES = (
    "Okafor",
    "Schmidt",
    "Tanaka",
    "Sharma",
    "Silva",
    "Dubois",
    "Novak",
    "Kim",
    "Haddad",
    "Larsen",
    "Moreau",
    "Rossi",
    "Nguyen",
    "Kowalski",
    "Adeyemi",
    "Fischer",
    "Gupta",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Murphy",
    "Nakamura",
    "Olsen",
    "Petrov",
    "Quinn",
    "Reyes",
    "Sato",
    "Thapa",
    "Usman",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Baker",
    "Costa",
    "Diaz",
    "Evans",
    "Ferreira",
)
_POOL_NAMES = ("Sales", "Support", "Solutions", "Onboarding", "Success", "Engineering", "Legal", "Finance")

# Weekly working-hour patterns for members: list of (start, end) minutes per
# weekday Mon-Fri, with the probability of each pattern.
_MEMBER_PATTERNS: tuple[tuple[tuple[tuple[int, int], ...], float], ...] = (
    (((540, 1020),), 0.55),  # 09:00-17:00
    (((480, 960),), 0.15),  # 08:00-16:00
    (((600, 1080),), 0.15),  # 10:00-18:00
    (((540, 720), (780, 1080)), 0.10),  # 09:00-12:00, 13:00-18:00 (split shift)
    (((510, 990),), 0.05),  # 08:30-16:30
)
# Opening hours for rooms (every weekday).
_ROOM_PATTERNS: tuple[tuple[tuple[int, int], float], ...] = (
    ((420, 1140), 0.5),  # 07:00-19:00
    ((480, 1080), 0.3),  # 08:00-18:00
    ((360, 1320), 0.1),  # 06:00-22:00
    ((0, 1440), 0.1),  # around the clock
)
_ROOM_CAPACITIES = np.array([2, 4, 4, 6, 6, 8, 10, 12, 16, 20, 40])
_MEETING_MINUTES = np.array([15, 30, 30, 30, 45, 60, 60, 60, 90, 120])
_MINUTE_EDGE_MINUTES = np.array([5, 7, 10, 20, 25, 50, 55])


@dataclass(frozen=True)
class Organisation:
    """A synthetic organisation as the planner's input tables.

    Attributes
    ----------
    resources : pandas.DataFrame
        Columns ``resource_id`` (str), ``kind`` ("member" or "room"), ``zone``
        (IANA name), ``capacity`` (int64; 1 for members), ``name`` (str) and
        ``email`` (str for members, missing for rooms).
    hours : pandas.DataFrame
        Columns ``resource_id``, ``weekday`` (0=Monday), ``start``, ``end``
        (int64 minutes after local midnight).
    overrides : pandas.DataFrame
        Columns ``resource_id``, ``date`` (datetime.date, local), ``start``,
        ``end`` (Int64 minutes, both missing = unavailable all day).
    busy : pandas.DataFrame
        Columns ``resource_id``, ``start``, ``end`` (datetime64[ns, UTC],
        half-open) and ``source`` ("calendar"), sorted by resource and start.
    pools : pandas.DataFrame
        Columns ``pool_id``, ``name``, ``member_id``: one row per pool member.
    """

    resources: pd.DataFrame
    hours: pd.DataFrame
    overrides: pd.DataFrame
    busy: pd.DataFrame
    pools: pd.DataFrame

    @property
    def member_ids(self) -> list[str]:
        """Resource ids of the members, in table order."""
        return self.resources.loc[self.resources["kind"] == "member", "resource_id"].tolist()

    @property
    def room_ids(self) -> list[str]:
        """Resource ids of the rooms, in table order."""
        return self.resources.loc[self.resources["kind"] == "room", "resource_id"].tolist()

    def pool_members(self, pool_id: str) -> tuple[str, ...]:
        """Member ids of one pool, in table order."""
        rows = self.pools.loc[self.pools["pool_id"] == pool_id, "member_id"]
        if rows.empty:
            raise PlannerInputError(
                f"unknown pool_id {pool_id!r}; known: {sorted(set(self.pools['pool_id']))}"
            )
        return tuple(rows.tolist())


def generate_organisation(
    n_members: int = 12,
    n_rooms: int = 5,
    start_date: dt.date = dt.date(2026, 10, 5),
    days: int = 56,
    seed: int = 0,
    *,
    zones: Sequence[str] = DEFAULT_ZONES,
    room_zones: Sequence[str] | None = None,
    n_pools: int = 2,
    pool_size: int = 5,
    busy_per_week: float = 20.0,
    absence_rate: float = 0.02,
    minute_edge_share: float = 0.1,
) -> Organisation:
    """Generate a realistic organisation, deterministic for ``seed``.

    Parameters
    ----------
    n_members, n_rooms : int
        Number of team members (ids ``m0000``...) and rooms (ids ``r000``...).
    start_date : datetime.date
        First local date with busy blocks.
    days : int
        Number of local dates with busy blocks (calendar days, weekends included).
    seed : int
        Seed of the random generator; the same arguments give the same tables.
    zones : sequence of str
        IANA zones members are spread over, round-robin in a seeded order, so
        every zone is used once ``n_members >= len(zones)``.
    room_zones : sequence of str, optional
        Zones of the offices holding the rooms; default: the first three of ``zones``.
    n_pools, pool_size : int
        Number of resource pools and members per pool (capped at ``n_members``).
    busy_per_week : float
        Mean number of busy blocks per resource per week (stand-ups and lunches
        included for members).
    absence_rate : float
        Probability that a member is away a whole weekday; half of the absences
        are date overrides (unavailable), half all-day busy blocks.
    minute_edge_share : float
        Share of meetings whose start and length are not on a 5-minute grid.

    Returns
    -------
    Organisation
        The tables ``resources``, ``hours``, ``overrides``, ``busy``, ``pools``.

    Raises
    ------
    PlannerInputError
        For negative sizes, an unknown zone, or rates outside [0, 1].
    """
    for label, value in (
        ("n_members", n_members),
        ("n_rooms", n_rooms),
        ("days", days),
        ("n_pools", n_pools),
    ):
        if int(value) < 0:
            raise PlannerInputError(f"{label} must be >= 0, got {value!r}")
    if not 0 <= absence_rate <= 1 or not 0 <= minute_edge_share <= 1:
        raise PlannerInputError(
            f"absence_rate and minute_edge_share must lie in [0, 1], got {absence_rate!r}, {minute_edge_share!r}"
        )
    if busy_per_week < 0:
        raise PlannerInputError(f"busy_per_week must be >= 0, got {busy_per_week!r}")
    if not zones:
        raise PlannerInputError("zones must name at least one IANA zone")
    zones = tuple(zones)
    for zone in zones:
        check_zone(zone, "zones")
    room_zones = tuple(room_zones) if room_zones is not None else zones[:3]
    for zone in room_zones:
        check_zone(zone, "room_zones")

    rng = np.random.default_rng(seed)

    # --- resources -------------------------------------------------------
    member_ids = np.array([f"m{i:04d}" for i in range(n_members)], dtype=object)
    room_ids = np.array([f"r{i:03d}" for i in range(n_rooms)], dtype=object)
    member_zone_idx = np.arange(n_members) % len(zones)
    member_zone_idx = member_zone_idx[rng.permutation(n_members)]
    combos = rng.permutation(len(_FIRST_NAMES) * len(_LAST_NAMES))
    first = [_FIRST_NAMES[combos[i % combos.size] // len(_LAST_NAMES)] for i in range(n_members)]
    last = [_LAST_NAMES[combos[i % combos.size] % len(_LAST_NAMES)] for i in range(n_members)]
    wrap = [i // combos.size for i in range(n_members)]
    names = [f"{f} {s}" + (f" {w + 1}" if w else "") for f, s, w in zip(first, last, wrap, strict=True)]
    emails = [
        f"{f}.{s}{w + 1 if w else ''}@example.com".lower() for f, s, w in zip(first, last, wrap, strict=True)
    ]
    room_zone_idx = np.arange(n_rooms) % len(room_zones)
    room_caps = rng.choice(_ROOM_CAPACITIES, size=n_rooms)
    room_names = [
        f"{room_zones[z].split('/')[-1].replace('_', ' ')} {chr(ord('A') + i % 26)}{i // 26 or ''}"
        for i, z in enumerate(room_zone_idx)
    ]
    resources = pd.DataFrame(
        {
            "resource_id": pd.array(list(member_ids) + list(room_ids), dtype="str"),
            "kind": pd.array(["member"] * n_members + ["room"] * n_rooms, dtype="str"),
            "zone": pd.array(
                [zones[i] for i in member_zone_idx] + [room_zones[i] for i in room_zone_idx], dtype="str"
            ),
            "capacity": np.concatenate([np.ones(n_members, dtype=np.int64), room_caps.astype(np.int64)]),
            "name": pd.array(names + room_names, dtype="str"),
            "email": pd.array(emails + [None] * n_rooms, dtype="str"),
        }
    )

    # --- weekly hours ------------------------------------------------------
    pattern_p = np.array([p for _, p in _MEMBER_PATTERNS])
    member_pattern = rng.choice(len(_MEMBER_PATTERNS), size=n_members, p=pattern_p / pattern_p.sum())
    room_p = np.array([p for _, p in _ROOM_PATTERNS])
    room_pattern = rng.choice(len(_ROOM_PATTERNS), size=n_rooms, p=room_p / room_p.sum())
    h_res, h_wd, h_start, h_end = [], [], [], []
    for i, pat in enumerate(member_pattern):
        for wd in range(5):
            for start, end in _MEMBER_PATTERNS[pat][0]:
                h_res.append(member_ids[i])
                h_wd.append(wd)
                h_start.append(start)
                h_end.append(end)
    for i, pat in enumerate(room_pattern):
        start, end = _ROOM_PATTERNS[pat][0]
        for wd in range(5):
            h_res.append(room_ids[i])
            h_wd.append(wd)
            h_start.append(start)
            h_end.append(end)
    hours = pd.DataFrame(
        {
            "resource_id": pd.array(h_res, dtype="str"),
            "weekday": np.array(h_wd, dtype=np.int64),
            "start": np.array(h_start, dtype=np.int64),
            "end": np.array(h_end, dtype=np.int64),
        }
    )

    # Day start/end (first and last working minute) per member, for placing meetings.
    day_first = np.array([_MEMBER_PATTERNS[p][0][0][0] for p in member_pattern], dtype=np.int64)
    day_last = np.array([_MEMBER_PATTERNS[p][0][-1][1] for p in member_pattern], dtype=np.int64)
    room_first = np.array([_ROOM_PATTERNS[p][0][0] for p in room_pattern], dtype=np.int64)
    room_last = np.array([_ROOM_PATTERNS[p][0][1] for p in room_pattern], dtype=np.int64)

    # --- calendars -----------------------------------------------------------
    dates = pd.date_range(start_date, periods=days, freq="D")
    day_numbers = (dates.values.astype("datetime64[D]").astype(np.int64)) if days else np.zeros(0, np.int64)
    weekdays = dates.day_of_week.to_numpy() if days else np.zeros(0, np.int64)
    workday_numbers = day_numbers[weekdays < 5]
    n_work = workday_numbers.size

    # (resource index, local day number, local start minute, length minutes)
    parts_res: list[np.ndarray] = []
    parts_day: list[np.ndarray] = []
    parts_start: list[np.ndarray] = []
    parts_len: list[np.ndarray] = []

    def add(res: np.ndarray, day: np.ndarray, start: np.ndarray, length: np.ndarray) -> None:
        parts_res.append(res.astype(np.int64))
        parts_day.append(day.astype(np.int64))
        parts_start.append(start.astype(np.int64))
        parts_len.append(length.astype(np.int64))

    if n_members and n_work:
        grid_res = np.repeat(np.arange(n_members), n_work)
        grid_day = np.tile(workday_numbers, n_members)
        first_min = day_first[grid_res]
        last_min = day_last[grid_res]
        # Daily stand-up: 15 minutes, same local time every working day.
        standup_offset = rng.choice(np.array([15, 30, 60]), size=n_members)
        add(grid_res, grid_day, first_min + standup_offset[grid_res], np.full(grid_res.size, 15))
        # Lunch on four days out of five: 30-60 minutes around noon.
        lunch_start = rng.choice(np.array([720, 735, 750]), size=n_members)
        lunch_len = rng.choice(np.array([30, 45, 60]), size=n_members)
        has_lunch = rng.random(grid_res.size) < 0.8
        add(
            grid_res[has_lunch],
            grid_day[has_lunch],
            lunch_start[grid_res][has_lunch],
            lunch_len[grid_res][has_lunch],
        )
        # Other meetings, Poisson per working day, inside the working day.
        per_day = max(busy_per_week - 5 - 4, 0.0) / 5
        _add_meetings(rng, add, grid_res, grid_day, first_min, last_min, per_day, minute_edge_share)
    if n_rooms and n_work:
        grid_res = np.repeat(np.arange(n_rooms), n_work)
        grid_day = np.tile(workday_numbers, n_rooms)
        _add_meetings(
            rng,
            add,
            grid_res + n_members,
            grid_day,
            room_first[grid_res],
            room_last[grid_res],
            busy_per_week / 5,
            minute_edge_share,
        )

    # All-day absences: half as overrides (unavailable), half as busy blocks.
    ov_res = np.zeros(0, np.int64)
    ov_day = np.zeros(0, np.int64)
    if n_members and n_work:
        grid_res = np.repeat(np.arange(n_members), n_work)
        grid_day = np.tile(workday_numbers, n_members)
        away = rng.random(grid_res.size) < absence_rate
        as_override = rng.random(grid_res.size) < 0.5
        ov_res, ov_day = grid_res[away & as_override], grid_day[away & as_override]
        busy_res, busy_day = grid_res[away & ~as_override], grid_day[away & ~as_override]
        all_day = np.full(busy_res.size, -1)  # marker: local midnight to next local midnight
        add(busy_res, busy_day, np.zeros(busy_res.size), all_day)

    res = np.concatenate(parts_res) if parts_res else np.zeros(0, np.int64)
    day = np.concatenate(parts_day) if parts_day else np.zeros(0, np.int64)
    start_min = np.concatenate(parts_start) if parts_start else np.zeros(0, np.int64)
    length = np.concatenate(parts_len) if parts_len else np.zeros(0, np.int64)

    zone_of_res = np.array(resources["zone"].tolist(), dtype=object)
    start_ns = np.empty(res.size, np.int64)
    end_ns = np.empty(res.size, np.int64)
    if res.size:
        wall_start = day * 1440 + start_min
        for zone in np.unique(zone_of_res[res]):
            sel = zone_of_res[res] == zone
            start_ns[sel] = wall_to_utc(wall_start[sel], str(zone), side="start")
            all_day_sel = sel & (length < 0)
            if all_day_sel.any():
                end_ns[all_day_sel] = wall_to_utc((day[all_day_sel] + 1) * 1440, str(zone), side="end")
        timed = length >= 0
        end_ns[timed] = start_ns[timed] + length[timed] * NS_PER_MINUTE

    order = np.lexsort((end_ns, start_ns, res))
    res, start_ns, end_ns = res[order], start_ns[order], end_ns[order]
    all_ids = np.concatenate([member_ids, room_ids])
    busy = pd.DataFrame(
        {
            "resource_id": pd.array(all_ids[res].tolist() if res.size else [], dtype="str"),
            "start": pd.DatetimeIndex(start_ns.view("datetime64[ns]")).tz_localize("UTC"),
            "end": pd.DatetimeIndex(end_ns.view("datetime64[ns]")).tz_localize("UTC"),
            "source": pd.array(["calendar"] * res.size, dtype="str"),
        }
    )

    ov_order = np.lexsort((ov_day, ov_res))
    overrides = pd.DataFrame(
        {
            "resource_id": pd.array(
                member_ids[ov_res[ov_order]].tolist() if ov_res.size else [], dtype="str"
            ),
            "date": pd.Series(
                [dt.date.fromordinal(int(d) + _EPOCH_ORDINAL) for d in ov_day[ov_order]], dtype=object
            ),
            "start": pd.array([pd.NA] * ov_res.size, dtype="Int64"),
            "end": pd.array([pd.NA] * ov_res.size, dtype="Int64"),
        }
    )

    # --- pools -----------------------------------------------------------------
    size = min(pool_size, n_members)
    pool_rows: list[tuple[str, str, str]] = []
    for k in range(n_pools if size else 0):
        chosen = np.sort(rng.choice(n_members, size=size, replace=False))
        name = _POOL_NAMES[k % len(_POOL_NAMES)] + (
            f" {k // len(_POOL_NAMES) + 1}" if k >= len(_POOL_NAMES) else ""
        )
        pool_rows.extend((f"p{k}", name, str(member_ids[i])) for i in chosen)
    pools = pd.DataFrame(
        {
            "pool_id": pd.array([r[0] for r in pool_rows], dtype="str"),
            "name": pd.array([r[1] for r in pool_rows], dtype="str"),
            "member_id": pd.array([r[2] for r in pool_rows], dtype="str"),
        }
    )
    return Organisation(resources=resources, hours=hours, overrides=overrides, busy=busy, pools=pools)


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _add_meetings(
    rng: np.random.Generator,
    add,
    res: np.ndarray,
    day: np.ndarray,
    first_min: np.ndarray,
    last_min: np.ndarray,
    per_day: float,
    minute_edge_share: float,
) -> None:
    """Add Poisson(``per_day``) meetings per (resource, day) inside [first_min, last_min)."""
    counts = rng.poisson(per_day, size=res.size)
    res = np.repeat(res, counts)
    day = np.repeat(day, counts)
    first_min = np.repeat(first_min, counts)
    last_min = np.repeat(last_min, counts)
    n = res.size
    length = rng.choice(_MEETING_MINUTES, size=n)
    odd = rng.random(n) < minute_edge_share
    length[odd] = rng.choice(_MINUTE_EDGE_MINUTES, size=int(odd.sum())) + rng.choice(
        np.array([0, 30, 60]), size=int(odd.sum())
    )
    latest = np.maximum(last_min - length, first_min)
    # Starts on the quarter hour, or on any minute for the minute-edge share.
    slots = (latest - first_min) // 15 + 1
    start = first_min + (rng.random(n) * slots).astype(np.int64) * 15
    start[odd] = first_min[odd] + (rng.random(int(odd.sum())) * (latest[odd] - first_min[odd] + 1)).astype(
        np.int64
    )
    add(res, day, start, length)
