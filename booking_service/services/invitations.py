"""Invitations: create, resend, cancel and expire them; their link tokens; their booking links.

The dashboard's invitation wizard fills an :class:`InvitationDraft` with the scheduler's input
and calls :func:`create_invitation`, which

1. validates everything and names what is wrong (:class:`InvitationError` with the field),
2. computes the slots with the planner (:mod:`booking_service.services.availability`) and refuses to
   send when none is available at the time of sending (:class:`NoAvailableSlots`),
3. stores the invitation under a fresh token: 256 random bits, of which only the SHA-256 hash
   is stored, so a database leak does not leak working links,
4. stores the promoted slots chosen by the optimizer when asked,
5. delivers it the way the scheduler chose (``deliver``): ``"email"`` queues the invitation
   email in the outbox (same transaction); ``"links"`` queues nothing and the scheduler pastes
   the returned links (the booking link and one per promoted slot) into their own message,
6. checks who acts (:mod:`booking_service.services.permissions`) and writes the audit log.

A resend issues a *new* token (the old link stops working: only hashes are stored, so the old
link cannot be mailed again) and a fresh set of promoted slots; invitation mails of the old link
that are still waiting to go out are withdrawn (``superseded``), as they are when the invitation
is cancelled, expires or is booked. An invitation whose frame has ended reads as ``expired``
(:func:`booking_service.services.lifecycle.effective_status`); :func:`expire_invitations`
records it (the worker calls it on every pass).

Every change of state here (create, resend, cancel, expire) goes through the state machine in
:mod:`booking_service.services.lifecycle`: on SQLite the caller's transaction must come from
``session_scope(engine, write=True)``; the invitation row is locked and its state re-read before
anything changes, and a state the table does not allow is refused with
:class:`InvitationStateError`, whose message says what to do instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..core import display, i18n
from ..core.config import Settings
from ..core.i18n import N_
from ..store.models import (
    POOL_POLICIES,
    Invitation,
    PromotedSlot,
    ReplacedLink,
    ResourcePool,
    Room,
    TeamMember,
    User,
    invitation_members,
    invitation_pools,
    invitation_rooms,
    pool_members,
    utcnow,
)
from . import audit, availability, lifecycle
from .holds import release_holds
from .lifecycle import TEAM_AND_ROOMS, InvitationStateError
from .outbox import RenderedMail, queue_mail, render_mail, supersede_invitation_mail
from .permissions import require_invitation

TOKEN_BYTES = 32
"""Random bytes per link token (256 bits; the design asks for at least 128)."""

EMAIL_RE = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"'.]+$")
MAX_FRAME_DAYS = 366
DELIVERIES = ("email", "links")
"""How an invitation reaches the customer: Slotwise sends the email, or the scheduler pastes the links."""
MAX_BUFFER_MINUTES = 24 * 60


class InvitationError(ValueError):
    """The scheduler's input cannot make an invitation.

    Attributes
    ----------
    field : str
        The input field at fault (``"customer_email"``, ``"members"``, ``"frame_end"`` ...), so a
        form can show the message next to it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NoAvailableSlots(InvitationError):
    """Nobody needed is free at any time in the frame right now: the invitation is not sent."""


# --- tokens and links ------------------------------------------------------------------------


def new_token() -> str:
    """A fresh link token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def find_by_token(session: Session, token: str) -> Invitation | None:
    """The invitation a link token opens (team and rooms loaded), or ``None``.

    The same work is done for every token that opens nothing (hash, one indexed lookup), whether
    it never existed, was replaced by a resend, or is malformed, so the answer time does not tell
    them apart.
    """
    if session.get_bind().dialect.name != "sqlite":
        return session.scalars(_BY_TOKEN, {"token_hash": _lookup_hash(token)}).unique().one_or_none()
    invitation = session.scalars(_BY_TOKEN_ALONE, {"token_hash": _lookup_hash(token)}).one_or_none()
    if invitation is not None:
        _load_collection(session, invitation, "members", _MEMBERS)
        _load_collection(session, invitation, "pools", _POOLS)
        _load_collection(session, invitation, "rooms", _ROOMS)
        for pool in invitation.pools:
            _load_collection(session, pool, "members", _POOL_MEMBERS)
    return invitation


# Built once: every booking page looks its link up, and building the statement with its loader
# options cost a tenth of running it.
_BY_TOKEN_ALONE = select(Invitation).where(Invitation.token_hash == bindparam("token_hash"))
_BY_TOKEN = _BY_TOKEN_ALONE.options(*TEAM_AND_ROOMS)

# SQLite runs a joined load of a many-to-many collection by first joining its whole association
# table (every invitation's members, every invitation's rooms), so a link's lookup would take
# longer the more invitations there are. There each collection is read by a query of its own on
# the association table's key, as its relationship reads it (by id), at half the cost of the
# relationship's own lazy load.


def _collection(entity, table, key: str, owner: str):
    return (
        select(entity)
        .join(table, table.c[key] == entity.id)
        .where(table.c[owner] == bindparam("owner"))
        .order_by(entity.id)
    )


_MEMBERS = _collection(TeamMember, invitation_members, "member_id", "invitation_id")
_POOLS = _collection(ResourcePool, invitation_pools, "pool_id", "invitation_id")
_ROOMS = _collection(Room, invitation_rooms, "room_id", "invitation_id")
_POOL_MEMBERS = _collection(TeamMember, pool_members, "member_id", "pool_id")


def _load_collection(session: Session, owner, name: str, query) -> None:
    # A collection this session has loaded already (with any changes made to it) is kept.
    if name not in inspect(owner).dict:
        set_committed_value(owner, name, session.scalars(query, {"owner": owner.id}).all())


def link_key(session: Session, token: str) -> Row[tuple[int, str | None]] | None:
    """The ``id`` and ``language`` of the invitation a link token opens, or ``None`` (one indexed lookup).

    For the pages that lock and load the invitation themselves (holding a time, booking): the
    language is chosen, and the request's input checked in it, before the lock is taken.
    """
    return session.execute(_KEY_BY_TOKEN, {"token_hash": _lookup_hash(token)}).one_or_none()


_KEY_BY_TOKEN = select(Invitation.id, Invitation.language).where(Invitation.token_hash == bindparam("token_hash"))


def _lookup_hash(token: str) -> str:
    # Tokens are 43 characters; a longer one cannot match, and hashing at most 200 keeps the
    # work the same for absurd input.
    return hash_token(token[:200])


def replaced_link(session: Session, token: str) -> tuple[Invitation, dt.datetime] | None:
    """For a link a resend replaced: its invitation and when the newer link was sent; else ``None``."""
    row = session.get(ReplacedLink, _lookup_hash(token))
    if row is None:
        return None
    invitation = session.get(Invitation, row.invitation_id)  # the row goes with its invitation (cascade)
    return invitation, invitation.sent_at  # a resend replaced the link and set when it sent the newer one


def manage_token_for(secret_key: str, token_hash: str) -> str:
    """The token of the manage link (reschedule, cancel) of the meeting booked through an invitation.

    An HMAC-SHA256 under ``SECRET_KEY`` of the invitation's stored link hash: 256 bits that only
    the installation can derive (a copy of the database alone does not give it away), so every
    page and mail about the meeting (the scheduled page, reminders, a scheduler's cancellation
    offering other times) carries the same link without the link being stored. The meeting
    keeps only its SHA-256 (``Meeting.manage_token_hash``).
    """
    if not secret_key:
        raise ValueError("secret_key is empty; the manage link needs the installation's SECRET_KEY")
    digest = hmac.new(secret_key.encode("utf-8"), b"manage:" + token_hash.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def manage_link(public_url: str, token: str) -> str:
    """The customer's manage link: ``<PUBLIC_URL>/m/<token>`` (append ``/reschedule`` or ``/cancel``)."""
    return f"{public_url.rstrip('/')}/m/{token}"


def booking_link(public_url: str, token: str) -> str:
    """The customer's link: ``<PUBLIC_URL>/i/<token>`` (the ``booking.invitation`` page)."""
    return f"{public_url.rstrip('/')}/i/{token}"


def times_link(public_url: str, token: str, zone: str | None = None) -> str:
    """The all-available-times page of an invitation."""
    query = f"?{urlencode({'zone': zone})}" if zone else ""
    return f"{booking_link(public_url, token)}/times{query}"


def slot_link(public_url: str, token: str, start: dt.datetime, zone: str) -> str:
    """The confirmation page of one slot (what a promoted slot in the email links to)."""
    query = urlencode({"start": display.iso_utc(start), "zone": zone})
    return f"{booking_link(public_url, token)}/slot?{query}"


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationDraft:
    """The scheduler's input for one invitation (what the dashboard's wizard collects).

    Minutes are whole minutes; ``frame_start``/``frame_end`` are dates in ``zone`` (inclusive);
    ``zone`` defaults to the scheduler profile's zone. ``members``, ``pools`` and ``rooms`` are
    database ids. ``promote_count`` is the number of promoted slots (k) when ``promote`` is on.
    ``promoted_starts`` (tz-aware starts, in order) replaces the optimizer's picks when the
    scheduler swapped some of them; each must be an available slot. ``pool_policy`` overrides
    the assignment policy of every chosen pool (``None``: each pool's own, see
    :mod:`booking_service.services.pool_policy`).
    """

    customer_name: str
    customer_email: str
    subject: str
    duration_minutes: int
    frame_start: dt.date
    frame_end: dt.date
    members: tuple[int, ...] = ()
    pools: tuple[int, ...] = ()
    rooms: tuple[int, ...] = ()
    description: str = ""
    conferencing: str = ""
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    minimum_notice_minutes: int = 0
    slot_interval_minutes: int = 15
    min_capacity: int = 1
    zone: str | None = None
    customer_zone: str | None = None
    promote: bool = False
    promote_count: int = 5
    promoted_starts: tuple[dt.datetime, ...] | None = None
    change_cutoff_hours: int | None = None
    max_reschedules: int | None = None
    pool_policy: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class ValidatedDraft:
    """A checked draft with its resources loaded; reads like an :class:`Invitation`.

    It has the attribute names of :class:`~booking_service.store.models.Invitation` that the planner
    request needs, so :func:`booking_service.services.availability.slot_request` serves both.
    """

    customer_name: str
    customer_email: str
    subject: str
    description: str
    conferencing: str
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
    promote: bool
    promote_count: int
    members: list[TeamMember] = field(default_factory=list)
    pools: list[ResourcePool] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    promoted_starts: tuple[dt.datetime, ...] | None = None
    change_cutoff_hours: int | None = None
    max_reschedules: int | None = None
    pool_policy: str | None = None
    language: str | None = None


def _text(name: str, value: object, limit: int, *, required: bool, one_line: bool = True) -> str:
    label = name.replace("_", " ")
    if not isinstance(value, str):
        raise InvitationError(name, f"{label} must be text, got {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise InvitationError(name, f"{label} is required")
    if len(value) > limit:
        raise InvitationError(name, f"{label} is {len(value)} characters; at most {limit}")
    if one_line and ("\n" in value or "\r" in value):
        raise InvitationError(name, f"{label} must be one line")
    return value


def _minutes(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvitationError(name, f"{name} must be a whole number of minutes, got {value!r}")
    if not low <= value <= high:
        raise InvitationError(name, f"{name}={value} must be between {low} and {high} minutes")
    return value


def _zone(name: str, value: str) -> str:
    if not isinstance(value, str) or not display.is_zone(value):
        raise InvitationError(name, f"{name} {value!r} is not an IANA time zone; use a name like 'Europe/Berlin'")
    return value


def _ids(name: str, values: object) -> list[int]:
    try:
        ids = [int(v) for v in values]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvitationError(name, f"{name} must be a list of ids, got {values!r}") from None
    if len(set(ids)) != len(ids):
        raise InvitationError(name, f"{name} lists an id twice: {ids}")
    return ids


def validate_draft(
    session: Session,
    draft: InvitationDraft,
    *,
    by: User | None = None,
    now: dt.datetime | None = None,
    default_zone: str = Settings.default_zone,
) -> ValidatedDraft:
    """Check every field of ``draft`` and load its members, pools and rooms.

    Parameters
    ----------
    by : User, optional
        The scheduler; their profile zone is the default frame zone.
    now : datetime.datetime, optional
        The current instant (tz-aware); a frame that ended before today is refused.
    default_zone : str
        Frame zone when neither ``draft.zone`` nor the scheduler has one.

    Raises
    ------
    InvitationError
        On the first problem found, naming the field and the bad value.
    """
    now = now or utcnow()
    customer_name = _text("customer_name", draft.customer_name, 200, required=True)
    email = _text("customer_email", draft.customer_email, 254, required=True)
    if not EMAIL_RE.match(email):
        raise InvitationError("customer_email", f"customer email {email!r} is not an email address like ada@example.com")
    subject = _text("subject", draft.subject, 300, required=True)
    description = _text("description", draft.description, 5000, required=False, one_line=False)
    conferencing = _text("conferencing", draft.conferencing, 1000, required=False, one_line=False)
    zone = _zone("zone", draft.zone or (by.zone if by is not None and by.zone else default_zone))
    customer_zone = _zone("customer_zone", draft.customer_zone) if draft.customer_zone else None
    try:
        language = i18n.check_language(draft.language)
    except ValueError as exc:
        raise InvitationError("language", str(exc)) from None

    duration = _minutes("duration_minutes", draft.duration_minutes, 5, 24 * 60)
    before = _minutes("buffer_before_minutes", draft.buffer_before_minutes, 0, MAX_BUFFER_MINUTES)
    after = _minutes("buffer_after_minutes", draft.buffer_after_minutes, 0, MAX_BUFFER_MINUTES)
    notice = _minutes("minimum_notice_minutes", draft.minimum_notice_minutes, 0, 60 * 24 * 60)
    interval = _minutes("slot_interval_minutes", draft.slot_interval_minutes, 5, 24 * 60)
    if (24 * 60) % interval:
        raise InvitationError(
            "slot_interval_minutes",
            f"slot interval {interval} minutes does not divide 24 hours; use e.g. 15, 30, 45 or 60",
        )
    if isinstance(draft.min_capacity, bool) or not isinstance(draft.min_capacity, int) or draft.min_capacity < 1:
        raise InvitationError("min_capacity", f"min_capacity={draft.min_capacity!r} must be a whole number >= 1")
    promote_count = draft.promote_count
    if draft.promote and (not isinstance(promote_count, int) or not 1 <= promote_count <= 10):
        raise InvitationError("promote_count", f"promote_count={promote_count!r} must be between 1 and 10")

    for name in ("frame_start", "frame_end"):
        value = getattr(draft, name)
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise InvitationError(name, f"{name} must be a date, got {value!r}")
    if draft.frame_end < draft.frame_start:
        raise InvitationError(
            "frame_end", f"frame ends {draft.frame_end} before it starts {draft.frame_start}"
        )
    days = (draft.frame_end - draft.frame_start).days + 1
    if days > MAX_FRAME_DAYS:
        raise InvitationError("frame_end", f"frame is {days} days long; at most {MAX_FRAME_DAYS}")
    today = now.astimezone(ZoneInfo(zone)).date()
    if draft.frame_end < today:
        raise InvitationError(
            "frame_end", f"frame ends {draft.frame_end}, which is in the past (today is {today} in {zone})"
        )
    frame_zone = ZoneInfo(zone)
    frame_minutes = (
        dt.datetime.combine(draft.frame_end + dt.timedelta(days=1), dt.time(), frame_zone).astimezone(dt.UTC)
        - dt.datetime.combine(draft.frame_start, dt.time(), frame_zone).astimezone(dt.UTC)
    ) / dt.timedelta(minutes=1)
    if duration > frame_minutes:
        raise InvitationError(
            "duration_minutes",
            f"duration {display.format_duration(duration)} is longer than the frame "
            f"{draft.frame_start}..{draft.frame_end} ({display.format_duration(int(frame_minutes))} in {zone})",
        )

    member_ids = _ids("members", draft.members)
    pool_ids = _ids("pools", draft.pools)
    room_ids = _ids("rooms", draft.rooms)
    if not member_ids and not pool_ids:
        raise InvitationError("members", "the team is empty: choose at least one member or one pool")
    members = _load(session, TeamMember, member_ids, "members", "member")
    pools = _load(session, ResourcePool, pool_ids, "pools", "pool")
    rooms = _load(session, Room, room_ids, "rooms", "room")
    for pool in pools:
        if not any(m.active for m in pool.members):
            raise InvitationError("pools", f"pool {pool.name!r} has no active members; add members or drop the pool")
        active = sum(1 for m in pool.members if m.active)
        if active < pool.panel_size:
            raise InvitationError(
                "pools", f"pool {pool.name!r} needs {pool.panel_size} members per meeting but has {active} active; "
                "add members or lower its panel size",
            )
    pool_policy = draft.pool_policy or None
    if pool_policy is not None and pool_policy not in POOL_POLICIES:
        raise InvitationError(
            "pool_policy", f"pool policy {pool_policy!r} is not a policy; use one of {', '.join(POOL_POLICIES)}"
        )
    if rooms and not any(r.capacity >= draft.min_capacity for r in rooms):
        biggest = max(r.capacity for r in rooms)
        raise InvitationError(
            "rooms", f"no chosen room seats {draft.min_capacity} people (the largest seats {biggest})"
        )
    promoted_starts = _promoted_starts(draft) if draft.promote else None
    return ValidatedDraft(
        customer_name=customer_name,
        customer_email=email,
        subject=subject,
        description=description,
        conferencing=conferencing,
        duration_minutes=duration,
        buffer_before_minutes=before,
        buffer_after_minutes=after,
        minimum_notice_minutes=notice,
        slot_interval_minutes=interval,
        min_capacity=draft.min_capacity,
        frame_start=draft.frame_start,
        frame_end=draft.frame_end,
        zone=zone,
        customer_zone=customer_zone,
        promote=bool(draft.promote),
        promote_count=promote_count if draft.promote else 5,
        members=members,
        pools=pools,
        rooms=rooms,
        promoted_starts=promoted_starts,
        change_cutoff_hours=_optional_count("change_cutoff_hours", draft.change_cutoff_hours, 24 * 366),
        max_reschedules=_optional_count("max_reschedules", draft.max_reschedules, 100),
        pool_policy=pool_policy,
        language=language,
    )


def _optional_count(name: str, value: object, high: int) -> int | None:
    """A policy number of the draft: ``None`` (the installation's default) or a whole number 0..high."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise InvitationError(name, f"{name}={value!r} must be a whole number from 0 to {high}, or empty for the default")
    return value


def _promoted_starts(draft: InvitationDraft) -> tuple[dt.datetime, ...] | None:
    """The scheduler's own promoted slots, checked for form (availability is checked on sending)."""
    if draft.promoted_starts is None:
        return None
    starts = tuple(draft.promoted_starts)
    if not 1 <= len(starts) <= 10:
        raise InvitationError("promoted_starts", f"promote between 1 and 10 slots, not {len(starts)}")
    for start in starts:
        if not isinstance(start, dt.datetime) or start.tzinfo is None or start.utcoffset() is None:
            raise InvitationError("promoted_starts", f"promoted start {start!r} must be a tz-aware datetime")
    utc = tuple(start.astimezone(dt.UTC) for start in starts)
    if len(set(utc)) != len(utc):
        raise InvitationError("promoted_starts", "the same slot is promoted twice; pick different slots")
    return utc


def _load(session: Session, model: type, ids: list[int], name: str, noun: str) -> list:
    if not ids:
        return []
    found = {obj.id: obj for obj in session.scalars(select(model).where(model.id.in_(ids)))}
    for wanted in ids:
        obj = found.get(wanted)
        if obj is None:
            raise InvitationError(name, f"unknown {noun} id {wanted}")
        if getattr(obj, "active", True) is False:
            raise InvitationError(name, f"{noun} {obj.name!r} (id {wanted}) is inactive")
    return [found[i] for i in sorted(ids)]


# --- create / resend / cancel -----------------------------------------------------------------


@dataclass(frozen=True)
class CreatedInvitation:
    """The result of creating or resending: the stored invitation, its token and links.

    ``slot_links`` holds, for each promoted slot in rank order, ``(start, end, url)``: the link
    that books that slot directly, as in the email, ready to paste when the scheduler sends the
    invitation themself.
    """

    invitation: Invitation
    token: str
    link: str
    slot_count: int
    slot_links: tuple[tuple[dt.datetime, dt.datetime, str], ...] = ()


def _slot_links(invitation: Invitation, token: str, public_url: str) -> tuple[tuple[dt.datetime, dt.datetime, str], ...]:
    zone = invitation.customer_zone or invitation.zone
    return tuple((p.start, p.end, slot_link(public_url, token, p.start, zone)) for p in invitation.promoted_slots)


def _check_delivery(deliver: str) -> str:
    if deliver not in DELIVERIES:
        raise InvitationError("deliver", f"delivery {deliver!r} is not one of {', '.join(DELIVERIES)}")
    return deliver


def _store_promoted(invitation: Invitation, promoted) -> None:
    """Give the invitation (without promoted slots) the rows of ``promoted`` (start, end, score, reason), in order."""
    rows = zip(promoted["start"], promoted["end"], promoted["score"], promoted["reason"], strict=True)
    for rank, (start, end, score, reason) in enumerate(rows, start=1):
        invitation.promoted_slots.append(
            PromotedSlot(rank=rank, start=start.to_pydatetime(), end=end.to_pydatetime(), score=float(score), reason=str(reason))
        )


def _invitation_mail(
    invitation: Invitation | ValidatedDraft,
    token: str,
    public_url: str,
    promoted_slots: list[tuple[dt.datetime, dt.datetime]],
    organizer: User | None,
) -> RenderedMail:
    zone = invitation.customer_zone or invitation.zone
    promoted = [
        {"start": start, "end": end, "url": slot_link(public_url, token, start, zone)}
        for start, end in promoted_slots
    ]
    return render_mail(
        "invitation",
        N_("Please pick a time: %(subject)s"),
        language=invitation.language,
        customer_name=invitation.customer_name,
        subject=invitation.subject,
        organizer_name=organizer.name if organizer is not None else "Our team",
        team=availability.team_names(invitation),
        rooms=room_names(invitation),
        duration_minutes=invitation.duration_minutes,
        description=invitation.description,
        promoted=promoted,
        zone=zone,
        link=booking_link(public_url, token),
        more_link=times_link(public_url, token, zone),
    )


def room_names(invitation: Invitation | ValidatedDraft) -> str:
    """Where the meeting may be, before it is booked: the room, or "one of A, B" (empty without rooms)."""
    rooms = [r.name for r in invitation.rooms if r.active and r.capacity >= invitation.min_capacity]
    if len(rooms) <= 1:
        return rooms[0] if rooms else ""
    return "one of " + ", ".join(rooms)


def reply_to(invitation: Invitation) -> str | None:
    """The ``Reply-To`` of mail to the invitation's customer: the scheduler who sent it, if any."""
    creator = invitation.created_by
    if creator is None or not creator.email:
        return None
    return f"{creator.name} <{creator.email}>" if creator.name else creator.email


def _queue_invitation_mail(
    session: Session, invitation: Invitation, token: str, public_url: str, secret_key: str, now: dt.datetime
) -> None:
    promoted = [(p.start, p.end) for p in invitation.promoted_slots]
    mail = _invitation_mail(invitation, token, public_url, promoted, invitation.created_by)
    session.flush()
    queue_mail(session, kind="invitation", to=invitation.customer_email, mail=mail, secret_key=secret_key,
               invitation_id=invitation.id, link_hash=invitation.token_hash, now=now,
               reply_to=reply_to(invitation))


def _chosen_promoted(slots, picks, starts: tuple[dt.datetime, ...]):
    """The rows of ``slots`` at ``starts``, with the optimizer's score and reason where it chose the same."""
    import pandas as pd

    table = slots.set_index(pd.DatetimeIndex(slots["start"]).as_unit("ns"))  # an index beside the column
    wanted = pd.DatetimeIndex(starts).as_unit("ns")  # in UTC, as validate_draft leaves them
    missing = wanted.difference(table.index)
    if len(missing):
        raise InvitationError(
            "promoted_starts",
            f"the promoted slot at {display.iso_utc(missing[0].to_pydatetime())} is no longer available; pick another",
        )
    chosen = table.loc[wanted].reset_index(drop=True)
    optimizers = {
        pd.Timestamp(start).value: (float(score), str(reason))
        for start, score, reason in zip(picks["start"], picks["score"], picks["reason"], strict=True)
    }
    scored = [optimizers.get(t.value, (0.0, "chosen by the scheduler")) for t in wanted]
    chosen["score"] = [score for score, _ in scored]
    chosen["reason"] = [reason for _, reason in scored]
    return chosen


def preview_invitation_mail(
    session: Session,
    draft: InvitationDraft,
    *,
    by: User | None,
    public_url: str,
    now: dt.datetime | None = None,
    default_zone: str = Settings.default_zone,
) -> RenderedMail:
    """The invitation email exactly as :func:`create_invitation` would queue it, for a preview.

    The promoted slots are ``draft.promoted_starts`` (when ``promote`` is on); the links carry the
    placeholder token ``PREVIEW``. Nothing is stored.

    Raises
    ------
    InvitationError
        When the draft is not valid.
    """
    spec = validate_draft(session, draft, by=by, now=now or utcnow(), default_zone=default_zone)
    duration = dt.timedelta(minutes=spec.duration_minutes)
    promoted = [(start, start + duration) for start in spec.promoted_starts or ()]
    return _invitation_mail(spec, "PREVIEW", public_url, promoted, by)


def _slots_and_promotion(session: Session, spec, now: dt.datetime):
    slots = availability.find_slots_for(session, spec, now=now)
    if slots.empty:
        raise NoAvailableSlots(
            "frame_end",
            "no slot is available in this frame right now (nobody needed is free at the same "
            "time); widen the frame, shorten the meeting or change the team, then send again",
        )
    promoted = availability.promote(session, spec, slots, now=now) if spec.promote else None
    return slots, promoted


def create_invitation(
    session: Session,
    draft: InvitationDraft,
    *,
    by: User | None,
    public_url: str,
    secret_key: str,
    now: dt.datetime | None = None,
    default_zone: str = Settings.default_zone,
    deliver: str = "email",
    require_write_lock: bool = True,
) -> CreatedInvitation:
    """Validate, compute slots, store the invitation and deliver it; return the links.

    Parameters
    ----------
    session : Session
        The caller's transaction; everything is added to it (nothing is committed here). On
        SQLite it must come from ``session_scope(engine, write=True)``.
    draft : InvitationDraft
        The scheduler's input.
    by : User or None
        The scheduler sending it (organizer, default zone).
    public_url : str
        Base of the customer's links (``PUBLIC_URL``).
    secret_key : str
        The installation's ``SECRET_KEY``: the queued email is encrypted with it until it is sent.
    now : datetime.datetime, optional
        Time of sending, tz-aware (default: now).
    default_zone : str
        Frame zone when neither the draft nor the scheduler names one.
    deliver : {"email", "links"}
        ``"email"``: queue the personalized invitation email. ``"links"``: queue no email; the
        scheduler sends the returned links themself. Stored as ``Invitation.delivery``.
    require_write_lock : bool
        On SQLite, refuse a transaction not opened with ``write=True``. Pass False only for a
        transaction that has already written (so it holds SQLite's write lock), such as the
        demo seed's.

    Returns
    -------
    CreatedInvitation
        The invitation, the raw token (never stored), the booking link, the slot count and the
        link of each promoted slot.

    Raises
    ------
    InvitationError
        A field is invalid (the message names it and the bad value).
    NoAvailableSlots
        No slot is available at the time of sending; nothing is stored.
    """
    now = now or utcnow()
    _check_delivery(deliver)
    locked = lifecycle.enter(session, "create", now=now, require_write_lock=require_write_lock)
    spec = validate_draft(session, draft, by=by, now=now, default_zone=default_zone)
    slots, promoted = _slots_and_promotion(session, spec, now)
    if spec.promoted_starts is not None:
        promoted = _chosen_promoted(slots, promoted, spec.promoted_starts)
    token = new_token()
    invitation = Invitation(
        token_hash=hash_token(token),
        created_by=by,
        customer_name=spec.customer_name,
        customer_email=spec.customer_email,
        customer_zone=spec.customer_zone,
        language=spec.language,
        subject=spec.subject,
        description=spec.description,
        conferencing=spec.conferencing,
        duration_minutes=spec.duration_minutes,
        buffer_before_minutes=spec.buffer_before_minutes,
        buffer_after_minutes=spec.buffer_after_minutes,
        minimum_notice_minutes=spec.minimum_notice_minutes,
        slot_interval_minutes=spec.slot_interval_minutes,
        min_capacity=spec.min_capacity,
        frame_start=spec.frame_start,
        frame_end=spec.frame_end,
        zone=spec.zone,
        promote=spec.promote,
        promote_count=spec.promote_count,
        pool_policy=spec.pool_policy,
        delivery=deliver,
        created_at=now,
        sent_at=now,
        change_cutoff_hours=spec.change_cutoff_hours,
        max_reschedules=spec.max_reschedules,
        members=list(spec.members),
        pools=list(spec.pools),
        rooms=list(spec.rooms),
    )
    session.add(invitation)
    lifecycle.finish(locked, invitation=invitation)
    if promoted is not None:
        _store_promoted(invitation, promoted)
    if deliver == "email":
        _queue_invitation_mail(session, invitation, token, public_url, secret_key, now)
    session.flush()
    audit.record(session, by, "invitation.created", invitation, subject=invitation.subject,
                 customer_email=invitation.customer_email, delivery=deliver, slots=len(slots), at=now)
    return CreatedInvitation(invitation, token, booking_link(public_url, token), len(slots),
                             _slot_links(invitation, token, public_url))


def resend_invitation(
    session: Session,
    invitation_id: int,
    *,
    by: User | None,
    public_url: str,
    secret_key: str,
    now: dt.datetime | None = None,
    deliver: str | None = None,
) -> CreatedInvitation:
    """Send an active invitation again under a new link (the old link stops working).

    Slots are recomputed and the promoted slots chosen afresh; invitation mails of the old link
    still waiting in the outbox are withdrawn. ``deliver`` (default: how the invitation was
    delivered before) chooses between queueing the email again and returning only the new
    links. ``by`` must have the invitation in its scope; the resend is audited. ``secret_key``
    encrypts the queued email (see :func:`create_invitation`). On SQLite the session must come
    from ``session_scope(engine, write=True)``.

    Raises
    ------
    InvitationStateError
        If the invitation does not exist or, under its lock, is no longer active (booked a
        moment ago, cancelled, expired); the message says what to do instead.
    NoAvailableSlots
        If no slot is available any more; the old link keeps working.
    booking_service.services.permissions.PermissionDenied
        If ``by`` may not act on this invitation.
    """
    now = now or utcnow()
    if by is not None:
        require_invitation(session, by, invitation_id, "resend")
    locked = lifecycle.enter(session, "resend", invitation_id=invitation_id, now=now, load=TEAM_AND_ROOMS)
    invitation = locked.invitation
    deliver = _check_delivery(deliver or invitation.delivery)
    slots, promoted = _slots_and_promotion(session, invitation, now)
    token = new_token()
    # The old link's page then says when the newer one was sent.
    session.add(ReplacedLink(token_hash=invitation.token_hash, invitation_id=invitation.id, replaced_at=now))
    invitation.token_hash = hash_token(token)
    invitation.sent_at = now
    invitation.updated_at = now
    if promoted is not None:
        # Delete the old promoted slots first: one flush would insert the new ranks before
        # deleting the old ones and trip the unique (invitation, rank) constraint.
        invitation.promoted_slots.clear()
        session.flush()
        _store_promoted(invitation, promoted)
        session.flush()
    invitation.delivery = deliver
    supersede_invitation_mail(session, invitation.id)
    if deliver == "email":
        _queue_invitation_mail(session, invitation, token, public_url, secret_key, now)
    lifecycle.finish(locked)
    audit.record(session, by, "invitation.resent", invitation, delivery=deliver, slots=len(slots), at=now)
    return CreatedInvitation(invitation, token, booking_link(public_url, token), len(slots),
                             _slot_links(invitation, token, public_url))


def cancel_invitation(
    session: Session, invitation_id: int, *, by: User | None, secret_key: str, now: dt.datetime | None = None
) -> Invitation:
    """Withdraw an active invitation: its link then shows "cancelled", and the customer is told by mail.

    Its invitation mails still waiting in the outbox are withdrawn, its slot hold ends, and a
    mail (encrypted with ``secret_key`` until sent) tells the customer whom to contact. An invitation that is
    already booked is refused (its meeting is what to cancel:
    :func:`booking_service.services.booking.cancel_meeting`). ``by`` must have the invitation in
    its scope; the cancellation is audited. On SQLite the session must come from
    ``session_scope(engine, write=True)``.

    Raises
    ------
    InvitationStateError
        If the invitation does not exist or, under its lock, is not active: booked a moment
        ago ("cancel the meeting instead"), already cancelled, or expired.
    booking_service.services.permissions.PermissionDenied
        If ``by`` may not act on this invitation.
    """
    now = now or utcnow()
    if by is not None:
        require_invitation(session, by, invitation_id, "cancel")
    locked = lifecycle.enter(session, "cancel_invitation", invitation_id=invitation_id, now=now)
    invitation = locked.invitation
    supersede_invitation_mail(session, invitation_id)
    release_holds(session, invitation_id)
    lifecycle.finish(locked)
    creator = invitation.created_by
    contact = f"{creator.name} <{creator.email}>" if creator is not None and creator.email else ""
    mail = render_mail("invitation_cancelled", N_("Withdrawn: %(subject)s"), language=invitation.language,
                       customer_name=invitation.customer_name, subject=invitation.subject, contact=contact)
    queue_mail(session, kind="invitation_cancelled", to=invitation.customer_email, mail=mail, secret_key=secret_key,
               invitation_id=invitation_id, now=now, reply_to=reply_to(invitation))
    audit.record(session, by, "invitation.cancelled", locked.invitation, at=now)
    return locked.invitation


def expire_invitations(session: Session, now: dt.datetime | None = None) -> int:
    """Record as expired every active invitation whose frame has ended; return how many.

    Each one is locked and re-checked (:func:`booking_service.services.lifecycle.enter`), so one
    booked or cancelled meanwhile is left alone; its waiting invitation mails are withdrawn. On
    SQLite the session must come from ``session_scope(engine, write=True)``.
    """
    now = now or utcnow()
    # The frame ends at 24:00 of its last date in its own zone, at most 14 hours either side of
    # UTC midnight: every ended frame has frame_end <= today (UTC); enter() checks exactly.
    candidates = session.scalars(
        select(Invitation.id)
        .where(Invitation.status == "active", Invitation.frame_end < now.date() + dt.timedelta(days=1))
        .order_by(Invitation.id)
    ).all()
    count = 0
    for invitation_id in candidates:
        try:
            locked = lifecycle.enter(session, "expire", invitation_id=invitation_id, now=now)
        except InvitationStateError:
            continue  # booked, cancelled or its frame not over after all: nothing to record
        supersede_invitation_mail(session, invitation_id)
        release_holds(session, invitation_id)
        lifecycle.finish(locked)
        count += 1
    return count
