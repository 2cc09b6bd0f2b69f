"""Migrations create the schema from empty and agree with the models, on both databases."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from booking_service.store.db import make_engine
from booking_service.store.migrate import current_revision, upgrade
from booking_service.store.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    base = make_url(request.getfixturevalue("postgres_url"))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"slotwise_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_create_schema_matching_models(empty_url):
    engine = make_engine(empty_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) is not None
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    # A second run is a no-op.
    upgrade(engine)
    engine.dispose()


def test_postgres_migration_adds_no_overlap_constraint(empty_url):
    engine = make_engine(empty_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("exclusion constraints exist only on PostgreSQL")
    upgrade(engine)
    with engine.connect() as connection:
        definition = connection.execute(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ex_reservations_no_overlap'")
        ).scalar_one()
    assert "EXCLUDE USING gist" in definition
    assert "tstzrange(start_at, end_at" in definition
    engine.dispose()


def test_outbox_migration_redacts_mail_already_sent_and_keeps_waiting_mail(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0002")
    link = "https://book.example/i/Zk3x9Q_aB-0123456789abcdefghijklmnopqrstuvw"
    insert = text(
        "INSERT INTO outbox_messages (kind, to_addr, subject, body_text, body_html, ics, status, attempts, "
        "next_attempt_at, created_at) VALUES (:kind, 'a@example.com', 's', :text, :html, :ics, :status, 1, "
        "'2030-01-01 00:00:00', '2030-01-01 00:00:00')"
    )
    with engine.begin() as connection:
        for status in ("sent", "failed", "pending"):
            connection.execute(insert, {"kind": status, "text": f"Go: {link}", "html": f'<a href="{link}">Go</a>',
                                        "ics": f"BEGIN:VEVENT\r\nURL:{link}\r\nEND:VEVENT\r\n", "status": status})
    upgrade(engine)
    with engine.connect() as connection:
        rows = {r.kind: r for r in connection.execute(text("SELECT * FROM outbox_messages"))}
    for status in ("sent", "failed"):
        assert (rows[status].body_text, rows[status].body_html) == ("Go: link sent", "Go (link sent)")
        assert rows[status].ics == "BEGIN:VEVENT\r\nEND:VEVENT\r\n"
    # Waiting mail is sent as it was written (delivery redacts it then).
    assert rows["pending"].body_text == f"Go: {link}" and rows["pending"].content_encrypted is None
    engine.dispose()


def _downgrade(engine, revision: str) -> None:
    from alembic import command

    from booking_service.store.migrate import alembic_config

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_embed_origins_migration_adds_an_empty_setting_and_removes_it_again(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0010")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO team_settings (id, default_pool_policy) VALUES (1, 'round_robin')"))
    upgrade(engine, "0012")
    with engine.begin() as connection:
        # The organisation's row keeps its policy and allows no origin until an admin adds one.
        assert connection.execute(text("SELECT default_pool_policy, embed_allowed_origins FROM team_settings")).one() \
            == ("round_robin", "")
        connection.execute(text("UPDATE team_settings SET embed_allowed_origins = 'https://www.example.com'"))
        connection.execute(text("INSERT INTO team_settings (id) VALUES (2)"))  # the server default fills it
        assert connection.execute(text("SELECT embed_allowed_origins FROM team_settings WHERE id = 2")).scalar_one() == ""
    _downgrade(engine, "0010")
    assert current_revision(engine) == "0010"
    assert "embed_allowed_origins" not in {c["name"] for c in inspect(engine).get_columns("team_settings")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT default_pool_policy FROM team_settings WHERE id = 1")).scalar_one() \
            == "round_robin"
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT embed_allowed_origins FROM team_settings WHERE id = 1")).scalar_one() == ""
    engine.dispose()
