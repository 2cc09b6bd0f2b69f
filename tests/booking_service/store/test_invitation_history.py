"""The invitation history table, read from the database on both backends, and the demand
analysis that runs on it."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import planner
from booking_service.store.db import session_scope
from booking_service.store.loader import load_invitation_history, load_organisation
from booking_service.store.models import Invitation, Meeting, PromotedSlot, ResourcePool, Room, TeamMember
from planner.analytics.demand import HISTORY_COLUMNS

UTC = dt.UTC
MON = dt.datetime(2026, 11, 2, 9, tzinfo=UTC)  # a Monday


def _at(days: float) -> dt.datetime:
    return MON + dt.timedelta(days=days)


def _fill(engine) -> dict[str, int]:
    """Seven invitations, one of each fate, created over two weeks."""
    with session_scope(engine) as s:
        ann, bob = TeamMember(name="Ann", zone="Europe/London"), TeamMember(name="Bob", zone="Europe/London")
        room = Room(name="Blue", zone="Europe/London", capacity=6)
        pool = ResourcePool(name="Sales")
        pool.members.extend([ann, bob])
        s.add_all([ann, bob, room, pool])
        s.flush()
        ids: dict[str, int] = {}

        def invite(key: str, created: float, status: str, **fields) -> Invitation:
            inv = Invitation(
                token_hash=key.ljust(64, "x"), customer_name=key, customer_email=f"{key}@example.com",
                subject="Demo", duration_minutes=60, frame_start=_at(created).date(),
                frame_end=_at(created + 6).date(), zone="Europe/London", status=status,
                created_at=_at(created), **fields,
            )
            inv.members.append(ann)
            s.add(inv)
            return inv

        def book(inv: Invitation, booked: float, start: float, **fields) -> None:
            s.add(Meeting(invitation=inv, start=_at(start), end=_at(start) + dt.timedelta(hours=1),
                          uid=f"{inv.customer_name}@test", customer_name=inv.customer_name,
                          customer_email=inv.customer_email, created_at=_at(booked), **fields))

        promoted = invite("promoted", 0, "scheduled", promote=True)
        promoted.promoted_slots.append(PromotedSlot(rank=1, start=_at(2), end=_at(2) + dt.timedelta(hours=1)))
        book(promoted, 0.5, 2)
        more = invite("more", 1, "scheduled", promote=True)
        more.promoted_slots.append(PromotedSlot(rank=1, start=_at(3), end=_at(3) + dt.timedelta(hours=1)))
        book(more, 1.25, 4)
        moved = invite("moved", 2, "scheduled", promote=True)
        moved.promoted_slots.append(PromotedSlot(rank=1, start=_at(5), end=_at(5) + dt.timedelta(hours=1)))
        book(moved, 2.5, 5, reschedule_count=1)
        plain = invite("plain", 7, "scheduled")
        plain.pools.append(pool)
        plain.rooms.append(room)
        book(plain, 8, 10)
        invite("cancelled", 7.5, "cancelled", cancelled_at=_at(8.5))
        invite("expired", 8, "expired")
        invite("active", 9, "active")
        s.flush()
        ids.update(ann=ann.id, bob=bob.id, room=room.id)
    return ids


def test_history_has_one_row_per_invitation_with_its_fate(engine):
    ids = _fill(engine)
    with session_scope(engine) as s:
        history = load_invitation_history(s)
    assert list(history.columns) == list(HISTORY_COLUMNS)
    by_status = history.groupby("status").size().to_dict()
    assert by_status == {"active": 1, "cancelled": 1, "expired": 1, "scheduled": 4}
    assert history["booked_from"].fillna("-").tolist() == [
        "promoted", "more times", "-", "not promoted", "-", "-", "-"
    ]
    for column in ("created_at", "booked_at", "meeting_start", "cancelled_at", "expired_at"):
        assert str(history[column].dtype) == "datetime64[ns, UTC]", column
    first = history.iloc[0]
    assert first["created_at"] == pd.Timestamp(MON)
    assert first["booked_at"] == pd.Timestamp(_at(0.5))
    assert first["meeting_start"] == pd.Timestamp(_at(2))
    # Expired at the end of its frame: midnight after frame_end (Nov 16) in London, on GMT then.
    expired = history[history["status"] == "expired"].iloc[0]
    assert expired["expired_at"] == pd.Timestamp("2026-11-17 00:00", tz="UTC")
    assert history[history["status"] == "cancelled"].iloc[0]["cancelled_at"] == pd.Timestamp(_at(8.5))
    plain = history.iloc[3]
    assert plain["pools"] == ((str(ids["ann"]), str(ids["bob"])),)
    assert plain["rooms"] == (str(ids["room"]),)


def test_the_demand_analysis_runs_on_the_loaded_history(engine):
    _fill(engine)
    with session_scope(engine) as s:
        org = load_organisation(s, invitation_status=None, meeting_status=None)
    history = org.invitation_history
    flow = planner.invitation_flow(history, zone="Europe/London")
    assert flow.to_dict("records") == [
        {"week": dt.date(2026, 11, 2), "created": 3, "booked": 3, "expired": 0, "cancelled": 0},
        {"week": dt.date(2026, 11, 9), "created": 4, "booked": 1, "expired": 0, "cancelled": 1},
        {"week": dt.date(2026, 11, 16), "created": 0, "booked": 0, "expired": 1, "cancelled": 0},
    ]
    sources = planner.booking_sources(history).set_index("source")["bookings"].to_dict()
    assert sources == {"promoted": 1, "more times": 1, "not promoted": 1}
    assert planner.time_to_booking(history)["bookings"].sum() == 4
    shapes = planner.request_shapes(history, top=2)
    assert shapes["invitations"].tolist() == [6, 1]
    supply = planner.weekly_supply(org, shapes, now=MON, weeks=2)
    assert set(supply["shape"]) == {"S1", "S2"} and (supply["supply"] >= 0).all()
