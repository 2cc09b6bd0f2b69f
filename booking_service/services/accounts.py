"""Dashboard accounts: users, passwords, sign-in with rate limits, idle expiry, the first admin.

Schedulers and admins sign in to the dashboard; customers never do (their invitation link is
their key). This module is the one place that knows how:

- **Passwords** are hashed with Argon2id through ``argon2-cffi`` (its default parameters, the
  RFC 9106 low-memory profile). Clear-text passwords are never stored, logged, or put in an
  error message or an audit entry. A hash made with older parameters is upgraded at the next
  successful sign-in.
- **Sign-in** (:func:`authenticate`) answers the same generic message whether the email is
  unknown, the password is wrong or the account is disabled, and spends the same hashing work in
  each case, so neither the text nor the timing tells whether an address is an account.
- **Rate limits**: failed attempts are stored in the database (table ``sign_in_failures``), so the
  limit holds across dashboard reruns, restarts and processes. Two sliding windows apply: per
  account (the email typed, whether it exists or not) and per client (IP address, else browser
  session). While either window is full, even a correct password is refused. An attempt counts
  the failures, checks the password and records the outcome while it holds a lock of its account
  and of its client (:func:`_lock_attempt`), so concurrent attempts (many browser tabs, many
  processes) queue up, and of any number of them at most the limit get a password checked.
- **Dashboard sessions** live in :mod:`booking_service.services.dashboard_sessions` (idle expiry,
  sign-out); a password change, a password reset and disabling an account end them here, in the
  same transaction as the change.
- **First admin** (:func:`create_first_admin`): the demo seed creates one admin with a freshly
  generated password, printed once; no password is shared between installations.

Every function takes a ``session`` and leaves the transaction to the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..core.config import ConfigError, check_zone
from ..store.models import ROLES, SignInFailure, User, utcnow
from . import audit, dashboard_sessions

__all__ = [
    "AccountError",
    "RateLimit",
    "SignInResult",
    "ACCOUNT_LIMIT",
    "CLIENT_LIMIT",
    "SIGN_IN_FAILED_MESSAGE",
    "MIN_PASSWORD_LENGTH",
    "FIRST_ADMIN_EMAIL",
    "hash_password",
    "verify_password",
    "normalize_email",
    "create_user",
    "reset_password",
    "change_password",
    "update_user",
    "authenticate",
    "generate_password",
    "create_first_admin",
    "get_user",
    "list_users",
]

log = logging.getLogger(__name__)

_HASHER = PasswordHasher()
_DUMMY: dict[str, str] = {}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
FIRST_ADMIN_EMAIL = "admin@slotwise.local"
SIGN_IN_FAILED_MESSAGE = "Email or password is incorrect."


class AccountError(ValueError):
    """An account change was refused; the message names the bad value and what to do."""


@dataclass(frozen=True)
class RateLimit:
    """At most ``attempts`` failed sign-ins within any ``window``."""

    attempts: int
    window: dt.timedelta


#: Per account: five wrong passwords in 15 minutes lock that email for the rest of the window.
ACCOUNT_LIMIT = RateLimit(attempts=5, window=dt.timedelta(minutes=15))
#: Per client: twenty failures in 15 minutes, over any emails, lock that client out.
CLIENT_LIMIT = RateLimit(attempts=20, window=dt.timedelta(minutes=15))


@dataclass(frozen=True)
class SignInResult:
    """What :func:`authenticate` decided.

    Attributes
    ----------
    user : User or None
        The signed-in user; ``None`` when sign-in failed.
    message : str
        What to show the person: empty on success, otherwise a message that does not reveal
        whether the email is an account.
    retry_after : datetime.timedelta or None
        Set when the attempt was refused by a rate limit: how long until the next try counts.
    """

    user: User | None
    message: str = ""
    retry_after: dt.timedelta | None = None

    @property
    def ok(self) -> bool:
        """Whether sign-in succeeded."""
        return self.user is not None


# --- passwords ------------------------------------------------------------------------------


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password is too short; use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password is too long; use at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise AccountError("the password starts or ends with a space; remove it")
    return password


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password`` (PHC string format, salt included)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; ``False`` for a missing or corrupt hash."""
    if not password_hash:
        _spend_time(password)
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        log.warning("a stored password hash is unreadable; the account cannot sign in until reset")
        return False


def _spend_time(password: str) -> None:
    """Verify against a throw-away hash made with the current parameters.

    Used when the email is unknown (or has no usable hash), so that such an attempt costs as much
    time as a wrong password: the timing does not tell which addresses are accounts.
    """
    params = str(_HASHER.memory_cost) + "/" + str(_HASHER.time_cost)
    if params not in _DUMMY:
        _DUMMY[params] = _HASHER.hash(secrets.token_urlsafe(16))
    try:
        _HASHER.verify(_DUMMY[params], password)
    except VerificationError:
        pass


def generate_password() -> str:
    """A new random password: 24 URL-safe characters (144 bits from :mod:`secrets`)."""
    return secrets.token_urlsafe(18)


# --- users ----------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """The canonical form of an email address for accounts: trimmed and lower-case."""
    return (email or "").strip().lower()


def _check_email(email: str) -> str:
    value = normalize_email(email)
    if not _EMAIL.match(value) or len(value) > 254:
        raise AccountError(f"{email!r} is not an email address; use one like 'ana@example.com'")
    return value


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def _check_name(name: str) -> str:
    value = (name or "").strip()
    if not value:
        raise AccountError("the name is empty; give the person's name")
    if len(value) > 200:
        raise AccountError("the name is longer than 200 characters; shorten it")
    return value


def _check_zone(zone: str) -> str:
    try:
        return check_zone(zone, "zone")
    except ConfigError as exc:
        raise AccountError(str(exc)) from None


def get_user(session: Session, email: str) -> User | None:
    """The user with this email (any case), or ``None``."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def user_by_id(session: Session, user_id: int) -> User | None:
    """The user with this id, or ``None``."""
    return session.get(User, user_id)


def record_external_sign_in(session: Session, email: str, *, client: str, via: str) -> User | None:
    """Sign in a user whom an identity provider has vouched for (OpenID Connect).

    Returns the active user with ``email`` after stamping ``last_login_at`` and auditing the
    sign-in, or ``None`` when no active account has that address (nothing is written then).
    """
    user = get_user(session, email) if email else None
    if user is None or not user.active:
        return None
    user.last_login_at = utcnow()
    audit.record(session, user, "user.signed_in", user, client=client, via=via)
    return user


def list_users(session: Session) -> list[User]:
    """Every user, admins first, then by name."""
    return list(session.scalars(select(User).order_by(User.role, User.name, User.id)))


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: str = "scheduler",
    zone: str = "Europe/London",
    by: User | None = None,
) -> User:
    """Create a dashboard user with a hashed password.

    Parameters
    ----------
    email, name : str
        The sign-in address (stored lower-case; unique) and the person's name.
    password : str
        At least :data:`MIN_PASSWORD_LENGTH` characters; only its Argon2id hash is stored.
    role : {"admin", "scheduler"}
    zone : str
        IANA zone of the user profile: the default zone of the user's new invitations.
    by : User or None
        Who creates the account: an admin in the dashboard, or ``None`` for the command line.

    Raises
    ------
    AccountError
        On a bad email, name, role, zone or password, when the email is taken, or when ``by``
        is not an admin.
    """
    from .permissions import PermissionDenied, require_admin

    if by is not None:
        try:
            require_admin(by, "create users")
        except PermissionDenied as exc:
            raise AccountError(str(exc)) from None
    address = _check_email(email)
    user = User(
        email=address,
        name=_check_name(name),
        role=_check_role(role),
        zone=_check_zone(zone),
        password_hash=hash_password(_check_password(password)),
        active=True,
    )
    if get_user(session, address) is not None:
        raise AccountError(f"a user with email {address!r} already exists; choose another email")
    session.add(user)
    session.flush()
    audit.record(session, by, "user.created", user, email=address, role=role,
                 via="dashboard" if by is not None else "command line")
    log.info("user %s created with role %s", address, role)
    return user


def reset_password(session: Session, email: str, password: str, *, by: User | None = None) -> User:
    """Set a new password for the user with ``email``; clears that account's failed attempts.

    Raises
    ------
    AccountError
        When no user has that email, the password is unacceptable, or ``by`` may not do it
        (only an admin, or the user themself, may).
    """
    user = get_user(session, email)
    if user is None:
        raise AccountError(f"no user has email {normalize_email(email)!r}; check `slotwise create-user`")
    from .permissions import is_admin

    if by is not None and by.id != user.id and not is_admin(by):
        # A disabled admin is no admin (permissions: a disabled user may do nothing at all).
        raise AccountError("only an admin may reset another user's password")
    user.password_hash = hash_password(_check_password(password))
    session.execute(delete(SignInFailure).where(SignInFailure.email == user.email))
    dashboard_sessions.revoke_all(session, user, reason="password reset")
    audit.record(session, by, "user.password_reset", user, email=user.email,
                 via="dashboard" if by is not None else "command line")
    log.info("password reset for user %s", user.email)
    return user


def change_password(
    session: Session,
    user_id: int,
    current: str,
    new: str,
    *,
    client: str,
    now: dt.datetime | None = None,
    account_limit: RateLimit | None = None,
    client_limit: RateLimit | None = None,
    keep_session: int | None = None,
) -> SignInResult:
    """A signed-in user changes their own password; the current one is required.

    A wrong current password counts as a failed sign-in attempt of that account and client (the
    same rate limits as :func:`authenticate`, so the form cannot be used to guess it), and is
    recorded in the session: the caller commits even then, which is why a wrong password is a
    result, not an exception. On success the account's failed attempts are cleared and the change
    is audited (``user.password_changed``, without any password), and every dashboard session of
    the account ends except ``keep_session`` (the one the user changed it from), so a stolen or
    forgotten sign-in elsewhere stops working.

    Returns
    -------
    SignInResult
        ``user`` on success; otherwise the message to show.

    Raises
    ------
    AccountError
        When the new password is unacceptable (checked first: nothing is counted or changed),
        or the account no longer exists or is disabled.
    """
    now = now or utcnow()
    account_limit = account_limit or ACCOUNT_LIMIT
    client_limit = client_limit or CLIENT_LIMIT
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise AccountError("this account is no longer active; ask an admin")
    _check_password(new)
    if new == current:
        raise AccountError("the new password is the same as the current one; choose another")
    client = (client or "unknown")[:128]
    _lock_attempt(session, user.email, client, now - max(account_limit.window, client_limit.window))
    waits = [
        _retry_after(_failures_since(session, SignInFailure.email, user.email, now - account_limit.window),
                     account_limit, now),
        _retry_after(_failures_since(session, SignInFailure.client, client, now - client_limit.window),
                     client_limit, now),
    ]
    waits = [w for w in waits if w is not None]
    if waits:
        minutes = max(1, -(-int(max(waits).total_seconds()) // 60))
        return SignInResult(
            None, f"Too many wrong passwords. Try again in {minutes} minute{'s' * (minutes != 1)}.",
            retry_after=max(waits),
        )
    if not verify_password(user.password_hash, current):
        session.add(SignInFailure(email=user.email, client=client, at=now))
        return SignInResult(None, "The current password is not right; nothing was changed.")
    user.password_hash = hash_password(new)
    session.execute(delete(SignInFailure).where(SignInFailure.email == user.email))
    dashboard_sessions.revoke_all(session, user, reason="password changed", keep=keep_session)
    audit.record(session, user, "user.password_changed", user, via="dashboard")
    log.info("user %s changed their password", user.email)
    return SignInResult(user)


_PROFILE_FIELDS = {"name", "zone", "send_confirmation", "attach_invite"}
_ADMIN_FIELDS = {"role", "active"}


def update_user(session: Session, user_id: int, *, by: User, **changes: object) -> User:
    """Change a user's profile (name, zone, confirmation settings) or, for admins, role and access.

    A user may change their own profile; only an admin may change someone else's, or any
    role or ``active`` flag. The last active admin cannot be demoted or disabled. The change
    is written to the audit log as ``settings.changed`` (own profile) or ``user.updated``.

    Raises
    ------
    AccountError
        On an unknown field or bad value, an unknown user, or a change ``by`` may not make.
    """
    unknown = set(changes) - _PROFILE_FIELDS - _ADMIN_FIELDS
    if unknown:
        raise AccountError(f"cannot change {', '.join(sorted(unknown))} of a user")
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user with id {user_id}")
    is_admin = by.role == "admin" and by.active
    if not is_admin and (by.id != user.id or set(changes) & _ADMIN_FIELDS):
        raise AccountError("only an admin may change another user, a role, or whether a user may sign in")
    clean: dict[str, object] = {}
    for field, value in changes.items():
        if field == "name":
            value = _check_name(str(value))
        elif field == "zone":
            value = _check_zone(str(value))
        elif field == "role":
            value = _check_role(str(value))
        else:
            value = bool(value)
        if getattr(user, field) != value:
            clean[field] = value
    demoted = clean.get("role", user.role) != "admin" or clean.get("active", user.active) is False
    if user.role == "admin" and user.active and demoted:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
        )
        if admins <= 1:
            raise AccountError("this is the last active admin; make another user admin first")
    for field, value in clean.items():
        setattr(user, field, value)
    if clean.get("active") is False:
        dashboard_sessions.revoke_all(session, user, reason="disabled")
    if clean:
        action = "settings.changed" if by.id == user.id and not set(clean) & _ADMIN_FIELDS else "user.updated"
        audit.record(session, by, action, user, changes={k: v for k, v in clean.items()})
    return user


# --- sign-in --------------------------------------------------------------------------------


def _lock_key(kind: str, value: str) -> int:
    """A 64-bit PostgreSQL advisory lock key for one account or client (the same in every process)."""
    digest = hashlib.blake2b(f"slotwise sign-in {kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_attempt(session: Session, address: str, client: str, horizon: dt.datetime) -> None:
    """Hold the locks under which one attempt counts, checks and records, until the transaction ends.

    Counting the failures, checking the password and recording a failure must be one step:
    otherwise ten attempts at once all count four failures and all get checked. On PostgreSQL
    the attempt takes a transaction-scoped advisory lock of its account and of its client (in
    one order, so two attempts never wait for each other in a circle); attempts that share
    neither run side by side. On SQLite the first write of the transaction, the removal of
    failures older than ``horizon`` done here, takes the database write lock, which serializes
    every attempt until it commits. Call it first in the transaction.
    """
    if session.connection().dialect.name == "postgresql":
        for key in sorted({_lock_key("account", address), _lock_key("client", client)}):
            session.execute(select(func.pg_advisory_xact_lock(key)))
    # Old rows are useless to both windows; drop them while here so the table stays small.
    session.execute(delete(SignInFailure).where(SignInFailure.at <= horizon))


def _failures_since(session: Session, column, key: str, since: dt.datetime) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(SignInFailure.at).where(column == key, SignInFailure.at > since).order_by(SignInFailure.at)
        )
    )


def _retry_after(failures: list[dt.datetime], limit: RateLimit, now: dt.datetime) -> dt.timedelta | None:
    """When the window is full: time until enough of its failures have aged out of it."""
    if len(failures) < limit.attempts:
        return None
    # The window has room again once the failure that makes it full is older than the window.
    pivot = failures[len(failures) - limit.attempts]
    return max(pivot + limit.window - now, dt.timedelta(seconds=1))


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    client: str,
    now: dt.datetime | None = None,
    account_limit: RateLimit = ACCOUNT_LIMIT,
    client_limit: RateLimit = CLIENT_LIMIT,
) -> SignInResult:
    """Check a sign-in attempt, enforcing the per-account and per-client rate limits.

    A failure is recorded in the session (the caller must commit it even though sign-in
    failed, which is why this returns a result instead of raising). A success clears the
    account's failures, stamps ``last_login_at`` and upgrades an outdated hash.

    Call it first in a transaction of its own: the attempt holds a lock of its account and
    client until the caller commits (see :func:`_lock_attempt`), so that concurrent attempts
    are counted one after the other.

    Parameters
    ----------
    email, password : str
        What the person typed.
    client : str
        Where the attempt comes from: an IP address, else a browser-session id.
    now : datetime, optional
        The current instant (tz-aware); default now.

    Returns
    -------
    SignInResult
        ``user`` on success; otherwise a message that is the same for an unknown email, a wrong
        password and a disabled account, and ``retry_after`` when a limit refused the attempt.
    """
    now = now or utcnow()
    address = normalize_email(email)[:254]
    client = (client or "unknown")[:128]
    _lock_attempt(session, address, client, now - max(account_limit.window, client_limit.window))
    waits = [
        _retry_after(_failures_since(session, SignInFailure.email, address, now - account_limit.window),
                     account_limit, now),
        _retry_after(_failures_since(session, SignInFailure.client, client, now - client_limit.window),
                     client_limit, now),
    ]
    waits = [w for w in waits if w is not None]
    if waits:
        wait = max(waits)
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        log.warning("sign-in refused by rate limit (client %s)", client)
        return SignInResult(
            None,
            f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' * (minutes != 1)}.",
            retry_after=wait,
        )
    user = get_user(session, address) if address else None
    if user is None or not user.active:
        _spend_time(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        session.add(SignInFailure(email=address, client=client, at=now))
        log.info("failed sign-in (client %s)", client)
        return SignInResult(None, SIGN_IN_FAILED_MESSAGE)
    session.execute(delete(SignInFailure).where(SignInFailure.email == address))
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    audit.record(session, user, "user.signed_in", user, client=client)
    log.info("user %s signed in", user.email)
    return SignInResult(user)


# --- first run ------------------------------------------------------------------------------


def create_first_admin(
    session: Session,
    *,
    email: str = FIRST_ADMIN_EMAIL,
    name: str = "Administrator",
    zone: str = "Europe/London",
) -> tuple[User, str] | None:
    """Create the installation's first admin with a freshly generated password.

    Called by the demo seed on the very first run, which prints the email and password once.
    Each installation gets its own random password; nothing is a shared default.

    Returns
    -------
    (User, str) or None
        The new admin and its clear-text password (show it once, never store or log it), or
        ``None`` when the database already has users (nothing is created then).
    """
    if session.scalar(select(func.count()).select_from(User)):
        return None
    password = generate_password()
    user = create_user(session, email=email, name=name, password=password, role="admin", zone=zone)
    return user, password
