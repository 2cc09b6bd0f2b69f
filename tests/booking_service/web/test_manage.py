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


# --- refusals in the customer's language ------------------------------------------------------

CONTACT = "Sam Scheduler <sam@example.com>"
TOO_LATE = {  # (to reschedule, to cancel), 720 hours before the start
    "en": ("This meeting can be changed online until 720 hours before it starts, so it is too late to reschedule it "
           f"here. Please contact {CONTACT}.",
           "This meeting can be changed online until 720 hours before it starts, so it is too late to cancel it here. "
           f"Please contact {CONTACT}."),
    "de": ("Dieser Termin kann bis 720 Stunden vor Beginn online geändert werden; für eine Verschiebung hier ist es zu "
           f"spät. Bitte wenden Sie sich an {CONTACT}.",
           "Dieser Termin kann bis 720 Stunden vor Beginn online geändert werden; für eine Absage hier ist es zu spät. "
           f"Bitte wenden Sie sich an {CONTACT}."),
    "fr": ("Ce rendez-vous peut être modifié en ligne jusqu’à 720 heures avant son début ; il est trop tard pour le "
           f"déplacer ici. Contactez {CONTACT}.",
           "Ce rendez-vous peut être modifié en ligne jusqu’à 720 heures avant son début ; il est trop tard pour "
           f"l’annuler ici. Contactez {CONTACT}."),
    "es": ("Esta reunión se puede cambiar en línea hasta 720 horas antes de empezar; es demasiado tarde para cambiarla "
           f"de hora aquí. Póngase en contacto con {CONTACT}.",
           "Esta reunión se puede cambiar en línea hasta 720 horas antes de empezar; es demasiado tarde para cancelarla "
           f"aquí. Póngase en contacto con {CONTACT}."),
}
MOVED_ONCE = {
    "en": f"This meeting has been moved once already, the most allowed online. Please contact {CONTACT}.",
    "de": f"Dieser Termin wurde schon einmal verschoben, öfter geht es online nicht. Bitte wenden Sie sich an {CONTACT}.",
    "fr": f"Ce rendez-vous a déjà été déplacé une fois, le maximum permis en ligne. Contactez {CONTACT}.",
    "es": f"Esta reunión ya se ha cambiado de hora una vez, el máximo permitido en línea. Póngase en contacto con {CONTACT}.",
}
MOVED_TWICE = {
    "en": f"This meeting has been moved 2 times already, the most allowed online. Please contact {CONTACT}.",
    "de": f"Dieser Termin wurde schon 2-mal verschoben, öfter geht es online nicht. Bitte wenden Sie sich an {CONTACT}.",
    "fr": f"Ce rendez-vous a déjà été déplacé 2 fois, le maximum permis en ligne. Contactez {CONTACT}.",
    "es": f"Esta reunión ya se ha cambiado de hora 2 veces, el máximo permitido en línea. Póngase en contacto con {CONTACT}.",
}
CANCELLED_BY_YOU = {
    "en": f"You cancelled this meeting, so it is not offered again here. Please contact {CONTACT}.",
    "de": f"Sie haben diesen Termin abgesagt, daher wird er hier nicht erneut angeboten. Bitte wenden Sie sich an {CONTACT}.",
    "fr": f"Vous avez annulé ce rendez-vous ; il ne vous est donc plus proposé ici. Contactez {CONTACT}.",
    "es": f"Usted canceló esta reunión, así que no se vuelve a ofrecer aquí. Póngase en contacto con {CONTACT}.",
}
LANGUAGES = list(TOO_LATE)


def _paragraphs(html: str, css_class: str) -> list[str]:
    """The text of each ``<p class="...">`` with that class, as the customer reads it."""
    found = re.findall(rf'<p class="{css_class}"[^>]*>(.*?)</p>', html, flags=re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", p)).split()) for p in found]


def _forge(client, app, org, path: str, **data) -> str:
    """Post a form the page no longer offers (a CSRF token from any page); the page it leads to."""
    other, _ = _invite(app, org)
    form = _text(client.get(_slots(_text(client.get(f"/i/{other}")))[0]))
    response = client.post(path, data={"csrf_token": _csrf(form), **data})
    assert response.status_code == 303
    return _text(client.get(response.headers["Location"]))


def _another_start(app, invitation_id: int) -> str:
    return (_meeting(app, invitation_id).start + dt.timedelta(days=1)).isoformat()


@pytest.mark.parametrize("language", LANGUAGES)
def test_past_the_cutoff_the_customer_reads_why_in_their_language(client, app, org, language):
    token, invitation_id = _invite(app, org, change_cutoff_hours=24 * 30, language=language)
    _book_through_pages(client, token)
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    to_reschedule, to_cancel = TOO_LATE[language]
    assert _paragraphs(_text(client.get(f"/m/{manage}")), "policy") == [to_reschedule]
    assert _paragraphs(_text(client.get(f"/m/{manage}/cancel")), "policy") == [to_cancel]
    # Forms the pages no longer offer are refused under the locks, in the same words.
    page = _forge(client, app, org, f"/m/{manage}/move", start=_another_start(app, invitation_id))
    assert _paragraphs(page, "flash flash-warning") == [to_reschedule]
    page = _forge(client, app, org, f"/m/{manage}/cancel", reason="")
    assert _paragraphs(page, "flash flash-warning") == [to_cancel]
    assert _meeting(app, invitation_id).status == "confirmed"


def _moved_as_often_as_allowed(client, app, org, language: str, moves: int) -> tuple[str, int]:
    """A meeting booked through the pages whose customer has used all ``moves``; its manage token and invitation."""
    token, invitation_id = _invite(app, org, max_reschedules=moves, language=language)
    _book_through_pages(client, token)
    with session_scope(_engine(app), write=True) as session:
        session.scalars(select(Meeting).where(Meeting.invitation_id == invitation_id)).one().reschedule_count = moves
    return manage_token_for(SECRET_KEY, hash_token(token)), invitation_id


@pytest.mark.parametrize("language", LANGUAGES)
def test_at_the_most_moves_the_customer_reads_why_in_their_language(client, app, org, language):
    manage, invitation_id = _moved_as_often_as_allowed(client, app, org, language, 1)
    html = _text(client.get(f"/m/{manage}"))
    assert _paragraphs(html, "policy") == [MOVED_ONCE[language]] and "/reschedule" not in html
    page = _forge(client, app, org, f"/m/{manage}/move", start=_another_start(app, invitation_id))
    assert _paragraphs(page, "flash flash-warning") == [MOVED_ONCE[language]]
    assert _meeting(app, invitation_id).reschedule_count == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_plural_of_the_most_moves_follows_the_language(client, app, org, language):
    manage, _ = _moved_as_often_as_allowed(client, app, org, language, 2)
    assert _paragraphs(_text(client.get(f"/m/{manage}")), "policy") == [MOVED_TWICE[language]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_cancelling_a_forged_move_is_refused_in_the_customers_language(client, app, org, language):
    token, invitation_id = _invite(app, org, language=language)
    _book_through_pages(client, token)
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    form = _text(client.get(f"/m/{manage}/cancel"))
    client.post(f"/m/{manage}/cancel", data={"csrf_token": _csrf(form), "reason": ""})
    page = _forge(client, app, org, f"/m/{manage}/move", start=_another_start(app, invitation_id))
    assert _paragraphs(page, "flash flash-warning") == [CANCELLED_BY_YOU[language]]
    assert _meeting(app, invitation_id).status == "cancelled"


def test_the_page_chosen_language_wins_over_the_meetings_for_a_refusal_too(client, app, org):
    token, invitation_id = _invite(app, org, change_cutoff_hours=24 * 30, language="de")
    _book_through_pages(client, token)
    manage = manage_token_for(SECRET_KEY, hash_token(token))
    page = _forge(client, app, org, f"/m/{manage}/move?lang=es", start=_another_start(app, invitation_id))
    assert _paragraphs(page, "flash flash-warning") == [TOO_LATE["es"][0]]
