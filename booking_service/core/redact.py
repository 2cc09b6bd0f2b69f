"""Links out of stored text: the copy of a message that may be kept after it is sent.

A booking link is a key to a customer's booking (DESIGN.md: only a token's hash is stored), so
the outbox keeps a message's full text only encrypted, and only until it is sent. What stays
readable, for the dashboard's Outbox page and for ever after, is the copy these functions make:
every web link replaced by :data:`LINK_SENT`. All links go, not just Slotwise's own, so that a
link added to a template later cannot slip through, and a conferencing link with its passcode
is not kept either.
"""

from __future__ import annotations

import re

__all__ = ["LINK_SENT", "redact_html", "redact_ics", "redact_text"]

LINK_SENT = "link sent"

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
# An anchor around a web link: keep its words, drop the link. Mail templates autoescape what
# people type, so every tag here comes from a template.
_ANCHOR = re.compile(
    r"<a\b[^>]*\bhref\s*=\s*([\"'])https?://.*?\1[^>]*>(?P<label>.*?)</a\s*>", re.IGNORECASE | re.DOTALL
)
# RFC 5545 folds long lines (CRLF + one space or tab); a link may be split across a fold.
_FOLD = re.compile(r"\r?\n[ \t]")
_URL_PROPERTY = re.compile(r"^URL[;:].*(?:\r?\n|$)", re.IGNORECASE | re.MULTILINE)


def redact_text(text: str) -> str:
    """``text`` with every http(s) link replaced by :data:`LINK_SENT`."""
    return _URL.sub(LINK_SENT, text)


def redact_html(html: str) -> str:
    """``html`` with every link replaced: an anchor keeps its words followed by "(link sent)"."""
    return redact_text(_ANCHOR.sub(lambda m: f"{m.group('label')} ({LINK_SENT})", html))


def redact_ics(ics: str) -> str:
    """An iCalendar document without links: ``URL`` properties dropped, links in text replaced.

    The result is unfolded (long lines stay whole; folding is only recommended by RFC 5545).
    """
    return redact_text(_URL_PROPERTY.sub("", _FOLD.sub("", ics)))
