"""Talk to a CalDAV server: read a calendar over a time range, write and remove meetings.

A thin layer over the ``caldav`` library. It knows nothing of the database: it takes a
:class:`CalDAVAccount` (URL, user, decrypted password) and returns iCalendar text or raises
:class:`CalDAVError` with a message a scheduler can act on. Reading busy time from that text is
:mod:`booking_service.calendars.ics`'s job, so CalDAV and ``.ics`` calendars follow the very
same rules.

Every request runs in a child process (:mod:`booking_service.core.sandbox`) that is stopped at a
total ``deadline``, so a server that answers one byte at a time cannot hold up its caller for
longer than that.

The account URL may be the calendar collection itself or any URL of the server (its root or the
user's principal); in the second case the user's first calendar is used, and its URL is
returned so that the caller can remember it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import caldav
from caldav.lib import error as caldav_error

from ..core import sandbox

__all__ = ["CalDAVAccount", "CalDAVError", "delete_event", "put_event", "read_calendar"]

DEFAULT_TIMEOUT = 15
"""Seconds allowed for each read from the CalDAV server."""

DEFAULT_DEADLINE = 60.0
"""Seconds a whole read, write or removal may take (``CALENDAR_DEADLINE_SECONDS``)."""

# Children start with the CalDAV library imported, also what it imports only when a client is
# first made (its HTTP library: a second or two that would otherwise come out of every deadline).
sandbox.preload(__name__, "caldav.davclient", "caldav.collection")


class CalDAVError(OSError):
    """The CalDAV server could not be used; the message says why."""


@dataclass(frozen=True)
class CalDAVAccount:
    """Where and as whom to reach a CalDAV calendar.

    Attributes
    ----------
    url : str
        The calendar's URL, or the server's (root or principal URL).
    username, password : str or None
        HTTP credentials (the password already decrypted).
    calendar_url : str or None
        The calendar collection found earlier, when known; used before ``url``.
    """

    url: str
    username: str | None = None
    password: str | None = None
    calendar_url: str | None = None

    def __repr__(self) -> str:  # never print the password
        return (
            f"CalDAVAccount(url={self.url!r}, username={self.username!r}, calendar_url={self.calendar_url!r})"
        )


@dataclass(frozen=True)
class CalendarData:
    """What a time-range read returned.

    Attributes
    ----------
    calendar_url : str
        URL of the calendar collection that was read.
    objects : list of str
        iCalendar text of each calendar object (one ``VCALENDAR`` each) that has an event
        in the range, with all its recurrence overrides.
    """

    calendar_url: str
    objects: list[str]


def _client(account: CalDAVAccount, timeout: float) -> caldav.DAVClient:
    return caldav.DAVClient(
        url=account.calendar_url or account.url,
        username=account.username,
        password=account.password,
        timeout=timeout,
        enable_rfc6764=False,  # the URL is given; no DNS discovery
    )


def _describe(account: CalDAVAccount, exc: BaseException) -> str:
    where = account.calendar_url or account.url
    if isinstance(exc, caldav_error.AuthorizationError):
        return f"{where} refused the user name or password ({account.username!r}); check them"
    if isinstance(exc, caldav_error.NotFoundError):
        return f"{where} has no such calendar or event (HTTP 404); check the URL"
    if isinstance(exc, caldav_error.DAVError):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{where} answered with an error: {reason}"
    return f"cannot reach {where}: {exc}"


_ERRORS = (caldav_error.DAVError, OSError)


def _calendar(client: caldav.DAVClient, account: CalDAVAccount) -> caldav.Calendar:
    """The account's calendar collection: the given one, or the user's first calendar."""
    if account.calendar_url:
        return client.calendar(url=account.calendar_url)
    calendars = client.principal().calendars()
    wanted = account.url.rstrip("/")
    for calendar in calendars:
        if str(calendar.url).rstrip("/") == wanted:
            return calendar
    if not calendars:
        raise CalDAVError(f"the account {account.username!r} at {account.url} has no calendar")
    return calendars[0]


@contextmanager
def _open_calendar(account: CalDAVAccount, timeout: float) -> Iterator[caldav.Calendar]:
    """The account's calendar, with network, authentication and server errors as CalDAVError."""
    try:
        with _client(account, timeout) as client:
            yield _calendar(client, account)
    except CalDAVError:
        raise
    except _ERRORS as exc:
        raise CalDAVError(_describe(account, exc)) from exc


def _in_child(function, account: CalDAVAccount, args: tuple, timeout: float, deadline: float):
    """``function(account, *args, timeout)`` in a child process stopped at ``deadline``."""
    try:
        return sandbox.call(function, (account, *args, min(timeout, deadline)), seconds=deadline)
    except sandbox.DeadlineExceeded:
        raise CalDAVError(
            f"{account.calendar_url or account.url} did not finish answering within {deadline:g} s; the server is "
            "too slow (try again later, or raise CALENDAR_DEADLINE_SECONDS)"
        ) from None
    except sandbox.SandboxError as error:
        raise CalDAVError(f"talking to {account.calendar_url or account.url} was stopped: {error}") from None


def read_calendar(
    account: CalDAVAccount,
    start: dt.datetime,
    end: dt.datetime,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
) -> CalendarData:
    """Read the events that overlap ``[start, end)`` (a CalDAV ``time-range`` report).

    Recurring events come back unexpanded, as stored (series with their overrides); the
    caller expands them.

    Raises
    ------
    CalDAVError
        On network, authentication or server errors, or when ``deadline`` seconds have passed.
    """
    return _in_child(_read, account, (start, end), timeout, deadline)


def _read(account: CalDAVAccount, start: dt.datetime, end: dt.datetime, timeout: float) -> CalendarData:
    with _open_calendar(account, timeout) as calendar:
        # post_filter=False: let the server pick the objects and leave every rule about
        # what is busy to the iCalendar reader.
        found = calendar.search(event=True, start=start, end=end, expand=False, post_filter=False)
        return CalendarData(calendar_url=str(calendar.url), objects=[str(obj.data) for obj in found])


def put_event(
    account: CalDAVAccount, ics: str, *, timeout: float = DEFAULT_TIMEOUT, deadline: float = DEFAULT_DEADLINE
) -> str:
    """Create or replace the event of ``ics`` (one ``VCALENDAR`` with one ``VEVENT``).

    The object is stored under its UID, so writing the same meeting twice replaces it.

    Returns
    -------
    str
        URL of the calendar collection written to.

    Raises
    ------
    CalDAVError
        On network, authentication or server errors, or when ``deadline`` seconds have passed.
    """
    return _in_child(_put, account, (ics,), timeout, deadline)


def _put(account: CalDAVAccount, ics: str, timeout: float) -> str:
    with _open_calendar(account, timeout) as calendar:
        calendar.save_event(ical=ics, increase_seqno=False)
        return str(calendar.url)


def delete_event(
    account: CalDAVAccount, uid: str, *, timeout: float = DEFAULT_TIMEOUT, deadline: float = DEFAULT_DEADLINE
) -> bool:
    """Remove the event with ``uid``.

    Returns
    -------
    bool
        ``True`` if an event was removed, ``False`` if there was none (already gone is fine).

    Raises
    ------
    CalDAVError
        On network, authentication or server errors, or when ``deadline`` seconds have passed.
    """
    return _in_child(_delete, account, (uid,), timeout, deadline)


def _delete(account: CalDAVAccount, uid: str, timeout: float) -> bool:
    with _open_calendar(account, timeout) as calendar:
        try:
            event = calendar.get_event_by_uid(uid)
        except caldav_error.NotFoundError:
            return False
        event.delete()
        return True
