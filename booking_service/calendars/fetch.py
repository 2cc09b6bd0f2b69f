"""Download an iCalendar subscription (``http(s)://`` or ``webcal://``) safely.

A subscription URL points at someone else's server: it may be slow, huge, or answer with a
sign-in page. :func:`fetch_ics` bounds the size (``max_bytes``), each wait (``timeout``) and the
whole download (``deadline``: the download runs in a child process that is killed at that
instant, so a server that sends one byte every few seconds is cut off too), and turns every
failure into a :class:`FetchError` that says what went wrong in words a scheduler can act on.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

from ..core import sandbox

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_MAX_BYTES", "DEFAULT_TIMEOUT", "FetchError", "fetch_ics", "normalise_ics_url"]

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the server to connect and for each read."""

DEFAULT_DEADLINE = 60.0
"""Seconds the whole download may take (``CALENDAR_DEADLINE_SECONDS``)."""

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Largest calendar accepted (10 MiB: years of a busy person's calendar)."""

_USER_AGENT = "Slotwise calendar sync"


class FetchError(OSError):
    """A calendar could not be downloaded; the message says why."""


def normalise_ics_url(url: str) -> str:
    """Check a subscription URL and return it in ``http(s)`` form.

    ``webcal://`` (what Apple and Google show for subscriptions) becomes ``https://``.

    Raises
    ------
    ValueError
        If the URL is not ``http``, ``https`` or ``webcal``, or has no host.
    """
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        parts = parts._replace(scheme="https")
    elif scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http(s) or webcal URL; paste the calendar's subscription link")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    return urllib.parse.urlunsplit(parts)


def fetch_ics(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float = DEFAULT_DEADLINE,
) -> bytes:
    """Download a calendar, in a child process that is stopped at ``deadline``.

    Parameters
    ----------
    url : str
        ``http``, ``https`` or ``webcal`` URL.
    timeout : float
        Seconds allowed for connecting and for each read.
    max_bytes : int
        Larger bodies are refused rather than read.
    deadline : float
        Seconds the whole download may take, however the server paces its answer.

    Returns
    -------
    bytes
        The response body.

    Raises
    ------
    FetchError
        On a network error, a timeout, the deadline, an HTTP error status or an oversized body.
    ValueError
        If the URL is not an ``http(s)``/``webcal`` URL.
    """
    url = normalise_ics_url(url)
    try:
        return sandbox.call(_download, (url, min(timeout, deadline), max_bytes), seconds=deadline)
    except sandbox.DeadlineExceeded:
        raise FetchError(
            f"{_without_credentials(url)} did not send the whole calendar within {deadline:g} s; "
            "the server is too slow (try again later, or raise CALENDAR_DEADLINE_SECONDS)"
        ) from None
    except sandbox.SandboxError as error:
        raise FetchError(f"downloading {_without_credentials(url)} was stopped: {error}") from None


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    """:func:`fetch_ics`'s work, in the child process."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept": "text/calendar, */*"})
    shown = _without_credentials(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{shown} is {int(declared):,} bytes; the limit is {max_bytes:,} bytes")
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"{shown} answered HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"cannot reach {shown}: {error.reason}") from None
    except TimeoutError:
        raise FetchError(f"{shown} did not answer within {timeout:g} s") from None
    except OSError as error:
        if isinstance(error, FetchError):
            raise
        raise FetchError(f"cannot download {shown}: {error}") from None
    if len(body) > max_bytes:
        raise FetchError(f"{shown} is larger than the limit of {max_bytes:,} bytes")
    return body


def _without_credentials(url: str) -> str:
    """The URL as it may be shown in the dashboard: no user name or password in it."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))
