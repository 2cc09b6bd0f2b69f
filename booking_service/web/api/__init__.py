"""The JSON API, ``/api/v1``: its own blueprint, apart from the customer's pages.

Built with APIFlask, which makes the OpenAPI 3.1 document from the code (the routes, their
marshmallow schemas, the auth): served at ``/api/v1/openapi.json``, with interactive docs at
``/api/v1/docs``. :func:`init_app` wires it into the booking service: the blueprint, its
per-key rate limit, its exemption from CSRF (it has no cookies, only bearer keys), and its
errors as RFC 9457 problem details (:mod:`.problems`).

- :mod:`.auth`: API keys, scopes, per-key rate limits;
- :mod:`.schemas`: request and response schemas;
- :mod:`.views`: the routes.
"""

from __future__ import annotations

import copy
import functools
import warnings
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import request
from werkzeug.exceptions import HTTPException

from .auth import auth
from .problems import PROBLEM_MIMETYPE, describe, problem, validation_errors

__all__ = ["API_PREFIX", "DOCS_PATH", "SPEC_PATH", "init_app", "is_api_request", "http_problem", "unexpected_problem"]

# APIFlask registers a response schema that is also nested in another (a meeting and a page of
# meetings) under a second name, and apispec warns about it; the document stays valid.
warnings.filterwarnings("ignore", message=".*has already been added to the spec", category=UserWarning,
                        module="apispec.*")

API_PREFIX = "/api/v1"
SPEC_PATH = f"{API_PREFIX}/openapi.json"
DOCS_PATH = f"{API_PREFIX}/docs"
API_TITLE = "Slotwise API"
API_VERSION = "1"
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' "
    "https://cdn.jsdelivr.net; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
"""The interactive docs (Swagger UI) load their script from a CDN: allowed on that page only."""


def is_api_request() -> bool:
    """Whether the current request is for the API (its errors are problem details, not pages)."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def http_problem(error: HTTPException):
    """An HTTP error (unknown route, wrong method, rate limit ...) as a problem."""
    code = error.code or 500
    details = {
        400: "the request body is not valid JSON; send a JSON object with Content-Type: application/json",
        404: "there is nothing at this address; the API's routes are listed at " + SPEC_PATH,
        405: f"{request.method} is not allowed here; the allowed methods are in " + SPEC_PATH,
        429: "too many requests with this API key; wait a minute, or ask for a higher API_RATE_LIMIT",
    }
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem(code, details.get(code, error.description or error.name), headers=headers)


def unexpected_problem(error: Exception):
    """Anything unforeseen: 500, with no stack trace or SQL in the answer (the log keeps them)."""
    return problem(500, "something went wrong on our side; try again in a moment")


def _api_error(error: HTTPError):
    if error.status_code in (400, 422) and isinstance(error.detail, dict) and error.detail:
        errors = validation_errors(error.detail)
        return problem(422, describe(errors), errors, headers=error.headers)
    detail = {
        401: "no valid API key: send 'Authorization: Bearer sw_...' with a key made in the dashboard",
        403: "this API key lacks the scope this needs (read, write or webhooks); make a key with it",
    }.get(error.status_code, error.message or "")
    return problem(error.status_code, detail, headers=error.headers)


def _docs_policy(view):
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        response = view(*args, **kwargs)
        if isinstance(response, str):
            from flask import make_response

            response = make_response(response)
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response
    return wrapped


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "properties": {
                "field": {"type": "string"}, "location": {"type": "string"}, "message": {"type": "string"},
            },
        }},
    },
}
COMMON_PROBLEMS = {"401": "No valid API key", "429": "Too many requests with this key (API_RATE_LIMIT)"}


def _problems_in_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Every error answer of every operation is a problem (``application/problem+json``)."""
    spec = copy.deepcopy(spec)
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if operation.get("security"):
                for code, text in COMMON_PROBLEMS.items():
                    responses.setdefault(code, {"description": text})
                responses.setdefault("403", {"description": "The API key lacks the scope this needs"})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The body is not JSON"})
            for code, response in responses.items():
                if str(code)[0] in "45":
                    response["content"] = {PROBLEM_MIMETYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for name in ("HTTPError", "ValidationError"):
        spec["components"]["schemas"].pop(name, None)
    return spec


def init_app(app: APIFlask) -> None:
    """Register the API on the booking service (an :class:`~apiflask.APIFlask` app)."""
    from .views import bp

    if "openapi.docs" in app.view_functions:
        app.view_functions["openapi.docs"] = _docs_policy(app.view_functions["openapi.docs"])
    app.register_blueprint(bp)
    app.error_processor(_api_error)
    auth.error_processor(_api_error)
    app.spec_processor(_problems_in_spec)
