"""Read calendars in a process of their own, with limits on memory and time.

A calendar is someone else's data: a 10 MB export of years of meetings, or a file made to be
hostile. Reading one must neither hold up other calendars nor exhaust the process that serves
customers and schedulers. So every read (:func:`read`) happens in a child process
(:mod:`booking_service.core.sandbox`, which also bounds every call to an outside server):

- no calendar waits for another's read: each read has its own process, and two cores read
  two calendars at once (there is no lock between reads, here or in :mod:`.ics`);
- a read may use :data:`MEMORY_LIMIT` bytes of memory, :data:`CPU_SECONDS` of processor
  time and :data:`WALL_SECONDS` on the clock; beyond any of them it is stopped and reported as
  a :class:`~.ics.CalendarParseError` that says so, and the process that asked is unharmed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Sequence

from ..core import sandbox
from ..core.sandbox import MemoryLimitExceeded, SandboxError, Usage, peak_rss_bytes
from .ics import CalendarParseError, CalendarReading, read_calendars

__all__ = ["CPU_SECONDS", "MEMORY_LIMIT", "WALL_SECONDS", "Usage", "peak_rss_bytes", "read", "read_with_usage"]

MEMORY_LIMIT = 1024 * 1024 * 1024
"""Bytes of address space one read may add to the helper's (1 GiB; a 10 MB file of 50,000
events needs well under 100 MB)."""

CPU_SECONDS = 60
"""Processor seconds one read may use (a 50,000-event file takes a few)."""

WALL_SECONDS = 120
"""Seconds one read may take on the clock, however busy the machine."""

# Children start with the reader and its libraries already imported.
sandbox.preload(read_calendars.__module__)


def read(
    texts: Sequence[bytes | str],
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> CalendarReading:
    """:func:`.ics.read_calendars` in a child process with limits (same parameters).

    Raises
    ------
    CalendarParseError
        What the reader raises, or that the read went over a limit.
    ValueError
        For a bad zone or window (checked here, before any process is involved).
    """
    return read_with_usage(
        texts, zone=zone, window_start=window_start, window_end=window_end, ignore_uids=ignore_uids
    )[0]


def read_with_usage(
    texts: Sequence[bytes | str],
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> tuple[CalendarReading, Usage]:
    """:func:`read`, and what the read cost (for benchmarks and logs)."""
    # The cheap argument checks happen here, so that a programming error is a ValueError in
    # the caller's process rather than a calendar error.
    read_calendars([], zone=zone, window_start=window_start, window_end=window_end)
    try:
        return sandbox.call_with_usage(
            read_calendars,
            (tuple(texts),),
            {"zone": zone, "window_start": window_start, "window_end": window_end, "ignore_uids": frozenset(ignore_uids)},
            seconds=WALL_SECONDS,
            cpu_seconds=CPU_SECONDS,
            memory_bytes=MEMORY_LIMIT,
        )
    except MemoryLimitExceeded:
        raise CalendarParseError(
            f"reading the calendar needs more than {MEMORY_LIMIT // 2**20:,} MB of memory; the file "
            "is too large or malformed (shorten the exported date range)"
        ) from None
    except SandboxError:
        raise CalendarParseError(
            f"reading the calendar was stopped: it needed more than {CPU_SECONDS} s of processor "
            f"time, {WALL_SECONDS} s in all or {MEMORY_LIMIT // 2**20:,} MB of memory; the file is "
            "too large or malformed (shorten the exported date range)"
        ) from None
