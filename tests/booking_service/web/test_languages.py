"""The customer's pages in their language: the invitation's, the browser's, or the one picked on the page."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from html import unescape

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking_service.core import i18n
from booking_service.services.invitations import create_invitation
from booking_service.services.outbox import message_content
from booking_service.store.db import session_scope
from booking_service.store.models import Meeting, OutboxMessage

from ..factories import SECRET_KEY, draft, make_org
from .pages import slot_paths

PUBLIC = "http://booking.test"


@pytest.fixture
def org(app):
    with Session(app.extensions["slotwise"]["engine"], expire_on_commit=False) as session:
        return make_org(session)


def _invite(app, org, **changes) -> str:
    with session_scope(app.extensions["slotwise"]["engine"], write=True) as session:
        created = create_invitation(session, draft(org, dt.datetime.now(dt.UTC), **changes), secret_key=SECRET_KEY,
                                    by=None, public_url=PUBLIC)
        return created.link.removeprefix(PUBLIC)


def test_the_invitations_language_comes_first_then_the_page_can_switch(client, app, org):
    path = _invite(app, org, language="de")
    html = client.get(path, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="de">' in html and "Freie Zeiten" in html and "Zeitzone" in html
    assert 'Zeiten in <strong class="zone-name">Mitteleuropäische Zeit (Berlin)</strong>' in html
    switched = client.get(path + "?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in switched and "Horas disponibles" in switched
    # The choice stays in the page's links and forms.
    assert all("lang=es" in p for p in slot_paths(switched))
    assert 'name="lang" value="es"' in switched


def test_a_page_in_one_language_leaves_the_next_work_on_its_thread_in_english(client, app, org):
    path = _invite(app, org, language="de")
    assert "Freie Zeiten" in client.get(path + "?clock=24").get_data(as_text=True)
    # The test client serves on this thread: what runs here after the page starts from English.
    assert (i18n.current(), i18n.clock()) == ("en", "12")
    assert i18n.gettext("Available times") == "Available times"


def test_without_a_language_the_browsers_is_used(client, app, org):
    path = _invite(app, org)
    assert '<html lang="fr">' in client.get(path, headers={"Accept-Language": "fr-CA,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in client.get(path, headers={"Accept-Language": "ja"}).get_data(as_text=True)


def test_the_clock_follows_the_language_and_can_be_switched(client, app, org):
    path = _invite(app, org, language="en")
    html = client.get(path).get_data(as_text=True)
    assert ">9:00 AM<" in html and "Use the 24-hour clock" in html
    html = client.get(path + "?clock=24").get_data(as_text=True)
    assert ">09:00<" in html and "Use the 12-hour clock" in html


@pytest.mark.parametrize(("query", "message"), [
    ("lang=tlh", "That language is not offered. Pick one of: en, de, fr, es."),
    ("clock=13", "That clock is not known. Use clock=12 or clock=24."),
])
def test_a_bad_language_or_clock_is_a_400_naming_the_choices(client, app, org, query, message):
    response = client.get(_invite(app, org) + "?" + query)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_booking_in_a_language_keeps_it_for_the_meeting_and_its_mail(client, app, org):
    path = _invite(app, org)
    page = client.get(path + "?lang=fr", headers={"Accept-Language": "en"}).get_data(as_text=True)
    confirm = client.get(slot_paths(page)[0]).get_data(as_text=True)
    assert "Confirmez votre rendez-vous" in confirm, confirm[confirm.find("<main"):][:1500]
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
    start = re.search(r'name="start" value="([^"]+)"', confirm).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', confirm).group(1).replace("&amp;", "&")
    response = client.post(action, data={"csrf_token": csrf, "start": start, "zone": "Europe/Berlin"})
    assert response.status_code == 303 and "lang=fr" in response.headers["Location"]
    scheduled = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Votre rendez-vous est réservé" in scheduled
    with session_scope(app.extensions["slotwise"]["engine"]) as session:
        assert session.scalars(select(Meeting.language)).one() == "fr"
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "confirmation")).one()
        assert mail.subject.startswith("Confirmé : ")
        content = message_content(mail, SECRET_KEY)
        assert "Bonjour Ada Customer," in content.text and "heure d’Europe centrale (Berlin)" in content.text
        assert '<html lang="fr">' in content.html


def test_the_invite_says_which_language_its_text_is_in(client, app, org):
    path = _invite(app, org, language="es")
    page = client.get(path).get_data(as_text=True)
    confirm = client.get(slot_paths(page)[0]).get_data(as_text=True)
    import re

    token = path.removeprefix("/i/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', confirm).group(1)
    start = re.search(r'name="start" value="([^"]+)"', confirm).group(1)
    client.post(f"/i/{token}/confirm", data={"csrf_token": csrf, "start": start, "zone": "Europe/Berlin"})
    ics = client.get(f"/i/{token}/invite.ics").get_data(as_text=True).replace("\r\n ", "")
    assert "SUMMARY;LANGUAGE=es:Intro call" in ics and "DESCRIPTION;LANGUAGE=es:" in ics
    scheduled = client.get(f"/i/{token}/scheduled").get_data(as_text=True)
    assert "Su reunión" in scheduled
    assert any(day in scheduled for day in ("lunes", "martes", "miércoles", "jueves", "viernes"))


def test_the_language_and_clock_links_keep_the_rest_of_the_page(client, app, org):
    """Switching the language or the clock changes only that: the week and zone shown stay."""
    path = _invite(app, org, language="de")
    html = client.get(f"{path}/times?zone=Asia/Tokyo&week=1&lang=de").get_data(as_text=True)
    links = dict(re.findall(r'<a (?:class="clock" )?href="([^"]+)"[^>]*>([^<]+)</a>', html))
    by_text = {text: unescape(href) for href, text in links.items()}
    spanish = urllib.parse.urlsplit(by_text["Español"])
    assert urllib.parse.parse_qs(spanish.query) == {"zone": ["Asia/Tokyo"], "week": ["1"], "lang": ["es"]}
    twelve = urllib.parse.urlsplit(next(href for text, href in by_text.items() if "12" in text))
    assert urllib.parse.parse_qs(twelve.query) == {"zone": ["Asia/Tokyo"], "week": ["1"], "lang": ["de"], "clock": ["12"]}
    assert spanish.path == twelve.path == f"{path}/times"
