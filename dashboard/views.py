"""Small view helpers shared by the dashboard pages: messages, time text, charts.

No data access and no rules here: only how things look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import streamlit as st

from booking_service.core import display

FLASH_KEY = "_flash"


def flash(message: str, kind: str = "success") -> None:
    """Remember a message to show after the next rerun (``st.rerun`` drops what was drawn)."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flash() -> None:
    """Show and forget the messages remembered by :func:`flash`."""
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        getattr(st, kind)(message)


def when(start: dt.datetime, end: dt.datetime, zone: str) -> str:
    """``"Tuesday 1 December 2026, 09:30–10:00 (Europe/Berlin)"``."""
    return display.format_when(start, end, zone)


def short_when(instant: dt.datetime | None, zone: str) -> str:
    """``"Tue 01 Dec 09:30"`` in ``zone`` (the zone's name is in the column header), or ``"—"``."""
    if instant is None:
        return "—"
    return f"{display.local(instant, zone):%a %d %b %H:%M}"


def frame_text(start: dt.date, end: dt.date) -> str:
    """``"1 Dec – 14 Dec 2026"``."""
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


def names(items: Iterable[object]) -> str:
    """Comma-separated ``name`` attributes."""
    return ", ".join(getattr(i, "name", str(i)) for i in items)


def slot_heatmap(starts: pd.Series, zone: str, interval_minutes: int = 60) -> tuple[pd.DataFrame, dict]:
    """Day x time-of-day heatmap of slot start times, wall clock in ``zone``, for ``st.vega_lite_chart``.

    A plain Vega-Lite spec rather than an Altair chart: the wizard redraws it on every change,
    and Altair's schema validation would cost more than finding the slots.

    Parameters
    ----------
    starts : Series of datetime64[ns, UTC]
        Available start instants.
    zone : str
        Zone whose wall clock the axes show.
    interval_minutes : int
        Height of one cell (start times are grouped by hour by default).

    Returns
    -------
    (DataFrame, dict)
        ``day``, ``time``, ``slots`` per cell, and the Vega-Lite spec.
    """
    local = pd.DatetimeIndex(starts).tz_convert(zone)
    # Group on plain integers, then format one label per cell rather than per slot.
    keys = pd.DataFrame(
        {
            "order": local.tz_localize(None).normalize(),
            "minute": (local.hour * 60 + local.minute) // interval_minutes * interval_minutes,
        }
    )
    counts = keys.groupby(["order", "minute"], as_index=False).size().rename(columns={"size": "slots"})
    counts["day"] = counts["order"].dt.strftime("%a %d %b")
    counts["time"] = [f"{m // 60:02d}:{m % 60:02d}" for m in counts["minute"]]
    days = list(dict.fromkeys(counts["day"]))
    spec = {
        "mark": {"type": "rect", "tooltip": True},
        "height": max(200, 24 * int(counts["time"].nunique())),
        "encoding": {
            "x": {"field": "day", "type": "ordinal", "sort": days, "title": None, "axis": {"labelAngle": -45}},
            "y": {"field": "time", "type": "ordinal", "sort": "ascending", "title": None},
            "color": {"field": "slots", "type": "quantitative", "scale": {"scheme": "greens"}, "title": "slots"},
        },
    }
    return counts[["day", "time", "slots"]], spec
