"""Every list and detail page shows a scheduler only what the permission rule lets them see.

Two schedulers with separate teams (Sue invites with Ada, Tom with Bob) each have an active
invitation and a booked meeting, with their mails in the outbox and a calendar write that failed.
Signed in as either, each page lists that scheduler's own and nothing of the other's; the admin
sees both, and a message about no invitation or meeting.
"""

from __future__ import annotations

import re

import pytest

from booking_service.services.outbox import RenderedMail, queue_mail
from booking_service.store.db import session_scope
from booking_service.store.models import CalendarConnection, CalendarWrite, User

from .conftest import SECRET_KEY, open_page, signed_in_app
from .test_activity import _confirm_first_slot, _invite


@pytest.fixture
def two_schedulers(org, engine):
    """Sue's and Tom's invitations, meetings, mails and failed calendar writes; one orphan mail."""
    with session_scope(engine) as s:
        sue = User(email="sue@example.com", name="Sue", zone="Europe/London", role="scheduler")
        tom = User(email="tom@example.com", name="Tom", zone="Europe/London", role="scheduler")
        s.add_all([sue, tom])
        s.flush()
        ids = {"sue": sue.id, "tom": tom.id}
    mine = {}
    for who, member, customers in (("sue", org.ada, ("Ann Active", "Bea Booked")),
                                   ("tom", org.bob, ("Cal Active", "Dee Booked"))):
        _invite(engine, org, name=customers[0], members=(member,), by=ids[who])
        meeting = _confirm_first_slot(engine, _invite(engine, org, name=customers[1], members=(member,), by=ids[who]))
        with session_scope(engine) as s:
            calendar = CalendarConnection(resource_id=member, kind="caldav", name=f"{who} calendar", write_back=True)
            s.add(calendar)
            s.flush()
            s.add(CalendarWrite(meeting_id=meeting, connection_id=calendar.id, action="put", status="failed",
                                attempts=10, last_error="401 Unauthorized"))
        mine[who] = {"customers": customers, "meeting": meeting, "member": "Ada" if who == "sue" else "Bob"}
    with session_scope(engine) as s:
        queue_mail(s, kind="notification", to="ops@example.com", secret_key=SECRET_KEY,
                   mail=RenderedMail("Orphan notice", "About nothing in particular", "<p>About nothing</p>"))
    return ids, mine


def _email(name: str) -> str:
    return f"{name.split()[0].lower()}@example.com"  # as _invite makes it


def _emails(customers) -> set[str]:
    return {_email(name) for name in customers}


@pytest.mark.parametrize(("who", "other"), [("sue", "tom"), ("tom", "sue")])
def test_each_page_shows_a_scheduler_only_their_own(org, two_schedulers, who, other):
    ids, mine = two_schedulers
    own, theirs = mine[who], mine[other]
    at = signed_in_app(ids[who]).run()
    assert not at.exception, at.exception

    at.switch_page("dashboard/screens/invitations.py").run()
    active, booked = own["customers"]
    assert list(at.dataframe[0].value["Customer"]) == [active]
    assert list(at.dataframe[0].value["Email"]) == [_email(active)]

    at.switch_page("dashboard/screens/meetings.py").run()
    meetings = at.dataframe[0].value
    assert list(meetings["Customer"]) == [f"{booked} <{_email(booked)}>"]
    assert list(meetings["Team member"]) == [own["member"]]
    # Picking the other scheduler's team member shows none of their meetings either.
    at.selectbox(key="meetings-member").select(org.bob if who == "sue" else org.ada).run()
    assert "No meetings in this range" in at.info[0].value

    at.switch_page("dashboard/screens/outbox.py").run()
    outbox = at.dataframe[0].value
    recipients = set(outbox["To"])
    # The invitation mails and the booked customer's confirmation, and the team member's notice.
    assert recipients == _emails(own["customers"]) | {f"{own['member'].lower()}@example.com"}
    assert not recipients & (_emails(theirs["customers"]) | {"ops@example.com"})
    # Every message it lets one read shows no working link.
    for index in range(len(outbox)):
        at.selectbox(key="outbox-message").select_index(index).run()
        shown = at.text[0].value + "".join(h.proto.body for h in at.get("html"))
        assert not re.search(r"https?://", shown), shown

    at.switch_page("dashboard/screens/calendars.py").run()
    problems = at.dataframe[1].value  # the second table: meetings not yet written to calendars
    assert list(problems["Meeting"]) == [own["meeting"]]


def test_the_admin_sees_everyones_and_the_mail_about_nothing(org, two_schedulers):
    _ids, mine = two_schedulers
    at = open_page(org, "outbox")
    recipients = set(at.dataframe[0].value["To"])
    assert recipients >= _emails(mine["sue"]["customers"]) | _emails(mine["tom"]["customers"]) | {"ops@example.com"}
    at.switch_page("dashboard/screens/meetings.py").run()
    assert len(at.dataframe[0].value) == 2
    at.switch_page("dashboard/screens/calendars.py").run()
    assert sorted(at.dataframe[1].value["Meeting"]) == sorted([mine["sue"]["meeting"], mine["tom"]["meeting"]])
