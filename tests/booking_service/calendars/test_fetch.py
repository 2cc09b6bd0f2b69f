"""Downloading subscriptions from a loopback HTTP server: success, errors, limits."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from booking_service.calendars.fetch import FetchError, fetch_ics, normalise_ics_url

BODY = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/cal.ics":
            self._send(200, BODY)
        elif self.path == "/big.ics":
            self._send(200, b"X" * 5000)
        elif self.path == "/big-unannounced.ics":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body is read until the limit
            self.wfile.write(b"X" * 5000)
        elif self.path == "/slow.ics":
            time.sleep(1.5)
            self._send(200, BODY)
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client hung up on purpose (size limit, timeout)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_downloads_the_body(server):
    assert fetch_ics(f"{server}/cal.ics") == BODY


@pytest.mark.parametrize(
    ("path", "kwargs", "message"),
    [
        ("/missing.ics", {}, "answered HTTP 404"),
        ("/big.ics", {"max_bytes": 1000}, "5,000 bytes; the limit is 1,000 bytes"),
        ("/big-unannounced.ics", {"max_bytes": 1000}, "larger than the limit of 1,000 bytes"),
        ("/slow.ics", {"timeout": 0.3}, "did not answer within 0.3 s|timed out"),
    ],
)
def test_failures_say_what_went_wrong(server, path, kwargs, message):
    with pytest.raises(FetchError, match=message):
        fetch_ics(f"{server}{path}", **kwargs)


def test_unreachable_host_is_reported():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=f"cannot reach http://127.0.0.1:{port}/x.ics"):
        fetch_ics(f"http://127.0.0.1:{port}/x.ics", timeout=2)


def test_credentials_in_the_url_are_not_repeated_in_errors(server):
    url = server.replace("http://", "http://user:pw@") + "/missing.ics"
    with pytest.raises(FetchError) as caught:
        fetch_ics(url)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("webcal://example.com/a.ics", "https://example.com/a.ics"),
        ("  https://example.com/a.ics ", "https://example.com/a.ics"),
        ("http://example.com/a.ics", "http://example.com/a.ics"),
    ],
)
def test_normalise_accepts_http_https_and_webcal(url, expected):
    assert normalise_ics_url(url) == expected


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.ics", "file:///etc/passwd", "example.com/a.ics", "https://"]
)
def test_normalise_refuses_other_urls(url):
    with pytest.raises(ValueError, match="URL|host"):
        normalise_ics_url(url)


@pytest.mark.timeout(60)
def test_a_server_that_sends_one_byte_a_second_is_cut_off_at_the_deadline():
    """Every read gets its byte well within the 10 s timeout; only the total deadline ends it."""
    from ..slow_servers import HTTP_DRIP, SLACK, slow_server

    with slow_server(HTTP_DRIP, interval=1.0) as server:
        began = time.monotonic()
        with pytest.raises(FetchError, match=r"did not send the whole calendar within 3 s; .*CALENDAR_DEADLINE_SECONDS"):
            fetch_ics(server.url + "/cal.ics", timeout=10, deadline=3)
        assert 3 <= time.monotonic() - began < 3 + SLACK
