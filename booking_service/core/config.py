"""Configuration: the one place that reads environment variables.

Every setting has a default that works on one machine with no set-up (a SQLite file under
``var/``, no SMTP, in-memory rate limits). Each can be overridden by an environment variable of
the same name; ``README.md`` lists them.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and what to do."""


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one Slotwise installation."""

    var_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:5000"
    booking_host: str = "127.0.0.1"
    booking_port: int = 5000
    dashboard_port: int = 8501
    smtp_url: str | None = None
    mail_from: str = "Slotwise <no-reply@slotwise.local>"
    ratelimit_storage_uri: str = "memory://"
    booking_page_rate_limit: str = "300 per minute"
    booking_confirm_rate_limit: str = "30 per minute"
    default_zone: str = "Europe/London"
    calendar_max_age_minutes: int = 15
    calendar_refresh_budget_seconds: float = 0.5
    calendar_max_mb: int = 10
    calendar_deadline_seconds: float = 60.0
    smtp_deadline_seconds: float = 30.0
    worker_budget_seconds: float = 120.0
    session_idle_minutes: int = 60
    api_rate_limit: str = "120 per minute"
    webhook_allowed_networks: str = ""
    webhook_timeout_seconds: float = 10.0
    slot_hold_minutes: int = 5
    reminder_offsets_minutes: tuple[int, ...] = (24 * 60, 60)
    change_cutoff_hours: int = 24
    max_reschedules: int = 3
    booking_workers: int | str = 1
    booking_threads: int = 4
    trusted_proxies: int = 0
    log_level: str = "INFO"
    log_format: str = "text"
    outbox_max_age_seconds: float = 600.0
    embed_allowed_origins: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (used by tests and the CLI)."""
        return replace(self, **changes)

    @property
    def https(self) -> bool:
        """Whether people reach the service over HTTPS (``PUBLIC_URL`` starts with ``https://``)."""
        return self.public_url.startswith("https://")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None
    if name.endswith("_PORT") and not 1 <= value <= 65535:
        raise ConfigError(f"{name}={value} is not a TCP port; use a number from 1 to 65535")
    return value


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name}={value} must be at least 1; set it to e.g. {default}")
    return value


def _seconds(env: dict[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    """A positive number of seconds (``30``, ``2.5``); ``0`` too with ``allow_zero``."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds; set it to e.g. {default:g}") from None
    if allow_zero and value == 0:
        return value
    if not 0 < value < float("inf"):
        least = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{name}={raw} must be {least} seconds; set it to e.g. {default:g}")
    return value


def _non_negative(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ConfigError(f"{name}={value} must be 0 or more; set it to e.g. {default}")
    return value


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of a few words, case-insensitive (``LOG_FORMAT=json``)."""
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={env.get(name)!r} is not one of {', '.join(choices)}; set it to e.g. {default}")
    return value


def _workers(env: dict[str, str], name: str, default: int) -> int | str:
    """A number of server processes, or ``auto`` (one per CPU, resolved when the server starts)."""
    raw = (env.get(name) or "").strip().lower()
    if raw == "auto":
        return "auto"
    try:
        return _positive(env, name, default)
    except ConfigError:
        raise ConfigError(f"{name}={env.get(name)!r} is not a number of processes; use e.g. 2, or 'auto' for one per CPU") from None


def _url(env: dict[str, str], name: str, default: str, schemes: tuple[str, ...], example: str) -> str:
    """A URL whose scheme is one of ``schemes`` and that names a host."""

    value = env.get(name) or default
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a URL; use e.g. {example!r}") from None
    if parts.scheme not in schemes or not (parts.hostname or parts.scheme in ("memory", "sqlite")):
        raise ConfigError(f"{name}={value!r} is not a {' or '.join(schemes)} URL; use e.g. {example!r}")
    return value


def _host(env: dict[str, str], name: str, default: str) -> str:
    """An interface name or address to listen on (``127.0.0.1``, ``0.0.0.0``, ``::``, ``localhost``)."""
    value = (env.get(name) or default).strip()
    if not value or any(c in value for c in " /@?#") or value.count(":") == 1:
        raise ConfigError(f"{name}={value!r} is not a host name or address; use e.g. '127.0.0.1' or '0.0.0.0'")
    return value


def _database_url(env: dict[str, str], name: str, default: str) -> str:
    """A SQLAlchemy URL of SQLite or PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = env.get(name) or default
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"{name}={value!r} is not a SQLite or PostgreSQL URL; use e.g. "
            "'sqlite:///var/slotwise.db' or 'postgresql://user@host/db'"
        )
    return value


def _rate_limit_storage(env: dict[str, str], name: str, default: str) -> str:
    """A storage URI of the ``limits`` library (``memory://``, ``redis://host:6379``)."""
    from limits.storage import SCHEMES

    value = env.get(name) or default
    scheme = value.partition("://")[0]
    if "://" not in value or scheme not in SCHEMES or scheme.startswith("async+"):
        raise ConfigError(f"{name}={value!r} is not a rate-limit storage; use 'memory://' or 'redis://127.0.0.1:6379'")
    return value


def _rate_limit(env: dict[str, str], name: str, default: str) -> str:
    """A Flask-Limiter rate limit string (``"300 per minute"``), checked now rather than per request."""
    from limits import parse_many

    value = env.get(name) or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a rate limit; use e.g. '300 per minute' or '10/second'") from None
    return value


def _networks(env: dict[str, str], name: str) -> str:
    """A comma-separated list of IP addresses or networks (``127.0.0.0/8, ::1``), checked now."""
    import ipaddress

    value = env.get(name, "")
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name} entry {part!r} is not an IP address or network; use e.g. '127.0.0.0/8, 10.1.2.3'"
            ) from None
    return value


def _offsets(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Reminder offsets such as ``"24h,1h"`` or ``"90m"``: minutes before the start, largest first.

    An empty value (``REMINDER_OFFSETS=``) turns reminders off.
    """
    raw = env.get(name)
    if raw is None:
        return default
    offsets = []
    for part in (p.strip().lower() for p in raw.split(",")):
        if not part:
            continue
        unit = {"h": 60, "m": 1, "d": 24 * 60}.get(part[-1])
        number = part[:-1] if unit else part
        if not (number.isascii() and number.isdigit()) or int(number) == 0:
            raise ConfigError(f"{name}={raw!r}: {part!r} is not an offset; use e.g. '24h,1h' or '90m'")
        offsets.append(int(number) * (unit or 1))
    return tuple(sorted(set(offsets), reverse=True))


def _secret_key(var_dir: Path) -> str:
    """Return the installation's secret key, creating it once under ``var/``."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def mail_domain(mail_from: str) -> str:
    """The domain of the ``MAIL_FROM`` address (``Slotwise <no-reply@example.com>``: ``example.com``).

    Every ``Message-ID`` Slotwise makes is on this domain.

    Raises
    ------
    ConfigError
        If ``mail_from`` holds no address with a domain.
    """
    local, _at, domain = parseaddr(mail_from)[1].rpartition("@")
    if not local or not domain:
        raise ConfigError(
            f"MAIL_FROM={mail_from!r} has no address with a domain; use e.g. 'Slotwise <no-reply@example.com>'"
        )
    return domain


def check_zone(name: str, what: str = "zone") -> str:
    """Return ``name`` if it is a known IANA zone, else raise :class:`ConfigError`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{what} {name!r} is not an IANA time zone; use a name like 'Europe/Berlin'"
        ) from None
    return name


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: ``os.environ``).

    Raises
    ------
    ConfigError
        When a value cannot be used; the message names the variable and the fix.
    """
    env = dict(os.environ if env is None else env)
    var_dir = Path(env.get("SLOTWISE_VAR_DIR") or "var")
    if var_dir.exists() and not var_dir.is_dir():
        raise ConfigError(f"SLOTWISE_VAR_DIR={str(var_dir)!r} is a file; point it at a folder (it is created if missing)")
    database_url = _database_url(env, "DATABASE_URL", f"sqlite:///{var_dir / 'slotwise.db'}")
    booking_port = _int(env, "BOOKING_PORT", 5000)
    host = _host(env, "BOOKING_HOST", "127.0.0.1")
    mail_from = env.get("MAIL_FROM", Settings.mail_from)
    mail_domain(mail_from)
    public_url = _url(env, "PUBLIC_URL", f"http://{host}:{booking_port}", ("http", "https"),
                      "https://book.example.com").rstrip("/")
    smtp_url = env.get("SMTP_URL") or None
    if smtp_url:
        _url(env, "SMTP_URL", "", ("smtp", "smtp+starttls", "smtps"), "smtp+starttls://user:pass@mail.example.com:587")
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        secret_key=env.get("SECRET_KEY") or _secret_key(var_dir),
        public_url=public_url,
        booking_host=host,
        booking_port=booking_port,
        dashboard_port=_int(env, "DASHBOARD_PORT", 8501),
        smtp_url=smtp_url,
        mail_from=mail_from,
        ratelimit_storage_uri=_rate_limit_storage(env, "RATELIMIT_STORAGE_URI", "memory://"),
        booking_page_rate_limit=_rate_limit(env, "BOOKING_PAGE_RATE_LIMIT", Settings.booking_page_rate_limit),
        booking_confirm_rate_limit=_rate_limit(
            env, "BOOKING_CONFIRM_RATE_LIMIT", Settings.booking_confirm_rate_limit
        ),
        default_zone=check_zone(env.get("DEFAULT_ZONE") or "Europe/London", "DEFAULT_ZONE"),
        calendar_max_age_minutes=_non_negative(env, "CALENDAR_MAX_AGE_MINUTES", 15),
        calendar_refresh_budget_seconds=_seconds(
            env, "CALENDAR_REFRESH_BUDGET_SECONDS", Settings.calendar_refresh_budget_seconds, allow_zero=True
        ),
        calendar_max_mb=_positive(env, "CALENDAR_MAX_MB", 10),
        calendar_deadline_seconds=_seconds(env, "CALENDAR_DEADLINE_SECONDS", Settings.calendar_deadline_seconds),
        smtp_deadline_seconds=_seconds(env, "SMTP_DEADLINE_SECONDS", Settings.smtp_deadline_seconds),
        worker_budget_seconds=_seconds(env, "WORKER_BUDGET_SECONDS", Settings.worker_budget_seconds),
        session_idle_minutes=_positive(env, "SESSION_IDLE_MINUTES", 60),
        api_rate_limit=_rate_limit(env, "API_RATE_LIMIT", Settings.api_rate_limit),
        webhook_allowed_networks=_networks(env, "WEBHOOK_ALLOWED_NETWORKS"),
        webhook_timeout_seconds=_seconds(env, "WEBHOOK_TIMEOUT_SECONDS", Settings.webhook_timeout_seconds),
        slot_hold_minutes=_positive(env, "SLOT_HOLD_MINUTES", Settings.slot_hold_minutes),
        reminder_offsets_minutes=_offsets(env, "REMINDER_OFFSETS", Settings.reminder_offsets_minutes),
        change_cutoff_hours=_non_negative(env, "CHANGE_CUTOFF_HOURS", Settings.change_cutoff_hours),
        max_reschedules=_non_negative(env, "MAX_RESCHEDULES", Settings.max_reschedules),
        booking_workers=_workers(env, "BOOKING_WORKERS", 1),
        booking_threads=_positive(env, "BOOKING_THREADS", Settings.booking_threads),
        trusted_proxies=_non_negative(env, "TRUSTED_PROXIES", Settings.trusted_proxies),
        log_level=_choice(env, "LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
        log_format=_choice(env, "LOG_FORMAT", Settings.log_format, ("text", "json")),
        outbox_max_age_seconds=_seconds(env, "OUTBOX_MAX_AGE_SECONDS", Settings.outbox_max_age_seconds),
        embed_allowed_origins=_origins(env, "EMBED_ALLOWED_ORIGINS"),
    )


def _origins(env: dict[str, str], name: str) -> tuple[str, ...]:
    """``EMBED_ALLOWED_ORIGINS``: web origins, comma- or space-separated (:func:`web_origins`)."""
    return web_origins(env.get(name, ""), f"{name} entry")


#: A host name (letters, digits and hyphens between dots; IDNs in their ``xn--`` form) or IPv4 address.
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
ORIGIN_EXAMPLE = "https://www.example.com or https://example.com:8443"


def web_origin(item: str, what: str = "origin") -> str:
    """``item`` as a web origin: ``scheme://host[:port]``, http or https, lower case.

    Only an origin reaches a ``Content-Security-Policy`` header: no path (a lone ``/`` is
    dropped), query, fragment, user name, wildcard or any character a host name cannot hold.

    Raises
    ------
    ConfigError
        Naming ``what`` and ``item``, with an example of an origin.
    """
    import ipaddress

    text = item.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
        host = parts.hostname or ""
        if port == 0:
            raise ValueError(port)
        if parts.netloc.startswith("["):
            ipaddress.IPv6Address(host)
        elif not _HOST_NAME.fullmatch(host):
            raise ValueError(host)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or parts.path not in ("", "/") \
            or parts.query or parts.fragment or "?" in text or "#" in text or parts.username is not None:
        raise ConfigError(
            f"{what} {item!r} is not a web origin; write it as http(s)://host with an optional port and "
            f"nothing after it, e.g. {ORIGIN_EXAMPLE}"
        )
    netloc = f"[{host}]" if parts.netloc.startswith("[") else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")


def web_origins(text: str, what: str = "origin") -> tuple[str, ...]:
    """Web origins (:func:`web_origin`) from text, comma- or space-separated; each once, in order."""
    return tuple(dict.fromkeys(web_origin(item, what) for item in text.replace(",", " ").split()))
