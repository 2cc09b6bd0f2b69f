"""View helpers: the slot heatmap groups start times by local day and hour."""

from __future__ import annotations

import pandas as pd

from dashboard.views import slot_heatmap


def test_heatmap_counts_starts_per_local_day_and_hour():
    starts = pd.Series(
        pd.DatetimeIndex(
            [
                "2026-03-28T09:00Z", "2026-03-28T09:30Z", "2026-03-28T10:15Z",  # Saturday, GMT
                "2026-03-29T09:00Z",  # Sunday: clocks went forward, 10:00 BST
                "2026-03-29T23:30Z",  # Monday 00:30 BST
            ]
        )
    )
    data, spec = slot_heatmap(starts, "Europe/London")
    assert data.to_dict("records") == [
        {"day": "Sat 28 Mar", "time": "09:00", "slots": 2},
        {"day": "Sat 28 Mar", "time": "10:00", "slots": 1},
        {"day": "Sun 29 Mar", "time": "10:00", "slots": 1},
        {"day": "Mon 30 Mar", "time": "00:00", "slots": 1},
    ]
    assert spec["encoding"]["x"]["sort"] == ["Sat 28 Mar", "Sun 29 Mar", "Mon 30 Mar"]
    assert spec["height"] >= 200
