"""The customer's manage pages: see the booked meeting, move it, or cancel it.

Routes (``<token>`` is the manage link's token, mailed with the confirmation and shown on the
scheduled page; only its hash is stored):

- ``GET /m/<token>``: the meeting as it is now, with "Reschedule" and "Cancel", or why they are
  not possible any more and whom to contact; for a meeting the scheduler cancelled while the
  frame still has times, "Pick another time".
- ``GET /m/<token>/reschedule?zone=&week=``: the times still available for the same invitation
  (the meeting's own reservations do not block them), one week per page.
- ``GET /m/<token>/reschedule/slot?start=&zone=``: re-checks one time; the confirmation page.
- ``POST /m/<token>/move``: moves the meeting there (or books it again after the scheduler
  cancelled it); CSRF-protected, rate-limited.
- ``GET /m/<token>/cancel`` and ``POST /m/<token>/cancel``: cancel, with an optional reason.

Every change goes through :mod:`booking_service.services.booking` (a transition of the state
machine, checked against the invitation's policy under its locks). A refusal comes back as a
sentence (:class:`booking_service.core.i18n.Sentence`) that these pages show in the meeting's
language, like everything else on them.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from ..core import display, i18n
from ..core.i18n import gettext as _
from ..services import availability
from ..services.booking import (
    UNAVAILABLE_MESSAGE,
    cancel_by_customer,
    change_refusal,
    find_meeting_by_manage_token,
    meeting_names,
    rebook_meeting,
    reschedule_meeting,
    scheduler_contact,
)
from ..services.lifecycle import TransitionRefused, effective_status
from ..store.db import session_scope
from ..store.models import Meeting
from .booking import _start, times_context
from .extensions import db_session, limiter, settings_of
from .languages import choose as choose_language

bp = Blueprint("manage", __name__)


def _page_limit() -> str:
    return settings_of(current_app).booking_page_rate_limit


def _change_limit() -> str:
    return settings_of(current_app).booking_confirm_rate_limit


def _meeting(token: str) -> Meeting:
    meeting = find_meeting_by_manage_token(db_session(), token)
    if meeting is None:
        abort(404)
    choose_language(meeting.language or meeting.invitation.language)
    return meeting


def _zone(meeting: Meeting) -> str:
    zone = request.values.get("zone") or meeting.customer_zone or meeting.invitation.zone
    if not display.is_zone(zone):
        abort(400, description=_("That time zone is not known. Pick one from the list of zones."))
    return zone


def _mode(meeting: Meeting) -> str | None:
    """What the customer may do now: ``"reschedule"``, ``"rebook"``, or ``None`` (with the reason shown)."""
    if meeting.status == "confirmed":
        return "reschedule" if change_refusal(meeting.invitation, meeting, "reschedule", settings_of(current_app)) is None else None
    if meeting.cancelled_by == "scheduler" and effective_status(meeting.invitation) != "expired":
        return "rebook"
    return None


def _skip(meeting: Meeting) -> int | None:
    return meeting.id if meeting.status == "confirmed" else None


@bp.get("/m/<token>")
@limiter.limit(_page_limit)
def manage(token: str):
    """The meeting as it is now, and what the customer may change."""
    meeting = _meeting(token)
    settings = settings_of(current_app)
    team, room = meeting_names(db_session(), meeting)
    return render_template(
        "manage/meeting.html",
        meeting=meeting,
        invitation=meeting.invitation,
        token=token,
        zone=_zone(meeting),
        team=team,
        room=room,
        mode=_mode(meeting),
        reschedule_refusal=change_refusal(meeting.invitation, meeting, "reschedule", settings)
        if meeting.status == "confirmed" else None,
        cancel_refusal=change_refusal(meeting.invitation, meeting, "cancel", settings)
        if meeting.status == "confirmed" else None,
        contact=scheduler_contact(meeting.invitation, settings),
    )


@bp.get("/m/<token>/reschedule")
@limiter.limit(_page_limit)
def reschedule(token: str):
    """The times the meeting can move to (or, after the scheduler cancelled it, be booked at)."""
    meeting = _meeting(token)
    if _mode(meeting) is None:
        return redirect(url_for("manage.manage", token=token))
    invitation = meeting.invitation
    zone = _zone(meeting)
    slots = availability.find_slots_for(db_session(), invitation, skip_meeting=_skip(meeting))
    if _skip(meeting) is not None and not slots.empty:
        # The current time is not a time to move to.
        slots = slots[pd.DatetimeIndex(slots["start"]) != pd.Timestamp(meeting.start)]
    return render_template(
        "manage/reschedule.html",
        meeting=meeting,
        mode=_mode(meeting),
        **times_context(invitation, slots, token=token, zone=zone, endpoint="manage.reschedule",
                        slot_endpoint="manage.slot"),
    )


@bp.get("/m/<token>/reschedule/slot")
@limiter.limit(_page_limit)
def slot(token: str):
    """Re-check one time; the page that confirms the move."""
    meeting = _meeting(token)
    mode = _mode(meeting)
    if mode is None:
        return redirect(url_for("manage.manage", token=token))
    zone = _zone(meeting)
    start = _start(request.args.get("start"))
    check = availability.check_slot_for(db_session(), meeting.invitation, start, skip_meeting=_skip(meeting))
    if not check.available:
        flash(_(UNAVAILABLE_MESSAGE), "warning")
        return redirect(url_for("manage.reschedule", token=token, zone=zone))
    end = start + dt.timedelta(minutes=meeting.invitation.duration_minutes)
    return render_template(
        "manage/move.html",
        meeting=meeting,
        invitation=meeting.invitation,
        token=token,
        zone=zone,
        start=start,
        when=i18n.format_when(start, end, zone),
        mode=mode,
    )


@bp.post("/m/<token>/move")
@limiter.limit(_change_limit)
def move(token: str):
    """Move the meeting to the chosen time in one locked transaction."""
    start = _start(request.form.get("start"))
    settings = settings_of(current_app)
    engine = current_app.extensions["slotwise"]["engine"]
    with session_scope(engine, write=True) as session:
        meeting = find_meeting_by_manage_token(session, token)
        if meeting is None:
            abort(404)
        # What the next page says (moved, or why not) is in the meeting's language, as that page is.
        choose_language(meeting.language or meeting.invitation.language)
        act = rebook_meeting if meeting.status == "cancelled" else reschedule_meeting
        try:
            result = act(session, meeting.id, start, secret_key=settings.secret_key, manage_token=token,
                         settings=settings)
        except TransitionRefused as refused:
            flash(refused.sentence.text(), "warning")
            return redirect(url_for("manage.manage", token=token), code=303)
        outcome = result.outcome
    if outcome == "unavailable":
        flash(_(UNAVAILABLE_MESSAGE), "warning")
        return redirect(url_for("manage.reschedule", token=token), code=303)
    flash(_("Your meeting has been moved.") if outcome == "moved" else _("Your meeting is scheduled again."), "success")
    return redirect(url_for("manage.manage", token=token), code=303)


@bp.route("/m/<token>/cancel", methods=["GET", "POST"])
@limiter.limit(_change_limit, methods=["POST"])
@limiter.limit(_page_limit, methods=["GET"])
def cancel(token: str):
    """Ask for the cancellation (GET), or cancel (POST, with an optional reason)."""
    meeting = _meeting(token)
    settings = settings_of(current_app)
    if request.method == "GET" or meeting.status != "confirmed":
        if meeting.status != "confirmed":
            return redirect(url_for("manage.manage", token=token))
        team, room = meeting_names(db_session(), meeting)
        return render_template(
            "manage/cancel.html", meeting=meeting, invitation=meeting.invitation, token=token, zone=_zone(meeting),
            team=team, room=room, refusal=change_refusal(meeting.invitation, meeting, "cancel", settings),
        )
    reason = request.form.get("reason", "")
    if len(reason) > 1000:
        abort(400, description=_("The reason is too long (at most 1000 characters). Please shorten it."))
    meeting_id = meeting.id
    db_session().rollback()
    with session_scope(current_app.extensions["slotwise"]["engine"], write=True) as session:
        try:
            cancel_by_customer(session, meeting_id, secret_key=settings.secret_key, reason=reason, settings=settings)
        except TransitionRefused as refused:
            flash(refused.sentence.text(), "warning")
            return redirect(url_for("manage.manage", token=token), code=303)
    flash(_("Your meeting has been cancelled. Both of you have been sent a confirmation of the cancellation."), "success")
    return redirect(url_for("manage.manage", token=token), code=303)


@bp.after_request
def _no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response
