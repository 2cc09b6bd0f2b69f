"""The dashboard's shared state: one data-version read per update, and the same counts as the service."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import pytest

from booking_service.services import availability, invitations, queries
from booking_service.store.db import make_engine, session_scope
from booking_service.store.models import User, utcnow
from dashboard import state

from .conftest import SECRET_KEY


def _draft(org, **changes) -> invitations.InvitationDraft:
    today = utcnow().date()
    base = invitations.InvitationDraft(
        customer_name="Grace Hopper", customer_email="grace@example.com", subject="Introduction call",
        duration_minutes=30, frame_start=today + dt.timedelta(days=1), frame_end=today + dt.timedelta(days=10),
        members=(org.ada,), pools=(org.sales,), rooms=(org.blue,), min_capacity=2, zone="Europe/London",
    )
    return invitations.InvitationDraft(**{**base.__dict__, **changes})


def _counting_versions(monkeypatch) -> list[int]:
    reads: list[int] = []
    real = queries.data_version

    def counted(session):
        reads.append(1)
        return real(session)

    monkeypatch.setattr(queries, "data_version", counted)
    return reads


def test_a_live_update_reads_the_data_version_once_and_counts_like_the_service(org, monkeypatch):
    reads = _counting_versions(monkeypatch)
    now = utcnow()
    for buffer in (0, 5, 10):  # each a new draft: no cache hit
        draft = _draft(org, buffer_before_minutes=buffer)
        reads.clear()
        view = state.live_view(draft, None, now)
        assert len(reads) == 1
        engine = make_engine(org.url)
        with session_scope(engine) as s:
            spec = invitations.validate_draft(s, draft, by=None, now=now, default_zone="Europe/London")
            assert view.count == availability.count_slots_for(s, spec, now) > 0
            assert len(view.starts) == view.count
        engine.dispose()


def test_the_invitation_list_reads_the_data_version_once(org, monkeypatch):
    engine = make_engine(org.url)
    with session_scope(engine, write=True) as s:
        admin = s.get(User, org.admin_id)
        ids = tuple(
            invitations.create_invitation(
                s, _draft(org, customer_email=f"c{n}@example.com", duration_minutes=30 + 15 * n),
                secret_key=SECRET_KEY, by=admin, public_url="http://booking.test",
            ).invitation.id
            for n in range(3)
        )
    reads = _counting_versions(monkeypatch)
    monkeypatch.setattr(state, "current_user", lambda: SimpleNamespace(id=org.admin_id))
    counts = state.invitation_slot_counts(ids)
    assert len(reads) == 1
    assert set(counts) == set(ids)
    now = utcnow()
    with session_scope(engine) as s:
        for invitation_id in ids:
            invitation = s.get(invitations.Invitation, invitation_id)
            # The list is cached by the minute: allow for the count of a minute ago.
            assert counts[invitation_id] in {
                availability.count_slots_for(s, invitation, now),
                availability.count_slots_for(s, invitation, now - dt.timedelta(minutes=1)),
            }
    engine.dispose()


class _Stopped(Exception):
    """Stands for Streamlit's stop of a run that a later click replaced."""


@pytest.fixture
def browser_session(monkeypatch):
    """``get_script_run_ctx`` for a browser session whose id the test sets."""
    session = SimpleNamespace(session_id="one")
    monkeypatch.setattr(state, "get_script_run_ctx", lambda: session)
    return session


def test_a_second_click_waits_for_the_first_and_does_not_act_again(browser_session):
    started, finish = threading.Event(), threading.Event()
    calls, noted = [], []

    def send(label):
        calls.append(label)
        started.set()
        assert finish.wait(10)
        return lambda: noted.append(label)

    first = threading.Thread(target=state.one_at_a_time, args=(send, "first"))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=state.one_at_a_time, args=(send, "second"))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first
    browser_session.session_id = "two"
    started.clear()
    other = threading.Thread(target=state.one_at_a_time, args=(send, "another session"))
    other.start()
    assert started.wait(10)  # not held up by the first session's call
    finish.set()
    for thread in (first, second, other):
        thread.join(10)
    assert calls == ["first", "another session"]
    assert noted == []  # the outcome waits for the session's next run
    browser_session.session_id = "one"
    state.apply_outcomes()
    assert noted == ["first"]
    state.apply_outcomes()
    assert noted == ["first"]  # applied once
    state.one_at_a_time(send, "a later click")
    assert calls == ["first", "another session", "a later click"]
    browser_session.session_id = "two"
    state.apply_outcomes()
    assert noted == ["first", "another session"]


def test_a_click_stopped_before_it_acted_is_acted_on_by_the_next(browser_session):
    started, finish = threading.Event(), threading.Event()
    calls = []

    def send(label):
        calls.append(label)
        if label == "first":
            started.set()
            assert finish.wait(10)
            raise _Stopped
        return None

    def first_click():
        with pytest.raises(_Stopped):
            state.one_at_a_time(send, "first")

    first = threading.Thread(target=first_click)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=state.one_at_a_time, args=(send, "second"))
    second.start()
    finish.set()
    first.join(10)
    second.join(10)
    assert calls == ["first", "second"]


def test_an_outcome_stopped_halfway_is_applied_again_by_the_next_run(browser_session):
    noted = []

    def outcome():
        noted.append("link shown")
        if len(noted) == 1:
            raise _Stopped

    state.one_at_a_time(lambda: outcome)
    with pytest.raises(_Stopped):
        state.apply_outcomes()
    state.apply_outcomes()
    state.apply_outcomes()
    assert noted == ["link shown", "link shown"]


def test_the_same_click_again_just_after_the_first_acted_is_a_double_click(browser_session, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(state.time, "monotonic", lambda: clock[0])
    calls, noted = [], []

    def add(name, row):
        calls.append(name)
        return lambda: noted.append(name)

    row = SimpleNamespace(id=7)
    state.one_at_a_time(add, "Cleo", row)
    clock[0] += state.REPEAT_SECONDS - 0.1
    # The second click of a double click, after the first had acted and its run drew the page
    # (a new object for the same row, as each run loads its own): not acted on, the outcome again.
    state.one_at_a_time(add, "Cleo", SimpleNamespace(id=7))
    assert calls == ["Cleo"]
    state.apply_outcomes()
    assert noted == ["Cleo", "Cleo"]
    state.one_at_a_time(add, "Dan", row)  # other arguments: another click
    clock[0] += state.REPEAT_SECONDS
    state.one_at_a_time(add, "Dan", row)  # the same, but later: clicked again on purpose
    browser_session.session_id = "two"
    state.one_at_a_time(add, "Dan", row)  # another browser session
    assert calls == ["Cleo", "Dan", "Dan", "Dan"]


def test_an_action_that_raised_is_not_a_first_click(browser_session):
    calls = []

    def add(name):
        calls.append(name)
        raise state.DatabaseBusy("busy")

    for _ in range(2):
        with pytest.raises(state.DatabaseBusy):
            state.one_at_a_time(add, "Cleo")
    assert calls == ["Cleo", "Cleo"]  # an action that raised did not act: the next click tries again


def test_a_click_on_what_was_typed_next_is_not_a_double_click(browser_session, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)
    monkeypatch.setattr(state.st, "session_state", {"name": "Cleo"})
    calls = []

    @state.reads("name")
    def add():
        calls.append(state.st.session_state["name"])
        return None

    state.one_at_a_time(add)
    state.one_at_a_time(add)  # the same inputs: the second click of a double click
    state.st.session_state["name"] = "Dan"
    state.one_at_a_time(add)  # the next person, typed in and added at once
    assert calls == ["Cleo", "Dan"]


def test_after_a_refusal_the_same_click_tries_again(browser_session, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)
    calls, shown = [], []

    def add(name):
        calls.append(name)
        return state.Refused(lambda: shown.append("refused")) if len(calls) == 1 else None

    state.one_at_a_time(add, "Cleo")
    state.one_at_a_time(add, "Cleo")  # nothing changed the first time: this click acts
    state.one_at_a_time(add, "Cleo")  # the second one changed data: this is a double click
    assert calls == ["Cleo", "Cleo"]
    state.apply_outcomes()
    assert shown == ["refused"]
