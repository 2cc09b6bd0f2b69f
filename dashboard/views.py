"""Small view helpers shared by the dashboard pages: messages, time text, charts.

No data access and no rules here: only how things look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import altair as alt
import pandas as pd
import streamlit as st

from booking_service import display

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


def slot_heatmap(starts: pd.Series, zone: str, interval_minutes: int = 60) -> alt.Chart:
    """Day x time-of-day heatmap of slot start times, wall clock in ``zone``.

    Parameters
    ----------
    starts : Series of datetime64[ns, UTC]
        Available start instants.
    zone : str
        Zone whose wall clock the axes show.
    interval_minutes : int
        Height of one cell (start times are grouped by hour by default).
    """
    local = pd.DatetimeIndex(starts).tz_convert(zone)
    minutes = (local.hour * 60 + local.minute) // interval_minutes * interval_minutes
    table = pd.DataFrame(
        {
            "day": local.strftime("%a %d %b"),
            "order": local.normalize().tz_localize(None),
            "time": [f"{m // 60:02d}:{m % 60:02d}" for m in minutes],
        }
    )
    counts = table.groupby(["order", "day", "time"], as_index=False).size().rename(columns={"size": "slots"})
    days = list(dict.fromkeys(counts.sort_values("order")["day"]))
    return (
        alt.Chart(counts)
        .mark_rect()
        .encode(
            x=alt.X("day:O", sort=days, title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("time:O", title=f"start ({zone})", sort="ascending"),
            color=alt.Color("slots:Q", scale=alt.Scale(scheme="greens"), title="slots"),
            tooltip=["day", "time", "slots"],
        )
        .properties(height=max(160, 14 * counts["time"].nunique()))
    )
