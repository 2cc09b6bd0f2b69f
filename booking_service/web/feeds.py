"""Private calendar feeds: ``GET /feeds/<token>.ics`` serves a member's or room's meetings.

The token is the only credential; an unknown or revoked token is a 404. The service function
is :func:`booking_service.calendars.feeds.feed_ics`.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort

from ..calendars.feeds import feed_ics, resource_for_feed_token
from .extensions import db_session, limiter

bp = Blueprint("feeds", __name__)


@bp.get("/feeds/<token>.ics")
@limiter.limit("120 per minute")
def feed(token: str) -> Response:
    """The resource's meetings as iCalendar, for calendar apps that subscribe."""
    session = db_session()
    resource = resource_for_feed_token(session, token)
    if resource is None:
        abort(404)
    return Response(
        feed_ics(session, resource),
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="slotwise.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )
