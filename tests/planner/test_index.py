"""OrgTables: the organisation's tables indexed by resource answer like the oracle.

Each instance's tables get decoy resources with hours, overrides and busy blocks
(interleaved, unsorted) that no request names, so that slicing by resource is
exercised; the answers must equal the oracle's on the request's own tables.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from planner.index import OrgTables, _segmented_cummax
from tests.planner.oracle import Oracle
from tests.planner.test_properties import SETTINGS, SMALL, engine_rows, instances, oracle_rows


def with_decoys(tables, request, rnd) -> None:
    """Add decoy resources and shuffle busy rows so that the index has to sort them."""
    first = request.frame_start
    for i in range(2):
        rid = f"zz{i}"
        tables.member(rid, "Asia/Kolkata", windows=((0, 1440),))
        tables.override(rid, first, 60, 120)
        for _ in range(5):
            a = pd.Timestamp(first, tz="UTC") + pd.Timedelta(minutes=rnd.randint(-1440, 4 * 1440))
            tables.block(rid, a, a + pd.Timedelta(minutes=rnd.randint(1, 600)))
    rnd.shuffle(tables.busy)


@SETTINGS
@given(instances(), st.randoms(use_true_random=False))
def test_org_tables_match_the_oracle(instance, rnd) -> None:
    tables, request = instance
    expected = oracle_rows(Oracle(*tables.frames()), request)
    with_decoys(tables, request, rnd)
    org = OrgTables.load(*tables.frames())
    assert engine_rows(org.find_slots(request)) == expected
    assert org.count_slots(request) == len(expected)


@SMALL
@given(instances(), st.randoms(use_true_random=False))
def test_org_tables_check_slot_matches_the_oracle(instance, rnd) -> None:
    tables, request = instance
    oracle = Oracle(*tables.frames())
    available = {s.start: s for s in oracle.slots(request)}
    candidates = oracle.candidates(request)
    with_decoys(tables, request, rnd)
    org = OrgTables.load(*tables.frames())
    for start in rnd.sample(candidates, min(6, len(candidates))) + sorted(available)[:3]:
        check = org.check_slot(request, start=pd.Timestamp(start))
        assert check.available == (start in available), check.reason
        if check.available:
            assert (check.pool_members, check.rooms) == (
                available[start].pool_members,
                available[start].rooms,
            )


def test_subset_reads_only_the_requested_rows_within_the_window() -> None:
    org = planner.generate_organisation(30, 5, dt.date(2026, 10, 1), 60, seed=3)
    index = OrgTables.load(org.resources, org.hours, org.busy, org.overrides)
    ids = ("m0003", "r001")
    lo = pd.Timestamp("2026-10-20", tz="UTC").value
    hi = pd.Timestamp("2026-10-27", tz="UTC").value
    sub = index.subset(ids, lo, hi)
    assert sub.ids.tolist() == list(ids)
    busy = org.busy[org.busy["resource_id"].isin(ids)]
    overlapping = busy[(busy["end"].array.asi8 > lo) & (busy["start"].array.asi8 < hi)]
    got = {(sub.ids[r], s, e) for r, s, e in zip(sub.busy_res, sub.busy_start, sub.busy_end, strict=True)}
    want = {
        (r, s.value, e.value)
        for r, s, e in overlapping[["resource_id", "start", "end"]].itertuples(index=False)
    }
    assert want <= got  # every block that can matter is there
    assert len(got) <= len(want) + 2 * len(ids)  # and little else (a long block may reach in)
    assert len(sub.hours_res) == len(org.hours[org.hours["resource_id"].isin(ids)])


def test_unknown_resources_are_refused() -> None:
    org = planner.generate_organisation(5, 1, dt.date(2026, 10, 1), 7, seed=3)
    index = OrgTables.load(org.resources, org.hours, org.busy, org.overrides)
    try:
        index.subset(("nobody",))
    except planner.PlannerInputError as exc:
        assert "nobody" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unknown resource must be refused")


@given(st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=6), max_size=6))
def test_segmented_cummax_restarts_per_segment(segments) -> None:
    values = np.array([v for s in segments for v in s], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in segments]))).astype(np.int64)
    want = np.concatenate([np.maximum.accumulate(np.array(s, dtype=np.int64)) for s in segments if s] or
                          [np.zeros(0, np.int64)])  # fmt: skip
    assert np.array_equal(_segmented_cummax(values, offsets), want)


def slot_arrays(n: int) -> tuple[np.ndarray, ...]:
    """Starts, ends (int64 ns UTC) and the object columns of ``n`` slots, as the slot table gets them."""
    start = np.arange(n, dtype=np.int64) * 900 * 10**9 + pd.Timestamp("2026-10-20", tz="UTC").value
    end = start + 45 * 60 * 10**9
    objs = [np.empty(n, dtype=object) for _ in range(3)]
    values = ((("a",),), ((("b", "c"),),), (("r1",), (), ("r1", "r2")))  # members, pools, rooms
    for i in range(3):
        objs[i][:] = [values[i][j % len(values[i])] for j in range(n)]
    return start, end, *objs


def slot_table(n: int) -> pd.DataFrame:
    """What the slot table of :func:`slot_arrays` holds, built column by column."""
    start, end, *objs = slot_arrays(n)
    utc = "datetime64[ns, UTC]"
    return pd.DataFrame({"start": pd.Series(pd.to_datetime(start, utc=True), dtype=utc),
                         "end": pd.Series(pd.to_datetime(end, utc=True), dtype=utc),
                         **{c: pd.Series(o, dtype=object) for c, o in zip(planner.SLOT_COLUMNS[2:], objs, strict=True)}})  # fmt: skip


@pytest.mark.parametrize("n", [3, 0])
def test_slot_table_shortcut_equals_the_public_constructor(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner import slots

    public = slots._slot_frame_public(*slot_arrays(n))
    pd.testing.assert_frame_equal(public, slot_table(n))

    def unused(*args) -> None:
        raise AssertionError("the installed pandas has the shortcut: the public constructor is not needed")

    # The shortcut itself builds the table, not the fallback behind it.
    monkeypatch.setattr(slots, "_slot_frame_public", unused)
    fast = slots._slot_frame(*slot_arrays(n))
    pd.testing.assert_frame_equal(fast, public)
    assert list(fast.columns) == list(planner.SLOT_COLUMNS)
    assert fast.index.equals(pd.RangeIndex(n))


@pytest.mark.parametrize("n", [3, 0])
def test_slot_table_falls_back_to_the_public_constructor_on_a_pandas_without_the_shortcut(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from planner import slots

    monkeypatch.delattr(pd.DataFrame, "_from_arrays")
    pd.testing.assert_frame_equal(slots._slot_frame(*slot_arrays(n)), slot_table(n))
