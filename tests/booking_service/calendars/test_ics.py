"""The iCalendar reader on small hand-written calendars, one rule per test."""

from __future__ import annotations

import codecs
import datetime as dt
import pickle
import re
import time

import icalendar
import pytest

from booking_service.calendars import ics
from booking_service.calendars.ics import (
    CalendarParseError,
    _duration_days,
    busy_intervals,
    decode_calendar,
    merge_intervals,
    read_calendar,
    read_calendars,
)

from .helpers import at as utc


def calendar(*body: str, line_end: str = "\r\n") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Slotwise tests//EN", *body, "END:VCALENDAR"]
    return line_end.join(lines) + line_end


def event(*props: str, uid: str = "e1") -> list[str]:
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z", *props, "END:VEVENT"]


def read(
    text: str,
    zone: str = "Europe/Berlin",
    start: str = "2024-01-01 00:00",
    end: str = "2025-01-01 00:00",
    **kwargs,
):
    return busy_intervals(text, zone=zone, window_start=utc(start), window_end=utc(end), **kwargs)


@pytest.mark.parametrize("tzid", ["Tokyo Standard Time", "/Tokyo Standard Time"])
def test_windows_zone_name_without_vtimezone_maps_to_iana(tzid):
    # "Tokyo Standard Time" is Asia/Tokyo (+09, no DST) in the CLDR mapping, also behind a
    # globally unique prefix's slash.
    text = calendar(*event(f"DTSTART;TZID={tzid}:20240610T090000", f"DTEND;TZID={tzid}:20240610T100000"))
    assert read(text) == [(utc("2024-06-10 00:00"), utc("2024-06-10 01:00"))]


@pytest.mark.parametrize("tzid", ["XTokyo Standard Time", "Tokyo Standard TimeX", "Tokyo Standard Time/"])
def test_a_windows_zone_name_is_looked_up_whole(tzid):
    text = calendar(*event(f"DTSTART;TZID={tzid}:20240610T090000", f"DTEND;TZID={tzid}:20240610T100000"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value).startswith(f"line 7, DTSTART: TZID '{tzid}' is neither defined")


def test_windows_zone_follows_its_iana_zone_across_dst():
    # "W. Europe Standard Time" -> Europe/Berlin: +2 in July, +1 in December.
    text = calendar(
        *event(
            "DTSTART;TZID=W. Europe Standard Time:20240701T090000",
            "DTEND;TZID=W. Europe Standard Time:20240701T100000",
            "RRULE:FREQ=MONTHLY;COUNT=6",
        )
    )
    got = read(text)
    assert got[0] == (utc("2024-07-01 07:00"), utc("2024-07-01 08:00"))
    assert got[-1] == (utc("2024-12-01 08:00"), utc("2024-12-01 09:00"))


def test_vtimezone_in_the_file_wins_over_the_name():
    # A file that defines "W. Europe Standard Time" as a fixed +05:00 zone is read with its own
    # definition: the producer's meaning, not the name's usual one.
    text = calendar(
        "BEGIN:VTIMEZONE",
        "TZID:W. Europe Standard Time",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0500",
        "TZOFFSETTO:+0500",
        "END:STANDARD",
        "END:VTIMEZONE",
        *event(
            "DTSTART;TZID=W. Europe Standard Time:20240610T090000",
            "DTEND;TZID=W. Europe Standard Time:20240610T100000",
        ),
    )
    assert read(text) == [(utc("2024-06-10 04:00"), utc("2024-06-10 05:00"))]


def test_a_long_zone_name_folded_over_lines_is_read_with_its_vtimezone():
    # Outlook's display names pass the 75 octets a line may hold: the TZID lines are folded.
    name = "(UTC+05:00) Customized Time Zone of the offices in Tashkent and Samarkand"
    text = calendar(
        "BEGIN:VTIMEZONE", f"TZID:{name[:60]}", f" {name[60:]}", "BEGIN:STANDARD", "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0500", "TZOFFSETTO:+0500", "END:STANDARD", "END:VTIMEZONE",
        *event(f'DTSTART;TZID="{name}":2', " 0240610T090000", f'DTEND;TZID="{name[:30]}', f' {name[30:]}":20240610T100000'),
    )
    assert read(text) == [(utc("2024-06-10 04:00"), utc("2024-06-10 05:00"))]


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_google_calendars_zone_is_read_wherever_the_calendar_declares_it(where):
    # X-WR-TIMEZONE: a weekly 10:00 in New York written in UTC stays at 10:00 after the DST change.
    declared = ["X-WR-TIMEZONE:America/New_York"]
    series = event("DTSTART:20241028T140000Z", "DTEND:20241028T150000Z", "RRULE:FREQ=WEEKLY;COUNT=2")
    text = calendar(*(declared + series if where == "first" else series + declared))
    assert read(text, zone="UTC") == [(utc("2024-10-28 14:00"), utc("2024-10-28 15:00")),
                                      (utc("2024-11-04 15:00"), utc("2024-11-04 16:00"))]


@pytest.mark.parametrize("zone", ["Nowhere/Zone", "W. Europe Standard Time"])
def test_a_calendars_zone_that_is_no_iana_name_is_refused_at_its_line(zone):
    text = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z"), f"X-WR-TIMEZONE:{zone}")
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == (
        f"line 10, X-WR-TIMEZONE: X-WR-TIMEZONE {zone!r} is not an IANA time zone name (such as "
        "'Europe/Berlin'); correct it or remove it"
    )


def test_an_event_without_uid_is_read():
    text = calendar("BEGIN:VEVENT", "DTSTAMP:20240101T000000Z", "DTSTART:20240610T090000Z", "DTEND:20240610T100000Z",
                    "END:VEVENT")
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


def test_custom_vtimezone_placed_after_the_events_is_used():
    text = calendar(
        *event("DTSTART;TZID=Office:20240610T090000", "DTEND;TZID=Office:20240610T100000"),
        "BEGIN:VTIMEZONE",
        "TZID:Office",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:-0300",
        "TZOFFSETTO:-0300",
        "END:STANDARD",
        "END:VTIMEZONE",
    )
    assert read(text) == [(utc("2024-06-10 12:00"), utc("2024-06-10 13:00"))]


def test_floating_series_follows_the_member_wall_clock_across_dst():
    # 09:00 floating every day, member in New York: EDT (-4) until 2024-11-03 02:00, EST (-5) after.
    text = calendar(*event("DTSTART:20241102T090000", "DTEND:20241102T093000", "RRULE:FREQ=DAILY;COUNT=2"))
    assert read(text, zone="America/New_York") == [
        (utc("2024-11-02 13:00"), utc("2024-11-02 13:30")),
        (utc("2024-11-03 14:00"), utc("2024-11-03 14:30")),
    ]


def test_a_floating_series_meets_its_utc_exdate_and_until_on_the_member_wall_clock():
    # 22:00 in New York is 02:00Z the next day: the EXDATE in UTC removes the first occurrence,
    # and the UNTIL in UTC (01:00Z on the 13th) ends the series before the third.
    text = calendar(*event("DTSTART:20240610T220000", "DTEND:20240610T230000",
                           "RRULE:FREQ=DAILY;UNTIL=20240613T010000Z", "EXDATE:20240611T020000Z"))
    assert read(text, zone="America/New_York") == [(utc("2024-06-12 02:00"), utc("2024-06-12 03:00"))]


@pytest.mark.parametrize("props", [
    ("DTSTART:20240610T090000", "DTEND:20240610T100000Z"),
    # An RDATE period the same way (the first occurrence, of no length, blocks nothing).
    ("DTSTART:20240601T090000Z", "RDATE;VALUE=PERIOD:20240610T090000/20240610T100000Z"),
])
def test_a_floating_start_with_an_end_in_utc_is_read_each_on_its_own_clock(props):
    # 09:00 on the member's clock in Berlin is 07:00Z; the end is 10:00Z as written.
    assert read(calendar(*event(*props))) == [(utc("2024-06-10 07:00"), utc("2024-06-10 10:00"))]


def test_all_day_event_blocks_the_member_local_day_even_when_midnight_is_skipped():
    # America/Santiago moves from -04 to -03 at 2024-09-08 00:00: that local day starts at 01:00
    # (04:00Z) and lasts 23 hours; the day before runs from 04:00Z to 04:00Z.
    text = calendar(*event("DTSTART;VALUE=DATE:20240907", "DTEND;VALUE=DATE:20240909"))
    assert read(text, zone="America/Santiago") == [(utc("2024-09-07 04:00"), utc("2024-09-09 03:00"))]


def test_all_day_event_without_dtend_lasts_one_day():
    text = calendar(*event("DTSTART;VALUE=DATE:20240610"))
    assert read(text, zone="Asia/Kolkata") == [(utc("2024-06-09 18:30"), utc("2024-06-10 18:30"))]


def test_duration_instead_of_dtend():
    text = calendar(*event("DTSTART:20240610T090000Z", "DURATION:PT1H30M"))
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:30"))]


def test_transparent_series_with_an_opaque_override_blocks_only_the_override():
    text = calendar(
        *event(
            "DTSTART:20240610T090000Z",
            "DTEND:20240610T100000Z",
            "RRULE:FREQ=DAILY;COUNT=3",
            "TRANSP:TRANSPARENT",
        ),
        *event(
            "RECURRENCE-ID:20240611T090000Z",
            "DTSTART:20240611T120000Z",
            "DTEND:20240611T130000Z",
            "TRANSP:OPAQUE",
        ),
    )
    assert read(text) == [(utc("2024-06-11 12:00"), utc("2024-06-11 13:00"))]


def test_a_cancelled_or_transparent_occurrence_of_a_busy_series_is_free():
    # Google writes a cancelled occurrence as an override with STATUS:CANCELLED and its DTEND.
    text = calendar(
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=DAILY;COUNT=3"),
        *event("RECURRENCE-ID:20240611T090000Z", "DTSTART:20240611T090000Z", "DTEND:20240611T100000Z",
               "STATUS:CANCELLED"),
        *event("RECURRENCE-ID:20240612T090000Z", "DTSTART:20240612T090000Z", "DURATION:PT2H", "TRANSP:TRANSPARENT"),
    )
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


def test_cancelled_and_transparent_events_are_free_and_tentative_is_busy():
    text = calendar(
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "STATUS:CANCELLED", uid="a"),
        *event("DTSTART:20240610T110000Z", "DTEND:20240610T120000Z", "TRANSP:TRANSPARENT", uid="b"),
        *event("DTSTART:20240610T130000Z", "DTEND:20240610T140000Z", "STATUS:TENTATIVE", uid="c"),
    )
    assert read(text) == [(utc("2024-06-10 13:00"), utc("2024-06-10 14:00"))]


def test_occurrences_are_clipped_to_the_window_and_joined_when_touching():
    text = calendar(
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="a"),
        *event("DTSTART:20240610T100000Z", "DTEND:20240610T110000Z", uid="b"),
        *event("DTSTART:20240610T230000Z", "DTEND:20240611T010000Z", uid="c"),
    )
    assert read(text, start="2024-06-10 09:30", end="2024-06-11 00:00") == [
        (utc("2024-06-10 09:30"), utc("2024-06-10 11:00")),
        (utc("2024-06-10 23:00"), utc("2024-06-11 00:00")),
    ]


def test_ignored_uids_leave_out_the_whole_series():
    text = calendar(
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="slotwise-meeting-1"),
        *event("DTSTART:20240610T110000Z", "DTEND:20240610T120000Z", uid="other"),
    )
    assert read(text, ignore_uids={"slotwise-meeting-1"}) == [
        (utc("2024-06-10 11:00"), utc("2024-06-10 12:00"))
    ]


def test_bare_lf_line_ends_and_folded_lines_are_read():
    text = calendar(*event("DTSTART:20240610T09", " 0000Z", "DTEND:20240610T100000Z"), line_end="\n")
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


def test_broken_value_in_an_opaque_event_is_refused_with_its_line():
    text = calendar(*event("DTSTART:20241340T090000Z", "DTEND:20240610T100000Z", uid="broken"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert caught.value.line == 7
    assert caught.value.property == "DTSTART"
    assert "'broken'" in str(caught.value)


@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_a_refusal_counts_every_line_of_the_file_folded_or_blank(line_end):
    text = line_end + calendar(
        *event("DESCRIPTION:a long", " folded", "\tdescription", "DTSTART:20240610T090000Z", "DTEND:20240610T080000Z"),
        line_end=line_end,
    )
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == (
        "line 12, DTEND: the event 'e1' ends (20240610T080000Z) before it starts (20240610T090000Z)"
    )


def test_an_unreadable_line_of_no_property_refuses_the_event_at_its_first_line():
    # The fault names no property, so the event is named by its BEGIN line, not by its alarm's.
    text = calendar(*event("DTSTART:20240610T090000Z", "BEGIN:VALARM", "TRIGGER:-PT15M", "ACTION:DISPLAY",
                           "END:VALARM", "SUMMARY;LANGUAGE:x"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert (caught.value.line, caught.value.property) == (4, None)
    assert str(caught.value).startswith("line 4: cannot read the event 'e1': Content line could not be parsed")


@pytest.mark.parametrize("line", [":no name", ';TZID="W. Europe Standard Time:20240610T090000"'])
def test_an_unreadable_line_without_a_name_refuses_the_event_at_that_line(line):
    # No property to name, and no advice about the quotes of a TZID that belongs to no property.
    text = calendar(*event("DTSTART:20240610T090000Z", "DURATION:PT1H", line))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert (caught.value.line, caught.value.property) == (9, None)
    assert str(caught.value).startswith(
        f"line 9: cannot read the event 'e1': Content line could not be parsed into parts: {line!r}"
    )


def test_an_event_nested_in_another_is_busy_too():
    # Invalid, but its busy time is not lost: each is read by its own lines.
    text = calendar(*event("DTSTART:20240610T090000Z", "DURATION:PT1H",
                           *event("DTSTART:20240611T090000Z", "DURATION:PT2H", uid="inner")))
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00")),
                          (utc("2024-06-11 09:00"), utc("2024-06-11 11:00"))]


def test_an_event_nested_in_another_is_checked_too():
    # Its faults refuse the calendar as any event's do (without a line: its lines are not known).
    text = calendar(*event("DTSTART:20240610T090000Z", "DURATION:PT1H",
                           *event("DTSTART:20240611T090000Z", "DURATION:PT2H",
                                  "RDATE;VALUE=PERIOD:20240612T090000Z/20240612T080000Z", uid="inner")))
    with pytest.raises(CalendarParseError, match="the event 'inner' has an RDATE period that ends"):
        read(text)


def test_a_location_in_an_alarm_leaves_the_events_own_lines_its_own():
    # RFC 9074 lets an alarm hold a VLOCATION (a proximity alarm): three components deep, its
    # lines and the alarm's (a DURATION of 5 minutes here) stay out of the event's.
    text = calendar(*event("DTSTART:20240610T090000Z", "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M",
                           "DURATION:PT5M", "REPEAT:1", "BEGIN:VLOCATION", "UID:office", "NAME:Office",
                           "END:VLOCATION", "END:VALARM", "DURATION:PT1H"))
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


def test_a_refusal_keeps_its_words_line_and_property_between_processes():
    # The calendar sandbox reads in a child process and sends the refusal back pickled.
    text = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T080000Z"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), copy.reason, copy.line, copy.property) == (
        str(caught.value), caught.value.reason, 8, "DTEND"
    )
    assert copy.reason == "the event 'e1' ends (20240610T080000Z) before it starts (20240610T090000Z)"


def test_busy_time_is_in_utc_whatever_the_machines_zone(monkeypatch):
    text = calendar(
        *event("DTSTART;VALUE=DATE:20240610", uid="all-day"),
        *event("DTSTART:20240612T090000", "DURATION:PT1H", uid="floating"),
        *event("DTSTART;TZID=America/New_York:20240614T090000", "DURATION:P1DT1H", uid="zoned"),
        *event("DTSTART;VALUE=DATE:20240617", "DTEND;VALUE=DATE:20240618", "RRULE:FREQ=DAILY;UNTIL=20240618T220000Z",
               uid="until"),
        *event("DTSTART:20240622T233000Z", "DTEND:20240622T234500Z", "RRULE:FREQ=DAILY;UNTIL=20240623", uid="date-until"),
        # cut at the window's ends
        *event("DTSTART:20231231T230000Z", "DTEND:20240101T010000Z", uid="before"),
        *event("DTSTART:20241231T230000Z", "DTEND:20250101T010000Z", uid="after"),
    )
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        got = read(text, zone="Europe/Berlin")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert got == [
        (utc("2024-01-01 00:00"), utc("2024-01-01 01:00")),
        (utc("2024-06-09 22:00"), utc("2024-06-10 22:00")),
        (utc("2024-06-12 07:00"), utc("2024-06-12 08:00")),
        (utc("2024-06-14 13:00"), utc("2024-06-15 14:00")),
        (utc("2024-06-16 22:00"), utc("2024-06-19 22:00")),  # UNTIL is the 19th's Berlin midnight
        (utc("2024-06-22 23:30"), utc("2024-06-22 23:45")),
        (utc("2024-06-23 23:30"), utc("2024-06-23 23:45")),
        (utc("2024-12-31 23:00"), utc("2025-01-01 00:00")),
    ]
    assert {bound.tzinfo for interval in got for bound in interval} == {dt.UTC}


def test_broken_todo_does_not_refuse_the_calendar():
    text = calendar(
        "BEGIN:VTODO",
        "UID:t",
        "DTSTAMP:20240101T000000Z",
        "DUE:not-a-date",
        "END:VTODO",
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z"),
    )
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("<html><body>Sign in</body></html>", "not iCalendar data"),
        ("", "not iCalendar data"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
            "line 3, END: END:VCALENDAR where END:VEVENT",
        ),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", "line 2, BEGIN: BEGIN:VEVENT is never closed"),
        ("BEGIN:VCALENDAR\r\nVERSION\r\nEND:VCALENDAR\r\n", "cannot parse"),
    ],
)
def test_data_that_is_not_a_calendar_is_refused(data, message):
    with pytest.raises(CalendarParseError, match=message):
        read(data)


@pytest.mark.parametrize(("data", "refusal"), [
    ("\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n" + calendar(), "line 2, BEGIN: BEGIN:VEVENT outside any VCALENDAR"),
    (calendar() + "END:VEVENT\r\n", "line 5, END: END:VEVENT where no END line was expected"),
    ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\nEND:VEVENT\r\n",
     "line 4, END: END:VEVENT where END:VALARM was expected"),
    ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nBEGIN:VALARM\r\n",
     "line 3, BEGIN: BEGIN:VALARM is never closed (the data may be cut off)"),
    ("X-NOTE:BEGIN:VCALENDAR\r\n", "the data holds no VCALENDAR component"),
])
def test_components_out_of_order_are_refused_at_their_line(data, refusal):
    with pytest.raises(CalendarParseError) as caught:
        read(data)
    assert str(caught.value) == refusal


def test_two_calendars_in_one_file_with_classic_mac_line_ends_and_lower_case_names_are_read():
    first = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="a"))
    second = calendar(*event("DTSTART:20240611T090000Z", "DTEND:20240611T100000Z", uid="b"),
                      *event("DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", uid="later"))
    data = re.sub(r"^(BEGIN|END):\w+", lambda m: m.group(0).lower(), first + second, flags=re.M).replace("\r\n", "\r")
    reading = read_calendar(data, zone="UTC", window_start=utc("2024-01-01 00:00"), window_end=utc("2025-01-01 00:00"))
    assert reading.intervals == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00")),
                                 (utc("2024-06-11 09:00"), utc("2024-06-11 10:00"))]
    assert reading.events == 3


ALARM = ["BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "END:VALARM"]
OFFICE = ["BEGIN:VTIMEZONE", "TZID:Office", "BEGIN:STANDARD", "DTSTART:16010101T000000", "TZOFFSETFROM:+0100",
          "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE"]


@pytest.mark.parametrize(("body", "refusal"), [
    # An alarm's bad value, not the event's description that mentions the same word.
    ((*event("DTSTART:20240610T090000Z", "DESCRIPTION:too late", *ALARM[:2], "TRIGGER:late", ALARM[-1]),),
     "line 11, TRIGGER: cannot parse the calendar: Expected datetime, date, or time. Got: 'late'"),
    ((*event("DTSTART:20240610T090000Z", *ALARM[:3], "REPEAT:2", "DURATION:5 min", ALARM[-1]),),
     "line 12, DURATION: cannot parse the calendar: Expected datetime, date, or time. Got: '5 min'"),
    # The calendar's own property, and a zone's: one value of a list is enough to find its line.
    (("LAST-MODIFIED:yesterday", *event("DTSTART:20240610T090000Z")),
     "line 4, LAST-MODIFIED: cannot parse the calendar: Expected datetime, date, or time. Got: 'yesterday'"),
    ((*OFFICE[:4], "RDATE:19700101T000000,19711301T000000", *OFFICE[4:], *event("DTSTART;TZID=Office:20240610T090000")),
     "line 8, RDATE: cannot parse the calendar: Wrong datetime format: 19711301T000000"),
    # Three characters are enough to look for, and the whole of them (not the description's "late").
    ((*event("DTSTART:20240610T090000Z", *ALARM[:2], "TRIGGER:abc", ALARM[-1]),),
     "line 10, TRIGGER: cannot parse the calendar: Expected datetime, date, or time. Got: 'abc'"),
    ((*event("DTSTART:20240610T090000Z", "DESCRIPTION:late", *ALARM[:2], "TRIGGER:lateX", ALARM[-1]),),
     "line 11, TRIGGER: cannot parse the calendar: Expected datetime, date, or time. Got: 'lateX'"),
    # The value follows the message's first ": " and may hold one itself: the whole of it is looked
    # for, not its end (another line's whole value, or too short to find).
    ((*event("DTSTART:20240610T090000Z", "DESCRIPTION:late", *ALARM[:3], "REPEAT:note: late", ALARM[-1]),),
     "line 12, REPEAT: cannot parse the calendar: Expected int, got: note: late"),
    ((*OFFICE[:4], "TZOFFSETFROM:+01: 00", *OFFICE[5:], *event("DTSTART;TZID=Office:20240610T090000")),
     "line 8, TZOFFSETFROM: cannot parse the calendar: Expected UTC offset, got: +01: 00"),
    # A message that quotes no value, or too short a one to find: no line.
    ((*event("DTSTART:20240610T090000Z", *ALARM[:3], "SUMMARY", ALARM[-1]),),
     "cannot parse the calendar: Content line could not be parsed into parts: 'SUMMARY': Invalid content line"),
    # (What it quotes is a whole line, not a value: not the line whose value holds the words after it.)
    ((*event("DTSTART:20240610T090000Z", "DESCRIPTION:Invalid content line", *ALARM[:3], "SUMMARY", ALARM[-1]),),
     "cannot parse the calendar: Content line could not be parsed into parts: 'SUMMARY': Invalid content line"),
    ((*event("DTSTART:20240610T090000Z", *ALARM[:3], "REPEAT:xy", ALARM[-1]),),
     "cannot parse the calendar: Expected int, got: xy"),
])
def test_a_value_the_parser_cannot_read_outside_an_event_is_found_on_its_line(body, refusal):
    with pytest.raises(CalendarParseError) as caught:
        read(calendar(*body))
    assert str(caught.value) == refusal


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"window_start": dt.datetime(2024, 1, 1)}, "must be tz-aware"),
        ({"window_end": utc("2023-01-01 00:00")}, "must be after"),
        ({"window_end": utc("2024-01-01 00:00")}, "must be after"),
        ({"window_end": dt.datetime(2024, 2, 1)}, "window_end must be tz-aware"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    arguments = {
        "zone": "UTC",
        "window_start": utc("2024-01-01 00:00"),
        "window_end": utc("2024-02-01 00:00"),
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        busy_intervals(calendar(), **arguments)


def test_merge_intervals_joins_overlaps_and_drops_empty():
    a, b, c, d, e = (utc(f"2024-06-10 0{h}:00") for h in (1, 2, 3, 4, 6))
    assert merge_intervals([(c, d), (a, c), (b, b), (b, c), (e, e)]) == [(a, d)]


NOWHERE = ("TZID 'Nowhere Time' is neither defined by a VTIMEZONE in this calendar nor a known IANA or Windows "
           "time zone name; the producer must include its VTIMEZONE or use a standard zone name")


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        (event("DTEND:20240610T100000Z", uid="nostart"), "line 4, DTSTART: the event 'nostart' has no DTSTART"),
        (["BEGIN:VEVENT", "DTSTAMP:20240101T000000Z", "DTEND:20240610T100000Z", "END:VEVENT"],
         "line 4, DTSTART: the event '?' has no DTSTART"),
        (event("DTSTART:20240610T090000Z", "DTEND:20240610T080000Z"),
         "line 8, DTEND: the event 'e1' ends (20240610T080000Z) before it starts (20240610T090000Z)"),
        (event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:GARBAGE"),
         "line 9, RRULE: the event 'e1' has an RRULE without FREQ"),
        (event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=MINUTELY"),
         "line 9, RRULE: the event 'e1' repeats minutely; meetings do not, and expanding it would take too long"),
        (event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=SECONDLY"),
         "line 9, RRULE: the event 'e1' repeats secondly; meetings do not, and expanding it would take too long"),
        (event("DTSTART;TZID=Nowhere Time:20240610T090000", "DTEND;TZID=Nowhere Time:20240610T100000"),
         f"line 7, DTSTART: {NOWHERE}"),
        # The EXDATE line that names the zone, not the first EXDATE.
        (event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=DAILY;COUNT=3",
               "EXDATE:20240611T090000Z", "EXDATE;TZID=Nowhere Time:20240612T090000"), f"line 11, EXDATE: {NOWHERE}"),
    ],
)
def test_impossible_events_are_refused_in_whole_words(lines, refusal):
    with pytest.raises(CalendarParseError) as caught:
        read(calendar(*lines))
    assert str(caught.value) == refusal


@pytest.mark.parametrize("end", ["DURATION:PT0S", "DURATION:P0D", "DTEND:20240610T090000Z",
                                 "RDATE;VALUE=PERIOD:20240612T090000Z/20240612T090000Z"])
def test_an_event_of_no_length_blocks_nothing_and_is_not_refused(end):
    assert read(calendar(*event("DTSTART:20240610T090000Z", end))) == []


def test_a_calendar_in_another_calendar_scale_than_the_gregorian_is_refused():
    with pytest.raises(CalendarParseError) as caught:
        read(calendar("CALSCALE:CHINESE", *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z")))
    assert str(caught.value) == "cannot expand the calendar's events: Only Gregorian calendars are supported."


def test_runaway_recurrence_is_refused(monkeypatch):
    from booking_service.calendars import ics as ics_module

    monkeypatch.setattr(ics_module, "MAX_OCCURRENCES", 100)
    text = calendar(*event("DTSTART:20240101T000000Z", "DTEND:20240101T001000Z", "RRULE:FREQ=HOURLY"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == (
        "the calendar has more than 100 event occurrences in the sync window (2024-01-01 to 2025-01-01); "
        "shorten the window or remove the runaway recurring event"
    )
    # The limit itself is allowed.
    for count, allowed in ((100, True), (101, False)):
        limited = calendar(*event("DTSTART:20240601T000000Z", "DTEND:20240601T001000Z", f"RRULE:FREQ=HOURLY;COUNT={count}"))
        if allowed:
            assert len(read(limited)) == count
        else:
            with pytest.raises(CalendarParseError, match="more than 100"):
                read(limited)
    # A shorter window stays under the limit (48 occurrences read, with the one-day margin).
    assert len(read(text, end="2024-01-02 00:00")) == 24


# --- durations, UNTIL, zones, encodings, messages ---------------------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        # Europe/Berlin moves from +01 to +02 at 2026-03-29 01:00Z and back at 10-25 01:00Z.
        ("20260328T120000", "PT24H", "2026-03-29 11:00"),  # exact: 24 real hours
        ("20260328T120000", "P1D", "2026-03-29 10:00"),  # nominal: 12:00 the next day, 23 hours
        ("20260328T120000", "P1DT1H", "2026-03-29 11:00"),  # the day on the wall clock, then an hour
        ("20261024T120000", "PT24H", "2026-10-25 10:00"),
        ("20261024T120000", "P1D", "2026-10-25 11:00"),  # 25 hours
        ("20261024T120000", "PT1440M", "2026-10-25 10:00"),
    ],
)
def test_duration_in_hours_is_exact_and_in_days_is_nominal_across_dst(start, duration, end):
    text = calendar(*event(f"DTSTART;TZID=Europe/Berlin:{start}", f"DURATION:{duration}"))
    (busy,) = read(text, start="2026-03-01 00:00", end="2026-12-01 00:00")
    assert busy[1] == utc(end)


def test_exact_duration_holds_for_every_occurrence_of_a_series():
    # Daily 12:00 Berlin for PT24H: the occurrence that starts the day before the change ends
    # 24 real hours later (13:00 CEST), the others at 12:00 the next day; they join into one block.
    text = calendar(
        *event("DTSTART;TZID=Europe/Berlin:20260327T120000", "DURATION:PT24H", "RRULE:FREQ=WEEKLY;COUNT=2")
    )
    assert read(text, start="2026-03-01 00:00", end="2026-05-01 00:00") == [
        (utc("2026-03-27 11:00"), utc("2026-03-28 11:00")),
        (utc("2026-04-03 10:00"), utc("2026-04-04 10:00")),
    ]
    across = calendar(*event("DTSTART;TZID=Europe/Berlin:20260321T120000", "DURATION:PT24H", "RRULE:FREQ=WEEKLY;COUNT=2"))
    assert read(across, start="2026-03-01 00:00", end="2026-05-01 00:00")[-1] == (
        utc("2026-03-28 11:00"),
        utc("2026-03-29 11:00"),
    )


def test_date_until_on_a_timed_series_keeps_that_whole_day():
    # Invalid (UNTIL must be a date-time like DTSTART) but common: 03-11 is the last day.
    text = calendar(
        *event(
            "DTSTART;TZID=Europe/Berlin:20260309T090000",
            "DTEND;TZID=Europe/Berlin:20260309T100000",
            "RRULE:FREQ=DAILY;UNTIL=20260311",
        )
    )
    assert read(text, start="2026-03-01 00:00", end="2026-04-01 00:00") == [
        (utc("2026-03-09 08:00"), utc("2026-03-09 09:00")),
        (utc("2026-03-10 08:00"), utc("2026-03-10 09:00")),
        (utc("2026-03-11 08:00"), utc("2026-03-11 09:00")),
    ]


def test_date_time_until_on_an_all_day_series_ends_on_the_member_local_date():
    # Exchange writes the last day's local midnight in UTC: 2026-06-11 00:00 in Tokyo (+09) is
    # 06-10 15:00Z. The series runs 06-09 .. 06-11 for a member in Tokyo.
    text = calendar(
        *event("DTSTART;VALUE=DATE:20260609", "DTEND;VALUE=DATE:20260610", "RRULE:FREQ=DAILY;UNTIL=20260610T150000Z")
    )
    assert read(text, zone="Asia/Tokyo", start="2026-06-01 00:00", end="2026-07-01 00:00") == [
        (utc("2026-06-08 15:00"), utc("2026-06-11 15:00"))
    ]


SAO_PAULO_WITH_OLD_DST = [
    # Brazil's rules until 2019: -03 in standard time, -02 from the first Sunday of November to
    # the third Sunday of February. São Paulo has kept -03 all year since 2019.
    "BEGIN:VTIMEZONE",
    "TZID:{tzid}",
    "BEGIN:STANDARD",
    "DTSTART:19700215T000000",
    "TZOFFSETFROM:-0200",
    "TZOFFSETTO:-0300",
    "RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=3SU",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:19701101T000000",
    "TZOFFSETFROM:-0300",
    "TZOFFSETTO:-0200",
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
]


@pytest.mark.parametrize(
    ("tzid", "start"),
    [
        # An IANA name means today's IANA rules, whatever the file's block says: 10:00 at -03.
        ("America/Sao_Paulo", "2026-01-12 13:00"),
        ("/freeassociation.sourceforge.net/America/Sao_Paulo", "2026-01-12 13:00"),
        ("/mozilla.org/20070129_1/America/Sao_Paulo", "2026-01-12 13:00"),
        # Any other name means exactly the file's definition: 10:00 at -02 in its January.
        ("Brasilia Standard Time", "2026-01-12 12:00"),
    ],
)
def test_iana_names_follow_the_iana_database_and_other_names_the_file(tzid, start):
    text = calendar(
        *(line.format(tzid=tzid) for line in SAO_PAULO_WITH_OLD_DST),
        *event(f"DTSTART;TZID={tzid}:20260112T100000", f"DTEND;TZID={tzid}:20260112T110000"),
    )
    assert read(text, zone="America/Sao_Paulo", start="2026-01-01 00:00", end="2026-02-01 00:00") == [
        (utc(start), utc(start) + dt.timedelta(hours=1))
    ]


def test_a_zone_one_calendar_defines_never_serves_another_read_at_the_same_time():
    # No lock between reads: calendars read at once in threads each see their own zones only.
    import threading

    defines = calendar(
        "BEGIN:VTIMEZONE",
        "TZID:Customized Time Zone",
        "BEGIN:STANDARD",
        "DTSTART:16010101T000000",
        "TZOFFSETFROM:+0500",
        "TZOFFSETTO:+0500",
        "END:STANDARD",
        "END:VTIMEZONE",
        *event("DTSTART;TZID=Customized Time Zone:20240610T090000", "DTEND;TZID=Customized Time Zone:20240610T100000"),
    )
    lacks = calendar(
        *event("DTSTART;TZID=Customized Time Zone:20240610T090000", "DTEND;TZID=Customized Time Zone:20240610T100000")
    )
    outcomes: list[object] = []

    def run(text: str) -> None:
        for _ in range(20):
            try:
                outcomes.append(read(text))
            except CalendarParseError as error:
                outcomes.append(error.property)

    threads = [threading.Thread(target=run, args=(text,)) for text in (defines, lacks, defines, lacks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == sorted(
        [str([(utc("2024-06-10 04:00"), utc("2024-06-10 05:00"))])] * 40 + ["DTSTART"] * 40
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "cp1252"])
def test_encodings_are_read(encoding):
    text = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "SUMMARY:Café with Müller"))
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert read(data) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]
    assert "Café with Müller" in decode_calendar(data)


@pytest.mark.parametrize(("data", "text"), [
    # Each byte order mark decides, UTF-32's before UTF-16's (FF FE 00 00 starts with FF FE).
    (codecs.BOM_UTF32_LE + "BEGIN Café".encode("utf-32-le"), "BEGIN Café"),
    (codecs.BOM_UTF32_BE + "BEGIN Café".encode("utf-32-be"), "BEGIN Café"),
    (codecs.BOM_UTF16_LE + "BEGIN Café".encode("utf-16-le"), "BEGIN Café"),
    (codecs.BOM_UTF16_BE + "BEGIN Café".encode("utf-16-be"), "BEGIN Café"),
    (codecs.BOM_UTF8 + "BEGIN Café".encode(), "BEGIN Café"),
    ("\ufeffBEGIN Café", "BEGIN Café"),
    # UTF-16 without a mark, known by the zero bytes of "BEGIN"; a stray last byte is replaced.
    ("BEGIN Café".encode("utf-16-le") + b"\x00", "BEGIN Café\ufffd"),
    ("BEGIN Café".encode("utf-16-be") + b"\x00", "BEGIN Café\ufffd"),
    # Not UTF-8: Windows-1252, whose undefined bytes (0x81) become U+FFFD.
    (b"BEGIN Caf\xe9 \x81", "BEGIN Café \ufffd"),
])
def test_calendar_data_is_decoded_by_its_byte_order_mark_or_its_bytes(data, text):
    assert decode_calendar(data) == text


@pytest.mark.parametrize(("data", "name", "byte"), [
    (codecs.BOM_UTF8 + b"BEGIN\xff", "UTF-8", "8"),
    (codecs.BOM_UTF8 + b"x" * 1234 + b"\xff", "UTF-8", "1,237"),
    (codecs.BOM_UTF16_LE + b"B\x00\x00\xd8", "UTF-16", "4"),
    (codecs.BOM_UTF16_BE + b"\x00B\xd8\x00", "UTF-16", "4"),
    (codecs.BOM_UTF32_LE + b"B\x00\x00\x00\x00\x00\x11\x00", "UTF-32", "8"),
    (codecs.BOM_UTF32_BE + b"\x00\x00\x00B\x00\x11\x00\x00", "UTF-32", "8"),
])
def test_data_that_breaks_its_byte_order_mark_is_refused_with_the_byte(data, name, byte):
    with pytest.raises(CalendarParseError) as caught:
        decode_calendar(data)
    assert str(caught.value) == (
        f"the file starts with a {name} byte order mark but byte {byte} is not {name} text; "
        "save the calendar again as UTF-8"
    )
    assert (caught.value.line, caught.value.property) == (None, None)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Sign in - Google Accounts</title></head><body></body></html>",
            "an HTML page titled 'Sign in - Google Accounts', such as a sign-in or error page",
        ),
        (b'{"error": {"code": 401, "message": "Unauthorized"}}', "JSON data"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG file (image/png)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64), "a JPG file (image/jpeg)"),
        (b"%PDF-1.7\n" + bytes(64), "a PDF file (application/pdf)"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n", "a contact card (vCard)"),
        (b"   \r\n", "empty"),
        # HTML however it is spelt, its title (any case, over lines, with entities) cut at 80 characters.
        (b"<!doctype HTML>\n<TITLE>Access\n  denied &amp; more</TITLE>", "an HTML page titled 'Access denied & more', "
         "such as a sign-in or error page"),
        ("  \n<HTML><head></head></HTML>", "an HTML page, such as a sign-in or error page"),
        ("<!-- proxy -->\n<BODY>Gateway timeout</BODY>", "an HTML page, such as a sign-in or error page"),
        ("<!-- proxy --><html lang=en>x</html>", "an HTML page, such as a sign-in or error page"),
        ("<html><title>" + "T" * 100 + "</title>", f"an HTML page titled {'T' * 80!r}, such as a sign-in or error page"),
        # The page is told by its first 2,048 characters, its title looked for in the first 8,192.
        ("<!--" + "-" * 2039 + "<html>", "an HTML page, such as a sign-in or error page"),
        ("<!--" + "-" * 2040 + "<html>", "XML or HTML markup"),
        ("<html>" + " " * 8170 + "<title>T</title>", "an HTML page titled 'T', such as a sign-in or error page"),
        ("<html>" + " " * 8171 + "<title>T</title>", "an HTML page, such as a sign-in or error page"),
        ("<?XML version='1.0'?><feed/>", "XML or HTML markup"),
        ("<feed/>", "XML or HTML markup"),
        ("[1, 2]", "JSON data"),
        ("{not json", "text that starts with '{not json'"),
        ("(not json)", "text that starts with '(not json)'"),
        # What text it is: its first 60 characters, white space run together.
        ("\n  Not\r\n a\tcalendar " + "x" * 80, "text that starts with 'Not a calendar " + "x" * 43 + "'"),
    ],
)
def test_data_that_is_not_a_calendar_is_named(data, found):
    with pytest.raises(CalendarParseError) as caught:
        read(data)
    assert str(caught.value) == (
        f"this is not iCalendar data (no BEGIN:VCALENDAR): it is {found}; "
        "give the calendar's .ics export or its iCal/ICS address"
    )


@pytest.mark.parametrize(("lines", "line_end"), [
    (['DTSTART;TZID="W. Europe Standard Time:20200609T090000"'], "\r\n"),
    # The same line folded (with a space, or a tab), as it is read: unfolded.
    (['DTSTART;TZID="W. Europe Stan', ' dard Time:20200609T090000"'], "\r\n"),
    (['DTSTART;TZID="W. Europe Stan', '\tdard Time:20200609T090000"'], "\n"),
])
def test_busy_event_whose_tzid_quote_swallows_the_value_points_at_the_quote(lines, line_end):
    text = calendar(
        *event(*lines, "DTEND;TZID=W. Europe Standard Time:20200609T100000", uid="quoted"), line_end=line_end
    )
    with pytest.raises(CalendarParseError) as caught:
        read(text, start="2020-06-01 00:00", end="2020-07-01 00:00")
    assert (caught.value.line, caught.value.property) == (7, "DTSTART")
    assert str(caught.value) == (
        "line 7, DTSTART: cannot read the event 'quoted': the value is inside the quotes of "
        'TZID="W. Europe Standard Time:20200609T090000", so the property has no value; the closing quote '
        'belongs before the colon: DTSTART;TZID="W. Europe Standard Time":20200609T090000'
    )


BROKEN_EVENTS = [
    (("DTSTART;TZID=Nowhere Time:{day}T090000", "DTEND;TZID=Nowhere Time:{day}T100000"), "line 7, DTSTART: TZID 'Nowhere Time'"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T080000Z"), "line 8, DTEND: the event 'e1' ends"),
    (("DTSTART;VALUE=DATE:{day}", "DTEND;VALUE=DATE:{month}01"),
     r"line 8, DTEND: the event 'e1' ends \({month}01\) before it starts \({day}\)"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=MINUTELY"), "line 9, RRULE: .* repeats minutely"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:BYDAY=XX"), "line 9, RRULE: cannot read the event"),
    (("DTSTART:{month}40T090000Z", "DTEND:{day}T100000Z"), "line 7, DTSTART: cannot read the event"),
    # An hour, a minute or a second out of range, the leap second too (the parser refuses it).
    (("DTSTART:{day}T250000Z", "DURATION:PT1H"), "line 7, DTSTART: .* Wrong datetime format: {day}T250000Z"),
    (("DTSTART:{day}T096100Z", "DTEND:{day}T100000Z"), "line 7, DTSTART: .* Wrong datetime format: {day}T096100Z"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T235960Z"), "line 8, DTEND: .* Wrong datetime format: {day}T235960Z"),
    (("DTSTART:{day}T090000Z", "DURATION:1 hour"), "line 8, DURATION: cannot read the event"),
    # Backwards by DURATION, as by DTEND: refused, not read as the hour before DTSTART.
    (("DTSTART:{day}T090000Z", "DURATION:-PT1H"),
     r"line 8, DURATION: the event 'e1' lasts a negative time \(-PT1H\): a DURATION counts forward"),
    (('DTSTART;TZID="W. Europe Standard Time:{day}T090000"',), "line 7, DTSTART: .* the closing quote"),
    # A value after the quotes is the value, however the quotes read: no advice about them.
    (('DTSTART;TZID="W. Europe Standard Time:{day}T090000":{day}T0900',),
     "line 7, DTSTART: cannot read the event 'e1': Expected datetime, date, or time. Got: '{day}T0900'"),
    # A DTEND, or an UNTIL, that is no date.
    (("DTSTART:{day}T090000Z", "DTEND:later"), "line 8, DTEND: cannot read the event 'e1'"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=DAILY;UNTIL={month}40T235959Z"),
     "line 9, RRULE: cannot read the event 'e1'"),
    # An RDATE period backwards, by its end or by its duration.
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RDATE;VALUE=PERIOD:{day}T120000Z/PT1H,{day}T150000Z/{day}T140000Z"),
     r"line 9, RDATE: the event 'e1' has an RDATE period that ends \(.* 14:00:00\+00:00\) before it starts \(.* 15:00"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RDATE;VALUE=PERIOD:{day}T150000Z/-PT1H"),
     r"line 9, RDATE: the event 'e1' has an RDATE period that ends \(.* 14:00:00\+00:00\) before it starts"),
    # After an instant on its line, and on either of two RDATE lines: the line of that period.
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RDATE:{day}T120000Z,{day}T150000Z/{day}T140000Z"),
     r"line 9, RDATE: the event 'e1' has an RDATE period that ends \(.* 14:00:00\+00:00\) before it starts"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RDATE;VALUE=PERIOD:{day}T150000Z/{day}T140000Z",
      "RDATE:{day}T160000Z"), r"line 9, RDATE: the event 'e1' has an RDATE period that ends"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RDATE:{day}T160000Z",
      "RDATE;VALUE=PERIOD:{day}T150000Z/{day}T140000Z"), r"line 10, RDATE: the event 'e1' has an RDATE period that ends"),
    # The event's own DURATION, not its alarm's before it.
    (("DTSTART:{day}T090000Z", "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "DURATION:PT5M", "REPEAT:1",
      "END:VALARM", "DURATION:1 hour"), "line 14, DURATION: cannot read the event 'e1'"),
    # Faults of an event that cannot reach the window by its dates: only the triage sees them.
    (("DTSTART;TZID=Europe/Berlin:{day}T090000", "DTEND;TZID=Europe/Berlin:{day}T080000"),
     "line 8, DTEND: the event 'e1' ends"),
    (("DTSTART:{day}T090000Z", 'DTEND;TZID="W. Europe Standard Time:{day}T100000"'), "line 8, DTEND: .* the closing quote"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "DURATION:1 hour"), "line 9, DURATION: cannot read the event"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=MINUTELY;UNTIL={day}T235959Z"),
     "line 9, RRULE: .* repeats minutely"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:UNTIL={day}T235959Z"), "line 9, RRULE: .* without FREQ"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=DAILY;BYDAY=XX;UNTIL={day}T235959Z"),
     "line 9, RRULE: cannot read the event"),
    # A series that ends the same day (UNTIL): years before the window only the triage sees it.
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=HOURLY;UNTIL={day}T235959Z",
      "EXDATE:{day}T110000Z,{month}40T120000Z"), "line 10, EXDATE: cannot read the event 'e1': Wrong datetime"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=HOURLY;UNTIL={day}T235959Z",
      "EXDATE;TZID=Nowhere Time:{day}T110000"), "line 10, EXDATE: TZID 'Nowhere Time'"),
    (("DTSTART:{day}T090000Z", "DTEND:{day}T100000Z", "RRULE:FREQ=HOURLY;UNTIL={day}T235959Z", "EXDATE:{day}T1100"),
     "line 10, EXDATE: cannot read the event 'e1'"),
]


@pytest.mark.parametrize(("props", "message"), BROKEN_EVENTS)
@pytest.mark.parametrize("day", ["20240610", "20190610"], ids=["in-the-window", "years-before-it"])
def test_a_broken_busy_event_refuses_the_calendar_wherever_it_is(props, message, day):
    # Only the events that can reach the window are expanded; every busy event is checked.
    lines = [prop.format(day=day, month=day[:6]) for prop in props]
    with pytest.raises(CalendarParseError, match=message.format(day=day, month=day[:6])):
        read(calendar(*event(*lines)))
    # The same event made transparent blocks nothing and refuses nothing.
    assert read(calendar(*event(*lines, "TRANSP:TRANSPARENT"))) == []


def test_each_event_is_judged_by_its_own_lines_whether_it_may_reach_the_window():
    # The series after it ended in 2019; the single event before it is in the window all the same.
    text = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="single"),
                    *event("DTSTART:20190610T090000Z", "DTEND:20190610T100000Z",
                           "RRULE:FREQ=DAILY;UNTIL=20190612T090000Z", uid="ended"))
    assert read(text) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


def test_large_calendar_reads_what_reaches_the_window_and_nothing_else():
    window = ("2026-06-01 00:00", "2026-07-01 00:00")
    past = [
        event(f"DTSTART:2019{month:02}{day:02}T090000Z", f"DTEND:2019{month:02}{day:02}T100000Z", uid=f"p{month}-{day}")
        for month in range(1, 13)
        for day in range(1, 29)
    ]
    reaching = [
        # An endless weekly series from years ago: Mondays 06-01 .. 06-29.
        *event("DTSTART:20200106T070000Z", "DTEND:20200106T073000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO", uid="weekly"),
        # A series that ended before the window, one of whose occurrences was moved into it.
        *event("DTSTART:20190101T120000Z", "DTEND:20190101T130000Z", "RRULE:FREQ=DAILY;UNTIL=20190110T120000Z", uid="moved"),
        *event("RECURRENCE-ID:20190105T120000Z", "DTSTART:20260610T120000Z", "DTEND:20260610T130000Z", uid="moved"),
        # Counted occurrences from long ago that still reach the window: every 6 months from 2016.
        *event("DTSTART:20160615T150000Z", "DTEND:20160615T160000Z", "RRULE:FREQ=MONTHLY;INTERVAL=6;COUNT=30", uid="count"),
        # A fortnight away that started before the window and ends inside it.
        *event("DTSTART;VALUE=DATE:20260520", "DTEND;VALUE=DATE:20260603", uid="trip"),
        # Days long, given by DURATION.
        *event("DTSTART:20260525T000000Z", "DURATION:P10D", uid="long"),
        # After the window.
        *event("DTSTART:20270101T090000Z", "DTEND:20270101T100000Z", uid="later"),
    ]
    text = calendar(*(line for block in past for line in block), *reaching)
    assert read(text, zone="UTC", start=window[0], end=window[1]) == [
        (utc("2026-06-01 00:00"), utc("2026-06-04 00:00")),
        (utc("2026-06-08 07:00"), utc("2026-06-08 07:30")),
        (utc("2026-06-10 12:00"), utc("2026-06-10 13:00")),
        (utc("2026-06-15 07:00"), utc("2026-06-15 07:30")),
        (utc("2026-06-15 15:00"), utc("2026-06-15 16:00")),
        (utc("2026-06-22 07:00"), utc("2026-06-22 07:30")),
        (utc("2026-06-29 07:00"), utc("2026-06-29 07:30")),
    ]


# --- several objects of one calendar (a CalDAV collection) -----------------------------------------


def _read_all(texts, **kwargs):
    return read_calendars(texts, zone="Europe/Berlin", window_start=utc("2024-06-01 00:00"),
                          window_end=utc("2024-07-01 00:00"), **kwargs)


def test_objects_of_one_calendar_are_merged_and_their_events_counted():
    first = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="a"),
                     *event("DTSTART:20240801T090000Z", "DTEND:20240801T100000Z", uid="outside"))
    second = calendar(*event("DTSTART:20240610T093000Z", "DTEND:20240610T110000Z", uid="b"))
    third = calendar(*event("DTSTART:20240603T080000Z", "DTEND:20240603T083000Z", uid="c")).encode()
    reading = _read_all([first, second, third])
    assert reading.intervals == [(utc("2024-06-03 08:00"), utc("2024-06-03 08:30")),
                                 (utc("2024-06-10 09:00"), utc("2024-06-10 11:00"))]
    assert reading.events == 4  # every VEVENT, the one outside the window too
    assert _read_all([first, second], ignore_uids={"b"}).intervals == [(utc("2024-06-10 09:00"),
                                                                        utc("2024-06-10 10:00"))]
    assert (_read_all([]).intervals, _read_all([]).events) == ([], 0)


def test_an_unreadable_object_refuses_the_calendar_and_says_which_it_is():
    good = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="a"))
    bad = calendar(*event("DTEND:20240610T100000Z", uid="nostart"))
    with pytest.raises(CalendarParseError) as alone:
        _read_all([bad])
    with pytest.raises(CalendarParseError) as among:
        _read_all([good, bad, good])
    assert str(among.value) == f"object 2 of 3: {alone.value}"
    assert "has no DTSTART" in str(alone.value) and not str(alone.value).startswith("object")


def test_several_objects_check_the_window_even_with_none_to_read():
    with pytest.raises(ValueError, match="window_end .* must be after window_start"):
        read_calendars([], zone="Europe/Berlin", window_start=utc("2024-06-02 00:00"),
                       window_end=utc("2024-06-01 00:00"))
    with pytest.raises(ValueError, match="window_start must be tz-aware"):
        read_calendars([], zone="Europe/Berlin", window_start=dt.datetime(2024, 6, 1),
                       window_end=utc("2024-06-02 00:00"))


# --- events that begin before the window and last into it ------------------------------------------


@pytest.mark.parametrize("duration, length", [
    ("P2W", dt.timedelta(weeks=2)),
    ("P10D", dt.timedelta(days=10)),
    ("PT240H", dt.timedelta(hours=240)),
    ("PT14400M", dt.timedelta(minutes=14400)),
    ("PT864000S", dt.timedelta(seconds=864000)),
    ("P1W2DT24H", dt.timedelta(days=10)),
])
def test_an_event_given_by_its_duration_is_read_however_long_before_the_window_it_began(duration, length):
    # Events that cannot reach the window are skipped before parsing; the span a DURATION
    # gives must therefore never be underestimated, in any of its units.
    end = utc("2024-06-02 09:00")
    text = calendar(*event(f"DTSTART:{end - length:%Y%m%dT%H%M%S}Z", f"DURATION:{duration}"))
    assert read(text, zone="UTC", start="2024-06-01 00:00", end="2024-06-30 00:00") == [(utc("2024-06-01 00:00"), end)]


@pytest.mark.parametrize(("props", "busy"), [
    # Ended by DTEND, as a date, a date-time in UTC and one in a zone (02:00 in Berlin is 00:00Z).
    (("DTSTART;VALUE=DATE:20240515", "DTEND;VALUE=DATE:20240603"), ("2024-06-01 00:00", "2024-06-03 00:00")),
    (("DTSTART:20240515T090000Z", "DTEND:20240603T000000Z"), ("2024-06-01 00:00", "2024-06-03 00:00")),
    (("DTSTART;TZID=Europe/Berlin:20240515T090000", "DTEND;TZID=Europe/Berlin:20240603T020000"),
     ("2024-06-01 00:00", "2024-06-03 00:00")),
    # A series whose UNTIL is days before the window, and whose last occurrence lasts into it.
    (("DTSTART;VALUE=DATE:20240515", "DTEND;VALUE=DATE:20240603", "RRULE:FREQ=YEARLY;UNTIL=20240516"),
     ("2024-06-01 00:00", "2024-06-03 00:00")),
    # An RDATE in the window, of an event whose DTSTART is years before it.
    (("DTSTART:20190610T090000Z", "DTEND:20190610T100000Z", "RDATE:20240612T090000Z"),
     ("2024-06-12 09:00", "2024-06-12 10:00")),
])
def test_an_event_that_began_long_before_the_window_is_read_where_it_reaches_into_it(props, busy):
    assert read(calendar(*event(*props)), zone="UTC", start="2024-06-01 00:00", end="2024-06-30 00:00") == [
        (utc(busy[0]), utc(busy[1]))
    ]


def test_the_days_a_duration_spans_are_rounded_up_and_a_negative_or_broken_one_is_unknown():
    cases = {"P1W": 7, "P2D": 2, "+P2D": 2, " P2D ": 2, "PT24H": 1, "PT25H": 2, "PT1M": 1, "PT1S": 1,
             "PT86400S": 1, "PT86401S": 2, "PT1440M": 1, "PT1441M": 2, "P1W2DT3H4M5S": 10, "P0D": 0,
             "-P1D": None, "P1X": None, "": None, None: None}
    assert {value: _duration_days(value) for value in cases} == cases


# --- durations and date UNTILs in every shape ------------------------------------------------------


@pytest.mark.parametrize(("props", "zone", "busy"), [
    # weeks, and seconds to the second
    (("DTSTART:20240610T090000Z", "DURATION:P1W"), "UTC", ("2024-06-10 09:00", "2024-06-17 09:00")),
    (("DTSTART:20240610T090000Z", "DURATION:PT1H0M30S"), "UTC", ("2024-06-10 09:00", "2024-06-10 10:00:30")),
    # a floating start: the duration runs on the member's wall clock
    (("DTSTART:20240610T090000", "DURATION:PT1H"), "America/New_York", ("2024-06-10 13:00", "2024-06-10 14:00")),
    # a date with hours: from the member's local midnight
    (("DTSTART;VALUE=DATE:20240610", "DURATION:PT36H"), "America/New_York", ("2024-06-10 04:00", "2024-06-11 16:00")),
])
def test_a_duration_ends_the_event_in_its_own_terms(props, zone, busy):
    start, end = (dt.datetime.fromisoformat(b).replace(tzinfo=dt.UTC) for b in busy)
    assert read(calendar(*event(*props)), zone=zone) == [(start, end)]


def test_an_rdate_period_keeps_its_own_end_and_an_rdate_instant_lasts_the_duration():
    text = calendar(*event("DTSTART:20240610T090000Z", "DURATION:PT1H",
                           "RDATE;VALUE=PERIOD:20240612T090000Z/PT3H,20240614T090000Z/20240614T093000Z",
                           "RDATE:20240616T090000Z"))
    assert read(text, zone="UTC") == [
        (utc("2024-06-10 09:00"), utc("2024-06-10 10:00")),
        (utc("2024-06-12 09:00"), utc("2024-06-12 12:00")),
        (utc("2024-06-14 09:00"), utc("2024-06-14 09:30")),
        (utc("2024-06-16 09:00"), utc("2024-06-16 10:00")),
    ]


def test_a_date_until_on_a_floating_series_keeps_the_last_day_on_the_members_clock():
    # 22:00 in New York is 02:00 UTC the next day: read in UTC, the 12th's occurrence would be lost.
    text = calendar(*event("DTSTART:20240610T220000", "DTEND:20240610T230000", "RRULE:FREQ=DAILY;UNTIL=20240612"))
    assert read(text, zone="America/New_York") == [
        (utc(f"2024-06-{day} 02:00"), utc(f"2024-06-{day} 03:00")) for day in (11, 12, 13)
    ]


def test_each_rule_of_a_series_reads_its_own_date_until():
    # Two RRULEs (allowed, if rare): the first without UNTIL does not stop the second's being read.
    text = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=MONTHLY;COUNT=2",
                           "RRULE:FREQ=DAILY;UNTIL=20240612"))
    assert read(text, zone="UTC") == [
        (utc(f"2024-{day} 09:00"), utc(f"2024-{day} 10:00")) for day in ("06-10", "06-11", "06-12", "07-10")
    ]


def test_a_date_until_keeps_an_occurrence_in_the_last_second_of_that_day():
    text = calendar(*event("DTSTART:20240610T235930Z", "DTEND:20240611T000000Z", "RRULE:FREQ=DAILY;UNTIL=20240611"))
    last_seconds = [dt.datetime(2024, 6, day, 23, 59, 30, tzinfo=dt.UTC) for day in (10, 11)]
    assert read(text, zone="UTC") == [(s, s + dt.timedelta(seconds=30)) for s in last_seconds]


def test_a_date_until_ends_the_series_on_its_own_zones_day_not_the_members():
    # 23:30 in Los Angeles is 06:30 UTC the next day: the 12th is the last day in Los Angeles,
    # and its occurrence stays although the 12th has ended in the member's UTC by then.
    text = calendar(*event("DTSTART;TZID=America/Los_Angeles:20240610T233000",
                           "DTEND;TZID=America/Los_Angeles:20240610T234500", "RRULE:FREQ=DAILY;UNTIL=20240612"))
    assert read(text, zone="UTC") == [(utc(f"2024-06-{day} 06:30"), utc(f"2024-06-{day} 06:45")) for day in (11, 12, 13)]


def test_a_floating_until_on_an_all_day_series_is_read_on_the_members_clock():
    # 20:00 on the 12th in Auckland is the 12th there (and the 12th's 08:00 in UTC): three days.
    text = calendar(*event("DTSTART;VALUE=DATE:20240610", "DTEND;VALUE=DATE:20240611",
                           "RRULE:FREQ=DAILY;UNTIL=20240612T200000"))
    assert read(text, zone="Pacific/Auckland") == [(utc("2024-06-09 12:00"), utc("2024-06-12 12:00"))]


# --- which zone a TZID names --------------------------------------------------------------------


def zone_block(tzid: str | None, offset: str) -> list[str]:
    """A VTIMEZONE of one fixed offset (``"+0500"``), named ``tzid`` (no TZID line for None)."""
    named = [] if tzid is None else [f"TZID:{tzid}"]
    return ["BEGIN:VTIMEZONE", *named, "BEGIN:STANDARD", "DTSTART:16010101T000000", f"TZOFFSETFROM:{offset}",
            f"TZOFFSETTO:{offset}", "END:STANDARD", "END:VTIMEZONE"]


@pytest.mark.parametrize(("zones", "tzid", "start"), [
    # Two blocks of one name: the first counts (icalendar, too, keeps the first it reads).
    ((*zone_block("Office", "+0300"), *zone_block("Office", "+0500")), "Office", "2024-06-10 06:00"),
    # A block without a TZID names no zone: not the next block's either.
    ((*zone_block(None, "+0300"), *zone_block("Office", "+0500")), "Office", "2024-06-10 04:00"),
    # Names are taken whole, whatever letters they begin or end with, quoted or not.
    (zone_block("XOffice X", "+0300"), "XOffice X", "2024-06-10 06:00"),
    (zone_block("XOffice X", "+0300"), '"XOffice X"', "2024-06-10 06:00"),
])
def test_a_tzid_means_the_first_vtimezone_of_its_whole_name(zones, tzid, start):
    text = calendar(*zones, *event(f"DTSTART;TZID={tzid}:20240610T090000", f"DTEND;TZID={tzid}:20240610T100000"))
    assert read(text) == [(utc(start), utc(start) + dt.timedelta(hours=1))]


def test_a_zone_the_parser_learnt_elsewhere_in_the_process_is_not_this_calendars():
    # icalendar keeps every VTIMEZONE it parses, by name, for the whole process (another
    # library's parse of another calendar teaches it too); a calendar that names such a zone
    # without defining it is refused all the same, never read in another file's zone.
    icalendar.Calendar.from_ical(calendar(*zone_block("Slotwise Zone Parsed Elsewhere", "+0500")))
    text = calendar(*event("DTSTART;TZID=Slotwise Zone Parsed Elsewhere:20240610T090000",
                           "DTEND;TZID=Slotwise Zone Parsed Elsewhere:20240610T100000"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == (
        "line 7, DTSTART: TZID 'Slotwise Zone Parsed Elsewhere' is neither defined by a VTIMEZONE in this "
        "calendar nor a known IANA or Windows time zone name; the producer must include its VTIMEZONE or use a "
        "standard zone name"
    )


def test_an_unknown_tzid_written_with_escapes_is_named_as_read_and_found_on_its_line():
    # RFC 6868: ^' in a parameter value is a double quote; the name as read is not in the line.
    text = calendar(*event("DTSTART;TZID=Nowhere^'s Time:20240610T090000", "DTEND;TZID=Nowhere^'s Time:20240610T100000"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value).startswith("line 7, DTSTART: TZID 'Nowhere\"s Time' is neither defined")


def test_the_advice_about_a_swallowed_value_names_the_zone_whole():
    text = calendar(*event('DTSTART;TZID="Xi Standard Time:20240610T090000"'))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value).endswith('the closing quote belongs before the colon: '
                                      'DTSTART;TZID="Xi Standard Time":20240610T090000')


@pytest.mark.parametrize("tzid", ["Office", "Office Two"])
@pytest.mark.parametrize("day", ["20240610", "20190610"], ids=["in-the-window", "years-before-it"])
def test_a_vtimezone_with_two_tzids_refuses_the_calendar_where_an_event_uses_it(tzid, day):
    # RFC 5545 gives a VTIMEZONE exactly one TZID, and icalendar cannot read a block with two.
    # An event that names the block by either TZID refuses the calendar at the second TZID line,
    # in the window or years before it, and no other object of the calendar is read either.
    zone = zone_block("Office", "+0300")
    zone.insert(2, "TZID:Office Two")
    text = calendar(*zone, *event(f"DTSTART;TZID={tzid}:{day}T090000", f"DTEND;TZID={tzid}:{day}T100000"))
    refusal = ("line 6, TZID: the VTIMEZONE 'Office' has a second TZID line ('Office Two'); a VTIMEZONE "
               "names one zone: keep one TZID line and remove the other")
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == refusal
    good = calendar(*event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="good"))
    with pytest.raises(CalendarParseError) as caught:
        _read_all([good, text])
    assert str(caught.value) == f"object 2 of 2: {refusal}"
    # A block that no event names is never read, and refuses nothing.
    unused = calendar(*zone, *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z"))
    assert read(unused) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]


@pytest.mark.parametrize(("names", "refusal"), [
    (["Office", "Office Two", "Office Three"], "the VTIMEZONE 'Office' has a second TZID line ('Office Two')"),
    (["", "Office Two"], "the VTIMEZONE '' has a second TZID line ('Office Two')"),
], ids=["three-tzids", "the-first-empty"])
def test_a_vtimezone_with_more_tzids_is_refused_at_the_second(names, refusal):
    zone = zone_block(names[0], "+0300")
    zone[2:2] = [f"TZID:{name}" for name in names[1:]]
    text = calendar(*zone, *event("DTSTART;TZID=Office Two:20240610T090000", "DTEND;TZID=Office Two:20240610T100000"))
    with pytest.raises(CalendarParseError) as caught:
        read(text)
    assert str(caught.value) == (f"line 6, TZID: {refusal}; a VTIMEZONE names one zone: keep one TZID line "
                                 "and remove the other")


# --- what is parsed -------------------------------------------------------------------------------


def test_only_events_that_may_reach_the_window_or_look_broken_are_parsed(monkeypatch):
    # Parsing and expanding are the slow part of a read: an event or series that by the dates
    # of its text cannot reach the window, and whose text shows no fault, is left out before.
    parsed: list[str | None] = []
    parse_text = ics._parse_text

    def spy(text, calendar_text, events, zones):
        parsed.extend(event.uid for event in events)
        return parse_text(text, calendar_text, events, zones)

    monkeypatch.setattr(ics, "_parse_text", spy)
    quiet = [
        *event("DTSTART:20190610T090000Z", "DTEND:20190610T100000Z", uid="ended-by-dtend"),
        *event("DTSTART:20190610T090000Z", "DURATION:PT1H", uid="ended-by-duration"),
        *event("DTSTART;VALUE=DATE:20190610", uid="all-day"),
        *event("DTSTART:20190610T090000Z", "DTEND:20190610T090000Z", uid="no-length"),
        *event("DTSTART;TZID=Europe/Berlin:20190610T090000", "DTEND;TZID=Europe/Berlin:20190610T100000",
               "RRULE:FREQ=DAILY;UNTIL=20190612T070000Z", "EXDATE;TZID=Europe/Berlin:20190611T090000,20190612T090000",
               uid="ended-series"),
        *event("DTSTART:20190610T090000Z", "DTEND:20190610T100000Z", "RRULE:freq=daily;until=20190612T090000Z",
               uid="ended-in-lower-case"),
        *event("DTSTART:20270104T090000Z", "DTEND:20270104T100000Z", "RRULE:FREQ=WEEKLY", uid="later-series"),
        # Ended the year before (dates compared as whole keys: "2023…" comes before "2024…").
        *event("DTSTART:20230610T090000Z", "DTEND:20230610T100000Z", uid="ended-a-year-before"),
        *event("DTSTART:20230610T090000Z", "DTEND:20230610T100000Z", "RRULE:FREQ=DAILY;UNTIL=20230612T090000Z",
               uid="series-ended-a-year-before"),
        *event("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", uid="in-the-window"),
        *event("DTSTART:20190610T090000Z", "DTEND:20190610T100000Z", "RRULE:FREQ=YEARLY;COUNT=3", uid="counted"),
        *event("DTSTART:20190610T090000Z", "DTEND:20190610T080000Z", "TRANSP:TRANSPARENT", uid="broken-but-free"),
        # and one without UID
        "BEGIN:VEVENT", "DTSTAMP:20240101T000000Z", "DTSTART:20190610T090000Z", "DTEND:20190610T100000Z", "END:VEVENT",
    ]
    june = {"zone": "UTC", "start": "2024-06-01 00:00", "end": "2024-07-01 00:00"}
    assert read(calendar(*quiet), **june) == [(utc("2024-06-10 09:00"), utc("2024-06-10 10:00"))]
    # What may reach the window (a count cannot be told from the text alone).
    assert parsed == ["in-the-window", "counted"]
    parsed.clear()
    # And a busy event whose text shows a fault, wherever it is.
    with pytest.raises(CalendarParseError, match="the event 'broken' ends"):
        read(calendar(*quiet, *event("DTSTART:20190610T090000Z", "DTEND:20190610T080000Z", uid="broken")), **june)
    assert parsed == ["in-the-window", "counted", "broken"]
