"""The loader's per-invitation reads: restricted to some resources, busy time inside a window."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
from sqlalchemy import select

from booking_service.store.db import session_scope
from booking_service.store.loader import load_busy, load_hours, load_overrides, load_resources, load_tables
from booking_service.store.models import (
    BusyBlock,
    CalendarConnection,
    HoursOverride,
    Invitation,
    Meeting,
    Reservation,
    Room,
    SlotHold,
    TeamMember,
    WorkingHours,
)
from planner.tables import Tables, prepare

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)


def _h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _fill(engine) -> list[int]:
    """Eleven members (ids with one and two digits), busy blocks and one reservation."""
    with session_scope(engine) as s:
        members = [TeamMember(name=f"M{i}", zone="Europe/Berlin") for i in range(11)]
        room = Room(name="Blue", zone="Europe/Berlin", capacity=6)
        s.add_all([*members, room])
        s.flush()
        ids = [m.id for m in members]
        connection = CalendarConnection(resource_id=ids[0], kind="demo", name="demo")
        s.add(connection)
        s.flush()
        for rid in ids:
            s.add(WorkingHours(resource_id=rid, weekday=0, start_minute=540, end_minute=1020))
        s.add(HoursOverride(resource_id=ids[10], date=dt.date(2026, 12, 24)))
        s.add(HoursOverride(resource_id=ids[1], date=dt.date(2026, 12, 25), start_minute=600, end_minute=660))
        # Stored out of order; the last ends exactly where the window starts (half-open: out).
        for rid, start, end in [
            (ids[10], _h(3), _h(4)),
            (ids[1], _h(2), _h(2.5)),
            (ids[10], _h(1), _h(2)),
            (ids[8], _h(1), _h(1.25)),
            (ids[1], _h(-2), _h(0)),
        ]:
            s.add(BusyBlock(connection_id=connection.id, resource_id=rid, start=start, end=end))
        invitation = Invitation(
            token_hash="b" * 64, customer_name="C", customer_email="c@example.com", subject="Intro",
            duration_minutes=60, frame_start=T0.date(), frame_end=T0.date(), zone="Europe/Berlin",
            status="scheduled",
        )
        meeting = Meeting(
            invitation=invitation, start=_h(1), end=_h(2), uid="m1", customer_name="C", customer_email="c@example.com"
        )
        meeting.reservations.append(Reservation(resource_id=ids[10], start=_h(1), end=_h(2.25)))
        s.add(meeting)
    return ids


def test_busy_is_restricted_bounded_and_sorted(engine):
    ids = _fill(engine)
    wanted = [ids[1], ids[8], ids[10]]
    with session_scope(engine) as s:
        busy = load_busy(s, T0, _h(3.5), resource_ids=wanted)
        every = load_busy(s)
    expected = pd.DataFrame(
        {
            # Sorted by resource id as text ("10" before "2"), then start; at equal starts the
            # calendar block comes before the reservation.
            "resource_id": [str(ids[10]), str(ids[10]), str(ids[10]), str(ids[1]), str(ids[8])],
            "start": [_h(1), _h(1), _h(3), _h(2), _h(1)],
            "end": [_h(2), _h(2.25), _h(4), _h(2.5), _h(1.25)],
            "source": ["calendar", "reservation", "calendar", "calendar", "calendar"],
        }
    )
    expected = expected.sort_values(["resource_id", "start"], kind="stable").reset_index(drop=True)
    expected["start"] = pd.to_datetime(expected["start"], utc=True).astype("datetime64[ns, UTC]")
    expected["end"] = pd.to_datetime(expected["end"], utc=True).astype("datetime64[ns, UTC]")
    pd.testing.assert_frame_equal(busy, expected, check_dtype=False)
    assert str(busy["start"].dtype) == str(busy["end"].dtype) == "datetime64[ns, UTC]"
    # Without bounds or restriction: every row, with the block that ends at T0.
    assert len(every) == 6
    assert every["start"].min() == pd.Timestamp(_h(-2))


def test_busy_of_nothing_is_an_empty_typed_table(engine):
    ids = _fill(engine)
    with session_scope(engine) as s:
        none = load_busy(s, _h(100), _h(101), resource_ids=ids)
        no_ids = load_busy(s, resource_ids=[])
    for table in (none, no_ids):
        assert table.empty and list(table.columns) == ["resource_id", "start", "end", "source"]
        assert str(table["start"].dtype) == "datetime64[ns, UTC]"


def test_tables_restricted_to_resources(engine):
    ids = _fill(engine)
    wanted = [ids[1], ids[10]]
    with session_scope(engine) as s:
        resources = load_resources(s, resource_ids=wanted)
        hours = load_hours(s, resource_ids=wanted)
        overrides = load_overrides(s, resource_ids=wanted)
        all_resources = load_resources(s)
    assert resources["resource_id"].tolist() == [str(ids[1]), str(ids[10])]
    assert len(all_resources) == 12
    assert sorted(hours["resource_id"].tolist()) == sorted([str(ids[1]), str(ids[10])])
    by_id = overrides.set_index("resource_id")
    assert by_id.loc[str(ids[1]), "start"] == 600 and pd.isna(by_id.loc[str(ids[10]), "start"])


def _as_tables(session, wanted: list[int], start, end, **busy_options):
    """What the DataFrame loaders give for ``wanted``, through the planner's own checks."""
    only = [str(i) for i in wanted if i in set(load_resources(session, resource_ids=wanted)["resource_id"].astype(int))]
    return prepare(
        load_resources(session, resource_ids=wanted),
        load_hours(session, resource_ids=wanted),
        load_busy(session, start, end, resource_ids=wanted, **busy_options),
        load_overrides(session, resource_ids=wanted),
        only=only,
    )


def _assert_same_tables(got: Tables, expected: Tables) -> None:
    assert got.lookup == expected.lookup
    for field in dataclasses.fields(Tables):
        if field.name == "lookup":
            continue
        a, b = getattr(got, field.name), getattr(expected, field.name)
        if field.name.startswith("busy_"):
            continue  # compared as a set of blocks below: the planner does not need them sorted
        assert a.tolist() == b.tolist(), field.name
    blocks = sorted(zip(got.busy_res.tolist(), got.busy_start.tolist(), got.busy_end.tolist(), strict=True))
    assert blocks == sorted(zip(expected.busy_res.tolist(), expected.busy_start.tolist(), expected.busy_end.tolist(),
                                strict=True))  # fmt: skip


def test_prepared_tables_are_what_the_planner_makes_of_the_frames(engine):
    """``load_tables`` builds the planner's tables straight from the rows: the same as ``prepare``
    on the DataFrame loaders, in the order asked, with an inactive resource left out, holds and
    a skipped meeting as ``load_busy`` reads them, and the limits of those limited."""
    ids = _fill(engine)
    with session_scope(engine) as s:
        member = s.get(TeamMember, ids[8])
        member.max_meetings_day = 2
        s.get(TeamMember, ids[3]).active = False
        s.add(WorkingHours(resource_id=ids[10], weekday=0, start_minute=480, end_minute=500))  # sorts first
        s.add(HoursOverride(resource_id=ids[10], date=dt.date(2026, 12, 21), start_minute=900, end_minute=960))
        s.add(HoursOverride(resource_id=ids[10], date=dt.date(2026, 12, 21), start_minute=600, end_minute=700))
        holder = s.scalars(select(Invitation)).one()
        meeting = s.scalars(select(Meeting)).one()
        other = Invitation(
            token_hash="c" * 64, customer_name="D", customer_email="d@example.com", subject="Intro",
            duration_minutes=60, frame_start=T0.date(), frame_end=T0.date(), zone="Europe/Berlin",
        )  # fmt: skip
        s.add(other)
        s.flush()
        for invitation, hours in ((holder, 5), (other, 6)):
            s.add(SlotHold(invitation_id=invitation.id, resource_id=ids[1], slot_start=_h(hours), start=_h(hours),
                           end=_h(hours + 1), expires_at=_h(10)))  # fmt: skip
        holder_id, meeting_id = holder.id, meeting.id
    wanted = [ids[10], ids[3], ids[1], ids[8]]  # not sorted; ids[3] is inactive
    variants = [
        {},
        {"holds_at": _h(0)},
        {"holds_at": _h(0), "holder": holder_id},
        {"holds_at": _h(11)},  # every hold has expired
        {"skip_meeting": meeting_id},
    ]
    with session_scope(engine) as s:
        for options in variants:
            tables, limits = load_tables(s, [str(i) for i in wanted], T0, _h(12), **options)
            _assert_same_tables(tables, _as_tables(s, wanted, T0, _h(12), **options))
            assert tables.ids.tolist() == [str(ids[10]), str(ids[1]), str(ids[8])]
            assert limits["resource_id"].tolist() == [str(ids[8])]
            assert limits["max_meetings_day"].tolist() == [2]
        # The variants differ where they should: two holds, one of them the holder's; the reservation.
        counts = {i: load_tables(s, [str(x) for x in wanted], T0, _h(12), **o)[0].busy_res.size
                  for i, o in enumerate(variants)}  # fmt: skip
        assert counts[1] == counts[0] + 2 and counts[2] == counts[0] + 1 and counts[3] == counts[0]
        assert counts[4] == counts[0] - 1
        nobody, no_limits = load_tables(s, [str(ids[3])], T0, _h(12))
        assert nobody.n == 0 and nobody.busy_res.size == 0 and no_limits.empty
