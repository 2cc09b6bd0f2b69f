"""Read iCalendar data (RFC 5545) into busy intervals.

This is the one place that turns a calendar people keep elsewhere (an uploaded ``.ics``
file, an ``http(s)`` subscription, a CalDAV time-range report) into the busy time the
planner reads. It does no I/O and touches no database: it takes bytes and returns
UTC intervals.

What counts as busy (DESIGN.md, slot semantics rule 5):

- every ``VEVENT`` occurrence in the window, expanded with ``recurring-ical-events``
  (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides that move, resize or cancel one
  occurrence of a series);
- except occurrences marked ``TRANSP:TRANSPARENT`` or ``STATUS:CANCELLED``;
  ``STATUS:TENTATIVE`` counts as busy; zero-length events block nothing;
- all-day events (``DATE`` values) block the member's whole local day(s), from local
  midnight of the first day to local midnight after the last, in the member's zone;
- floating times (no ``TZID``, no ``Z``) are read in the member's zone;
- ``TZID`` values are resolved per calendar: a ``VTIMEZONE`` in the file is honoured,
  otherwise IANA names and the Windows zone names Outlook and Exchange write
  ("W. Europe Standard Time") are looked up with ``icalendar``'s CLDR-based mapping;
- times in UTC in a calendar that declares ``X-WR-TIMEZONE`` (Google) recur in that zone,
  as ``x-wr-timezone`` defines.

A calendar the reader cannot trust raises :class:`CalendarParseError`, which names the
line and property when they are known. Only the parts that can produce busy time are
checked: a broken ``VTODO`` or a broken property of a transparent event does not refuse
an otherwise good calendar.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import zoneinfo
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.timezone import tzp

__all__ = [
    "CalendarParseError",
    "Interval",
    "busy_intervals",
    "merge_intervals",
    "parse_calendar",
]

Interval = tuple[dt.datetime, dt.datetime]
"""A half-open busy interval ``[start, end)``, both tz-aware UTC."""

UTC = dt.UTC

MAX_OCCURRENCES = 20_000
"""Most event occurrences read from one calendar over a sync window (a guard against runaway
rules; a very busy person has a few thousand in a year)."""

# Date-time properties whose TZID must resolve for an event to be read correctly.
_DATETIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")

# icalendar keeps one process-wide cache of the VTIMEZONEs it has seen, keyed by TZID.
# Without care, a custom "Customized Time Zone" defined by one calendar would be used to
# read another calendar that names it without defining it. Each parse therefore clears
# the cache under this lock, so a calendar is read with its own VTIMEZONEs only.
_PARSE_LOCK = threading.Lock()


class CalendarParseError(ValueError):
    """A calendar that cannot be read into busy time.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do about it.
    line : int or None
        1-based line number in the calendar data where the problem is, when known.
    property : str or None
        Name of the offending iCalendar property (``"DTSTART"``), when known.
    """

    def __init__(self, message: str, *, line: int | None = None, property: str | None = None) -> None:
        self.line = line
        self.property = property
        where = []
        if line is not None:
            where.append(f"line {line}")
        if property is not None:
            where.append(property)
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


@dataclass(frozen=True)
class _SourceLine:
    """One unfolded content line and the physical line number it starts on."""

    number: int
    text: str

    @property
    def name(self) -> str:
        """Property name (the part before the first ``;`` or ``:``), upper case."""
        return re.split(r"[;:]", self.text, maxsplit=1)[0].strip().upper()


def _source_lines(text: str) -> list[_SourceLine]:
    """Unfold content lines (RFC 5545 section 3.1), keeping their starting line number.

    Accepts CRLF and bare LF line ends: many stored calendars use LF.
    """
    lines: list[_SourceLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and lines:
            previous = lines[-1]
            lines[-1] = _SourceLine(previous.number, previous.text + raw[1:])
        else:
            lines.append(_SourceLine(number, raw))
    return lines


def _event_blocks(lines: Sequence[_SourceLine]) -> list[list[_SourceLine]]:
    """The content lines of each ``VEVENT``, in document order.

    ``icalendar``'s ``walk("VEVENT")`` yields events in the same order, so the n-th
    block belongs to the n-th parsed event; that is how an error found on a parsed
    event is traced back to a line.
    """
    blocks: list[list[_SourceLine]] = []
    current: list[_SourceLine] | None = None
    for line in lines:
        upper = line.text.strip().upper()
        if upper == "BEGIN:VEVENT":
            current = [line]
        elif upper == "END:VEVENT" and current is not None:
            current.append(line)
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


# Components that can carry busy time or the zones to read it; everything else in a
# VCALENDAR (VTODO, VJOURNAL, VFREEBUSY, X- components) is dropped before parsing, so
# that a broken to-do cannot refuse a calendar whose events are fine.
_READ_COMPONENTS = frozenset({"VEVENT", "VTIMEZONE"})


def _relevant_text(lines: Sequence[_SourceLine]) -> str:
    """The calendar re-serialised with only the components busy time depends on."""
    kept: list[str] = []
    depth = 0
    skipping: str | None = None  # name of the top-level component being dropped
    for line in lines:
        upper = line.text.strip().upper()
        if upper.startswith("BEGIN:"):
            depth += 1
            name = upper[len("BEGIN:") :]
            if depth == 2 and skipping is None and name not in _READ_COMPONENTS:
                skipping = name
        if skipping is None:
            kept.append(line.text)
        if upper.startswith("END:"):
            if depth == 2 and skipping is not None and upper == f"END:{skipping}":
                skipping = None
            depth -= 1
    return "\r\n".join(kept) + "\r\n"


def _check_nesting(lines: Sequence[_SourceLine]) -> None:
    """Refuse components that are not closed, or closed by the wrong END line.

    A truncated download (a feed cut off mid-way) looks like this; reading it would
    silently lose every event after the cut.
    """
    stack: list[tuple[str, int]] = []
    for line in lines:
        upper = line.text.strip().upper()
        if upper.startswith("BEGIN:"):
            stack.append((upper[len("BEGIN:") :], line.number))
        elif upper.startswith("END:"):
            name = upper[len("END:") :]
            if not stack or stack[-1][0] != name:
                expected = f"END:{stack[-1][0]}" if stack else "no END line"
                raise CalendarParseError(
                    f"END:{name} where {expected} was expected", line=line.number, property="END"
                )
            stack.pop()
    if stack:
        name, number = stack[-1]
        raise CalendarParseError(
            f"BEGIN:{name} is never closed (the data may be cut off)", line=number, property="BEGIN"
        )


def _line_quoted_by(lines: Sequence[_SourceLine], message: str) -> _SourceLine | None:
    """The content line whose value a parser error message quotes, if any.

    ``icalendar`` names the bad value ("Wrong datetime format: 2024-13-01") but not
    its line; the first line holding that value is almost always the culprit.
    """
    _, sep, quoted = message.rpartition(": ")
    quoted = quoted.strip().strip("'\"")
    if not sep or len(quoted) < 3:
        return None
    for line in lines:
        if quoted in line.text:
            return line
    return None


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Old producers (Lotus Notes, Outlook 2003) write Windows-1252; no byte
        # sequence is invalid there, so this cannot fail.
        return data.decode("cp1252", errors="replace")


def _zone(zone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{zone!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from error


def parse_calendar(data: bytes | str) -> list[icalendar.Calendar]:
    """Parse iCalendar data, resolving each ``TZID`` with this calendar's own zones.

    Parameters
    ----------
    data : bytes or str
        The calendar text (CRLF or LF line ends; UTF-8, or Windows-1252 from old
        producers).

    Returns
    -------
    list of icalendar.Calendar
        The ``VCALENDAR`` objects in the data (almost always exactly one).

    Raises
    ------
    CalendarParseError
        If the data is not iCalendar at all, or a line cannot be split into a property.
    """
    text = _decode(data)
    if "BEGIN:VCALENDAR" not in text.upper():
        snippet = text.strip()[:60].replace("\n", " ")
        raise CalendarParseError(
            f"this is not iCalendar data (no BEGIN:VCALENDAR); it starts with {snippet!r}"
        )
    lines = _source_lines(text)
    _check_nesting(lines)
    text = _relevant_text(lines)
    with _PARSE_LOCK:
        tzp.use_zoneinfo()  # forget VTIMEZONEs cached from earlier calendars
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
            upper = text.upper()
            first_event = upper.find("BEGIN:VEVENT")
            if 0 <= first_event < upper.rfind("BEGIN:VTIMEZONE"):
                # A VTIMEZONE after the events that use it (iCloud writes them last)
                # is only known once it has been read: read the calendar again.
                calendars = icalendar.Calendar.from_ical(text, multiple=True)
        except ValueError as error:
            culprit = _line_quoted_by(lines, str(error))
            raise CalendarParseError(
                f"cannot parse the calendar: {error}",
                line=culprit.number if culprit else None,
                property=culprit.name if culprit else None,
            ) from error
        finally:
            tzp.use_zoneinfo()
    if not calendars:
        raise CalendarParseError("the data holds no VCALENDAR component")
    return calendars


def _blocks_time(event: icalendar.Event) -> bool:
    """Whether this component, by its own properties, can make anyone busy."""
    transparent = str(event.get("TRANSP", "OPAQUE")).strip().upper() == "TRANSPARENT"
    cancelled = str(event.get("STATUS", "")).strip().upper() == "CANCELLED"
    return not (transparent or cancelled)


def _property_line(block: Sequence[_SourceLine] | None, name: str) -> int | None:
    if not block:
        return None
    for line in block:
        if line.name == name:
            return line.number
    return block[0].number


def _tzid_values(value: object) -> Iterable[object]:
    """The date/date-time values of a property (lists for EXDATE/RDATE)."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        dts = getattr(item, "dts", None)
        if dts is not None:  # vDDDLists
            for ddd in dts:
                yield ddd.dt
        else:
            yield getattr(item, "dt", None)


def _check_event(event: icalendar.Event, block: Sequence[_SourceLine] | None) -> None:
    """Refuse an event whose busy time cannot be read correctly."""
    for name, message in getattr(event, "errors", []):
        prop = str(name).upper() if name else None
        raise CalendarParseError(
            f"cannot read the event {str(event.get('UID', '?'))!r}: {message}",
            line=_property_line(block, prop) if prop else _property_line(block, ""),
            property=prop,
        )
    if "DTSTART" not in event:
        raise CalendarParseError(
            f"the event {str(event.get('UID', '?'))!r} has no DTSTART",
            line=_property_line(block, "BEGIN"),
            property="DTSTART",
        )
    uid = str(event.get("UID", "?"))
    rules = event.get("RRULE", [])
    for rule in rules if isinstance(rules, list) else [rules]:
        frequency = rule.get("FREQ")
        if not frequency:
            raise CalendarParseError(
                f"the event {uid!r} has an RRULE without FREQ",
                line=_property_line(block, "RRULE"),
                property="RRULE",
            )
        if str(frequency[0]).upper() in ("SECONDLY", "MINUTELY"):
            raise CalendarParseError(
                f"the event {uid!r} repeats {str(frequency[0]).lower()}; meetings do not, and expanding "
                "it would take too long",
                line=_property_line(block, "RRULE"),
                property="RRULE",
            )
    start, end = event.get("DTSTART"), event.get("DTEND")
    if (
        end is not None
        and type(start.dt) is type(end.dt)
        and _comparable(start.dt, end.dt)
        and end.dt < start.dt
    ):
        raise CalendarParseError(
            f"the event {uid!r} ends ({end.to_ical().decode()}) before it starts ({start.to_ical().decode()})",
            line=_property_line(block, "DTEND"),
            property="DTEND",
        )
    for name in _DATETIME_PROPERTIES:
        if name not in event:
            continue
        values = event[name] if isinstance(event[name], list) else [event[name]]
        for value in values:
            tzid = getattr(value, "params", {}).get("TZID")
            if tzid is None:
                continue
            for moment in _tzid_values(value):
                period_start = moment[0] if isinstance(moment, tuple) else moment
                if isinstance(period_start, dt.datetime) and period_start.tzinfo is None:
                    raise CalendarParseError(
                        f"TZID {tzid!r} is neither defined by a VTIMEZONE in this "
                        "calendar nor a known IANA or Windows time zone name; the "
                        "producer must include its VTIMEZONE or use a standard "
                        "zone name",
                        line=_property_line(block, name),
                        property=name,
                    )


def _comparable(a: dt.date, b: dt.date) -> bool:
    """Whether two values of one type can be ordered (not one floating, one aware)."""
    if isinstance(a, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None)
    return True


class _FloatingToZone(x_wr_timezone.CalendarWalker):
    """Give floating date-times (no TZID, no Z) the member's zone.

    Dates (all-day values) stay dates; they are turned into local midnights later.
    """

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz

    def walk_value_datetime(self, value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=self.tz) if value.tzinfo is None else value

    def walk_value_tuple(self, value: tuple) -> tuple:
        # RDATE;VALUE=PERIOD: (start, end) or (start, duration)
        return tuple(self.walk_value(part) for part in value)


def _instant(value: dt.date | dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """An occurrence boundary as a UTC instant: dates mean local midnight in ``tz``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return value.astimezone(UTC)
    # Where DST starts at midnight (America/Santiago) local midnight does not exist;
    # zoneinfo then reads it with the offset before the change, which is the instant
    # the day really starts (01:00 new time).
    return dt.datetime.combine(value, dt.time(0), tzinfo=tz).astimezone(UTC)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of half-open intervals: sorted, overlapping or touching ones joined.

    Parameters
    ----------
    intervals : iterable of (datetime, datetime)
        Tz-aware ``[start, end)`` pairs; empty ones (``end <= start``) are dropped.

    Returns
    -------
    list of (datetime, datetime)
        Disjoint, non-touching intervals sorted by start.
    """
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def busy_intervals(
    data: bytes | str,
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> list[Interval]:
    """Busy time of one calendar over a window, as merged UTC intervals.

    Parameters
    ----------
    data : bytes or str
        iCalendar data: a whole ``.ics`` file, a subscription's body, or one calendar
        object returned by a CalDAV time-range query.
    zone : str
        IANA zone of the team member or room the calendar belongs to: floating times
        and all-day events are read in it.
    window_start, window_end : datetime
        Tz-aware bounds of the sync window; occurrences are clipped to
        ``[window_start, window_end)``.
    ignore_uids : container of str, optional
        UIDs of events to leave out: Slotwise's own meetings, written back to this
        calendar, are already busy as reservations and must not count twice.

    Returns
    -------
    list of (datetime, datetime)
        Disjoint ``[start, end)`` intervals in UTC, sorted; overlapping and touching
        events are joined (busy is busy).

    Raises
    ------
    CalendarParseError
        If the calendar is malformed in a way that changes its busy time (for
        example an event whose ``TZID`` is not defined anywhere), with the line and
        property.
    ValueError
        If ``zone`` is not an IANA zone or the window is not tz-aware and ordered.
    """
    tz = _zone(zone)
    for name, bound in (("window_start", window_start), ("window_end", window_end)):
        if bound.tzinfo is None:
            raise ValueError(f"{name} must be tz-aware, got naive {bound!r}")
    lo, hi = window_start.astimezone(UTC), window_end.astimezone(UTC)
    if hi <= lo:
        raise ValueError(f"window_end {window_end} must be after window_start {window_start}")

    text = _decode(data)
    blocks = _event_blocks(_source_lines(text))
    intervals: list[Interval] = []
    for calendar in parse_calendar(text):
        intervals.extend(_calendar_busy(calendar, blocks, tz, lo, hi, ignore_uids))
        # Events of a second VCALENDAR in the same data follow the first one's.
        blocks = blocks[len(calendar.walk("VEVENT")) :]
    return merge_intervals(intervals)


def _calendar_busy(
    calendar: icalendar.Calendar,
    blocks: Sequence[Sequence[_SourceLine]],
    tz: zoneinfo.ZoneInfo,
    lo: dt.datetime,
    hi: dt.datetime,
    ignore_uids: Container[str],
) -> list[Interval]:
    events = calendar.walk("VEVENT")
    readable_events: dict[int, icalendar.Event] = {}
    for index, event in enumerate(events):
        block = blocks[index] if index < len(blocks) else None
        if str(event.get("UID", "")) in ignore_uids:
            continue
        if "RECURRENCE-ID" not in event:
            # A transparent or cancelled series cannot make anyone busy, however broken
            # it is: leave it out (an opaque override of one of its occurrences still
            # counts, as an event of its own).
            if _blocks_time(event):
                _check_event(event, block)
                readable_events[id(event)] = event
            continue
        _check_event(event, block)
        if _blocks_time(event):
            readable_events[id(event)] = event
        else:
            # A transparent or cancelled override must still replace its occurrence of
            # the series: keep it, but make it last no time, so it blocks nothing.
            free = event.copy()
            free.pop("DURATION", None)
            free["DTEND"] = free["DTSTART"]
            readable_events[id(event)] = free

    readable = calendar.copy()  # properties only; the subcomponents are chosen here
    readable.subcomponents = [
        readable_events[id(component)] if component.name == "VEVENT" else component
        for component in calendar.subcomponents
        if component.name != "VEVENT" or id(component) in readable_events
    ]
    readable = _FloatingToZone(tz).walk(readable)

    # Widen the query by a day on each side: all-day and floating events are
    # matched by recurring-ical-events on their own wall clock, which can be up to
    # 14 hours from UTC. The exact cut happens below, in UTC.
    margin = dt.timedelta(days=1)
    try:
        query = recurring_ical_events.of(readable)
        result: list[Interval] = []
        count = 0
        # Series by series (what CalendarQuery.between does), counting as we go so that a
        # runaway rule is refused instead of filling memory, and reading each occurrence's
        # start and end without building a component for it.
        for series in query.series:
            for occurrence in series.between(lo - margin, hi + margin):
                count += 1
                if count > MAX_OCCURRENCES:
                    raise CalendarParseError(
                        f"the calendar has more than {MAX_OCCURRENCES:,} event occurrences in the "
                        f"sync window ({lo:%Y-%m-%d} to {hi:%Y-%m-%d}); shorten the window or "
                        "remove the runaway recurring event"
                    )
                end = occurrence.end
                if isinstance(end, dt.timedelta):
                    end = occurrence.start + end
                start, end = _instant(occurrence.start, tz), _instant(end, tz)
                start, end = max(start, lo), min(end, hi)
                if end > start:
                    result.append((start, end))
    except (recurring_ical_events.InvalidCalendar, icalendar.InvalidCalendar) as error:
        raise CalendarParseError(f"cannot expand the calendar's events: {error}") from error
    return result
