"""Settings: defaults, environment overrides, and one clear line for each bad value."""

from __future__ import annotations

import pytest

from booking_service.core.config import ConfigError, load_settings
from booking_service.store.db import check_connection, make_engine


def test_defaults_use_sqlite_under_var(tmp_path):
    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'slotwise.db'}"
    assert settings.booking_port == 5000 and settings.dashboard_port == 8501
    assert settings.smtp_url is None
    # The secret key is generated once and then kept.
    assert load_settings({"SLOTWISE_VAR_DIR": str(tmp_path)}).secret_key == settings.secret_key
    assert len(settings.secret_key) >= 40


def test_environment_overrides(tmp_path):
    settings = load_settings(
        {
            "SLOTWISE_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://u@db/x",
            "BOOKING_PORT": "8000",
            "DASHBOARD_PORT": "9000",
            "SECRET_KEY": "k",
            "SMTP_URL": "smtp://mail:25",
        }
    )
    assert (settings.database_url, settings.booking_port, settings.dashboard_port) == (
        "postgresql://u@db/x",
        8000,
        9000,
    )
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.smtp_url == "smtp://mail:25"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BOOKING_PORT": "http"}, "BOOKING_PORT='http' is not a whole number"),
        ({"DASHBOARD_PORT": "70000"}, "DASHBOARD_PORT=70000 is not a TCP port"),
        ({"DEFAULT_ZONE": "Mars/Olympus"}, "'Mars/Olympus' is not an IANA time zone"),
        ({"MAIL_FROM": "Slotwise"}, "MAIL_FROM='Slotwise' has no address with a domain"),
        ({"MAIL_FROM": "Slotwise <no-reply@>"}, "has no address with a domain; use e.g."),
        ({"CALENDAR_MAX_MB": "ten"}, "CALENDAR_MAX_MB='ten' is not a whole number"),
        ({"CALENDAR_MAX_MB": "0"}, "CALENDAR_MAX_MB=0 must be at least 1; set it to e.g. 10"),
        ({"CALENDAR_DEADLINE_SECONDS": "a minute"}, "CALENDAR_DEADLINE_SECONDS='a minute' is not a number of seconds; set it to e.g. 60"),
        ({"SMTP_DEADLINE_SECONDS": "0"}, "SMTP_DEADLINE_SECONDS=0 must be more than 0 seconds; set it to e.g. 30"),
        ({"WORKER_BUDGET_SECONDS": "-5"}, "WORKER_BUDGET_SECONDS=-5 must be more than 0 seconds; set it to e.g. 120"),
        ({"WORKER_BUDGET_SECONDS": "inf"}, "WORKER_BUDGET_SECONDS=inf must be more than 0 seconds"),
        ({"CALENDAR_REFRESH_BUDGET_SECONDS": "abc"}, "CALENDAR_REFRESH_BUDGET_SECONDS='abc' is not a number of seconds; set it to e.g. 0.5"),
        ({"CALENDAR_REFRESH_BUDGET_SECONDS": "-1"}, "CALENDAR_REFRESH_BUDGET_SECONDS=-1 must be 0 or more seconds"),
        ({"SESSION_IDLE_MINUTES": "-5"}, "SESSION_IDLE_MINUTES=-5 must be at least 1; set it to e.g. 60"),
        ({"CALENDAR_MAX_AGE_MINUTES": "-1"}, "CALENDAR_MAX_AGE_MINUTES=-1 must be 0 or more"),
        ({"PUBLIC_URL": "book.example.com"}, "PUBLIC_URL='book.example.com' is not a http or https URL; use e.g."),
        ({"PUBLIC_URL": "https://book.example.com:port"}, "PUBLIC_URL='https://book.example.com:port' is not a URL"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL='mysql://db/x' is not a SQLite or PostgreSQL URL"),
        ({"DATABASE_URL": "var/slotwise.db"}, "DATABASE_URL='var/slotwise.db' is not a SQLite or PostgreSQL URL"),
        ({"SMTP_URL": "mail.example.com"}, "SMTP_URL='mail.example.com' is not a smtp or smtp[+]starttls or smtps URL"),
        ({"RATELIMIT_STORAGE_URI": "redis:127.0.0.1"}, "RATELIMIT_STORAGE_URI='redis:127.0.0.1' is not a rate-limit storage"),
        ({"BOOKING_HOST": "http://0.0.0.0"}, "BOOKING_HOST='http://0.0.0.0' is not a host name or address"),
        ({"BOOKING_WORKERS": "many"}, "BOOKING_WORKERS='many' is not a number of processes; use e.g. 2, or 'auto'"),
        ({"BOOKING_WORKERS": "0"}, "BOOKING_WORKERS='0' is not a number of processes"),
        ({"BOOKING_THREADS": "0"}, "BOOKING_THREADS=0 must be at least 1"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES=-1 must be 0 or more"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not one of debug, info, warning, error"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not one of text, json"),
        ({"OUTBOX_MAX_AGE_SECONDS": "soon"}, "OUTBOX_MAX_AGE_SECONDS='soon' is not a number of seconds"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k", **env})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://root@localhost/x", "supports sqlite and postgresql"),
    ],
)
def test_bad_database_urls(url, message):
    with pytest.raises(ConfigError, match=message):
        make_engine(url)


def test_unreachable_database_is_one_line():
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigError) as info:
        check_connection(engine)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("cannot connect to the database postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_calendar_upload_limit(tmp_path):
    base = {"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}
    assert load_settings(base).calendar_max_mb == 10
    assert load_settings({**base, "CALENDAR_MAX_MB": "25"}).calendar_max_mb == 25


def test_deadlines_and_the_worker_budget(tmp_path):
    base = {"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}
    defaults = load_settings(base)
    assert (defaults.calendar_deadline_seconds, defaults.smtp_deadline_seconds, defaults.worker_budget_seconds) == (
        60, 30, 120
    )
    changed = load_settings(
        {**base, "CALENDAR_DEADLINE_SECONDS": "20", "SMTP_DEADLINE_SECONDS": "7.5", "WORKER_BUDGET_SECONDS": "45"}
    )
    assert (changed.calendar_deadline_seconds, changed.smtp_deadline_seconds, changed.worker_budget_seconds) == (
        20, 7.5, 45
    )
def test_meeting_change_settings(tmp_path):
    base = {"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}
    default = load_settings(base)
    assert (default.slot_hold_minutes, default.reminder_offsets_minutes) == (5, (1440, 60))
    assert (default.change_cutoff_hours, default.max_reschedules) == (24, 3)
    changed = load_settings({**base, "SLOT_HOLD_MINUTES": "10", "REMINDER_OFFSETS": "90m, 2d,1h",
                             "CHANGE_CUTOFF_HOURS": "0", "MAX_RESCHEDULES": "0"})
    assert (changed.slot_hold_minutes, changed.reminder_offsets_minutes) == (10, (2880, 90, 60))
    assert (changed.change_cutoff_hours, changed.max_reschedules) == (0, 0)
    assert load_settings({**base, "REMINDER_OFFSETS": ""}).reminder_offsets_minutes == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REMINDER_OFFSETS": "24h,soon"}, "REMINDER_OFFSETS='24h,soon': 'soon' is not an offset"),
        ({"REMINDER_OFFSETS": "0h"}, "is not an offset"),
        ({"SLOT_HOLD_MINUTES": "0"}, "SLOT_HOLD_MINUTES=0 must be at least 1"),
        ({"MAX_RESCHEDULES": "-1"}, "MAX_RESCHEDULES=-1 must be 0 or more"),
    ],
)
def test_bad_meeting_change_settings_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k", **env})


def test_workers_auto_and_https(tmp_path):
    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k", "BOOKING_WORKERS": "auto",
                              "PUBLIC_URL": "https://book.example.com/"})
    assert settings.booking_workers == "auto"
    assert settings.public_url == "https://book.example.com" and settings.https


def test_a_var_dir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "var").write_text("")
    with pytest.raises(ConfigError, match="SLOTWISE_VAR_DIR=.* is a file; point it at a folder"):
        load_settings({"SLOTWISE_VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "k"})


def test_embed_origins_are_read_as_origins(tmp_path):
    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k", "EMBED_ALLOWED_ORIGINS":
                              "https://WWW.Example.com/, http://127.0.0.1:8080 https://[::1]:9000,https://www.example.com"})
    assert settings.embed_allowed_origins == ("https://www.example.com", "http://127.0.0.1:8080", "https://[::1]:9000")
    assert load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k"}).embed_allowed_origins == ()


@pytest.mark.parametrize("origin", [
    "https://www.example.com/booking", "ftp://example.com", "www.example.com", "https://*.example.com",
    "https://example.com;script-src", "https://example.com:99999", "https://example.com:0", "https://example.com:x",
    "https://user@example.com", "https://example.com?x=1", "https://example.com#top", "https://", "https://[zz]",
    "https://exa_mple.com",
])
def test_a_bad_embed_origin_is_named_with_an_example(tmp_path, origin):
    with pytest.raises(ConfigError) as raised:
        load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), "SECRET_KEY": "k",
                       "EMBED_ALLOWED_ORIGINS": f"https://ok.example.com {origin}"})
    assert str(raised.value) == (
        f"EMBED_ALLOWED_ORIGINS entry {origin!r} is not a web origin; write it as http(s)://host with an optional "
        "port and nothing after it, e.g. https://www.example.com or https://example.com:8443")
