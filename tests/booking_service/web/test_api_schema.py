"""Schemathesis against the served OpenAPI document: generated requests find no 5xx and no answer that breaks the spec.

The booking service serves its document at ``/api/v1/openapi.json`` over a small organisation with
two invitations and a meeting; schemathesis reads it from there and sends generated requests,
valid and invalid, to every operation (:func:`examples` of each kind), authenticated with an
admin's API key (so that the ids it guesses reach real rows). Requests go through the app's WSGI
interface, in process: nothing leaves the machine.

How many: ``API_SCHEMA_EXAMPLES`` when set; otherwise 40 of each kind (80 requests an operation)
on each database, and with ``CI=true`` 150 of each (300 an operation) on PostgreSQL, the
stricter database (it refuses NUL in text and ids past 32 bits, where generated edge cases
bite) that scale-out runs on, while SQLite keeps 40. Measured on the 2-core machine, shared with
other work (load average 3 to 8), 21 operations: 40 of each took 110 s on SQLite and 78 s on
PostgreSQL; 150 of each took 237 s (152 s CPU) on PostgreSQL and 356 s (157 s CPU) on SQLite.
150 on both would add some four to six minutes to a suite that must stay well under 20, for
a second run of the same document; so CI gives the few hundred to PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from booking_service.services import api_keys
from booking_service.services.booking import confirm_slot
from booking_service.services.invitations import create_invitation
from booking_service.store.db import session_scope
from booking_service.store.models import User

from ..factories import SECRET_KEY, berlin, draft, make_org, next_monday

UTC = dt.UTC
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
LOCAL_EXAMPLES = 40
CI_EXAMPLES = {"postgresql": 150, "sqlite": 40}


def examples(database_url: str) -> int:
    """Generated requests per operation and kind (valid, invalid) on this database (see the module docstring)."""
    if os.environ.get("API_SCHEMA_EXAMPLES"):
        return int(os.environ["API_SCHEMA_EXAMPLES"])
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return CI_EXAMPLES[kind] if IN_CI else LOCAL_EXAMPLES

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(database_url, tmp_path):
    """The booking service over a small organisation, and an admin's API key."""
    from booking_service.web.app import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": SECRET_KEY, "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
                      "PUBLIC_URL": "http://127.0.0.1", "API_RATE_LIMIT": "1000000 per minute"})
    engine = app.extensions["slotwise"]["engine"]
    now = dt.datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        org = make_org(session)
    with session_scope(engine, write=True) as session:
        admin = User(email="root@example.com", name="Root", zone="Europe/Berlin", role="admin")
        session.add(admin)
        session.flush()
        for _ in range(2):
            created = create_invitation(session, draft(org, now), by=session.get(User, org.scheduler),
                                        public_url="http://127.0.0.1", secret_key=SECRET_KEY)
        confirm_slot(session, created.invitation.id, berlin(next_monday(now), 10), secret_key=SECRET_KEY)
        key = api_keys.create_key(session, admin, "schemathesis", ["read", "write", "webhooks"]).secret
    return app, key, examples(database_url)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_generated_requests_find_no_server_error_and_no_answer_off_the_spec(served):
    app, key, count = served
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 21
    sent: dict[str, int] = {}

    def run(operation, mode: GenerationMode) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=count, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
            sent[label] = sent.get(label, 0) + 1

        check()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(operation, mode)
    assert all(sent.get(f"{o.method.upper()} {o.path}", 0) >= min(count, 20) for o in operations), sent
    print(f"{sum(sent.values())} requests to {len(operations)} operations, up to {count} of each kind each")
