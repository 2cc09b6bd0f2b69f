"""Add, change and remove the calendar connections of team members and rooms.

A connection is where a resource's busy time comes from: an uploaded ``.ics`` file, an
``http(s)``/``webcal`` subscription, or a CalDAV calendar (which can also receive the
meetings Slotwise books). These service functions check their input where it enters, are
for admins only (``by``), write an audit entry, and leave the transaction to the caller;
they do no network I/O (the first sync does).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..core.clock import utcnow
from ..core.crypto import decrypt_secret, encrypt_secret
from ..services import audit
from ..services.permissions import require_admin
from ..store.models import CalendarConnection, Resource, User
from . import sandbox
from .caldav_client import CalDAVAccount
from .fetch import normalise_ics_url
from .ics import decode_calendar

__all__ = [
    "add_caldav_connection",
    "add_ics_file_connection",
    "add_ics_url_connection",
    "caldav_account",
    "remove_connection",
    "replace_ics_file",
    "set_caldav_password",
    "sync_window",
]

DEFAULT_MAX_MB = 10
"""Largest ``.ics`` upload accepted, in MB (``CALENDAR_MAX_MB`` sets it; 1 MB = 1,048,576 bytes)."""

PAST_MARGIN = dt.timedelta(days=1)
"""How far back a sync reads: meetings are booked from now on, a day covers every zone."""


def sync_window(now: dt.datetime, days: int) -> tuple[dt.datetime, dt.datetime]:
    """The window a connection's sync reads: ``[now - 1 day, now + days)``.

    Raises
    ------
    ValueError
        If ``now`` is naive or ``days`` is not positive.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be tz-aware, got {now!r}")
    if days < 1:
        raise ValueError(f"sync_days must be at least 1, got {days}")
    now = now.astimezone(dt.UTC)
    return now - PAST_MARGIN, now + dt.timedelta(days=days)


def _resource(session: Session, resource_id: int) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise ValueError(f"there is no team member or room with id {resource_id}")
    return resource


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("a calendar connection needs a name, e.g. 'Work calendar'")
    if len(name) > 200:
        raise ValueError(f"the name {name[:30]!r}... is longer than 200 characters")
    return name


def _ics_text(data: bytes | str, zone: str, sync_days: int, max_mb: int) -> str:
    """The text to store for an upload, once the first sync's read of it has succeeded."""
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > max_mb * 1024 * 1024:
        raise ValueError(
            f"the file is {size / 1024 / 1024:.1f} MB; calendar files up to {max_mb} MB can be uploaded "
            "(CALENDAR_MAX_MB): export a shorter date range, or subscribe to the calendar's link instead"
        )
    text = decode_calendar(data)
    window_start, window_end = sync_window(utcnow(), sync_days)
    sandbox.read([text], zone=zone, window_start=window_start, window_end=window_end)
    return text


def add_ics_url_connection(
    session: Session, resource_id: int, name: str, url: str, *, by: User | None
) -> CalendarConnection:
    """Subscribe a resource to an iCalendar URL.

    Parameters
    ----------
    url : str
        ``http``, ``https`` or ``webcal`` URL (``webcal`` is stored as ``https``).

    Raises
    ------
    ValueError
        For an unknown resource, an empty name or a URL that is not http(s)/webcal.
    PermissionDenied
        Unless ``by`` is an admin.
    """
    require_admin(by, "connect calendars")
    resource = _resource(session, resource_id)
    connection = CalendarConnection(
        resource=resource, kind="ics_url", name=_name(name), url=normalise_ics_url(url)
    )
    return _added(session, connection, by)


def add_ics_file_connection(
    session: Session,
    resource_id: int,
    name: str,
    data: bytes | str,
    *,
    by: User | None,
    max_mb: int = DEFAULT_MAX_MB,
) -> CalendarConnection:
    """Store an uploaded ``.ics`` file as a resource's calendar, once it has been read.

    Parameters
    ----------
    data : bytes or str
        The file as uploaded (any encoding :func:`.ics.decode_calendar` reads).
    max_mb : int
        Largest file accepted, in MB (``Settings.calendar_max_mb``).

    Raises
    ------
    CalendarParseError
        If the first sync could not read the file: not iCalendar data (the message says what it
        is), or an event it cannot read (with line and property).
    ValueError
        For an unknown resource, an empty name or a file over ``max_mb``.
    PermissionDenied
        Unless ``by`` is an admin.
    """
    require_admin(by, "connect calendars")
    resource = _resource(session, resource_id)
    name = _name(name)
    sync_days = CalendarConnection.sync_days.default.arg
    text = _ics_text(data, resource.zone, sync_days, max_mb)
    connection = CalendarConnection(
        resource=resource, kind="ics_file", name=name, ics_data=text, sync_days=sync_days
    )
    return _added(session, connection, by)


def replace_ics_file(
    session: Session,
    connection: CalendarConnection,
    data: bytes | str,
    *,
    by: User | None,
    max_mb: int = DEFAULT_MAX_MB,
) -> None:
    """Replace the file of an ``ics_file`` connection (the next sync reads it; admins only).

    The new file is read first, as :func:`add_ics_file_connection` reads it; a file that is
    refused leaves the old one in place.
    """
    require_admin(by, "change calendar connections")
    if connection.kind != "ics_file":
        raise ValueError(
            f"connection {connection.id} is a {connection.kind!r} connection, not an uploaded file"
        )
    connection.ics_data = _ics_text(data, connection.resource.zone, connection.sync_days, max_mb)
    audit.record(session, by, "calendar.updated", ("calendar", connection.id), change="new file")


def add_caldav_connection(
    session: Session,
    resource_id: int,
    name: str,
    url: str,
    username: str,
    password: str,
    *,
    secret_key: str,
    write_back: bool = True,
    by: User | None,
) -> CalendarConnection:
    """Connect a resource's CalDAV calendar (admins only).

    Parameters
    ----------
    url : str
        The calendar's URL, or the server's (the user's first calendar is then used).
    username, password : str
        The account; the password is stored encrypted with a key from ``secret_key``.
    secret_key : str
        The installation's ``SECRET_KEY``.
    write_back : bool
        Whether confirmed meetings of this resource are written into this calendar.

    Raises
    ------
    ValueError
        For an unknown resource, an empty name, or a URL that is not http(s).
    PermissionDenied
        Unless ``by`` is an admin.
    """
    require_admin(by, "connect calendars")
    resource = _resource(session, resource_id)
    checked = normalise_ics_url(url)
    if url.strip().lower().startswith("webcal:"):
        raise ValueError(
            f"{url!r} is a subscription link, not a CalDAV URL; add it as a subscription instead"
        )
    connection = CalendarConnection(
        resource=resource,
        kind="caldav",
        name=_name(name),
        url=checked,
        username=(username or "").strip() or None,
        password_encrypted=encrypt_secret(password, secret_key) if password else None,
        write_back=write_back,
    )
    return _added(session, connection, by)


def set_caldav_password(
    session: Session, connection: CalendarConnection, password: str, *, secret_key: str, by: User | None
) -> None:
    """Store a new password for a CalDAV connection, encrypted (admins only)."""
    require_admin(by, "change calendar connections")
    if connection.kind != "caldav":
        raise ValueError(f"connection {connection.id} is a {connection.kind!r} connection, not CalDAV")
    connection.password_encrypted = encrypt_secret(password, secret_key) if password else None
    audit.record(session, by, "calendar.updated", ("calendar", connection.id), change="new password")


def caldav_account(connection: CalendarConnection, secret_key: str) -> CalDAVAccount:
    """The decrypted account of a CalDAV connection.

    Raises
    ------
    SecretDecryptionError
        If the password was stored under another ``SECRET_KEY``.
    """
    if connection.kind != "caldav":
        raise ValueError(f"connection {connection.id} is a {connection.kind!r} connection, not CalDAV")
    password = (
        decrypt_secret(connection.password_encrypted, secret_key) if connection.password_encrypted else None
    )
    return CalDAVAccount(
        url=connection.url or "",
        username=connection.username,
        password=password,
        calendar_url=connection.calendar_url,
    )


def remove_connection(session: Session, connection: CalendarConnection, *, by: User | None) -> None:
    """Remove a connection with its busy blocks and queued writes to it (admins only)."""
    require_admin(by, "remove calendar connections")
    audit.record(
        session,
        by,
        "calendar.deleted",
        ("calendar", connection.id),
        name=connection.name,
        resource_id=connection.resource_id,
    )
    session.delete(connection)
    session.flush()


def _added(session: Session, connection: CalendarConnection, by: User | None) -> CalendarConnection:
    session.add(connection)
    session.flush()
    audit.record(
        session,
        by,
        "calendar.created",
        ("calendar", connection.id),
        kind=connection.kind,
        name=connection.name,
        resource_id=connection.resource_id,
    )
    return connection
