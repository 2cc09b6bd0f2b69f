"""docs/deploy.md's commands, run as written on this machine's loopback.

Each ``sh`` block of the page is run by bash, with the example host names pointed at 127.0.0.1,
free ports for the example ports, a fresh PostgreSQL database and Redis database for the
many-host block, and ``slotwise`` from this environment. The ``pip install`` lines are the one
thing not run here: ``tests/test_packaging.py`` installs the built wheel into a fresh environment.
Commands that keep running (``up``, ``serve``, ``worker``, ``dashboard``) run in the background;
the block's later commands (``curl`` waits for them) and this test check that they answer.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from .conftest import skip_or_fail_in_ci
from .ports import free_port

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deploy.md"
LONG_RUNNING = re.compile(r"^slotwise (up|serve|worker|dashboard)\b")


def _blocks() -> dict[str, list[str]]:
    """The ``sh`` blocks by the heading above them."""
    blocks, heading = {}, None
    for part in re.split(r"^(## .+)$", DOC.read_text(), flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
        elif heading:
            for block in re.findall(r"```sh\n(.*?)```", part, re.S):
                blocks[heading] = [line for line in block.splitlines() if line.strip()]
    return blocks


def _script(lines: list[str], replacements: dict[str, str]) -> str:
    bindir = Path(sys.executable).parent
    out = ["set -euo pipefail", f'export PATH="{bindir}:$PATH"']
    for line in lines:
        for old, new in replacements.items():
            line = line.replace(old, new)
        if line.startswith("pip install"):
            out.append(f"true  # {line} (tests/test_packaging.py installs the wheel)")
        elif LONG_RUNNING.match(line):
            out.append(f"{line} >> services.log 2>&1 &")
        elif line.startswith("curl "):
            out.append(line.replace("curl -fsS", "curl -fsS --retry 120 --retry-all-errors --retry-delay 1 -o /dev/null"))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _answers(url: str, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _stop(process: subprocess.Popen) -> str:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
    return out


def _log(tmp_path: Path) -> str:
    log = tmp_path / "services.log"
    return log.read_text()[-4000:] if log.exists() else "(no output)"


def _env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SLOTWISE_", "PUBLIC_URL",
                                                                     "RATELIMIT_", "SECRET_KEY", "BOOKING_",
                                                                     "DASHBOARD_", "PROMETHEUS_"))}
    return {**keep, "HOME": str(tmp_path)}


def test_every_block_is_one_this_test_knows():
    assert set(_blocks()) == {"One host", "Many hosts"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_host(tmp_path):
    booking, board = free_port(), free_port()
    env = {**_env(tmp_path), "BOOKING_PORT": str(booking), "DASHBOARD_PORT": str(board)}
    script = _script(_blocks()["One host"], {"/srv/slotwise/var": str(tmp_path / "var")})
    process = subprocess.Popen(["bash", "-c", script + "wait\n"], env=env, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _answers(f"http://127.0.0.1:{booking}/readyz", timeout=400), _log(tmp_path)
        assert _answers(f"http://127.0.0.1:{board}/_stcore/health"), "the dashboard should answer"
        with urllib.request.urlopen(f"http://127.0.0.1:{booking}/", timeout=10) as response:
            assert "Slotwise booking" in response.read().decode()
    finally:
        output = _stop(process)
    assert "Created admin admin@example.com." in output


def _fresh_postgres() -> tuple[str, str]:
    psycopg = pytest.importorskip("psycopg")
    pytest.importorskip("redis")
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    name = f"slotwise_deploy_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        skip_or_fail_in_ci(f"PostgreSQL not reachable: {type(exc).__name__}")
    return admin.set(database=name, drivername="postgresql").render_as_string(hide_password=False), name


def _drop(name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    with psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_many_hosts(tmp_path):
    import redis

    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail_in_ci(f"Redis not reachable: {type(exc).__name__}")
    database_url, name = _fresh_postgres()
    web1, web2, board = free_port(), free_port(), free_port()
    replacements = {
        "postgresql://slotwise@db.internal:5432/slotwise": database_url,
        "redis://redis.internal:6379/0": redis_url,
        "web1.internal:5000": f"127.0.0.1:{web1}", "web2.internal:5001": f"127.0.0.1:{web2}",
        "--port 5000": f"--port {web1}", "--port 5001": f"--port {web2}", "--port 8501": f"--port {board}",
        "--host 0.0.0.0": "--host 127.0.0.1",
    }
    script = _script(_blocks()["Many hosts"], replacements)
    env = {**_env(tmp_path), "SLOTWISE_VAR_DIR": str(tmp_path / "var")}
    process = subprocess.Popen(["bash", "-c", script + "echo BLOCK-DONE\nwait\n"], env=env, cwd=tmp_path,
                               start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "BLOCK-DONE" in line:
                break
        assert "no problems found\n" in lines, "".join(lines)
        assert "BLOCK-DONE\n" in lines, "".join(lines)
        assert _answers(f"http://127.0.0.1:{board}/_stcore/health"), "the dashboard should answer"
        for port in (web1, web2):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
                assert b'"rate_limit_storage":{"status":"ok"}' in response.read()
            # Behind the TLS proxy the doc describes: HSTS on.
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        output = "".join(lines) + _stop(process)
        _drop(name)
    assert "Traceback" not in output + _log(tmp_path), output + _log(tmp_path)
