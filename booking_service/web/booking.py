"""The customer's booking pages: open the link, see times, pick one, confirm, get the invite.

Routes (``<token>`` is the invitation link's token):

- ``GET /i/<token>``: the invitation: its promoted slots that are still available and a "More
  times" link, or the full list of times; or "already scheduled", "cancelled", "expired".
- ``GET /i/<token>/times?zone=&week=``: every available time, grouped by day in the viewer's
  zone, paged by week within the frame.
- ``GET /i/<token>/slot?start=&zone=``: re-checks one time and holds it for the customer for
  ``SLOT_HOLD_MINUTES`` (:func:`booking_service.services.booking.hold_slot`); gone: back to the
  times with a message; held: the confirmation page.
- ``POST /i/<token>/confirm``: books it (CSRF-protected, rate-limited). A confirmation that loses
  to a cancellation lands on the "cancelled" page; one whose link a resend replaced meanwhile
  is a 404, as that link now is everywhere.
- ``GET /i/<token>/scheduled`` and ``GET /i/<token>/invite.ics``: the booked meeting.

Views parse and validate (malformed starts, zones and week numbers get a 400 page), call one
service function, then render or redirect. An unknown token is a 404, whatever the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from ..calendars.sync import refresh_invitation_calendars
from ..core import display, i18n
from ..core.i18n import gettext as _
from ..services import availability
from ..services.booking import (
    UNAVAILABLE_MESSAGE,
    change_refusal,
    confirm_slot,
    hold_slot,
    meeting_invite_for,
    meeting_names,
)
from ..services.invitations import (
    booking_link,
    find_by_token,
    hash_token,
    link_key,
    manage_token_for,
    replaced_link,
)
from ..services.lifecycle import effective_status
from ..services.outbox import register_filters
from ..store.db import session_scope
from ..store.models import Invitation
from .extensions import db_session, frame_origins, limiter, settings_of
from .languages import choose as choose_language
from .metrics import record_confirm

bp = Blueprint("booking", __name__)


@bp.record_once
def _register_filters(state) -> None:
    # Pages and mails format times with the same filters.
    register_filters(state.app.jinja_env.filters)


def _page_limit() -> str:
    # BOOKING_PAGE_RATE_LIMIT (environment or create_app config), per client address.
    return settings_of(current_app).booking_page_rate_limit


def _confirm_limit() -> str:
    return settings_of(current_app).booking_confirm_rate_limit


# --- request parsing ---------------------------------------------------------------------------


def _invitation(token: str) -> Invitation:
    invitation = find_by_token(db_session(), token)
    if invitation is None:
        _not_found(token)
    return invitation


def _not_found(token: str):
    """A 404; for a link a resend replaced, a page that says when the newer one was sent."""
    replaced = replaced_link(db_session(), token)
    if replaced is None:
        abort(404)
    invitation, sent_at = replaced
    choose_language(invitation.language)
    zone = invitation.customer_zone or invitation.zone
    sent_on = i18n.format_day(i18n.local(sent_at, zone).date())
    abort(Response(render_template("booking/replaced.html", invitation=invitation, sent_on=sent_on), status=410))


def _refresh_calendars(invitation: Invitation) -> None:
    """Re-sync the invitation's calendars that are older than the configured age.

    Waits at most ``calendar_refresh_budget_seconds``; slower syncs finish in the background.
    """
    outcome = refresh_invitation_calendars(
        current_app.extensions["slotwise"]["engine"], invitation, settings_of(current_app), session=db_session()
    )
    if outcome.results:
        # End this request's read transaction: on SQLite it keeps reading the snapshot taken
        # before the sync committed, and the slots must see the new busy blocks.
        db_session().commit()


def _zone(invitation: Invitation) -> str:
    return _zone_asked() or invitation.customer_zone or invitation.zone


def _zone_asked() -> str | None:
    """The zone the page's URL asks for (a 400 page when it is not one), or ``None``."""
    zone = request.args.get("zone")
    if not zone:
        return None
    if not display.is_zone(zone):
        abort(400, description=_("That time zone is not known. Pick one from the list of zones."))
    return zone


def _start(raw: str | None) -> dt.datetime:
    try:
        return display.parse_instant(raw or "")
    except ValueError:
        abort(400, description=_("That link is damaged: the time in it cannot be read. Go back and pick a time again."))


def _week(raw: str | None, pages: int) -> int | None:
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or int(raw) >= pages:
        abort(400, description=_("There is no such page of times. Pages go from 0 to %(last)s.", last=pages - 1))
    return int(raw)


# --- what the pages show -----------------------------------------------------------------------


@dataclass(frozen=True)
class SlotLink:
    """One time on a page: its label in the viewer's zone, its full name, and its start as a form sends it."""

    label: str
    iso: str
    """The start in UTC as the time's button submits it (:func:`display.iso_utc`)."""
    name: str = ""


@dataclass(frozen=True)
class MonthDay:
    """One day of the month grid."""

    date: dt.date
    name: str
    available: bool
    selected: bool = False
    focus: bool = False


@dataclass(frozen=True)
class Day:
    """The times of one local date."""

    date: dt.date
    label: str
    slots: list[SlotLink]


@lru_cache(maxsize=128)
def _zone_options(selected: str, language: str = i18n.DEFAULT_LANGUAGE) -> Markup:
    """The ``<option>`` list of every zone with ``selected`` chosen, named in ``language`` (rendered once each)."""
    return Markup("").join(
        Markup('<option value="{0}"{1}>{2}</option>').format(
            name, Markup(" selected") if name == selected else "", _zone_label(name, language)
        )
        for name in display.zone_names()
    )


def _zone_label(name: str, language: str) -> str:
    human = i18n.zone_name(name, language)
    return name if human == name else f"{human} – {name}"


def _weeks(invitation: Invitation) -> tuple[dt.date, int]:
    """Monday of the frame's first week and the number of week pages.

    Weeks are the invitation zone's calendar weeks, so a page holds the same slots whichever
    zone the customer reads them in (only the day headings follow the viewer's zone).
    """
    monday = invitation.frame_start - dt.timedelta(days=invitation.frame_start.weekday())
    return monday, (invitation.frame_end - monday).days // 7 + 1


MINUTES_PER_DAY = 24 * 60
_EPOCH = dt.date(1970, 1, 1)


def _wall_minutes(starts: pd.DatetimeIndex, zone: str) -> np.ndarray:
    """Each instant as minutes since 1970-01-01 00:00 on ``zone``'s wall clock (int64).

    ``// MINUTES_PER_DAY`` is its local date as a day number (:func:`_date`), ``% MINUTES_PER_DAY``
    its time of day. Seconds are dropped, as a clock shows them.
    """
    return starts.tz_convert(zone).tz_localize(None).as_unit("s").asi8 // 60


def _date(number: int) -> dt.date:
    """The date of a day number (days since 1970-01-01)."""
    return _EPOCH + dt.timedelta(days=number)


def _days(starts: pd.DatetimeIndex, zone: str) -> list[Day]:
    """The times of ``starts`` (tz-aware, in order), grouped by their date in ``zone``."""
    if starts.empty:
        return []
    wall = _wall_minutes(starts, zone)
    # numpy's ISO text to the second plus "Z" is display.iso_utc's form, without a call per time.
    isos = np.datetime_as_string(starts.tz_convert("UTC").tz_localize(None).to_numpy(), unit="s")
    minutes = wall % MINUTES_PER_DAY
    # A week has a few dozen distinct times of day: each is formatted once.
    labels = {m: i18n.format_wall_time(*divmod(m, 60)) for m in set(minutes.tolist())}
    zone_name = i18n.zone_name(zone)
    numbers = (wall // MINUTES_PER_DAY).tolist()
    days: dict[int, Day] = {}
    for number, minute, iso in zip(numbers, minutes.tolist(), isos.tolist(), strict=True):
        day = days.get(number)
        if day is None:
            date = _date(number)
            day = days[number] = Day(date, i18n.format_day(date), [])
        label = labels[minute]
        day.slots.append(SlotLink(label, f"{iso}Z", f"{day.label}, {label}, {zone_name}"))
    return list(days.values())


def _day(raw: str | None, invitation: Invitation) -> dt.date | None:
    if raw is None or raw == "":
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        day = None
    # A day in the viewer's zone may lie a day either side of the frame's dates.
    if day is None or not (invitation.frame_start - dt.timedelta(days=1) <= day <= invitation.frame_end + dt.timedelta(days=1)):
        abort(400, description=_("That day is not in this invitation's time frame. Pick a day from the calendar."))
    return day


def times_context(invitation: Invitation, slots: pd.DataFrame, *, token: str, zone: str, endpoint: str,
                  slot_endpoint: str) -> dict:
    """What a page of times shows: the month grid, and the chosen day's times or one week's.

    ``slots`` are every available start of the frame; ``week`` and ``day`` come from the request.
    Without either, the page opens on the first week (and month) with times.
    """
    monday, pages = _weeks(invitation)
    week = _week(request.args.get("week"), pages)
    chosen = _day(request.args.get("day"), invitation)
    frame_empty = slots.empty
    common = {
        "invitation": invitation,
        "token": token,
        "zone": zone,
        "zone_options": _zone_options(zone, i18n.current()),
        "frame_empty": frame_empty,
        "team": availability.team_names(invitation),
    }
    if frame_empty:
        return {**common, "days": []}
    starts = pd.DatetimeIndex(slots["start"])
    # Week pages are the invitation zone's calendar weeks; the viewer's days group the times.
    # Local dates are day numbers here (days since 1970-01-01, see _date).
    page_of = (_wall_minutes(starts, invitation.zone) // MINUTES_PER_DAY - (monday - _EPOCH).days) // 7
    viewer_days = _wall_minutes(starts, zone) // MINUTES_PER_DAY
    available = [_date(n) for n in sorted(set(viewer_days.tolist()))]
    if chosen is not None:
        shown = viewer_days == (chosen - _EPOCH).days
        if shown.any():
            week = int(page_of[shown][0])
    else:
        if week is None:
            week = int(page_of[0])
        shown = page_of == week
    week = week if week is not None else 0
    week_start = monday + dt.timedelta(days=7 * week)
    pages_with_times = sorted(set(page_of.tolist()))
    earlier = [p for p in pages_with_times if p < week]
    later = [p for p in pages_with_times if p > week]

    def link(**args) -> str:
        return url_for(endpoint, token=token, zone=zone, **args)

    focus_month = chosen or (_date(int(viewer_days[shown][0])) if shown.any() else available[0])
    return {
        **common,
        "days": _days(starts[shown], zone),
        "slot_action": url_for(slot_endpoint, token=token),
        "week": week,
        "pages": pages,
        # Only weeks that have times: "Previous week" never leads to an empty week.
        "prev_week": link(week=earlier[-1]) if earlier else None,
        "next_week": link(week=later[0]) if later else None,
        "week_url": link(week=week),
        "week_label": _("Week of %(day)s", day=i18n.format_day(week_start)),
        "chosen_day": chosen,
        "month": _month(focus_month, available, chosen, link, url_for(endpoint, token=token)),
    }


def _month(day: dt.date, available: list[dt.date], chosen: dt.date | None, link, action: str) -> dict:
    """The month grid around ``day``: weeks of seven cells (``None`` outside the month), Monday first."""
    requested = request.args.get("month")
    if requested:
        try:
            day = dt.date.fromisoformat(requested + "-01")
        except ValueError:
            abort(400, description=_("That month cannot be read. Use the arrows beside the month's name."))
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    free = set(available)
    in_month = [d for d in available if first <= d < following]
    focus = chosen if chosen in free and first <= chosen < following else (in_month[0] if in_month else None)
    cells: list[MonthDay | None] = [None] * first.weekday()
    current = first
    while current < following:
        cells.append(MonthDay(current, i18n.format_day(current), current in free, current == chosen, current == focus))
        current += dt.timedelta(days=1)
    cells += [None] * (-len(cells) % 7)
    earlier = [d for d in available if d < first]
    later = [d for d in available if d >= following]
    long_names = i18n.weekday_names(width="wide")
    return {
        "label": i18n.format_month(first),
        "weeks": [cells[i:i + 7] for i in range(0, len(cells), 7)],
        "weekdays": list(zip(i18n.weekday_names(), long_names, strict=True)),
        "prev": link(month=f"{earlier[-1]:%Y-%m}") if earlier else None,
        "next": link(month=f"{later[0]:%Y-%m}") if later else None,
        "action": action,
    }


def _times_context(invitation: Invitation, token: str, zone: str, week_raw: str | None = None) -> dict:
    slots = availability.find_slots_for(db_session(), invitation)
    return times_context(invitation, slots, token=token, zone=zone, endpoint="booking.times",
                         slot_endpoint="booking.slot")


def _closed_page(invitation: Invitation, token: str, status: str):
    if status == "scheduled":
        return _scheduled_page(invitation, token, just_booked=False)
    return render_template("booking/closed.html", invitation=invitation, status=status), 410


def _calendar_links(invitation: Invitation, start: dt.datetime, end: dt.datetime, *, team: list[str],
                    room: str) -> dict[str, str]:
    fmt = "%Y%m%dT%H%M%SZ"
    with_team = f"{_('With:')} {', '.join(team)}" if team else ""
    details = "\n\n".join(x for x in (invitation.description or "", with_team) if x)
    location = ", ".join(x for x in (room, invitation.conferencing or "") if x)
    google = "https://calendar.google.com/calendar/render?" + urlencode(
        {
            "action": "TEMPLATE",
            "text": invitation.subject,
            "dates": f"{start.astimezone(dt.UTC):{fmt}}/{end.astimezone(dt.UTC):{fmt}}",
            "details": details,
            "location": location,
        }
    )
    outlook = "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": invitation.subject,
            "startdt": display.iso_utc(start),
            "enddt": display.iso_utc(end),
            "body": details,
            "location": location,
        }
    )
    return {"google": google, "outlook": outlook}


def _scheduled_page(invitation: Invitation, token: str, *, just_booked: bool):
    meeting = invitation.meeting
    if meeting is None:  # scheduled without a meeting cannot happen; treat as closed
        return render_template("booking/closed.html", invitation=invitation, status="cancelled"), 410
    zone = request.args.get("zone") or meeting.customer_zone or invitation.customer_zone or invitation.zone
    if not display.is_zone(zone):
        abort(400, description=_("That time zone is not known. Pick one from the list of zones."))
    team, room = meeting_names(db_session(), meeting)
    settings = settings_of(current_app)
    return render_template(
        "booking/scheduled.html",
        invitation=invitation,
        meeting=meeting,
        token=token,
        zone=zone,
        just_booked=just_booked,
        team=team,
        room=room,
        links=_calendar_links(invitation, meeting.start, meeting.end, team=team, room=room),
        manage_token=manage_token_for(settings.secret_key, invitation.token_hash),
        change_refusal=change_refusal(invitation, meeting, "reschedule", settings),
    )


# --- routes ------------------------------------------------------------------------------------


@bp.get("/i/<token>")
@limiter.limit(_page_limit)
def invitation(token: str):
    """The invitation page: promoted slots still available, or the full list, or its state."""
    invitation = _invitation(token)
    choose_language(invitation.language)
    status = effective_status(invitation)
    if status != "active":
        return _closed_page(invitation, token, status)
    _refresh_calendars(invitation)
    zone = _zone(invitation)
    if invitation.promote and invitation.promoted_slots:
        slots = availability.find_slots_for(db_session(), invitation)
        promoted = invitation.promoted_slots
        flags = availability.still_available(slots, [p.start for p in promoted])
        offered = [
            SlotLink(i18n.format_when(p.start, p.end, zone), display.iso_utc(p.start))
            for p, ok in zip(promoted, flags, strict=True)
            if ok
        ]
        return render_template(
            "booking/invitation.html",
            invitation=invitation,
            token=token,
            zone=zone,
            zone_options=_zone_options(zone, i18n.current()),
            offered=offered,
            any_slots=not slots.empty,
            team=availability.team_names(invitation),
        )
    return render_template("booking/times.html", **_times_context(invitation, token, zone))


@bp.get("/i/<token>/times")
@limiter.limit(_page_limit)
def times(token: str):
    """All available times, by day in the viewer's zone, one week per page."""
    invitation = _invitation(token)
    choose_language(invitation.language)
    status = effective_status(invitation)
    if status != "active":
        return _closed_page(invitation, token, status)
    zone = _zone(invitation)
    return render_template("booking/times.html", **_times_context(invitation, token, zone))


@bp.get("/i/<token>/slot")
@limiter.limit(_page_limit)
def slot(token: str):
    """Re-check one time and hold it; show its confirmation page, or send the customer back to the times.

    The link is looked up, locked, re-checked and held in one write transaction, which reads
    the invitation once (under its lock) for the page too.
    """
    settings = settings_of(current_app)
    with session_scope(current_app.extensions["slotwise"]["engine"], write=True) as session:
        key = link_key(session, token)
        if key is not None:
            choose_language(key.language)
            zone_asked = _zone_asked()
            start = _start(request.args.get("start"))
            held = hold_slot(session, key.id, start, settings=settings, link_hash=hash_token(token))
            frame_origins(session)
    if key is None or held.outcome == "replaced":
        _not_found(token)
    if held.outcome in ("closed", "already_scheduled"):
        invitation = _invitation(token)  # with what its page shows (the meeting), in the request's session
        return _closed_page(invitation, token, effective_status(invitation))
    invitation = held.invitation
    zone = zone_asked or invitation.customer_zone or invitation.zone
    if held.outcome == "unavailable":
        flash(_(UNAVAILABLE_MESSAGE), "warning")
        return redirect(url_for("booking.times", token=token, zone=zone))
    end = start + dt.timedelta(minutes=invitation.duration_minutes)
    return render_template(
        "booking/confirm.html",
        invitation=invitation,
        token=token,
        zone=zone,
        start=start,
        end=end,
        when=i18n.format_when(start, end, zone),
        team=availability.team_names(invitation),
        held_until=held.expires_at,
        hold_minutes=settings.slot_hold_minutes,
    )


@bp.post("/i/<token>/confirm")
@limiter.limit(_confirm_limit)
def confirm(token: str):
    """Book the chosen time in one locked transaction (see :mod:`booking_service.services.booking`)."""
    raw_zone = request.form.get("zone", "")
    if raw_zone and not display.is_zone(raw_zone):
        abort(400, description=_("That time zone is not known. Pick one from the list of zones."))
    start = _start(request.form.get("start"))
    settings = settings_of(current_app)
    engine = current_app.extensions["slotwise"]["engine"]
    with session_scope(engine, write=True) as session:
        key = link_key(session, token)
        if key is not None:
            choose_language(key.language)
        result = None if key is None else confirm_slot(
            session,
            key.id,
            start,
            secret_key=settings.secret_key,
            customer_zone=raw_zone or None,
            link=booking_link(settings.public_url, token),
            settings=settings,
            link_hash=hash_token(token),
            language=i18n.current(),
        )
        frame_origins(session)
        zone = None if result is None else raw_zone or result.invitation.customer_zone or result.invitation.zone
    record_confirm("unknown_link" if result is None else result.outcome)
    if result is None or result.outcome == "replaced":
        # An unknown link, or one a resend replaced (perhaps while the confirmation waited): its
        # page says so (the new one is in the customer's mail).
        _not_found(token)
    if result.outcome in ("booked", "already_scheduled"):
        return redirect(url_for("booking.scheduled", token=token), code=303)
    if result.outcome == "unavailable":
        flash(_(UNAVAILABLE_MESSAGE), "warning")
        return redirect(url_for("booking.times", token=token, zone=zone), code=303)
    return redirect(url_for("booking.invitation", token=token), code=303)


@bp.get("/i/<token>/scheduled")
@limiter.limit(_page_limit)
def scheduled(token: str):
    """The booked meeting, with its calendar invite and add-to-calendar links."""
    invitation = _invitation(token)
    choose_language(invitation.language)
    status = effective_status(invitation)
    if status != "scheduled":
        return redirect(url_for("booking.invitation", token=token))
    return _scheduled_page(invitation, token, just_booked=True)


@bp.get("/i/<token>/invite.ics")
@limiter.limit(_page_limit)
def invite_ics(token: str):
    """The booked meeting's ``.ics`` (the same UID as the mailed invite)."""
    invitation = _invitation(token)
    choose_language(invitation.meeting.language if invitation.meeting else invitation.language)
    if invitation.meeting is None:
        abort(404)
    settings = settings_of(current_app)
    body = meeting_invite_for(
        db_session(), invitation.meeting, settings=settings, url=booking_link(settings.public_url, token)
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="invite.ics"', "Cache-Control": "no-store"},
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    # Booking pages hold personal details behind a secret link: never cache them in shared caches.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
