"""Add, change and remove the calendar connections of team members and rooms.

A connection is where a resource's busy time comes from: an uploaded ``.ics`` file, an
``http(s)``/``webcal`` subscription, or a CalDAV calendar (which can also receive the
meetings Slotwise books). These service functions check their input where it enters, are
for admins only (``by``), write an audit entry, and leave the transaction to the caller;
they do no network I/O (the first sync does).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..core.crypto import decrypt_secret, encrypt_secret
from ..services import audit
from ..services.permissions import require_admin
from ..store.models import CalendarConnection, Resource, User
from .caldav_client import CalDAVAccount
from .fetch import normalise_ics_url
from .ics import parse_calendar

__all__ = [
    "add_caldav_connection",
    "add_ics_file_connection",
    "add_ics_url_connection",
    "caldav_account",
    "remove_connection",
    "replace_ics_file",
    "set_caldav_password",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
"""Largest ``.ics`` upload accepted."""


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


def _ics_text(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"the file is {len(raw):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")
    text = raw.decode("utf-8-sig", errors="replace")
    parse_calendar(text)  # refuse a file that is not a calendar now, not at the next sync
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
    session: Session, resource_id: int, name: str, data: bytes | str, *, by: User | None
) -> CalendarConnection:
    """Store an uploaded ``.ics`` file as a resource's calendar.

    Raises
    ------
    CalendarParseError
        If the file is not iCalendar data (with line and property where known).
    ValueError
        For an unknown resource, an empty name or a file over :data:`MAX_FILE_BYTES`.
    PermissionDenied
        Unless ``by`` is an admin.
    """
    require_admin(by, "connect calendars")
    resource = _resource(session, resource_id)
    connection = CalendarConnection(
        resource=resource, kind="ics_file", name=_name(name), ics_data=_ics_text(data)
    )
    return _added(session, connection, by)


def replace_ics_file(
    session: Session, connection: CalendarConnection, data: bytes | str, *, by: User | None
) -> None:
    """Replace the file of an ``ics_file`` connection (the next sync reads it; admins only)."""
    require_admin(by, "change calendar connections")
    if connection.kind != "ics_file":
        raise ValueError(
            f"connection {connection.id} is a {connection.kind!r} connection, not an uploaded file"
        )
    connection.ics_data = _ics_text(data)
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
