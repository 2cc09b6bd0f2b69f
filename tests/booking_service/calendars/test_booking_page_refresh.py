"""Opening an invitation link re-syncs stale calendars within the configured time budget."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.calendars.connections import add_ics_url_connection
from booking_service.services.invitations import hash_token
from booking_service.store.models import BusyBlock, CalendarConnection, Invitation, WorkingHours

from .helpers import add_member, admin, ics, vevent

TOKEN = "t" * 43


@pytest.fixture
def make_app(database_url, tmp_path):
    from booking_service.web.app import create_app

    def make(budget: float):
        return create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "SECRET_KEY": "test-secret-key",
                "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
                "PUBLIC_URL": "http://localhost",
                "CALENDAR_MAX_AGE_MINUTES": 15,
                "CALENDAR_REFRESH_BUDGET_SECONDS": budget,
            }
        )

    return make


def setup_invitation(engine, url: str) -> tuple[int, dt.datetime]:
    """A member free 09:00-17:00 UTC every day, with a subscription, invited tomorrow."""
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    busy_start = dt.datetime.combine(tomorrow, dt.time(10), tzinfo=dt.UTC)
    with Session(engine) as session, session.begin():
        member = add_member(session, zone="UTC")
        session.add_all(
            WorkingHours(resource_id=member.id, weekday=d, start_minute=540, end_minute=1020)
            for d in range(7)
        )
        conn = add_ics_url_connection(session, member.id, "Work", url, by=admin(session))
        invitation = Invitation(
            token_hash=hash_token(TOKEN),
            customer_name="Grace",
            customer_email="grace@example.com",
            customer_zone="UTC",
            subject="Intro",
            duration_minutes=60,
            slot_interval_minutes=60,
            frame_start=tomorrow,
            frame_end=tomorrow,
            zone="UTC",
            status="active",
        )
        invitation.members = [member]
        session.add(invitation)
        return conn.id, busy_start


def test_opening_the_link_syncs_stale_calendars_before_listing_times(make_app, ics_server):
    app = make_app(budget=10.0)
    engine = app.extensions["slotwise"]["engine"]
    url = ics_server.publish("/work.ics", "")
    conn_id, busy_start = setup_invitation(engine, url)
    ics_server.publish("/work.ics", ics(vevent("busy", busy_start, busy_start + dt.timedelta(hours=1))))

    page = app.test_client().get(f"/i/{TOKEN}")
    assert page.status_code == 200
    with Session(engine) as session:
        assert [(b.start, b.end) for b in session.scalars(select(BusyBlock))] == [
            (busy_start, busy_start + dt.timedelta(hours=1))
        ]
        assert session.get(CalendarConnection, conn_id).last_status == "ok"
    html = page.get_data(as_text=True)
    # 09:00 is offered, 10:00 (now busy) is not, 11:00 is.
    assert "09:00" in html and "11:00" in html
    assert "10:00" not in html


def test_a_slow_calendar_does_not_hold_the_page_longer_than_the_budget(make_app, ics_server):
    app = make_app(budget=0.3)
    engine = app.extensions["slotwise"]["engine"]
    url = ics_server.publish("/slow.ics", ics(), delay=2.0)
    conn_id, _ = setup_invitation(engine, url)
    began = time.monotonic()
    page = app.test_client().get(f"/i/{TOKEN}")
    waited = time.monotonic() - began
    assert page.status_code == 200
    assert waited < 1.8, waited
    # The sync finishes in the background.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Session(engine) as session:
            if session.get(CalendarConnection, conn_id).last_status == "ok":
                break
        time.sleep(0.1)
    with Session(engine) as session:
        assert session.get(CalendarConnection, conn_id).last_status == "ok"
