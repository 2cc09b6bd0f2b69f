"""What charts of the planner's tables share: the colours of time and readable date labels.

The dashboard (Altair) and the notebooks (matplotlib) draw the same categories of time in the
same colours, so a chart reads the same wherever it is seen. Plain data and string formatting:
no plotting library is imported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

__all__ = ["COLORS", "SEQUENTIAL", "date_labels"]

#: Colours of the categories of time and of the what-if and demand charts.
COLORS = {
    "booked": "#2456d6",
    "busy": "#9aa5b8",
    "free": "#3fae6a",
    "outside": "#e6e8ec",  # outside working/opening hours
    "fully busy": "#d6455d",  # in hours, not a minute free
    "meetings": "#2456d6",  # meetings that fit (packed)
    "starts": "#a9bdf0",  # slot starts, second to meetings
    "demand": "#e08a2c",
    "supply": "#3fae6a",
    "short": "#d6455d",  # demand above supply
    "created": "#2456d6",
    "expired": "#9aa5b8",
    "cancelled": "#d6455d",
}
#: Matplotlib / Vega colour scheme for shares (0 = none, 1 = all).
SEQUENTIAL = "Blues"


def date_labels(dates: Iterable[dt.date | pd.Timestamp], *, weekday: bool = False) -> list[str]:
    """Short labels for dates on an axis: "07 Dec", with the year when the range crosses one.

    >>> date_labels([dt.date(2026, 12, 28), dt.date(2027, 1, 4)])
    ['28 Dec 2026', '04 Jan 2027']
    >>> date_labels([dt.date(2026, 12, 7)], weekday=True)
    ['Mon 07 Dec']
    """
    values = [pd.Timestamp(d) for d in dates]
    years = {v.year for v in values}
    pattern = ("%a " if weekday else "") + "%d %b" + (" %Y" if len(years) > 1 else "")
    return [v.strftime(pattern) for v in values]
