"""Shared state of the dashboard: settings, engine, sessions, the signed-in user, cached availability.

- The engine is a process-wide resource (``st.cache_resource``), one per database URL, so tests
  that point ``DATABASE_URL`` at their own file each get their own engine.
- :func:`session` opens one transaction around service calls (commit on success); a change a
  person asks for uses ``session(write=True)`` and ends, when it cannot be made, in one of
  :data:`REFUSED`, each with a message in words (never a traceback).
- :func:`data_version` is the cheap fingerprint (:func:`booking_service.services.queries.data_version`)
  that keys everything cached: a booking made on the customer side or a calendar sync changes
  it, so the next rerun rebuilds what depends on it.
- :func:`data_changed` is what a page calls after it changed data itself (it also covers edits
  the fingerprint cannot see, such as a member's new zone).
- :func:`one_at_a_time` wraps a button's callback that changes data, so that a double click acts
  once and what it did still reaches the page (:func:`apply_outcomes`); :func:`reads` names the
  inputs an action reads, and :class:`Refused` marks an outcome that changed nothing.
- :func:`org_tables` (the organisation as planner tables), :func:`org_index` (the same indexed by
  resource, :class:`planner.OrgTables`), :func:`org_grid` (the planner's prebuilt
  :class:`planner.OrgGrid`) and :func:`org_limits` are shared by every session and rebuilt once per
  data version; the wizard's live count (:func:`live_view`) runs on the grid, the Capacity page's
  figures (:func:`utilization`, :func:`free_capacity`) and the zero-slot explanation
  (:func:`explain_no_slots`) on the tables, through :mod:`planner.analytics`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from streamlit.runtime.scriptrunner import get_script_run_ctx

import planner
from booking_service.core.clock import utcnow
from booking_service.core.config import Settings, load_settings
from booking_service.services import accounts, availability, invitations, outbox, pool_policy, queries
from booking_service.services.lifecycle import TransitionRefused
from booking_service.services.permissions import PermissionDenied
from booking_service.store.db import make_engine, session_scope
from planner import analytics, teams

if TYPE_CHECKING:
    from booking_service.store.models import User


#: Key in ``st.session_state`` holding the signed-in user's id (set by the sign-in gate).
USER_KEY = "user_id"
#: Key in ``st.session_state`` of the booking links made in this browser session (invitation id -> link).
LINKS_KEY = "invitation_links"


def settings() -> Settings:
    """The installation's settings (environment read on every rerun: it is cheap)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine for the configured ``DATABASE_URL`` (shared by every session of the process)."""
    return _engine(settings().database_url)


# PostgreSQL's codes for a transaction that lost a wait for locks: serialization failure,
# deadlock, lock not available, statement cancelled by a timeout.
_BUSY_SQLSTATES = {"40001", "40P01", "55P03", "57014"}


def _busy(error: OperationalError) -> bool:
    """Whether the driver error says the database was busy (locked), not broken."""
    if getattr(error.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


class DatabaseBusy(RuntimeError):
    """A change could not be saved because other changes kept the database busy past the wait."""


#: What a change a person asks for may end in instead of success, each with a message to show
#: as it is: the state machine's refusal, a permission refusal, or a database too busy to wait for.
REFUSED = (TransitionRefused, PermissionDenied, DatabaseBusy)


@contextmanager
def session(*, write: bool = False) -> Iterator[Session]:
    """One transaction on the dashboard's database: commit on success, roll back on error.

    ``write=True`` takes the write lock when the transaction begins (SQLite waits there, up to
    its busy timeout, for other writers), as every change of state requires. A write that still
    finds the database locked, or loses to a lock timeout on PostgreSQL, raises
    :class:`DatabaseBusy` with a message for the person instead of the driver's error.
    """
    try:
        with session_scope(engine(), write=write) as s:
            yield s
    except OperationalError as exc:
        if not (write and _busy(exc)):
            raise
        reason = str(exc.orig).strip().splitlines()[0]
        raise DatabaseBusy(
            f"Nothing was changed: the database stayed busy with other changes for too long ({reason}). "
            "Try again in a moment."
        ) from exc


def data_version() -> tuple:
    """Fingerprint of the availability data plus this process's own edits (see module docstring)."""
    with session() as s:
        version = queries.data_version(s)
    return (settings().database_url, version, _edits())


@st.cache_resource(show_spinner=False)
def _edit_counter() -> list[int]:
    # Shared by all sessions of the process: an edit by one scheduler invalidates for all.
    return [0]


def _edits() -> int:
    return _edit_counter()[0]


def data_changed() -> None:
    """Call after changing data: drops cached tables so that every page sees the change."""
    _edit_counter()[0] += 1
    st.cache_data.clear()


#: Seconds after a button's action acted in which the same button, clicked again in the same browser
#: session, counts as the second click of a double click (see :func:`one_at_a_time`).
REPEAT_SECONDS = 5.0


@dataclass
class _Call:
    """One button callback running for one browser session (see :func:`one_at_a_time`)."""

    finished: threading.Event = field(default_factory=threading.Event)
    acted: bool = False


@dataclass
class _Acted:
    """When a button's action last acted, and what it left for the page."""

    at: float
    arguments: tuple
    outcome: Callable[[], None] | None


@dataclass
class _Callbacks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[tuple[str, str], _Call] = field(default_factory=dict)
    acted: dict[tuple[str, str], _Acted] = field(default_factory=dict)
    outcomes: dict[str, list[Callable[[], None]]] = field(default_factory=dict)

    def note(self, session: str, outcome: Callable[[], None] | None) -> None:
        if outcome is not None:
            self.outcomes.setdefault(session, []).append(outcome)


@dataclass(frozen=True)
class Refused:
    """An action's outcome when it changed nothing (a refusal, with what to show for it).

    The same click again right after it is not the second click of a double click: the person
    is trying again, perhaps with what they corrected.
    """

    show: Callable[[], None]

    def __call__(self) -> None:
        self.show()


@st.cache_resource(show_spinner=False)
def _callbacks() -> _Callbacks:
    return _Callbacks()


def _same_click(value: object) -> object:
    """What tells two clicks' arguments apart, compared with ``==``: a stored row by its id (each
    run loads its own copy), anything else as it is (values by value, an upload by its file id)."""
    row_id = getattr(value, "id", None)
    return (type(value).__name__, row_id) if isinstance(row_id, int) else value


def reads(*keys: str | Callable[[], Iterable[str]]) -> Callable[[Callable], Callable]:
    """Mark a button's action as reading these inputs from ``st.session_state`` when clicked.

    Their values, as the click brought them, tell a double click from a click on what was typed
    next (:func:`one_at_a_time`). Instead of keys, one function may name them when clicked: a form
    whose inputs depend on a choice reads only the inputs shown (an input no longer shown may
    keep its last value for a run, and must not make two clicks differ).
    """

    def mark(action: Callable) -> Callable:
        action.inputs = keys[0] if len(keys) == 1 and callable(keys[0]) else keys
        return action

    return mark


def _inputs(action: Callable) -> tuple:
    keys = getattr(action, "inputs", ())
    return tuple(_same_click(st.session_state.get(k)) for k in (keys() if callable(keys) else keys))


def one_at_a_time(action: Callable[..., Callable[[], None] | None], *args: object) -> None:
    """A button's callback that changes data: ``action(*args)``, once per click however clicks arrive.

    Streamlit handles a click that arrives while an earlier run is still busy in a new run beside
    the first (its fast reruns) and stops the first at its next use of ``st.session_state``. So a
    double click can call one callback twice at the same moment, and the first call can be stopped
    after it has changed the data but before the page has noted it. Hence:

    - the second call waits for the first and acts only if the first was stopped before it acted;
    - a call with the same arguments and inputs (:func:`reads`) that comes within
      :data:`REPEAT_SECONDS` after the action changed data (the second click of a double click,
      once the first was quick) does not act either: the first call's outcome is applied again,
      in case the run that applied it was stopped. An outcome wrapped in :class:`Refused` says
      nothing changed, so the next click acts;
    - ``action`` must not touch ``st.session_state`` (or draw) after it has changed data: it
      returns what the page should note as a function (the *outcome*, safe to apply twice), which
      :func:`apply_outcomes` applies at the start of the session's next run that gets that far.

    Calls are told apart by browser session and the action's name (and, for the repeat, its
    arguments, rows by id, and inputs), so two pages' actions of one name share a turn: a person
    cannot press both at once.
    """
    session = get_script_run_ctx().session_id
    key = (session, action.__qualname__)
    arguments = (tuple(_same_click(a) for a in args), _inputs(action))
    calls = _callbacks()
    while True:
        with calls.lock:
            now = time.monotonic()
            for stale in [k for k, done in calls.acted.items() if now - done.at >= REPEAT_SECONDS]:
                del calls.acted[stale]
            last = calls.acted.get(key)
            if last is not None and last.arguments == arguments:  # the second click of a double click
                calls.note(session, last.outcome)
                return
            busy = calls.running.get(key)
            if busy is None:
                calls.running[key] = mine = _Call()
                break
        busy.finished.wait()
        if busy.acted:
            return
    try:
        outcome = action(*args)
        with calls.lock:
            calls.note(session, outcome)
            if not isinstance(outcome, Refused):
                calls.acted[key] = _Acted(time.monotonic(), arguments, outcome)
            mine.acted = True
    finally:
        with calls.lock:
            del calls.running[key]
        mine.finished.set()


def apply_outcomes() -> None:
    """Note on the page what this session's button actions did (:func:`one_at_a_time`); call at each run's start."""
    session = get_script_run_ctx().session_id
    calls = _callbacks()
    with calls.lock:
        pending = list(calls.outcomes.get(session, ()))
    for outcome in pending:
        outcome()
        with calls.lock:
            calls.outcomes[session].remove(outcome)
            if not calls.outcomes[session]:
                del calls.outcomes[session]


def current_user() -> User | None:
    """The signed-in user (the sign-in gate keeps their id in ``st.session_state[USER_KEY]``), or ``None``."""
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    with session() as s:
        user = accounts.user_by_id(s, user_id)
    return user if user is not None and user.active else None


def user_zone() -> str:
    """The zone the dashboard shows times in: the scheduler profile's, else the default zone."""
    user = current_user()
    return user.zone if user is not None else settings().default_zone


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def _slot_counts(version: tuple, user_id: int | None, invitation_ids: tuple[int, ...], minute: str) -> dict[int, int]:
    del minute  # cache key only: a minute later, counts again
    now = utcnow()
    counts = {}
    with session() as s:
        user = accounts.user_by_id(s, user_id) if user_id is not None else None
        for invitation in queries.invitations(s, user, status=None, ids=invitation_ids):
            try:
                counts[invitation.id] = count_slots(availability.slot_request(invitation, now), version)
            except planner.PlannerInputError:
                # A member or room it needs is no longer active (not on the grid): the service
                # knows what that means for the invitation.
                counts[invitation.id] = availability.count_slots_for(s, invitation, now=now)
    return counts


def invitation_slot_counts(invitation_ids: tuple[int, ...]) -> dict[int, int]:
    """Slots each invitation still has right now (cached for a minute or until the data changes)."""
    user = current_user()
    return _slot_counts(data_version(), user.id if user else None, invitation_ids, f"{utcnow():%Y%m%d%H%M}")


# --- the organisation's availability, cached -------------------------------------------------------

#: Days of past busy time kept in the cached tables (the Capacity page looks back this far).
HISTORY_DAYS = 28
#: Days ahead the prebuilt grid covers; a frame reaching further is counted on the tables.
GRID_DAYS = 120


@st.cache_resource(show_spinner=False, max_entries=2)
def _org_tables(version: tuple) -> queries.PlannerInputs:
    del version  # cache key only
    since = utcnow() - dt.timedelta(days=HISTORY_DAYS + 1)
    with session() as s:
        return queries.planner_inputs(s, start=since)


def org_tables(version: tuple | None = None) -> queries.PlannerInputs:
    """The whole organisation as planner tables, loaded once per data version and shared.

    ``version``: the :func:`data_version` the caller has just read (saves reading it again).
    """
    return _org_tables(version if version is not None else data_version())


@dataclass(frozen=True)
class LiveView:
    """What the wizard shows about a draft: the slot count, where the slots are, and why none.

    Attributes
    ----------
    count : int
        Available slots now.
    starts : Series of datetime64[ns, UTC]
        Their start instants.
    why : str
        When ``count`` is 0: why, in plain words, then which member or room is the bottleneck
        (:func:`explain_no_slots`).
    count_ms : float
        How long the count took (milliseconds, when it was computed).
    policy : str
        The pools' assignment policies in force, one sentence per pool ("" without pools).
    count_without : int or None
        The count if every pool were pooled availability and nobody had limits, when the policy
        or limits change it (None otherwise): the policy's effect on the count.
    """

    count: int
    starts: pd.Series
    why: str
    count_ms: float
    policy: str = ""
    count_without: int | None = None


def _team_rules(draft: invitations.InvitationDraft, user: User | None, now: dt.datetime):
    """The draft's request, its limits (planner.Limits or None) and the policies in force, as text."""
    with session() as s:
        spec = invitations.validate_draft(s, draft, by=user, now=now, default_zone=settings().default_zone)
        plans = pool_policy.pool_plans(spec)
        request = availability.slot_request(spec, now, plans=plans)
        limits = availability.load_limits_for(s, request)
        names = {str(m.id): m.name for p in spec.pools for m in p.members}
        sentences = []
        for plan in plans:
            what = pool_policy.POLICY_NAMES[plan.policy]
            if plan.rotating and plan.ids:
                what += f", next in turn: {', '.join(names.get(i, i) for i in plan.ids[: plan.k])}"
            panel = f"{plan.k} of " if plan.k > 1 else ""
            sentences.append(f"{panel}{plan.pool.name}: {what}")
        return request, limits, "; ".join(sentences)


@st.cache_resource(show_spinner=False, max_entries=2)
def _org_index(version: tuple) -> planner.OrgTables:
    tables = _org_tables(version)
    return planner.OrgTables.load(tables.resources, tables.hours, tables.busy, tables.overrides)


def org_index(version: tuple | None = None) -> planner.OrgTables:
    """The organisation's tables indexed by resource (:class:`planner.OrgTables`), once per data
    version: the grid is built from it, and a frame beyond the grid is counted on it, reading
    only the request's rows."""
    return _org_index(version if version is not None else data_version())


@st.cache_resource(show_spinner=False, max_entries=2)
def _org_grid(version: tuple) -> planner.OrgGrid:
    today = pd.Timestamp(utcnow()).floor("D")
    return planner.OrgGrid.from_tables(
        _org_index(version), start=today - pd.Timedelta(days=2), end=today + pd.Timedelta(days=GRID_DAYS),
    )


def org_grid(version: tuple | None = None) -> planner.OrgGrid:
    """The organisation's prebuilt availability grid, built once per data version and shared.

    Only read from (``count_slots`` / ``find_slots``), so sharing it between sessions is safe.
    ``version``: the :func:`data_version` the caller has just read (saves reading it again).
    """
    return _org_grid(version if version is not None else data_version())


@st.cache_resource(show_spinner=False, max_entries=2)
def _org_limits(version: tuple) -> planner.Limits | None:
    grid = _org_grid(version)
    with session() as s:
        return availability.load_limits_between(s, grid.origin.to_pydatetime(), grid.end.to_pydatetime())


def org_limits(version: tuple | None = None) -> planner.Limits | None:
    """Every resource's limits and the meetings that count against them over the grid's horizon,
    loaded once per data version (like the grid, which keeps the limits' masks per request shape)."""
    return _org_limits(version if version is not None else data_version())


def _grid_for(request: planner.SlotRequest, version: tuple | None) -> planner.OrgGrid | None:
    """The shared grid when it covers the request's frame (with buffers), else ``None``."""
    grid = org_grid(version)
    lo, hi = request.frame
    if lo - request.buffer_before >= grid.origin and hi + request.buffer_after <= grid.end:
        return grid
    return None


def count_slots(request: planner.SlotRequest, version: tuple | None = None, *, limits=None) -> int:
    """Available slots of ``request``: on the prebuilt grid, or on the tables for a frame beyond it.

    ``version``: the :func:`data_version` the caller has just read; read here when not given.
    ``limits``: per-person limits (:func:`booking_service.services.availability.load_limits_for`).
    """
    grid = _grid_for(request, version)
    if grid is not None:
        return int(grid.count_slots(request, limits=limits))
    return int(org_index(version).count_slots(request, limits=limits))


def find_slots(request: planner.SlotRequest, version: tuple | None = None, *, limits=None) -> pd.DataFrame:
    """The slot table of ``request`` (same source and ``version`` as :func:`count_slots`)."""
    grid = _grid_for(request, version)
    if grid is not None:
        return grid.find_slots(request, limits=limits)
    return org_index(version).find_slots(request, limits=limits)


def explain_no_slots(request: planner.SlotRequest) -> str:
    """Why a request has zero slots: plain words first, then the planner's bottleneck analysis.

    ``"Nobody on this team works on Saturdays and Sundays (Europe/London).\n\nIn detail: ..."``
    """
    tables = org_tables()
    plain = " ".join(analytics.why_no_slots(tables, request))
    technical = analytics.bottleneck_summary(analytics.bottlenecks(tables, request))
    return f"{plain}\n\nIn detail: {technical}" if plain else technical


@st.cache_data(show_spinner=False, max_entries=256, ttl=600)
def _live_view(
    key: str, _version: tuple, _draft: invitations.InvitationDraft, _user: User | None, _now: dt.datetime
) -> LiveView:
    request, limits, policy = _team_rules(_draft, _user, _now)
    org_grid(_version)  # built (once per data version) before the clock starts
    if limits is not None and _grid_for(request, _version) is not None:
        # The same limits and meetings, loaded once per data version: the grid keeps their masks.
        limits = org_limits(_version) or limits
    started = time.perf_counter()
    count = count_slots(request, _version, limits=limits)
    count_ms = (time.perf_counter() - started) * 1000
    starts = find_slots(request, _version, limits=limits)["start"] if count else pd.Series([], dtype="datetime64[ns, UTC]")
    why = "" if count else explain_no_slots(request)
    without = None
    if any(request.pool_turns) or limits is not None:
        without = count_slots(replace(request, pool_turns=()), _version)
    return LiveView(count=count, starts=starts.reset_index(drop=True), why=why, count_ms=count_ms,
                    policy=policy, count_without=without)


def _key(
    version: tuple, draft: invitations.InvitationDraft, user: User | None, now: dt.datetime, *extra: object
) -> str:
    return repr((version, draft, user.id if user else None, f"{now:%Y%m%d%H%M}", extra))


def live_view(draft: invitations.InvitationDraft, user: User | None, now: dt.datetime) -> LiveView:
    """Slots of a draft on the cached organisation tables (recomputed when data or the minute changes).

    Raises
    ------
    InvitationError
        When the draft is not valid (the caller checks first).
    """
    version = data_version()  # read once: the cache key and the grid of this update
    return _live_view(_key(version, draft, user, now), version, draft, user, now)


@st.cache_data(show_spinner=False, max_entries=64, ttl=600)
def _promoted(
    key: str, _version: tuple, _draft: invitations.InvitationDraft, _user: User | None, _now: dt.datetime
) -> pd.DataFrame:
    with session() as s:
        spec = invitations.validate_draft(s, _draft, by=_user, now=_now, default_zone=settings().default_zone)
        slots = find_slots(availability.slot_request(spec, _now), _version)
        picks = availability.promote(s, spec, slots, now=_now)
    return picks[["start", "end", "score", "reason"]].reset_index(drop=True)


def promoted_picks(draft: invitations.InvitationDraft, user: User | None, now: dt.datetime) -> pd.DataFrame:
    """The optimizer's picks for a draft: ``start``, ``end``, ``score``, ``reason`` (cached)."""
    version = data_version()
    return _promoted(_key(version, draft, user, now, draft.promote_count), version, draft, user, now)


def preview_mail(draft: invitations.InvitationDraft, user: User | None) -> outbox.RenderedMail:
    """The invitation email as the customer will read it (the service's rendering; placeholder link)."""
    with session() as s:
        return invitations.preview_invitation_mail(
            s, draft, by=user, public_url=settings().public_url, default_zone=settings().default_zone
        )


# --- capacity ---------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)
def _utilization(version: tuple, first: dt.date, last: dt.date) -> pd.DataFrame:
    del version  # cache key only
    return analytics.utilization(org_tables(), first, last, by="day")


def utilization(first: dt.date, last: dt.date) -> pd.DataFrame:
    """Hours booked / busy / free / outside per resource and local day (:func:`planner.analytics.utilization`)."""
    return _utilization(data_version(), first, last)


@st.cache_data(show_spinner=False, max_entries=32, ttl=600)
def _free_capacity(key: str, _request: planner.SlotRequest) -> pd.DataFrame:
    del key  # cache key only
    return analytics.free_capacity(org_tables(), _request)


def free_capacity(request: planner.SlotRequest) -> pd.DataFrame:
    """Meetings of ``request`` that still fit per date of its frame (:func:`planner.analytics.free_capacity`)."""
    return _free_capacity(repr((data_version(), request)), request)


@st.cache_data(show_spinner=False, max_entries=8, ttl=600)
def _pool_fairness_over_time(version: tuple, zone: str) -> pd.DataFrame:
    del version  # cache key only
    with session() as s:
        assignments, targets = pool_policy.assignment_tables(s)
        pools = {str(p.id): p.name for p in queries.pools(s)}
        names = {str(m.id): m.name for m in queries.team_members(s, include_inactive=True)}
    table = teams.fairness_over_time(assignments, targets, freq="W-MON", zone=zone)
    return table.assign(pool=table["pool_id"].map(pools), member=table["member_id"].map(names))


def pool_fairness_over_time(zone: str) -> pd.DataFrame:
    """Each pool member's cumulative share of bookings per week against their target
    (:func:`planner.teams.fairness_over_time`), with ``pool`` and ``member`` names."""
    return _pool_fairness_over_time(data_version(), zone)


@st.cache_data(show_spinner=False, max_entries=4, ttl=600)
def _demand_vs_supply(version: tuple, zone: str, now: dt.datetime, weeks: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    del version  # cache key only
    with session() as s:
        history = queries.invitation_history(s)
        names = {str(m.id): m.name for m in queries.team_members(s, include_inactive=True)}
    flow = analytics.invitation_flow(history, zone=zone)
    table = analytics.demand_vs_supply(org_tables(), history, now=now, weeks=weeks, zone=zone, names=pd.Series(names))
    shapes = analytics.request_shapes(history, names=pd.Series(names))
    return flow, table, shapes


def demand_vs_supply(zone: str, now: dt.datetime, weeks: int = 4) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Invitations per week (:func:`planner.invitation_flow`), forecast demand against meetings
    that fit for the common request shapes (:func:`planner.demand_vs_supply`) and those shapes
    with readable labels."""
    return _demand_vs_supply(data_version(), zone, now.replace(minute=0, second=0, microsecond=0), weeks)
