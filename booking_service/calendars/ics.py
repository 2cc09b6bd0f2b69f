"""Read iCalendar data (RFC 5545) into busy intervals.

This is the one place that turns a calendar people keep elsewhere (an uploaded ``.ics``
file, an ``http(s)`` subscription, a CalDAV time-range report) into the busy time the
planner reads. It does no I/O and touches no database: it takes bytes and returns
UTC intervals. :mod:`.sandbox` runs it in a process of its own, with limits.

What counts as busy (DESIGN.md, slot semantics rule 5):

- every ``VEVENT`` occurrence in the window, expanded with ``recurring-ical-events``
  (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides that move, resize or cancel one
  occurrence of a series);
- except occurrences marked ``TRANSP:TRANSPARENT`` or ``STATUS:CANCELLED``;
  ``STATUS:TENTATIVE`` counts as busy; zero-length events block nothing;
- all-day events (``DATE`` values) block the member's whole local day(s), from local
  midnight of the first day to local midnight after the last, in the member's zone;
- floating times (no ``TZID``, no ``Z``) are read in the member's zone;
- times in UTC in a calendar that declares ``X-WR-TIMEZONE`` (Google) recur in that zone,
  as ``x-wr-timezone`` defines;
- a ``DURATION`` adds its weeks and days on the wall clock (``P1D`` ends at the same local
  time the next day, 23 or 25 hours later across a DST change) and its hours, minutes and
  seconds as exact time (``PT24H`` is 24 hours), as RFC 5545 section 3.3.6 says;
- ``UNTIL`` is read as the big calendar programs read it where producers get it wrong: a
  date on a timed series keeps that whole day (the occurrences on it are included), and a
  date-time on an all-day series ends the series on the member's local date of that instant
  (Exchange writes the last day's local midnight in UTC; an occurrence's day starts at the
  member's local midnight, so it is in the series when that midnight is not after UNTIL).

Time zones (``TZID``), one rule per calendar:

- a ``TZID`` that names an IANA zone (``Europe/Berlin``, also behind a globally unique
  prefix such as ``/freeassociation.sourceforge.net/Europe/Berlin``) means that zone as the
  IANA database defines it, even when the file carries a ``VTIMEZONE`` of that name. Such a
  block is a copy of the producer's zone data on the day it wrote the file, and copies go
  stale: São Paulo stopped DST in 2019, Montevideo in 2015, and files written before (or by
  servers that truncate their copies, as iCloud does) still describe the old DST for every
  later year. The person who typed "10:00 America/Sao_Paulo" meant 10:00 on the clocks of
  São Paulo. Google Calendar keeps every event in an IANA zone by name, Apple's calendars
  read a zone by its name from the system's database, and Cyrus IMAP (Fastmail) switched to
  its own IANA data over embedded blocks because Apple clients send stale ones;
- any other ``TZID`` (Windows names such as "W. Europe Standard Time", Outlook display names,
  "Customized Time Zone", Lotus Notes' "Eastern") means exactly the file's ``VTIMEZONE`` of
  that name, as Outlook and Exchange mean it when they write one (MS-OXCICAL: the zone is
  imported from the ``VTIMEZONE`` the ``TZID`` references); only without one is a Windows
  name looked up in ``icalendar``'s CLDR-based mapping;
- a ``TZID`` that is neither refuses the calendar. Each calendar is read with its own zones
  only: a zone one calendar defines never leaks into another, with no lock between reads.

A calendar the reader cannot trust raises :class:`CalendarParseError`, which names the
line and property when they are known. Only the parts that can produce busy time are
checked: a broken ``VTODO`` or a broken property of a transparent event does not refuse
an otherwise good calendar.

Large calendars are read in two passes. The first works on the text: it finds the
components, decides for each series (a ``UID`` with its overrides) from its dates alone
whether it can reach the window, and checks the busy-capable events of the whole file for
what makes them unreadable (values, ``TZID``, ``RRULE``). Only the series that can reach the
window, and events that failed that check, are parsed and expanded by ``icalendar`` and
``recurring-ical-events``, which give the final word. A file of 50,000 events, most of them
in past years, is thereby read in a few seconds, and a broken event refuses the calendar
whether or not it falls in the window.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import html
import json
import re
import zoneinfo
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

import filetype
import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.prop import vRecur
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
from recurring_ical_events import ComponentsWithName, EventAdapter, Occurrence

__all__ = [
    "CalendarParseError",
    "CalendarReading",
    "Interval",
    "busy_intervals",
    "decode_calendar",
    "merge_intervals",
    "read_calendar",
    "read_calendars",
]

Interval = tuple[dt.datetime, dt.datetime]
"""A half-open busy interval ``[start, end)``, both tz-aware UTC."""

UTC = dt.UTC

MAX_OCCURRENCES = 20_000
"""Most event occurrences read from one calendar over a sync window (a guard against runaway
rules; a very busy person has a few thousand in a year)."""

# Date-time properties whose TZID must resolve for an event to be read correctly.
_DATETIME_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE")

# How far a value's wall-clock date may lie from the UTC window and still matter: zone offsets
# reach 14 hours, and the expansion itself is queried a day wider (see _calendar_busy).
_SLACK = dt.timedelta(days=3)


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
        self.reason = message
        self.line = line
        self.property = property
        where = []
        if line is not None:
            where.append(f"line {line}")
        if property is not None:
            where.append(property)
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)

    def __reduce__(self):  # keep line and property when sent between processes
        return (_rebuild_error, (self.reason, self.line, self.property))


def _rebuild_error(reason: str, line: int | None, property: str | None) -> CalendarParseError:
    return CalendarParseError(reason, line=line, property=property)


@dataclass(frozen=True)
class CalendarReading:
    """What reading a calendar over a window gave.

    Attributes
    ----------
    intervals : list of (datetime, datetime)
        Disjoint busy ``[start, end)`` intervals in UTC, sorted.
    events : int
        ``VEVENT`` components in the data (series, single events and overrides, in or out of
        the window): how big the calendar is.
    """

    intervals: list[Interval]
    events: int


# --- bytes to text --------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_calendar(data: bytes | str) -> str:
    """The text of calendar data, by the one rule the upload and the reader share.

    A byte order mark decides (UTF-8, UTF-16 as Outlook on Windows may save, UTF-32); text
    without one is UTF-8 when it decodes as such, otherwise Windows-1252 (old Lotus Notes and
    Outlook 2003 exports), where only five byte values are undefined and become U+FFFD.

    Raises
    ------
    CalendarParseError
        If the data announces an encoding by its byte order mark and does not follow it.
    """
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    for bom, encoding, name in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise CalendarParseError(
                    f"the file starts with a {name} byte order mark but byte {error.start + len(bom):,} "
                    f"is not {name} text; save the calendar again as UTF-8"
                ) from None
    # UTF-16 without a byte order mark still shows itself by the zero bytes of "BEGIN".
    for prefix, encoding in ((b"B\x00E\x00G\x00", "utf-16-le"), (b"\x00B\x00E\x00G", "utf-16-be")):
        if data.startswith(prefix):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _what_it_is(data: bytes | str, text: str) -> str:
    """Say what data that is not a calendar is, for the message that refuses it."""
    if isinstance(data, bytes):
        kind = filetype.guess(data[:8192])
        if kind is not None:
            return f"a {kind.extension.upper()} file ({kind.mime})"
    start = text.lstrip()
    if not start:
        return "empty"
    head = start[:2048].lower()
    if head.startswith("<!doctype html") or "<html" in head or "<body" in head:
        title = re.search(r"<title[^>]*>(.*?)</title>", start[:8192], re.I | re.S)
        named = f" titled {html.unescape(' '.join(title.group(1).split()))[:80]!r}" if title else ""
        return f"an HTML page{named}, such as a sign-in or error page"
    if head.startswith("<"):  # an XML declaration, a feed, a fragment of markup
        return "XML or HTML markup"
    if start[0] in "{[":
        try:
            json.loads(start)
        except ValueError:
            pass
        else:
            return "JSON data"
    if head.startswith("begin:vcard"):
        return "a contact card (vCard)"
    snippet = " ".join(start[:60].split())
    return f"text that starts with {snippet!r}"


def _not_a_calendar(data: bytes | str, text: str) -> CalendarParseError:
    return CalendarParseError(
        f"this is not iCalendar data (no BEGIN:VCALENDAR): it is {_what_it_is(data, text)}; "
        "give the calendar's .ics export or its iCal/ICS address"
    )


# --- the text pass: components, properties, zones --------------------------------------------

_COMPONENT_LINE = re.compile(r"^(BEGIN|END)[ \t]*:([^\r\n]*)", re.M | re.I)
_FOLD = re.compile(r"\r?\n[ \t]")
_EVENT_PROPERTY = re.compile(
    r"^(UID|DTSTART|DTEND|DURATION|RRULE|RDATE|EXDATE|RECURRENCE-ID|STATUS|TRANSP)(?=[;:])"
    r"([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)",
    re.M | re.I,
)
_TZID_LINE = re.compile(r"^TZID[;:][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.M | re.I)
_DATE_VALUE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?\Z")
_DURATION_VALUE = re.compile(r"([-+]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?\Z")
_FREQUENCIES = frozenset({"YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"})


def _line_number(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _unfold(text: str) -> str:
    return _FOLD.sub("", text) if "\n" in text else text


_CONTENT_LINE = re.compile(r'([A-Za-z0-9-]+)[ \t]*((?:;(?:[^";:]|"[^"]*")*)*):(.*)', re.S)


def _split_content_line(line: str) -> tuple[str, str, str | None]:
    """``(NAME, ";params", value)`` of an unfolded content line; ``value`` is None without a colon.

    The colon that ends the parameters is the first one outside double quotes.
    """
    match = _CONTENT_LINE.match(line)
    if match:
        return match.group(1).upper(), match.group(2), match.group(3)
    # No colon after the parameters (an unclosed quote, a bare name): no value.
    name = re.match(r"[^;:]*", line).group(0)
    return name.strip().upper(), line[len(name) :], None


_PARAMETER = re.compile(r';([A-Za-z0-9-]+)=("[^"]*"|[^;]*)')


def _parameter(params: str, name: str) -> str | None:
    for match in _PARAMETER.finditer(params):
        if match.group(1).upper() == name:
            return match.group(2).strip('"')
    return None


@dataclass(slots=True)
class _Component:
    """A component of a calendar as offsets into the text (its BEGIN line to its END line)."""

    name: str
    start: int
    end: int
    holes: list[tuple[int, int]] = field(default_factory=list)  # nested components (VALARM)

    def own_ranges(self) -> Iterator[tuple[int, int]]:
        """The stretches of text that hold this component's own properties."""
        position = self.start
        for hole_start, hole_end in self.holes:
            yield position, hole_start
            position = hole_end
        yield position, self.end


@dataclass
class _CalendarText:
    """One VCALENDAR of the data: its own property lines, zones and events."""

    header: list[tuple[int, int]] = field(default_factory=list)
    timezones: list[_Component] = field(default_factory=list)
    events: list[_Component] = field(default_factory=list)


def _line_end(text: str, offset: int) -> int:
    end = text.find("\n", offset)
    return len(text) if end < 0 else end + 1


def _scan(text: str) -> list[_CalendarText]:
    """Find the calendars, their zones and events; refuse components not closed in order.

    A truncated download (a feed cut off mid-way) shows up here; reading it would silently
    lose every event after the cut.
    """
    calendars: list[_CalendarText] = []
    stack: list[tuple[str, int]] = []  # (name, offset of its BEGIN line)
    current: _CalendarText | None = None
    gap = 0  # start of the VCALENDAR's property lines since the last component
    top: _Component | None = None  # the component directly inside VCALENDAR being read
    for match in _COMPONENT_LINE.finditer(text):
        keyword, name = match.group(1).upper(), match.group(2).strip().upper()
        line_start = match.start()
        if keyword == "BEGIN":
            depth = len(stack)
            if depth == 0 and name != "VCALENDAR":
                raise CalendarParseError(
                    f"BEGIN:{name} outside any VCALENDAR", line=_line_number(text, line_start), property="BEGIN"
                )
            if depth == 0:
                current = _CalendarText()
                calendars.append(current)
                gap = _line_end(text, match.end())
            elif depth == 1 and current is not None:
                current.header.append((gap, line_start))
                top = _Component(name, line_start, line_start)
            stack.append((name, line_start))
            continue
        if not stack or stack[-1][0] != name:
            expected = f"END:{stack[-1][0]}" if stack else "no END line"
            raise CalendarParseError(
                f"END:{name} where {expected} was expected", line=_line_number(text, line_start), property="END"
            )
        _, begun = stack.pop()
        after = _line_end(text, match.end())
        depth = len(stack)
        if depth == 1 and top is not None and current is not None:
            top.end = after
            if name == "VEVENT":
                current.events.append(top)
            elif name == "VTIMEZONE":
                current.timezones.append(top)
            gap = after
            top = None
        elif depth == 2 and top is not None:
            top.holes.append((begun, after))
        elif depth == 0 and current is not None:
            current.header.append((gap, line_start))
    if stack:
        name, begun = stack[-1]
        raise CalendarParseError(
            f"BEGIN:{name} is never closed (the data may be cut off)",
            line=_line_number(text, begun),
            property="BEGIN",
        )
    return calendars


@dataclass
class _Event:
    """What the text pass knows of a VEVENT: its busy-relevant properties, unfolded."""

    component: _Component
    properties: dict[str, list[tuple[str, str | None]]]  # NAME -> [(";params", value)]

    def first(self, name: str) -> tuple[str, str | None] | None:
        values = self.properties.get(name)
        return values[0] if values else None

    def value(self, name: str) -> str | None:
        found = self.first(name)
        return found[1] if found else None

    @property
    def uid(self) -> str | None:
        uid = self.value("UID")
        return uid.strip() if uid else None

    @property
    def is_override(self) -> bool:
        return "RECURRENCE-ID" in self.properties

    @property
    def blocks_time(self) -> bool:
        """Whether the event, by its own properties, can make anyone busy."""
        transparent = (self.value("TRANSP") or "").strip().upper() == "TRANSPARENT"
        cancelled = (self.value("STATUS") or "").strip().upper() == "CANCELLED"
        return not (transparent or cancelled)


def _read_event(text: str, component: _Component) -> _Event:
    properties: dict[str, list[tuple[str, str | None]]] = {}
    for range_start, range_end in component.own_ranges():
        for match in _EVENT_PROPERTY.finditer(text, range_start, range_end):
            name, params, value = _split_content_line(_unfold(match.group(0)))
            properties.setdefault(name, []).append((params, value))
    return _Event(component, properties)


@cache
def _iana_name(tzid: str) -> str | None:
    """The IANA zone a TZID names, also behind a globally unique ``/vendor/`` prefix."""
    candidates = [tzid.strip()]
    if tzid.startswith("/"):
        parts = tzid.strip("/").split("/")
        candidates += ["/".join(parts[index:]) for index in range(len(parts))]
    for candidate in candidates:
        if not candidate or candidate.startswith(".") or "//" in candidate:
            continue
        try:
            zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            continue
        return candidate
    return None


class _Zones:
    """How this calendar's TZIDs resolve (the module docstring's rule)."""

    def __init__(self, text: str, timezones: Sequence[_Component]) -> None:
        self.text = text
        self.defined: dict[str, _Component] = {}
        for component in timezones:
            # Under each of its names: a block with more than one is refused where it is used.
            for found in _TZID_LINE.finditer(text, component.start, component.end):
                _, _, value = _split_content_line(_unfold(found.group(0)))
                if value and value.strip() not in self.defined:
                    self.defined[value.strip()] = component
        self._resolved: dict[str, str | None] = {}
        self.used: dict[str, _Component] = {}  # unique name -> definition, for the parse text

    def resolve(self, tzid: str) -> str | None:
        """The name to read ``tzid`` by: an IANA name, this file's own definition, or None.

        Raises
        ------
        CalendarParseError
            If the definition it names has more than one TZID line.
        """
        tzid = tzid.strip()
        if tzid not in self._resolved:
            self._resolved[tzid] = self._resolve(tzid)
        return self._resolved[tzid]

    def _resolve(self, tzid: str) -> str | None:
        iana = _iana_name(tzid)
        if iana is not None:
            return iana
        definition = self.defined.get(tzid)
        if definition is not None and '"' not in tzid:
            self._check_one_name(definition)
            # Named after its content, so that icalendar's process-wide cache of zones can
            # only ever hand out this very definition under this name.
            block = self.text[definition.start : definition.end].encode()
            digest = hashlib.sha1(block, usedforsecurity=False).hexdigest()[:16]
            unique = f"{tzid} #{digest}"
            self.used[unique] = definition
            return unique
        return WINDOWS_TO_OLSON.get(tzid.removeprefix("/"))  # a globally unique prefix: one leading slash

    def _check_one_name(self, definition: _Component) -> None:
        """Refuse a VTIMEZONE with a second TZID line: RFC 5545 allows one, and icalendar fails on it."""
        lines = list(_TZID_LINE.finditer(self.text, definition.start, definition.end))
        if len(lines) > 1:
            first, second = ((_split_content_line(_unfold(line.group(0)))[2] or "").strip() for line in lines[:2])
            raise CalendarParseError(
                f"the VTIMEZONE {first!r} has a second TZID line ({second!r}); a VTIMEZONE names one zone: "
                "keep one TZID line and remove the other",
                line=_line_number(self.text, lines[1].start()),
                property="TZID",
            )

    def timezone_text(self, unique: str) -> str:
        """The VTIMEZONE block of a used definition, renamed to its unique name."""
        definition = self.used[unique]
        block = _unfold(self.text[definition.start : definition.end])
        return _TZID_LINE.sub(lambda _: f"TZID:{unique}", block, count=1)


# --- the text pass: which series to read, which events to check --------------------------------


def _date_key(value: str | None) -> str | None:
    """The ``YYYYMMDD`` a date or date-time value starts with, or None if it does not."""
    if value is None:
        return None
    key = value.strip()[:8]
    return key if len(key) == 8 and key.isdigit() else None


def _parse_key(key: str) -> dt.date | None:
    try:
        return dt.date(int(key[:4]), int(key[4:6]), int(key[6:8]))
    except ValueError:
        return None


def _duration_days(value: str | None) -> int | None:
    """Whole days (rounded up) a DURATION value spans, or None if it is not one."""
    match = _DURATION_VALUE.match((value or "").strip())
    if not match or match.group(1) == "-":
        return None
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
    return weeks * 7 + days + -(-(hours * 3600 + minutes * 60 + seconds) // 86400)


def _may_reach(event: _Event, low: str, high: str) -> bool:
    """Whether the event could put busy time in ``[low, high]`` (``YYYYMMDD`` keys, wall clock).

    Conservative: anything it cannot tell from the text alone counts as reaching.
    """
    start = _date_key(event.value("DTSTART"))
    if start is None or "RDATE" in event.properties:
        return True
    start_date = _parse_key(start)
    if start_date is None:
        return True
    end_value = event.value("DTEND")
    if end_value is not None:
        end_key = _date_key(end_value)
        end_date = _parse_key(end_key) if end_key else None
        if end_date is None:
            return True
        span = max((end_date - start_date).days, 0)
    elif "DURATION" in event.properties:
        days = _duration_days(event.value("DURATION"))
        if days is None:
            return True
        span = days
    else:
        span = 1
    rule = event.value("RRULE")
    if rule is not None:
        if start > high:
            return False
        until = re.search(r"UNTIL=([0-9TZ]+)", rule, re.I)
        if until is None:
            return True  # no end, or COUNT (whose end the text alone cannot bound)
        until_date = _parse_key(_date_key(until.group(1)) or "")
        if until_date is None:
            return True
        return (until_date + dt.timedelta(days=span)).strftime("%Y%m%d") >= low
    end = (start_date + dt.timedelta(days=span)).strftime("%Y%m%d")
    return end >= low and start <= high


def _valid_moment(value: str) -> bool:
    match = _DATE_VALUE.match(value.strip())
    if not match:
        return False
    year, month, day, hour, minute, second = match.groups()
    try:
        dt.date(int(year), int(month), int(day))
        if hour is not None:
            dt.time(int(hour), int(minute), int(second))  # icalendar refuses a leap second (60) too
    except ValueError:
        return False
    return True


def _looks_unreadable(event: _Event, zones: _Zones) -> bool:
    """Whether a busy-capable event shows, in its text, a fault that would refuse the calendar.

    A quick triage of every event in the file, in or out of the window: an event it flags is
    parsed and checked in full (:func:`_check_event`), which decides and names the fault.
    """
    if "DTSTART" not in event.properties:
        return True
    for name in _DATETIME_PROPERTIES:
        for params, value in event.properties.get(name, ()):
            if value is None:
                return True
            tzid = _parameter(params, "TZID")
            if tzid is not None and zones.resolve(tzid) is None:
                return True
            for item in value.split(","):
                parts = item.split("/") if name == "RDATE" else [item]
                if not _valid_moment(parts[0]) or len(parts) > 2:
                    return True
                if len(parts) == 2 and not (_valid_moment(parts[1]) or _DURATION_VALUE.match(parts[1].strip())):
                    return True
    duration = event.value("DURATION")
    if "DURATION" in event.properties and (
        duration is None or not _DURATION_VALUE.match(duration.strip()) or duration.strip().startswith("-")
    ):
        return True
    for _, rule in event.properties.get("RRULE", ()):
        try:
            parsed = vRecur.from_ical(rule or "")
        except ValueError:
            return True
        frequency = parsed.get("FREQ")
        if not frequency or str(frequency[0]).upper() not in _FREQUENCIES:
            return True
    start, end = event.first("DTSTART"), event.first("DTEND")
    if start and end and start[1] and end[1]:
        same_zone = _parameter(start[0], "TZID") == _parameter(end[0], "TZID")
        if same_zone and len(start[1].strip()) == len(end[1].strip()) and end[1].strip() < start[1].strip():
            return True
    return False


def _chosen_events(
    text: str, components: Sequence[_Component], zones: _Zones, lo: dt.datetime, hi: dt.datetime
) -> list[_Event]:
    """The events to parse: every series (with its overrides) that may reach the window, and
    every busy-capable event whose text looks unreadable, in document order.

    Two passes, so that only a few small facts per event are held at once, however big the file.
    """
    low, high = (lo - _SLACK).strftime("%Y%m%d"), (hi + _SLACK).strftime("%Y%m%d")
    facts: list[tuple[str | None, bool, bool]] = []  # (UID, may reach the window, looks unreadable)
    for component in components:
        event = _read_event(text, component)
        suspect = (event.is_override or event.blocks_time) and _looks_unreadable(event, zones)
        facts.append((event.uid, _may_reach(event, low, high), suspect))
    reaching = {uid for uid, reaches, _ in facts if reaches and uid is not None}
    return [
        _read_event(text, component)
        for component, (uid, reaches, suspect) in zip(components, facts, strict=True)
        if suspect or uid in reaching or (uid is None and reaches)
    ]


def _parse_text(text: str, calendar: _CalendarText, events: Sequence[_Event], zones: _Zones) -> str:
    """The calendar re-serialised with its property lines, the chosen events and their zones.

    TZID parameters are rewritten to the name they resolve to (see :class:`_Zones`), so that
    ``icalendar`` reads each with the right zone; zones come before the events that use them.
    """
    event_texts = [_event_text(text, event.component, zones) for event in events]
    header = [_unfold(text[start:end]).strip("\r\n") for start, end in calendar.header]
    parts = ["BEGIN:VCALENDAR", *(part for part in header if part)]
    parts += [zones.timezone_text(unique).strip("\r\n") for unique in zones.used]
    parts += event_texts
    parts.append("END:VCALENDAR")
    return "\r\n".join(parts) + "\r\n"


_TZID_PARAMETER = re.compile(r'(;TZID=)("[^"]*"|[^;:"]*)', re.I)


def _event_text(text: str, component: _Component, zones: _Zones) -> str:
    lines = _unfold(text[component.start : component.end]).split("\n")

    def rewrite(match: re.Match) -> str:
        resolved = zones.resolve(match.group(2).strip('"'))
        return match.group(0) if resolved is None else f'{match.group(1)}"{resolved}"'

    for index, line in enumerate(lines):
        line = lines[index] = line.removesuffix("\r")
        name, params, value = _split_content_line(line)
        if name in _DATETIME_PROPERTIES and "TZID=" in params.upper():
            lines[index] = name + _TZID_PARAMETER.sub(rewrite, params) + ("" if value is None else ":" + value)
    return "\r\n".join(line for line in lines if line)


# --- the full check, on parsed events ---------------------------------------------------------


@dataclass
class _Source:
    """Where a parsed event's lines are in the original data, for messages."""

    text: str
    component: _Component | None

    def lines(self) -> Iterator[tuple[int, str]]:
        """``(line number, unfolded line)`` of the event's own content lines."""
        if self.component is not None:
            yield from _logical_lines(self.text, self.component.own_ranges())

    def line(self, name: str) -> tuple[int | None, str | None]:
        """The first line of property ``name`` (number and text), else the event's first line."""
        first: tuple[int, str] | None = None
        for number, line in self.lines():
            first = first or (number, line)
            if _split_content_line(line)[0] == name:
                return number, line
        return (first[0], None) if first else (None, None)


def _logical_lines(text: str, ranges: Iterable[tuple[int, int]]) -> Iterator[tuple[int, str]]:
    """``(line number, unfolded line)`` of the content lines in ``ranges`` of ``text``."""
    for range_start, range_end in ranges:
        number = _line_number(text, range_start)
        logical: tuple[int, str] | None = None
        for raw in text[range_start:range_end].split("\n"):
            raw = raw.removesuffix("\r")
            if raw[:1] in (" ", "\t") and logical is not None:
                logical = (logical[0], logical[1] + raw[1:])
            else:
                if logical is not None:
                    yield logical
                logical = (number, raw)
            number += 1
        if logical is not None and logical[1]:
            yield logical


def _broken_quote(line: str | None) -> str | None:
    """Advice for a TZID whose closing quote swallowed the value (Exchange writes these)."""
    if not line:
        return None
    name, params, value = _split_content_line(line)
    tzid = _parameter(params, "TZID")
    if value or tzid is None:
        return None
    match = re.fullmatch(r"(.*):(\d{8}(?:T\d{6}Z?)?)", tzid)
    if not match:
        return None
    return (
        f'the value is inside the quotes of TZID="{tzid}", so the property has no value; the '
        f'closing quote belongs before the colon: {name};TZID="{match.group(1)}":{match.group(2)}'
    )


def _check_event(event: icalendar.Event, source: _Source, zones: _Zones) -> None:
    """Refuse an event whose busy time cannot be read correctly."""
    uid = str(event.get("UID", "?"))
    for name, message in getattr(event, "errors", []):
        prop = str(name).upper() if name else None
        line, text = source.line(prop or "")
        advice = _broken_quote(text) if prop else None
        raise CalendarParseError(
            f"cannot read the event {uid!r}: {advice or message}", line=line, property=prop
        )
    if "DTSTART" not in event:
        raise CalendarParseError(
            f"the event {uid!r} has no DTSTART", line=source.line("BEGIN")[0], property="DTSTART"
        )
    rules = event.get("RRULE", [])
    for rule in rules if isinstance(rules, list) else [rules]:
        frequency = rule.get("FREQ")
        if not frequency:
            raise CalendarParseError(
                f"the event {uid!r} has an RRULE without FREQ", line=source.line("RRULE")[0], property="RRULE"
            )
        if str(frequency[0]).upper() in ("SECONDLY", "MINUTELY"):
            raise CalendarParseError(
                f"the event {uid!r} repeats {str(frequency[0]).lower()}; meetings do not, and expanding "
                "it would take too long",
                line=source.line("RRULE")[0],
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
            line=source.line("DTEND")[0],
            property="DTEND",
        )
    duration = getattr(event.get("DURATION"), "dt", None)
    if end is None and isinstance(duration, dt.timedelta) and duration < dt.timedelta(0):
        raise CalendarParseError(
            f"the event {uid!r} lasts a negative time ({event['DURATION'].to_ical().decode()}): "
            "a DURATION counts forward from DTSTART",
            line=source.line("DURATION")[0],
            property="DURATION",
        )
    rdates = event.get("RDATE", [])
    for index, rdate in enumerate(rdates if isinstance(rdates, list) else [rdates]):
        for period in _tzid_values(rdate):
            if not isinstance(period, tuple):
                continue
            begin, until = period
            if isinstance(until, dt.timedelta):
                until = begin + until
            if _comparable(begin, until) and until < begin:
                # The line of this RDATE property: an event may have several, one per line.
                lines = [number for number, text in source.lines() if _split_content_line(text)[0] == "RDATE"]
                raise CalendarParseError(
                    f"the event {uid!r} has an RDATE period that ends ({until}) before it starts ({begin})",
                    line=lines[index] if index < len(lines) else None,
                    property="RDATE",
                )
    for name in _DATETIME_PROPERTIES:
        if name not in event:
            continue
        values = event[name] if isinstance(event[name], list) else [event[name]]
        for value in values:
            tzid = getattr(value, "params", {}).get("TZID")
            if tzid is None:
                continue
            unknown = tzid not in zones.used and _iana_name(tzid) is None and zones.resolve(tzid) is None
            naive = any(
                isinstance(moment, dt.datetime) and moment.tzinfo is None
                for item in _tzid_values(value)
                for moment in [item[0] if isinstance(item, tuple) else item]
            )
            if unknown or naive:
                # The line of this property that names the zone (an event may have several EXDATEs).
                lines = (number for number, text in source.lines()
                         if _split_content_line(text)[0] == name and tzid in text)
                raise CalendarParseError(
                    f"TZID {tzid!r} is neither defined by a VTIMEZONE in this "
                    "calendar nor a known IANA or Windows time zone name; the "
                    "producer must include its VTIMEZONE or use a standard "
                    "zone name",
                    line=next(lines, source.line(name)[0]),
                    property=name,
                )


def _tzid_values(value: object) -> Iterator[object]:
    """The date/date-time values of a property (lists for EXDATE/RDATE)."""
    dts = getattr(value, "dts", None)
    if dts is not None:  # vDDDLists
        for ddd in dts:
            yield ddd.dt
    else:
        yield getattr(value, "dt", None)


def _comparable(a: dt.date, b: dt.date) -> bool:
    """Whether two values of one type can be ordered (not one floating, one aware)."""
    if isinstance(a, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None)
    return True


def _line_quoted_by(text: str, ranges: Iterable[tuple[int, int]], message: str) -> tuple[int | None, str | None]:
    """The line (number, property) whose value a parser error message quotes, if any.

    ``icalendar`` names the bad value ("Expected datetime, date, or time. Got: '2024-13-01'")
    but not its line; the first line of the parsed text holding that value is almost always the
    culprit, the first whose whole value it is before one whose value holds it. The parser
    raises only for what lies outside an event's own lines (an event's own faults it records,
    see :func:`_check_event`): the calendar's properties, its zones, an event's alarms;
    ``ranges`` are the stretches of the text it parsed, in document order.

    The value is what follows the message's first ": ": icalendar's words before it never hold
    one ("Expected int, got", "Wrong datetime format"), while the value may ("REPEAT:note: late").
    """
    _, sep, quoted = message.partition(": ")
    quoted = quoted.strip().strip("'\"")
    if not sep or len(quoted) < 3:
        return None, None
    holding = [
        (number, name, value.strip())
        for number, line in _logical_lines(text, ranges)
        for name, _, value in [_split_content_line(line)]
        if value is not None and quoted in value
    ]
    for number, name, value in holding:
        if value == quoted:
            return number, name
    return holding[0][:2] if holding else (None, None)


# --- expansion -----------------------------------------------------------------------------


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


class _Duration(icalendar.vDuration):
    """A ``DURATION`` that keeps its nominal part (weeks, days) apart from its exact part.

    ``datetime.timedelta`` cannot: ``P1D`` and ``PT24H`` are the same timedelta, but not the
    same duration across a DST change (RFC 5545 section 3.3.6). Its sign is not read: a negative
    ``DURATION`` refuses its event (:func:`_check_event`), and beside a ``DTEND`` none is used.
    """

    def __init__(self, text: str, params: dict | None = None) -> None:
        super().__init__(text, params=params)
        _, weeks, days, hours, minutes, seconds = _DURATION_VALUE.match(text.strip()).groups()
        self.days = int(weeks or 0) * 7 + int(days or 0)
        self.exact = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds or 0))

    def end_from(self, start: dt.date) -> dt.date:
        """The end of an occurrence starting at ``start``: days on the wall clock, then exact time."""
        end = start + dt.timedelta(days=self.days)  # aware datetimes add on their wall clock
        if not self.exact:
            return end
        if isinstance(end, dt.datetime):
            return end.astimezone(UTC) + self.exact if end.tzinfo else end + self.exact
        return dt.datetime.combine(end, dt.time()) + self.exact  # a date with hours: from its midnight


class _EventAdapter(EventAdapter):
    """``recurring-ical-events``' view of a VEVENT, knowing its :class:`_Duration`."""

    @property
    def split_duration(self) -> _Duration | None:
        duration = self._component.get("DURATION")
        if "DTEND" in self._component or not isinstance(duration, _Duration):
            return None
        return duration


class _Occurrence(Occurrence):
    """An occurrence whose end follows its component's DURATION exactly (see :class:`_Duration`)."""

    def __init__(self, adapter, start=None, end=None, sequence: int = -1) -> None:
        super().__init__(adapter, start, end, sequence)
        duration = adapter.split_duration  # every VEVENT is read through an _EventAdapter (_EVENTS)
        # An RDATE period brings its own end; every other occurrence lasts the DURATION.
        if duration is not None and (end is None or end == self.start + duration.dt):
            self.end = duration.end_from(self.start)


_EVENTS = ComponentsWithName("VEVENT", adapter=_EventAdapter, occurrence=_Occurrence)


def _normalise_until(event: icalendar.Event, tz: dt.tzinfo) -> None:
    """Read UNTIL as the big calendar programs do where producers write the wrong type.

    RFC 5545 wants UNTIL of the same type as DTSTART. A date on a timed series (common)
    keeps that whole day, in the series' own zone; a date-time on an all-day series (Exchange:
    the last day's local midnight, in UTC) ends on the member's local date of that instant.
    Without this, ``recurring-ical-events`` ends the first at the date's UTC midnight and cuts
    the second to its UTC date, each losing the last occurrence.
    """
    start = event["DTSTART"].dt
    rules = event.get("RRULE", [])
    for rule in rules if isinstance(rules, list) else [rules]:
        until = rule.get("UNTIL")
        if not until:
            continue
        value = until[0]
        if isinstance(start, dt.datetime) and not isinstance(value, dt.datetime):
            last = dt.datetime.combine(value, dt.time(23, 59, 59), tzinfo=start.tzinfo or tz)
            rule["UNTIL"] = [last.astimezone(UTC)]
        elif not isinstance(start, dt.datetime) and isinstance(value, dt.datetime):
            instant = value if value.tzinfo else value.replace(tzinfo=tz)
            rule["UNTIL"] = [instant.astimezone(tz).date()]


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


def merge_intervals(intervals) -> list[Interval]:
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


def _zone(zone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{zone!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from error


def _window(
    zone: str, window_start: dt.datetime, window_end: dt.datetime
) -> tuple[zoneinfo.ZoneInfo, dt.datetime, dt.datetime]:
    """The member's zone and the window in UTC, checked."""
    tz = _zone(zone)
    for name, bound in (("window_start", window_start), ("window_end", window_end)):
        if bound.tzinfo is None:
            raise ValueError(f"{name} must be tz-aware, got naive {bound!r}")
    lo, hi = window_start.astimezone(UTC), window_end.astimezone(UTC)
    if hi <= lo:
        raise ValueError(f"window_end {window_end} must be after window_start {window_start}")
    return tz, lo, hi


def read_calendar(
    data: bytes | str,
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> CalendarReading:
    """Busy time of one calendar over a window, and how many events the calendar has.

    Parameters
    ----------
    data : bytes or str
        iCalendar data: a whole ``.ics`` file, a subscription's body, or one calendar
        object returned by a CalDAV time-range query (bytes are decoded with
        :func:`decode_calendar`).
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
    CalendarReading
        The merged busy intervals (overlapping and touching events are joined: busy is busy)
        and the number of events in the data.

    Raises
    ------
    CalendarParseError
        If the data is not iCalendar, or is malformed in a way that changes its busy time
        (for example an event whose ``TZID`` is not defined anywhere), with the line and
        property.
    ValueError
        If ``zone`` is not an IANA zone or the window is not tz-aware and ordered.
    """
    tz, lo, hi = _window(zone, window_start, window_end)
    text = decode_calendar(data)
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")  # classic Mac OS line ends
    if not re.search("BEGIN:VCALENDAR", text, re.I):
        raise _not_a_calendar(data, text)
    calendars = _scan(text)
    if not calendars:
        raise CalendarParseError("the data holds no VCALENDAR component")
    intervals: list[Interval] = []
    events = 0
    for calendar in calendars:
        events += len(calendar.events)
        intervals.extend(_calendar_busy(text, calendar, tz, lo, hi, ignore_uids))
    return CalendarReading(merge_intervals(intervals), events)


def read_calendars(
    texts: Sequence[bytes | str],
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> CalendarReading:
    """:func:`read_calendar` over several objects of one calendar (a CalDAV calendar's events).

    The intervals are merged across objects and the events added up. An object that cannot be
    read refuses them all, its message saying which one it is (``object 3 of 12: ...``).
    """
    _window(zone, window_start, window_end)  # checked even when there is nothing to read
    intervals: list[Interval] = []
    events = 0
    for number, text in enumerate(texts, start=1):
        try:
            reading = read_calendar(
                text, zone=zone, window_start=window_start, window_end=window_end, ignore_uids=ignore_uids
            )
        except CalendarParseError as error:
            if len(texts) == 1:
                raise
            raise CalendarParseError(f"object {number} of {len(texts)}: {error}") from error
        intervals.extend(reading.intervals)
        events += reading.events
    return CalendarReading(merge_intervals(intervals), events)


def busy_intervals(
    data: bytes | str,
    *,
    zone: str,
    window_start: dt.datetime,
    window_end: dt.datetime,
    ignore_uids: Container[str] = frozenset(),
) -> list[Interval]:
    """The busy intervals of :func:`read_calendar` (same parameters and errors).

    Returns
    -------
    list of (datetime, datetime)
        Disjoint ``[start, end)`` intervals in UTC, sorted.
    """
    return read_calendar(
        data, zone=zone, window_start=window_start, window_end=window_end, ignore_uids=ignore_uids
    ).intervals


def _calendar_busy(
    text: str,
    calendar_text: _CalendarText,
    tz: zoneinfo.ZoneInfo,
    lo: dt.datetime,
    hi: dt.datetime,
    ignore_uids: Container[str],
) -> list[Interval]:
    zones = _Zones(text, calendar_text.timezones)
    chosen = _chosen_events(text, calendar_text.events, zones, lo, hi)
    source = _parse_text(text, calendar_text, chosen, zones)
    try:
        calendar = icalendar.Calendar.from_ical(source)
    except ValueError as error:
        parsed = [*calendar_text.header, *((zone.start, zone.end) for zone in zones.used.values()),
                  *((event.component.start, event.component.end) for event in chosen)]
        line, prop = _line_quoted_by(text, sorted(parsed), str(error))
        raise CalendarParseError(f"cannot parse the calendar: {error}", line=line, property=prop) from error

    events = calendar.walk("VEVENT")
    readable_events: dict[int, icalendar.Event] = {}
    for index, event in enumerate(events):
        origin = chosen[index] if index < len(chosen) else None
        where = _Source(text, origin.component if origin else None)
        if str(event.get("UID", "")) in ignore_uids:
            continue
        blocks_time = _blocks_time(event)
        if "RECURRENCE-ID" not in event and not blocks_time:
            # A transparent or cancelled series cannot make anyone busy, however broken
            # it is: leave it out (an opaque override of one of its occurrences still
            # counts, as an event of its own).
            continue
        _check_event(event, where, zones)
        raw_duration = origin.value("DURATION") if origin is not None else None
        if raw_duration and isinstance(getattr(event.get("DURATION"), "dt", None), dt.timedelta):
            if _DURATION_VALUE.match(raw_duration.strip()):
                event["DURATION"] = _Duration(raw_duration, params=event["DURATION"].params)
        if blocks_time:
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
    for event in readable.walk("VEVENT"):
        _normalise_until(event, tz)

    # Widen the query by a day on each side: all-day and floating events are
    # matched by recurring-ical-events on their own wall clock, which can be up to
    # 14 hours from UTC. The exact cut happens below, in UTC.
    margin = dt.timedelta(days=1)
    try:
        query = recurring_ical_events.of(readable, components=[_EVENTS])
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
    except zoneinfo.ZoneInfoNotFoundError:
        # x-wr-timezone reads the calendar's X-WR-TIMEZONE as an IANA name, and only that.
        if "X-WR-TIMEZONE" not in readable:
            raise
        lines = (number for number, line in _logical_lines(text, calendar_text.header)
                 if _split_content_line(line)[0] == "X-WR-TIMEZONE")
        raise CalendarParseError(
            f"X-WR-TIMEZONE {str(readable['X-WR-TIMEZONE'])!r} is not an IANA time zone name "
            "(such as 'Europe/Berlin'); correct it or remove it",
            line=next(lines, None),
            property="X-WR-TIMEZONE",
        ) from None
    return result


def _blocks_time(event: icalendar.Event) -> bool:
    """Whether this component, by its own properties, can make anyone busy."""
    transparent = str(event.get("TRANSP", "OPAQUE")).strip().upper() == "TRANSPARENT"
    cancelled = str(event.get("STATUS", "")).strip().upper() == "CANCELLED"
    return not (transparent or cancelled)
