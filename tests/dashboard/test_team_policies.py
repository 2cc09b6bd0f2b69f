"""Team page (pools: policy, panel, weights, shares; limits; out of office) and the wizard's policy line."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from booking_service.core.clock import utcnow
from booking_service.services import out_of_office, pool_policy
from booking_service.store.db import session_scope
from booking_service.store.models import (
    HoursOverride,
    OutOfOffice,
    ResourcePool,
    TeamMember,
    User,
    pool_members,
)
from dashboard import state

from .conftest import open_page
from .test_invite import _details, _who


def test_a_pools_policy_panel_and_weights_are_saved(org, engine):
    at = open_page(org, "team")
    at.selectbox(key="policy-pool-pick").select(org.sales)
    at.selectbox(key=f"policy-{org.sales}-policy").select("weighted")
    at.number_input(key=f"policy-{org.sales}-panel").set_value(2)
    at.checkbox(key=f"policy-{org.sales}-compensate").check()
    at.number_input(key=f"policy-{org.sales}-w-{org.ada}").set_value(3)
    at.button(key=f"FormSubmitter:policy-{org.sales}-Save policy").click().run()
    assert not at.exception
    assert "Saved the policy of Sales." in [s.value for s in at.success]
    with session_scope(engine) as s:
        pool = s.get(ResourcePool, org.sales)
        assert (pool.policy, pool.panel_size, pool.compensate_removed) == ("weighted", 2, True)
        weights = dict(s.execute(select(pool_members.c.member_id, pool_members.c.weight)).all())
    assert weights == {org.ada: 3, org.bob: 1}
    policies = at.dataframe[-1].value
    assert set(policies["Policy"]) == {"weighted round robin"} and set(policies["Panel"]) == {"2 of 2"}
    assert list(policies["Target"]) == ["75%", "25%"]


def test_the_organisation_default_policy(org, engine):
    at = open_page(org, "team")
    at.selectbox(key="team-default-policy-pick").select("round_robin")
    at.button(key="FormSubmitter:team-default-policy-Save default").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        assert pool_policy.organisation_policy(s) == "round_robin"
    assert set(at.dataframe[-1].value["Policy"]) == {"organisation default (strict round robin)"}


def test_out_of_office_in_one_action_with_a_stand_in(org, engine):
    at = open_page(org, "team")
    first = utcnow().date() + dt.timedelta(days=3)
    at.selectbox(key="ooo-member").select(org.ada)
    at.date_input(key="ooo-dates").set_value((first, first + dt.timedelta(days=2)))
    at.selectbox(key="ooo-stand-in").select(org.nobody)
    at.text_input(key="ooo-note").input("holiday")
    at.button(key="FormSubmitter:out-of-office-Mark out of office").click().run()
    assert not at.exception
    assert any("Ada is out of office" in s.value for s in at.success)
    with session_scope(engine) as s:
        away = s.scalars(select(OutOfOffice)).one()
        assert (away.member_id, away.stand_in_id, away.note) == (org.ada, org.nobody, "holiday")
        dates = s.scalars(select(HoursOverride.date).where(HoursOverride.resource_id == org.ada)).all()
    assert sorted(dates) == [first + dt.timedelta(days=i) for i in range(3)]
    at.button(key="FormSubmitter:back-in-office-Remove these dates").click().run()
    with session_scope(engine) as s:
        assert s.scalars(select(OutOfOffice)).all() == []


def test_out_of_office_clicked_twice_is_one_absence_and_one_date_is_refused_in_words(org, engine, monkeypatch):
    monkeypatch.setattr(state, "REPEAT_SECONDS", 600)  # however slow the machine
    at = open_page(org, "team")
    first = utcnow().date() + dt.timedelta(days=3)
    at.selectbox(key="ooo-member").select(org.ada)
    at.date_input(key="ooo-dates").set_value((first,))  # the last date not picked yet
    at.button(key="FormSubmitter:out-of-office-Mark out of office").click().run()
    assert [e.value for e in at.error] == ["Pick the last date away too."]
    for _ in range(2):  # a double click, the second after the first had acted
        at.date_input(key="ooo-dates").set_value((first, first + dt.timedelta(days=1)))
        at.button(key="FormSubmitter:out-of-office-Mark out of office").click().run()
        assert not at.exception and not at.error
    with session_scope(engine) as s:
        assert len(s.scalars(select(OutOfOffice)).all()) == 1
    with session_scope(engine, write=True) as s:  # a colleague removes it first
        away_id = s.scalars(select(OutOfOffice.id)).one()
        out_of_office.remove_absence(s, away_id, by=s.get(User, org.admin_id))
    at.button(key="FormSubmitter:back-in-office-Remove these dates").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"there is no out-of-office entry {away_id}; reload the page"]


def test_limits_are_saved_and_bad_ones_refused(org, engine):
    at = open_page(org, "team")
    at.selectbox(key="limits-Team member-pick").select(org.bob).run()
    at.text_input(key=f"limits-{org.bob}-dn").input("4")
    at.text_input(key=f"limits-{org.bob}-dh").input("5.5")
    at.button(key=f"FormSubmitter:limits-{org.bob}-Save limits").click().run()
    assert not at.exception
    with session_scope(engine) as s:
        bob = s.get(TeamMember, org.bob)
        assert (bob.max_meetings_day, bob.max_minutes_day, bob.max_meetings_week) == (4, 330, None)
    at.text_input(key=f"limits-{org.bob}-wn").input("lots")
    at.button(key=f"FormSubmitter:limits-{org.bob}-Save limits").click().run()
    assert [e.value for e in at.error] == ["meetings a week must be a whole number, got 'lots'"]


def test_the_wizard_shows_the_policy_in_force_and_its_effect(org, engine):
    from booking_service.services.out_of_office import mark_away

    with session_scope(engine, write=True) as s:
        admin = s.get(User, org.admin_id)
        pool_policy.configure_pool(s, org.sales, policy="round_robin", by=admin)
        # Ada, whose turn it is, is away for three days of the frame: Bob would cover them.
        soon = utcnow().date() + dt.timedelta(days=2)
        mark_away(s, org.ada, soon, soon + dt.timedelta(days=2), by=admin)
    at = open_page(org, "invite")
    _who(at)
    _details(at, pools=(org.sales,))
    assert at.session_state["inv-policy"] == ""
    line = next(c.value for c in at.caption if c.value.startswith("Who attends:"))
    assert "Sales: strict round robin, next in turn: Ada" in line
    count = int(at.metric[0].value)
    assert f"It leaves {count} of the " in line
    without = int(line.split(" of the ")[1].split()[0])
    assert without > count


def test_the_meetings_page_says_who_was_assigned_and_why(org, engine):
    from booking_service.services import availability, booking
    from booking_service.services.invitations import InvitationDraft, create_invitation
    from booking_service.store.models import Invitation

    from .conftest import SECRET_KEY

    today = utcnow().date()
    with session_scope(engine, write=True) as s:
        pool_policy.configure_pool(s, org.sales, policy="weighted", by=s.get(User, org.admin_id))
        invitation_id = create_invitation(
            s, InvitationDraft(customer_name="Grace Hopper", customer_email="grace@example.com", subject="Intro",
                               duration_minutes=30, frame_start=today + dt.timedelta(days=2),
                               frame_end=today + dt.timedelta(days=3), pools=(org.sales,), zone="Europe/London"),
            secret_key=SECRET_KEY, by=s.get(User, org.admin_id), public_url="http://booking.test",
        ).invitation.id  # fmt: skip
    with session_scope(engine, write=True) as s:
        first = availability.find_slots_for(s, s.get(Invitation, invitation_id))["start"].iloc[0].to_pydatetime()
        assert booking.confirm_slot(s, invitation_id, first, secret_key=SECRET_KEY).outcome == "booked"
    at = open_page(org, "meetings")
    assert list(at.dataframe[0].value["Assigned"]) == [
        "assigned by weighted round robin: Ada, 100% of bookings against a 50% weight"
    ]


def test_the_capacity_page_charts_fairness_per_pool(org, engine):
    at = open_page(org, "capacity")
    assert "No meeting has been assigned from a pool yet." in [c.value for c in at.caption]
    test_the_meetings_page_says_who_was_assigned_and_why(org, engine)
    at = open_page(org, "capacity")
    assert at.selectbox(key="capacity-fairness-pool").value == "Sales"
    assert any("against the share their weight targets" in c.value for c in at.caption)
