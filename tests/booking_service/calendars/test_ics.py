"""The iCalendar reader on small hand-written calendars, one rule per test."""

from __future__ import annotations

import datetime as dt

import pytest

from booking_service.calendars.ics import CalendarParseError, busy_intervals, merge_intervals

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


def test_windows_zone_name_without_vtimezone_maps_to_iana():
    # "Tokyo Standard Time" is Asia/Tokyo (+09, no DST) in the CLDR mapping.
    text = calendar(
        *event(
            "DTSTART;TZID=Tokyo Standard Time:20240610T090000",
            "DTEND;TZID=Tokyo Standard Time:20240610T100000",
        )
    )
    assert read(text) == [(utc("2024-06-10 00:00"), utc("2024-06-10 01:00"))]


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


def test_event_without_dtstart_is_refused():
    text = calendar(*event("DTEND:20240610T100000Z", uid="nostart"))
    with pytest.raises(CalendarParseError, match="has no DTSTART"):
        read(text)


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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"window_start": dt.datetime(2024, 1, 1)}, "must be tz-aware"),
        ({"window_end": utc("2023-01-01 00:00")}, "must be after"),
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
    a, b, c, d = (utc(f"2024-06-10 0{h}:00") for h in (1, 2, 3, 4))
    assert merge_intervals([(c, d), (a, c), (b, b), (b, c)]) == [(a, d)]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (("DTSTART:20240610T090000Z", "DTEND:20240610T080000Z"), "line 8, DTEND: the event 'e1' ends"),
        (
            ("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:GARBAGE"),
            "line 9, RRULE: .* without FREQ",
        ),
        (("DTSTART:20240610T090000Z", "DTEND:20240610T100000Z", "RRULE:FREQ=MINUTELY"), "repeats minutely"),
    ],
)
def test_impossible_events_are_refused(props, message):
    with pytest.raises(CalendarParseError, match=message):
        read(calendar(*event(*props)))


def test_runaway_recurrence_is_refused(monkeypatch):
    from booking_service.calendars import ics as ics_module

    monkeypatch.setattr(ics_module, "MAX_OCCURRENCES", 100)
    text = calendar(*event("DTSTART:20240101T000000Z", "DTEND:20240101T001000Z", "RRULE:FREQ=HOURLY"))
    with pytest.raises(CalendarParseError, match="more than 100 event occurrences"):
        read(text)
    # A shorter window stays under the limit (48 occurrences read, with the one-day margin).
    assert len(read(text, end="2024-01-02 00:00")) == 24
