"""One SMTP conversation: connect (TLS or STARTTLS as asked), sign in, send one message.

:class:`booking_service.delivery.mail.SmtpSender` runs :func:`send` in a child process of its
own (:mod:`booking_service.core.sandbox`) that is stopped at the message's deadline. So this
module imports only the standard library: each child imports it, and nothing of the database.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

__all__ = ["send"]


def send(
    host: str,
    port: int,
    scheme: str,
    username: str | None,
    password: str | None,
    timeout: float,
    to_addr: str,
    email: EmailMessage,
) -> None:
    """Send ``email`` to ``to_addr`` through ``host:port``.

    Parameters
    ----------
    scheme : str
        ``smtp`` (plain), ``smtp+starttls`` or ``smtps`` (TLS from the start).
    username, password : str or None
        Sign in first when a user name is given.
    timeout : float
        Seconds allowed for connecting and for each read.

    Raises
    ------
    OSError, smtplib.SMTPException
        Any network or SMTP error.
    """
    if scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if username:
            client.login(username, password or "")
        client.send_message(email, to_addrs=[to_addr])
