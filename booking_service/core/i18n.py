"""The customer's language: which one, its messages, and instants, zones and durations in its words.

Customer pages and customer mail speak English, German, French or Spanish (:data:`LANGUAGES`).
Which one is chosen where it enters (the page's ``lang`` parameter, the invitation's language, the
browser's ``Accept-Language``, then :data:`DEFAULT_LANGUAGE`); this module only holds the chosen
one for the code that renders (:func:`use`, :func:`current`) and formats in it with Babel, whose
CLDR data names weekdays, months and zones ("Central European Time (Berlin)") and knows each
language's clock (12-hour in English, 24-hour in the others; :func:`use` can switch it).

Messages live in gettext catalogues under ``translations/<lang>/LC_MESSAGES/messages.po``;
:func:`compile_catalogues` turns them into the ``.mo`` files gettext reads, when they are missing
or older than their ``.po`` (so a bare checkout works without a build step).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from babel.units import format_unit

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es")
DEFAULT_LANGUAGE = "en"
CLOCKS = ("12", "24")
TRANSLATIONS = Path(__file__).with_name("translations")

_language: contextvars.ContextVar[str] = contextvars.ContextVar("slotwise_language", default=DEFAULT_LANGUAGE)
_clock: contextvars.ContextVar[str | None] = contextvars.ContextVar("slotwise_clock", default=None)


# --- which language ----------------------------------------------------------------------------


def is_language(code: object) -> bool:
    """True when ``code`` is one of :data:`LANGUAGES`."""
    return isinstance(code, str) and code in LANGUAGES


def check_language(code: str | None, field: str = "language") -> str | None:
    """``code`` when it is a shipped language or empty (``None``); otherwise a ValueError naming it."""
    if code is None or code == "":
        return None
    if not is_language(code):
        raise ValueError(f"{field} {code!r} is not offered; use one of {', '.join(LANGUAGES)}")
    return code


@lru_cache(maxsize=64)
def language_name(code: str) -> str:
    """The language's name in itself: ``"Deutsch"``."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@contextmanager
def use(language: str | None, clock: str | None = None) -> Iterator[str]:
    """Render and format in ``language`` (default when ``None`` or unknown) within the block.

    ``clock`` (``"12"`` or ``"24"``) overrides the language's own clock.
    """
    language = language if is_language(language) else DEFAULT_LANGUAGE
    tokens = (_language.set(language), _clock.set(clock if clock in CLOCKS else None))
    try:
        yield language
    finally:
        _clock.reset(tokens[1])
        _language.reset(tokens[0])


def set_current(language: str | None, clock: str | None = None) -> None:
    """Render and format in ``language`` from now on in this context (a web request sets it first)."""
    _language.set(language if is_language(language) else DEFAULT_LANGUAGE)
    _clock.set(clock if clock in CLOCKS else None)


def current() -> str:
    """The language in use (:func:`use`)."""
    return _language.get()


def clock(language: str | None = None) -> str:
    """``"12"`` or ``"24"``: the clock in use, or the language's own (CLDR's short time pattern)."""
    chosen = _clock.get() if language is None else None
    if chosen is not None:
        return chosen
    return _own_clock(language or current())


@lru_cache(maxsize=64)
def _own_clock(language: str) -> str:
    pattern = Locale.parse(language).time_formats["short"].pattern
    return "12" if "h" in pattern or "K" in pattern else "24"


# --- messages ----------------------------------------------------------------------------------


def compile_catalogues(folder: Path = TRANSLATIONS) -> list[Path]:
    """Write each ``messages.mo`` missing or older than its ``messages.po``; return those written.

    A folder that cannot be written (an installed, read-only package) is left alone: the
    catalogues are then read from the ``.po`` files in memory (:func:`translations`).
    """
    written = []
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source)
        try:
            with mo.open("wb") as target:
                write_mo(target, catalog)
        except OSError as exc:
            log.warning("cannot write %s (%s); reading %s in memory", mo, exc, po.name)
            continue
        written.append(mo)
    return written


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> Translations:
    """The gettext catalogue of ``language`` (English: the message ids themselves)."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po.exists():
        return Translations()
    compile_catalogues()
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as source:
            return Translations(source)
    import io

    with po.open("rb") as source:
        catalog = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(message: str, **variables: object) -> str:
    """``message`` in the language in use, with ``%(name)s`` variables filled in."""
    text = translations(current()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural of a message in the language in use; ``%(num)d`` is ``n``."""
    text = translations(current()).ungettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for translation, translate later"
    """``message`` itself, marked for the catalogues; it is translated where it is rendered."""
    return message


@dataclass(frozen=True)
class Sentence:
    """A sentence kept untranslated until someone reads it, in the reader's language.

    A service that refuses something says why with one (a reason a customer may read on their
    page); the page renders it in the page's language (:meth:`text`), while ``str()`` gives the
    English for logs, the API and the dashboard. Build one with :meth:`gettext` or
    :meth:`ngettext` (named after gettext's functions so that pybabel puts the message into the
    catalogues; nothing is translated then), or from a message marked with :func:`N_`.

    Attributes
    ----------
    message : str
        The catalogue's message id (the English singular).
    variables : dict
        The ``%(name)s`` values; numbers stay numbers.
    plural : str or None
        The English plural, for a message that depends on ``n`` (``%(num)d``).
    n : int
        The count that picks singular or plural.
    """

    message: str
    variables: dict[str, object] = field(default_factory=dict)
    plural: str | None = None
    n: int = 1

    @classmethod
    def gettext(cls, message: str, **variables: object) -> Sentence:
        """A sentence of ``message`` with its variables, translated when read."""
        return cls(message, variables)

    @classmethod
    def ngettext(cls, singular: str, plural: str, n: int, **variables: object) -> Sentence:
        """A sentence whose singular or plural the count ``n`` picks, in the reader's language."""
        return cls(singular, variables, plural, n)

    def text(self, language: str | None = None) -> str:
        """The sentence in ``language`` (default: the language in use)."""
        if language is not None:
            with use(language, _clock.get()):
                return self.text()
        if self.plural is not None:
            return ngettext(self.message, self.plural, self.n, **self.variables)
        return gettext(self.message, **self.variables)

    def __str__(self) -> str:
        return self.text(DEFAULT_LANGUAGE)


# --- instants, zones, durations ----------------------------------------------------------------


def local(instant: dt.datetime, zone: str) -> dt.datetime:
    """``instant`` as wall-clock time in ``zone``."""
    return instant.astimezone(ZoneInfo(zone))


def format_day(day: dt.date, language: str | None = None) -> str:
    """``"Tuesday 8 December 2026"``, ``"Dienstag, 8. Dezember 2026"``, ``"mardi 8 décembre 2026"``."""
    return _format_day(day, language or current())


@lru_cache(maxsize=4096)
def _format_day(day: dt.date, language: str) -> str:
    # A page names the same few dates many times (headings, the month grid, every time's name).
    if language == "en":
        return babel_dates.format_date(day, "EEEE d MMMM y", locale="en")
    return babel_dates.format_date(day, "full", locale=language)


def format_month(day: dt.date, language: str | None = None) -> str:
    """``"December 2026"``, ``"Dezember 2026"``: the month a calendar shows (its stand-alone name)."""
    return _month_name(day.year, day.month, language or current())


@lru_cache(maxsize=1024)
def _month_name(year: int, month: int, language: str) -> str:
    text = babel_dates.format_skeleton("yMMMM", dt.date(year, month, 1), locale=language)
    return text[:1].upper() + text[1:]


def weekday_names(language: str | None = None, width: str = "abbreviated") -> list[str]:
    """Monday to Sunday, as a calendar heads its columns."""
    return list(_weekday_names(language or current(), width))


@lru_cache(maxsize=64)
def _weekday_names(language: str, width: str) -> tuple[str, ...]:
    names = babel_dates.get_day_names(width, context="stand-alone", locale=language)
    return tuple(names[i] for i in range(7))


def format_time(instant: dt.datetime, zone: str, language: str | None = None) -> str:
    """``"8:30 AM"`` in English, ``"08:30"`` in German, in ``zone``, by the clock in use."""
    wall = local(instant, zone)
    return format_wall_time(wall.hour, wall.minute, language)


def format_wall_time(hour: int, minute: int, language: str | None = None) -> str:
    """The wall-clock time ``hour:minute`` as :func:`format_time` writes it, by the clock in use.

    For a page that has its times' local hours and minutes already (a whole week of them at once).
    """
    language = language or current()
    own = clock(language)
    wanted = clock() if language == current() else own
    return _clock_time(hour, minute, language, None if wanted == own else wanted)


@lru_cache(maxsize=8192)
def _clock_time(hour: int, minute: int, language: str, clock: str | None) -> str:
    """The wall time ``hour:minute`` in ``language``, by its own clock (``None``) or by ``clock``.

    A page lists many times; the label depends only on these four, so each is formatted once.
    """
    wall = dt.time(hour, minute)
    if clock is None:
        text = babel_dates.format_time(wall, "short", locale=language)
    else:
        text = babel_dates.format_time(wall, "h:mm a" if clock == "12" else "HH:mm", locale=language)
    # CLDR puts a narrow no-break space before "AM"; a plain one reads the same everywhere (mail too).
    return text.replace("\u202f", " ")


_UNIVERSAL = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT",
              "Etc/GMT", "Greenwich", "Etc/Greenwich"}


def zone_name(zone: str, language: str | None = None) -> str:
    """The zone as people name it: ``"Central European Time (Berlin)"``, ``"Mitteleuropäische Zeit (Berlin)"``.

    CLDR's generic name plus the city; zones without one (``Etc/GMT+5``) keep their id.
    """
    return _zone_name(zone, language or current())


@lru_cache(maxsize=4096)
def _zone_name(zone: str, language: str) -> str:
    tz = ZoneInfo(zone)
    if zone in _UNIVERSAL:
        return babel_dates.get_timezone_name(dt.datetime(2026, 1, 1, tzinfo=tz), "long", locale=language)
    if zone.startswith("Etc/") or "/" not in zone:
        return zone
    name = babel_dates.get_timezone_name(tz, "long", locale=language)
    city = babel_dates.get_timezone_location(tz, locale=language, return_city=True)
    if not city or city in name:
        return name
    return f"{name} ({city})"


def format_when(start: dt.datetime, end: dt.datetime, zone: str, language: str | None = None) -> str:
    """``"Tuesday 8 December 2026, 8:30 AM – 9:00 AM, Central Time (Chicago)"``.

    A meeting that ends on another local date names both dates.
    """
    language = language or current()
    a, b = local(start, zone), local(end, zone)
    first, last = format_time(a, zone, language), format_time(b, zone, language)
    if a.date() == b.date() or (b - dt.timedelta(microseconds=1)).date() == a.date():
        return f"{format_day(a.date(), language)}, {first} – {last}, {zone_name(zone, language)}"
    return f"{format_day(a.date(), language)} {first} – {format_day(b.date(), language)} {last}, {zone_name(zone, language)}"


def slot_name(start: dt.datetime, zone: str, language: str | None = None) -> str:
    """A time's full name, as a screen reader reads its button: ``"Tuesday 8 December 2026, 8:30 AM, Central Time (Chicago)"``."""
    language = language or current()
    return f"{format_day(local(start, zone).date(), language)}, {format_time(start, zone, language)}, {zone_name(zone, language)}"


def format_duration(minutes: int, language: str | None = None) -> str:
    """``"1 hour 30 minutes"``, ``"1 Stunde 30 Minuten"``: words, never ``"30m"``."""
    return _format_duration(int(minutes), language or current())


@lru_cache(maxsize=1024)
def _format_duration(minutes: int, language: str) -> str:
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(format_unit(hours, "duration-hour", "long", locale=language))
    if rest or not hours:
        parts.append(format_unit(rest, "duration-minute", "long", locale=language))
    return " ".join(parts)
