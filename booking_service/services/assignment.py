"""Assignment at booking time: which pool members (and room) a confirmed meeting takes.

Called by :func:`booking_service.services.booking.confirm_slot` inside the ``confirm``
transition, after :meth:`~booking_service.services.lifecycle.Locked.lock_resources` has locked
every resource the invitation may use, in id order (on SQLite the write transaction covers
all). Every member of each pool is among those locks, so two bookings that share a pool take
their turns one after the other: the second reads the rotation, the shares and the limits as
the first left them (:func:`request_under_locks`), never the state both started from.

Policies (:mod:`planner.teams.policy`, settings and state in
:mod:`booking_service.services.pool_policy`):

- **pooled**: the free members with the fewest confirmed meetings starting in the frame; ties
  to the pool's order (lowest id);
- **round_robin**: the members whose turn it is (the planner counted only them);
- **weighted**: the free member furthest below their weight share, then priority, then least
  recently booked.

A panel takes ``panel_size`` distinct members; members already taken (required ones, or by an
earlier pool of the invitation) are avoided when enough others are free. The room is the
smallest free room that seats ``min_capacity`` (ties: lowest id).

Each member taken from a pool is a :class:`PoolAssignment` row with the sentence that explains
it ("assigned by weighted round robin: Ana, 31% of bookings against a 30% weight"), which the
Meetings page and the audit log show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import planner
from planner.teams import PoolState, choose

from ..store.models import Invitation, Meeting, PoolAssignment, ResourcePool
from . import audit, availability, pool_policy

__all__ = ["Assignment", "choose_assignment", "explanations", "meeting_cancelled", "record", "request_under_locks"]


@dataclass(frozen=True)
class Assignment:
    """What a booking takes: ``member_ids`` (required first, then each pool's), the room, and
    per pool ``(pool, policy, members taken, explanation)``."""

    member_ids: list[int]
    room_id: int | None
    pools: list[tuple[ResourcePool, str, tuple[int, ...], str]]


def request_under_locks(
    invitation: Invitation, now: dt.datetime
) -> tuple[planner.SlotRequest, list[pool_policy.PoolPlan]]:
    """The invitation's request with the pools' state read now, under the booking's locks."""
    plans = pool_policy.pool_plans(invitation)
    return availability.slot_request(invitation, now, plans=plans), plans


def choose_assignment(
    session: Session,
    invitation: Invitation,
    check: planner.SlotCheck,
    plans: list[pool_policy.PoolPlan],
    frame: tuple,
) -> Assignment:
    """The members and room a meeting takes, by each pool's policy (see the module docstring)."""
    chosen = [m.id for m in invitation.members]
    taken: list[tuple[ResourcePool, str, tuple[int, ...], str]] = []
    pooled_ids = sorted({int(i) for plan, free in zip(plans, check.pool_members, strict=True)
                         if plan.policy == "pooled" for i in free})  # fmt: skip
    counts = (
        availability.meeting_counts(session, pooled_ids, frame[0].to_pydatetime(), frame[1].to_pydatetime())
        if pooled_ids else {}
    )
    for plan, free in zip(plans, check.pool_members, strict=True):
        order = tuple(sorted(plan.ids, key=int)) if plan.policy != "round_robin" else plan.ids
        names = {str(m.id): m.name for m in plan.pool.members}
        if plan.policy == "weighted":
            state = pool_policy.pool_state(session, plan.pool, order)
        else:
            state = PoolState(members=order, counts=counts, names=names)
        # Prefer members not taken yet, when enough others are free.
        fresh = [m for m in free if int(m) not in chosen]
        candidates = fresh if len(fresh) >= plan.k else list(free)
        choice = choose(plan.policy, candidates, plan.k, state)
        ids = tuple(int(m) for m in choice.members)
        chosen.extend(ids)
        taken.append((plan.pool, plan.policy, ids, choice.explanation))
    free_rooms = set(check.rooms)
    fitting = [r for r in invitation.rooms if str(r.id) in free_rooms and r.capacity >= invitation.min_capacity]
    room_id = min(fitting, key=lambda r: (r.capacity, r.id)).id if fitting else None
    return Assignment(list(dict.fromkeys(chosen)), room_id, taken)


def record(session: Session, meeting: Meeting, assignment: Assignment, now: dt.datetime) -> None:
    """Store the pool assignments of a new meeting; a member owed a turn has it back."""
    for pool, policy, ids, explanation in assignment.pools:
        for member_id in ids:
            owed = session.scalar(
                select(PoolAssignment).where(
                    PoolAssignment.pool_id == pool.id, PoolAssignment.member_id == member_id,
                    PoolAssignment.compensated.is_(True), PoolAssignment.given_back_at.is_(None),
                ).order_by(PoolAssignment.cancelled_at, PoolAssignment.id).limit(1)
            )
            if owed is not None and policy == "round_robin":
                owed.given_back_at = now
            session.add(PoolAssignment(pool_id=pool.id, meeting_id=meeting.id, member_id=member_id, policy=policy,
                                       detail=explanation, assigned_at=now))  # fmt: skip
        audit.record(session, None, "meeting.assigned", meeting, pool_id=pool.id, pool=pool.name, policy=policy,
                     members=list(ids), detail=explanation, at=now)  # fmt: skip
    session.flush()


def meeting_moved(session: Session, meeting: Meeting, assignment: Assignment, now: dt.datetime) -> None:
    """A meeting moved to another time: its pool assignments follow the members it now takes.

    When each pool gives the same members as before, the rows stay as they were (a move is
    not another turn); otherwise the meeting's live rows are replaced by the new assignment.
    """
    rows = session.scalars(
        select(PoolAssignment).where(PoolAssignment.meeting_id == meeting.id, PoolAssignment.cancelled_at.is_(None))
    ).all()
    before: dict[int, set[int]] = {}
    for row in rows:
        before.setdefault(row.pool_id, set()).add(row.member_id)
    after = {pool.id: {int(i) for i in ids} for pool, _policy, ids, _text in assignment.pools}
    if before == after:
        return
    for row in rows:
        session.delete(row)
    session.flush()
    record(session, meeting, assignment, now)


def meeting_cancelled(session: Session, meeting: Meeting, now: dt.datetime) -> None:
    """Mark a cancelled meeting's pool assignments; with compensation, they are given back."""
    rows = session.scalars(select(PoolAssignment).where(PoolAssignment.meeting_id == meeting.id)).all()
    for row in rows:
        row.cancelled_at = now
        row.compensated = bool(row.pool.compensate_removed)
    session.flush()


def explanations(session: Session, meeting_ids: list[int]) -> dict[int, list[str]]:
    """The assignment sentences of each meeting (for the Meetings page)."""
    if not meeting_ids:
        return {}
    rows = session.execute(
        select(PoolAssignment.meeting_id, PoolAssignment.pool_id, PoolAssignment.detail)
        .where(PoolAssignment.meeting_id.in_(meeting_ids))
        .order_by(PoolAssignment.meeting_id, PoolAssignment.id)
    ).all()
    out: dict[int, list[str]] = {}
    for meeting_id, _pool, detail in rows:
        if detail not in out.setdefault(meeting_id, []):
            out[meeting_id].append(detail)
    return out


