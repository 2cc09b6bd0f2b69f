"""Liveness and readiness for load balancers, orchestrators and ``slotwise up``.

- ``GET /healthz``: liveness. 200 while the process serves requests; it touches nothing else, so
  an outage of the database does not get every worker restarted.
- ``GET /readyz``: readiness, one entry per dependency: ``database`` (``SELECT 1``),
  ``rate_limit_storage`` (Redis, when ``RATELIMIT_STORAGE_URI`` names it) and ``outbox`` (the
  age of the oldest mail, calendar write or webhook due; see ``OUTBOX_MAX_AGE_SECONDS``). Each is
  ``ok``, ``degraded`` (bookings still work: limits counted in memory, or the worker behind) or
  ``down``. The answer is 503 only when a dependency is down, so a load balancer takes a worker
  out of rotation only when it cannot book.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..services.backlog import backlog
from .extensions import db_session, limiter, settings_of

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process answers (liveness)."""
    return jsonify(status="ok")


def _database() -> dict[str, str]:
    try:
        db_session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return {"status": "down", "detail": f"the database does not answer: {type(exc).__name__}"}
    return {"status": "ok"}


def rate_limit_storage_status() -> dict[str, str]:
    """Whether the shared rate-limit storage answers; in memory it always does."""
    uri = settings_of(current_app).ratelimit_storage_uri
    if uri.startswith("memory://"):
        return {"status": "ok", "detail": "in memory, per process"}
    try:
        reachable = bool(limiter.storage.check())
    except Exception:  # noqa: BLE001 - any error of the storage's client means unreachable
        reachable = False
    if reachable:
        return {"status": "ok"}
    return {"status": "degraded",
            "detail": "unreachable; each process counts rate limits in memory until it answers again"}


def _outbox() -> dict[str, object]:
    limit = settings_of(current_app).outbox_max_age_seconds
    try:
        queues = backlog(db_session()).queues
    except SQLAlchemyError:
        return {"status": "down", "detail": "cannot be read while the database does not answer"}
    oldest = max(queues, key=lambda q: q.oldest_age_seconds)
    entry: dict[str, object] = {
        "status": "ok",
        "oldest_due_seconds": round(oldest.oldest_age_seconds, 1),
        "waiting": {q.name: q.depth for q in queues},
    }
    if oldest.oldest_age_seconds > limit:
        entry["status"] = "degraded"
        entry["detail"] = (f"{oldest.name} has waited {oldest.oldest_age_seconds:.0f} s (more than "
                           f"OUTBOX_MAX_AGE_SECONDS={limit:g}); is slotwise worker running?")
    return entry


@bp.get("/readyz")
def readyz():
    """Each dependency's state; 503 when one is down."""
    checks = {"database": _database(), "rate_limit_storage": rate_limit_storage_status()}
    checks["outbox"] = _outbox() if checks["database"]["status"] == "ok" else {
        "status": "down", "detail": "cannot be read while the database does not answer"}
    states = {c["status"] for c in checks.values()}
    status = "down" if "down" in states else "degraded" if "degraded" in states else "ok"
    return jsonify(status=status, checks=checks), 503 if status == "down" else 200
