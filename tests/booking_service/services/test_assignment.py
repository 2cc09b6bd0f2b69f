"""Assignment at confirmation: pooled, strict round robin, weighted, panels, compensation, the explanation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services import assignment, availability, pool_policy
from booking_service.services.booking import cancel_meeting, confirm_slot
from booking_service.services.invitations import InvitationError, create_invitation, validate_draft
from booking_service.services.permissions import PermissionDenied
from booking_service.store.db import session_scope
from booking_service.store.models import AuditEntry, Invitation, Meeting, PoolAssignment, ResourcePool, User

from ..factories import SECRET_KEY, add_busy, berlin, draft, make_org, next_monday

UTC = dt.UTC
NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=UTC)
MONDAY = next_monday(NOW)


@pytest.fixture
def org(session):
    org = make_org(session)
    session.add(User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin"))
    session.commit()
    return org


def _admin(session) -> User:
    return session.scalars(select(User).where(User.role == "admin")).one()


def _configure(engine, org, **settings) -> None:
    with session_scope(engine, write=True) as s:
        pool_policy.configure_pool(s, org.pool, by=_admin(s), **settings)


def _invite(engine, org, day: dt.date = MONDAY, **changes) -> int:
    changes.setdefault("members", ())
    changes.setdefault("pools", (org.pool,))
    with session_scope(engine, write=True) as s:
        created = create_invitation(s, draft(org, NOW, frame_start=day, frame_end=day, **changes),
                                    secret_key=SECRET_KEY, by=None, public_url="https://b.example", now=NOW)  # fmt: skip
        return created.invitation.id


def _book(engine, invitation_id: int, start: dt.datetime):
    with session_scope(engine, write=True) as s:
        result = confirm_slot(s, invitation_id, start, secret_key=SECRET_KEY, now=NOW)
        return result.outcome, (result.meeting.id if result.meeting else None), result.reason


def _busy(engine, resource_id: int, start: dt.datetime, end: dt.datetime) -> None:
    with Session(engine) as s:
        add_busy(s, resource_id, start, end)


def _pool_of(engine, meeting_id: int) -> list[int]:
    with session_scope(engine) as s:
        return list(s.scalars(select(PoolAssignment.member_id).where(PoolAssignment.meeting_id == meeting_id)
                              .order_by(PoolAssignment.id)))  # fmt: skip


def _slots_pool_members(engine, invitation_id: int) -> set:
    with session_scope(engine) as s:
        invitation = s.get(Invitation, invitation_id)
        return set(availability.find_slots_for(s, invitation, NOW)["pool_members"])


def test_pooled_is_the_default_and_explains_itself(engine, org):
    inv = _invite(engine, org)
    assert _slots_pool_members(engine, inv) == {((str(org.cleo), str(org.dan)),)}
    outcome, meeting_id, _ = _book(engine, inv, berlin(MONDAY, 10))
    assert outcome == "booked"
    assert _pool_of(engine, meeting_id) == [org.cleo]  # fewest meetings, then lowest id
    with session_scope(engine) as s:
        (detail,) = assignment.explanations(s, [meeting_id])[meeting_id]
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.assigned")).one()
    assert detail == "assigned by pooled availability: Cleo (fewest meetings in the frame: Cleo 0)"
    assert audit.details["detail"] == detail and audit.target_id == meeting_id
    assert audit.at == NOW  # the booking's instant


def test_strict_round_robin_offers_only_the_turn_and_rotates(engine, org):
    _configure(engine, org, policy="round_robin")
    first = _invite(engine, org)
    assert _slots_pool_members(engine, first) == {((str(org.cleo),),)}
    assert _book(engine, first, berlin(MONDAY, 10))[0] == "booked"
    second = _invite(engine, org)
    # Dan's turn now: Cleo being free at 11:00 makes no difference.
    assert _slots_pool_members(engine, second) == {((str(org.dan),),)}
    _busy(engine, org.dan, berlin(MONDAY, 9), berlin(MONDAY, 17))
    outcome, _, reason = _book(engine, second, berlin(MONDAY, 11))
    assert outcome == "unavailable" and str(org.dan) in reason


def test_round_robin_skips_a_member_off_for_the_frame(engine, org):
    _configure(engine, org, policy="round_robin")
    from booking_service.services.out_of_office import mark_away

    with session_scope(engine, write=True) as s:
        mark_away(s, org.cleo, MONDAY, MONDAY, by=_admin(s))
    inv = _invite(engine, org)
    assert _slots_pool_members(engine, inv) == {((str(org.dan),),)}
    outcome, meeting_id, _ = _book(engine, inv, berlin(MONDAY, 10))
    assert outcome == "booked" and _pool_of(engine, meeting_id) == [org.dan]
    # Cleo is back the next day and, having been skipped, it is her turn.
    tuesday = MONDAY + dt.timedelta(days=1)
    assert _slots_pool_members(engine, _invite(engine, org, tuesday)) == {((str(org.cleo),),)}


def test_round_robin_compensation_gives_a_cancelled_turn_back(engine, org):
    _configure(engine, org, policy="round_robin", compensate_removed=True)
    outcome, meeting_id, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    assert _pool_of(engine, meeting_id) == [org.cleo]
    with session_scope(engine, write=True) as s:
        cancel_meeting(s, meeting_id, by=None, secret_key=SECRET_KEY, now=NOW)
    # Without compensation it would be Dan's turn; Cleo lost hers and gets it back first.
    _, again, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 11))
    assert _pool_of(engine, again) == [org.cleo]
    _, then, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 12))
    assert _pool_of(engine, then) == [org.dan]


def test_round_robin_without_compensation_moves_on(engine, org):
    _configure(engine, org, policy="round_robin")
    _, meeting_id, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    with session_scope(engine, write=True) as s:
        cancel_meeting(s, meeting_id, by=None, secret_key=SECRET_KEY, now=NOW)
    _, again, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 11))
    assert _pool_of(engine, again) == [org.dan]


def test_weighted_shares_follow_the_weights_and_say_so(engine, org):
    _configure(engine, org, policy="weighted", weights={org.cleo: 1, org.dan: 3})
    taken = []
    for i in range(8):
        day = MONDAY + dt.timedelta(days=i % 5)
        _, meeting_id, _ = _book(engine, _invite(engine, org, day), berlin(day, 9 + i))
        taken.extend(_pool_of(engine, meeting_id))
    assert taken.count(org.dan) == 6 and taken.count(org.cleo) == 2
    with session_scope(engine) as s:
        details = assignment.explanations(s, [meeting_id])[meeting_id]
    assert details[0].startswith("assigned by weighted round robin: ")
    assert "% of bookings against a " in details[0] and "% weight" in details[0]


def test_weighted_compensation_stops_counting_a_cancelled_meeting(engine, org):
    _configure(engine, org, policy="weighted", compensate_removed=True)
    _, first, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 10))
    assert _pool_of(engine, first) == [org.cleo]
    with session_scope(engine, write=True) as s:
        cancel_meeting(s, first, by=None, secret_key=SECRET_KEY, now=NOW)
        state = pool_policy.pool_state(s, s.get(ResourcePool, org.pool), (str(org.cleo), str(org.dan)))
    assert state.counts == {}
    # Equal shares again, as if Cleo's meeting had never been: she gets the booking she lost.
    _, second, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 11))
    assert _pool_of(engine, second) == [org.cleo]
    _, third, _ = _book(engine, _invite(engine, org), berlin(MONDAY, 12))
    assert _pool_of(engine, third) == [org.dan]


def test_a_panel_needs_and_takes_k_members(engine, org):
    _configure(engine, org, panel_size=2)
    inv = _invite(engine, org)
    _busy(engine, org.dan, berlin(MONDAY, 9), berlin(MONDAY, 12))
    with session_scope(engine) as s:
        invitation = s.get(Invitation, inv)
        starts = availability.find_slots_for(s, invitation, NOW)["start"]
        assert availability.team_names(invitation) == ["2 of Sales"]
    assert min(starts) == berlin(MONDAY, 12)  # both needed: Dan is busy until noon
    outcome, _, reason = _book(engine, inv, berlin(MONDAY, 10))
    assert outcome == "unavailable" and "2 needed" in reason
    outcome, meeting_id, _ = _book(engine, inv, berlin(MONDAY, 13))
    assert outcome == "booked"
    assert sorted(_pool_of(engine, meeting_id)) == sorted([org.cleo, org.dan])
    with session_scope(engine) as s:
        reserved = {r.resource_id for r in s.get(Meeting, meeting_id).reservations}
    assert reserved == {org.cleo, org.dan}


def test_a_panel_avoids_a_required_member_when_others_are_free(engine, org):
    from booking_service.services import team

    with session_scope(engine, write=True) as s:
        team.update_pool(s, org.pool, member_ids=[org.ana, org.cleo, org.dan], by=_admin(s))
    _configure(engine, org, panel_size=2)
    outcome, meeting_id, _ = _book(engine, _invite(engine, org, members=(org.ana,)), berlin(MONDAY, 10))
    assert outcome == "booked"
    assert sorted(_pool_of(engine, meeting_id)) == sorted([org.cleo, org.dan])


def test_invitation_override_and_organisation_default(engine, org):
    with session_scope(engine, write=True) as s:
        pool_policy.set_organisation_policy(s, "round_robin", by=_admin(s))
        assert pool_policy.organisation_policy(s) == "round_robin"
    assert _slots_pool_members(engine, _invite(engine, org)) == {((str(org.cleo),),)}
    overridden = _invite(engine, org, pool_policy="pooled")
    assert _slots_pool_members(engine, overridden) == {((str(org.cleo), str(org.dan)),)}
    _configure(engine, org, policy="pooled")  # the pool's own beats the default
    assert _slots_pool_members(engine, _invite(engine, org)) == {((str(org.cleo), str(org.dan)),)}


def test_policy_settings_are_checked_and_for_admins(engine, org):
    with session_scope(engine, write=True) as s:
        with pytest.raises(pool_policy.PolicyError, match="'random' is not a policy"):
            pool_policy.configure_pool(s, org.pool, policy="random", by=_admin(s))
        with pytest.raises(pool_policy.PolicyError, match="panel size 3 must be a whole number from 1 to the pool's 2"):
            pool_policy.configure_pool(s, org.pool, panel_size=3, by=_admin(s))
        with pytest.raises(pool_policy.PolicyError, match="is not in pool"):
            pool_policy.configure_pool(s, org.pool, weights={org.ana: 2}, by=_admin(s))
        with pytest.raises(pool_policy.PolicyError, match="weight -1 of member"):
            pool_policy.configure_pool(s, org.pool, weights={org.cleo: -1}, by=_admin(s))
        with pytest.raises(PermissionDenied):
            pool_policy.configure_pool(s, org.pool, policy="weighted", by=s.get(User, org.scheduler))
        with pytest.raises(InvitationError, match="pool policy 'fair' is not a policy"):
            validate_draft(s, draft(org, NOW, pools=(org.pool,), pool_policy="fair"), now=NOW)


def test_a_moved_meeting_takes_whoever_is_free_and_its_assignment_follows(engine, org):
    from booking_service.core.config import Settings
    from booking_service.services.booking import reschedule_meeting
    from booking_service.services.integrity import check_invariants

    inv = _invite(engine, org)
    outcome, meeting_id, _ = _book(engine, inv, berlin(MONDAY, 10))
    assert (outcome, _pool_of(engine, meeting_id)) == ("booked", [org.cleo])
    _busy(engine, org.cleo, berlin(MONDAY, 14), berlin(MONDAY, 15))
    anytime = Settings(change_cutoff_hours=0)
    with session_scope(engine, write=True) as s:
        moved = reschedule_meeting(s, meeting_id, berlin(MONDAY, 14), secret_key=SECRET_KEY, settings=anytime, now=NOW)
        assert moved.outcome == "moved"
    assert _pool_of(engine, meeting_id) == [org.dan]  # Cleo is busy at 14:00: Dan takes the meeting
    with session_scope(engine) as s:
        row_id = s.scalar(select(PoolAssignment.id).where(PoolAssignment.meeting_id == meeting_id))
    with session_scope(engine, write=True) as s:
        assert reschedule_meeting(s, meeting_id, berlin(MONDAY, 14, 30), secret_key=SECRET_KEY, settings=anytime,
                                  now=NOW).outcome == "moved"
    with session_scope(engine) as s:  # Dan again: the row stays as it was, the move is no new turn
        assert s.scalars(select(PoolAssignment.id).where(PoolAssignment.meeting_id == meeting_id)).all() == [row_id]
    with session_scope(engine, write=True) as s:
        assert reschedule_meeting(s, meeting_id, berlin(MONDAY, 11), secret_key=SECRET_KEY, settings=anytime,
                                  now=NOW).outcome == "moved"
    assert _pool_of(engine, meeting_id) == [org.cleo]  # chosen again by the pool's policy: fewest meetings
    with session_scope(engine) as s:
        assert check_invariants(s) == []


def test_a_rebooked_meeting_records_a_fresh_assignment(engine, org):
    from booking_service.services.booking import rebook_meeting
    from booking_service.services.integrity import check_invariants

    inv = _invite(engine, org)
    _, meeting_id, _ = _book(engine, inv, berlin(MONDAY, 10))
    with session_scope(engine, write=True) as s:
        cancel_meeting(s, meeting_id, by=None, secret_key=SECRET_KEY, now=NOW)
    _busy(engine, org.cleo, berlin(MONDAY, 13), berlin(MONDAY, 14))
    with session_scope(engine, write=True) as s:
        assert rebook_meeting(s, meeting_id, berlin(MONDAY, 13), secret_key=SECRET_KEY, now=NOW).outcome == "booked"
    with session_scope(engine) as s:
        rows = s.execute(select(PoolAssignment.member_id, PoolAssignment.cancelled_at.is_(None))
                         .where(PoolAssignment.meeting_id == meeting_id).order_by(PoolAssignment.id)).all()
        assert [tuple(r) for r in rows] == [(org.cleo, False), (org.dan, True)]
        assert check_invariants(s) == []
