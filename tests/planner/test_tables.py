"""Preparing the input tables: id lookups and conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import planner
from planner import tables


@pytest.mark.parametrize("size", [5, 5000])  # dict lookup for small tables, Arrow for large ones
def test_resource_rows_finds_positions_and_flags_unknown_ids(size: int) -> None:
    known = np.array(["m1", "m2", "r1"], dtype=object)
    values = ["r1", "m1", "zz", "m2", "m1"] * (size // 5)
    ids = pd.Series(values, dtype="str")
    rows = tables.resource_rows(known, ids, "busy.resource_id", strict=False)
    assert rows[:5].tolist() == [2, 0, -1, 1, 0] and len(rows) == size
    with pytest.raises(planner.PlannerInputError, match="busy.resource_id names resource 'zz'"):
        tables.resource_rows(known, ids, "busy.resource_id")


def test_timestamps_ns_accepts_any_unit_and_zone() -> None:
    stamps = pd.Series(pd.to_datetime(["2026-11-02 10:00"]).tz_localize("Europe/London").as_unit("s"))
    assert tables.timestamps_ns(stamps, "x").tolist() == [pd.Timestamp("2026-11-02 10:00", tz="UTC").value]
