"""Per-person limits: meetings and meeting hours per local day and week, for members and rooms."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import planner
from booking_service.services import availability
from booking_service.services.booking import confirm_slot
from booking_service.services.invitations import create_invitation
from booking_service.services.limits import LimitError, ResourceLimits, limits_of, set_limits
from booking_service.services.permissions import PermissionDenied
from booking_service.store.db import session_scope
from booking_service.store.models import Invitation, Resource, User

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
MONDAY = next_monday(NOW)


@pytest.fixture
def org(session):
    org = make_org(session)
    session.add(User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin"))
    session.commit()
    return org


def _admin(s) -> User:
    return s.scalars(select(User).where(User.role == "admin")).one()


def _limit(engine, resource_id: int, **limits) -> None:
    with session_scope(engine, write=True) as s:
        set_limits(s, resource_id, ResourceLimits(**limits), by=_admin(s))


def _invite(engine, org, first=MONDAY, last=MONDAY, **changes) -> int:
    with session_scope(engine, write=True) as s:
        return create_invitation(s, draft(org, NOW, frame_start=first, frame_end=last, **changes),
                                 secret_key=SECRET_KEY, by=None, public_url="https://b.example",
                                 now=NOW).invitation.id  # fmt: skip


def _book(engine, invitation_id, start):
    with session_scope(engine, write=True) as s:
        result = confirm_slot(s, invitation_id, start, secret_key=SECRET_KEY, now=NOW)
        return result.outcome, result.reason


def _dates(engine, invitation_id) -> set[dt.date]:
    with session_scope(engine) as s:
        slots = availability.find_slots_for(s, s.get(Invitation, invitation_id), NOW)
    return {t.tz_convert("Europe/Berlin").date() for t in slots["start"]}


def test_a_day_limit_closes_the_day_once_reached(engine, org):
    _limit(engine, org.ana, max_meetings_day=1)
    friday = MONDAY + dt.timedelta(days=4)
    assert _book(engine, _invite(engine, org), berlin(MONDAY, 10))[0] == "booked"
    second = _invite(engine, org, MONDAY, friday)
    assert _dates(engine, second) == {MONDAY + dt.timedelta(days=i) for i in range(1, 5)}
    outcome, reason = _book(engine, second, berlin(MONDAY, 14))
    assert outcome == "unavailable"
    assert "has reached the limit of 1 meetings per day" in reason and "Europe/Berlin" in reason
    assert _book(engine, second, berlin(MONDAY + dt.timedelta(days=1), 14))[0] == "booked"


def test_hour_and_week_limits(engine, org):
    _limit(engine, org.ana, max_minutes_day=60, max_meetings_week=2)
    assert _book(engine, _invite(engine, org, duration_minutes=45), berlin(MONDAY, 9))[0] == "booked"
    # 45 min booked: another 30 would make 75 > 60 on Monday.
    tuesday = MONDAY + dt.timedelta(days=1)
    second = _invite(engine, org, MONDAY, tuesday)
    assert _dates(engine, second) == {tuesday}
    outcome, reason = _book(engine, second, berlin(MONDAY, 14))
    assert outcome == "unavailable" and "limit of 1h of meetings per day" in reason and "45" in reason
    assert _book(engine, second, berlin(tuesday, 9))[0] == "booked"
    # Two meetings this week: the rest of the week is closed, the next week open.
    rest = _invite(engine, org, tuesday, MONDAY + dt.timedelta(days=7))
    assert _dates(engine, rest) == {MONDAY + dt.timedelta(days=7)}


def test_a_pool_member_over_their_limit_does_not_count(engine, org):
    _limit(engine, org.cleo, max_meetings_day=0)
    inv = _invite(engine, org, members=(), pools=(org.pool,))
    with session_scope(engine) as s:
        slots = availability.find_slots_for(s, s.get(Invitation, inv), NOW)
    assert set(slots["pool_members"]) == {((str(org.dan),),)}


def test_a_room_limit(engine, org):
    _limit(engine, org.small_room, max_meetings_day=1)
    _limit(engine, org.large_room, max_meetings_day=0)
    first = _invite(engine, org, rooms=(org.small_room, org.large_room))
    assert _book(engine, first, berlin(MONDAY, 10))[0] == "booked"
    tuesday = MONDAY + dt.timedelta(days=1)
    second = _invite(engine, org, MONDAY, tuesday, members=(org.ben,), rooms=(org.small_room, org.large_room))
    assert _dates(engine, second) == {tuesday}
    outcome, reason = _book(engine, second, berlin(MONDAY, 14))
    assert outcome == "unavailable" and "no room" in reason


def test_limits_are_checked_and_for_admins(engine, org):
    with session_scope(engine, write=True) as s:
        with pytest.raises(LimitError, match="meetings per day must be a whole number from 0 to 100"):
            set_limits(s, org.ana, ResourceLimits(max_meetings_day=-1), by=_admin(s))
        with pytest.raises(LimitError, match="no team member or room with id 999"):
            set_limits(s, 999, ResourceLimits(), by=_admin(s))
        with pytest.raises(PermissionDenied):
            set_limits(s, org.ana, ResourceLimits(max_meetings_day=2), by=s.get(User, org.scheduler))
        set_limits(s, org.ana, ResourceLimits(max_meetings_day=4, max_minutes_day=300, max_meetings_week=15), by=_admin(s))
        assert limits_of(s.get(Resource, org.ana)).describe() == "at most 4 meetings and 5h a day; 15 meetings a week"
        assert ResourceLimits().describe() == "no limits"


def test_the_organisations_limits_over_a_horizon_count_like_the_requests_own(engine, org):
    _limit(engine, org.ana, max_meetings_day=1)
    friday = MONDAY + dt.timedelta(days=4)
    assert _book(engine, _invite(engine, org), berlin(MONDAY, 10))[0] == "booked"
    second = _invite(engine, org, MONDAY, friday)
    with session_scope(engine) as s:
        request = availability.slot_request(s.get(Invitation, second), NOW)
        own = availability.load_limits_for(s, request)
        whole = availability.load_limits_between(s, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30))
        inputs = availability.load_inputs(s, request)
    tables = (inputs.resources, inputs.hours, inputs.busy, inputs.overrides)
    assert whole is not None and whole.limited(str(org.ana))
    assert planner.count_slots(request, *tables, limits=whole) == planner.count_slots(request, *tables, limits=own)
    assert planner.count_slots(request, *tables, limits=whole) < planner.count_slots(request, *tables)


def test_without_limits_the_organisation_has_none(engine, org):
    with session_scope(engine) as s:
        assert availability.load_limits_between(s, NOW, NOW + dt.timedelta(days=7)) is None
