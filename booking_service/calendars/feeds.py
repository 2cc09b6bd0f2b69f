"""Private iCalendar feeds: each team member's and room's Slotwise meetings, by subscription.

For people who would rather subscribe than connect CalDAV. Each resource can have one feed
URL, ``/feeds/<token>.ics``, where the token is random (256 bits) and only its SHA-256 hash is
stored. Issuing a new token revokes the old URL; revoking leaves the resource without a feed.

The feed lists the resource's confirmed meetings from 30 days ago on, each as the same
``VEVENT`` that write-back stores (so the ``UID`` is the meeting's and a calendar that has the
event both ways shows it once). A cancelled meeting drops out of the feed, and subscribers'
calendars remove it at their next refresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Meeting, Reservation, Resource, utcnow
from .writeback import meeting_vevent

__all__ = [
    "FEED_PAST",
    "feed_ics",
    "feed_path",
    "feed_url",
    "issue_feed_token",
    "resource_for_feed_token",
    "revoke_feed_token",
]

FEED_PAST = dt.timedelta(days=30)
"""How far back the feed lists meetings."""

REFRESH = "PT15M"
"""How often subscribers are asked to refresh (``REFRESH-INTERVAL``)."""

PRODID = "-//Slotwise//Meeting feed//EN"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_feed_token(session: Session, resource: Resource) -> str:
    """Give ``resource`` a new feed token (the previous feed URL stops working).

    Returns
    -------
    str
        The token; it is shown once (in :func:`feed_url`) and only its hash is stored.
    """
    token = secrets.token_urlsafe(32)
    resource.feed_token_hash = _hash(token)
    session.flush()
    return token


def revoke_feed_token(session: Session, resource: Resource) -> None:
    """Remove ``resource``'s feed: its URL answers 404 from now on."""
    resource.feed_token_hash = None
    session.flush()


def resource_for_feed_token(session: Session, token: str) -> Resource | None:
    """The active resource whose feed token is ``token``, or ``None``."""
    if not token or len(token) > 200:
        return None
    resource = session.scalars(select(Resource).where(Resource.feed_token_hash == _hash(token))).one_or_none()
    if resource is None or not resource.active:
        return None
    return resource


def feed_path(token: str) -> str:
    """The feed's path on the booking service (the web layer serves exactly this path)."""
    return f"/feeds/{token}.ics"


def feed_url(public_url: str, token: str) -> str:
    """The full feed URL to give the member (``Settings.public_url`` + :func:`feed_path`)."""
    return public_url.rstrip("/") + feed_path(token)


def feed_ics(session: Session, resource: Resource, *, now: dt.datetime | None = None) -> str:
    """The feed of ``resource``: its confirmed meetings ending after ``now - FEED_PAST``.

    Returns
    -------
    str
        A ``VCALENDAR`` (``METHOD:PUBLISH``) with one ``VEVENT`` per meeting, by start time.
    """
    now = now or utcnow()
    meetings = session.scalars(
        select(Meeting)
        .join(Reservation, Reservation.meeting_id == Meeting.id)
        .where(
            Reservation.resource_id == resource.id,
            Meeting.status == "confirmed",
            Meeting.end > now - FEED_PAST,
        )
        .order_by(Meeting.start, Meeting.id)
        .distinct()
    )
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Slotwise — {resource.name}")
    calendar.add("refresh-interval", dt.timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for meeting in meetings:
        calendar.add_component(meeting_vevent(session, meeting, now=now))
    return calendar.to_ical().decode("utf-8")
