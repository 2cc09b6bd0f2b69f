"""Calls in a child process: answers and errors come back, limits and the total deadline hold."""

from __future__ import annotations

import operator
import pickle
import sys
import threading
import time
import types

import pytest

from booking_service.core import sandbox

from ..slow_servers import HTTP_DRIP, SLACK, read_until_closed, slow_server


def add(a: int, b: int, *, c: int = 0) -> int:
    return a + b + c


def fail(message: str) -> None:
    raise LookupError(message)


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


# A function of a module that exists only in this process: its name means nothing in the child.
_ONLY_HERE = types.ModuleType("only_here_module")
exec("def greet():\n    return 'hello'", _ONLY_HERE.__dict__)  # noqa: S102 - a module made for the test
sys.modules["only_here_module"] = _ONLY_HERE
_NOT_IN_THE_CHILD = _ONLY_HERE.greet


def spin() -> None:
    while True:
        pass


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def test_the_answer_and_the_arguments_travel():
    assert sandbox.call(add, (1, 2), {"c": 3}, seconds=10) == 6


def test_what_the_function_raises_is_raised_in_the_caller():
    with pytest.raises(LookupError, match="no such thing"):
        sandbox.call(fail, ("no such thing",), seconds=10)


def test_a_call_ends_at_its_deadline_whatever_the_function_does():
    began = time.monotonic()
    with pytest.raises(sandbox.DeadlineExceeded, match="no answer within 1.5 s"):
        sandbox.call(sleep_for, (60,), seconds=1.5)
    assert 1.5 <= time.monotonic() - began < 1.5 + SLACK
    assert sandbox.call(sleep_for, (0.1,), seconds=5) == "woke"


@pytest.mark.timeout(60)
def test_a_server_that_sends_a_byte_a_second_is_cut_off_at_the_deadline():
    with slow_server(HTTP_DRIP, interval=0.5) as server:
        began = time.monotonic()
        with pytest.raises(sandbox.DeadlineExceeded):
            sandbox.call(read_until_closed, (server.port,), seconds=2)
        assert 2 <= time.monotonic() - began < 2 + SLACK
        assert len(server.connections) == 1


def test_processor_and_memory_limits_stop_the_child():
    with pytest.raises(sandbox.LimitExceeded, match="1 s of processor time"):
        sandbox.call(spin, seconds=30, cpu_seconds=1)
    with pytest.raises(sandbox.MemoryLimitExceeded, match="more than 64 MB"):
        sandbox.call(allocate, (256,), seconds=30, memory_bytes=64 * 2**20)
    assert sandbox.call(allocate, (16,), seconds=30, memory_bytes=64 * 2**20) == 16 * 2**20


def test_calls_do_not_wait_for_each_other():
    """A call stuck until its deadline leaves the others free: each has its own child."""
    # Functions of the standard library: a child has them at once, whatever the machine's load.
    stuck = threading.Thread(
        target=lambda: pytest.raises(sandbox.DeadlineExceeded, sandbox.call, time.sleep, (60,), seconds=10)
    )
    stuck.start()
    time.sleep(0.2)
    assert [sandbox.call(operator.add, (i, 1), seconds=5) for i in range(5)] == [1, 2, 3, 4, 5]
    assert stuck.is_alive()  # the five calls came back while the first one was still waiting
    stuck.join(timeout=10 + SLACK)


def test_seconds_left_within_a_budget():
    assert sandbox.seconds_left(None, 30) == 30
    assert sandbox.seconds_left(time.monotonic() + 100, 30) == 30
    assert 9 < sandbox.seconds_left(time.monotonic() + 10, 30) <= 10
    assert sandbox.seconds_left(time.monotonic() + 0.5, 30) == 0  # not worth starting
    assert sandbox.seconds_left(time.monotonic() - 1, 30) == 0


def test_a_function_the_child_cannot_import_is_an_error_that_says_so():
    def local() -> None:  # not importable by its name
        pass

    with pytest.raises((AttributeError, pickle.PicklingError)):
        sandbox.call(local, seconds=10)
    with pytest.raises(RuntimeError, match="the child cannot read the call"):
        sandbox.call(_NOT_IN_THE_CHILD, seconds=10)


def test_a_deadline_must_be_positive():
    with pytest.raises(ValueError, match="seconds must be more than 0"):
        sandbox.call(add, (1, 2), seconds=0)
