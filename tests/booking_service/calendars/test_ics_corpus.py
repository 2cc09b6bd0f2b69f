"""The iCalendar reader over the real-world corpus in ``../shared/ics-corpus`` (see its SOURCES.md).

Every expected interval below was worked out by reading the file by hand: the event's wall
clock, its zone's offset on that date (from the file's VTIMEZONE or the IANA zone), the
recurrence rule, its exceptions and overrides. The reasoning is written next to each case so
that a reader can check it against the file.

The corpus is not part of the repository: the ``ics_corpus`` fixture finds it beside the checkout
and skips these tests when it is absent (fails them with ``CI=true``). Every quirk it covers is
also covered by the repository's own files in ``ics/`` (:mod:`.test_ics_files`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from booking_service.calendars.ics import CalendarParseError, busy_intervals

from .helpers import at as utc
from .helpers import spans


def read(corpus: Path, name: str, zone: str, start: str, end: str) -> list[tuple[dt.datetime, dt.datetime]]:
    return busy_intervals(
        (corpus / name).read_bytes(), zone=zone, window_start=utc(start), window_end=utc(end)
    )


CASES = [
    pytest.param(
        # "Central European Standard Time" VTIMEZONE: +02:00 until the last Sunday of October
        # (2024-10-27), +01:00 after. Biweekly Tuesdays 15:00-16:00 from 2024-05-21:
        # 10-08 and 10-22 at +02 -> 13:00Z; 11-05 ... at +01 -> 14:00Z. EXDATE removes
        # 2024-12-31 and 2025-02-25. The Thursday series ended on 2024-05-02 (UNTIL).
        "outlook-windows-tz-recurring-exdate.ics",
        "Europe/Warsaw",
        "2024-10-01 00:00",
        "2025-03-01 00:00",
        spans(
            ("2024-10-08 13:00", "2024-10-08 14:00"),
            ("2024-10-22 13:00", "2024-10-22 14:00"),
            ("2024-11-05 14:00", "2024-11-05 15:00"),
            ("2024-11-19 14:00", "2024-11-19 15:00"),
            ("2024-12-03 14:00", "2024-12-03 15:00"),
            ("2024-12-17 14:00", "2024-12-17 15:00"),
            ("2025-01-14 14:00", "2025-01-14 15:00"),
            ("2025-01-28 14:00", "2025-01-28 15:00"),
            ("2025-02-11 14:00", "2025-02-11 15:00"),
        ),
        id="outlook-windows-zone-dst-and-exdates",
    ),
    pytest.param(
        # Thursday series: DTSTART 2024-05-02 11:00 (+02) = 09:00Z, UNTIL=20240502T090000Z is
        # that very start (UNTIL is inclusive): exactly one occurrence. Tuesday series starts
        # 2024-05-21 15:00 (+02) = 13:00Z.
        "outlook-windows-tz-recurring-exdate.ics",
        "Europe/Warsaw",
        "2024-04-25 00:00",
        "2024-05-25 00:00",
        spans(("2024-05-02 09:00", "2024-05-02 10:00"), ("2024-05-21 13:00", "2024-05-21 14:00")),
        id="outlook-until-equal-to-start",
    ),
    pytest.param(
        # UNTIL=20260505T130000Z is the occurrence of 2026-05-05 15:00 (+02): 714 days after
        # 2024-05-21 = 51 fortnights, so it is on the series and included; 05-19 is not.
        "outlook-windows-tz-recurring-exdate.ics",
        "Europe/Warsaw",
        "2026-04-20 00:00",
        "2026-05-31 00:00",
        spans(("2026-04-21 13:00", "2026-04-21 14:00"), ("2026-05-05 13:00", "2026-05-05 14:00")),
        id="outlook-until-inclusive",
    ),
    pytest.param(
        # "Canberra, Melbourne, Sydney" (defined only by the file): +11 until the first Sunday of
        # April 2009 (04-05) 03:00, then +10. Weekdays 09:30-09:45 local from 2009-03-10.
        # Tue 03-31 .. Fri 04-03 at +11 -> 22:30Z the day before (Mon 03-30 is 03-29 22:30Z,
        # before the window); Mon 04-06 .. Fri 04-10 at +10 -> 23:30Z the day before.
        "outlook11-display-name-tz-dst.ics",
        "Australia/Sydney",
        "2009-03-30 00:00",
        "2009-04-10 00:00",
        spans(
            ("2009-03-30 22:30", "2009-03-30 22:45"),
            ("2009-03-31 22:30", "2009-03-31 22:45"),
            ("2009-04-01 22:30", "2009-04-01 22:45"),
            ("2009-04-02 22:30", "2009-04-02 22:45"),
            ("2009-04-05 23:30", "2009-04-05 23:45"),
            ("2009-04-06 23:30", "2009-04-06 23:45"),
            ("2009-04-07 23:30", "2009-04-07 23:45"),
            ("2009-04-08 23:30", "2009-04-08 23:45"),
            ("2009-04-09 23:30", "2009-04-09 23:45"),
        ),
        id="outlook11-display-name-zone-australian-dst-end",
    ),
    pytest.param(
        # Every event (series and moved occurrences) is TRANSP:TRANSPARENT: no busy time.
        "exchange-allday-moved-transparent.ics",
        "Europe/London",
        "2020-04-01 00:00",
        "2020-10-01 00:00",
        [],
        id="exchange-all-transparent",
    ),
    pytest.param(
        # Opaque: 2020-09-10 09:00-09:30 "W. Europe Standard Time" (+02) = 07:00Z, and
        # 2020-09-15 08:30-09:30 "Pacific Standard Time" (-07) = 15:30Z. Both series
        # (including the one whose DTSTART is swallowed by a stray quote) are transparent.
        "exchange-many-windows-tz-broken-quote.ics",
        "Europe/Berlin",
        "2020-09-01 00:00",
        "2020-10-01 00:00",
        spans(("2020-09-10 07:00", "2020-09-10 07:30"), ("2020-09-15 15:30", "2020-09-15 16:30")),
        id="exchange-windows-zones-broken-quote",
    ),
    pytest.param(
        # Tuesdays 14:00-15:00 Australia/Sydney (+10 in August) from 08-08, UNTIL 08-28 13:59:59Z:
        # 08-08, 08-15, 08-22. The 08-15 occurrence is moved to Monday 08-14. The all-day
        # Thursday series is transparent.
        "google-moved-occurrence-allday.ics",
        "Australia/Sydney",
        "2023-08-01 00:00",
        "2023-09-01 00:00",
        spans(
            ("2023-08-08 04:00", "2023-08-08 05:00"),
            ("2023-08-14 04:00", "2023-08-14 05:00"),
            ("2023-08-22 04:00", "2023-08-22 05:00"),
        ),
        id="google-moved-occurrence",
    ),
    pytest.param(
        # America/Chicago: CDT (-5) until 2020-11-01 02:00, CST (-6) after.
        # Mon 10-26 10:15 (m4b9nckq); Tue 10-27 10:15 (2ohv); Thu 10-29 10:15 (29kb);
        # Fri 10-30 10:15 (p1lc8) and 14:15 (m4dpn70, no BYDAY: weekday of its Friday start).
        # Mon 11-02 10:15; Tue 11-03 10:15, 12:30 (m0lbs), 14:15 (2n0o); Thu 11-05 10:15 and
        # 12:30 (7l8ium); Fri 11-06 10:15 only: 12:30 (mji2s) and 14:15 (m4dpn70) are EXDATEs.
        "google-weekly-exdate-dst.ics",
        "America/Chicago",
        "2020-10-26 00:00",
        "2020-11-07 00:00",
        spans(
            ("2020-10-26 15:15", "2020-10-26 15:30"),
            ("2020-10-27 15:15", "2020-10-27 15:30"),
            ("2020-10-29 15:15", "2020-10-29 15:30"),
            ("2020-10-30 15:15", "2020-10-30 15:30"),
            ("2020-10-30 19:15", "2020-10-30 19:30"),
            ("2020-11-02 16:15", "2020-11-02 16:30"),
            ("2020-11-03 16:15", "2020-11-03 16:30"),
            ("2020-11-03 18:30", "2020-11-03 18:45"),
            ("2020-11-03 20:15", "2020-11-03 20:30"),
            ("2020-11-05 16:15", "2020-11-05 16:30"),
            ("2020-11-05 18:30", "2020-11-05 18:45"),
            ("2020-11-06 16:15", "2020-11-06 16:30"),
        ),
        id="google-weekly-us-dst-end",
    ),
    pytest.param(
        # CST (-6). Mon 11-23: 08:15 (c4p6, from 11-16), 10:15, 12:30 (u81j). Tue 11-24: 08:15,
        # 10:15, 12:30, 14:15. Thanksgiving Thu 11-26 and Fri 11-27: every series has an EXDATE.
        "google-weekly-exdate-dst.ics",
        "America/Chicago",
        "2020-11-23 00:00",
        "2020-11-28 00:00",
        spans(
            ("2020-11-23 14:15", "2020-11-23 14:30"),
            ("2020-11-23 16:15", "2020-11-23 16:30"),
            ("2020-11-23 18:30", "2020-11-23 18:45"),
            ("2020-11-24 14:15", "2020-11-24 14:30"),
            ("2020-11-24 16:15", "2020-11-24 16:30"),
            ("2020-11-24 18:30", "2020-11-24 18:45"),
            ("2020-11-24 20:15", "2020-11-24 20:30"),
        ),
        id="google-weekly-exdates",
    ),
    pytest.param(
        # p1lg: weekdays 08:15 CDT from Tue 09-15, EXDATE 09-16, UNTIL 09-23 04:59:59Z
        # (= 09-22 23:59:59 local): 09-15, 09-17, 09-18, 09-21, 09-22. Fri 09-25 starts the
        # 10:15 and 14:15 weekly series.
        "google-weekly-exdate-dst.ics",
        "America/Chicago",
        "2020-09-14 00:00",
        "2020-09-28 00:00",
        spans(
            ("2020-09-15 13:15", "2020-09-15 13:30"),
            ("2020-09-17 13:15", "2020-09-17 13:30"),
            ("2020-09-18 13:15", "2020-09-18 13:30"),
            ("2020-09-21 13:15", "2020-09-21 13:30"),
            ("2020-09-22 13:15", "2020-09-22 13:30"),
            ("2020-09-25 15:15", "2020-09-25 15:30"),
            ("2020-09-25 19:15", "2020-09-25 19:30"),
        ),
        id="google-until-and-exdate",
    ),
    pytest.param(
        # Europe/Berlin, CET (+1) in March 2019 (DST starts 03-31).
        # Daily 02:00-03:00 from 03-07 UNTIL 03-10 01:00Z: 03-07 as is; 03-08 lengthened to
        # 01:00-03:00; 03-09 moved to 03:00-03:30; 03-10 turned into a transparent all-day event.
        # Daily 04:00-05:00 from 03-18 UNTIL 03-20 03:00Z: 03-18, 03-19 (override, same time), 03-20.
        "thunderbird-moved-and-resized.ics",
        "Europe/Berlin",
        "2019-03-01 00:00",
        "2019-03-31 00:00",
        spans(
            ("2019-03-07 01:00", "2019-03-07 02:00"),
            ("2019-03-08 00:00", "2019-03-08 02:00"),
            ("2019-03-09 02:00", "2019-03-09 02:30"),
            ("2019-03-18 03:00", "2019-03-18 04:00"),
            ("2019-03-19 03:00", "2019-03-19 04:00"),
            ("2019-03-20 03:00", "2019-03-20 04:00"),
        ),
        id="thunderbird-moved-resized-and-made-transparent",
    ),
    pytest.param(
        # Daily 22:00-23:00 Europe/Berlin (+1), COUNT=3 from 01-28; the 01-29 occurrence is
        # STATUS:CANCELLED.
        "thunderbird-cancelled-occurrence.ics",
        "Europe/Berlin",
        "2020-01-27 00:00",
        "2020-02-01 00:00",
        spans(("2020-01-28 21:00", "2020-01-28 22:00"), ("2020-01-30 21:00", "2020-01-30 22:00")),
        id="thunderbird-cancelled-occurrence",
    ),
    pytest.param(
        # TENTATIVE 23:00-23:50Z counts as busy; CONFIRMED 07-05 09:00 America/Vancouver (-7)
        # and the event without STATUS on 07-07 are busy; the CANCELLED one on 07-06 is not.
        "apple-macos-cancelled-tentative.ics",
        "America/Vancouver",
        "2022-07-01 00:00",
        "2022-07-10 00:00",
        spans(
            ("2022-07-04 23:00", "2022-07-04 23:50"),
            ("2022-07-05 16:00", "2022-07-05 17:00"),
            ("2022-07-07 16:00", "2022-07-07 17:00"),
        ),
        id="apple-cancelled-and-tentative",
    ),
    pytest.param(
        # America/Los_Angeles, PDT (-7). Single 09:00-10:00 events on 09-12, 09-22, 09-27 and
        # 09:00-11:00 on 09-20; a daily 09:00-10:00 series 09-13 .. 09-25 (UNTIL 09-26 15:59:59Z
        # is 08:59:59 local, just before the 09-26 start) and an endless one from 09-26.
        # Overlapping events are joined: 09-20 is 16:00-18:00Z.
        "apple-icloud-multiday-allday.ics",
        "America/Los_Angeles",
        "2022-09-10 00:00",
        "2022-09-30 00:00",
        spans(
            *[
                (f"2022-09-{day:02d} 16:00", f"2022-09-{day:02d} {'18' if day == 20 else '17'}:00")
                for day in range(12, 30)
            ]
        ),
        id="icloud-daily-series-and-singles",
    ),
    pytest.param(
        # The endless daily series across the US DST end (2022-11-06 02:00): 09:00 PDT = 16:00Z
        # before, 09:00 PST = 17:00Z from 11-06 on.
        "apple-icloud-multiday-allday.ics",
        "America/Los_Angeles",
        "2022-11-04 00:00",
        "2022-11-09 00:00",
        spans(
            ("2022-11-04 16:00", "2022-11-04 17:00"),
            ("2022-11-05 16:00", "2022-11-05 17:00"),
            ("2022-11-06 17:00", "2022-11-06 18:00"),
            ("2022-11-07 17:00", "2022-11-07 18:00"),
            ("2022-11-08 17:00", "2022-11-08 18:00"),
        ),
        id="icloud-daily-across-dst-end",
    ),
    pytest.param(
        # All-day 10-11..10-13 (exclusive) and 10-15..10-18 block whole local days of a member in
        # Los Angeles: local midnight PDT = 07:00Z. The daily 09:00 PDT series (16:00Z) runs on;
        # on the all-day dates it lies inside the all-day block.
        "apple-icloud-multiday-allday.ics",
        "America/Los_Angeles",
        "2023-10-10 00:00",
        "2023-10-20 00:00",
        spans(
            ("2023-10-10 16:00", "2023-10-10 17:00"),
            ("2023-10-11 07:00", "2023-10-13 07:00"),
            ("2023-10-13 16:00", "2023-10-13 17:00"),
            ("2023-10-14 16:00", "2023-10-14 17:00"),
            ("2023-10-15 07:00", "2023-10-18 07:00"),
            ("2023-10-18 16:00", "2023-10-18 17:00"),
            ("2023-10-19 16:00", "2023-10-19 17:00"),
        ),
        id="icloud-multi-day-all-day",
    ),
    pytest.param(
        # Weekly all-day Wednesdays from 2020-04-01, no TRANSP (opaque). Member in Berlin,
        # CEST (+2) since 03-29: the local day 04-01 is 03-31 22:00Z .. 04-01 22:00Z.
        "nextcloud-weekly-allday.ics",
        "Europe/Berlin",
        "2020-03-30 00:00",
        "2020-04-13 00:00",
        spans(("2020-03-31 22:00", "2020-04-01 22:00"), ("2020-04-07 22:00", "2020-04-08 22:00")),
        id="nextcloud-all-day-opaque-by-default",
    ),
    pytest.param(
        # The series has no end: Wednesday 2026-11-25 in CET (+1).
        "nextcloud-weekly-allday.ics",
        "Europe/Berlin",
        "2026-11-23 00:00",
        "2026-11-30 00:00",
        spans(("2026-11-24 23:00", "2026-11-25 23:00")),
        id="nextcloud-endless-series",
    ),
    pytest.param(
        # Floating times and dates read for a member in Sydney (AEDT, +11): local midnight is
        # 13:00Z the day before. Yearly all-day Dec 3, 25 and 28; weekly all-day Saturdays from
        # 2005-01-01; the floating meeting 2004-12-20 15:10-16:10 = 04:10Z. The zero-length
        # "MCSD Due Date" blocks nothing, the cancelled competition on 12-08 neither; the VTODOs
        # (one with a broken DTSTART) are not events.
        "mozilla-floating-allday-cancelled.ics",
        "Australia/Sydney",
        "2004-12-01 00:00",
        "2005-01-10 00:00",
        spans(
            ("2004-12-02 13:00", "2004-12-03 13:00"),
            ("2004-12-20 04:10", "2004-12-20 05:10"),
            ("2004-12-24 13:00", "2004-12-25 13:00"),
            ("2004-12-27 13:00", "2004-12-28 13:00"),
            ("2004-12-31 13:00", "2005-01-01 13:00"),
            ("2005-01-07 13:00", "2005-01-08 13:00"),
        ),
        id="mozilla-floating-and-all-day-in-member-zone",
    ),
    pytest.param(
        # The same file read for a member in Berlin (CET, +1): the same wall clock, other instants.
        "mozilla-floating-allday-cancelled.ics",
        "Europe/Berlin",
        "2004-12-19 00:00",
        "2004-12-27 00:00",
        spans(("2004-12-20 14:10", "2004-12-20 15:10"), ("2004-12-24 23:00", "2004-12-25 23:00")),
        id="mozilla-floating-in-another-zone",
    ),
    pytest.param(
        # Custom "Eastern" VTIMEZONE with the pre-2007 US rules: DST from the first Sunday of
        # April (2005-04-03), so -4 on 04-25..04-29. The RDATE periods give 09:00-09:15 on five
        # days; the first repeats DTSTART and must not count twice.
        "lotus-notes-rdate-period.ics",
        "America/New_York",
        "2005-04-24 00:00",
        "2005-05-01 00:00",
        spans(
            ("2005-04-25 13:00", "2005-04-25 13:15"),
            ("2005-04-26 13:00", "2005-04-26 13:15"),
            ("2005-04-27 13:00", "2005-04-27 13:15"),
            ("2005-04-28 13:00", "2005-04-28 13:15"),
            ("2005-04-29 13:00", "2005-04-29 13:15"),
        ),
        id="lotus-rdate-periods-custom-zone",
    ),
]


@pytest.mark.parametrize(("name", "zone", "start", "end", "expected"), CASES)
def test_corpus_busy_intervals(ics_corpus, name, zone, start, end, expected):
    assert read(ics_corpus, name, zone, start, end) == expected


def test_every_corpus_file_is_covered(ics_corpus):
    covered = {case.values[0] for case in CASES} | {"exchange-undefined-tzid-malformed.ics"}
    assert covered == {path.name for path in ics_corpus.glob("*.ics")}


def test_malformed_calendar_is_refused_with_line_and_property(ics_corpus):
    with pytest.raises(CalendarParseError) as caught:
        read(
            ics_corpus, "exchange-undefined-tzid-malformed.ics", "Europe/Berlin", "2024-04-01 00:00", "2024-05-01 00:00"
        )
    error = caught.value
    assert error.line == 38  # DTSTART;TZID=Customized Time Zone:20240426T140000
    assert error.property == "DTSTART"
    assert "'Customized Time Zone'" in str(error)
    assert str(error).startswith("line 38, DTSTART: ")


def test_zone_defined_by_another_calendar_does_not_leak(ics_corpus):
    # The Outlook file defines a VTIMEZONE named "Customized Time Zone"; reading it first must
    # not make the malformed file's undefined "Customized Time Zone" readable.
    read(ics_corpus, "outlook-windows-tz-recurring-exdate.ics", "Europe/Warsaw", "2024-04-25 00:00", "2024-05-25 00:00")
    with pytest.raises(CalendarParseError, match="Customized Time Zone"):
        read(
            ics_corpus, "exchange-undefined-tzid-malformed.ics", "Europe/Berlin", "2024-04-01 00:00", "2024-05-01 00:00"
        )
