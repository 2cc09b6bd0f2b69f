"""The web layer: one blueprint per user-facing flow."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Import and register every blueprint (imported here so the factory stays cheap)."""
    from .booking import bp as booking_bp
    from .feeds import bp as feeds_bp
    from .health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(booking_bp)
    app.register_blueprint(feeds_bp)
