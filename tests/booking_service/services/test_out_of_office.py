"""Out of office: one action marks a date range unavailable, a stand-in takes the member's place in pools."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from booking_service.services import availability, out_of_office
from booking_service.services.invitations import create_invitation
from booking_service.services.permissions import PermissionDenied
from booking_service.store.db import session_scope
from booking_service.store.models import HoursOverride, Invitation, User

from ..factories import SECRET_KEY, draft, make_org, next_monday

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
MONDAY = next_monday(NOW)
FRIDAY = MONDAY + dt.timedelta(days=4)


@pytest.fixture
def org(session):
    org = make_org(session)
    session.add(User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin"))
    session.commit()
    return org


def _admin(s) -> User:
    return s.scalars(select(User).where(User.role == "admin")).one()


def _slots(engine, org, **changes):
    with session_scope(engine, write=True) as s:
        inv = create_invitation(s, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=None,
                                public_url="https://b.example", now=NOW).invitation.id  # fmt: skip
    with session_scope(engine) as s:
        return availability.find_slots_for(s, s.get(Invitation, inv), NOW)


def _dates(slots) -> set[dt.date]:
    return {t.tz_convert("Europe/Berlin").date() for t in slots["start"]}


def test_away_dates_are_unavailable_and_come_back(engine, org):
    with session_scope(engine, write=True) as s:
        away = out_of_office.mark_away(s, org.ana, MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2),
                                       note="conference", by=_admin(s))  # fmt: skip
        away_id = away.id
        notes = set(s.scalars(select(HoursOverride.note).where(HoursOverride.resource_id == org.ana)))
    assert notes == {"out of office: conference"}
    assert _dates(_slots(engine, org)) == {MONDAY, MONDAY + dt.timedelta(days=3), FRIDAY}
    with session_scope(engine, write=True) as s:
        out_of_office.remove_absence(s, away_id, by=_admin(s))
        assert s.scalars(select(HoursOverride).where(HoursOverride.resource_id == org.ana)).all() == []
    assert len(_dates(_slots(engine, org))) == 5


def test_a_stand_in_takes_the_place_in_pools_while_away(engine, org):
    with session_scope(engine, write=True) as s:
        out_of_office.mark_away(s, org.cleo, MONDAY, FRIDAY, stand_in_id=org.ben, by=_admin(s))
    slots = _slots(engine, org, members=(), pools=(org.pool,))
    assert set(slots["pool_members"]) == {((str(org.ben), str(org.dan)),)}
    # Frames after the absence do not get the stand-in.
    later = _slots(engine, org, members=(), pools=(org.pool,), frame_start=FRIDAY + dt.timedelta(days=3),
                   frame_end=FRIDAY + dt.timedelta(days=3))  # fmt: skip
    assert set(later["pool_members"]) == {((str(org.cleo), str(org.dan)),)}


@pytest.mark.parametrize(
    ("first", "last", "stand_in", "message"),
    [
        (FRIDAY, MONDAY, None, "is before the first"),
        (MONDAY, MONDAY + dt.timedelta(days=400), None, "longer than a year"),
        (MONDAY, FRIDAY, "self", "cannot stand in for themselves"),
        (MONDAY, FRIDAY, 999, "no team member with id 999"),
    ],
)
def test_bad_requests_say_what_to_change(engine, org, first, last, stand_in, message):
    with session_scope(engine, write=True) as s:
        with pytest.raises(out_of_office.OutOfOfficeError, match=message):
            out_of_office.mark_away(s, org.ana, first, last, stand_in_id=org.ana if stand_in == "self" else stand_in,
                                    by=_admin(s))  # fmt: skip


def test_a_stand_in_away_too_is_refused_and_only_admins_act(engine, org):
    with session_scope(engine, write=True) as s:
        out_of_office.mark_away(s, org.ben, MONDAY, MONDAY, by=_admin(s))
        with pytest.raises(out_of_office.OutOfOfficeError, match="Ben is away on some of these dates too"):
            out_of_office.mark_away(s, org.ana, MONDAY, FRIDAY, stand_in_id=org.ben, by=_admin(s))
        with pytest.raises(PermissionDenied):
            out_of_office.mark_away(s, org.ana, MONDAY, FRIDAY, by=s.get(User, org.scheduler))
        assert [a.member_id for a in out_of_office.absences(s, since=MONDAY)] == [org.ben]
