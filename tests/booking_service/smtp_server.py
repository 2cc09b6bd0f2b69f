"""A real SMTP server on loopback for tests (aiosmtpd), collecting what it receives."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from ..ports import free_port


@dataclass
class Received:
    """Messages the server received, parsed, with their envelope recipients.

    ``refuse`` messages are received in full and then answered with a temporary error, as when
    the server's reply is lost: the sender must try again, and the message arrives twice.
    """

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: int = 0
    arrived: list[float] = field(default_factory=list)
    """When each message came in (``time.monotonic()``)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.arrived.append(time.monotonic())
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Temporary failure, try again later"
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(port: int | None = None, *, refuse: int = 0) -> Iterator[tuple[str, Received]]:
    """Run an SMTP server on 127.0.0.1; yield its ``smtp://`` URL and the received messages.

    ``refuse``: answer the first that many messages with a temporary error after receiving them.
    """
    port = port or free_port()
    received = Received(refuse=refuse)
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", received
    finally:
        controller.stop()
