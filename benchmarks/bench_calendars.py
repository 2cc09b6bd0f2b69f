"""Benchmark of reading a large calendar, against the reader it replaced, on the same file.

Run: ``python benchmarks/bench_calendars.py`` (about two minutes on 2 cores; the old reader
takes most of it). ``--events N`` changes the size (default 50,000, about 10 MB).

The file is what a busy person's export of ten years looks like, in the layout of a Google
Calendar export (``X-WR-TIMEZONE``, a ``VTIMEZONE``, ``TZID=Europe/Berlin``): single meetings
spread over the ten years before the sync and the year after, one in fifty a weekly series
with ``UNTIL``, an override now and then, some all-day, transparent and cancelled events
(``STATUS`` only on the cancelled ones), about 200 bytes an event, 9.5 MB for 50,000: within
the default upload limit. It is generated with a fixed seed; the sync window is the one a
sync reads, a day back and 90 days ahead of 2026-12-04.

Measured, each in a fresh Python process so that peak memory is that read's own:

* ``old``: the reader before this change (``booking_service/calendars/ics.py`` at commit
  996f671, loaded from git), in process, as the sync ran it;
* ``new``: :func:`booking_service.calendars.ics.read_calendar` in process;
* ``new, sandboxed``: the same read as a sync runs it, in a child of
  :mod:`booking_service.calendars.sandbox` (wall time seen by the caller; CPU time and peak
  memory are the child's);
* waiting: the wall time of a small calendar's read started while the large one is being
  parsed, by the old reader (two threads, one process-wide parse lock; the small read starts
  once the large one holds the lock) and by the sandbox (the small read starts a second into
  the large one, whose child is then parsing).

Before any time is printed, the old and the new reader must give the same busy intervals.
Ratios compare the old reader's figures with the new one's, measured in the same run on the
same file. The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_COMMIT = "996f671"
"""The commit whose calendar reader is the baseline (the last one before the large-file work)."""

TODAY = dt.date(2026, 12, 4)
NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
WINDOW = {"zone": "Europe/Berlin", "window_start": NOW - dt.timedelta(days=1), "window_end": NOW + dt.timedelta(days=90)}

_VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    "END:STANDARD\r\nEND:VTIMEZONE\r\n"
)


def large_calendar(events: int, seed: int = 2026) -> str:
    """A Google Calendar export of ``events`` events over the ten years before :data:`TODAY`."""
    rng = random.Random(seed)
    parts = [
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:Work\r\nX-WR-TIMEZONE:Europe/Berlin\r\n",
        _VTIMEZONE,
    ]
    first = TODAY - dt.timedelta(days=3650)
    written = 0
    while written < events:
        day = first + dt.timedelta(days=rng.randrange(3650 + 365))
        start = dt.datetime(day.year, day.month, day.day, rng.randrange(7, 19), rng.choice((0, 15, 30, 45)))
        end = start + dt.timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))
        uid = f"{rng.getrandbits(48):012x}@google.com"
        kind = rng.random()
        lines = ["BEGIN:VEVENT"]
        if kind < 0.03:
            lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{day + dt.timedelta(days=1):%Y%m%d}"]
        else:
            lines += [f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}", f"DTEND;TZID=Europe/Berlin:{end:%Y%m%dT%H%M%S}"]
        series = kind > 0.98
        if series:
            until = start + dt.timedelta(weeks=rng.randrange(4, 60))
            lines.append(f"RRULE:FREQ=WEEKLY;UNTIL={until - dt.timedelta(hours=1):%Y%m%dT%H%M%SZ}")
        lines += [
            "DTSTAMP:20261201T080000Z",
            f"UID:{uid}",
            f"SUMMARY:{rng.choice(('1:1', 'Sync', 'Review', 'Call', 'Standup', 'Planning'))}",
            "TRANSP:TRANSPARENT" if 0.05 <= kind < 0.08 else "TRANSP:OPAQUE",
        ]
        if 0.03 <= kind < 0.05:
            lines.append("STATUS:CANCELLED")
        lines.append("END:VEVENT")
        parts.append("\r\n".join(lines) + "\r\n")
        written += 1
        if series and written < events:  # one occurrence moved by an hour
            moved = start + dt.timedelta(weeks=2)
            parts.append(
                "BEGIN:VEVENT\r\n"
                f"DTSTART;TZID=Europe/Berlin:{moved + dt.timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
                f"DTEND;TZID=Europe/Berlin:{moved + (end - start) + dt.timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
                f"DTSTAMP:20261201T080000Z\r\nUID:{uid}\r\n"
                f"RECURRENCE-ID;TZID=Europe/Berlin:{moved:%Y%m%dT%H%M%S}\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n"
            )
            written += 1
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts)


def small_calendar() -> str:
    """A calendar of a few events, read in a few milliseconds."""
    return (ROOT / "tests/booking_service/calendars/ics/google-weekly-moved-exdate.ics").read_text()


def _baseline_module():
    """The old reader, loaded from git into a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:booking_service/calendars/ics.py"],
        check=True, capture_output=True, text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_ics.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_ics", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_ics"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _reader(which: str):
    if which == "old":
        return _baseline_module().busy_intervals
    from booking_service.calendars.ics import busy_intervals

    return busy_intervals


def _child(which: str, path: str) -> None:
    """In a fresh process: read the file once, print the figures as JSON."""
    from booking_service.calendars.sandbox import peak_rss_bytes

    data = Path(path).read_bytes()
    if which == "sandboxed":
        from booking_service.calendars import sandbox

        sandbox.read([small_calendar()], **WINDOW)  # the helper is running, as in a server
        began = time.perf_counter()
        reading, usage = sandbox.read_with_usage([data], **WINDOW)
        wall = time.perf_counter() - began
        figures = {"intervals": len(reading.intervals), "wall": wall, "cpu": usage.cpu_seconds,
                   "rss_mb": usage.peak_rss_bytes / 2**20}
    else:
        read = _reader(which)
        read(small_calendar(), **WINDOW)  # imports and zone data loaded, as in a server
        began, cpu = time.perf_counter(), time.process_time()
        intervals = read(data, **WINDOW)
        figures = {"intervals": len(intervals), "wall": time.perf_counter() - began,
                   "cpu": time.process_time() - cpu,
                   "rss_mb": peak_rss_bytes() / 2**20}
    print(json.dumps(figures))


def _waiting_child(which: str, path: str) -> None:
    """In a fresh process: time a small read started while the large one is being read."""
    data = Path(path).read_bytes()
    small = small_calendar()
    if which == "old":
        baseline = _baseline_module()
        read = baseline.busy_intervals

        def read_small() -> None:
            read(small, **WINDOW)

        def read_large() -> None:
            read(data, **WINDOW)

        def parsing() -> bool:  # the large read holds the parse lock
            return baseline._PARSE_LOCK.locked()
    else:
        from booking_service.calendars import sandbox

        def read_small() -> None:
            sandbox.read([small], **WINDOW)

        def read_large() -> None:
            sandbox.read([data], **WINDOW)

        def parsing() -> bool:  # the large read's child is reading (there is no lock to see)
            return time.perf_counter() - started > 1.0
    read_small()
    began = time.perf_counter()
    read_small()
    alone = time.perf_counter() - began
    large = threading.Thread(target=read_large)
    started = time.perf_counter()
    large.start()
    while not parsing():
        time.sleep(0.01)
    began = time.perf_counter()
    read_small()
    waited = time.perf_counter() - began
    large.join()
    print(json.dumps({"alone": alone, "during": waited}))


def _run(kind: str, which: str, path: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--{kind}", which, path], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new reader (the old one runs once)")
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--waiting", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.waiting:
        _waiting_child(*args.waiting)
        return

    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    text = large_calendar(args.events)
    with tempfile.NamedTemporaryFile("w", suffix=".ics", delete=False, newline="") as handle:
        handle.write(text)
        path = handle.name
    print(f"calendar: {args.events:,} events, {len(text.encode()) / 2**20:.1f} MB; window "
          f"{WINDOW['window_start']:%Y-%m-%d} .. {WINDOW['window_end']:%Y-%m-%d}, {WINDOW['zone']}")

    # Same answer first: the old reader and the new one, on the same file.
    data = Path(path).read_bytes()
    old_intervals = _reader("old")(data, **WINDOW)
    new_intervals = _reader("new")(data, **WINDOW)
    if old_intervals != new_intervals:
        raise SystemExit(f"the readers disagree: {len(old_intervals)} vs {len(new_intervals)} intervals")
    print(f"same busy intervals from both readers: {len(new_intervals)}")

    old = _run("child", "old", path)
    new = [_run("child", "new", path) for _ in range(args.repeat)]
    boxed = [_run("child", "sandboxed", path) for _ in range(args.repeat)]

    def median(runs: list[dict], key: str) -> float:
        values = sorted(run[key] for run in runs)
        return values[len(values) // 2]

    print(f"\n{'reader':<22}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}{'wall ratio':>12}{'CPU ratio':>11}{'memory ratio':>14}")
    print(f"{'old (baseline)':<22}{old['wall']:>9.2f}{old['cpu']:>9.2f}{old['rss_mb']:>9.0f}")
    for name, runs in (("new, in process", new), ("new, sandboxed", boxed)):
        wall, cpu, rss = median(runs, "wall"), median(runs, "cpu"), median(runs, "rss_mb")
        print(f"{name:<22}{wall:>9.2f}{cpu:>9.2f}{rss:>9.0f}{old['wall'] / wall:>11.1f}x"
              f"{old['cpu'] / cpu:>10.1f}x{old['rss_mb'] / rss:>13.1f}x")

    print("\na small calendar's read, alone and while the large one is being read (wall s):")
    for which, label in (("old", "old (parse lock)"), ("new", "new (sandbox)")):
        waiting = _run("waiting", which, path)
        print(f"  {label:<18} alone {waiting['alone']:.3f}   during {waiting['during']:.3f}")
    os.unlink(path)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
