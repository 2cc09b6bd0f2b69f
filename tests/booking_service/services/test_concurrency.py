"""No double booking under contention: many threads, and several processes, confirm at once.

Two situations, on SQLite and on PostgreSQL:

(a) the same invitation confirmed by many submits at the same moment: one meeting, every other
    submit lands on the scheduled page;
(b) different invitations that share one member and one room, all confirming the same start:
    one meeting, every loser is sent back to the times with "no longer available".

Each test ends with the invariant check finding nothing. The races of the other transitions
(cancel, resend, expire) are in :mod:`.test_races`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from booking_service.services.invitations import create_invitation, hash_token, new_token
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import Invitation, Meeting, Reservation, SlotHold

from ..factories import SECRET_KEY, berlin, draft, make_org
from .racing import invariants

UTC = dt.UTC
THREADS = 50
PROCESSES = 4
FOLLOW = 5
GONE = "That time is no longer available, please pick another"
COPIED = (
    "customer_name", "customer_email", "subject", "duration_minutes", "slot_interval_minutes",
    "frame_start", "frame_end", "zone", "status",
)


def _app(database_url: str, var_dir: str, csrf: bool = True):
    from booking_service.web.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "concurrency",
            "SLOTWISE_VAR_DIR": var_dir,
            "PUBLIC_URL": "http://localhost",
            "WTF_CSRF_ENABLED": csrf,
            "BOOKING_PAGE_RATE_LIMIT": "100000 per minute",
            "BOOKING_CONFIRM_RATE_LIMIT": "100000 per minute",
        }
    )


def _setup(database_url: str, invitations: int) -> tuple[list[str], list[int], dt.datetime]:
    """An organisation and ``invitations`` invitations sharing Ana and the small room."""
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            org = make_org(session)
        now = dt.datetime.now(UTC)
        with session_scope(engine, write=True) as session:
            first = create_invitation(
                session, draft(org, now, members=(org.ana,), rooms=(org.small_room,)), secret_key=SECRET_KEY, by=None,
                public_url="http://localhost",
            )
            tokens, ids = [first.token], [first.invitation.id]
            # The others are copies of the first (the service computing slots 50 times would
            # only slow the test down).
            template = first.invitation
            for _ in range(invitations - 1):
                token = new_token()
                copy = Invitation(
                    token_hash=hash_token(token),
                    members=list(template.members),
                    rooms=list(template.rooms),
                    **{c: getattr(template, c) for c in COPIED},
                )
                session.add(copy)
                session.flush()
                tokens.append(token)
                ids.append(copy.id)
            start = berlin(template.frame_start, 10)
        return tokens, ids, start
    finally:
        engine.dispose()


def _count(database_url: str, start: dt.datetime) -> tuple[int, int]:
    """Meetings at ``start`` and reservations overlapping it."""
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            meetings = session.scalars(select(Meeting).where(Meeting.start == start)).all()
            holds = session.scalars(
                select(Reservation).where(Reservation.start < start + dt.timedelta(minutes=30), Reservation.end > start)
            ).all()
            return len(meetings), len(holds)
    finally:
        engine.dispose()


def _form(client, token: str, start: dt.datetime, engine) -> dict[str, str]:
    page = client.get(f"/i/{token}/slot?start={start:%Y-%m-%dT%H:%M:%SZ}&zone=Europe/Berlin")
    assert page.status_code == 200
    # Opening the page held the time for this customer; the storm is about the confirmations,
    # so the hold is let go (as when it expires) before the next customer opens the same page.
    with session_scope(engine, write=True) as session:
        session.execute(delete(SlotHold))
    html = page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return {"csrf_token": csrf, "start": unescape(re.search(r'name="start" value="([^"]+)"', html).group(1))}


def _storm(app, tokens: list[str], start: dt.datetime) -> list[tuple[int, str, str]]:
    """Every token confirms ``start`` at the same moment, one thread each."""
    clients = [app.test_client() for _ in tokens]
    engine = app.extensions["slotwise"]["engine"]
    forms = [_form(c, t, start, engine) for c, t in zip(clients, tokens, strict=True)]
    barrier = threading.Barrier(len(tokens))

    def submit(i: int) -> tuple[int, str, str]:
        barrier.wait()
        response = clients[i].post(f"/i/{tokens[i]}/confirm", data=forms[i])
        location = response.headers.get("Location", "")
        # Following every redirect would only repeat the same page; a few show the message.
        follow = clients[i].get(location).get_data(as_text=True) if location and i < FOLLOW else ""
        return response.status_code, location, follow

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(submit, range(len(tokens))))


@pytest.mark.timeout(120)
def test_fifty_threads_confirm_the_same_invitation(database_url, tmp_path):
    tokens, ids, start = _setup(database_url, 1)
    app = _app(database_url, str(tmp_path / "var"))
    results = _storm(app, tokens * THREADS, start)
    assert all(code == 303 for code, _, _ in results)
    assert all(location.endswith(f"/i/{tokens[0]}/scheduled") for _, location, _ in results)
    assert all("Your meeting is scheduled" in page for _, _, page in results[:FOLLOW])
    assert _count(database_url, start) == (1, 2)  # one meeting: Ana and the room
    assert invariants(database_url) == []


@pytest.mark.timeout(120)
def test_fifty_threads_confirm_invitations_sharing_a_member_and_a_room(database_url, tmp_path):
    tokens, ids, start = _setup(database_url, THREADS)
    app = _app(database_url, str(tmp_path / "var"))
    results = _storm(app, tokens, start)
    winners = [r for r in results if r[1].endswith("/scheduled")]
    losers = [r for r in results if "/times" in r[1]]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(code == 303 for code, _, _ in results)
    followed = [page for _, _, page in losers if page]
    assert followed and all(GONE in page for page in followed)
    assert _count(database_url, start) == (1, 2)
    assert invariants(database_url) == []


# --- several processes -------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_several_processes_confirm_at_once(database_url, tmp_path):
    tokens, ids, start = _setup(database_url, PROCESSES + 1)
    shared, own = tokens[0], tokens[1:]
    # The shared invitation is contested at 10:00; the others at 11:00 (its winner holds 10:00).
    later = start + dt.timedelta(hours=1)
    # fork: the workers start at once with the modules already imported; each opens its own
    # engine (a distinct URL for PostgreSQL, so no pooled connection of this process is reused).
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_process_worker_two_starts,
            args=(database_url, str(tmp_path / "var"), shared, own[i],
                  f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{later:%Y-%m-%dT%H:%M:%SZ}", barrier, results),
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=150) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    shared_results = [o[0] for o in outcomes]
    own_results = [o[1] for o in outcomes]
    assert all(code == 303 and location.endswith(f"/i/{shared}/scheduled") for code, location in shared_results)
    assert sum(location.endswith("/scheduled") for _, location in own_results) == 1
    assert sum("/times" in location for _, location in own_results) == PROCESSES - 1
    assert _count(database_url, start) == (1, 2)
    assert _count(database_url, later) == (1, 2)
    assert invariants(database_url) == []


def _process_worker_two_starts(
    database_url: str, var_dir: str, shared: str, own: str, first: str, second: str, barrier, results
) -> None:
    """Confirm the shared invitation at ``first``, then this process's own one at ``second``."""
    if database_url.startswith("postgresql"):
        database_url += ("&" if "?" in database_url else "?") + "application_name=slotwise_worker"
    app = _app(database_url, var_dir, csrf=False)
    client = app.test_client()
    outcome = []
    for token, start in ((shared, first), (own, second)):
        barrier.wait(timeout=60)
        response = client.post(f"/i/{token}/confirm", data={"start": start})
        outcome.append((response.status_code, response.headers.get("Location", "")))
    results.put(outcome)
