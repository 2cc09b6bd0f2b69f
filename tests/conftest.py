"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), the real-world
calendar corpus (when present), Flask app and client.

Every database test runs on both SQLite and PostgreSQL. PostgreSQL is the server named by
``TEST_DATABASE_URL`` (default: the CI machine's ``postgresql://postgres@127.0.0.1:5432/test``);
each pytest run (each pytest-xdist worker under ``make test``) creates a database of its own
there and drops it at the end (a run killed before then leaves it, and the next run on the host
drops it), and each test starts on empty tables. When PostgreSQL is unreachable its tests skip,
except with ``CI=true``, where they fail: CI must exercise both databases.

The real-world calendar corpus is the folder named by ``TEST_ICS_CORPUS`` (default:
``../shared/ics-corpus`` beside the checkout, where CI places it). It is not part of the
repository, so a clone on its own lacks it: its tests then skip, except with ``CI=true``, where
they fail, by the same rule (:func:`skip_or_fail_in_ci`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from booking_service.store.db import make_engine, write_bind
from booking_service.store.models import Base

from . import mutation_order

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_ICS_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "ics-corpus"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

if "MUTANT_UNDER_TEST" in os.environ:
    # Under mutmut (tools/mutation.py) a test's first failing example kills the mutant: shrinking
    # it to the smallest one, which a person reading a failure wants, only delays the next mutant.
    # Loaded before the test modules build their settings, which take it as their default.
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=[Phase.explicit, Phase.generate], database=None)
    settings.load_profile("mutation")


DATABASES = ("sqlite", "postgresql")
_TO_RUN = pytest.StashKey[tuple[str, ...]]()


def _databases_to_run() -> tuple[str, ...]:
    """``SLOTWISE_TEST_DATABASES`` (comma-separated; default both): the databases tests run on.

    Mutation testing (tools/mutation.py) runs each module's tests on one database, which halves
    the time of a mutant no test kills; the tests marked ``only_on`` the other still run there.
    """
    chosen = tuple(d.strip() for d in os.environ.get("SLOTWISE_TEST_DATABASES", ",".join(DATABASES)).split(","))
    if any(d not in DATABASES for d in chosen):
        raise pytest.UsageError(f"SLOTWISE_TEST_DATABASES={os.environ['SLOTWISE_TEST_DATABASES']!r}: "
                                f"name some of {', '.join(DATABASES)}, separated by commas")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    mutation_order.register(config)  # under mutmut: a function's past killers first
    config.stash[_TO_RUN] = _databases_to_run()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the runs on a database ``SLOTWISE_TEST_DATABASES`` does not name.

    A test ``only_on`` one database runs there, named or not, and its run that would skip is left out.
    """
    chosen = config.stash[_TO_RUN]
    if chosen == DATABASES:
        return
    kept, left_out = [], []
    for item in items:
        database = item.callspec.params.get("database_url") if hasattr(item, "callspec") else None
        only_on = item.get_closest_marker("only_on")
        runs_on = {only_on.args[0]} if only_on is not None else chosen
        (kept if database is None or database in runs_on else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def skip_or_fail_in_ci(message: str) -> NoReturn:
    """Skip the test for want of something outside the repository; with ``CI=true``, fail it.

    CI provides everything the tests use, so there a missing server or folder is a broken
    set-up to report, not a reason to run fewer tests.
    """
    if IN_CI:
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


def _admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_schema(engine: Engine) -> None:
    """Create every table (and PostgreSQL's btree_gist, which the exclusion constraint needs)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
    Base.metadata.create_all(engine)


_TEST_DB_PREFIX = f"slotwise_test_{hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]}_"
"""This host's test databases: ``<prefix><pid of the pytest run>_<random>``."""


def _drop_orphans(connection) -> None:
    """Drop this host's test databases whose pytest run is gone (killed before it could drop its own)."""
    names = connection.scalars(text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                               {"p": _TEST_DB_PREFIX})
    for name in list(names):
        pid = name.removeprefix(_TEST_DB_PREFIX).split("_")[0]
        if pid.isdigit() and not _running(int(pid)):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this pytest run (skips or fails when unreachable)."""
    admin_url = _admin_url()
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no PostgreSQL here"
        skip_or_fail_in_ci(
            f"PostgreSQL not reachable at {make_url(admin_url).render_as_string()}: {exc.__class__.__name__}"
        )
    name = f"{_TEST_DB_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        _drop_orphans(connection)
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def ics_corpus() -> Path:
    """The folder of real-world calendars (skips, or fails with ``CI=true``, when it is absent)."""
    folder = Path(os.environ.get("TEST_ICS_CORPUS") or DEFAULT_ICS_CORPUS)
    if not folder.is_dir():
        skip_or_fail_in_ci(
            f"no real-world calendar corpus at {folder}: it lives outside the repository, in "
            "../shared/ics-corpus beside the checkout (or where TEST_ICS_CORPUS says)"
        )
    return folder


_ANY_ROWS = " UNION ALL ".join(
    f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")" for t in Base.metadata.sorted_tables
)


def _empty_all(engine: Engine) -> None:
    """Empty every table and restart every sequence, as ``TRUNCATE ... RESTART IDENTITY`` of all tables would.

    Only the tables that hold rows are emptied, by DELETE, children before parents: a TRUNCATE
    makes new files for each table and index it reaches (a CASCADE from ``users`` reaches most of
    them) and took about half a second a test, where deleting a test's few rows takes milliseconds.
    """
    with engine.begin() as connection:
        dirty = set(connection.scalars(text(_ANY_ROWS)))
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in dirty:
                connection.execute(table.delete())
        connection.execute(text(
            "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
            "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
        ))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """A SQLite database file with the schema, made once; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "slotwise.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file itself
    return path


@pytest.fixture
def sqlite_url(tmp_path, _sqlite_template) -> str:
    """A SQLite database file with the schema, new for each test (a copy of one made per session)."""
    path = tmp_path / "slotwise.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=DATABASES)
def database_url(request) -> str:
    """URL of an empty Slotwise database, once on SQLite and once on PostgreSQL.

    A test marked ``@pytest.mark.only_on("postgresql", reason=...)`` skips on the other with its reason.
    """
    only_on = request.node.get_closest_marker("only_on")
    if only_on is not None and request.param != only_on.args[0]:
        pytest.skip(only_on.kwargs["reason"])
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _empty_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    """An engine on an empty Slotwise database (both backends)."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url) -> Iterator[Engine]:
    """An engine on an empty SQLite Slotwise database only."""
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants to keep."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def write_session(engine) -> Iterator[Session]:
    """A session whose transactions take the write lock as they begin, as every change of state needs.

    On SQLite it holds the database's write lock from its first statement to each commit, so
    commit before anything else (a request, another session) writes.
    """
    with Session(write_bind(engine), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def app(database_url, tmp_path):
    """The booking service configured for tests (CSRF on, mail to files under tmp_path)."""
    from booking_service.web.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key",
            "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
            "PUBLIC_URL": "http://localhost",
        }
    )


@pytest.fixture
def client(app):
    """A test client of the booking service."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return app.test_cli_runner()
