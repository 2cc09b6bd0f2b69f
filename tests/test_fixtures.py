"""The test set-up itself: PostgreSQL skips on a laptop without it, but fails the run in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET = "tests/booking_service/store/test_models.py::test_instants_come_back_tz_aware_utc"


def _run(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", TARGET],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.slow
def test_unreachable_postgres_skips_outside_ci():
    result = _run("")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
    assert "PostgreSQL not reachable at postgresql+psycopg://nobody@127.0.0.1:1/none" in result.stdout


@pytest.mark.slow
def test_unreachable_postgres_fails_in_ci():
    result = _run("true")
    assert result.returncode == 1, result.stdout
    assert "CI=true requires it" in result.stdout
