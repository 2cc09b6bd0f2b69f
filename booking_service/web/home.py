"""The service's root URL: a short page saying what this is, for anyone who opens it without a link."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """What the booking service is, and where customers' links come from."""
    return render_template("home/index.html")
