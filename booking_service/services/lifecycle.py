"""The lifecycle of invitations and meetings: the states they are in and how a customer sees them.

An invitation is ``active`` until it is booked (``scheduled``), withdrawn (``cancelled``) or its
frame ends (``expired``); a meeting is ``confirmed`` until it is ``cancelled``. An active
invitation whose frame has ended reads as expired before anything records it
(:func:`effective_status`).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import joinedload

from ..store.models import Invitation, ResourcePool, utcnow
from .availability import InvitationLike

# Every booking page and the booking itself need the team and the rooms: loaded with the
# invitation in one query (the collections are small, so the joined rows stay few).
TEAM_AND_ROOMS = (
    joinedload(Invitation.members),
    joinedload(Invitation.pools).joinedload(ResourcePool.members),
    joinedload(Invitation.rooms),
)


def frame_end_instant(invitation: InvitationLike) -> dt.datetime:
    """The end of the frame: 24:00 of its last date in its zone, as UTC."""
    end = dt.datetime.combine(invitation.frame_end + dt.timedelta(days=1), dt.time(), ZoneInfo(invitation.zone))
    return end.astimezone(dt.UTC)


def effective_status(invitation: Invitation, now: dt.datetime | None = None) -> str:
    """The status the customer sees: an active invitation whose frame has ended is ``expired``."""
    if invitation.status == "active" and frame_end_instant(invitation) <= (now or utcnow()):
        return "expired"
    return invitation.status
