"""Prometheus metrics at ``GET /metrics`` (prometheus-client).

Measured in the process that serves the request: request latency by route and method, responses
by route and status, confirmations by outcome (``booked``, ``unavailable``: a conflict, another
customer was first, ...). Read from the database at scrape time, so the same from any worker:
depth and age of the oldest due item of each queue (outbox, calendar writes, webhooks) and the
number of calendars whose last sync failed.

Under gunicorn (``slotwise serve``) every worker process writes its measurements to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multi-process mode, set up by the command) and
a scrape of any worker sums them all.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from ..services.backlog import backlog
from ..store.db import read_only_session

bp = Blueprint("metrics", __name__)

# Measurements of this process (in multi-process mode: files shared with the other workers).
_OWN = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "slotwise_http_request_duration_seconds", "Time to answer a request, by route",
    ["method", "route"], registry=_OWN,
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RESPONSES = Counter("slotwise_http_responses", "Responses, by route and status code",
                    ["method", "route", "status"], registry=_OWN)
CONFIRMS = Counter("slotwise_confirms", "Booking confirmations, by outcome", ["outcome"], registry=_OWN)
BOOKINGS = Counter("slotwise_bookings", "Meetings booked by customers", registry=_OWN)
CONFIRM_CONFLICTS = Counter(
    "slotwise_confirm_conflicts", "Confirmations that lost their time to another booking or hold", registry=_OWN,
)


def record_confirm(outcome: str) -> None:
    """Count one confirmation by its outcome (``booked``, ``unavailable``, ``already_scheduled``, ...)."""
    CONFIRMS.labels(outcome).inc()
    if outcome == "booked":
        BOOKINGS.inc()
    elif outcome == "unavailable":
        CONFIRM_CONFLICTS.inc()


class _Own:
    def collect(self):
        yield from _OWN.collect()


class _Backlog:
    """Queue depths and ages read from the database at scrape time."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def collect(self):
        depth = GaugeMetricFamily("slotwise_queue_depth", "Items waiting in a queue", labels=["queue"])
        age = GaugeMetricFamily("slotwise_queue_oldest_due_seconds",
                                "How long the oldest due item of a queue has waited", labels=["queue"])
        failing = GaugeMetricFamily("slotwise_calendar_sync_failing", "Calendars whose last sync failed")
        try:
            with read_only_session(self.engine) as session:
                state = backlog(session)
        except SQLAlchemyError:
            return
        for queue in state.queues:
            depth.add_metric([queue.name], queue.depth)
            age.add_metric([queue.name], queue.oldest_age_seconds)
        failing.add_metric([], state.calendars_failing)
        yield from (depth, age, failing)


def _route() -> str:
    # The rule, not the path: tokens in links must not become label values.
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    """Time every request and serve ``/metrics``."""

    @app.before_request
    def _start() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        start = g.get("metrics_start")
        if start is not None:
            route = _route()
            REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - start)
            RESPONSES.labels(request.method, route, str(response.status_code)).inc()
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus text format."""
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Own())
    registry.register(_Backlog(current_app.extensions["slotwise"]["engine"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
