"""Who calls the API: a bearer API key, its user and its scopes; per-key rate limits.

``Authorization: Bearer sw_...`` names an API key
(:mod:`booking_service.services.api_keys`). The key's scopes are APIFlask *roles*
(``@bp.auth_required(auth, roles=["write"])``); what the key may see and do beyond that is
exactly what its user may (:mod:`booking_service.services.permissions`), because every view acts
as that user.

Rate limits are per key, through the service's one Flask-Limiter (``API_RATE_LIMIT``; in Redis
when ``RATELIMIT_STORAGE_URI`` says so): the limiter's key is the hash of the presented key, so
no database read is spent on a flood, and requests without a key share their client address's
limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from apiflask import HTTPTokenAuth
from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from ...services import api_keys
from ...store.db import session_scope
from ...store.models import User
from ..extensions import db_session, settings_of

auth = HTTPTokenAuth(scheme="Bearer", description="An API key made in the dashboard (Profile, API keys): `sw_...`")


@dataclass(frozen=True)
class Caller:
    """The authenticated key: its id, prefix, scopes and user id."""

    key_id: int
    prefix: str
    scopes: tuple[str, ...]
    user_id: int


@auth.verify_token
def _verify(token: str) -> Caller | None:
    engine = current_app.extensions["slotwise"]["engine"]
    # Its own short transaction: the key's last use is written even when the request only reads.
    with session_scope(engine) as session:
        key = api_keys.authenticate(session, token)
        if key is None:
            return None
        return Caller(key.id, key.prefix, tuple(key.scopes), key.user_id)


@auth.get_user_roles
def _scopes(caller: Caller) -> list[str]:
    return list(caller.scopes)


def current_user() -> User:
    """The user the request acts as (loaded in the request's session)."""
    if "api_user" not in g:
        caller: Caller = auth.current_user
        g.api_user = db_session().get(User, caller.user_id)
    return g.api_user


def rate_limit_key() -> str:
    """The limiter's bucket: the presented key's hash, else the client's address."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return "api-key:" + hashlib.sha256(header[7:].strip().encode("utf-8")).hexdigest()[:32]
    return "api-client:" + (get_remote_address() or "unknown")


def rate_limit() -> str:
    """``API_RATE_LIMIT``, per key."""
    return settings_of(current_app).api_rate_limit
