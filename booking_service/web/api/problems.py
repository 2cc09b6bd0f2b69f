"""Errors of the JSON API as RFC 9457 problem details (``application/problem+json``).

Every error the API answers, whatever raised it (a validation error, a refused transition, an
unknown route, a rate limit), has the same shape::

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "customer email 'ada' is not an email address like ada@example.com",
     "errors": [{"field": "customer_email", "location": "json", "message": "..."}]}

``detail`` says what is wrong and what to do; ``errors`` names each field at fault.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, json

PROBLEM_MIMETYPE = "application/problem+json"


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A problem-details response."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _flatten(messages: Any, location: str, prefix: str = "") -> list[dict[str, str]]:
    """Marshmallow's nested ``{"field": ["message"]}`` as a flat list naming each field."""
    found: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            found += _flatten(value, location, name)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list | tuple):
                found += _flatten(item, location, prefix)
            else:
                found.append({"field": prefix or "body", "location": location, "message": str(item)})
    else:
        found.append({"field": prefix or "body", "location": location, "message": str(messages)})
    return found


def validation_errors(detail: Any) -> list[dict[str, str]]:
    """APIFlask's validation detail (``{"json": {"field": [...]}}``) as a list of field errors."""
    if not isinstance(detail, dict):
        return []
    errors: list[dict[str, str]] = []
    for location, messages in detail.items():
        errors += _flatten(messages, str(location))
    return errors


def describe(errors: list[dict[str, str]]) -> str:
    """One sentence from field errors, for ``detail``."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request is not valid"
