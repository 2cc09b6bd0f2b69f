"""A webhook receiver on loopback for tests: verifies each delivery and folds repeats by webhook-id."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class Receiver:
    """Runs an HTTP server on 127.0.0.1; ``processed`` holds each verified event once, by webhook-id.

    ``status`` is what it answers; ``hold`` (seconds) keeps a request open before answering;
    ``trickle`` sends the answer's headers one byte at a time, that many seconds apart.
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.status = 200
        self.hold = 0.0
        self.trickle = 0.0
        self.requests: list[dict] = []
        self.processed: dict[str, dict] = {}
        self.bad: list[str] = []
        self.arrived = threading.Event()
        self.open = 0
        self.quiet = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                with receiver.quiet:
                    receiver.open += 1
                try:
                    self._answer()
                finally:
                    with receiver.quiet:
                        receiver.open -= 1
                        receiver.quiet.notify_all()

            def _answer(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({"headers": headers, "body": body})
                receiver.arrived.set()
                try:
                    payload = Webhook(receiver.secret).verify(body, headers) if receiver.secret else None
                except Exception as exc:  # noqa: BLE001 - a receiver refuses whatever fails to verify
                    receiver.bad.append(str(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                if receiver.hold:
                    time.sleep(receiver.hold)
                if receiver.trickle:
                    for byte in b"HTTP/1.1 200 OK\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(receiver.trickle)
                    return
                if receiver.status < 300 and payload is not None:
                    receiver.processed.setdefault(headers["webhook-id"], payload)
                self.send_response(receiver.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def settled(self, timeout: float) -> bool:
        """Wait until no request is being answered (a held one included); False on timeout."""
        with self.quiet:
            return self.quiet.wait_for(lambda: self.open == 0, timeout)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
