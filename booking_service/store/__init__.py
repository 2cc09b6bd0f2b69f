"""The store: the system of record's tables and how to reach them.

- :mod:`.models`: SQLAlchemy typed models of the whole domain;
- :mod:`.db`: the one place that creates engines and sessions (and SQLite's write lock);
- :mod:`.migrate` and ``migrations/``: Alembic migrations;
- :mod:`.loader`: rows turned into the planner's input tables (read-only);
- :mod:`.queue`: leases and retries for queued work rows (mail outbox, calendar writes).

May import :mod:`booking_service.core` and :mod:`planner`; never a room above it.
"""
