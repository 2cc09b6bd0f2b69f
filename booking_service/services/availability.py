"""Slots of an invitation: the glue between stored invitations and the planner.

The planner (:mod:`planner`) computes on plain tables; this module turns an invitation (or a
validated draft, which reads the same) into a :class:`planner.SlotRequest`, loads the planner's
input tables for just the resources involved (:mod:`booking_service.store.loader`; finding,
counting and checking read them as prepared tables), and asks the planner to find, count or
check slots, or to promote a few (:func:`planner.promote_slots`).
The customer pages, the booking re-check, the invitation wizard and the dashboard all come
here, so a slot means the same thing everywhere.

Resource ids in the planner are strings of the database ids (``str(Resource.id)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from functools import cache
from typing import Protocol

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

import planner
from planner.promote import PromoteContext, contention_claims, promote_slots
from planner.slots import check_slot_in, count_slots_in, find_slots_in
from planner.tables import Tables

from ..store.loader import (
    PlannerInputs,
    load_busy,
    load_held_meetings,
    load_hours,
    load_limits,
    load_overrides,
    load_resources,
    load_tables,
)
from ..store.models import (
    Invitation,
    Meeting,
    PromotedSlot,
    Reservation,
    ResourcePool,
    Room,
    TeamMember,
    utcnow,
)
from . import pool_policy


class InvitationLike(Protocol):
    """What slot finding reads: an :class:`Invitation` or a validated draft."""

    members: list[TeamMember]
    pools: list[ResourcePool]
    rooms: list[Room]
    duration_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    minimum_notice_minutes: int
    slot_interval_minutes: int
    min_capacity: int
    frame_start: dt.date
    frame_end: dt.date
    zone: str
    customer_zone: str | None
    promote_count: int


# --- requests and inputs ----------------------------------------------------------------------


def pool_member_ids(pool: ResourcePool) -> tuple[str, ...]:
    """The pool's active members as planner ids."""
    return tuple(str(m.id) for m in pool.members if m.active)


def slot_request(
    spec: InvitationLike, now: dt.datetime | None = None, plans: list[pool_policy.PoolPlan] | None = None
) -> planner.SlotRequest:
    """The planner request for an invitation (or validated draft) at instant ``now``.

    Each pool comes as its policy reads it (:func:`booking_service.services.pool_policy.pool_plans`,
    or ``plans`` when the caller has them): its members (with stand-ins of absent members), in
    turn order under strict round robin, and the members it needs (``panel_size``; a pool with
    fewer active members than that has no slot, see :func:`_required_present`).
    """
    plans = pool_policy.pool_plans(spec) if plans is None else plans
    return planner.SlotRequest(
        members=tuple(str(m.id) for m in spec.members),
        pools=tuple(p.ids for p in plans),
        pool_k=tuple(max(min(p.k, len(p.ids)), 1) for p in plans),
        pool_turns=tuple(p.rotating for p in plans),
        rooms=tuple(str(r.id) for r in spec.rooms if r.active),
        min_capacity=spec.min_capacity,
        duration=pd.Timedelta(minutes=spec.duration_minutes),
        buffer_before=pd.Timedelta(minutes=spec.buffer_before_minutes),
        buffer_after=pd.Timedelta(minutes=spec.buffer_after_minutes),
        minimum_notice=pd.Timedelta(minutes=spec.minimum_notice_minutes),
        interval=pd.Timedelta(minutes=spec.slot_interval_minutes),
        frame_start=spec.frame_start,
        frame_end=spec.frame_end,
        zone=spec.zone,
        now=now or utcnow(),
    )


def involved_ids(request: planner.SlotRequest) -> list[int]:
    """Database ids of every resource the request may use (members, pool members, rooms), sorted."""
    return sorted({int(i) for i in (*request.all_members, *request.rooms)})


def request_window(request: planner.SlotRequest) -> tuple[dt.datetime, dt.datetime]:
    """The instants whose busy time can matter: the frame widened by the buffers."""
    lo, hi = request.frame
    return (
        (lo - request.buffer_before).to_pydatetime(),
        (hi + request.buffer_after).to_pydatetime(),
    )


def load_inputs(
    session: Session, request: planner.SlotRequest, *, holder: int | None = None, skip_meeting: int | None = None
) -> PlannerInputs:
    """The planner's tables for the resources of ``request`` only, busy time in its window.

    Busy time is read fresh from the database (calendar busy blocks, Slotwise reservations, and
    slot holds that have not expired at ``request.now``), which is what the booking re-check
    relies on. ``holder``: the invitation asking, whose own hold does not block it;
    ``skip_meeting``: a meeting being moved, whose own reservations do not block it.
    """
    ids = involved_ids(request)
    start, end = request_window(request)
    return PlannerInputs(
        resources=load_resources(session, resource_ids=ids),
        hours=load_hours(session, resource_ids=ids),
        overrides=load_overrides(session, resource_ids=ids),
        busy=load_busy(session, start, end, resource_ids=ids, holds_at=request.now, holder=holder,
                       skip_meeting=skip_meeting),
        pools=_empty_pools().copy(),
    )


def _request_tables(
    session: Session, request: planner.SlotRequest, *, holder: int | None = None, skip_meeting: int | None = None
) -> tuple[Tables, planner.Limits | None]:
    """What :func:`load_inputs` reads, as the planner's prepared tables (no DataFrames on the way),
    and :func:`load_limits_for`, the limits read with the resources."""
    start, end = request_window(request)
    tables, limits = load_tables(session, request.all_members + request.rooms, start, end,
                                 holds_at=request.now, holder=holder, skip_meeting=skip_meeting)
    return tables, _with_held_meetings(session, request, limits)


def load_limits_for(session: Session, request: planner.SlotRequest) -> planner.Limits | None:
    """Per-person limits of the request's resources and the meetings that count against them.

    ``None`` when none of them has a limit (one small query). The meetings are read from a week
    and a day before the frame to a week and a day after it, which covers every local day and
    week a start in the frame falls in, in any zone. Read inside the booking's locks, they are
    the latest committed, so two bookings can't both take a member's last allowed meeting.
    """
    return _with_held_meetings(session, request, load_limits(session, resource_ids=involved_ids(request)))


def _with_held_meetings(session: Session, request: planner.SlotRequest, limits: pd.DataFrame) -> planner.Limits | None:
    if limits.empty:
        return None
    lo, hi = request.frame
    margin = pd.Timedelta(days=8)
    limited = [int(i) for i in limits["resource_id"]]
    meetings = load_held_meetings(session, (lo - margin).to_pydatetime(), (hi + margin).to_pydatetime(), limited)
    return planner.Limits(limits, meetings)


def load_limits_between(session: Session, start: dt.datetime, end: dt.datetime) -> planner.Limits | None:
    """Per-person limits of every resource and the meetings that count against them, for any frame
    within ``[start, end)`` (meetings are read a week and a day beyond it, as in
    :func:`load_limits_for`). ``None`` when nobody has a limit.

    For a cache of the whole organisation (the dashboard keeps one per data version beside its
    grid); the booking re-check reads :func:`load_limits_for` under its locks instead.
    """
    limits = load_limits(session)
    if limits.empty:
        return None
    margin = dt.timedelta(days=8)
    limited = [int(i) for i in limits["resource_id"]]
    meetings = load_held_meetings(session, start - margin, end + margin, limited)
    return planner.Limits(limits, meetings)


@cache
def _empty_pools() -> pd.DataFrame:
    # Built once: constructing even an empty frame with typed columns costs about a millisecond,
    # copying it a few microseconds. Callers get a copy, so the template is never mutated.
    return pd.DataFrame(
        {"pool_id": pd.Series(dtype=str), "name": pd.Series(dtype=str), "member_id": pd.Series(dtype=str)}
    )


def _required_present(spec: InvitationLike, request: planner.SlotRequest, present: Collection[str]) -> bool:
    """False when a required member, every member of a pool, or every room is gone (deactivated).

    ``present``: the planner ids of the request's resources that are active. An invitation that
    needs a room must not lose that need because its rooms were deactivated: an empty room list
    would mean "no room needed" to the planner.
    """
    if not all(m in present for m in request.members):
        return False
    if spec.rooms and not request.rooms:
        return False
    # A panel needs as many members as its size: fewer active ones can never make it.
    return all(len(ids) >= max(int(p.panel_size or 1), 1) for ids, p in zip(request.pools, spec.pools, strict=True))


def _empty_slots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": pd.Series(dtype="datetime64[ns, UTC]"),
            "end": pd.Series(dtype="datetime64[ns, UTC]"),
            "members": pd.Series(dtype=object),
            "pool_members": pd.Series(dtype=object),
            "rooms": pd.Series(dtype=object),
        }
    )


# --- finding, counting, checking ---------------------------------------------------------------


def find_slots_for(
    session: Session, spec: InvitationLike, now: dt.datetime | None = None, *, skip_meeting: int | None = None
) -> pd.DataFrame:
    """Every available slot of an invitation (or validated draft) at ``now``, on fresh data.

    Returns the planner's slot table: ``start``, ``end`` (datetime64[ns, UTC]), ``members``,
    ``pool_members``, ``rooms``. Other invitations' live holds count as busy; ``skip_meeting``
    (the invitation's own meeting, being moved) does not.
    """
    request = slot_request(spec, now)
    tables, limits = _request_tables(session, request, holder=getattr(spec, "id", None), skip_meeting=skip_meeting)
    if not _required_present(spec, request, tables.lookup):
        return _empty_slots()
    return find_slots_in(request, tables, limits=limits)


def count_slots_for(session: Session, spec: InvitationLike, now: dt.datetime | None = None) -> int:
    """How many slots an invitation (or validated draft) has at ``now`` (the wizard's live count)."""
    request = slot_request(spec, now)
    tables, limits = _request_tables(session, request, holder=getattr(spec, "id", None))
    if not _required_present(spec, request, tables.lookup):
        return 0
    return count_slots_in(request, tables, limits=limits)


def check_slot_for(
    session: Session,
    spec: InvitationLike,
    start: dt.datetime,
    now: dt.datetime | None = None,
    *,
    request: planner.SlotRequest | None = None,
    skip_meeting: int | None = None,
) -> planner.SlotCheck:
    """Is ``start`` available for the invitation at ``now`` (default: now)? (planner's ``check_slot``, fresh data).

    The booking re-check calls this inside its locked transaction, so the answer is about the
    latest committed reservations and busy blocks of every resource involved. ``request``, when
    given, must be :func:`slot_request` of the same ``spec``, built by the caller at its own
    instant: give either ``now`` or ``request``, not both. The tables are read fresh either way.
    """
    if request is not None and now is not None:
        raise TypeError("check_slot_for takes now or a request built at that instant, not both")
    request = request or slot_request(spec, now)
    tables, limits = _request_tables(session, request, holder=getattr(spec, "id", None), skip_meeting=skip_meeting)
    if not _required_present(spec, request, tables.lookup):
        return planner.SlotCheck(
            available=False, start=pd.Timestamp(start), end=pd.Timestamp(start) + request.duration,
            members=request.members, pool_members=(), rooms=(),
            reason="a required member, every member of a pool or every room is no longer active",
        )
    return check_slot_in(request, tables, start=pd.Timestamp(start), limits=limits)


def still_available(slots: pd.DataFrame, starts: Iterable[dt.datetime]) -> list[bool]:
    """For each of ``starts``, whether it is among the available ``slots``."""
    available = set(pd.DatetimeIndex(slots["start"]).as_unit("ns").asi8.tolist()) if len(slots) else set()
    return [pd.Timestamp(s).as_unit("ns").value in available for s in starts]


# --- meeting counts (assignment policy and fairness share them) -----------------------------


def meeting_counts(
    session: Session, resource_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """Confirmed meetings per resource that start in ``[start, end)``: ``{"12": 3, ...}``.

    The booking service assigns a pool's member with the fewest of these (DESIGN.md), and the
    optimizer's fairness score reads the same numbers.
    """
    ids = list(resource_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Reservation.resource_id, func.count(Meeting.id))
        .join(Meeting, Meeting.id == Reservation.meeting_id)
        .where(
            Reservation.resource_id.in_(ids),
            Meeting.status == "confirmed",
            Meeting.start >= start,
            Meeting.start < end,
        )
        .group_by(Reservation.resource_id)
    ).all()
    counts = {str(i): 0 for i in ids}
    counts.update({str(resource_id): int(n) for resource_id, n in rows})
    return counts


# --- promoted slots ---------------------------------------------------------------------------


def _claims_of_others(session: Session, request: planner.SlotRequest, exclude: int | None) -> pd.DataFrame | None:
    """Resource claims of other active invitations' promoted slots overlapping this frame."""
    lo, hi = request_window(request)
    query = (
        select(PromotedSlot)
        .join(Invitation, Invitation.id == PromotedSlot.invitation_id)
        .where(Invitation.status == "active", PromotedSlot.start < hi, PromotedSlot.end > lo)
        .options(
            selectinload(PromotedSlot.invitation).selectinload(Invitation.members),
            selectinload(PromotedSlot.invitation).selectinload(Invitation.pools).selectinload(ResourcePool.members),
            selectinload(PromotedSlot.invitation).selectinload(Invitation.rooms),
        )
    )
    if exclude is not None:
        query = query.where(Invitation.id != exclude)
    rows = []
    for slot in session.scalars(query):
        inv = slot.invitation
        rooms = tuple(str(r.id) for r in inv.rooms if r.active and r.capacity >= inv.min_capacity)
        rows.append(
            {
                "start": slot.start,
                "end": slot.end,
                "members": tuple(str(m.id) for m in inv.members),
                "pool_members": tuple(pool_member_ids(p) for p in inv.pools),
                "rooms": rooms,
            }
        )
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=list(planner.SLOT_COLUMNS))
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return contention_claims(frame)


def promote(
    session: Session,
    spec: InvitationLike,
    slots: pd.DataFrame,
    *,
    now: dt.datetime | None = None,
    k: int | None = None,
    exclude_invitation: int | None = None,
) -> pd.DataFrame:
    """The slots to promote in the invitation email, chosen by :func:`planner.promote_slots`.

    Returns the chosen rows of ``slots`` (sorted by start) with ``score`` and ``reason``.
    """
    now = now or utcnow()
    if exclude_invitation is None:
        # A stored invitation being re-promoted (resend) does not compete with itself.
        exclude_invitation = getattr(spec, "id", None)
    context = promote_context(session, spec, now=now, exclude_invitation=exclude_invitation)
    result = promote_slots(slots, context, k or spec.promote_count)
    return result.slots


def promote_context(
    session: Session, spec: InvitationLike, *, now: dt.datetime, exclude_invitation: int | None = None
) -> PromoteContext:
    """The optimizer's context for one invitation: zones, counts, capacities, contention, busy.

    ``exclude_invitation``: an invitation whose promoted slots are not counted as contention.
    """
    request = slot_request(spec, now)
    inputs = load_inputs(session, request)
    lo, hi = request.frame
    members = set(request.all_members)
    return PromoteContext(
        zone=spec.zone,
        now=request.now,
        customer_zone=spec.customer_zone,
        meeting_counts=meeting_counts(
            session, [int(i) for i in request.all_members], lo.to_pydatetime(), hi.to_pydatetime()
        ),
        room_capacities={str(r.id): int(r.capacity) for r in spec.rooms},
        min_capacity=spec.min_capacity,
        other_promoted=_claims_of_others(session, request, exclude_invitation),
        busy=inputs.busy[inputs.busy["resource_id"].isin(members)].reset_index(drop=True),
    )


# --- small readers for pages and mail ----------------------------------------------------------


def team_names(spec: InvitationLike) -> list[str]:
    """Who the customer meets: required members by name, then each pool as "one of ..." (a panel: "2 of ...")."""
    names = [m.name for m in spec.members]
    for pool in spec.pools:
        k = int(pool.panel_size or 1)
        names.append(f"one of {pool.name}" if k == 1 else f"{k} of {pool.name}")
    return names


__all__ = [
    "check_slot_for",
    "count_slots_for",
    "load_limits_between",
    "find_slots_for",
    "involved_ids",
    "load_inputs",
    "meeting_counts",
    "promote",
    "slot_request",
    "still_available",
    "team_names",
]
