"""The booking service's Flask application factory.

``create_app(config)`` takes defaults, then the environment (through
:func:`booking_service.core.config.load_settings`), then the ``config`` mapping (tests). The web layer
is thin: blueprints in :mod:`booking_service.web` parse requests, call one service function and
render a template.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from flask import Flask, g, has_request_context, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from ..core import logs
from ..core.config import load_settings
from ..core.i18n import gettext as _
from ..store.db import get_engine, session_factory
from .api import (
    API_TITLE,
    API_VERSION,
    DOCS_PATH,
    SPEC_PATH,
    http_problem,
    init_app,
    is_api_request,
    unexpected_problem,
)
from .extensions import csrf, frame_origins, limiter, settings_of
from .languages import init_app as init_languages

log = logging.getLogger(__name__)
access_log = logging.getLogger("slotwise.access")

#: A request id a proxy passes in ``X-Request-ID`` is kept when it looks like one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
HSTS = "max-age=31536000; includeSubDomains"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the booking service.

    Parameters
    ----------
    config : mapping, optional
        Overrides, applied last. Keys named like the environment variables (``DATABASE_URL``,
        ``SECRET_KEY``, ``SMTP_URL``, ``PUBLIC_URL``, ...) override those settings too.
    """
    import os

    config = dict(config or {})
    env = dict(os.environ)
    env.update({k: str(v) for k, v in config.items() if isinstance(v, (str, int, float))})
    settings = load_settings(env)

    # APIFlask is Flask plus the JSON API's OpenAPI document; the customer's pages are plain
    # Flask blueprints and keep their HTML error pages (json_errors=False).
    app = APIFlask(__name__, title=API_TITLE, version=API_VERSION, spec_path=SPEC_PATH,
                   docs_path=DOCS_PATH,
                   docs_oauth2_redirect_path=None, json_errors=False)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SLOTWISE=settings,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        # Without a usable Redis, each process counts in memory rather than failing every page.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_STORAGE_OPTIONS=_storage_options(settings.ratelimit_storage_uri),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind HTTPS the cookie never travels over plain HTTP.
        SESSION_COOKIE_SECURE=settings.https,
        PREFERRED_URL_SCHEME="https" if settings.https else "http",
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = EmbeddableSessionInterface()
    app.config.update(config)
    app.config["SLOTWISE"] = settings

    engine = get_engine(settings.database_url)
    app.extensions["slotwise"] = {"engine": engine, "sessions": session_factory(engine)}

    if settings.trusted_proxies:
        # X-Forwarded-* from that many proxies in front: the client's address (rate limits, logs),
        # the scheme (Secure cookies, HSTS, https links) and host are the ones the client used.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    csrf.init_app(app)
    limiter.init_app(app)
    # The one Limiter object serves every app built in this process (tests build many): a new
    # app's storage starts as reachable, so that losing it is noticed (and logged) again.
    if hasattr(limiter, "_storage_dead"):
        limiter._storage_dead = False
    init_languages(app)

    _register_request_log(app)
    _register_blueprints(app)
    _register_error_pages(app)
    _register_security_headers(app)
    _register_server_timing(app)
    _register_session_teardown(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """One blueprint per user-facing flow, imported here so that importing the factory stays cheap."""
    from .booking import bp as booking_bp
    from .feeds import bp as feeds_bp
    from .health import bp as health_bp
    from .home import bp as home_bp
    from .manage import bp as manage_bp
    from .metrics import init_app as init_metrics

    init_metrics(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(booking_bp)
    app.register_blueprint(feeds_bp)
    init_app(app)
    app.register_blueprint(manage_bp)


def _storage_options(uri: str) -> dict[str, object]:
    # An unreachable Redis must cost a page well under a second before the in-memory fallback.
    if uri.startswith(("redis", "valkey")):
        return {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    return {}


def _register_request_log(app: Flask) -> None:
    """Every request gets an id (``X-Request-ID``, kept from a proxy) and one structured log line."""
    exempt = {"/healthz", "/readyz", "/metrics"}

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id_token = logs.request_id.set(g.request_id)
        g.request_log_start = time.perf_counter()

    @app.after_request
    def _log(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        start = g.get("request_log_start")
        if start is not None and request.path not in exempt:
            access_log.info(
                "%s %s %s", request.method, request.url_rule.rule if request.url_rule else request.path,
                response.status_code,
                extra={"method": request.method, "route": request.url_rule.rule if request.url_rule else None,
                       "status": response.status_code, "ms": round((time.perf_counter() - start) * 1000, 1),
                       "client": request.remote_addr},
            )
        return response

    @app.teardown_request
    def _forget(exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            logs.request_id.reset(token)


def _register_session_teardown(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


class EmbeddableSessionInterface(SecureCookieSessionInterface):
    """The session cookie, marked ``SameSite=None; Secure`` on a page other sites may frame.

    In a frame on another site the cookie (and with it the confirmation form's CSRF token) only
    travels when it is marked for cross-site use, which browsers allow on HTTPS only; elsewhere
    it keeps ``SESSION_COOKIE_SAMESITE`` (``Lax``).
    """

    @staticmethod
    def _cross_site(app: Flask) -> bool:
        return has_request_context() and settings_of(app).https and bool(frame_origins())

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if self._cross_site(app) else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return self._cross_site(app) or super().get_cookie_secure(app)


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        # The sites that may show the customer's pages in a frame: none by default.
        origins = frame_origins()
        framed = bool(origins)
        csp = CONTENT_SECURITY_POLICY
        if framed:
            csp = csp.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(origins))
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not framed:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure or app.config["SLOTWISE"].https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def _register_server_timing(app: Flask) -> None:
    """Every response says how long the server worked on it (W3C ``Server-Timing``).

    ``app`` is the wall time from the start of the request to the response, ``cpu`` the CPU time
    the request's thread spent in it (the difference is waiting: the database, the GIL, other
    processes). Browsers show both in their network panel; monitoring and the benchmark read them.
    """

    @app.before_request
    def _start_clock() -> None:
        g.request_clock = (time.perf_counter(), time.thread_time())

    @app.after_request
    def _server_timing(response):
        clock = g.get("request_clock")
        if clock is not None:
            wall = (time.perf_counter() - clock[0]) * 1000
            cpu = (time.thread_time() - clock[1]) * 1000
            response.headers["Server-Timing"] = f"app;dur={wall:.2f}, cpu;dur={cpu:.2f}"
        return response


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_template("errors/error.html", code=400, title=_("Form expired"),
                               message=_("This form has expired. Go back, reload the page and try again.")), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if is_api_request():
            return http_problem(error)
        titles = {400: _("Bad request"), 404: _("Not found"), 405: _("Not allowed"), 410: _("Gone"),
                  429: _("Too many requests")}
        messages = {
            404: _("This link is not valid. Check that you copied the whole link from your email."),
            429: _("Too many requests. Please wait a minute and try again."),
        }
        code = error.code or 500
        return render_template(
            "errors/error.html",
            code=code,
            title=titles.get(code, error.name),
            message=messages.get(code, error.description),
        ), code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # Never show a stack trace or SQL to a customer; the log keeps the details.
        log.exception("unhandled error")
        if is_api_request():
            return unexpected_problem(error)
        return render_template(
            "errors/error.html",
            code=500,
            title=_("Something went wrong"),
            message=_("Something went wrong on our side. Please try again in a moment."),
        ), 500
