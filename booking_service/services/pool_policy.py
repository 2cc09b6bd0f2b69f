"""Pool assignment policies: settings, state, and each pool as an invitation's request reads it.

A pool's policy (``pooled``, ``round_robin`` or ``weighted``, see :mod:`planner.teams.policy`)
is the invitation's override (``Invitation.pool_policy``), else the pool's own
(``ResourcePool.policy``), else the organisation default (:class:`TeamSettings`). A pool needs
``panel_size`` members (a panel: k of n).

The policies' state is the :class:`PoolAssignment` rows, never a counter that two bookings
could both update: the rotation continues after the latest assignment of the pool, weighted
shares count the assignments (without those given back), and with *compensation for removed
meetings* a cancelled meeting's assignment is marked ``compensated``: it no longer counts
(weighted) and its member gets the next turn (round robin) until ``given_back_at`` is set.
Bookings write these rows while holding the locks of every member of the pool
(:mod:`booking_service.services.assignment`), so two bookings of one pool read and write them
one after the other.

Out of office: while a member is away (:class:`OutOfOffice`) their dates are unavailable
overrides, and a named stand-in joins each of their pools, right after them, for invitations
whose frame overlaps the absence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from planner.teams import POLICIES, POLICY_NAMES, PoolState, turn_order

from ..store.loader import load_pool_assignments, load_pool_targets
from ..store.models import (
    OutOfOffice,
    PoolAssignment,
    ResourcePool,
    TeamMember,
    TeamSettings,
    pool_members,
)
from . import audit
from .permissions import require_admin

__all__ = [
    "POLICIES",
    "POLICY_NAMES",
    "assignment_tables",
    "pool_fairness",
    "PoolPlan",
    "PolicyError",
    "configure_pool",
    "effective_policy",
    "member_weights",
    "organisation_policy",
    "pool_plans",
    "pool_state",
    "set_organisation_policy",
]


class PolicyError(ValueError):
    """A policy setting is not valid; the message names it and what to do."""


@dataclass(frozen=True)
class PoolPlan:
    """One pool of an invitation as its request reads it.

    Attributes
    ----------
    pool : ResourcePool
    policy : str
        The policy in force.
    k : int
        Members needed (``panel_size``).
    ids : tuple of str
        Planner ids of the members who count, in the pool's order; for round robin in turn
        order (members owed a turn first). Stand-ins of absent members are included.
    rotating : bool
        Strict round robin: only the first ``k`` members on duty count.
    """

    pool: ResourcePool
    policy: str
    k: int
    ids: tuple[str, ...]
    rotating: bool


def _check_policy(policy: str | None, what: str) -> str | None:
    if policy is None or policy == "":
        return None
    if policy not in POLICIES:
        raise PolicyError(f"{what} {policy!r} is not a policy; use one of {', '.join(POLICIES)}")
    return policy


def organisation_policy(session: Session) -> str:
    """The organisation's default policy (``pooled`` until an admin changes it)."""
    row = TeamSettings.of(session)
    return (row.default_pool_policy if row is not None else None) or "pooled"


def set_organisation_policy(session: Session, policy: str, *, by) -> None:
    """Set the organisation's default policy for pools without their own (admins only)."""
    require_admin(by, "change the default assignment policy")
    policy = _check_policy(policy, "default policy")
    if policy is None:
        raise PolicyError("the default policy is required; use one of " + ", ".join(POLICIES))
    row = TeamSettings.of(session) or TeamSettings.create(session)
    if row.default_pool_policy != policy:
        row.default_pool_policy = policy
    session.flush()
    audit.record(session, by, "team.default_policy", ("pool", None), policy=policy)


def effective_policy(session: Session | None, pool: ResourcePool, override: str | None = None) -> str:
    """The policy in force for ``pool``: the invitation's override, the pool's, the organisation's."""
    return override or pool.policy or (organisation_policy(session) if session is not None else "pooled")


def configure_pool(
    session: Session,
    pool_id: int,
    *,
    policy: str | None = None,
    panel_size: int | None = None,
    compensate_removed: bool | None = None,
    weights: dict[int, int] | None = None,
    priorities: dict[int, int] | None = None,
    by,
) -> ResourcePool:
    """Set a pool's policy (``""`` for the organisation default), panel size, compensation,
    and members' weights and priorities (admins only)."""
    require_admin(by, "change pools")
    pool = session.get(ResourcePool, pool_id)
    if pool is None:
        raise PolicyError(f"there is no pool with id {pool_id}")
    changes: dict[str, object] = {}
    if policy is not None:
        new = _check_policy(policy, "policy")
        if new != pool.policy:
            changes["policy"] = pool.policy = new
    if panel_size is not None:
        active = sum(1 for m in pool.members if m.active)
        if isinstance(panel_size, bool) or not isinstance(panel_size, int) or not 1 <= panel_size <= max(active, 1):
            raise PolicyError(
                f"panel size {panel_size!r} must be a whole number from 1 to the pool's {active} active members"
            )
        if panel_size != pool.panel_size:
            changes["panel_size"] = pool.panel_size = panel_size
    if compensate_removed is not None and bool(compensate_removed) != pool.compensate_removed:
        changes["compensate_removed"] = pool.compensate_removed = bool(compensate_removed)
    member_ids = {m.id for m in pool.members}
    for column, values, low in (("weight", weights, 0), ("priority", priorities, -100)):
        for member_id, value in (values or {}).items():
            if int(member_id) not in member_ids:
                raise PolicyError(f"member {member_id} is not in pool {pool.name!r}; add them to the pool first")
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100:
                raise PolicyError(f"{column} {value!r} of member {member_id} must be a whole number from {low} to 100")
            session.execute(
                pool_members.update()
                .where(pool_members.c.pool_id == pool.id, pool_members.c.member_id == int(member_id))
                .values({column: value})
            )
            changes[f"{column}s"] = {**changes.get(f"{column}s", {}), str(member_id): value}  # type: ignore[dict-item]
    session.flush()
    if changes:
        audit.record(session, by, "pool.policy_changed", ("pool", pool.id), **changes)
    return pool


def member_weights(session: Session, pool_ids: Sequence[int]) -> dict[int, dict[str, tuple[int, int]]]:
    rows = session.execute(
        select(pool_members.c.pool_id, pool_members.c.member_id, pool_members.c.weight, pool_members.c.priority)
        .where(pool_members.c.pool_id.in_(pool_ids))
    ).all()
    out: dict[int, dict[str, tuple[int, int]]] = {}
    for pool_id, member_id, weight, priority in rows:
        out.setdefault(pool_id, {})[str(member_id)] = (int(weight), int(priority))
    return out


def pool_state(session: Session, pool: ResourcePool, members: Sequence[str]) -> PoolState:
    """Weights, priorities, counted assignments and last assignment of each member of ``pool``."""
    wp = member_weights(session, [pool.id]).get(pool.id, {})
    rows = session.execute(
        select(PoolAssignment.member_id, func.count(PoolAssignment.id), func.max(PoolAssignment.assigned_at))
        .where(PoolAssignment.pool_id == pool.id, PoolAssignment.compensated.is_(False))
        .group_by(PoolAssignment.member_id)
    ).all()
    counts = {str(m): int(n) for m, n, _ in rows}
    last = {str(m): int(at.timestamp() * 1e6) for m, _, at in rows if at is not None}
    names = {str(m.id): m.name for m in pool.members}
    return PoolState(
        members=tuple(members),
        weights={m: wp.get(m, (1, 0))[0] for m in members},
        priorities={m: wp.get(m, (1, 0))[1] for m in members},
        counts=counts,
        last_booked=last,
        names=names,
    )


def _stand_ins(session: Session, pools: Sequence[ResourcePool], first: dt.date, last: dt.date) -> dict[int, list[TeamMember]]:
    member_ids = sorted({m.id for p in pools for m in p.members})
    if not member_ids:
        return {}
    rows = session.scalars(
        select(OutOfOffice).where(
            OutOfOffice.member_id.in_(member_ids),
            OutOfOffice.stand_in_id.is_not(None),
            OutOfOffice.first_date <= last,
            OutOfOffice.last_date >= first,
        ).order_by(OutOfOffice.first_date, OutOfOffice.id)
    ).all()
    out: dict[int, list[TeamMember]] = {}
    for away in rows:
        stand_in = away.stand_in
        if isinstance(stand_in, TeamMember) and stand_in.active:
            out.setdefault(away.member_id, []).append(stand_in)
    return out


def _turn(session: Session, pool: ResourcePool, ids: tuple[str, ...]) -> tuple[str, ...]:
    """Round-robin order: after the latest assignment, members owed a turn first."""
    last = session.scalar(
        select(PoolAssignment.member_id).where(PoolAssignment.pool_id == pool.id)
        .order_by(PoolAssignment.assigned_at.desc(), PoolAssignment.id.desc()).limit(1)
    )
    owed = session.scalars(
        select(PoolAssignment.member_id).where(
            PoolAssignment.pool_id == pool.id, PoolAssignment.compensated.is_(True),
            PoolAssignment.given_back_at.is_(None),
        ).order_by(PoolAssignment.cancelled_at, PoolAssignment.id)
    ).all()
    return turn_order(ids, str(last) if last is not None else None, [str(m) for m in owed])


def pool_plans(spec) -> list[PoolPlan]:
    """Each pool of an invitation (or validated draft) as its request reads it.

    Reads the policies' state through the session the pools were loaded in; a booking calls
    this again after taking its locks, so it reads the state as it is under them.
    """
    pools = list(spec.pools)
    if not pools:
        return []
    session = object_session(pools[0])
    override = getattr(spec, "pool_policy", None)
    stand_ins = _stand_ins(session, pools, spec.frame_start, spec.frame_end) if session is not None else {}
    plans = []
    default: list[str] = []  # the organisation default, read once if some pool follows it
    for pool in pools:
        ids: list[str] = []
        for m in pool.members:
            if m.active:
                ids.append(str(m.id))
            for s in stand_ins.get(m.id, []):
                if str(s.id) not in ids and s not in pool.members:
                    ids.append(str(s.id))
        policy = override or pool.policy
        if policy is None:
            if not default:
                default.append(organisation_policy(session) if session is not None else "pooled")
            policy = default[0]
        if policy == "round_robin" and session is not None:
            ids = list(_turn(session, pool, tuple(ids)))
        plans.append(PoolPlan(pool, policy, int(pool.panel_size or 1), tuple(ids), policy == "round_robin"))
    return plans


def assignment_tables(session: Session) -> tuple:
    """The fairness view's inputs (:mod:`planner.teams.fairness`): ``(assignments, targets)``."""
    return load_pool_assignments(session), load_pool_targets(session)


def pool_fairness(session: Session, *, since: dt.datetime | None = None):
    """Each pool member's bookings and share against their target share (the pools page's table).

    A DataFrame of :data:`planner.teams.FAIRNESS_COLUMNS` plus ``pool`` and ``member`` (names).
    """
    import pandas as pd

    from planner.teams import fairness

    assignments, targets = assignment_tables(session)
    table = fairness(assignments, targets, since=pd.Timestamp(since) if since is not None else None)
    pools = dict(session.execute(select(ResourcePool.id, ResourcePool.name)).all())
    names = dict(session.execute(select(TeamMember.id, TeamMember.name)).all())
    return table.assign(
        pool=[pools.get(int(p), p) for p in table["pool_id"]],
        member=[names.get(int(m), m) for m in table["member_id"]],
    )
