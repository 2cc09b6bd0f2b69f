"""Reading calendars in a child process: same answers as in process, limits, no waiting."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from booking_service.calendars import sandbox
from booking_service.calendars.ics import CalendarParseError, read_calendars
from booking_service.core import sandbox as core_sandbox

from .helpers import ICS_FILES, UNDEFINED_ZONE_ICS, at, busy_calendar

WINDOW = {"zone": "Europe/Berlin", "window_start": at("2027-09-01 00:00"), "window_end": at("2028-01-01 00:00")}


def test_a_read_in_the_child_gives_what_the_reader_gives_in_process():
    data = [(ICS_FILES / "exchange-windows-zones-exdate.ics").read_bytes()]
    assert sandbox.read(data, **WINDOW) == read_calendars(data, **WINDOW)


def test_errors_come_back_with_line_and_property():
    with pytest.raises(CalendarParseError) as caught:
        sandbox.read([UNDEFINED_ZONE_ICS.read_bytes()], **WINDOW)
    assert (caught.value.line, caught.value.property) == (60, "DTSTART")
    assert str(caught.value).startswith("line 60, DTSTART: TZID 'Customized Time Zone'")


def test_bad_arguments_are_refused_before_any_process_is_involved():
    with pytest.raises(ValueError, match="not an IANA time zone"):
        sandbox.read([], zone="Mars/Olympus", window_start=WINDOW["window_start"], window_end=WINDOW["window_end"])


def test_a_read_over_the_memory_limit_is_stopped_with_a_message(monkeypatch):
    monkeypatch.setattr(sandbox, "MEMORY_LIMIT", 16 * 1024 * 1024)
    data = busy_calendar(5_000, at("2027-10-01 00:00"))
    with pytest.raises(CalendarParseError, match="needs more than 16 MB of memory|stopped: it needed more than"):
        sandbox.read([data], **WINDOW)
    monkeypatch.undo()
    assert len(sandbox.read([data], **WINDOW).intervals) == 1  # the same file reads within the limits


def test_a_read_over_the_cpu_limit_is_stopped_with_a_message(monkeypatch):
    monkeypatch.setattr(sandbox, "CPU_SECONDS", 1)
    data = busy_calendar(20_000, at("2027-10-01 00:00"))
    with pytest.raises(CalendarParseError, match="stopped: it needed more than 1 s of processor time"):
        sandbox.read([data], **WINDOW)


def test_a_small_read_does_not_wait_for_a_large_one():
    large = busy_calendar(8_000, at("2027-10-01 00:00"))
    small = (ICS_FILES / "exchange-windows-zones-exdate.ics").read_bytes()
    sandbox.read([small], **WINDOW)  # the helper is running
    done: list[float] = []

    def read_large() -> None:
        sandbox.read([large], **WINDOW)
        done.append(time.monotonic())

    thread = threading.Thread(target=read_large)
    thread.start()
    time.sleep(0.3)  # the large read is under way in its own child
    assert sandbox.read([small], **WINDOW).events == 5
    small_done = time.monotonic()
    thread.join(timeout=120)
    assert done and small_done < done[0]


def test_the_helper_is_started_again_when_it_has_gone():
    data = [(ICS_FILES / "nextcloud-weekly-allday-opaque.ics").read_bytes()]
    sandbox.read(data, **WINDOW)
    process = core_sandbox._helper[1]
    process.kill()
    process.wait()
    assert sandbox.read(data, **WINDOW) == read_calendars(data, **WINDOW)
    assert core_sandbox._helper[1] is not process


def test_usage_is_reported():
    data = [(ICS_FILES / "exchange-windows-zones-exdate.ics").read_bytes()]
    reading, usage = sandbox.read_with_usage(data, **WINDOW)
    assert reading.events == 5 and usage.cpu_seconds >= 0 and usage.peak_rss_bytes > 1_000_000
    assert dt.timedelta(seconds=usage.cpu_seconds) < dt.timedelta(seconds=sandbox.CPU_SECONDS)
