"""Liveness and readiness for load balancers and ``slotwise up``."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from .extensions import db_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 when the service can reach its database."""
    db_session().execute(text("SELECT 1"))
    return jsonify(status="ok")
