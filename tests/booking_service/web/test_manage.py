"""The customer's manage pages: the scheduled page's links, reschedule, cancel, the policy, pick
another time; and the hold the confirmation page takes."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core import i18n
from booking_service.services.booking import cancel_meeting
from booking_service.services.invitations import create_invitation, hash_token, manage_token_for
from booking_service.store.db import session_scope
from booking_service.store.models import Invitation, Meeting, OutboxMessage, SlotHold, User
from booking_service.web.extensions import settings_of

from ..factories import SECRET_KEY, ZONE, draft, make_org
from .pages import slot_paths

UTC = dt.UTC
PUBLIC = "http://localhost"


def _engine(app):
    return app.extensions["slotwise"]["engine"]


@pytest.fixture
def org(app):
    with Session(_engine(app), expire_on_commit=False) as session:
        return make_org(session)


def _invite(app, org, **changes) -> tuple[str, int]:
    with session_scope(_engine(app), write=True) as session:
        created = create_invitation(session, draft(org, dt.datetime.now(UTC), **changes), secret_key=SECRET_KEY,
                                    by=session.get(User, org.scheduler), public_url=PUBLIC)
        return created.token, created.invitation.id


def _text(response) -> str:
    return response.get_data(as_text=True)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _slots(html: str) -> list[str]:
    return slot_paths(html)


def _start_of(path: str) -> dt.datetime:
    return dt.datetime.fromisoformat(parse_qs(urlparse(path).query)["start"][0])


def _book_through_pages(client, token: str, index: int = 0) -> str:
    """Open the times, a time's page, confirm; the scheduled page's HTML."""
    page = _text(client.get(_slots(_text(client.get(f"/i/{token}")))[index]))
    start = re.search(r'name="start" value="([^"]+)"', page).group(1)
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(page), "start": start, "zone": ZONE})
    assert response.status_code == 303
    return _text(client.get(response.headers["Location"]))


def _meeting(app, invitation_id: int) -> Meeting:
    with session_scope(_engine(app)) as session:
        meeting = session.scalars(select(Meeting).where(Meeting.invitation_id == invitation_id)).one()
        session.expunge(meeting)
        return meeting


def test_the_confirmation_page_holds_the_time_against_other_customers(client, app, org):
    token, invitation_id = _invite(app, org)
    other_token, _ = _invite(app, org)
    first = _slots(_text(client.get(f"/i/{token}")))[0]
    page = _text(client.get(first))
    assert "This time is held for you for 5 minutes." in page
    with session_scope(_engine(app)) as session:
        assert {h.invitation_id for h in session.scalars(select(SlotHold))} == {invitation_id}
    # The other customer's list no longer offers it, and its page sends them back.
    start = _start_of(first)
    other_times = _slots(_text(client.get(f"/i/{other_token}")))
    assert start not in {_start_of(p) for p in other_times}
    forced = client.get(first.replace(token, other_token))
    assert forced.status_code == 302 and "/times" in forced.headers["Location"]


def test_scheduled_page_names_the_member_and_room_and_links_to_reschedule_and_cancel(client, app, org):
    token, invitation_id = _invite(app, org, members=(), pools=(org.pool,), rooms=(org.small_room,))
    html = _book_through_pages(client, token)
    assert '<dd class="team">Cleo</dd>' in html and '<dd class="room">Small room</dd>' in html
    assert "one of Sales" not in html
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    assert f'href="/m/{manage}/reschedule"' in html and f'href="/m/{manage}/cancel"' in html
    google = unescape(re.search(r'class="google" href="([^"]+)"', html).group(1))
    query = parse_qs(urlparse(google).query)
    assert query["location"] == ["Small room, https://meet.example/intro"] and "With: Cleo" in query["details"][0]
    outlook = parse_qs(urlparse(unescape(re.search(r'class="outlook" href="([^"]+)"', html).group(1))).query)
    assert outlook["location"] == ["Small room, https://meet.example/intro"]
    ics = _text(client.get(f"/i/{token}/invite.ics"))
    assert "LOCATION:Small room\\, https://meet.example/intro" in ics.replace("\r\n ", "")


def test_the_customer_reschedules_through_the_manage_pages(client, app, org):
    token, invitation_id = _invite(app, org)
    _book_through_pages(client, token)
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    before = _meeting(app, invitation_id)
    times = _text(client.get(f"/m/{manage}/reschedule"))
    assert "Move your meeting" in times
    paths = _slots(times)
    assert before.start not in {_start_of(p) for p in paths}  # not its own time
    target = next(p for p in paths if _start_of(p) == before.start + dt.timedelta(minutes=15))  # overlaps itself
    page = _text(client.get(target))
    response = client.post(f"/m/{manage}/move", data={"csrf_token": _csrf(page), "start": _start_of(target).isoformat()})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/m/{manage}")
    html = _text(client.get(response.headers["Location"]))
    assert "Your meeting has been moved." in html
    after = _meeting(app, invitation_id)
    assert (after.start, after.uid, after.sequence) == (_start_of(target), before.uid, before.sequence + 1)
    assert f"{i18n.format_time(after.start, ZONE, 'en')} – " in html  # the page shows the new time
    with session_scope(_engine(app)) as session:
        kinds = [m.kind for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "moved"))]
    assert kinds == ["moved", "moved"]  # the customer and Ana


def test_the_customer_cancels_with_a_reason_and_the_page_then_says_whom_to_contact(client, app, org):
    token, invitation_id = _invite(app, org)
    _book_through_pages(client, token)
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    page = _text(client.get(f"/m/{manage}/cancel"))
    assert "Cancel your meeting" in page and 'name="reason"' in page
    response = client.post(f"/m/{manage}/cancel", data={"csrf_token": _csrf(page), "reason": "Ill"})
    assert response.status_code == 303
    html = _text(client.get(response.headers["Location"]))
    assert "This meeting has been cancelled" in html and "Sam Scheduler &lt;sam@example.com&gt;" in html
    meeting = _meeting(app, invitation_id)
    assert (meeting.status, meeting.cancelled_by, meeting.cancel_reason) == ("cancelled", "customer", "Ill")
    # The booking link says cancelled too; a second cancel is not offered.
    assert "cancelled" in _text(client.get(f"/i/{token}"))
    assert client.get(f"/m/{manage}/cancel").status_code == 302


def test_outside_the_policy_the_pages_say_why_and_whom_to_contact(client, app, org):
    token, invitation_id = _invite(app, org, change_cutoff_hours=24 * 30)
    html = _book_through_pages(client, token)
    expected = ("This meeting can be changed online until 720 hours before it starts, so it is too late to "
                "reschedule it here. Please contact Sam Scheduler &lt;sam@example.com&gt;.")
    assert expected in html and "/reschedule" not in html
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    assert client.get(f"/m/{manage}/reschedule").status_code == 302
    page = _text(client.get(f"/m/{manage}/cancel"))
    assert "too late to cancel it here" in page and 'name="reason"' not in page
    # A forged form is refused by the service under its locks, with the same sentence.
    other, _ = _invite(app, org)
    form = _text(client.get(_slots(_text(client.get(f"/i/{other}")))[0]))  # any page with a form
    response = client.post(f"/m/{manage}/cancel", data={"csrf_token": _csrf(form), "reason": ""})
    assert response.status_code == 303 and "too late to cancel" in _text(client.get(response.headers["Location"]))
    assert _meeting(app, invitation_id).status == "confirmed"


def test_after_the_scheduler_cancels_the_customer_picks_another_time(client, app, org):
    token, invitation_id = _invite(app, org)
    _book_through_pages(client, token)
    meeting = _meeting(app, invitation_id)
    with session_scope(_engine(app), write=True) as session:
        cancel_meeting(session, meeting.id, by=None, secret_key=SECRET_KEY,
                       settings=settings_of(app))
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.to_addr == "ada@customer.example",
                                                           OutboxMessage.kind == "cancellation")).one()
        from booking_service.services.outbox import message_content

        link = re.search(r"(http://localhost/m/\S+)/reschedule", message_content(mail, SECRET_KEY).text).group(1)
    manage = link.removeprefix("http://localhost/m/")
    assert "Pick another time" in _text(client.get(f"/m/{manage}"))
    times = _text(client.get(f"/m/{manage}/reschedule"))
    target = _slots(times)[3]
    page = _text(client.get(target))
    response = client.post(f"/m/{manage}/move", data={"csrf_token": _csrf(page), "start": _start_of(target).isoformat()})
    assert "Your meeting is scheduled again." in _text(client.get(response.headers["Location"]))
    with session_scope(_engine(app)) as session:
        assert session.get(Invitation, invitation_id).status == "scheduled"
    assert _meeting(app, invitation_id).start == _start_of(target)


def test_an_unknown_manage_link_is_a_404(client, app, org):
    assert client.get("/m/" + "A" * 43).status_code == 404
    assert client.get("/m/" + "A" * 43 + "/reschedule").status_code == 404


def test_a_replaced_link_at_confirmation_gets_the_newer_link_page(client, app, org):
    from booking_service.services.invitations import resend_invitation

    token, invitation_id = _invite(app, org)
    page = _text(client.get(_slots(_text(client.get(f"/i/{token}")))[0]))
    with session_scope(_engine(app), write=True) as session:
        resend_invitation(session, invitation_id, secret_key=SECRET_KEY, by=None, public_url=PUBLIC)
    start = re.search(r'name="start" value="([^"]+)"', page).group(1)
    response = client.post(f"/i/{token}/confirm", data={"csrf_token": _csrf(page), "start": start})
    assert response.status_code == 410 and "A newer invitation link was sent to you on" in _text(response)


def test_the_hold_ends_when_the_customer_picks_another_time(client, app, org):
    token, invitation_id = _invite(app, org)
    paths = _slots(_text(client.get(f"/i/{token}")))
    client.get(paths[0])
    client.get(paths[5])
    with session_scope(_engine(app)) as session:
        assert {h.slot_start for h in session.scalars(select(SlotHold))} == {_start_of(paths[5])}
