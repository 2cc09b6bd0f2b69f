"""The customer's languages: complete catalogues, up to date with the templates, and CLDR formatting."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from booking_service.core import i18n

ROOT = Path(__file__).resolve().parents[3]
TUESDAY = dt.datetime(2026, 12, 8, 14, 30, tzinfo=dt.UTC)


def _catalogue(language: str):
    with (i18n.TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> set:
    """The message ids pybabel extracts from the code and templates now (babel.cfg)."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "--no-location",
         "--omit-header", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with pot.open("rb") as source:
        return {m.id for m in read_po(source) if m.id}


@pytest.mark.parametrize("language", [x for x in i18n.LANGUAGES if x != i18n.DEFAULT_LANGUAGE])
def test_every_message_is_translated(language):
    untranslated = [m.id for m in _catalogue(language) if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)]
    assert untranslated == [], f"untranslated in {language}: {untranslated}"


@pytest.mark.parametrize("language", [x for x in i18n.LANGUAGES if x != i18n.DEFAULT_LANGUAGE])
def test_catalogues_are_up_to_date_with_the_templates(language, template):
    shipped = {m.id for m in _catalogue(language) if m.id}
    assert template - shipped == set(), "new messages: run make translations-update and translate them"
    assert shipped - template == set(), "messages no longer used: run make translations-update"


@pytest.mark.parametrize("language", [x for x in i18n.LANGUAGES if x != i18n.DEFAULT_LANGUAGE])
def test_placeholders_survive_translation(language):
    import re

    for message in _catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[-1]))
        for text in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", text)) <= wanted | set(re.findall(r"%\(\w+\)[sd]", ids[0])), text


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Tuesday 8 December 2026, 8:30 AM, Central Time (Chicago)"),
    ("de", "Dienstag, 8. Dezember 2026, 08:30, Nordamerikanische Zentralzeit (Chicago)"),
    ("fr", "mardi 8 décembre 2026, 08:30, heure du centre nord-américain (Chicago)"),
    ("es", "martes, 8 de diciembre de 2026, 8:30, hora central (Chicago)"),
])
def test_a_time_is_named_in_full_in_each_language(language, expected):
    with i18n.use(language):
        assert i18n.slot_name(TUESDAY, "America/Chicago") == expected


def test_the_clock_follows_the_language_and_can_be_switched():
    with i18n.use("en"):
        assert (i18n.clock(), i18n.format_time(TUESDAY, "Europe/Berlin")) == ("12", "3:30 PM")
    with i18n.use("en", clock="24"):
        assert i18n.format_time(TUESDAY, "Europe/Berlin") == "15:30"
    with i18n.use("de"):
        assert (i18n.clock(), i18n.format_time(TUESDAY, "Europe/Berlin")) == ("24", "15:30")
    with i18n.use("de", clock="12"):
        assert i18n.format_time(TUESDAY, "Europe/Berlin") == "3:30 PM"


@pytest.mark.parametrize(("language", "minutes", "words"), [
    ("en", 30, "30 minutes"), ("en", 60, "1 hour"), ("en", 90, "1 hour 30 minutes"),
    ("de", 30, "30 Minuten"), ("fr", 45, "45 minutes"), ("es", 120, "2 horas"),
])
def test_durations_are_words(language, minutes, words):
    assert i18n.format_duration(minutes, language) == words


@pytest.mark.parametrize(("zone", "name"), [
    ("Europe/Berlin", "Central European Time (Berlin)"), ("Asia/Kolkata", "India Time (Kolkata)"),
    ("UTC", "Coordinated Universal Time"), ("Etc/GMT+5", "Etc/GMT+5"),
])
def test_zones_are_named_as_people_name_them(zone, name):
    assert i18n.zone_name(zone, "en") == name


def test_messages_are_translated_and_unknown_languages_fall_back_to_english():
    with i18n.use("de"):
        assert i18n.gettext("Confirm this time") == "Diese Zeit bestätigen"
        assert i18n.ngettext("This time is held for you for %(num)d minute.",
                             "This time is held for you for %(num)d minutes.", 5).startswith("Diese Zeit ist 5 Minuten")
    with i18n.use("xx"):
        assert i18n.current() == "en" and i18n.gettext("Confirm this time") == "Confirm this time"


def test_a_bad_language_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="'klingon' is not offered; use one of en, de, fr, es"):
        i18n.check_language("klingon")
    assert i18n.check_language("") is None and i18n.check_language("fr") == "fr"


def test_a_zone_is_named_in_the_language_in_use_each_time():
    with i18n.use("en"):
        assert i18n.zone_name("Europe/Berlin") == "Central European Time (Berlin)"
    with i18n.use("de"):
        assert i18n.zone_name("Europe/Berlin") == "Mitteleuropäische Zeit (Berlin)"


def test_a_sentence_is_translated_when_read_and_english_as_text():
    held = i18n.Sentence.ngettext("This time is held for you for %(num)d minute.",
                                  "This time is held for you for %(num)d minutes.", 5)
    with i18n.use("de"):
        assert held.text().startswith("Diese Zeit ist 5 Minuten")
        assert str(held) == "This time is held for you for 5 minutes."  # logs, API, dashboard
    assert held.text("de").startswith("Diese Zeit ist 5 Minuten") and i18n.current() == "en"
    one = i18n.Sentence.ngettext("This time is held for you for %(num)d minute.",
                                 "This time is held for you for %(num)d minutes.", 1)
    assert str(one) == "This time is held for you for 1 minute."
    unavailable = i18n.Sentence(i18n.N_("That time is no longer available, please pick another"))
    assert unavailable.text("fr") != str(unavailable)
    contact = i18n.Sentence.gettext("If you still want to meet, please contact %(contact)s.", contact="Sam <s@x.example>")
    assert contact.text("es") == "Si aún quiere reunirse, póngase en contacto con Sam <s@x.example>."
