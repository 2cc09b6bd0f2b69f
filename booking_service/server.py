"""The production server of the booking service: gunicorn, run in this process by ``slotwise serve``.

Each worker process builds its own app (and so its own database engine and connection pool) after
the fork; threads serve requests within a worker (gunicorn's ``gthread`` worker). Metrics of all
workers are summed through prometheus-client's multi-process mode: the master makes a folder for
their files, tells the workers through ``PROMETHEUS_MULTIPROC_DIR`` and clears a worker's files
when it exits.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

from gunicorn.app.base import BaseApplication


def resolve_workers(workers: int | str) -> int:
    """``auto`` is one worker per CPU this process may use; a number is itself."""
    if workers == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return int(workers)


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class BookingServer(BaseApplication):
    """gunicorn with its options given here, not read from a command line or a config file."""

    def __init__(self, options: dict[str, object]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer gunicorns added are skipped on older ones
                self.cfg.set(key, value)

    def load(self):
        from .web.app import create_app

        app = create_app()
        # Everything built so far (modules, the app, CLDR data) lives as long as the worker: move
        # it out of the collector's sight, so that a full collection walks only what requests made
        # (about 50 ms less each, every few hundred requests).
        gc.collect()
        gc.freeze()
        return app


def run(host: str, port: int, *, workers: int, threads: int, log_level: str = "info") -> None:
    """Serve the booking service on ``host:port`` until SIGINT or SIGTERM."""
    metrics_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="slotwise-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        BookingServer({
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            # A booking page waits at most a few seconds for calendars; anything near a minute is stuck.
            "timeout": 60,
            "graceful_timeout": 20,
            "keepalive": 5,
            "loglevel": log_level.lower(),
            # Every request already has one structured line from the app, with its request id.
            "accesslog": None,
            "child_exit": _child_exit,
            "proc_name": "slotwise-booking",
            # gunicorn 27's control socket sits at one path per user: several servers would clash.
            "control_socket_disable": True,
        }).run()
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
