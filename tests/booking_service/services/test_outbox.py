"""The outbox: rendering messages from their templates."""

from __future__ import annotations

import datetime as dt

import pytest

from booking_service.services.outbox import render_mail

NOW = dt.datetime(2030, 1, 7, 8, 0, tzinfo=dt.UTC)


def test_render_mail_escapes_html_but_not_text():
    mail = render_mail(
        "cancellation", "Cancelled: Intro", subject="Intro", recipient_name="<script>alert(1)</script>",
        start=NOW, end=NOW + dt.timedelta(minutes=30), zone="Europe/Berlin", reason="",
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>" not in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text
    assert "Monday 7 January 2030, 09:00–09:30 (Europe/Berlin)" in mail.text


def test_render_mail_refuses_line_breaks_in_subject():
    with pytest.raises(ValueError, match="line break"):
        render_mail("cancellation", "Bad\r\nBcc: x@example.com", subject="x", recipient_name="x",
                    start=NOW, end=NOW, zone="UTC", reason="")
