"""Run a function in a child process of its own, with limits on memory, processor time and the clock.

Two kinds of work need this. Reading someone else's calendar file may need too much memory or
processor time, and must not exhaust the process that serves customers and schedulers. Talking
to someone else's server (downloading a calendar, CalDAV, SMTP) may never end: a server that
sends one byte every few seconds defeats any per-read timeout. A thread cannot be stopped from
outside; a process can. So :func:`call` runs a function in a child process and guarantees:

- the caller gets an answer by the ``seconds`` it allowed (a **total** deadline on the clock,
  whatever the function is doing): at that instant the child is killed by its own timer and
  the caller gets :class:`DeadlineExceeded`;
- with ``cpu_seconds`` or ``memory_bytes`` the child is stopped beyond them
  (:class:`LimitExceeded`), and the process that asked is unharmed;
- no call waits for another: each call has its own child, and nothing is locked between calls.

Children are forked from a small helper process that has imported only what :func:`preload`
named, so a child starts in a few milliseconds and small, whatever the asking process has
loaded (pandas, Streamlit, Flask). The helper is started on first use, once per process, and
exits when that process does (its standard input closes).

The function, its arguments and its answer (or the exception it raised) travel as pickles over a
Unix socket in a private temporary folder, which only processes of the same user can reach. The
function must be importable by its name (a module-level function).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "DeadlineExceeded",
    "LimitExceeded",
    "MemoryLimitExceeded",
    "SandboxError",
    "Usage",
    "call",
    "call_with_usage",
    "peak_rss_bytes",
    "preload",
    "seconds_left",
]

T = TypeVar("T")

GRACE_SECONDS = 2.0
"""How long after its deadline the caller still waits for a child that should be dead already
(a child is killed by its own timer; this only guards against a machine too busy to run it)."""


class SandboxError(Exception):
    """The child process was stopped before it answered."""


class DeadlineExceeded(SandboxError, TimeoutError):
    """The call did not finish within its deadline; the child was killed."""


class LimitExceeded(SandboxError):
    """The child was stopped for using too much processor time or memory (or died otherwise)."""


class MemoryLimitExceeded(LimitExceeded):
    """The function ran out of the memory it was allowed."""


@dataclass(frozen=True)
class Usage:
    """What a call cost its child process.

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
    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    deadline: float  # time.monotonic() of the caller: the clock is the same for every process
    cpu_seconds: int | None
    memory_bytes: int | None


_PRELOAD: set[str] = set()


def preload(*modules: str) -> None:
    """Have the helper import ``modules`` once, so that children start with them loaded.

    Only an optimisation: a child imports whatever its function needs in any case. Call it at
    import time of the module whose functions run in children (before the helper starts).
    """
    _PRELOAD.update(modules)


def call(
    function: Callable[..., T],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    seconds: float,
    cpu_seconds: int | None = None,
    memory_bytes: int | None = None,
) -> T:
    """``function(*args, **kwargs)`` in a child process, answered within ``seconds``.

    Parameters
    ----------
    function : callable
        A module-level function (it is sent to the child by name).
    args, kwargs
        Its arguments (sent as pickles).
    seconds : float
        Total time allowed on the clock, from this call to the answer.
    cpu_seconds : int, optional
        Processor seconds the child may use.
    memory_bytes : int, optional
        Bytes of address space the child may add to the helper's.

    Returns
    -------
    What ``function`` returned.

    Raises
    ------
    DeadlineExceeded
        The deadline passed before the answer came; the child has been killed.
    MemoryLimitExceeded, LimitExceeded
        The child was stopped for using too much memory or processor time.
    Exception
        Whatever ``function`` raised, raised again here.
    """
    return call_with_usage(
        function, args, kwargs, seconds=seconds, cpu_seconds=cpu_seconds, memory_bytes=memory_bytes
    )[0]


def call_with_usage(
    function: Callable[..., T],
    args: tuple[Any, ...] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    seconds: float,
    cpu_seconds: int | None = None,
    memory_bytes: int | None = None,
) -> tuple[T, Usage]:
    """:func:`call`, and what the call cost (for benchmarks and logs)."""
    if not seconds > 0:
        raise ValueError(f"seconds must be more than 0, got {seconds!r}")
    with _connect() as connection:
        # The deadline counts from when the helper is ready: starting it (once per process,
        # importing what was preloaded) is this process's own cost, not the call's.
        deadline = time.monotonic() + seconds
        request = _Request(function, tuple(args), dict(kwargs or {}), deadline, cpu_seconds, memory_bytes)
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            connection.settimeout(_left(deadline) + GRACE_SECONDS)
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
            answer = bytearray()
            while chunk := connection.recv(1 << 20):
                answer += chunk
                connection.settimeout(_left(deadline) + GRACE_SECONDS)
            outcome = pickle.loads(answer)
        except (EOFError, pickle.UnpicklingError, OSError):
            # The child is gone without answering: killed by its timer, or over a limit.
            if time.monotonic() >= deadline - 0.05:
                raise DeadlineExceeded(f"no answer within {seconds:g} s") from None
            limits = [f"{cpu_seconds} s of processor time"] if cpu_seconds is not None else []
            limits += [f"{memory_bytes // 2**20:,} MB of memory"] if memory_bytes is not None else []
            if not limits:
                raise LimitExceeded("stopped: the child process ended without answering") from None
            raise LimitExceeded(f"stopped: it needed more than {' or '.join(limits)}") from None
    status, value, usage = outcome
    if status == "memory":
        raise MemoryLimitExceeded(f"it needs more than {(memory_bytes or 0) // 2**20:,} MB of memory")
    if status == "error":
        raise value
    return value, usage


def seconds_left(until: float | None, cap: float) -> float:
    """Seconds a call may take: ``cap``, or less when a :func:`time.monotonic` instant ``until``
    comes sooner. For a call that is one of several within a budget: 0 (do not start it) when
    less than a second is left, which no call to another server is worth starting with."""
    if until is None:
        return cap
    left = min(cap, until - time.monotonic())
    return left if left >= min(cap, 1.0) else 0.0


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)


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
                [sys.executable, "-m", __name__, *sorted(_PRELOAD)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                # The helper imports the functions from where this process found them.
                env={**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
            )
            address = process.stdout.readline().strip()
            if not address:
                process.kill()
                process.wait()
                raise OSError(f"the sandbox helper process did not start (exit status {process.returncode})")
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


def _serve(modules: list[str]) -> None:
    """Import ``modules``, then fork a child for each call on a Unix socket, until standard input closes."""
    for module in modules:
        importlib.import_module(module)
    folder = tempfile.mkdtemp(prefix="slotwise-sandbox-")
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
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # even if the asking process ignored it
        # The asker's pickle is small and already sent; a child that cannot read it within
        # a few seconds is stuck and is ended by this first timer.
        signal.setitimer(signal.ITIMER_REAL, 10)
        with connection.makefile("rb") as incoming:
            try:
                request: _Request = pickle.load(incoming)
            except Exception as error:  # noqa: BLE001 - e.g. a function that cannot be imported by its name
                connection.sendall(pickle.dumps(("error", RuntimeError(f"the child cannot read the call: {error}"), None)))
                raise
        left = request.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed before the child started")
        # SIGALRM's default action ends the process, wherever it is (a read of a dripping
        # socket, a DNS lookup, a C extension): this is the total deadline.
        signal.setitimer(signal.ITIMER_REAL, left)
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        if request.memory_bytes is not None:
            with open("/proc/self/statm") as statm:
                address_space = int(statm.read().split()[0]) * resource.getpagesize()
            resource.setrlimit(resource.RLIMIT_AS, (address_space + request.memory_bytes, resource.RLIM_INFINITY))
        if request.cpu_seconds is not None:
            cpu_used = int(usage_before.ru_utime + usage_before.ru_stime)
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_used + request.cpu_seconds, resource.RLIM_INFINITY))
        try:
            outcome: tuple = ("ok", request.function(*request.args, **request.kwargs))
        except MemoryError:
            outcome = ("memory", None)
        except Exception as error:  # noqa: BLE001 - the asker gets it and raises it there
            outcome = ("error", error)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cost = Usage(
            cpu_seconds=usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime,
            peak_rss_bytes=peak_rss_bytes(),
        )
        try:
            answer = pickle.dumps((*outcome, cost), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - an exception that does not pickle still says what it was
            answer = pickle.dumps(
                ("error", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]} ({error})"), cost),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        connection.sendall(answer)
    except BaseException:  # noqa: BLE001 - the child must exit whatever happened; the asker sees EOF
        status = 1
    finally:
        connection.close()
        os._exit(status)


if __name__ == "__main__":
    # Run the module's own copy by its name, so that what is pickled names its real module.
    from booking_service.core.sandbox import _serve as serve

    serve(sys.argv[1:])
