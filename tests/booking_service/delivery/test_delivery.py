"""Delivering an invitation: Slotwise's email, or links the scheduler pastes; checks and audit of each change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.services.invitations import (
    InvitationError,
    cancel_invitation,
    create_invitation,
    find_by_token,
    resend_invitation,
    slot_link,
)
from booking_service.services.outbox import message_content
from booking_service.services.permissions import PermissionDenied
from booking_service.store.db import session_scope
from booking_service.store.models import AuditEntry, Invitation, OutboxMessage, User

from ..factories import SECRET_KEY, draft, make_org

NOW = dt.datetime(2030, 1, 2, 10, 0, tzinfo=dt.UTC)
PUBLIC = "https://book.example"


@pytest.fixture
def org(engine):
    with Session(engine) as s:
        org = make_org(s)
        s.add(User(email="olga@example.com", name="Olga", zone="Europe/Berlin", role="scheduler"))
        s.commit()
    return org


def _olga(s: Session) -> User:
    return s.scalars(select(User).where(User.email == "olga@example.com")).one()


def _create(engine, org, deliver: str, **changes):
    with session_scope(engine, write=True) as s:
        created = create_invitation(s, draft(org, NOW, **changes), secret_key=SECRET_KEY, by=s.get(User, org.scheduler),
                                    public_url=PUBLIC, now=NOW, deliver=deliver)
        return created


def _outbox(engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _audit(engine) -> list[tuple[str, int | None, int | None]]:
    with Session(engine) as s:
        return [(e.action, e.user_id, e.target_id) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_email_delivery_queues_the_personalized_email(engine, org):
    created = _create(engine, org, "email", promote=True, promote_count=3)
    (mail,) = _outbox(engine)
    assert (mail.kind, mail.to_addr, mail.invitation_id) == ("invitation", "ada@customer.example", created.invitation.id)
    sent = message_content(mail, SECRET_KEY)
    assert created.link in sent.text
    assert len(created.slot_links) == 3
    for _, _, url in created.slot_links:
        assert url.replace("&", "&amp;") in sent.html or url in sent.text


def test_copy_links_delivery_creates_no_email_and_returns_every_link(engine, org):
    created = _create(engine, org, "links", promote=True, promote_count=3)
    assert _outbox(engine) == []  # no email, not even a pending one
    with Session(engine) as s:
        invitation = find_by_token(s, created.token)
        assert invitation.id == created.invitation.id and invitation.delivery == "links"
        promoted = [(p.start, p.end) for p in invitation.promoted_slots]
    assert created.link == f"{PUBLIC}/i/{created.token}"
    # One link per promoted slot, in rank order, the same link the email would carry.
    assert [(start, end) for start, end, _ in created.slot_links] == promoted and len(promoted) == 3
    for start, _, url in created.slot_links:
        assert url == slot_link(PUBLIC, created.token, start, "Europe/Berlin")
    assert _audit(engine) == [("invitation.created", org.scheduler, created.invitation.id)]
    with Session(engine) as s:
        entry = s.scalars(select(AuditEntry)).one()
        assert entry.details["delivery"] == "links"


def test_unknown_delivery_is_refused_before_anything_is_stored(engine, org):
    with pytest.raises(InvitationError, match="delivery 'fax' is not one of email, links"):
        _create(engine, org, "fax")
    with Session(engine) as s:
        assert s.scalars(select(Invitation)).all() == []


def test_resend_keeps_the_delivery_unless_told(engine, org):
    created = _create(engine, org, "links", promote=True, promote_count=2)
    with session_scope(engine, write=True) as s:
        again = resend_invitation(s, created.invitation.id, secret_key=SECRET_KEY, by=s.get(User, org.scheduler), public_url=PUBLIC, now=NOW)
    assert _outbox(engine) == [] and again.token != created.token and len(again.slot_links) == 2
    with session_scope(engine, write=True) as s:
        resend_invitation(s, created.invitation.id, secret_key=SECRET_KEY, by=s.get(User, org.scheduler), public_url=PUBLIC, now=NOW,
                          deliver="email")
    assert [m.kind for m in _outbox(engine)] == ["invitation"]
    assert [a for a, _, _ in _audit(engine)] == ["invitation.created", "invitation.resent", "invitation.resent"]


def test_another_scheduler_may_not_resend_or_cancel(engine, org):
    created = _create(engine, org, "email")
    with session_scope(engine, write=True) as s, pytest.raises(PermissionDenied, match="olga@example.com may not resend"):
        resend_invitation(s, created.invitation.id, secret_key=SECRET_KEY, by=_olga(s), public_url=PUBLIC, now=NOW)
    with session_scope(engine, write=True) as s, pytest.raises(PermissionDenied, match="olga@example.com may not cancel"):
        cancel_invitation(s, created.invitation.id, secret_key=SECRET_KEY, by=_olga(s), now=NOW)
    with Session(engine) as s:
        assert s.get(Invitation, created.invitation.id).status == "active"
    assert len(_outbox(engine)) == 1
    assert [a for a, _, _ in _audit(engine)] == ["invitation.created"]


def test_cancel_is_audited_with_who(engine, org):
    created = _create(engine, org, "email")
    with session_scope(engine, write=True) as s:
        cancel_invitation(s, created.invitation.id, secret_key=SECRET_KEY, by=s.get(User, org.scheduler), now=NOW)
    assert _audit(engine)[-1] == ("invitation.cancelled", org.scheduler, created.invitation.id)
