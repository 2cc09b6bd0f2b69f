"""Servers on loopback that never finish answering (one sends a byte at a time, one says nothing),
and one that answers at once, for comparison.

A per-read timeout cannot stop a client talking to :class:`DripServer` (every read gets its byte
well within any timeout), which is what a total deadline is for.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

HTTP_DRIP = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: 100000\r\n\r\n"
    + b"BEGIN:VCALENDAR\r\n" + b"X" * 100_000
)
"""An HTTP answer whose status line, headers and body all arrive one byte at a time."""

SLACK = 3.0
"""Seconds a call may end after its deadline in a test: the child's own timer, recording the
outcome, a machine shared with other work. Well under the 10 s per-read timeouts the tests use."""

SMTP_DRIP = b"220-slow.example ESMTP " + b"." * 100_000 + b"\r\n220 ready\r\n"
"""An SMTP greeting that never quite ends."""


def read_until_closed(port: int) -> bytes:
    """Read from a server with a per-read timeout of 10 s until it closes: never, with a drip.

    Here rather than in a test module so that a child process imports it quickly."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while chunk := connection.recv(1024):
            received += chunk
    return received


@dataclass
class SlowServer:
    """What a slow server saw: when each connection came (``time.monotonic()``)."""

    url: str
    port: int
    connections: list[float] = field(default_factory=list)


@contextmanager
def slow_server(payload: bytes, *, interval: float = 1.0, scheme: str = "http") -> Iterator[SlowServer]:
    """Listen on 127.0.0.1; answer every connection with ``payload``, one byte per ``interval``
    seconds (``payload=b""``: never say anything). Yields the server's ``scheme://`` URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    server = SlowServer(url=f"{scheme}://127.0.0.1:{port}", port=port)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def drip(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(0.05)
            for byte in payload:
                if stop.wait(interval):
                    return
                try:
                    connection.recv(65536)  # whatever the client says is ignored
                except TimeoutError:
                    pass
                except OSError:
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up
            stop.wait()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server.connections.append(time.monotonic())
            thread = threading.Thread(target=drip, args=(connection,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for thread in threads:
            thread.join(timeout=5)


@contextmanager
def prompt_server(body: bytes) -> Iterator[SlowServer]:
    """An HTTP server on 127.0.0.1 that answers every GET with ``body`` at once (``text/calendar``)."""
    import http.server

    server = SlowServer(url="", port=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            server.connections.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    server.url = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
