"""The iCalendar files kept in ``tests/booking_service/calendars/ics/`` (see its README).

For each file: the busy intervals it must produce over a window, worked out by hand from the
file (the reasoning is next to each case). For these files and every case of the shared corpus
(:mod:`.test_ics_corpus`): importing the intervals removes exactly the slots they overlap, as
the planner computes them.

The files are written in the layouts of the programs named in their PRODID, one for each quirk
the real-world corpus in ``../shared/ics-corpus`` covers, so that a clone of the repository on
its own tests all of them; the corpus cases run too wherever the corpus is present.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import planner
from booking_service.calendars.ics import CalendarParseError, busy_intervals

from .helpers import ICS_FILES as FILES
from .helpers import UNDEFINED_ZONE_ICS, spans
from .helpers import at as utc
from .test_ics_corpus import CASES as CORPUS_CASES

# The one file that must be refused rather than read.
MALFORMED = UNDEFINED_ZONE_ICS.name

CASES = [
    pytest.param(
        # America/New_York: EST (-5) until Sunday 2026-03-08 02:00, EDT (-4) after.
        # "Team sync" Mon/Wed 10:00-11:00: 03-02 and 03-04 at 15:00Z, 03-09 at 14:00Z, 03-11
        # excluded, 03-16 moved to Tue 03-17 15:00 EDT = 19:00Z, 03-18 at 14:00Z.
        # "Dentist" 03-04 17:00-17:30Z. "Standup" daily 09:00 EST x3 from Thu 03-05: 03-05 and
        # 03-07 at 14:00Z, 03-06 cancelled. "Working from home" is transparent.
        "google-weekly-moved-exdate.ics",
        "America/New_York",
        "2026-03-01 00:00",
        "2026-03-21 00:00",
        spans(
            ("2026-03-02 15:00", "2026-03-02 16:00"),
            ("2026-03-04 15:00", "2026-03-04 16:00"),
            ("2026-03-04 17:00", "2026-03-04 17:30"),
            ("2026-03-05 14:00", "2026-03-05 14:30"),
            ("2026-03-07 14:00", "2026-03-07 14:30"),
            ("2026-03-09 14:00", "2026-03-09 15:00"),
            ("2026-03-17 19:00", "2026-03-17 20:00"),
            ("2026-03-18 14:00", "2026-03-18 15:00"),
        ),
        id="google",
    ),
    pytest.param(
        # Europe/London: GMT until Sunday 2026-03-29 01:00Z, BST (+1) after.
        # "Swim" Tue/Thu 08:00-08:30 from Tue 03-24: 03-24 at 08:00Z; Thu 03-26 moved to
        # 19:00-20:00 GMT; Tue 03-31 excluded; Thu 04-02 (07:00Z) falls inside the holiday;
        # Tue 04-07 cancelled; Thu 04-09 at 07:00Z (BST). Holiday: all-day 04-01 and 04-02,
        # London midnights (BST) = 03-31 23:00Z .. 04-02 23:00Z.
        "apple-allday-recurring-exceptions.ics",
        "Europe/London",
        "2026-03-23 00:00",
        "2026-04-10 00:00",
        spans(
            ("2026-03-24 08:00", "2026-03-24 08:30"),
            ("2026-03-26 19:00", "2026-03-26 20:00"),
            ("2026-03-31 23:00", "2026-04-02 23:00"),
            ("2026-04-09 07:00", "2026-04-09 07:30"),
        ),
        id="apple",
    ),
    pytest.param(
        # Windows zone names, each defined by the file's VTIMEZONE.
        # "W. Europe Standard Time": +02 until the last Sunday of October 2027 (10-31) 03:00,
        # +01 after. "Project review" every other Tuesday 15:00-16:00 from 09-14, UNTIL
        # 12-07 14:00Z (that day's 15:00 +01, so it is included): 09-14 and 09-28 at 13:00Z;
        # 10-12 in the EXDATE list; 10-26 still +02 -> 13:00Z; 11-09 at +01 -> 14:00Z; 11-23 in
        # the EXDATE list; 12-07 at 14:00Z.
        # "Customized Time Zone" ends DST on the 4th Sunday of October (10-24), a week before
        # W. Europe does: "Budget call" Tue 10-26 10:00-11:00 there is +01 -> 09:00Z.
        # "Lunch" 10-26 12:00-13:00 W. Europe is transparent (it would have joined the budget
        # call's 10:00Z end).
        # "Eastern Standard Time": -04 until the first Sunday of November (11-07) 02:00, -05
        # after. "Sync with Boston" Thursdays 09:00-09:30 from 10-28, UNTIL 11-11 14:00Z (that
        # day's 09:00 -05): 10-28 and 11-04 at 13:00Z, 11-11 at 14:00Z.
        # "India Standard Time" (+05:30 all year): Wed 11-17 14:00-15:30 -> 08:30-10:00Z.
        "exchange-windows-zones-exdate.ics",
        "Europe/Berlin",
        "2027-09-01 00:00",
        "2028-01-01 00:00",
        spans(
            ("2027-09-14 13:00", "2027-09-14 14:00"),
            ("2027-09-28 13:00", "2027-09-28 14:00"),
            ("2027-10-26 09:00", "2027-10-26 10:00"),
            ("2027-10-26 13:00", "2027-10-26 14:00"),
            ("2027-10-28 13:00", "2027-10-28 13:30"),
            ("2027-11-04 13:00", "2027-11-04 13:30"),
            ("2027-11-09 14:00", "2027-11-09 15:00"),
            ("2027-11-11 14:00", "2027-11-11 14:30"),
            ("2027-11-17 08:30", "2027-11-17 10:00"),
            ("2027-12-07 14:00", "2027-12-07 15:00"),
        ),
        id="exchange-windows-zones-exdate",
    ),
    pytest.param(
        # All-day "Site visits" (opaque: out of office) every other Thursday from 2025-03-06:
        # 03-06, 03-20, 04-03, ... The overrides name their occurrence with a DATE-TIME
        # RECURRENCE-ID in "GMT Standard Time" although the series is all-day: 03-20 moves to
        # Fri 03-21, 04-03 becomes Wed 04-02 and Thu 04-03. Days are London days of the member:
        # GMT until 03-30, BST after. "Payroll reminder" (and its moved occurrence) is
        # transparent.
        "exchange-allday-moved-recurrence-id.ics",
        "Europe/London",
        "2025-03-01 00:00",
        "2025-04-10 00:00",
        spans(
            ("2025-03-06 00:00", "2025-03-07 00:00"),
            ("2025-03-21 00:00", "2025-03-22 00:00"),
            ("2025-04-01 23:00", "2025-04-03 23:00"),
        ),
        id="exchange-allday-moved-by-datetime-recurrence-id",
    ),
    pytest.param(
        # The same series ends with UNTIL 04-16 23:00Z: Exchange writes the start of the last
        # occurrence, here the London midnight (BST) that begins Thu 04-17, so 04-17 is the
        # last occurrence (and 05-01 is not one).
        "exchange-allday-moved-recurrence-id.ics",
        "Europe/London",
        "2025-04-10 00:00",
        "2025-05-10 00:00",
        spans(("2025-04-16 23:00", "2025-04-17 23:00")),
        id="exchange-allday-until-is-the-last-local-midnight",
    ),
    pytest.param(
        # "Design review" Wed 2026-06-10 09:00-09:30 W. Europe (+02) -> 07:00Z; "Call with
        # Seattle" Thu 06-11 08:30-09:30 Pacific (-07) -> 15:30Z. The weekday series whose
        # DTSTART;TZID="W. Europe Standard Time:20260601T090000" swallows its value in the quote
        # is transparent, as is the Pacific series with the folded EXDATE list: neither is busy,
        # and neither stops the calendar from being read.
        "exchange-broken-tzid-quote.ics",
        "Europe/Berlin",
        "2026-06-01 00:00",
        "2026-07-01 00:00",
        spans(("2026-06-10 07:00", "2026-06-10 07:30"), ("2026-06-11 15:30", "2026-06-11 16:30")),
        id="exchange-broken-tzid-quote",
    ),
    pytest.param(
        # "Canberra, Melbourne, Sydney" is defined only by the file: +11 until the first Sunday
        # of April 2010 (04-04) 03:00, +10 after. "Morning briefing" weekdays 08:30-08:45, no end:
        # Mon 03-29 .. Fri 04-02 at +11 -> 21:30Z the day before; Mon 04-05 .. Fri 04-09 at +10
        # -> 22:30Z the day before. "Project steering" Tuesdays 16:00-17:00, COUNT=4 from 03-16:
        # 03-30 at +11 -> 05:00Z, 04-06 at +10 -> 06:00Z (03-16 and 03-23 are before the window).
        "outlook2003-display-name-zone.ics",
        "Australia/Sydney",
        "2010-03-28 00:00",
        "2010-04-10 00:00",
        spans(
            ("2010-03-28 21:30", "2010-03-28 21:45"),
            ("2010-03-29 21:30", "2010-03-29 21:45"),
            ("2010-03-30 05:00", "2010-03-30 06:00"),
            ("2010-03-30 21:30", "2010-03-30 21:45"),
            ("2010-03-31 21:30", "2010-03-31 21:45"),
            ("2010-04-01 21:30", "2010-04-01 21:45"),
            ("2010-04-04 22:30", "2010-04-04 22:45"),
            ("2010-04-05 22:30", "2010-04-05 22:45"),
            ("2010-04-06 06:00", "2010-04-06 07:00"),
            ("2010-04-06 22:30", "2010-04-06 22:45"),
            ("2010-04-07 22:30", "2010-04-07 22:45"),
            ("2010-04-08 22:30", "2010-04-08 22:45"),
        ),
        id="outlook2003-display-name-zone-dst-end",
    ),
    pytest.param(
        # America/Chicago: CDT (-5) until Sunday 2025-11-02 02:00, CST (-6) after.
        # "Office hours" Mon/Wed 10:15-10:30 from 10-20, two EXDATE lines (10-27, 11-05), and
        # Mon 11-03 moved to Tue 11-04: 10-20, 10-22, 10-29 at 15:15Z; 11-04, 11-10, 11-12 at
        # 16:15Z. "Lab check-in" weekly with no BYDAY, so on its start's Friday, 14:15-14:30:
        # 10-24 at 19:15Z, 10-31 (inside the field trip), 11-07 excluded, 11-14 at 20:15Z.
        # "Tutoring" weekdays 08:15-08:30 from Mon 10-27, UNTIL 10-30 04:59:59Z = 10-29
        # 23:59:59 local: 10-27, 10-28, 10-29 at 13:15Z. "Faculty meeting" 11-04 18:00-19:00Z.
        # "Field trip" all-day Thursdays, opaque, UNTIL 11-13 (a date, inclusive), the 10-30 one
        # moved to Fri 10-31 by a VALUE=DATE RECURRENCE-ID: Chicago days 10-23 and 10-31
        # (midnight 05:00Z), 11-06 and 11-13 (midnight 06:00Z). "Recycling" is transparent.
        "google-until-exdates-moved-allday.ics",
        "America/Chicago",
        "2025-10-20 00:00",
        "2025-11-15 00:00",
        spans(
            ("2025-10-20 15:15", "2025-10-20 15:30"),
            ("2025-10-22 15:15", "2025-10-22 15:30"),
            ("2025-10-23 05:00", "2025-10-24 05:00"),
            ("2025-10-24 19:15", "2025-10-24 19:30"),
            ("2025-10-27 13:15", "2025-10-27 13:30"),
            ("2025-10-28 13:15", "2025-10-28 13:30"),
            ("2025-10-29 13:15", "2025-10-29 13:30"),
            ("2025-10-29 15:15", "2025-10-29 15:30"),
            ("2025-10-31 05:00", "2025-11-01 05:00"),
            ("2025-11-04 16:15", "2025-11-04 16:30"),
            ("2025-11-04 18:00", "2025-11-04 19:00"),
            ("2025-11-06 06:00", "2025-11-07 06:00"),
            ("2025-11-10 16:15", "2025-11-10 16:30"),
            ("2025-11-12 16:15", "2025-11-12 16:30"),
            ("2025-11-13 06:00", "2025-11-14 06:00"),
            ("2025-11-14 20:15", "2025-11-14 20:30"),
        ),
        id="google-until-exdates-moved-all-day-dst-end",
    ),
    pytest.param(
        # Europe/Berlin: CET (+1) until Sunday 2026-03-29 01:00Z, CEST (+2) after.
        # "Early shift" daily 06:00-07:00 from Mon 03-23, UNTIL 03-27 05:00Z (that day's 06:00,
        # included): 03-23 as is; 03-24 lengthened to 05:00-07:00; 03-25 moved to 09:00-09:30;
        # 03-26 shortened to 06:00-06:30; 03-27 turned into a transparent all-day event (with
        # both DTEND and DURATION:PT0S). "Night watch" daily 22:00-23:00, COUNT=4 from 03-27:
        # 03-27 at 21:00Z, 03-28 cancelled, 03-29 and 03-30 at 20:00Z (CEST).
        "thunderbird-moved-resized-cancelled.ics",
        "Europe/Berlin",
        "2026-03-22 00:00",
        "2026-04-01 00:00",
        spans(
            ("2026-03-23 05:00", "2026-03-23 06:00"),
            ("2026-03-24 04:00", "2026-03-24 06:00"),
            ("2026-03-25 08:00", "2026-03-25 08:30"),
            ("2026-03-26 05:00", "2026-03-26 05:30"),
            ("2026-03-27 21:00", "2026-03-27 22:00"),
            ("2026-03-29 20:00", "2026-03-29 21:00"),
            ("2026-03-30 20:00", "2026-03-30 21:00"),
        ),
        id="thunderbird-moved-resized-cancelled",
    ),
    pytest.param(
        # America/Vancouver (PDT, -7), named by TZID and X-WR-TIMEZONE with no VTIMEZONE.
        # TENTATIVE 06-03 23:00-23:45Z is busy; CONFIRMED 06-04 09:00-10:00 -> 16:00Z; the
        # CANCELLED event on 06-05 is not; the event without STATUS on 06-06 -> 16:00Z; the
        # transparent one on 06-07 is not.
        "apple-macos-tentative-cancelled.ics",
        "America/Vancouver",
        "2024-06-01 00:00",
        "2024-06-10 00:00",
        spans(
            ("2024-06-03 23:00", "2024-06-03 23:45"),
            ("2024-06-04 16:00", "2024-06-04 17:00"),
            ("2024-06-06 16:00", "2024-06-06 17:00"),
        ),
        id="apple-tentative-and-cancelled",
    ),
    pytest.param(
        # America/Los_Angeles (from the VTIMEZONE written after the events): PDT (-7) until
        # Sunday 2025-11-02 02:00, PST (-8) after. All-day events block the member's local days.
        # "Team retreat" 10-27 and 10-28 (DTEND 10-29): 10-27 07:00Z .. 10-29 07:00Z. "Trip to
        # Portland" 11-01 .. 11-03 across the DST end: 11-01 07:00Z .. 11-04 08:00Z. "Standup"
        # daily 09:00-09:15 from 10-20, UNTIL 10-29 15:59:59Z (08:59:59 local, just before that
        # day's start): 10-25 and 10-26 at 16:00Z; 10-27 and 10-28 lie inside the retreat.
        # "Focus time" daily 13:00-14:00 from 10-29, no end: 20:00Z until 11-01 (inside the
        # trip from 11-01 to 11-03), 21:00Z on 11-04 and 11-05. "Dentist" 10-31 13:30-15:00 ->
        # 20:30-22:00Z joins that day's focus time.
        "icloud-multiday-allday-dst.ics",
        "America/Los_Angeles",
        "2025-10-25 00:00",
        "2025-11-06 00:00",
        spans(
            ("2025-10-25 16:00", "2025-10-25 16:15"),
            ("2025-10-26 16:00", "2025-10-26 16:15"),
            ("2025-10-27 07:00", "2025-10-29 07:00"),
            ("2025-10-29 20:00", "2025-10-29 21:00"),
            ("2025-10-30 20:00", "2025-10-30 21:00"),
            ("2025-10-31 20:00", "2025-10-31 22:00"),
            ("2025-11-01 07:00", "2025-11-04 08:00"),
            ("2025-11-04 21:00", "2025-11-04 22:00"),
            ("2025-11-05 21:00", "2025-11-05 22:00"),
        ),
        id="icloud-multi-day-all-day-across-dst-end",
    ),
    pytest.param(
        # The endless "Focus time" across the US DST start (Sunday 2026-03-08 02:00): 13:00 PST
        # = 21:00Z on 03-06 and 03-07, 13:00 PDT = 20:00Z from 03-08.
        "icloud-multiday-allday-dst.ics",
        "America/Los_Angeles",
        "2026-03-06 00:00",
        "2026-03-10 00:00",
        spans(
            ("2026-03-06 21:00", "2026-03-06 22:00"),
            ("2026-03-07 21:00", "2026-03-07 22:00"),
            ("2026-03-08 20:00", "2026-03-08 21:00"),
            ("2026-03-09 20:00", "2026-03-09 21:00"),
        ),
        id="icloud-endless-daily-across-dst-start",
    ),
    pytest.param(
        # "Home office" all-day Fridays from 2026-03-06, no TRANSP (opaque), no end. Member in
        # Berlin: Fri 03-27 in CET = 03-26 23:00Z .. 03-27 23:00Z; Fri 04-03 in CEST (since
        # 03-29) = 04-02 22:00Z .. 04-03 22:00Z. "Dentist" Tue 03-31 10:00-11:00 CEST -> 08:00Z.
        "nextcloud-weekly-allday-opaque.ics",
        "Europe/Berlin",
        "2026-03-23 00:00",
        "2026-04-06 00:00",
        spans(
            ("2026-03-26 23:00", "2026-03-27 23:00"),
            ("2026-03-31 08:00", "2026-03-31 09:00"),
            ("2026-04-02 22:00", "2026-04-03 22:00"),
        ),
        id="nextcloud-weekly-all-day-opaque-across-dst",
    ),
    pytest.param(
        # The series has no end: Friday 2030-11-01 in CET (+1).
        "nextcloud-weekly-allday-opaque.ics",
        "Europe/Berlin",
        "2030-10-28 00:00",
        "2030-11-04 00:00",
        spans(("2030-10-31 23:00", "2030-11-01 23:00")),
        id="nextcloud-weekly-all-day-no-end",
    ),
    pytest.param(
        # Floating times and dates read for a member in Sydney (AEDT, +11): local midnight is
        # 13:00Z the day before. "Piano lesson" 2005-12-14 16:30-17:15 floating -> 05:30Z.
        # "Family day" all-day Sundays from 12-18: 12-18, 12-25, 2006-01-01. "Boxing Day"
        # yearly all-day from 2005-12-26 joins the 12-25 Sunday. The zero-length "Tax return
        # due" blocks nothing, the cancelled "Office party" neither; the to-do (with a broken
        # DTSTART) is not an event.
        "mozilla-floating-folded.ics",
        "Australia/Sydney",
        "2005-12-10 00:00",
        "2006-01-05 00:00",
        spans(
            ("2005-12-14 05:30", "2005-12-14 06:15"),
            ("2005-12-17 13:00", "2005-12-18 13:00"),
            ("2005-12-24 13:00", "2005-12-26 13:00"),
            ("2005-12-31 13:00", "2006-01-01 13:00"),
        ),
        id="mozilla-folded-floating-and-all-day-sydney",
    ),
    pytest.param(
        # The same file for a member in Berlin (CET, +1): the same wall clock, other instants.
        "mozilla-floating-folded.ics",
        "Europe/Berlin",
        "2005-12-12 00:00",
        "2005-12-27 00:00",
        spans(
            ("2005-12-14 15:30", "2005-12-14 16:15"),
            ("2005-12-17 23:00", "2005-12-18 23:00"),
            ("2005-12-24 23:00", "2005-12-26 23:00"),
        ),
        id="mozilla-folded-floating-berlin",
    ),
    pytest.param(
        # Three years on, in Berlin: Boxing Day on Friday 2008-12-26, Sundays 12-21 and 12-28.
        "mozilla-floating-folded.ics",
        "Europe/Berlin",
        "2008-12-20 00:00",
        "2008-12-31 00:00",
        spans(
            ("2008-12-20 23:00", "2008-12-21 23:00"),
            ("2008-12-25 23:00", "2008-12-26 23:00"),
            ("2008-12-27 23:00", "2008-12-28 23:00"),
        ),
        id="mozilla-yearly-and-weekly-all-day",
    ),
    pytest.param(
        # The file's own "Eastern" keeps the pre-2007 US rules: DST from the first Sunday of
        # April (2007-04-01), so 2007-03-12 .. 03-16 are still -5 there, although New York
        # itself moved its clocks on 03-11. The RDATE periods give 09:00-09:15 -> 14:00Z on
        # Mon .. Thu and 09:00-10:00 on Fri; the first period repeats DTSTART and counts once.
        "lotus-notes-rdate-period-pre2007-zone.ics",
        "America/New_York",
        "2007-03-11 00:00",
        "2007-03-18 00:00",
        spans(
            ("2007-03-12 14:00", "2007-03-12 14:15"),
            ("2007-03-13 14:00", "2007-03-13 14:15"),
            ("2007-03-14 14:00", "2007-03-14 14:15"),
            ("2007-03-15 14:00", "2007-03-15 14:15"),
            ("2007-03-16 14:00", "2007-03-16 15:00"),
        ),
        id="lotus-rdate-periods-pre2007-zone",
    ),
]


def read(name: str, zone: str, start: str, end: str, folder: Path = FILES):
    return busy_intervals(
        (folder / name).read_bytes(), zone=zone, window_start=utc(start), window_end=utc(end)
    )


@pytest.mark.parametrize(("name", "zone", "start", "end", "expected"), CASES)
def test_file_busy_intervals(name, zone, start, end, expected):
    assert read(name, zone, start, end) == expected


def test_every_file_is_covered():
    covered = {case.values[0] for case in CASES} | {MALFORMED}
    assert covered == {path.name for path in FILES.glob("*.ics")}


def test_undefined_zone_is_refused_with_line_and_property():
    with pytest.raises(CalendarParseError) as caught:
        read(MALFORMED, "Europe/Berlin", "2026-04-01 00:00", "2026-05-01 00:00")
    error = caught.value
    assert error.line == 60  # DTSTART;TZID=Customized Time Zone:20260424T140000
    assert error.property == "DTSTART"
    assert "'Customized Time Zone'" in str(error)
    assert str(error).startswith("line 60, DTSTART: ")


def test_zone_defined_by_another_calendar_does_not_leak():
    # The Windows-zones file defines a VTIMEZONE named "Customized Time Zone"; reading it first
    # must not make the malformed file's undefined "Customized Time Zone" readable.
    read("exchange-windows-zones-exdate.ics", "Europe/Berlin", "2027-10-01 00:00", "2027-11-01 00:00")
    with pytest.raises(CalendarParseError, match="Customized Time Zone"):
        read(MALFORMED, "Europe/Berlin", "2026-04-01 00:00", "2026-05-01 00:00")


# What each file must keep byte for byte (.gitattributes stops git from touching them; this
# stops an editor): its line ends and the quirk it is there for.
LAYOUTS = [
    ("google-weekly-moved-exdate.ics", b"\r\n", b"X-WR-TIMEZONE:America/New_York\r\n"),
    ("apple-allday-recurring-exceptions.ics", b"\r\n", b"PRODID:-//Apple Inc.//macOS 15.3//EN\r\n"),
    ("exchange-windows-zones-exdate.ics", b"\r\n", b"EXDATE;TZID=W. Europe Standard Time:20271012T150000,"),
    ("exchange-allday-moved-recurrence-id.ics", b"\r\n", b"RECURRENCE-ID;TZID=GMT Standard Time:20250320T000000\r\n"),
    ("exchange-broken-tzid-quote.ics", b"\n", b'DTSTART;TZID="W. Europe Standard Time:20260601T090000"\n'),
    ("exchange-undefined-tzid.ics", b"\n", b"DTSTART;TZID=Customized Time Zone:20260424T140000\n"),
    ("outlook2003-display-name-zone.ics", b"\r\n", b'DTSTART;TZID="Canberra, Melbourne, Sydney":'),
    ("google-until-exdates-moved-allday.ics", b"\n", b"RECURRENCE-ID;VALUE=DATE:20251030\n"),
    ("thunderbird-moved-resized-cancelled.ics", b"\r\n", b"DTEND;VALUE=DATE:20260328\r\nTRANSP:TRANSPARENT"),
    ("apple-macos-tentative-cancelled.ics", b"\r\n", b"STATUS:TENTATIVE\r\n"),
    ("icloud-multiday-allday-dst.ics", b"\n", b"END:VEVENT\nBEGIN:VTIMEZONE\n"),
    ("nextcloud-weekly-allday-opaque.ics", b"\n", b"RRULE:FREQ=WEEKLY;BYDAY=FR\n"),
    ("mozilla-floating-folded.ics", b"\r\n", b"DTSTART\r\n ;VALUE=DATE\r\n :20051226\r\n"),
    ("lotus-notes-rdate-period-pre2007-zone.ics", b"\n", b"RDATE;TZID=Eastern;VALUE=PERIOD:20070312T090000/"),
]


@pytest.mark.parametrize(("name", "line_end", "quirk"), LAYOUTS, ids=[layout[0] for layout in LAYOUTS])
def test_files_keep_their_bytes(name, line_end, quirk):
    data = (FILES / name).read_bytes()
    lines = data.split(b"\n")
    assert lines[-1] == b"", "the file ends with a line end"
    assert all(line.endswith(b"\r") == (line_end == b"\r\n") for line in lines[:-1])
    assert quirk in data


def test_every_file_has_its_layout_checked():
    assert {layout[0] for layout in LAYOUTS} == {path.name for path in FILES.glob("*.ics")}


def _slot_starts(start: dt.datetime, end: dt.datetime, busy: list[tuple[dt.datetime, dt.datetime]]) -> set:
    """30-minute slots on a 15-minute UTC grid over a member free around the clock."""
    resources = pd.DataFrame({"resource_id": ["m1"], "kind": ["member"], "zone": ["UTC"], "capacity": [1]})
    hours = pd.DataFrame(
        {"resource_id": ["m1"] * 7, "weekday": range(7), "start": [0] * 7, "end": [1440] * 7}
    )
    table = pd.DataFrame(
        {
            "resource_id": ["m1"] * len(busy),
            "start": pd.to_datetime([s for s, _ in busy], utc=True),
            "end": pd.to_datetime([e for _, e in busy], utc=True),
            "source": ["calendar"] * len(busy),
        }
    )
    request = planner.SlotRequest(
        members=("m1",),
        duration=pd.Timedelta(minutes=30),
        interval=pd.Timedelta(minutes=15),
        frame_start=start.date(),
        frame_end=(end - dt.timedelta(days=1)).date(),
        zone="UTC",
        now=start - dt.timedelta(days=1),
    )
    slots = planner.find_slots(request, resources, hours, table)
    return {ts.to_pydatetime() for ts in slots["start"]}


# The corpus cases need the corpus (the ``ics_corpus`` fixture skips them without it).
SLOT_CASES = [
    pytest.param(source, *case.values[:4], id=case.id)
    for source, cases in (("files", CASES), ("corpus", CORPUS_CASES))
    for case in cases
]


@pytest.mark.parametrize(("source", "name", "zone", "start", "end"), SLOT_CASES)
def test_imported_busy_time_removes_exactly_the_overlapping_slots(request, source, name, zone, start, end):
    folder = FILES if source == "files" else request.getfixturevalue("ics_corpus")
    window_start, window_end = utc(start), utc(end)
    busy = read(name, zone, start, end, folder)
    free_everywhere = _slot_starts(window_start, window_end, [])
    with_calendar = _slot_starts(window_start, window_end, busy)

    duration = dt.timedelta(minutes=30)
    overlapping = {t for t in free_everywhere if any(s < t + duration and t < e for s, e in busy)}
    assert bool(overlapping) == bool(busy), "busy time in the window must overlap some slot"
    assert with_calendar == free_everywhere - overlapping
    # Half-open intervals: the slot that ends when the first busy block starts survives.
    if busy:
        first_start = busy[0][0]
        on_grid = (first_start - window_start) % dt.timedelta(minutes=15) == dt.timedelta(0)
        if on_grid and first_start - duration >= window_start:
            assert first_start - duration in with_calendar
