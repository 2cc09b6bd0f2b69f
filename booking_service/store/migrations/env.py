"""Alembic environment: runs Slotwise's migrations on the engine it is handed.

``booking_service.store.migrate.upgrade`` passes its connection in ``config.attributes``; the plain
``alembic`` command falls back to ``DATABASE_URL`` through Slotwise's settings.
"""

from alembic import context

from booking_service.store.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from booking_service.core.config import load_settings
    from booking_service.store.db import make_engine

    engine = make_engine(load_settings().database_url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
