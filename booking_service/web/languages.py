"""Which language and clock a customer page speaks in, and keeping them in its links.

The order: the ``lang`` parameter of the URL (the customer switched), the invitation's language
(the scheduler picked it), the browser's ``Accept-Language``, then English. ``clock=12|24``
switches the language's own clock. Both parameters, once in the URL, stay in every link and form
of the customer's pages (:func:`keep_in_links`).
"""

from __future__ import annotations

from flask import Flask, abort, g, has_request_context, request, url_for

from ..core import i18n
from ..core.i18n import gettext as _

CUSTOMER_BLUEPRINTS = ("booking", "manage")


def _from_url(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        if name == "lang":
            abort(400, description=_("That language is not offered. Pick one of: %(languages)s.", languages=", ".join(allowed)))
        abort(400, description=_("That clock is not known. Use clock=12 or clock=24."))
    return raw


def choose(stored: str | None = None) -> str:
    """Set the request's language from the URL, ``stored`` (the invitation's), the browser; return it."""
    language = (
        _from_url("lang", i18n.LANGUAGES)
        or (stored if i18n.is_language(stored) else None)
        or request.accept_languages.best_match(i18n.LANGUAGES)
        or i18n.DEFAULT_LANGUAGE
    )
    g.language = language
    g.clock = _from_url("clock", i18n.CLOCKS)
    i18n.set_current(language, g.clock)
    return language


def switch_url(**changes: str) -> str:
    """This page's URL with ``lang`` or ``clock`` set to another value."""
    return url_for(request.endpoint, **(request.view_args or {}), **{**request.args.to_dict(), **changes})


def init_app(app: Flask) -> None:
    """Choose a language on every request; keep ``lang``/``clock`` in customer links; offer both to templates."""
    i18n.compile_catalogues()
    # Pages translate as the mails do (``outbox``): Jinja's i18n extension over the same catalogues,
    # in the language the request chose (a context variable read per message, no lookups).
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)

    @app.before_request
    def _choose() -> None:
        if request.blueprint in CUSTOMER_BLUEPRINTS or request.endpoint is None:
            choose()
        else:
            i18n.set_current(i18n.DEFAULT_LANGUAGE, None)

    @app.teardown_request
    def _back_to_default(exc: BaseException | None) -> None:
        # The language is a context variable of the thread serving the request: what runs there
        # next (another request sets its own; a test after the test client's request) starts in English.
        i18n.set_current(i18n.DEFAULT_LANGUAGE, None)

    @app.url_defaults
    def _keep_in_links(endpoint: str, values: dict) -> None:
        if not has_request_context() or endpoint.split(".")[0] not in CUSTOMER_BLUEPRINTS:
            return
        for name in ("lang", "clock"):
            if name in request.args and request.args.get(name) and name not in values:
                values[name] = request.args[name]

    @app.context_processor
    def _language_context() -> dict:
        language = i18n.current()
        return {
            "language": language,
            "languages": [(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
            "clock": i18n.clock(),
            "switch_url": switch_url,
        }
