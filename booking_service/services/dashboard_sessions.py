"""Dashboard sessions: the server side of the sign-in cookie, so a sign-in survives a reload.

A successful sign-in starts a session (:func:`start`): a random 256-bit token goes to the
browser in a signed, HttpOnly cookie (``dashboard/web.py`` sets it); only the token's SHA-256
hash is stored, in ``dashboard_sessions``. Every dashboard interaction resumes the session
(:func:`resume`), which refuses it when it was revoked, when its account is disabled, or when it
was idle longer than ``SESSION_IDLE_MINUTES``; :func:`touch` records activity.

Sessions end on the server, so an old cookie is worth nothing afterwards:

- signing out revokes that one session (:func:`revoke`);
- a password change revokes every other session of the account, a password reset (an admin,
  the command line) and disabling the account revoke them all (:func:`revoke_all`, called by
  :mod:`booking_service.services.accounts` in the same transaction as the change).

Every function takes a ``session`` and leaves the transaction to the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..store.models import DashboardSession, User, utcnow

__all__ = ["TOKEN_BYTES", "KEEP_ENDED", "hash_token", "start", "resume", "touch", "revoke", "revoke_all", "ended_because"]

#: Bytes of randomness in a session token (256 bits).
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


#: How long an ended session is kept, so that its cookie still gets told why it no longer works.
KEEP_ENDED = dt.timedelta(days=1)


def start(
    session: Session, user: User, *, idle: dt.timedelta | None = None, now: dt.datetime | None = None
) -> tuple[DashboardSession, str]:
    """Start a dashboard session for ``user``; returns the row and the token for the cookie.

    The token is returned once and never stored; only its hash is. With ``idle``, sessions that
    ended more than :data:`KEEP_ENDED` ago are deleted while here, so the table stays small.
    """
    now = now or utcnow()
    if idle is not None:
        session.execute(delete(DashboardSession).where(or_(
            DashboardSession.revoked_at < now - KEEP_ENDED,
            DashboardSession.last_seen_at < now - idle - KEEP_ENDED,
        )))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = DashboardSession(user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    return row, token


def _find(session: Session, *, token: str | None, session_id: int | None) -> DashboardSession | None:
    if token:
        return session.scalar(select(DashboardSession).where(DashboardSession.token_hash == hash_token(token)))
    if session_id is not None:
        return session.get(DashboardSession, session_id)
    return None


def ended_because(row: DashboardSession | None, idle: dt.timedelta, now: dt.datetime | None = None) -> str | None:
    """Why ``row`` can no longer be used: ``"unknown"``, ``"revoked"``, ``"disabled"``, ``"idle"``; else ``None``."""
    now = now or utcnow()
    if row is None:
        return "unknown"
    if row.revoked_at is not None:
        return "revoked"
    if row.user is None or not row.user.active:
        return "disabled"
    if now - row.last_seen_at >= idle:
        return "idle"
    return None


def resume(
    session: Session,
    *,
    idle: dt.timedelta,
    token: str | None = None,
    session_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[DashboardSession | None, str | None]:
    """Find the session of a cookie ``token`` (or of a known ``session_id``) and whether it is live.

    Returns ``(row, None)`` for a live session; otherwise ``(row or None, reason)`` with the
    reason of :func:`ended_because`. It only reads: :func:`touch` records activity.
    """
    row = _find(session, token=token, session_id=session_id)
    return row, ended_because(row, idle, now)


def touch(session: Session, session_id: int, *, now: dt.datetime | None = None) -> None:
    """Record activity on a session: its idle time starts again."""
    session.execute(
        update(DashboardSession).where(DashboardSession.id == session_id, DashboardSession.revoked_at.is_(None))
        .values(last_seen_at=now or utcnow()).execution_options(synchronize_session=False)
    )


def revoke(session: Session, row: DashboardSession, *, reason: str = "signed out", now: dt.datetime | None = None) -> None:
    """End one session (sign-out). Revoking an ended session changes nothing."""
    if row.revoked_at is None:
        row.revoked_at, row.revoked_reason = now or utcnow(), reason[:32]


def revoke_all(
    session: Session,
    user: User,
    *,
    reason: str,
    keep: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """End every live session of ``user`` except the one with id ``keep``; returns how many ended."""
    condition = [DashboardSession.user_id == user.id, DashboardSession.revoked_at.is_(None)]
    if keep is not None:
        condition.append(DashboardSession.id != keep)
    result = session.execute(
        update(DashboardSession).where(*condition).values(revoked_at=now or utcnow(), revoked_reason=reason[:32])
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0
