"""Invite to self-schedule, delivered by the scheduler: the links are shown, no email is created."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from booking_service.services.invitations import InvitationDraft, create_invitation, find_by_token
from booking_service.store.db import session_scope
from booking_service.store.models import AuditEntry, Invitation, OutboxMessage, User
from tests.booking_service.factories import next_monday

from .conftest import SECRET_KEY, open_page
from .test_invite import _details, _who


def test_copy_links_shows_the_link_and_each_promoted_slots_link_and_sends_nothing(org, engine):
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    at.checkbox(key="inv-promote").check().run()
    at.number_input(key="inv-k").set_value(2).run()
    assert at.radio(key="inv-delivery").options == [
        "Slotwise sends the personalized email", "I'll copy the links and send them myself"]
    at.radio(key="inv-delivery").set_value("links").run()
    at.button(key="inv-invite").click().run()
    assert not at.exception, at.exception
    assert "No email was sent" in at.success[0].value
    link, *slot_links = [c.value for c in at.code]
    assert link.startswith("http://booking.test/i/") and len(slot_links) == 2
    token = link.rsplit("/", 1)[1]
    with session_scope(engine) as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # the copy-links path creates no email
        invitation = s.scalars(select(Invitation)).one()
        assert invitation.delivery == "links" and find_by_token(s, token).id == invitation.id
        starts = [p.start for p in invitation.promoted_slots]
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("invitation.%"))).all() == [
            "invitation.created"]
    for url, start in zip(slot_links, starts, strict=True):
        assert url.startswith(f"{link}/slot?start=") and start.strftime("%Y-%m-%dT%H%%3A%M") in url
    captions = [c.value for c in at.caption if c.value.startswith("Book ")]
    assert len(captions) == 2


def test_email_delivery_stays_the_default(org, engine):
    at = open_page(org, "invite")
    _who(at)
    _details(at, members=[org.ada])
    at.button(key="inv-next-2").click().run()
    assert at.radio(key="inv-delivery").value == "email"
    at.button(key="inv-invite").click().run()
    with session_scope(engine) as s:
        assert [m.kind for m in s.scalars(select(OutboxMessage))] == ["invitation"]


def test_resending_a_copy_links_invitation_shows_the_new_link_and_sends_nothing(org, engine):
    monday = next_monday(dt.datetime.now(dt.UTC))
    with session_scope(engine, write=True) as s:
        created = create_invitation(
            s,
            InvitationDraft(customer_name="Grace", customer_email="grace@example.com", subject="Call",
                            duration_minutes=30, frame_start=monday, frame_end=monday + dt.timedelta(days=4),
                            members=(org.ada,), zone="Europe/London"),
            secret_key=SECRET_KEY, by=s.get(User, org.admin_id), public_url="http://booking.test", deliver="links",
        )
        old_link = created.link
    at = open_page(org, "invitations")
    at.selectbox(key="invitations-pick").select(created.invitation.id).run()
    at.button(key="invitations-resend").click().run()
    assert not at.exception, at.exception
    assert "no email was sent" in at.success[0].value
    new_link = at.code[0].value
    assert new_link.startswith("http://booking.test/i/") and new_link != old_link
    with session_scope(engine) as s:
        assert s.scalars(select(OutboxMessage)).all() == []
