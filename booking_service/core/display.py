"""How instants read for people: in a named zone, with the zone's name, same text in pages and mail.

Instants are UTC everywhere else; this module is the edge where they become wall-clock text. A
time shown to a person always carries the zone it is shown in (DESIGN.md "Time").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name the system knows, sorted (the customer's zone list)."""
    return tuple(sorted(available_timezones()))


@lru_cache(maxsize=1)
def _zone_set() -> frozenset[str]:
    return frozenset(zone_names())


def is_zone(name: str) -> bool:
    """True when ``name`` is a known IANA zone (``"Europe/Berlin"``)."""
    return name in _zone_set()


def local(instant: dt.datetime, zone: str) -> dt.datetime:
    """``instant`` as wall-clock time in ``zone``."""
    return instant.astimezone(ZoneInfo(zone))


def format_day(day: dt.date) -> str:
    """``"Tuesday 1 December 2026"``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def format_time(instant: dt.datetime, zone: str) -> str:
    """``"09:30"`` in ``zone``."""
    return f"{local(instant, zone):%H:%M}"


def format_when(start: dt.datetime, end: dt.datetime, zone: str) -> str:
    """``"Tuesday 1 December 2026, 09:30–10:00 (Europe/Berlin)"``.

    A meeting that ends on another local date names both dates.
    """
    a, b = local(start, zone), local(end, zone)
    if a.date() == b.date() or (b - dt.timedelta(microseconds=1)).date() == a.date():
        return f"{format_day(a.date())}, {a:%H:%M}–{b:%H:%M} ({zone})"
    return f"{format_day(a.date())} {a:%H:%M} – {format_day(b.date())} {b:%H:%M} ({zone})"


def format_duration(minutes: int) -> str:
    """``"1 hour 30 minutes"``."""
    hours, rest = divmod(int(minutes), 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour" + ("s" if hours != 1 else ""))
    if rest or not hours:
        parts.append(f"{rest} minute" + ("s" if rest != 1 else ""))
    return " ".join(parts)


def iso_utc(instant: dt.datetime) -> str:
    """The form used in links: ``"2026-12-01T09:30:00Z"``."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant with a zone offset (``Z`` or ``+01:00``) into UTC.

    Raises
    ------
    ValueError
        If ``text`` is not ISO 8601 or has no offset (a wall time without a zone is ambiguous).
    """
    if not text or len(text) > 40:
        raise ValueError(f"start {text!r} is not an ISO 8601 instant like 2026-12-01T09:30:00Z")
    try:
        value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"start {text!r} is not an ISO 8601 instant like 2026-12-01T09:30:00Z") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"start {text!r} has no zone offset; add Z or +01:00")
    if not 1971 <= value.year <= 2200:
        # Far outside any frame, and outside what pandas timestamps can hold.
        raise ValueError(f"start {text!r} is not a plausible meeting time")
    return value.astimezone(dt.UTC)
