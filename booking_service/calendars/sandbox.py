"""Read calendars in a process of their own, with limits on memory and time.

A calendar is someone else's data: a 10 MB export of years of meetings, or a file made to be
hostile. Reading one must neither hold up other calendars nor exhaust the process that serves
customers and schedulers. So every read (:func:`read`) happens in a child process:

- no calendar waits for another's read: each read has its own process, and two cores read
  two calendars at once (there is no lock between reads, here or in :mod:`.ics`);
- a read may use :data:`MEMORY_LIMIT` bytes of memory and :data:`CPU_SECONDS` of processor
  time; beyond either it is stopped and reported as a :class:`~.ics.CalendarParseError` that
  says so, and the process that asked is unharmed;
- children are forked from a small helper process that has imported only the reader, so a
  child starts in a few milliseconds and small, whatever the asking process has loaded
  (pandas, Streamlit, Flask). The helper is started on first use, once per process, and
  exits when that process does (its standard input closes).

The request and the answer travel as pickles over a Unix socket in a private temporary
folder: only processes of the same user can reach it.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import pickle
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Container, Sequence
from dataclasses import dataclass

from .ics import CalendarParseError, CalendarReading, read_calendars

__all__ = ["CPU_SECONDS", "MEMORY_LIMIT", "WALL_SECONDS", "Usage", "peak_rss_bytes", "read", "read_with_usage"]

MEMORY_LIMIT = 1024 * 1024 * 1024
"""Bytes of address space one read may add to the helper's (1 GiB; a 10 MB file of 50,000
events needs well under 100 MB)."""

CPU_SECONDS = 60
"""Processor seconds one read may use (a 50,000-event file takes a few)."""

WALL_SECONDS = 120
"""Seconds one read may take on the clock, however busy the machine."""


@dataclass(frozen=True)
class Usage:
    """What a read cost its child process.

    Attributes
    ----------
    cpu_seconds : float
        User and system CPU time of the child.
    peak_rss_bytes : int
        The child's peak resident memory (including what it shares with the helper).
    """

    cpu_seconds: float
    peak_rss_bytes: int


@dataclass(frozen=True)
class _Request:
    texts: tuple[bytes | str, ...]
    zone: str
    window_start: dt.datetime
    window_end: dt.datetime
    ignore_uids: frozenset[str]
    memory_limit: int
    cpu_seconds: int
    wall_seconds: int


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
    request = _Request(
        tuple(texts), zone, window_start, window_end, frozenset(ignore_uids), MEMORY_LIMIT, CPU_SECONDS, WALL_SECONDS
    )
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    with _connect() as connection:
        with connection.makefile("wb") as outgoing:
            outgoing.write(payload)
        connection.shutdown(socket.SHUT_WR)
        try:
            with connection.makefile("rb") as incoming:
                outcome = pickle.load(incoming)
        except (EOFError, pickle.UnpicklingError, TimeoutError, OSError):
            raise CalendarParseError(
                f"reading the calendar was stopped: it needed more than {CPU_SECONDS} s of processor "
                f"time, {WALL_SECONDS} s in all or {MEMORY_LIMIT // 2**20:,} MB of memory; the file is "
                "too large or malformed (shorten the exported date range)"
            ) from None
    status, value, usage = outcome
    if status == "error":
        raise value
    return value, usage


def peak_rss_bytes() -> int:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, not carried over
    from the process that started this one)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- the helper, on the asking side ---------------------------------------------------------

_HELPER_LOCK = threading.Lock()
_helper: tuple[int, subprocess.Popen, str] | None = None  # (owner pid, process, socket path)


def _connect() -> socket.socket:
    """A connection to this process's helper (started anew if it is gone)."""
    for attempt in (1, 2):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(WALL_SECONDS + 30)
        try:
            connection.connect(_helper_address(restart=attempt == 2))
        except OSError:
            connection.close()
            if attempt == 2:
                raise
            continue
        return connection
    raise AssertionError("unreachable")


def _helper_address(*, restart: bool = False) -> str:
    """The socket of this process's helper, started on first use (and again if it died)."""
    global _helper
    with _HELPER_LOCK:
        if restart or _helper is None or _helper[0] != os.getpid() or _helper[1].poll() is not None:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                # The helper imports the reader from where this process found it.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
            )
            address = process.stdout.readline().strip()
            if not address:
                process.kill()
                process.wait()
                raise OSError(f"the calendar reading helper did not start (exit status {process.returncode})")
            _helper = (os.getpid(), process, address)
            atexit.register(_stop, process)
        return _helper[2]


def _stop(process: subprocess.Popen) -> None:
    """Let a helper go with its process: closing its standard input ends it."""
    for stream in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            stream.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the helper process ----------------------------------------------------------------------


def _serve() -> None:
    """Accept reads on a Unix socket and fork a child for each, until standard input closes."""
    folder = tempfile.mkdtemp(prefix="slotwise-calendars-")
    address = os.path.join(folder, "socket")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
        listener.listen(64)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
        print(address, flush=True)
        while True:
            ready, _, _ = select.select([listener, sys.stdin], [], [])
            if sys.stdin in ready and not sys.stdin.readline():
                return  # the asking process has gone
            if listener not in ready:
                continue
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                _answer(connection)  # never returns
            connection.close()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(address)
            os.rmdir(folder)


def _answer(connection: socket.socket) -> None:
    """In the forked child: set the limits, read the request, answer, exit."""
    status = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        with connection.makefile("rb") as incoming:
            request: _Request = pickle.load(incoming)
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        with open("/proc/self/statm") as statm:
            address_space = int(statm.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (address_space + request.memory_limit, resource.RLIM_INFINITY))
        cpu_used = int(usage_before.ru_utime + usage_before.ru_stime)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_used + request.cpu_seconds, resource.RLIM_INFINITY))
        signal.alarm(request.wall_seconds)
        try:
            reading = read_calendars(
                request.texts,
                zone=request.zone,
                window_start=request.window_start,
                window_end=request.window_end,
                ignore_uids=request.ignore_uids,
            )
            outcome: tuple = ("ok", reading)
        except CalendarParseError as error:
            outcome = ("error", error)
        except MemoryError:
            outcome = (
                "error",
                CalendarParseError(
                    f"reading the calendar needs more than {request.memory_limit // 2**20:,} MB of memory; the file "
                    "is too large or malformed (shorten the exported date range)"
                ),
            )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cost = Usage(
            cpu_seconds=usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime,
            peak_rss_bytes=peak_rss_bytes(),
        )
        with connection.makefile("wb") as outgoing:
            pickle.dump((*outcome, cost), outgoing, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - the child must exit whatever happened; the asker sees EOF
        status = 1
    finally:
        connection.close()
        os._exit(status)


if __name__ == "__main__":
    # Run the module's own copy by its name, so that what is pickled names its real module.
    from booking_service.calendars.sandbox import _serve as serve

    serve()
