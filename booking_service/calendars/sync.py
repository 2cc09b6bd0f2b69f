"""Sync calendar connections into busy blocks.

A sync reads one connection's calendar over its sync window (from a day ago to
``sync_days`` ahead) and replaces that connection's busy blocks **in one transaction**. The
network and parsing happen before the transaction starts, so a slow calendar never holds the
database's write lock. Parsing happens in a process of its own (:mod:`.sandbox`), with limits
on memory and time: no calendar waits for another's parse, and a huge or hostile file cannot
exhaust the process that asked. If the calendar cannot be read (unreachable, refused, malformed), the
previous busy blocks stay as they were and the error is recorded on the connection
(``last_status = "error"``, ``last_error`` says what is wrong, with line and property for a
malformed file), where the dashboard shows it.

Talking to the calendar's server (an ``.ics`` download, a CalDAV read) has a total deadline
(``CALENDAR_DEADLINE_SECONDS``; it runs in a child process that is stopped then), so a server
that sends one byte every few seconds costs at most that long, and the sync records it as an
error like any other.

``last_synced_at`` is the time of the last attempt, successful or not, so that a failing
calendar is retried at the same pace as a working one.

Two entry points:

- :func:`sync_connection` / :func:`sync_connections`: the ``slotwise sync-calendars`` command;
- :func:`refresh_stale_calendars`: called when a customer opens a booking link; it re-syncs
  the calendars of the invitation's resources that are older than a maximum age, waiting at
  most a time budget (the syncs that take longer finish in the background and commit on
  their own).

Events that are Slotwise's own meetings (written back to the calendar, or subscribed to
through the private feed) are left out: their reservations already make the resource busy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from sqlalchemy import Engine, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from ..core import sandbox as child
from ..core.config import Settings
from ..core.crypto import SecretDecryptionError
from ..store.db import session_scope
from ..store.models import (
    BusyBlock,
    CalendarConnection,
    CalendarWrite,
    Invitation,
    Meeting,
    Reservation,
    utcnow,
)
from . import sandbox
from .caldav_client import DEFAULT_DEADLINE, CalDAVError, read_calendar
from .connections import caldav_account, sync_window
from .fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, FetchError, fetch_ics
from .ics import CalendarParseError, CalendarReading

__all__ = [
    "RefreshOutcome",
    "SyncResult",
    "invitation_resource_ids",
    "refresh_invitation_calendars",
    "refresh_stale_calendars",
    "sync_connection",
    "sync_connections",
    "sync_window",
]

# Errors that mean "this calendar cannot be read now"; anything else is a bug and propagates.
_READ_ERRORS = (CalendarParseError, FetchError, CalDAVError, SecretDecryptionError)


@dataclass(frozen=True)
class SyncResult:
    """Outcome of syncing one connection.

    Attributes
    ----------
    connection_id : int
    status : str
        ``"ok"`` (busy blocks replaced), ``"error"`` (previous blocks kept, ``error`` says why)
        or ``"skipped"`` (demo connections, or one removed meanwhile).
    blocks : int
        Number of busy blocks stored (``ok`` only).
    error : str or None
    events : int
        Events the calendar holds (``ok`` only; for CalDAV, those in the window).
    seconds : float
        Wall time of the sync (download, parse, store).
    """

    connection_id: int
    status: str
    blocks: int = 0
    error: str | None = None
    events: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the busy blocks were replaced."""
        return self.status == "ok"


@dataclass(frozen=True)
class _Source:
    """What a sync needs to know about a connection, read before any network I/O."""

    id: int
    kind: str
    resource_id: int
    zone: str
    url: str | None
    ics_data: str | None
    sync_days: int
    connection: CalendarConnection  # detached copy, for caldav_account()
    ignore_uids: frozenset[str]


def _own_meeting_uids(
    session: Session, connection: CalendarConnection, lo: dt.datetime, hi: dt.datetime
) -> frozenset[str]:
    """UIDs of Slotwise meetings this resource holds, or that were written to this calendar."""
    reserved = (
        select(Meeting.uid)
        .join(Reservation, Reservation.meeting_id == Meeting.id)
        .where(Reservation.resource_id == connection.resource_id, Meeting.end > lo, Meeting.start < hi)
    )
    written = (
        select(Meeting.uid)
        .join(CalendarWrite, CalendarWrite.meeting_id == Meeting.id)
        .where(CalendarWrite.connection_id == connection.id, Meeting.end > lo, Meeting.start < hi)
    )
    return frozenset(session.scalars(reserved.union(written)))


def _load_source(engine: Engine, connection_id: int, now: dt.datetime) -> _Source | None:
    with Session(engine, expire_on_commit=False) as session:
        connection = session.get(CalendarConnection, connection_id)
        if connection is None:
            return None
        lo, hi = sync_window(now, connection.sync_days)
        source = _Source(
            id=connection.id,
            kind=connection.kind,
            resource_id=connection.resource_id,
            zone=connection.resource.zone,
            url=connection.url,
            ics_data=connection.ics_data,
            sync_days=connection.sync_days,
            connection=connection,
            ignore_uids=_own_meeting_uids(session, connection, lo, hi),
        )
        session.expunge(connection)
        return source


def _read(
    source: _Source, now: dt.datetime, *, secret_key: str, timeout: float, max_bytes: int, deadline: float
) -> tuple[CalendarReading, str | None]:
    """What a connection's calendar holds over its window (network and parsing; no database)."""
    lo, hi = sync_window(now, source.sync_days)

    def parse(texts: list[bytes | str]) -> CalendarReading:
        return sandbox.read(texts, zone=source.zone, window_start=lo, window_end=hi, ignore_uids=source.ignore_uids)

    if source.kind == "ics_url":
        if not source.url:
            raise FetchError("the subscription has no URL; edit the connection and paste its link")
        return parse([fetch_ics(source.url, timeout=timeout, max_bytes=max_bytes, deadline=deadline)]), None
    if source.kind == "ics_file":
        if not source.ics_data:
            raise CalendarParseError("no file has been uploaded for this calendar; upload its .ics file")
        return parse([source.ics_data]), None
    if source.kind == "caldav":
        account = caldav_account(source.connection, secret_key)
        data = read_calendar(account, lo, hi, timeout=timeout, deadline=deadline)
        try:
            return parse(data.objects), data.calendar_url
        except CalendarParseError as error:
            raise CalendarParseError(f"on the server, {error}") from error
    raise ValueError(f"connection {source.id} has unknown kind {source.kind!r}")


def _store(
    engine: Engine,
    source: _Source,
    now: dt.datetime,
    reading: CalendarReading | None,
    calendar_url: str | None,
    error: str | None,
) -> SyncResult:
    """Replace the busy blocks (or record the error) in one write transaction."""
    with session_scope(engine, write=True) as session:
        # Lock the connection row so that two syncs of one connection (the periodic command
        # and a booking page) cannot interleave their delete and insert (PostgreSQL; on
        # SQLite the write transaction already serialises them).
        connection = session.scalars(
            select(CalendarConnection).where(CalendarConnection.id == source.id).with_for_update()
        ).one_or_none()
        if connection is None:
            return SyncResult(source.id, "skipped", error="the connection was removed during the sync")
        connection.last_synced_at = now
        if reading is None:
            connection.last_status = "error"
            connection.last_error = error
            return SyncResult(source.id, "error", error=error)
        session.execute(delete(BusyBlock).where(BusyBlock.connection_id == source.id))
        session.add_all(
            BusyBlock(connection_id=source.id, resource_id=source.resource_id, start=start, end=end)
            for start, end in reading.intervals
        )
        connection.last_status = "ok"
        connection.last_error = None
        if calendar_url and not connection.calendar_url:
            connection.calendar_url = calendar_url
        return SyncResult(source.id, "ok", blocks=len(reading.intervals), events=reading.events)


def sync_connection(
    engine: Engine,
    connection_id: int,
    *,
    secret_key: str,
    now: dt.datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float = DEFAULT_DEADLINE,
) -> SyncResult:
    """Read one connection's calendar and replace its busy blocks in one transaction.

    Commits on its own sessions (a short read, then one write transaction), so it can run
    from the CLI, a background thread or a test alike.

    Parameters
    ----------
    engine : Engine
        The Slotwise database.
    connection_id : int
        The connection to sync.
    secret_key : str
        The installation's ``SECRET_KEY`` (to decrypt CalDAV passwords).
    now : datetime, optional
        The current instant (tz-aware); the sync window starts from it.
    timeout : float
        Seconds allowed for each read from the network.
    max_bytes : int
        Largest subscription body accepted.
    deadline : float
        Seconds the download or CalDAV read may take in all (``CALENDAR_DEADLINE_SECONDS``).

    Returns
    -------
    SyncResult
        ``ok``, ``error`` (previous busy blocks untouched; the message is also stored on the
        connection) or ``skipped`` (demo connection, or unknown id).
    """
    began = time.monotonic()
    now = now or utcnow()
    source = _load_source(engine, connection_id, now)
    if source is None:
        return SyncResult(connection_id, "skipped", error=f"there is no calendar connection {connection_id}")
    if source.kind == "demo":
        return SyncResult(connection_id, "skipped")
    try:
        reading, calendar_url = _read(
            source, now, secret_key=secret_key, timeout=timeout, max_bytes=max_bytes, deadline=deadline
        )
    except _READ_ERRORS as error:
        result = _store(engine, source, now, None, None, str(error))
    else:
        result = _store(engine, source, now, reading, calendar_url, None)
    return dataclasses.replace(result, seconds=time.monotonic() - began)


def connection_ids(engine: Engine, *, include_demo: bool = False) -> list[int]:
    """Ids of every calendar connection, in id order (demo connections only on request)."""
    query = select(CalendarConnection.id).order_by(CalendarConnection.id)
    if not include_demo:
        query = query.where(CalendarConnection.kind != "demo")
    with Session(engine) as session:
        return list(session.scalars(query))


def sync_connections(
    engine: Engine,
    ids: Iterable[int] | None = None,
    *,
    secret_key: str,
    now: dt.datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float = DEFAULT_DEADLINE,
    until: float | None = None,
    concurrency: int = 4,
) -> Iterator[SyncResult]:
    """Sync several connections, ``concurrency`` at a time (all but demo ones by default).

    Yields each :class:`SyncResult` as soon as that connection is done (for a progress bar), in
    the order they finish; one calendar's failure does not stop the others, and a slow one
    holds up only its own thread. Each talks to its server for at most ``deadline`` seconds;
    with ``until`` (a :func:`time.monotonic` instant) none is started after it, and none may
    take longer than what is left before it: those not started are not yielded.
    """
    targets = connection_ids(engine) if ids is None else list(ids)
    if not targets:
        return

    def run(connection_id: int) -> SyncResult | None:
        seconds = child.seconds_left(until, deadline)
        if seconds <= 0:
            return None
        return sync_connection(
            engine, connection_id, secret_key=secret_key, now=now, timeout=timeout, max_bytes=max_bytes,
            deadline=seconds,
        )

    workers = max(1, min(concurrency, len(targets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="calendar-sync") as pool:
        for future in as_completed([pool.submit(run, cid) for cid in targets]):
            result = future.result()
            if result is not None:
                yield result


# --- refresh when a booking page opens ------------------------------------------------------


@dataclass(frozen=True)
class RefreshOutcome:
    """What :func:`refresh_stale_calendars` did within its budget.

    Attributes
    ----------
    stale : tuple of int
        Connections that were older than the maximum age.
    started : tuple of int
        Those this call started syncing (the others were already being synced by another
        request in this process).
    results : tuple of SyncResult
        The syncs that finished within the budget.
    finished : bool
        Whether every started sync finished within the budget (the rest go on in the
        background and commit when done).
    """

    stale: tuple[int, ...] = ()
    started: tuple[int, ...] = ()
    results: tuple[SyncResult, ...] = field(default=())
    finished: bool = True


# Connections being refreshed by this process, so that many customers opening links at once
# do not fetch one calendar many times. Only an optimisation: correctness comes from the
# locked write in _store.
_IN_FLIGHT: set[int] = set()
_IN_FLIGHT_LOCK = threading.Lock()


def invitation_resource_ids(invitation: Invitation) -> list[int]:
    """Every resource an invitation may use: its members, its pools' members, its rooms."""
    ids = {member.id for member in invitation.members}
    ids.update(member.id for pool in invitation.pools for member in pool.members)
    ids.update(room.id for room in invitation.rooms)
    return sorted(ids)


# Built once: a booking page asks on every request, and building the statement cost about as
# much as running it.
_STALE = (
    select(CalendarConnection.id)
    .where(
        CalendarConnection.resource_id.in_(bindparam("resource_ids", expanding=True)),
        CalendarConnection.kind != "demo",
        or_(
            CalendarConnection.last_synced_at.is_(None), CalendarConnection.last_synced_at < bindparam("cutoff")
        ),
    )
    .order_by(CalendarConnection.id)
)


def stale_connection_ids(
    session: Session, resource_ids: Iterable[int], max_age: dt.timedelta, now: dt.datetime
) -> list[int]:
    """Connections of these resources never synced or last synced before ``now - max_age``."""
    resource_ids = list(resource_ids)
    if not resource_ids:
        return []
    return list(session.scalars(_STALE, {"resource_ids": resource_ids, "cutoff": now - max_age}))


def refresh_stale_calendars(
    engine: Engine,
    resource_ids: Iterable[int],
    *,
    secret_key: str,
    max_age: dt.timedelta,
    budget: float,
    now: dt.datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    session: Session | None = None,
) -> RefreshOutcome:
    """Re-sync the resources' calendars that are older than ``max_age``, waiting at most ``budget``.

    Meant for the booking page: call it before computing the slots of an invitation (with
    :func:`invitation_resource_ids`), with ``Settings.calendar_max_age_minutes`` and
    ``Settings.calendar_refresh_budget_seconds``. Each stale connection syncs in a thread of
    its own and commits on its own sessions; this call returns when all have finished or the
    budget is spent, whichever comes first, so the page never waits longer than ``budget``
    (plus a query). Syncs still running go on in the background.

    Parameters
    ----------
    engine : Engine
        The Slotwise database.
    resource_ids : iterable of int
        The resources whose calendars matter (members, pool members, rooms).
    secret_key : str
        The installation's ``SECRET_KEY``.
    max_age : timedelta
        Calendars synced more recently than this are left alone.
    budget : float
        Seconds this call may wait for the syncs.
    deadline : float
        Seconds each sync may spend on its server, also in the background
        (``CALENDAR_DEADLINE_SECONDS``).
    session : Session, optional
        Where to look for stale connections: the caller's open session saves a connection and a
        transaction (a page asks on every request). The syncs always use sessions of their own.

    Returns
    -------
    RefreshOutcome
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0 seconds, got {budget}")
    wait_until = time.monotonic() + budget
    now = now or utcnow()
    if session is None:
        with Session(engine) as own:
            stale = stale_connection_ids(own, resource_ids, max_age, now)
    else:
        stale = stale_connection_ids(session, resource_ids, max_age, now)
    if not stale:
        return RefreshOutcome()
    with _IN_FLIGHT_LOCK:
        started = [cid for cid in stale if cid not in _IN_FLIGHT]
        _IN_FLIGHT.update(started)
    results: dict[int, SyncResult] = {}

    def run(connection_id: int) -> None:
        try:
            results[connection_id] = sync_connection(
                engine, connection_id, secret_key=secret_key, now=now, timeout=timeout, deadline=deadline
            )
        finally:
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT.discard(connection_id)

    threads = [
        threading.Thread(target=run, args=(cid,), name=f"calendar-refresh-{cid}", daemon=True)
        for cid in started
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, wait_until - time.monotonic()))
    finished = not any(thread.is_alive() for thread in threads)
    done = tuple(results[cid] for cid in started if cid in results)
    return RefreshOutcome(stale=tuple(stale), started=tuple(started), results=done, finished=finished)


def refresh_invitation_calendars(
    engine: Engine, invitation: Invitation, settings: Settings, *, session: Session | None = None
) -> RefreshOutcome:
    """:func:`refresh_stale_calendars` for an invitation's resources, with the configured limits.

    The booking page calls this when a customer opens an invitation link, before it computes
    the slots: calendars older than ``Settings.calendar_max_age_minutes`` are re-synced, and
    the page waits at most ``Settings.calendar_refresh_budget_seconds``.
    """
    return refresh_stale_calendars(
        engine,
        invitation_resource_ids(invitation),
        secret_key=settings.secret_key,
        max_age=dt.timedelta(minutes=settings.calendar_max_age_minutes),
        budget=settings.calendar_refresh_budget_seconds,
        deadline=settings.calendar_deadline_seconds,
        session=session,
    )
