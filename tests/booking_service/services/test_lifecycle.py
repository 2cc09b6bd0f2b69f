"""The state machine: its table, its refusals, its locks, and what each transition does to waiting mail."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from booking_service.services import lifecycle
from booking_service.services.booking import cancel_meeting, confirm_slot
from booking_service.services.invitations import (
    InvitationStateError,
    cancel_invitation,
    create_invitation,
    expire_invitations,
    hash_token,
    resend_invitation,
)
from booking_service.services.lifecycle import TRANSITIONS, TransitionRefused, frame_end_instant
from booking_service.store.db import session_scope, write_bind
from booking_service.store.models import Invitation, Meeting, OutboxMessage

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

ROOT = Path(__file__).resolve().parents[3]
NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
MONDAY = next_monday(NOW)
PUBLIC = "https://book.example"
BOOKED_MESSAGE = "This invitation was booked a moment ago; cancel the meeting instead."


@pytest.fixture
def org(engine):
    with Session(engine) as session:
        return make_org(session)


def _invite(engine, org, **changes):
    with session_scope(engine, write=True) as session:
        return create_invitation(session, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)


def _confirm(engine, invitation_id: int, hour: int = 10, **kwargs):
    with session_scope(engine, write=True) as session:
        return confirm_slot(session, invitation_id, berlin(MONDAY, hour), secret_key=SECRET_KEY, now=NOW, **kwargs)


def _mails(engine, invitation_id: int) -> list[tuple[str, str | None]]:
    with session_scope(engine) as session:
        return [(m.status, m.link_hash) for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.invitation_id == invitation_id, OutboxMessage.kind == "invitation")
            .order_by(OutboxMessage.id))]


# --- the table ---------------------------------------------------------------------------------


def _doc_table() -> list[tuple[str, ...]]:
    lines = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| transition | invitation | meeting | frame | locks |")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if set(line) <= {"|", "-", " "}:
            continue
        rows.append(tuple(cell.strip() for cell in line.strip("|").split("|")))
    return rows


def test_the_documented_table_is_the_table_in_the_code():
    assert _doc_table() == lifecycle.table_rows()


def test_every_transition_locks_in_the_one_order_and_every_refusal_names_a_transition():
    for transition in TRANSITIONS.values():
        assert list(transition.locks) == sorted(transition.locks, key=lifecycle.LOCK_ORDER.index)
        states = {"active", "scheduled", "cancelled", "expired", "confirmed", lifecycle.NONE}
        assert {*transition.invitation, *transition.meeting} <= states
    assert {name for name, _ in lifecycle.REFUSALS} <= set(TRANSITIONS)


# --- refusals ----------------------------------------------------------------------------------


def test_a_state_without_its_own_sentence_gets_the_general_one():
    assert lifecycle.refusal("cancel_meeting", "scheduled") == (
        "This meeting is scheduled, so it cannot be changed this way (cancel meeting).")
    assert lifecycle.refusal("expire", "scheduled") == (
        "This invitation is scheduled, so it cannot be changed this way (expire).")
    assert lifecycle.refusal("resend", "missing") == "This invitation no longer exists; reload the page."
    assert lifecycle.refusal("confirm", "cancelled") == lifecycle.REFUSALS["confirm", "cancelled"]


#: What a customer's own changes (on their manage pages) can meet under the lock: a meeting cancelled
#: meanwhile, one still confirmed when the frame is over (or booked again), one that is gone.
CUSTOMER_REFUSALS = [
    ("reschedule", "cancelled"), ("reschedule", "confirmed"), ("reschedule", "missing"),
    ("cancel_by_customer", "cancelled"), ("cancel_by_customer", "missing"),
    ("rebook", "cancelled"), ("rebook", "confirmed"), ("rebook", "missing"),
]


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_every_refusal_a_customer_can_meet_is_in_their_language(language):
    for transition, state in CUSTOMER_REFUSALS:
        sentence = lifecycle.refusal_sentence(transition, state)
        assert sentence.text(language) != str(sentence), (transition, state, language)


def test_a_refusal_is_english_as_text_and_read_in_the_language_of_the_page():
    from booking_service.core import i18n

    error = lifecycle._refuse(TRANSITIONS["reschedule"], "cancelled")
    assert str(error) == "This meeting was cancelled, so it can no longer be moved."
    with i18n.use("de"):
        assert str(error) == "This meeting was cancelled, so it can no longer be moved."
        assert error.sentence.text() == "Dieser Termin wurde abgesagt und lässt sich daher nicht mehr verschieben."
    assert error.sentence.text("fr") == "Ce rendez-vous a été annulé ; il ne peut donc plus être déplacé."
    assert lifecycle.refusal_sentence("rebook", "missing").text("es") == "Esta reunión ya no existe; recargue la página."


def test_a_refusal_made_with_plain_text_reads_as_that_text_in_any_language():
    error = lifecycle.InvitationStateError("resend", "replaced", "This link was replaced by a newer one.")
    assert error.sentence.text("de") == str(error) == "This link was replaced by a newer one."



def test_cancelling_a_booked_invitation_is_refused_and_its_meeting_stands(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    meeting_id = _confirm(engine, invitation_id).meeting.id
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError) as refused:
        cancel_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, now=NOW)
    assert str(refused.value) == BOOKED_MESSAGE
    assert (refused.value.transition, refused.value.state) == ("cancel_invitation", "scheduled")
    with session_scope(engine) as session:
        assert session.get(Invitation, invitation_id).status == "scheduled"
        meeting = session.get(Meeting, meeting_id)
        assert meeting.status == "confirmed" and len(meeting.reservations) == 1
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")).all() == []


def test_resending_a_booked_invitation_is_refused_with_where_to_look(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    _confirm(engine, invitation_id)
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError, match="its meeting is under Meetings"):
        resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)


def test_an_invitation_whose_frame_is_over_is_refused_as_expired(engine, org):
    created = _invite(engine, org)
    over = frame_end_instant(created.invitation)
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError, match="has expired"):
        cancel_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, now=over)
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError, match="cannot be resent"):
        resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=over)


def test_a_missing_row_is_refused_too(engine, org):
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError, match="no longer exists"):
        cancel_invitation(session, 999, secret_key=SECRET_KEY, by=None, now=NOW)
    with session_scope(engine, write=True) as session, pytest.raises(lifecycle.MeetingStateError,
                                                                     match="no longer exists"):
        cancel_meeting(session, 999, secret_key=SECRET_KEY, by=None, now=NOW)


def test_a_transition_without_resource_locks_may_not_take_them(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    with session_scope(engine, write=True) as session:
        locked = lifecycle.enter(session, "cancel_invitation", invitation_id=invitation_id, now=NOW)
        with pytest.raises(RuntimeError, match="takes no resource locks"):
            locked.lock_resources([org.ana])


@pytest.mark.parametrize("transition", ["create", "resend", "cancel_invitation", "expire", "cancel_meeting", "hold",
                                        "reschedule", "cancel_by_customer", "rebook"])
def test_on_sqlite_every_transition_needs_the_write_transaction(sqlite_engine, transition):
    with Session(sqlite_engine) as session, pytest.raises(RuntimeError, match="session_scope\\(engine, write=True\\)"):
        lifecycle.enter(session, transition, invitation_id=1, now=NOW)


# --- locks: a transition waits for one in progress, then re-reads ------------------------------


def _waits(engine, first, second) -> list[str]:
    """Run ``first`` in a transition's transaction and, before it commits, ``second`` in another.

    ``second`` must wait for ``first`` (PostgreSQL: the rows; SQLite: the database); what it
    ended in once ``first`` committed is returned: ``"done"``, or the refusal's message.
    """
    outcome: list[str] = []

    def other():
        try:
            with session_scope(engine, write=True) as session:
                second(session)
            outcome.append("done")
        except TransitionRefused as refused:
            outcome.append(str(refused))

    with session_scope(engine, write=True) as session:
        first(session)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and outcome == [], "the second transition did not wait for the first"
    thread.join(timeout=30)
    return outcome


def test_a_cancel_waits_for_a_booking_in_progress_and_sees_it(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    outcome = _waits(
        engine,
        lambda s: confirm_slot(s, invitation_id, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW),
        lambda s: cancel_invitation(s, invitation_id, secret_key=SECRET_KEY, by=None, now=NOW),
    )
    assert outcome == [BOOKED_MESSAGE]


def test_resending_a_confirmation_waits_for_a_cancellation_in_progress(engine, org):
    from booking_service.services.booking import resend_confirmation

    meeting_id = _confirm(engine, _invite(engine, org).invitation.id).meeting.id
    outcome = _waits(
        engine,
        lambda s: cancel_meeting(s, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW),
        lambda s: resend_confirmation(s, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW),
    )
    assert outcome == [lifecycle.REFUSALS["resend_confirmation", "cancelled"]]
    with session_scope(engine) as session:
        kinds = session.scalars(select(OutboxMessage.kind).where(OutboxMessage.meeting_id == meeting_id)).all()
        assert kinds.count("confirmation") == 1  # the booking's, none after the cancellation


def test_a_cancel_meeting_waits_for_another_and_is_refused(engine, org):
    meeting_id = _confirm(engine, _invite(engine, org).invitation.id).meeting.id
    cancel = lambda s: cancel_meeting(s, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)  # noqa: E731
    assert _waits(engine, cancel, cancel) == ["This meeting is already cancelled."]
    with session_scope(engine) as session:
        assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")).all()) == 2


# --- waiting invitation mail -------------------------------------------------------------------


def test_a_resend_withdraws_the_mail_of_the_replaced_link(engine, org):
    created = _invite(engine, org)
    invitation_id = created.invitation.id
    assert _mails(engine, invitation_id) == [("pending", hash_token(created.token))]
    with session_scope(engine, write=True) as session:
        again = resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    assert _mails(engine, invitation_id) == [("superseded", hash_token(created.token)),
                                             ("pending", hash_token(again.token))]
    with session_scope(engine, write=True) as session:
        # Sent by the scheduler this time: no new mail, and the previous link's mail is withdrawn.
        last = resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW, deliver="links")
    assert [status for status, _ in _mails(engine, invitation_id)] == ["superseded", "superseded"]
    assert last.token not in (created.token, again.token)


def test_a_mail_already_sent_stays_sent(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    with session_scope(engine) as session:
        session.scalars(select(OutboxMessage)).one().status = "sent"
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, now=NOW)
    assert [status for status, _ in _mails(engine, invitation_id)] == ["sent"]


@pytest.mark.parametrize("change", ["cancel", "expire", "confirm"])
def test_an_invitation_that_stops_being_active_withdraws_its_waiting_mail(engine, org, change):
    created = _invite(engine, org)
    invitation_id = created.invitation.id
    with session_scope(engine, write=True) as session:
        if change == "cancel":
            cancel_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, now=NOW)
        elif change == "expire":
            assert expire_invitations(session, frame_end_instant(created.invitation)) == 1
        else:
            assert confirm_slot(session, invitation_id, berlin(MONDAY, 10), secret_key=SECRET_KEY, now=NOW).outcome == "booked"
    assert [status for status, _ in _mails(engine, invitation_id)] == ["superseded"]


def test_expiry_leaves_booked_and_open_invitations_alone(engine, org):
    booked = _invite(engine, org).invitation
    _confirm(engine, booked.id)
    later = _invite(engine, org, frame_end=MONDAY + dt.timedelta(days=11)).invitation
    with session_scope(engine, write=True) as session:
        assert expire_invitations(session, frame_end_instant(booked)) == 0
    with session_scope(engine) as session:
        assert [session.get(Invitation, i).status for i in (booked.id, later.id)] == ["scheduled", "active"]


def test_a_confirmation_with_a_replaced_link_books_nothing(engine, org):
    created = _invite(engine, org)
    invitation_id = created.invitation.id
    with session_scope(engine, write=True) as session:
        resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    result = _confirm(engine, invitation_id, link_hash=hash_token(created.token))
    assert (result.outcome, result.reason) == ("replaced", lifecycle.LINK_REPLACED)
    with session_scope(engine) as session:
        assert session.get(Invitation, invitation_id).status == "active"
        assert session.scalars(select(Meeting)).all() == []


def test_a_refused_confirmation_names_its_invitation_and_says_why(engine, org):
    """What the booking page shows comes from the result: the invitation, the meeting of a double
    submit, and the state machine's words for a replaced link or a closed invitation."""
    booked = _invite(engine, org).invitation.id
    too_early = _confirm(engine, booked, hour=6)  # before the working day
    assert (too_early.outcome, too_early.invitation.id, too_early.meeting) == ("unavailable", booked, None)
    assert "working hours" in too_early.reason
    meeting_id = _confirm(engine, booked).meeting.id
    again = _confirm(engine, booked, hour=11)
    assert (again.outcome, again.invitation.id, again.meeting.id, again.reason) == (
        "already_scheduled", booked, meeting_id, None)

    created = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        resend_invitation(session, created.invitation.id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC, now=NOW)
    stale = _confirm(engine, created.invitation.id, link_hash=hash_token(created.token))
    assert (stale.outcome, stale.invitation.id, stale.meeting, stale.reason) == (
        "replaced", created.invitation.id, None, lifecycle.LINK_REPLACED)

    cancelled = _invite(engine, org).invitation.id
    with session_scope(engine, write=True) as session:
        cancel_invitation(session, cancelled, secret_key=SECRET_KEY, by=None, now=NOW)
    closed = _confirm(engine, cancelled)
    assert (closed.outcome, closed.invitation.id, closed.meeting, closed.reason) == (
        "closed", cancelled, None, "This invitation was cancelled, so it can no longer be booked.")


def test_a_meeting_is_cancelled_or_its_confirmation_resent_after_its_frame_is_over(engine, org):
    """``frame: any``: the frame being over refuses neither (it does refuse a move)."""
    from booking_service.services.booking import reschedule_meeting, resend_confirmation

    created = _invite(engine, org)
    meeting_id = _confirm(engine, created.invitation.id).meeting.id
    after = frame_end_instant(created.invitation) + dt.timedelta(days=1)
    with session_scope(engine, write=True) as session:
        with pytest.raises(TransitionRefused, match="time frame is over"):
            reschedule_meeting(session, meeting_id, berlin(MONDAY, 11), secret_key=SECRET_KEY, now=after)
    with session_scope(engine, write=True) as session:
        resend_confirmation(session, meeting_id, secret_key=SECRET_KEY, by=None, now=after)
    with session_scope(engine, write=True) as session:
        cancel_meeting(session, meeting_id, secret_key=SECRET_KEY, by=None, now=after)
    with session_scope(engine) as session:
        assert session.get(Meeting, meeting_id).status == "cancelled"
        assert session.get(Meeting, meeting_id).cancelled_at == after


@pytest.mark.parametrize(("zone", "end"), [
    ("Asia/Kolkata", dt.datetime(2030, 1, 11, 18, 30, tzinfo=dt.UTC)),
    ("America/New_York", dt.datetime(2030, 1, 12, 5, 0, tzinfo=dt.UTC)),
])
def test_the_frame_ends_at_midnight_after_its_last_date_in_its_own_zone(zone, end):
    from types import SimpleNamespace

    assert frame_end_instant(SimpleNamespace(frame_end=dt.date(2030, 1, 11), zone=zone)) == end


@pytest.mark.parametrize(("status", "reads"), [("active", "expired"), ("scheduled", "scheduled"),
                                               ("cancelled", "cancelled")])
def test_only_an_active_invitation_reads_as_expired_once_its_frame_is_over(status, reads):
    from types import SimpleNamespace

    invitation = SimpleNamespace(status=status, frame_end=dt.date(2030, 1, 11), zone="Europe/Berlin")
    assert lifecycle.effective_status(invitation, dt.datetime(2030, 1, 13, tzinfo=dt.UTC)) == reads
    assert lifecycle.effective_status(invitation, dt.datetime(2030, 1, 11, 22, 59, tzinfo=dt.UTC)) == status


# --- enter and finish called directly: what each checks, and what the event they queue says ---


def test_a_transition_on_an_existing_row_needs_its_id():
    with pytest.raises(TypeError, match="transition 'cancel_invitation' needs invitation_id or meeting_id"):
        lifecycle.enter(None, "cancel_invitation", now=NOW, require_write_lock=False)


def test_the_current_link_enters_and_a_link_to_no_invitation_is_missing_not_replaced(engine, org):
    created = _invite(engine, org)
    with session_scope(engine, write=True) as session:
        locked = lifecycle.enter(session, "hold", invitation_id=created.invitation.id,
                                 link_hash=hash_token(created.token), now=NOW)
        assert locked.invitation.id == created.invitation.id
    with session_scope(engine, write=True) as session, pytest.raises(InvitationStateError) as refused:
        lifecycle.enter(session, "confirm", invitation_id=created.invitation.id + 99,
                        link_hash=hash_token(created.token), now=NOW)
    assert (refused.value.transition, refused.value.state) == ("confirm", "missing")


def test_a_meeting_named_beside_an_invitation_that_is_not_its_own_is_missing(engine, org):
    meeting_id = _confirm(engine, _invite(engine, org).invitation.id).meeting.id
    without_meeting = _invite(engine, org).invitation.id
    with_another = _invite(engine, org).invitation.id
    _confirm(engine, with_another, hour=11)
    for invitation_id in (without_meeting, with_another):
        with session_scope(engine, write=True) as session, pytest.raises(lifecycle.MeetingStateError,
                                                                         match="no longer exists") as refused:
            lifecycle.enter(session, "cancel_meeting", invitation_id=invitation_id, meeting_id=meeting_id, now=NOW)
        assert (refused.value.transition, refused.value.state) == ("cancel_meeting", "missing")


def test_a_meeting_transition_on_an_invitation_without_a_meeting_is_refused_as_none(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    with session_scope(engine, write=True) as session, pytest.raises(lifecycle.MeetingStateError) as refused:
        lifecycle.enter(session, "cancel_meeting", invitation_id=invitation_id, now=NOW)
    assert refused.value.state == lifecycle.NONE


def test_finishing_without_the_rows_the_transition_names_is_an_error(engine, org):
    invitation_id = _invite(engine, org).invitation.id
    with session_scope(engine, write=True) as session:
        locked = lifecycle.enter(session, "confirm", invitation_id=invitation_id, now=NOW)
        with pytest.raises(RuntimeError, match="transition 'confirm' finished without the rows its row names"):
            lifecycle.finish(locked)  # a confirmation without the meeting it made
        session.rollback()
    with session_scope(engine) as session:
        assert session.get(Invitation, invitation_id).status == "active"


@pytest.mark.only_on("postgresql", reason="on SQLite a transition's write transaction begins before any "
                     "read, so no other writer can change a row its session has read")
def test_a_transition_reads_its_rows_afresh_under_the_lock(engine, org):
    """Rows this session read before another transaction changed them are read again, not trusted."""
    invitation_id = _invite(engine, org).invitation.id
    meeting_id = _confirm(engine, _invite(engine, org).invitation.id).meeting.id
    with session_scope(engine, write=True) as session:
        # Held, so that the session's identity map keeps them as read.
        seen = session.get(Invitation, invitation_id), session.get(Meeting, meeting_id)
        assert [row.status for row in seen] == ["active", "confirmed"]
        with session_scope(engine, write=True) as meanwhile:
            cancel_invitation(meanwhile, invitation_id, secret_key=SECRET_KEY, by=None, now=NOW)
            cancel_meeting(meanwhile, meeting_id, secret_key=SECRET_KEY, by=None, now=NOW)
        with pytest.raises(InvitationStateError) as refused:
            lifecycle.enter(session, "cancel_invitation", invitation_id=invitation_id, now=NOW)
        assert refused.value.state == "cancelled"
        with pytest.raises(lifecycle.MeetingStateError) as refused:
            lifecycle.enter(session, "cancel_meeting", meeting_id=meeting_id, now=NOW)
        assert refused.value.state == "cancelled"


def _subscribe_to_every_event(engine) -> None:
    from booking_service.services import webhooks
    from booking_service.store.models import User

    with session_scope(engine, write=True) as session:
        admin = User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin")
        session.add(admin)
        session.flush()
        webhooks.create_subscription(session, admin, "https://93.184.216.34/hook",
                                     sorted({e for e in webhooks.TRANSITION_EVENTS.values() if e}),
                                     secret_key=SECRET_KEY, now=NOW)


def _events(engine) -> list[dict]:
    import json

    from booking_service.store.models import WebhookDelivery

    with session_scope(engine) as session:
        return [json.loads(d.payload) for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def test_each_transition_queues_its_event_with_its_rows_instant_status_and_actor(engine, org):
    _subscribe_to_every_event(engine)
    invitation_id = _invite(engine, org).invitation.id
    meeting_id = _confirm(engine, invitation_id).meeting.id
    later = NOW + dt.timedelta(hours=1)
    with session_scope(engine, write=True) as session:
        locked = lifecycle.enter(session, "cancel_meeting", meeting_id=meeting_id, now=later)
        lifecycle.finish(locked, actor="customer")
    created, confirmed, cancelled = _events(engine)
    assert [e["type"] for e in (created, confirmed, cancelled)] == [
        "invitation.created", "meeting.confirmed", "meeting.cancelled"]
    assert [e["timestamp"] for e in (created, confirmed, cancelled)] == [NOW.isoformat(), NOW.isoformat(),
                                                                         later.isoformat()]
    assert [e["data"]["invitation"]["id"] for e in (created, confirmed, cancelled)] == [invitation_id] * 3
    assert [e["data"]["invitation"]["status"] for e in (created, confirmed, cancelled)] == [
        "active", "scheduled", "cancelled"]
    assert created["data"]["meeting"] is None
    assert [e["data"]["meeting"]["id"] for e in (confirmed, cancelled)] == [meeting_id] * 2
    assert cancelled["data"]["meeting"]["status"] == "cancelled"
    assert [e["data"]["by"] for e in (created, confirmed, cancelled)] == ["scheduler", "customer", "customer"]


def test_the_event_reads_the_invitation_as_of_the_transitions_instant(engine, org):
    """An active invitation whose frame is over at the transition's ``now`` reads ``expired`` in its event."""
    _subscribe_to_every_event(engine)
    created = _invite(engine, org)
    over = frame_end_instant(created.invitation)
    with session_scope(engine, write=True) as session:
        locked = lifecycle.enter(session, "create", now=over)
        lifecycle.finish(locked, invitation=session.get(Invitation, created.invitation.id))
    first, again = _events(engine)
    assert first["data"]["invitation"]["status"] == "active"
    assert (again["timestamp"], again["data"]["invitation"]["status"]) == (over.isoformat(), "expired")


# --- what the lock reads ---------------------------------------------------------------------


def test_the_lock_reads_the_team_and_rooms_fresh_and_by_their_keys(engine, org):
    """``enter(load=TEAM_AND_ROOMS)`` gives the team and rooms as their relationships read them, read
    again under the lock (a change another transaction made is seen, whatever the session held);
    on SQLite by queries on the association tables' keys, never a scan of one (which would make
    every booking slower the more invitations there are)."""
    changes = {"members": (org.ben, org.ana), "pools": (org.pool,), "rooms": (org.small_room, org.large_room)}
    invitation_id = _invite(engine, org, **changes).invitation.id
    for _ in range(3):
        _invite(engine, org, **changes)

    def read(invitation: Invitation) -> tuple:
        return ([m.name for m in invitation.members], [r.name for r in invitation.rooms],
                [(p.name, [m.name for m in p.members]) for p in invitation.pools])

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with Session(write_bind(engine), expire_on_commit=False) as session:
        assert read(session.get(Invitation, invitation_id))[0] == ["Ana", "Ben"]
        session.commit()  # the session keeps what it read
        with session_scope(engine, write=True) as other:
            invitation = other.get(Invitation, invitation_id)
            invitation.members = [m for m in invitation.members if m.name == "Ana"]
        event.listen(engine, "before_cursor_execute", record)
        try:
            locked = lifecycle.enter(session, "hold", invitation_id=invitation_id, now=NOW,
                                     load=lifecycle.TEAM_AND_ROOMS)
            got = read(locked.invitation)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        session.rollback()
    assert got == (["Ana"], ["Large room", "Small room"], [("Sales", ["Cleo", "Dan"])])
    with Session(engine) as fresh:
        assert got == read(fresh.get(Invitation, invitation_id))
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            for statement in statements:
                if "?" in statement and statement.lstrip().upper().startswith("SELECT"):
                    plan = connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, (invitation_id,) * statement.count("?")
                    ).all()
                    scans = [row[-1] for row in plan if row[-1].startswith("SCAN ")]
                    assert not scans, (statement, scans)
