"""What the app factory and the blueprints share: extensions, the request's session, the settings.

The factory (:mod:`booking_service.web.app`) initialises these on the app it builds; blueprints
import them from here, never from the factory, so the factory can import the blueprints without
a cycle.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..core.config import Settings
from ..services import embedding

log = logging.getLogger(__name__)

#: The blueprints whose pages other sites may show in a frame (the customer's).
EMBEDDABLE_BLUEPRINTS = ("booking", "manage")

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


def frame_origins(session: Session | None = None) -> tuple[str, ...]:
    """The origins that may frame this request's page: none outside the customer's pages.

    The deployment's ``EMBED_ALLOWED_ORIGINS`` and the organisation's list, read once per request
    (one primary-key read, so an admin's change applies from the next page on), with ``session``
    when the view has a transaction of its own (else the request's session). Should the
    database fail, the deployment's list alone applies: a frame is refused rather than a page.
    """
    if request.blueprint not in EMBEDDABLE_BLUEPRINTS:
        return ()
    if "frame_origins" not in g:
        settings = settings_of(current_app)
        try:
            g.frame_origins = embedding.allowed_origins(session or db_session(), settings)
        except SQLAlchemyError:
            log.warning("cannot read the organisation's embedding origins; using EMBED_ALLOWED_ORIGINS only",
                        exc_info=True)
            g.frame_origins = settings.embed_allowed_origins
    return g.frame_origins
