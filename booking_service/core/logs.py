"""Structured logs: one line per event, ``key=value`` text or JSON, each with its request id.

``configure(level, fmt)`` is called once by the ``slotwise`` commands that run a service. The web
layer sets :data:`request_id` for the time of each request, so every line logged while serving
it, by Slotwise or a library, names the request (``request_id=...``) and can be matched with the
``X-Request-ID`` header of its response and the proxy's own log.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys

#: The id of the request being served on this thread (``"-"`` outside a request).
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` from :data:`request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, object]:
    fields: dict[str, object] = {
        "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "request_id": getattr(record, "request_id", "-"),
        "message": record.getMessage(),
    }
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str)


class TextFormatter(logging.Formatter):
    """``time level logger message key=value ...``: readable on a terminal, still parseable."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        head = f"{fields.pop('time')} {str(fields.pop('level')).upper():7} {fields.pop('logger')}: {fields.pop('message')}"
        error = fields.pop("error", None)
        tail = " ".join(f"{k}={json.dumps(v, default=str) if isinstance(v, str) and (' ' in v or not v) else v}"
                        for k, v in fields.items())
        return f"{head} {tail}" + (f"\n{error}" if error else "")


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Send every logger's records to standard error, one structured line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
