"""Fixtures for the calendar connector tests: a real Radicale CalDAV server on loopback.

The server runs in a subprocess on a free loopback port with a temporary storage folder and
an htpasswd file of plain-text test users; it is stopped in the fixture's teardown. One server
serves the whole test session; each test makes its own user-owned calendar
(:func:`caldav_calendar`) so tests never see each other's events.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ...ports import free_port

RADICALE_USERS = {"alice": "alice-secret", "bob": "bob-secret"}
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class RadicaleServer:
    """A running Radicale server: its base URL and the users it accepts."""

    url: str
    users: dict[str, str]
    storage: Path


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Radicale exited with {process.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401 and friends: the server answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Radicale did not answer on {url} within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def radicale(tmp_path_factory) -> Iterator[RadicaleServer]:
    """A Radicale server on ``127.0.0.1`` with htpasswd users :data:`RADICALE_USERS`."""
    root = tmp_path_factory.mktemp("radicale")
    htpasswd = root / "users"
    htpasswd.write_text("".join(f"{user}:{password}\n" for user, password in RADICALE_USERS.items()))
    config = root / "config"
    # Our own configuration file, so that no system-wide or per-user one is read; no delay
    # after a failed login (the wrong-password test would otherwise wait for it).
    config.write_text("[auth]\ndelay = 0\n")
    port = free_port()
    log = root / "radicale.log"
    command = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        str(config),
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(root / "storage"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        str(htpasswd),
        "--auth-htpasswd-encryption",
        "plain",
        "--rights-type",
        "owner_only",
        "--web-type",
        "none",
        "--logging-level",
        "warning",
    ]
    with log.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(url, process, log)
        yield RadicaleServer(url=url, users=dict(RADICALE_USERS), storage=root / "storage")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class CalDAVCalendar:
    """A calendar collection on the test server, owned by ``username``."""

    server_url: str
    url: str
    username: str
    password: str


@pytest.fixture
def caldav_calendar(radicale: RadicaleServer) -> CalDAVCalendar:
    """A new, empty calendar of user ``alice`` on the Radicale server."""
    import caldav

    username = "alice"
    password = radicale.users[username]
    with caldav.DAVClient(
        url=radicale.url, username=username, password=password, enable_rfc6764=False
    ) as client:
        calendar = client.principal().make_calendar(name=f"test-{uuid.uuid4().hex[:8]}")
        url = str(calendar.url)
    return CalDAVCalendar(server_url=radicale.url, url=url, username=username, password=password)


# --- a loopback web server publishing .ics subscriptions --------------------------------------


class IcsServer:
    """A loopback HTTP server; tests set what each path answers.

    ``routes[path] = (status, body, delay_seconds)``.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.routes: dict[str, tuple[int, bytes, float]] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                status, body, delay = routes.get(self.path, (404, b"not found", 0.0))
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that gave up (timeouts) are expected

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, path: str, body: bytes | str, *, status: int = 200, delay: float = 0.0) -> str:
        """Serve ``body`` at ``path``; returns the full URL."""
        self.routes[path] = (status, body.encode() if isinstance(body, str) else body, delay)
        return self.url + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def ics_server() -> Iterator[IcsServer]:
    """A loopback web server for subscription tests, stopped after the test."""
    server = IcsServer()
    yield server
    server.close()
