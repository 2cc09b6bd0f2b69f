"""The README's configuration table lists exactly the variables the code reads, with their defaults."""

from __future__ import annotations

import re
from pathlib import Path

from booking_service.core import config

ROOT = Path(__file__).resolve().parents[3]


def _read_by_code() -> set[str]:
    source = Path(config.__file__).read_text()
    return set(re.findall(r'env(?:\.get\(|, )"([A-Z][A-Z0-9_]+)"', source))


def _in_readme() -> dict[str, str]:
    """Variable -> default cell of each row of the README's Configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        for name in names:
            rows[name] = cells[1]
    return rows


def test_every_variable_the_code_reads_is_in_the_readme_and_no_other():
    code, readme = _read_by_code(), set(_in_readme())
    assert code - readme == set(), "variables read by core/config.py but missing from the README table"
    assert readme - code == set(), "variables in the README table that core/config.py does not read"


def test_the_readme_gives_the_defaults_the_code_uses():
    readme = _in_readme()
    defaults = config.Settings()
    simple = {
        "BOOKING_PAGE_RATE_LIMIT": defaults.booking_page_rate_limit,
        "BOOKING_CONFIRM_RATE_LIMIT": defaults.booking_confirm_rate_limit,
        "API_RATE_LIMIT": defaults.api_rate_limit,
        "DEFAULT_ZONE": defaults.default_zone,
        "DASHBOARD_PORT": str(defaults.dashboard_port),
        "RATELIMIT_STORAGE_URI": defaults.ratelimit_storage_uri,
        "CALENDAR_MAX_AGE_MINUTES": str(defaults.calendar_max_age_minutes),
        "CALENDAR_REFRESH_BUDGET_SECONDS": f"{defaults.calendar_refresh_budget_seconds:g}",
        "CALENDAR_MAX_MB": str(defaults.calendar_max_mb),
        "CALENDAR_DEADLINE_SECONDS": f"{defaults.calendar_deadline_seconds:g}",
        "SMTP_DEADLINE_SECONDS": f"{defaults.smtp_deadline_seconds:g}",
        "WORKER_BUDGET_SECONDS": f"{defaults.worker_budget_seconds:g}",
        "SESSION_IDLE_MINUTES": str(defaults.session_idle_minutes),
        "WEBHOOK_TIMEOUT_SECONDS": f"{defaults.webhook_timeout_seconds:g}",
        "SLOT_HOLD_MINUTES": str(defaults.slot_hold_minutes),
        "CHANGE_CUTOFF_HOURS": str(defaults.change_cutoff_hours),
        "MAX_RESCHEDULES": str(defaults.max_reschedules),
        "BOOKING_WORKERS": str(defaults.booking_workers),
        "BOOKING_THREADS": str(defaults.booking_threads),
        "TRUSTED_PROXIES": str(defaults.trusted_proxies),
        "LOG_LEVEL": defaults.log_level.lower(),
        "LOG_FORMAT": defaults.log_format,
        "OUTBOX_MAX_AGE_SECONDS": f"{defaults.outbox_max_age_seconds:g}",
        "SLOTWISE_VAR_DIR": str(defaults.var_dir),
        "MAIL_FROM": defaults.mail_from,
    }
    wrong = {name: (readme[name], value) for name, value in simple.items() if f"`{value}`" != readme[name]}
    assert wrong == {}, "README default differs from the code's (README, code)"
