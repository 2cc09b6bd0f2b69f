"""The load test's short form: a minute of Locust against ``slotwise serve`` (2 gunicorn workers) on
PostgreSQL with Redis rate limits and a running worker; no 5xx, no invariant violation, no lost
booking (``benchmarks/loadtest.py`` measures the full form, ``make loadtest``)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import skip_or_fail_in_ci

ROOT = Path(__file__).resolve().parents[1]


def _needs_postgres_and_redis() -> None:
    import psycopg
    import redis
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    try:
        psycopg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False),
                        connect_timeout=3).close()
    except psycopg.Error as exc:
        skip_or_fail_in_ci(f"PostgreSQL not reachable for the load test: {type(exc).__name__}")
    try:
        redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
                             socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail_in_ci(f"Redis not reachable for the load test: {type(exc).__name__}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_minute_of_load_ends_clean(tmp_path):
    # Only look: importing Locust here would let gevent patch this process's ssl and threads.
    if importlib.util.find_spec("locust") is None:
        skip_or_fail_in_ci("Locust is not installed (the dev extra has it)")
    _needs_postgres_and_redis()
    out = tmp_path / "results.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "loadtest.py"), "--workers", "2", "--duration", "45",
         "--users", "8", "--invitations", "1500", "--json", str(out)],
        capture_output=True, text=True, timeout=840, cwd=ROOT,
    )
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    assert result["server_errors"] == []
    assert result["invariant_violations"] == []
    assert result["lost"] == []
    assert result["booked"] > 0, "the load should have booked something"
    assert result["links_ran_out_after_s"] is None, "the run should have had links to the end"
    assert "/i/[token]/confirm" in result["routes"]
    # Where the host's CPU went: Locust and PostgreSQL share the cores with the server.
    assert result["server_cpu_s"] > 0 and result["locust_cpu_s"] > 0 and result["postgres_cpu_s"] > 0, result
    for route, figures in result["routes"].items():
        # The server's own time for each route, beside Locust's, and never above it (Locust rounds).
        assert figures["server_p50"] <= figures["server_p95"] <= figures["server_p99"], route
        assert figures["server_p95"] <= figures["p95"] * 1.05 + 1, (route, figures)
    assert run.returncode == 0, run.stderr[-3000:]


def test_percentiles_are_nearest_rank():
    loadtest = _loadtest_module()
    hundred = [float(v) for v in range(1, 101)]
    assert [loadtest._percentile(hundred, q) for q in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert loadtest._percentile([7.0], 99) == 7.0
    stats = {"/a": {"p95": 10.0}, "/b": {"p95": 3.0}}
    loadtest._with_server_times(stats, {"/a": [4.0, 1.0, 2.0, 3.0], "/gone": [1.0]})
    assert stats == {"/a": {"p95": 10.0, "server_p50": 2.0, "server_p95": 4.0, "server_p99": 4.0}, "/b": {"p95": 3.0}}


def _loadtest_module():
    spec = importlib.util.spec_from_file_location("loadtest_module", ROOT / "benchmarks" / "loadtest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(workers: int, users: int, rps: float, page_p95: float, confirm_p95: float, **problems) -> dict:
    routes = {"/i/[token]": {"p95": page_p95}, "/i/[token]/confirm": {"p95": confirm_p95},
              "/api/v1/meetings": {"p95": 500.0}}  # the API has no latency target
    return {"workers": workers, "threads": 4, "users": users, "rps": rps, "routes": routes,
            "server_errors": [], "invariant_violations": [], "lost": [], "links_ran_out_after_s": None, **problems}


def test_the_summary_names_the_most_served_and_the_most_within_the_targets():
    loadtest = _loadtest_module()
    runs = [_run(1, 1, 22.0, 15, 28), _run(1, 2, 43.0, 29, 59), _run(1, 4, 70.0, 52, 75),
            _run(2, 8, 75.0, 80, 120, server_errors=["500 on /i/x"])]
    assert loadtest.target_misses(runs[1]) == []
    assert loadtest.target_misses(runs[2]) == ["/i/[token] p95 52 ms (target 30)",
                                               "/i/[token]/confirm p95 75 ms (target 60)"]
    assert loadtest.summary(runs) == ("Most served without errors: 70.0 rps (1 × 4, 4 users). "
                                      "Targets held up to 43.0 rps (1 × 4, 2 users).")
    assert loadtest.summary(runs[2:3]).endswith("The latency targets held in no run.")
    assert loadtest.summary(runs[3:]).startswith("No run ended clean")
    # A run whose customers used up the links before the end stood at a lower load: left out.
    short = _run(2, 8, 90.0, 20, 40, links_ran_out_after_s=31.0)
    assert loadtest.summary([*runs, short]) == loadtest.summary(runs)
