"""The iCalendar files kept in ``tests/booking_service/calendars/ics/`` (see its README).

For each file: the busy intervals it must produce over a window, worked out by hand from the
file (the reasoning is next to each case). For these files and every case of the shared corpus
(:mod:`.test_ics_corpus`): importing the intervals removes exactly the slots they overlap, as
the planner computes them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import planner
from booking_service.calendars.ics import busy_intervals

from .helpers import at as utc
from .helpers import spans
from .test_ics_corpus import CASES as CORPUS_CASES
from .test_ics_corpus import CORPUS

FILES = Path(__file__).with_name("ics")

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
]


def read(name: str, zone: str, start: str, end: str, folder: Path = FILES):
    return busy_intervals(
        (folder / name).read_bytes(), zone=zone, window_start=utc(start), window_end=utc(end)
    )


@pytest.mark.parametrize(("name", "zone", "start", "end", "expected"), CASES)
def test_file_busy_intervals(name, zone, start, end, expected):
    assert read(name, zone, start, end) == expected


def test_every_file_is_covered():
    assert {case.values[0] for case in CASES} == {path.name for path in FILES.glob("*.ics")}


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


SLOT_CASES = [
    pytest.param(folder, *case.values[:4], id=case.id)
    for folder, cases in ((FILES, CASES), (CORPUS, CORPUS_CASES))
    for case in cases
]


@pytest.mark.parametrize(("folder", "name", "zone", "start", "end"), SLOT_CASES)
def test_imported_busy_time_removes_exactly_the_overlapping_slots(folder, name, zone, start, end):
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
