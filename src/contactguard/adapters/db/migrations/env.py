"""Alembic environment: runs migrations on the engine ContactGuard itself would build."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from contactguard.adapters.db.engine import make_engine
from contactguard.adapters.db.tables import metadata, never_reuse_ids

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    engine = make_engine(url)
    if not sa.event.contains(sa.Table, "before_create", never_reuse_ids):
        sa.event.listen(sa.Table, "before_create", never_reuse_ids)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # before any BEGIN: rebuilding a parent table must not cascade
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA foreign_keys=OFF")
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=connection.dialect.name == "sqlite",
                              compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            if connection.in_transaction():
                connection.commit()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                connection.commit()
                if broken:
                    raise RuntimeError(f"foreign keys broken by a migration: {broken[:5]}")
    finally:
        engine.dispose()


run()
