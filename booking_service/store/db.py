"""Engines and sessions: the one module that creates database connections.

Service functions take a ``Session`` and let the caller own the transaction::

    with session_scope(engine) as session:
        create_invitation(session, ...)

SQLite gets the pragmas a multi-process web service needs (foreign keys, WAL, a busy timeout)
and explicit ``BEGIN`` handling so that :func:`write_lock` can take the database write lock
*before* a booking re-checks availability. On PostgreSQL the same guarantee comes from row locks
and the exclusion constraint on reservations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from ..core.config import ConfigError

_ENGINES: dict[str, Engine] = {}

SQLITE_BUSY_TIMEOUT = 30.0
"""Seconds a SQLite connection waits for another's write lock before "database is locked"."""


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine for ``url`` with Slotwise's connection settings.

    Raises
    ------
    ConfigError
        When the URL is malformed or names a database driver that is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL {url!r} is not a database URL; use e.g. "
            "'sqlite:///var/slotwise.db' or 'postgresql+psycopg://user@host/db'"
        ) from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"DATABASE_URL uses {parsed.get_backend_name()!r}; Slotwise supports sqlite and postgresql"
        )
    try:
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError):
        raise ConfigError(
            "DATABASE_URL points at PostgreSQL but psycopg is not installed; "
            "install the 'postgres' extra: pip install 'slotwise[postgres]'"
        ) from None


def _sqlite_engine(url, **kwargs: object) -> Engine:
    database = url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
        # write_lock() can issue BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def get_engine(url: str) -> Engine:
    """Return the process-wide engine for ``url`` (created once)."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def write_bind(engine: Engine) -> Engine:
    """``engine`` with transactions that take the write lock when they begin (SQLite ``BEGIN IMMEDIATE``).

    What :func:`session_scope` binds with ``write=True``; for a session the caller manages itself.
    """
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error.

    Parameters
    ----------
    write : bool
        Take the database write lock when the transaction begins (SQLite ``BEGIN IMMEDIATE``).
        Use it for read-check-write sequences such as confirming a booking.
    """
    bind = write_bind(engine) if write else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def read_only_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction the database itself keeps read-only, rolled back at the end.

    For analysis code (notebooks, reports) that must never change the system of record. On
    SQLite the connection is switched to ``PRAGMA query_only`` for the transaction (and back
    before it returns to the pool); on PostgreSQL the transaction is ``READ ONLY``. Any write
    attempt fails with the driver's error instead of changing data.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        connection.exec_driver_sql("PRAGMA query_only = ON" if sqlite else "SET TRANSACTION READ ONLY")
        try:
            with Session(connection, expire_on_commit=False) as session:
                yield session
        finally:
            connection.rollback()
            if sqlite:
                # The pragma belongs to the pooled connection, not the transaction: reset it.
                connection.exec_driver_sql("PRAGMA query_only = OFF")
                connection.rollback()


def write_lock(session: Session) -> None:
    """Make the session's transaction hold the write lock before it reads.

    On SQLite the transaction must have been opened with ``session_scope(..., write=True)``
    (``BEGIN IMMEDIATE``); this checks that and fails loudly otherwise, because a deferred
    transaction that reads first can lose its later write to another process. On PostgreSQL it
    is a no-op: callers lock the rows they re-check (``SELECT ... FOR UPDATE``) and the exclusion
    constraint on reservations is the backstop.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if connection.get_execution_options().get("sqlite_begin") != "IMMEDIATE":
        raise RuntimeError("write_lock() needs a session from session_scope(engine, write=True)")


def check_connection(engine: Engine) -> None:
    """Connect once, turning failures into one clear :class:`ConfigError` line."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one line for the user
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ConfigError(
            f"cannot connect to the database {engine.url.render_as_string(hide_password=True)}: "
            f"{reason}. Check DATABASE_URL."
        ) from None
