"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from contactguard.adapters.db.migrate import current_revision, upgrade
from contactguard.adapters.db.tables import metadata


def test_migrations_match_the_tables(database_url: str) -> None:
    upgrade(database_url)  # a second run is a no-op
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)
    engine.dispose()
    assert diff == []
    assert current_revision(database_url) is not None
