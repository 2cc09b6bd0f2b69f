"""Reading the customer's pages in tests: the times on a page, as the links their buttons submit."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

_FORM = re.compile(r'<form method="get" action="([^"]+)" class="slots-form">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_SLOT = re.compile(r'class="slot" name="start" value="([^"]+)"')


def slot_paths(html: str) -> list[str]:
    """Each time button's target: its form's action with the form's fields and ``start``, in page order."""
    paths = []
    for action, body in _FORM.findall(html):
        fields = {name: unescape(value) for name, value in _HIDDEN.findall(body)}
        for start in _SLOT.findall(body):
            # A GET form replaces the action's query with its fields.
            paths.append(f"{unescape(action).split('?')[0]}?{urlencode({**fields, 'start': unescape(start)})}")
    return paths


def confirm_form(html: str) -> dict[str, str]:
    """The fields the confirmation page's form posts (CSRF token, start, zone)."""
    form = re.search(r'<form method="post"[^>]*>(.*?)</form>', html, re.S)
    return {name: unescape(value) for name, value in _HIDDEN.findall(form.group(1))}
