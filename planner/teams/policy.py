"""Assignment policies: which free pool members a booking takes, and the sentence that says why.

Three policies, chosen per pool (and overridable per invitation):

``pooled``
    Any free member counts for availability; a booking takes the free members with the fewest
    meetings in the invitation's frame (ties: earlier in the pool's order).
``round_robin``
    Strict round robin: only the members whose turn it is count for availability
    (:mod:`planner.teams.turns`), and a booking takes exactly them. The next turn starts after
    the last member taken.
``weighted``
    Members have weights (and priorities). A booking takes, one at a time, the free member
    furthest below their target share ``weight / sum(weights)`` of the pool's assignments,
    counting this booking: largest ``target * (total + 1) - count``. Ties go to the higher
    priority, then to the member booked least recently (never booked first), then to the
    pool's order. Over many bookings each member's share approaches their weight share.

With *compensation for removed meetings* a cancelled meeting no longer counts for its member
(weighted), or gives the member their turn back first (round robin).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from planner.errors import PlannerInputError

__all__ = ["POLICIES", "POLICY_NAMES", "Choice", "PoolState", "choose", "share_sentence", "turn_order"]

POLICIES = ("pooled", "round_robin", "weighted")
POLICY_NAMES = {"pooled": "pooled availability", "round_robin": "strict round robin", "weighted": "weighted round robin"}


@dataclass(frozen=True)
class PoolState:
    """What a policy reads about one pool.

    Attributes
    ----------
    members : tuple of str
        Every member of the pool, in the pool's order (its rotation order).
    weights : mapping of str to float
        Weight per member (missing: 1).
    priorities : mapping of str to int
        Priority per member, higher first (missing: 0).
    counts : mapping of str to int
        Assignments that count towards each member's share (``weighted``), or meetings in the
        frame (``pooled``).
    last_booked : mapping of str to int
        When each member was last assigned (any increasing number, e.g. ns); missing: never.
    names : mapping of str to str
        How a person reads each member (default: the id).
    """

    members: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    priorities: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    last_booked: Mapping[str, int] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)

    def weight(self, member: str) -> float:
        return float(self.weights.get(member, 1.0))

    def target_share(self, member: str) -> float:
        """The member's weight share of the pool (0 when every weight is 0)."""
        total = sum(self.weight(m) for m in self.members)
        return self.weight(member) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Choice:
    """The members a booking takes from one pool, in the order they were picked, and why."""

    members: tuple[str, ...]
    explanation: str


def turn_order(members: Sequence[str], after: str | None, owed: Sequence[str] = ()) -> tuple[str, ...]:
    """The rotation order of a round-robin pool.

    ``members`` in the pool's order, rotated to start just after ``after`` (the last member
    taken; ``None`` or a member no longer in the pool: from the start), with the members
    ``owed`` a turn (compensation for removed meetings, oldest first) moved to the front.
    """
    members = tuple(members)
    start = members.index(after) + 1 if after in members else 0
    rotated = members[start:] + members[:start]
    front = tuple(dict.fromkeys(m for m in owed if m in members))
    return front + tuple(m for m in rotated if m not in front)


def choose(policy: str, free: Sequence[str], k: int, state: PoolState) -> Choice:
    """Pick ``k`` of the ``free`` members of a pool by ``policy``.

    Parameters
    ----------
    policy : {"pooled", "round_robin", "weighted"}
    free : sequence of str
        Members free for the booked slot (for ``round_robin``: those whose turn it is).
    k : int
        Members needed.
    state : PoolState

    Raises
    ------
    PlannerInputError
        Unknown policy, or fewer than ``k`` free members.
    """
    if policy not in POLICIES:
        raise PlannerInputError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    free = [m for m in state.members if m in set(free)] + [m for m in free if m not in state.members]
    if len(free) < k:
        raise PlannerInputError(f"{k} members are needed but only {len(free)} are free: {free!r}")
    order = {m: i for i, m in enumerate(state.members)}
    name = state.names.get
    if policy == "round_robin":
        # ``free`` holds the turn (the planner counted only those); keep the rotation order.
        picked = tuple(free[:k])
        return Choice(picked, f"assigned by {POLICY_NAMES[policy]}: {_names(picked, name)} (next in turn)")
    if policy == "pooled":
        picked = tuple(sorted(free, key=lambda m: (state.counts.get(m, 0), order.get(m, len(order))))[:k])
        counts = ", ".join(f"{name(m, m)} {state.counts.get(m, 0)}" for m in picked)
        return Choice(picked, f"assigned by {POLICY_NAMES[policy]}: {_names(picked, name)} "
                              f"(fewest meetings in the frame: {counts})")  # fmt: skip
    counts = {m: int(state.counts.get(m, 0)) for m in state.members}
    total = sum(counts.values())
    picked_list: list[str] = []
    for _ in range(k):
        rest = [m for m in free if m not in picked_list]
        best = min(
            rest,
            key=lambda m: (
                -(state.target_share(m) * (total + 1) - counts.get(m, 0)),
                -int(state.priorities.get(m, 0)),
                state.last_booked.get(m, -1),
                order.get(m, len(order)),
            ),
        )
        picked_list.append(best)
        counts[best] = counts.get(best, 0) + 1
        total += 1
    picked = tuple(picked_list)
    shares = "; ".join(share_sentence(m, counts, state) for m in picked)
    return Choice(picked, f"assigned by {POLICY_NAMES[policy]}: {shares}")


def share_sentence(member: str, counts: Mapping[str, int], state: PoolState) -> str:
    """"Ana, 31% of bookings against a 30% weight" (counts include the booking just made)."""
    total = sum(counts.get(m, 0) for m in state.members)
    share = counts.get(member, 0) / total if total else 0.0
    return (f"{state.names.get(member, member)}, {share:.0%} of bookings against a "
            f"{state.target_share(member):.0%} weight")  # fmt: skip


def _names(members: Sequence[str], name) -> str:
    return ", ".join(name(m, m) for m in members)
