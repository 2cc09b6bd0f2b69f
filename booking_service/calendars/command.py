"""The ``slotwise sync-calendars`` command's work: sync with a progress bar, once or periodically.

``booking_service.cli`` declares the command; this module does the work so that the CLI
module stays a list of thin commands.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..store.models import CalendarConnection, Resource, utcnow
from .caldav_client import DEFAULT_DEADLINE
from .sync import SyncResult, connection_ids, sync_connections
from .writeback import WriteReport, deliver_due_writes

__all__ = ["Duration", "SyncReport", "run_sync", "sync_once"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType):
    """A duration such as ``90s``, ``10m``, ``1h`` or ``1d`` (click parameter type)."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", str(value).lower())
        if not match or int(match.group(1)) == 0:
            self.fail(f"{value!r} is not a duration; use e.g. 90s, 10m, 1h or 1d", param, ctx)
        return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _labels(engine: Engine, ids: Sequence[int]) -> dict[int, str]:
    with Session(engine) as session:
        rows = session.execute(
            select(CalendarConnection.id, CalendarConnection.name, Resource.name)
            .join(Resource, Resource.id == CalendarConnection.resource_id)
            .where(CalendarConnection.id.in_(list(ids)))
        )
        return {cid: f"#{cid} {resource} / {name}" for cid, name, resource in rows}


def _line(label: str, result: SyncResult) -> str:
    """One calendar's outcome: name, events, busy blocks, time, error."""
    if result.status == "ok":
        return f"{label}: {result.events:,} events, {result.blocks:,} busy blocks, {result.seconds:.1f} s"
    return f"{label}: {result.status} after {result.seconds:.1f} s: {result.error or 'nothing to read'}"


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync_once` did: each calendar's sync, and the calendar writes delivered after."""

    results: tuple[SyncResult, ...]
    writes: WriteReport

    @property
    def failed(self) -> int:
        """Calendars that could not be read, and calendar writes that did not succeed."""
        return sum(r.status == "error" for r in self.results) + self.writes.retrying + self.writes.failed


def sync_once(
    engine: Engine,
    ids: Sequence[int] | None,
    *,
    secret_key: str,
    echo: Callable[[str], None] = click.echo,
    deadline: float = DEFAULT_DEADLINE,
) -> SyncReport:
    """Sync the connections (all but demo ones when ``ids`` is None), then deliver due calendar
    writes; report on ``echo``.

    Calendars are read a few at a time, each talking to its server for at most ``deadline``
    seconds (``CALENDAR_DEADLINE_SECONDS``), and so is each write. On a terminal a progress bar
    shows the sync; otherwise (piped, logged, cron) each calendar gets a line when it is done:
    its name, events, busy blocks and time, or its error. The report ends with one line that
    counts what was synced and what failed.

    Raises
    ------
    click.ClickException
        If one of ``ids`` is not a calendar connection.
    """
    targets = connection_ids(engine) if not ids else list(ids)
    labels = _labels(engine, targets)
    unknown = [cid for cid in targets if cid not in labels]
    if unknown:
        raise click.ClickException(
            f"no calendar connection with id {', '.join(map(str, unknown))}; the dashboard's Calendars page lists them"
        )
    results: list[SyncResult] = []
    syncing = sync_connections(engine, targets, secret_key=secret_key, deadline=deadline)
    if sys.stdout.isatty():
        with click.progressbar(
            length=len(targets), label="Syncing calendars",
            item_show_func=lambda r: labels.get(r.connection_id) if r else None,
        ) as bar:
            for result in syncing:
                results.append(result)
                bar.update(1, result)
    else:  # piped or logged: a line per calendar, as it is done
        for result in syncing:
            results.append(result)
            echo(_line(labels[result.connection_id], result))
    results.sort(key=lambda r: targets.index(r.connection_id))
    synced = sum(r.status == "ok" for r in results)
    failed = [r for r in results if r.status == "error"]
    skipped = sum(r.status == "skipped" for r in results)
    if sys.stdout.isatty():  # piped, each calendar's line already said what went wrong
        for result in failed:
            echo(f"  {labels[result.connection_id]}: {result.error}")
    writes = deliver_due_writes(engine, secret_key=secret_key, deadline=deadline)
    if writes.errors:
        echo(f"  Last calendar write error: {writes.errors[-1]}")
    summary = (
        f"Calendars: {synced} synced, {len(failed)} failed, {skipped} skipped "
        f"({sum(r.blocks for r in results)} busy blocks)."
    )
    if writes.done or writes.retrying or writes.failed:
        summary += (
            f" Calendar writes: {writes.done} done, {writes.retrying + writes.failed} failed"
            f"{f' ({writes.retrying} to retry)' if writes.retrying else ''}."
        )
    echo(summary)
    return SyncReport(tuple(results), writes)


def run_sync(
    engine: Engine,
    ids: Sequence[int] | None,
    *,
    secret_key: str,
    every: dt.timedelta | None,
    echo: Callable[[str], None] = click.echo,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float = DEFAULT_DEADLINE,
) -> SyncReport | None:
    """Run :func:`sync_once`, and with ``every`` keep running it at that pace until Ctrl-C.

    Returns the report of the one run without ``every`` (``None`` after Ctrl-C)."""
    try:
        while True:
            began = utcnow()
            report = sync_once(engine, ids, secret_key=secret_key, echo=echo, deadline=deadline)
            if every is None:
                return report
            wait = every - (utcnow() - began)
            echo(f"Next sync in {max(wait.total_seconds(), 0):.0f} s (Ctrl-C stops).")
            sleep(max(wait.total_seconds(), 0.0))
    except KeyboardInterrupt:
        echo("Stopped.")
        return None
