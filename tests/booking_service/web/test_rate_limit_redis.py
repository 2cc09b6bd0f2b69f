"""Rate limits shared through Redis hold across booking-service processes (the scale-out shape)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from booking_service.web.app import create_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)


def _config(database_url: str, tmp_path, prefix: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "BOOKING_PAGE_RATE_LIMIT": "4 per minute",
    }


OTHER_WORKER = """
import sys, json
from booking_service.web.app import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
print(",".join(str(client.get("/i/" + "x" * 43).status_code) for _ in range(2)))
"""


def test_limit_is_shared_between_processes(sqlite_url, tmp_path):
    _redis_or_skip()
    import json

    config = _config(sqlite_url, tmp_path, f"slotwise-test-{uuid.uuid4().hex}")
    # Another worker process spends half of this client's allowance ...
    other = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, json.dumps(config)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert other.stdout.strip() == "404,404"
    # ... so this process may serve only the other half before refusing.
    client = create_app(config).test_client()
    codes = [client.get("/i/" + "x" * 43).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
