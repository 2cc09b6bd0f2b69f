"""Slot holds: a time kept for one customer for a few minutes while they confirm it.

A hold is made by :func:`booking_service.services.booking.hold_slot` (a transition of the state
machine, under the invitation's and the resources' locks) and counts as busy time of the held
resources for every other invitation until it expires
(:func:`booking_service.store.loader.load_busy`). This module ends holds: when their invitation
is booked, cancelled or expires, when the customer picks another time, and (for tidiness: an
expired hold already blocks nothing) when the worker clears expired ones.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..store.models import SlotHold, utcnow


def release_holds(session: Session, invitation_id: int) -> int:
    """End the invitation's slot hold; return the rows removed."""
    return session.execute(delete(SlotHold).where(SlotHold.invitation_id == invitation_id)).rowcount


def delete_expired_holds(session: Session, now: dt.datetime | None = None) -> int:
    """Remove hold rows that have expired (they block nothing already); return how many."""
    now = now or utcnow()
    return session.execute(delete(SlotHold).where(SlotHold.expires_at <= now)).rowcount
