"""The clock: the current instant, always tz-aware UTC (DESIGN.md "Time")."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """The current instant, tz-aware UTC."""
    return dt.datetime.now(dt.UTC)
