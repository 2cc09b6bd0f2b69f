"""The README's API examples run as written: creating an invitation with httpx, verifying a webhook.

Each example is taken from the README's code block and run unchanged but for what it cannot know
(the API key, the secret, next week's dates): httpx goes to the app in process through its WSGI
transport, and the webhook example verifies a delivery signed as the worker signs it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from booking_service.services import api_keys, webhooks
from booking_service.store.db import session_scope
from booking_service.store.models import User

from ..factories import make_org, next_monday

README = Path(__file__).resolve().parents[3] / "README.md"


def example(containing: str) -> str:
    """The README's Python code block that contains ``containing``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"expected one README example with {containing!r}, found {len(found)}"
    return found[0]


def test_the_httpx_example_creates_an_invitation(app, monkeypatch, capsys):
    engine = app.extensions["slotwise"]["engine"]
    with Session(engine, expire_on_commit=False) as session:
        org = make_org(session)
    with session_scope(engine) as session:
        key = api_keys.create_key(session, session.get(User, org.scheduler), "CRM", ["read", "write"]).secret
    monday = next_monday(dt.datetime.now(dt.UTC))
    code = example("import httpx")
    assert '"frame_start": "2026-12-07", "frame_end": "2026-12-11"' in code
    code = (code.replace("sw_...", key)
                .replace("2026-12-07", monday.isoformat())
                .replace("2026-12-11", (monday + dt.timedelta(days=4)).isoformat()))
    monkeypatch.setattr(httpx, "Client", functools.partial(httpx.Client, transport=httpx.WSGITransport(app=app)))
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("http://localhost/i/"), printed


@pytest.mark.parametrize("tampered", [False, True])
def test_the_webhook_example_verifies_a_signed_delivery_once(tampered, capsys):
    secret = webhooks.new_secret()
    code = example("standardwebhooks").replace("whsec_...", secret)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    body = json.dumps({"type": "meeting.confirmed", "timestamp": "2026-12-01T09:30:02+00:00", "data": {
        "meeting": {"start": "2026-12-07T10:00:00+00:00"},
        "invitation": {"customer_email": "ada@example.com"}}}).encode()
    stamp = int(dt.datetime.now(dt.UTC).timestamp())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": webhooks.sign(secret, "msg_1", stamp, body)}
    if tampered:
        with pytest.raises(Exception, match="(?i)signature"):
            namespace["receive"](body.replace(b"ada@", b"eve@"), headers)
        return
    namespace["receive"](body, headers)
    namespace["receive"](body, headers)  # a repeat, folded by its webhook-id
    assert capsys.readouterr().out.splitlines() == ["2026-12-07T10:00:00+00:00 ada@example.com"]
