"""Embedding: which other web sites may show the customer's pages in a frame.

Two lists, taken together:

- the deployment's ``EMBED_ALLOWED_ORIGINS`` (:attr:`Settings.embed_allowed_origins`), a default
  for the whole installation that only whoever runs it changes (and a restart applies);
- the organisation's own list (:attr:`TeamSettings.embed_allowed_origins`), which an admin edits
  in the dashboard (:func:`set_organisation_origins`, audited).

The booking service reads :func:`allowed_origins` on every customer page it serves (one
primary-key read), so an admin's change applies from the next page on, in every process, without
a restart: the page's ``Content-Security-Policy: frame-ancestors`` lists exactly these origins
(``'none'`` when there are none) and, under an ``https://`` ``PUBLIC_URL``, its session cookie is
marked ``SameSite=None; Secure`` so that the confirmation form works inside the frame.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..core.config import ORIGIN_EXAMPLE, ConfigError, Settings, web_origins
from ..store.models import TeamSettings, User
from . import audit
from .permissions import require_admin

__all__ = [
    "MAX_ORIGINS",
    "EmbeddingError",
    "allowed_origins",
    "organisation_origins",
    "set_organisation_origins",
]

#: At most this many origins in the organisation's list (they all go into one response header).
MAX_ORIGINS = 50


class EmbeddingError(ValueError):
    """An origin is not usable; the message names it and shows what an origin looks like."""


def organisation_origins(session: Session) -> tuple[str, ...]:
    """The origins the organisation allows to frame its customer's pages (none until an admin adds some)."""
    row = TeamSettings.of(session)
    return tuple((row.embed_allowed_origins or "").split()) if row is not None else ()


def allowed_origins(session: Session, settings: Settings) -> tuple[str, ...]:
    """The deployment's origins (``EMBED_ALLOWED_ORIGINS``), then the organisation's; each once."""
    return tuple(dict.fromkeys((*settings.embed_allowed_origins, *organisation_origins(session))))


def set_organisation_origins(session: Session, origins: str | Iterable[str], *, by: User | None) -> tuple[str, ...]:
    """Replace the organisation's list of origins allowed to frame the customer's pages (admins only).

    Parameters
    ----------
    origins : str or iterable of str
        Origins such as ``https://www.example.com`` or ``https://example.com:8443``: text with one
        or more, separated by commas, spaces or new lines, or a list. Empty: no site beyond the
        deployment's ``EMBED_ALLOWED_ORIGINS``.

    Returns
    -------
    tuple of str
        The origins as stored: lower case, each once, in the order given.

    Raises
    ------
    PermissionDenied
        Unless ``by`` is an active admin.
    EmbeddingError
        Naming the first entry that is not an origin (a path, a wildcard, another scheme ...).
    """
    require_admin(by, "change which sites may embed the booking pages")
    text = origins if isinstance(origins, str) else " ".join(origins)
    try:
        parsed = web_origins(text, "allowed origin")
    except ConfigError as exc:
        raise EmbeddingError(str(exc)) from None
    if len(parsed) > MAX_ORIGINS:
        raise EmbeddingError(
            f"{len(parsed)} origins is more than the {MAX_ORIGINS} allowed; list only the sites that embed the "
            f"booking pages, e.g. {ORIGIN_EXAMPLE}"
        )
    row = TeamSettings.of(session)
    before = tuple((row.embed_allowed_origins or "").split()) if row is not None else ()
    if parsed != before:
        row = row or TeamSettings.create(session)
        row.embed_allowed_origins = " ".join(parsed)
        session.flush()
        audit.record(session, by, "team.embed_origins", ("organisation", None),
                     origins=list(parsed), before=list(before))
    return parsed
