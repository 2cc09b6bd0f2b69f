"""The invitation wizard: the whole flow, validation messages, the zero-slot case."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select

from booking_service.services.outbox import message_content
from booking_service.store.db import session_scope
from booking_service.store.models import BusyBlock, CalendarConnection, Invitation, OutboxMessage, utcnow

from .conftest import SECRET_KEY, open_page


def _who(at, name="Grace Hopper", email="grace@example.com", zone=None):
    at.text_input(key="inv-name").input(name)
    at.text_input(key="inv-email").input(email)
    if zone is not None:
        at.selectbox(key="inv-customer-zone").select(zone)
    return at.button(key="inv-next-0").click().run()


def _details(at, members=(), pools=(), subject="Introduction call"):
    at.text_input(key="inv-subject").input(subject)
    at.multiselect(key="inv-members").set_value(list(members))
    at.multiselect(key="inv-pools").set_value(list(pools))
    return at.button(key="inv-next-1").click().run()


def _step(at) -> int:
    return at.session_state["inv-step"]


def test_whole_flow_stores_the_invitation_and_queues_the_email(org, engine):
    at = open_page(org, "invite")
    _who(at, zone="America/New_York")
    assert not at.exception and _step(at) == 1
    _details(at, members=[org.ada], pools=[org.sales])
    assert not at.exception and _step(at) == 2
    count = at.metric[0].value
    assert int(count) > 0
    assert at.get("vega_lite_chart"), "the heatmap of where the slots are"
    at.button(key="inv-next-2").click().run()
    assert _step(at) == 3
    assert "Please pick a time: Introduction call" in at.markdown[-1].value or any(
        "Please pick a time: Introduction call" in m.value for m in at.markdown
    )
    invite = at.button(key="inv-invite")
    assert not invite.disabled
    invite.click().run()
    assert not at.exception, at.exception
    assert "Invitation sent to Grace Hopper (grace@example.com)" in at.success[0].value
    link = at.code[0].value
    assert link.startswith("http://booking.test/i/")
    # While the success message shows, Invite cannot send again; the link has a visible copy button.
    assert at.button(key="inv-invite-sent").disabled
    assert [b for b in at.get("html") if "Copy link" in b.proto.body and link in b.proto.body]
    with session_scope(engine) as s:
        invitation = s.scalars(select(Invitation)).one()
        assert (invitation.customer_email, invitation.subject, invitation.status) == (
            "grace@example.com", "Introduction call", "active",
        )
        assert [m.id for m in invitation.members] == [org.ada] and [p.id for p in invitation.pools] == [org.sales]
        assert invitation.zone == "Europe/London"  # the scheduler profile's zone
        assert invitation.customer_zone == "America/New_York"
        message = s.scalars(select(OutboxMessage)).one()
        assert (message.kind, message.to_addr, message.status) == ("invitation", "grace@example.com", "pending")
        assert link in message_content(message, SECRET_KEY).text  # sent with the link
        assert link not in message.body_text  # kept readable without it
    # The new invitation is on the Invitations page, with its link.
    at.switch_page("dashboard/screens/invitations.py").run()
    table = at.dataframe[0].value
    assert list(table["Customer"]) == ["Grace Hopper"] and list(table["Email"]) == ["grace@example.com"]
    assert table.loc[0, "Slots now"] > 0
    with session_scope(engine) as s:
        invitation_id = s.scalars(select(Invitation.id)).one()
    at.selectbox(key="invitations-pick").select(invitation_id).run()
    assert [c.value for c in at.code] == [link]  # made in this browser session: shown, with a copy button


def test_bad_email_is_refused_with_the_services_message(org):
    at = open_page(org, "invite")
    _who(at, email="grace@")
    assert _step(at) == 0
    assert [e.value for e in at.error] == ["customer email 'grace@' is not an email address like ada@example.com"]


def test_empty_team_is_refused(org):
    at = open_page(org, "invite")
    _who(at)
    _details(at)
    assert _step(at) == 1
    assert [e.value for e in at.error] == ["the team is empty: choose at least one member or one pool"]


def test_zero_slots_disables_invite_and_names_the_bottleneck(org, engine):
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada, org.nobody])
    assert _step(at) == 2
    assert at.metric[0].value == "0"
    warning = at.warning[0].value
    # Plain words first, the technical breakdown after them.
    assert warning.startswith(
        "**No slots in this frame.** Nora Nohours has no working hours set (Europe/London): add them under "
        "Team and rooms.\n\nIn detail: Nora Nohours (required member) limits this request most")
    assert "Ada" not in warning.split("What helps")[0]
    at.button(key="inv-next-2").click().run()
    invite = at.button(key="inv-invite")
    assert invite.disabled
    assert any("Invite is disabled: No slot is available" in c.value for c in at.caption)
    with session_scope(engine) as s:
        assert s.scalars(select(Invitation)).all() == []



def test_promoted_slots_show_reasons_and_a_swap_is_what_gets_stored(org, engine):
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    at.checkbox(key="inv-promote").check().run()
    at.number_input(key="inv-k").set_value(2).run()
    assert not at.exception, at.exception
    first, second = at.selectbox(key="inv-pick-1"), at.selectbox(key="inv-pick-2")
    optimizer = [first.value, second.value]
    assert optimizer[0] != optimizer[1]
    assert len([c for c in at.caption if c.value.startswith("Optimizer's pick:")]) == 2
    # Swap the second pick for another available slot, not one of the optimizer's.
    taken = {first.format_func(first.value), second.format_func(second.value)}
    label = next(label for label in second.options if label not in taken)
    today = pd.Timestamp.now(tz="Europe/London").normalize()
    candidates = pd.date_range(today, today + pd.Timedelta(days=16), freq="15min").tz_convert("UTC")
    second.set_value(next(t for t in candidates if second.format_func(t) == label)).run()
    swapped = at.selectbox(key="inv-pick-2").value
    assert swapped not in optimizer
    assert [c.value for c in at.caption if c.value.startswith("Chosen by you instead of")]
    assert "/i/PREVIEW/slot?" in at.get("html")[0].proto.body
    at.button(key="inv-invite").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        invitation = s.scalars(select(Invitation)).one()
        stored = [p.start for p in invitation.promoted_slots]
        reasons = [p.reason for p in invitation.promoted_slots]
        assert invitation.customer_zone is None  # "same as the meeting's zone"
    assert stored == [optimizer[0].to_pydatetime(), swapped.to_pydatetime()]
    assert reasons[1] == "chosen by the scheduler" and reasons[0] != reasons[1]


def test_the_live_count_follows_data_changed_elsewhere(org, engine):
    """A calendar sync (or a booking) made outside the dashboard shows at the next rerun."""
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada])
    before = int(at.metric[0].value)
    assert before > 0
    with session_scope(engine) as s:  # what a calendar sync writes: Ada busy for the whole frame
        connection = CalendarConnection(resource_id=org.ada, kind="demo", name="Holiday")
        s.add(connection)
        s.flush()
        start = utcnow() - dt.timedelta(days=1)
        s.add(BusyBlock(connection_id=connection.id, resource_id=org.ada, start=start, end=start + dt.timedelta(days=30)))
    at.run()
    assert at.metric[0].value == "0"
    assert "Ada works at these times, but their calendar is full" in at.warning[0].value
    assert "In detail: Ada (required member) limits this request most" in at.warning[0].value


def test_a_weekend_frame_says_nobody_works_then_in_plain_words(org, engine):
    from booking_service.services import team
    from booking_service.store.models import User

    with session_scope(engine) as s:  # Ada and Bob work Monday to Friday only
        admin = s.get(User, org.admin_id)
        for member in (org.ada, org.bob):
            team.set_weekly_hours(s, member, {d: "9-5" for d in range(5)}, by=admin)
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada, org.bob])
    today = utcnow().date()
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7 or 7)
    at.date_input(key="inv-frame").set_value((saturday, saturday + dt.timedelta(days=1))).run()
    assert at.metric[0].value == "0"
    assert at.warning[0].value.startswith(
        "**No slots in this frame.** Nobody on this team works on Saturdays and Sundays (Europe/London).")


def test_promoting_one_slot_twice_disables_invite(org):
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    at.checkbox(key="inv-promote").check().run()
    at.number_input(key="inv-k").set_value(2).run()
    at.selectbox(key="inv-pick-2").set_value(at.selectbox(key="inv-pick-1").value).run()
    assert not at.exception, at.exception
    assert "The same slot is promoted twice; pick different slots." in [w.value for w in at.warning]
    assert at.button(key="inv-invite").disabled


def test_the_change_policy_keeps_the_installations_defaults_unless_changed(org, engine):
    for moves, expected in ((None, (None, None)), (1, (None, 1))):
        at = open_page(org, "invite")
        _who(at, email=f"grace{moves}@example.com")
        _details(at, members=[org.ada])
        assert at.number_input(key="inv-cutoff").value == 24 and at.number_input(key="inv-moves").value == 3
        if moves is not None:
            at.number_input(key="inv-moves").set_value(moves).run()
        at.button(key="inv-next-2").click().run()
        at.button(key="inv-invite").click().run()
        assert not at.exception, at.exception
        with session_scope(engine) as s:
            invitation = s.scalars(select(Invitation).where(Invitation.customer_email == f"grace{moves}@example.com")).one()
            assert (invitation.change_cutoff_hours, invitation.max_reschedules) == expected


def test_the_optimizers_reasons_say_both_times_each_with_its_zone(org):
    at = open_page(org, "invite")
    _who(at, zone="America/New_York")
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    at.checkbox(key="inv-promote").check().run()
    picks = [c.value for c in at.caption if c.value.startswith("Optimizer's pick:")]
    assert picks
    for pick in picks:
        # The label is in the invitation's zone; the reason names the customer's time and zone too.
        assert " for the customer (" in pick and "America/New_York)" in pick and " in Europe/London" in pick


def test_the_scheduler_picks_the_customers_language_and_the_invitation_speaks_it(org, engine):
    at = open_page(org, "invite")
    at.selectbox(key="inv-language").select("de")
    _who(at)
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    at.button(key="inv-invite").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert s.scalars(select(Invitation.language)).one() == "de"
        message = s.scalars(select(OutboxMessage)).one()
        assert message.subject == "Bitte wählen Sie eine Zeit: Introduction call"
        assert "Guten Tag Grace Hopper," in message.body_text and "Dauer: 30 Minuten" in message.body_text
