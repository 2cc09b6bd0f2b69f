"""What the app factory and the blueprints share: extensions, the request's session, the settings.

The factory (:mod:`booking_service.web.app`) initialises these on the app it builds; blueprints
import them from here, never from the factory, so the factory can import the blueprints without
a cycle.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from ..core.config import Settings

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def settings_of(app: Flask) -> Settings:
    """The resolved :class:`Settings` of ``app``."""
    return app.config["SLOTWISE"]


def db_session() -> Session:
    """The request's database session (opened on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["slotwise"]["sessions"]()
    return g.db_session
