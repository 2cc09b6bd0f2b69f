"""The demo seed: a realistic organisation, deterministic, and never mixed into existing data."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import func, select

from booking_service.seed import DatabaseNotEmpty, seed_demo
from booking_service.store.loader import load_planner_inputs
from booking_service.store.models import BusyBlock, HoursOverride, Resource, ResourcePool

from .factories import SECRET_KEY

TODAY = dt.date(2026, 11, 23)


def _seed(session, **kwargs):
    summary = seed_demo(session, secret_key=SECRET_KEY, seed=kwargs.pop("seed", 7), today=TODAY, **kwargs)
    session.commit()
    return summary


def test_demo_organisation_is_realistic(session):
    summary = _seed(session)
    inputs = load_planner_inputs(session)
    members = inputs.resources[inputs.resources["kind"] == "member"]
    rooms = inputs.resources[inputs.resources["kind"] == "room"]
    assert len(members) >= 12 and summary.members == len(members)
    assert members["zone"].nunique() >= 3
    # At least one zone with a half-hour offset from UTC.
    offsets = {ZoneInfo(z).utcoffset(dt.datetime(2026, 12, 1)) for z in members["zone"]}
    assert any(o.total_seconds() % 3600 for o in offsets)
    assert len(rooms) == 5 and rooms["capacity"].nunique() >= 3
    assert session.scalar(select(func.count()).select_from(ResourcePool)) == 2
    # Eight weeks of busy time, with recurring daily blocks (same local time on many days).
    busy = inputs.busy
    assert busy["start"].min() >= pd.Timestamp(TODAY, tz="UTC") - pd.Timedelta(days=1)
    assert busy["end"].max() <= pd.Timestamp(TODAY + dt.timedelta(days=57), tz="UTC")
    assert (busy["end"].max() - busy["start"].min()).days >= 50
    per_member_week = len(busy[busy["resource_id"].isin(members["resource_id"])]) / len(members) / 8
    assert 10 <= per_member_week <= 30
    first = members.iloc[0]
    local = busy[busy["resource_id"] == first["resource_id"]]["start"].dt.tz_convert(first["zone"])
    assert local.dt.strftime("%H:%M").value_counts().iloc[0] >= 20, "expected a recurring stand-up or lunch"
    # All-day absences are per-date overrides marking a member unavailable.
    absences = session.scalars(select(HoursOverride).where(HoursOverride.start_minute.is_(None))).all()
    assert absences
    assert summary.busy_blocks == session.scalar(select(func.count()).select_from(BusyBlock))


def test_seed_is_deterministic(tmp_path):
    from sqlalchemy.orm import Session

    from booking_service.store.db import make_engine
    from tests.conftest import create_schema

    frames = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        create_schema(engine)
        with Session(engine) as session:
            _seed(session, seed=11)
            inputs = load_planner_inputs(session)
            frames.append((inputs.resources, inputs.hours, inputs.busy, inputs.pools))
        engine.dispose()
    for left, right in zip(*frames, strict=True):
        pd.testing.assert_frame_equal(left, right)


def test_seed_refuses_a_database_with_data_unless_reset(session):
    _seed(session)
    names = session.scalars(select(Resource.name).order_by(Resource.id)).all()
    with pytest.raises(DatabaseNotEmpty, match="Use --reset"):
        seed_demo(session, secret_key=SECRET_KEY, today=TODAY)
    session.rollback()
    _seed(session, seed=99, reset=True)
    assert session.scalars(select(Resource.name).order_by(Resource.id)).all() != names
