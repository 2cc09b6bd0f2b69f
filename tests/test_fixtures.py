"""The test set-up itself: what lives outside the repository (PostgreSQL, the real-world calendar
corpus) skips its tests on a laptop without it, but fails the run in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_TARGET = "tests/booking_service/store/test_models.py::test_instants_come_back_tz_aware_utc"
CORPUS_TARGET = (
    "tests/booking_service/calendars/test_ics_corpus.py::test_malformed_calendar_is_refused_with_line_and_property"
)


def _run(target: str, ci: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", target],
        cwd=ROOT, env={**os.environ, **env, "CI": ci}, capture_output=True, text=True, timeout=120,
    )


def _run_without_postgres(ci: str) -> subprocess.CompletedProcess[str]:
    return _run(POSTGRES_TARGET, ci, TEST_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")


def _run_without_corpus(ci: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return _run(CORPUS_TARGET, ci, TEST_ICS_CORPUS=str(tmp_path / "no-corpus"))


@pytest.mark.slow
def test_unreachable_postgres_skips_outside_ci():
    result = _run_without_postgres("")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "PostgreSQL not reachable at postgresql+psycopg://nobody@127.0.0.1:1/none" in result.stdout


@pytest.mark.slow
def test_unreachable_postgres_fails_in_ci():
    result = _run_without_postgres("true")
    assert result.returncode == 1, result.stdout
    assert "CI=true requires it" in result.stdout


@pytest.mark.slow
def test_missing_ics_corpus_skips_outside_ci(tmp_path):
    result = _run_without_corpus("", tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert f"no real-world calendar corpus at {tmp_path / 'no-corpus'}" in result.stdout


@pytest.mark.slow
def test_missing_ics_corpus_fails_in_ci(tmp_path):
    result = _run_without_corpus("true", tmp_path)
    assert result.returncode == 1, result.stdout
    assert "CI=true requires it" in result.stdout


def test_a_killed_runs_postgres_database_is_dropped_by_the_next_run(postgres_url):
    """A run killed before its teardown leaves its database; the next run on this host drops it,
    and never one whose run is still going (its pid, in the name, is alive)."""
    from sqlalchemy import create_engine, text

    from .conftest import _TEST_DB_PREFIX, _admin_url, _drop_orphans

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan, alive = f"{_TEST_DB_PREFIX}{int(gone.stdout)}_deadbeef", f"{_TEST_DB_PREFIX}{os.getpid()}_0a11fe11"
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in (orphan, alive):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            _drop_orphans(connection)
            left = set(connection.scalars(text("SELECT datname FROM pg_database")))
            assert orphan not in left and alive in left
            assert postgres_url.rsplit("/", 1)[1] in left  # this run's own
    finally:
        with admin.connect() as connection:
            for name in (orphan, alive):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


MODELS = "tests/booking_service/store/test_models.py"
ONLY_ON_POSTGRES = MODELS + "::test_overlapping_reservations_of_one_resource_are_refused_on_postgres"


def _collected(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", MODELS],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_one_database_runs_each_test_there_and_a_test_only_on_the_other_there_too():
    """Mutation testing runs on one database (tools/mutation.py): the rest of each test's runs are left out."""
    both = _collected().stdout.splitlines()
    only_sqlite = _collected(SLOTWISE_TEST_DATABASES="sqlite").stdout.splitlines()
    assert MODELS + "::test_instants_come_back_tz_aware_utc[postgresql]" in both
    assert MODELS + "::test_instants_come_back_tz_aware_utc[sqlite]" in only_sqlite
    assert MODELS + "::test_instants_come_back_tz_aware_utc[postgresql]" not in only_sqlite
    assert ONLY_ON_POSTGRES + "[postgresql]" in only_sqlite
    assert ONLY_ON_POSTGRES + "[sqlite]" not in only_sqlite
    runs = sum(1 for line in both if "::" in line)
    assert sum(1 for line in only_sqlite if "::" in line) == runs // 2  # each test once
    assert f"{runs // 2} deselected" in only_sqlite[-1]


def test_a_test_only_on_one_database_skips_on_the_other_with_its_reason():
    result = _run(ONLY_ON_POSTGRES + "[sqlite]", "")
    assert result.returncode == 0, result.stdout
    assert "SKIPPED" in result.stdout and "SQLite relies on the booking path's write lock" in result.stdout


def test_an_unknown_database_to_run_on_is_refused_naming_the_variable():
    result = _collected(SLOTWISE_TEST_DATABASES="sqlite,mysql")
    assert result.returncode == 4, result.stdout + result.stderr
    assert ("SLOTWISE_TEST_DATABASES='sqlite,mysql': name some of sqlite, postgresql, separated by commas"
            in result.stdout + result.stderr)
