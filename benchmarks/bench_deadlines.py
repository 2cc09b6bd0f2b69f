"""Benchmark of what a total deadline costs: sending mail in a child process against sending it in process.

Run: ``python benchmarks/bench_deadlines.py`` (under a minute). ``--messages N`` changes the
count (default 200).

Every SMTP conversation now runs in a child of :mod:`booking_service.core.sandbox`, stopped at
its deadline. Measured against a real SMTP server on loopback (aiosmtpd, in this process), the
same messages each way:

* ``in process``: :func:`booking_service.delivery.smtp.send` called directly, as the sender
  did before (a per-read timeout only);
* ``child, deadline``: the same function through :func:`booking_service.core.sandbox.call_with_usage`,
  as :class:`booking_service.delivery.mail.SmtpSender` runs it.

Before any time is printed, both runs must have delivered the same messages (subjects and
recipients). Wall and CPU times are per message; "CPU" is this process's CPU time, and for the
child run also the children's own (reported by each child). Also printed: the round trip of an
empty call (the fixed cost of a child). The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "booking_service"))


def _message(i: int) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = f"Message {i}"
    email["From"] = "Slotwise <no-reply@slotwise.test>"
    email["To"] = f"person{i}@example.com"
    email.set_content("Hello\n" * 40)
    email.add_alternative("<p>Hello</p>" * 40, subtype="html")
    return email


def main() -> None:
    from smtp_server import smtp_server

    from booking_service.core import sandbox
    from booking_service.delivery import smtp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    n = parser.parse_args().messages
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    sandbox.preload(smtp.__name__)
    sandbox.call(sandbox.peak_rss_bytes, seconds=30)  # start the helper outside the timings

    results = {}
    for name in ("in process", "child, deadline"):
        with smtp_server() as (url, received):
            port = int(url.rsplit(":", 1)[1])
            child_cpu = 0.0
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(n):
                args = ("127.0.0.1", port, "smtp", None, None, 10.0, f"person{i}@example.com", _message(i))
                if name == "in process":
                    smtp.send(*args)
                else:
                    _, usage = sandbox.call_with_usage(smtp.send, args, seconds=30)
                    child_cpu += usage.cpu_seconds
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            delivered = sorted((m["Subject"], tuple(r)) for m, r in zip(received.messages, received.recipients, strict=True))
        results[name] = (wall, cpu, child_cpu, delivered)

    expected = sorted((f"Message {i}", (f"person{i}@example.com",)) for i in range(n))
    assert results["in process"][3] == expected, "the in-process run did not deliver every message"
    assert results["child, deadline"][3] == expected, "the child run did not deliver the same messages"

    empty = []
    for _ in range(50):
        began = time.perf_counter()
        sandbox.call(sandbox.peak_rss_bytes, seconds=30)
        empty.append(time.perf_counter() - began)

    print(f"{n} messages to aiosmtpd on loopback; same messages delivered both ways: yes")
    print("| run | wall ms / message | CPU ms / message (this process) | CPU ms / message (children) |")
    print("| --- | ---: | ---: | ---: |")
    for name, (wall, cpu, child_cpu, _) in results.items():
        children = f"{child_cpu / n * 1000:.1f}" if name != "in process" else "-"
        print(f"| {name} | {wall / n * 1000:.1f} | {cpu / n * 1000:.1f} | {children} |")
    base, new = results["in process"][0], results["child, deadline"][0]
    print(f"wall time ratio child / in process: {new / base:.2f}")
    print(f"a call of nothing (peak_rss_bytes) through a child: median {statistics.median(empty) * 1000:.1f} ms, max {max(empty) * 1000:.1f} ms")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
