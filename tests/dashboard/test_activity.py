"""Activity stream: Invitations and Meetings pages, confirming moves an invitation, cancelling frees."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from booking_service.services import availability, booking
from booking_service.services.invitations import InvitationDraft, create_invitation
from booking_service.store.db import session_scope
from booking_service.store.models import (
    Invitation,
    Meeting,
    OutboxMessage,
    Reservation,
    TeamMember,
    User,
    utcnow,
)
from dashboard import state

from .conftest import SECRET_KEY, open_page, signed_in_app

LONDON = ZoneInfo("Europe/London")


def _invite(engine, org, name="Grace Hopper", members=None, promote=False, by: int | None = None) -> int:
    today = utcnow().astimezone(LONDON).date()
    with session_scope(engine, write=True) as s:
        user = s.get(User, org.admin_id if by is None else by)
        created = create_invitation(
            s,
            InvitationDraft(
                customer_name=name, customer_email=f"{name.split()[0].lower()}@example.com", subject="Intro",
                duration_minutes=30, frame_start=today + dt.timedelta(days=2), frame_end=today + dt.timedelta(days=4),
                members=tuple(members or (org.ada,)), zone="Europe/London", promote=promote, promote_count=2,
            ),
            secret_key=SECRET_KEY, by=user, public_url="http://booking.test",
        )
        return created.invitation.id


def _confirm_first_slot(engine, invitation_id) -> int:
    with session_scope(engine, write=True) as s:
        invitation = s.get(Invitation, invitation_id)
        first = availability.find_slots_for(s, invitation)["start"].iloc[0].to_pydatetime()
        result = booking.confirm_slot(s, invitation_id, first, secret_key=SECRET_KEY)
        assert result.outcome == "booked"
        return result.meeting.id


def test_invitations_list_active_ones_and_a_confirmed_one_moves_to_meetings(org, engine):
    grace = _invite(engine, org, promote=True)
    _invite(engine, org, name="Alan Turing", members=(org.bob,))
    at = open_page(org, "invitations")
    table = at.dataframe[0].value
    assert list(table["Customer"]) == ["Alan Turing", "Grace Hopper"]
    assert list(table["Email"]) == ["alan@example.com", "grace@example.com"]
    assert list(table["Promoted"]) == ["no", "2 slots"]
    assert (table["Slots now"] > 0).all()
    # Every cell says something: no literal None, NaN or empty link column.
    assert not table.isna().any().any() and "Link" not in table.columns
    assert not table.astype(str).isin(["None", "nan", ""]).any().any()
    meeting_id = _confirm_first_slot(engine, grace)
    at.run()  # Streamlit's normal rerun, nothing else
    assert list(at.dataframe[0].value["Customer"]) == ["Alan Turing"]
    at.switch_page("dashboard/screens/meetings.py").run()
    meetings = at.dataframe[0].value
    assert list(meetings["Customer"]) == ["Grace Hopper <grace@example.com>"]
    assert list(meetings["Team member"]) == ["Ada"]
    with session_scope(engine) as s:
        start = s.get(Meeting, meeting_id).start
    assert meetings.iloc[0]["When (Europe/London)"].startswith(f"{start.astimezone(LONDON):%a %d %b %H:%M}")


def _cancel_invitation(at, invitation_id):
    """Pick the invitation, press Cancel, and confirm in the dialog."""
    at.selectbox(key="invitations-pick").select(invitation_id).run()
    at.button(key="invitations-cancel").click().run()
    assert not at.exception, at.exception
    at.button(key="cancel-invitation-confirm").click().run()


def test_cancel_invitation_from_the_list(org, engine):
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    _cancel_invitation(at, grace)
    assert not at.exception
    assert "Cancelled the invitation of Grace Hopper" in at.success[0].value
    assert "No active invitations" in at.info[0].value
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "cancelled"


def test_resend_shows_a_new_link(org, engine):
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(grace).run()
    at.button(key="invitations-resend").click().run()
    assert not at.exception
    link = at.code[0].value
    assert link.startswith("http://booking.test/i/")
    with session_scope(engine) as s:
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()) == 2


def test_cancelling_a_meeting_frees_its_reservation_and_mails_the_customer(org, engine):
    meeting_id = _confirm_first_slot(engine, _invite(engine, org))
    _confirm_first_slot(engine, _invite(engine, org, name="Alan Turing", members=(org.bob,)))
    at = open_page(org, "meetings")
    assert len(at.dataframe[0].value) == 2
    assert at.get("vega_lite_chart"), "meetings per day and team member, at a glance"
    at.selectbox(key="meetings-member").select(org.ada).run()
    assert list(at.dataframe[0].value["Customer"]) == ["Grace Hopper <grace@example.com>"]
    at.selectbox(key="meetings-pick").select(meeting_id).run()
    at.button(key="cancel-meeting").click().run()
    assert not at.exception, at.exception
    assert "a cancellation email with a calendar update goes to:\n\n- Grace Hopper <grace@example.com>\n- Ada <ada@example.com>" in at.markdown[-1].value
    at.text_input(key=f"cancel-meeting-{meeting_id}-reason").input("Ada is ill")
    at.button(key="cancel-meeting-confirm").click().run()
    assert not at.exception
    assert "the time is free again" in at.success[0].value
    assert "No meetings in this range for Ada" in at.info[0].value
    with session_scope(engine) as s:
        meeting = s.get(Meeting, meeting_id)
        assert meeting.status == "cancelled"
        assert s.scalars(select(Reservation).where(Reservation.meeting_id == meeting_id)).all() == []
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")).all()
        assert "grace@example.com" in {m.to_addr for m in mails}
        assert any("Ada is ill" in m.body_text for m in mails if m.to_addr == "grace@example.com")


def test_an_invitation_whose_member_left_has_no_slots_now(org, engine):
    _invite(engine, org)
    with session_scope(engine) as s:
        s.get(TeamMember, org.ada).active = False
    at = open_page(org, "invitations")
    assert not at.exception, at.exception
    assert at.dataframe[0].value.loc[0, "Slots now"] == 0
    assert "1 invitation(s) have no slot left right now: Grace Hopper (Intro)" in at.warning[0].value


def test_meetings_filter_is_shareable_as_a_link(org, engine):
    _confirm_first_slot(engine, _invite(engine, org))
    _confirm_first_slot(engine, _invite(engine, org, name="Alan Turing", members=(org.bob,)))
    at = open_page(org, "meetings")
    at.selectbox(key="meetings-member").select(org.bob).run()
    assert at.query_params["member"] == str(org.bob)
    assert list(at.dataframe[0].value["Customer"]) == ["Alan Turing <alan@example.com>"]
    shared = signed_in_app(org.admin_id)
    shared.query_params["member"] = str(org.ada)
    shared.run()
    shared.switch_page("dashboard/screens/meetings.py").run()
    assert shared.selectbox(key="meetings-member").value == org.ada
    assert list(shared.dataframe[0].value["Customer"]) == ["Grace Hopper <grace@example.com>"]


# --- an action that loses says what happened -----------------------------------------------------


def test_cancelling_an_invitation_booked_a_moment_ago_says_to_cancel_the_meeting(org, engine):
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(grace).run()
    at.button(key="invitations-cancel").click().run()
    meeting_id = _confirm_first_slot(engine, grace)  # the customer books while the dialog is open
    at.button(key="cancel-invitation-confirm").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["This invitation was booked a moment ago; cancel the meeting instead."]
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "scheduled"
        assert s.get(Meeting, meeting_id).status == "confirmed"
    # The list now shows what is true: the booked invitation is gone from it.
    assert "No active invitations" in at.info[0].value


def test_resending_an_invitation_booked_a_moment_ago_says_where_it_went(org, engine):
    grace = _invite(engine, org)
    alan = _invite(engine, org, name="Alan Turing", members=(org.bob,))
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(grace).run()
    _confirm_first_slot(engine, grace)
    at.button(key="invitations-resend").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "This invitation was booked a moment ago, so there is nothing to resend; its meeting is under Meetings."]
    with session_scope(engine) as s:
        # Nothing was resent, to Grace or to the other customer the list now shows first.
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invitation")).all()
        assert sorted((m.invitation_id, m.status) for m in mails) == [(grace, "superseded"), (alan, "pending")]


def test_cancelling_a_meeting_a_colleague_just_cancelled_says_so(org, engine):
    meeting_id = _confirm_first_slot(engine, _invite(engine, org))
    at = open_page(org, "meetings")
    at.selectbox(key="meetings-pick").select(meeting_id).run()
    at.button(key="cancel-meeting").click().run()
    with session_scope(engine, write=True) as s:
        booking.cancel_meeting(s, meeting_id, secret_key=SECRET_KEY, by=None)
    at.button(key="cancel-meeting-confirm").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["This meeting is already cancelled."]
    with session_scope(engine) as s:
        assert len(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")).all()) == 2


def _confirmations(engine) -> list[tuple[str, bool]]:
    """The confirmation mails in the outbox, oldest first: (to, invite attached)."""
    with session_scope(engine) as s:
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirmation").order_by(OutboxMessage.id))
        return [(m.to_addr, bool(m.ics)) for m in mails]


def test_a_customers_confirmation_is_resent_from_the_meetings_page_and_refused_once_cancelled(org, engine, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 0)  # the second click comes later, not as a double click
    meeting_id = _confirm_first_slot(engine, _invite(engine, org))
    at = open_page(org, "meetings")
    assert at.button(key="meetings-resend").disabled  # nothing picked yet
    at.selectbox(key="meetings-pick").select(meeting_id).run()
    at.button(key="meetings-resend").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        "The confirmation is in the outbox for Grace Hopper <grace@example.com> again: the same calendar invite "
        "and the same links to reschedule or cancel."]
    (first_to, _), resent = _confirmations(engine)
    assert (first_to, resent) == ("grace@example.com", ("grace@example.com", True))  # the invite attached
    with session_scope(engine) as s:
        assert s.get(Meeting, meeting_id).status == "confirmed"
    with session_scope(engine, write=True) as s:  # a colleague cancels before the next click
        booking.cancel_meeting(s, meeting_id, secret_key=SECRET_KEY, by=None)
    at.button(key="meetings-resend").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "This meeting was cancelled, so its confirmation is not sent again; the customer has been sent the "
        "cancellation."]
    assert len(_confirmations(engine)) == 2


def test_a_database_still_locked_after_the_wait_is_said_in_words(org, engine, monkeypatch):
    from booking_service.store import db

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.3)
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(grace).run()
    at.button(key="invitations-cancel").click().run()
    with session_scope(engine, write=True) as blocker:
        blocker.connection()  # BEGIN IMMEDIATE: another writer that does not let go
        at.button(key="cancel-invitation-confirm").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "Nothing was changed: the database stayed busy with other changes for too long (database is locked). "
        "Try again in a moment."]
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "active"


# --- nothing is destroyed without asking, and never another row ----------------------------------


def test_nothing_is_picked_until_the_scheduler_picks_and_cancel_asks_first(org, engine):
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    assert at.selectbox(key="invitations-pick").value is None
    assert at.button(key="invitations-cancel").disabled and at.button(key="invitations-resend").disabled
    at.selectbox(key="invitations-pick").select(grace).run()
    at.button(key="invitations-cancel").click().run()
    # One click only asks: the dialog names the invitation and says who is (not) told.
    text = at.markdown[-1].value
    assert "Cancel the invitation of **Grace Hopper** (grace@example.com)" in text
    assert "Grace Hopper is told by email (grace@example.com) that the invitation was withdrawn" in text
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "active"
    at.button(key="cancel-invitation-keep").click().run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "cancel-invitation-confirm"]
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "active"


def test_the_dialog_acts_on_the_row_it_names_when_the_list_changes_before_the_click(org, engine):
    grace = _invite(engine, org)
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(grace).run()
    at.button(key="invitations-cancel").click().run()
    # A colleague creates an invitation that sorts first while the dialog is open.
    alan = _invite(engine, org, name="Alan Turing", members=(org.bob,))
    at.button(key="cancel-invitation-confirm").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert s.get(Invitation, grace).status == "cancelled"
        assert s.get(Invitation, alan).status == "active"


def test_a_meeting_is_not_picked_for_cancelling_until_the_scheduler_picks_it(org, engine):
    meeting_id = _confirm_first_slot(engine, _invite(engine, org))
    at = open_page(org, "meetings")
    assert at.selectbox(key="meetings-pick").value is None
    assert at.button(key="cancel-meeting").disabled
    at.selectbox(key="meetings-pick").select(meeting_id).run()
    at.button(key="cancel-meeting").click().run()
    at.button(key="cancel-meeting-keep").click().run()
    with session_scope(engine) as s:
        assert s.get(Meeting, meeting_id).status == "confirmed"
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancellation")).all() == []
def test_a_customers_cancellation_shows_who_cancelled_and_why(org, engine):
    from booking_service.core.config import Settings

    meeting_id = _confirm_first_slot(engine, _invite(engine, org))
    with session_scope(engine, write=True) as s:
        booking.cancel_by_customer(s, meeting_id, secret_key=SECRET_KEY, reason="Moving house",
                                   settings=Settings(change_cutoff_hours=0))
    at = open_page(org, "meetings")
    assert not at.exception
    assert "No meetings in this range" in at.info[0].value
    (cancelled,) = [d.value for d in at.dataframe]
    assert list(cancelled["Cancelled by"]) == ["the customer"] and list(cancelled["Reason"]) == ["Moving house"]
