"""API keys: made and revoked by a dashboard user, each acting with exactly that user's permissions.

A key is ``sw_`` followed by 256 random bits (URL-safe text). It is shown once, when it is made;
only its SHA-256 hash is stored, with its first characters (:data:`PREFIX_LENGTH`) so that the
dashboard can tell keys apart. A key carries *scopes* (:data:`~booking_service.store.models.API_KEY_SCOPES`):
``read`` for every GET, ``write`` to create, resend and cancel, ``webhooks`` to manage webhook
subscriptions. Whatever the scopes, the key never reaches beyond what its user may see and do
(:mod:`booking_service.services.permissions`): a revoked key, or a key of a disabled user, opens nothing.

Every function takes a ``session`` and leaves the transaction to the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ..store.models import API_KEY_SCOPES, ApiKey, User, utcnow
from . import audit

__all__ = [
    "ApiKeyError",
    "CreatedKey",
    "KEY_PREFIX",
    "PREFIX_LENGTH",
    "authenticate",
    "create_key",
    "hash_key",
    "list_keys",
    "revoke_key",
]

KEY_PREFIX = "sw_"
PREFIX_LENGTH = 10
"""Characters of a key kept in clear (``sw_`` and 7 random ones): enough to tell keys apart, useless to guess it."""
# A key is used at most this often more than once a minute before its last use is written again.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key cannot be made or revoked as asked; the message names the bad value and what to do.

    Attributes
    ----------
    field : str
        The input at fault (``"name"``, ``"scopes"``, ``"key"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CreatedKey:
    """A new key: the stored row and the key itself, which is never shown again."""

    key: ApiKey
    secret: str


def hash_key(secret: str) -> str:
    """The SHA-256 hex digest stored for ``secret`` (keys are random, so a fast hash is enough)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        raise ApiKeyError("scopes", f"scopes must be a list such as ['read', 'write'], got {scopes!r}")
    chosen = list(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in API_KEY_SCOPES]
    if unknown:
        raise ApiKeyError("scopes", f"unknown scope {unknown[0]!r}; use some of {', '.join(API_KEY_SCOPES)}")
    if not chosen:
        raise ApiKeyError("scopes", f"choose at least one scope of {', '.join(API_KEY_SCOPES)}")
    return [s for s in API_KEY_SCOPES if s in chosen]


def create_key(
    session: Session, user: User, name: str, scopes: Iterable[str] = ("read",), *, now: dt.datetime | None = None
) -> CreatedKey:
    """Make a key for ``user`` (who must be active); return it with the secret, shown this once.

    Raises
    ------
    ApiKeyError
        The name is empty or too long, a scope is unknown, or the user is disabled.
    """
    now = now or utcnow()
    if user is None or not user.active:
        raise ApiKeyError("user", "only an active user may make API keys")
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("name", "name the key after where it is used, e.g. 'CRM sync'")
    if len(name) > 100:
        raise ApiKeyError("name", f"the name is {len(name)} characters; use at most 100")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user.id, name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_key(secret),
                 scopes=_scopes(scopes), created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, user, "api_key.created", ("api_key", key.id), name=name, prefix=key.prefix,
                 scopes=key.scopes)
    return CreatedKey(key, secret)


def list_keys(session: Session, user: User) -> list[ApiKey]:
    """``user``'s keys, newest first, revoked ones included (they show when they were revoked)."""
    return list(session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    ))


def revoke_key(session: Session, user: User, key_id: int, *, now: dt.datetime | None = None) -> ApiKey:
    """Revoke one of ``user``'s keys; it opens nothing from then on.

    Raises
    ------
    ApiKeyError
        When ``user`` has no such key (another user's key is not theirs to revoke), or it is
        already revoked.
    """
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user.id))
    if key is None:
        raise ApiKeyError("key", f"{user.email} has no API key {key_id}")
    if key.revoked_at is not None:
        raise ApiKeyError("key", f"API key {key.prefix}… is already revoked")
    key.revoked_at = now or utcnow()
    audit.record(session, user, "api_key.revoked", ("api_key", key.id), name=key.name, prefix=key.prefix)
    return key


def authenticate(session: Session, secret: str, *, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key ``secret`` is (its user loaded), or ``None``.

    ``None`` for a key that is unknown, malformed, revoked, or whose user is disabled; the answer
    does not say which. The lookup is by hash, so its time does not depend on how much of a key
    is right. The key's last use is recorded (at most once a minute).
    """
    if not isinstance(secret, str) or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    digest = hash_key(secret)
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest).options(joinedload(ApiKey.user)))
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.revoked_at is not None or key.user is None or not key.user.active:
        return None
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key
