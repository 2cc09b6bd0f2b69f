"""The analyst's loader: one read-only call returns the organisation as planner tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from booking_service.core.config import ConfigError
from booking_service.store.db import make_engine, read_only_session, session_scope
from booking_service.store.loader import OrganisationData, open_organisation
from booking_service.store.models import (
    BusyBlock,
    CalendarConnection,
    HoursOverride,
    Invitation,
    Meeting,
    Reservation,
    ResourcePool,
    Room,
    TeamMember,
    WorkingHours,
)

UTC = dt.UTC


def _fill(engine) -> dict[str, int]:
    """A small organisation: two members in a pool, one room, one busy block, one meeting."""
    with session_scope(engine) as s:
        ada = TeamMember(name="Ada", email="ada@example.com", zone="Europe/Berlin")
        bob = TeamMember(name="Bob", email="bob@example.com", zone="America/New_York")
        room = Room(name="Blue", zone="Europe/Berlin", capacity=6)
        s.add_all([ada, bob, room])
        s.flush()
        s.add_all(
            [
                WorkingHours(resource_id=ada.id, weekday=0, start_minute=540, end_minute=1020),
                WorkingHours(resource_id=bob.id, weekday=1, start_minute=1320, end_minute=1560),
                HoursOverride(resource_id=ada.id, date=dt.date(2026, 12, 24)),
            ]
        )
        pool = ResourcePool(name="Sales", members=[ada, bob])
        s.add(pool)
        connection = CalendarConnection(resource_id=ada.id, kind="demo", name="demo")
        s.add(connection)
        s.flush()
        s.add(
            BusyBlock(
                connection_id=connection.id,
                resource_id=ada.id,
                start=dt.datetime(2026, 12, 1, 9, tzinfo=UTC),
                end=dt.datetime(2026, 12, 1, 10, tzinfo=UTC),
            )
        )
        invitation = Invitation(
            token_hash="a" * 64,
            customer_name="Cy",
            customer_email="cy@example.com",
            subject="Intro",
            duration_minutes=30,
            buffer_before_minutes=5,
            buffer_after_minutes=10,
            frame_start=dt.date(2026, 12, 1),
            frame_end=dt.date(2026, 12, 4),
            zone="Europe/Berlin",
            members=[ada],
            pools=[pool],
            rooms=[room],
        )
        booked = Invitation(
            token_hash="b" * 64,
            customer_name="Di",
            customer_email="di@example.com",
            subject="Review",
            duration_minutes=60,
            frame_start=dt.date(2026, 12, 1),
            frame_end=dt.date(2026, 12, 2),
            zone="Europe/Berlin",
            status="scheduled",
            members=[ada],
        )
        s.add_all([invitation, booked])
        s.flush()
        meeting = Meeting(
            invitation_id=booked.id,
            start=dt.datetime(2026, 12, 2, 10, tzinfo=UTC),
            end=dt.datetime(2026, 12, 2, 11, tzinfo=UTC),
            uid="m1@slotwise",
            customer_name="Di",
            customer_email="di@example.com",
        )
        s.add(meeting)
        s.flush()
        s.add(
            Reservation(
                meeting_id=meeting.id,
                resource_id=ada.id,
                start=dt.datetime(2026, 12, 2, 10, tzinfo=UTC),
                end=dt.datetime(2026, 12, 2, 11, tzinfo=UTC),
            )
        )
        return {"ada": ada.id, "bob": bob.id, "room": room.id, "pool": pool.id, "invitation": invitation.id}


def test_open_organisation_returns_every_table(database_url):
    engine = make_engine(database_url)
    ids = _fill(engine)
    engine.dispose()

    org = open_organisation(database_url)

    assert isinstance(org, OrganisationData)
    ada, bob, room = str(ids["ada"]), str(ids["bob"]), str(ids["room"])
    assert list(org.resources["resource_id"]) == [ada, bob, room]
    assert list(org.resources["kind"]) == ["member", "member", "room"]
    assert list(org.hours.itertuples(index=False, name=None)) == [(ada, 0, 540, 1020), (bob, 1, 1320, 1560)]
    assert org.overrides["start"].isna().all() and list(org.overrides["date"]) == [dt.date(2026, 12, 24)]
    busy = org.busy.sort_values("start")
    assert list(busy["source"]) == ["calendar", "reservation"]
    assert str(busy["start"].dtype) == "datetime64[ns, UTC]"
    assert busy["start"].iloc[1] == pd.Timestamp("2026-12-02 10:00", tz="UTC")
    assert set(org.pools["member_id"]) == {ada, bob}
    # Only the active invitation, with the fields a SlotRequest needs.
    assert len(org.invitations) == 1
    row = org.invitations.iloc[0]
    assert row["invitation_id"] == ids["invitation"]
    assert row["members"] == (ada,) and row["pools"] == ((ada, bob),) and row["rooms"] == (room,)
    assert (row["buffer_before_minutes"], row["buffer_after_minutes"], row["slot_interval_minutes"]) == (5, 10, 15)
    assert row["pool_ids"] == (str(ids["pool"]),)
    assert list(org.meetings["resource_ids"]) == [(ada,)]


def test_open_organisation_limits_busy_to_the_window(database_url):
    engine = make_engine(database_url)
    _fill(engine)
    engine.dispose()

    org = open_organisation(
        database_url,
        start=dt.datetime(2026, 12, 2, tzinfo=UTC),
        end=dt.datetime(2026, 12, 3, tzinfo=UTC),
    )

    assert list(org.busy["source"]) == ["reservation"]


def test_open_organisation_leaves_the_database_unchanged(sqlite_url):
    engine = make_engine(sqlite_url)
    _fill(engine)
    with engine.connect() as c:
        before = c.execute(select(func.count()).select_from(Invitation)).scalar_one()
    open_organisation(sqlite_url, invitation_status=None)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Invitation)).scalar_one() == before
    engine.dispose()


def test_read_only_session_refuses_writes_and_resets_the_connection(database_url):
    engine = make_engine(database_url)
    _fill(engine)
    with read_only_session(engine) as session:
        with pytest.raises(DBAPIError):
            session.execute(text("DELETE FROM busy_blocks"))
    # The pooled connection is writable again for ordinary sessions.
    with session_scope(engine) as session:
        session.execute(text("DELETE FROM busy_blocks"))
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(BusyBlock)).scalar_one() == 0
    engine.dispose()


def test_open_organisation_names_a_missing_sqlite_file(tmp_path):
    missing = tmp_path / "nothing-here.db"
    with pytest.raises(ConfigError, match="slotwise init-db"):
        open_organisation(f"sqlite:///{missing}")
    assert not missing.exists()


def test_open_organisation_names_a_database_without_schema(tmp_path):
    path = tmp_path / "empty.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    with pytest.raises(ConfigError, match="no Slotwise tables"):
        open_organisation(f"sqlite:///{path}")


def test_open_organisation_refuses_naive_bounds(sqlite_url):
    with pytest.raises(ConfigError, match="naive"):
        open_organisation(sqlite_url, start=dt.datetime(2026, 12, 1))


def test_open_organisation_defaults_to_the_configured_database(sqlite_url, monkeypatch, tmp_path):
    engine = make_engine(sqlite_url)
    ids = _fill(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("SLOTWISE_VAR_DIR", str(tmp_path / "var"))

    org = open_organisation()

    assert str(ids["room"]) in set(org.resources["resource_id"])
