"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from contactguard.adapters.db import tables as t
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


def test_0005_keeps_data_fills_lanes_and_never_reuses_ids(database_url: str) -> None:
    """Rebuilding the SQLite tables for AUTOINCREMENT must not cascade into children."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import insert, text

    from contactguard.adapters.db.migrate import alembic_config
    from contactguard.adapters.db.tables import NEVER_REUSED_IDS
    from tests.conftest import _truncate

    _truncate(database_url)
    command.downgrade(alembic_config(database_url), "0004")
    engine = create_engine(database_url)
    now = datetime(2026, 3, 2, tzinfo=UTC).replace(tzinfo=None)
    try:
        with engine.begin() as conn:
            ids = [conn.execute(text(
                "INSERT INTO accounts (external_id, name, country, locale, time_zone, "
                "created_at, updated_at) VALUES (:e, 'A', 'GB', 'en', 'UTC', :t, :t) "
                "RETURNING id"), {"e": e, "t": now}).scalar_one() for e in ("a1", "a2")]
            conn.execute(text(
                "INSERT INTO contacts (account_id, kind, value, created_at, updated_at) "
                "VALUES (:a, 'emergency_email', 'a@example.com', :t, :t)"), {"a": ids[0], "t": now})
            for kind, channel in (("verification_code", "email"), ("verification_code", "sms"),
                                  ("webhook_event", "webhook"), ("contact_changed", "in_app")):
                conn.execute(text(
                    "INSERT INTO outbox (reference, account_id, kind, channel, recipient, "
                    "locale, params, status, attempts, available_at, created_at) VALUES "
                    "('CG-X', :a, :k, :c, 'r', 'en', '{}', 'sent', 1, :t, :t)"),
                    {"a": ids[0], "k": kind, "c": channel, "t": now})
            conn.execute(text(  # deliveries of an endpoint deleted before this version
                "INSERT INTO outbox (reference, kind, channel, recipient, locale, params, status, "
                "attempts, available_at, created_at) VALUES ('CG-Y', 'webhook_event', 'webhook', "
                "'7', 'en', '{}', 'failed', 1, :t, :t)"), {"t": now})
        upgrade(database_url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM contacts")).scalar() == 1
            conn.execute(text("DELETE FROM accounts WHERE id = :i"), {"i": ids[1]})  # the newest
            lanes = set(conn.execute(text("SELECT kind, channel, lane FROM outbox "
                                          "WHERE reference = 'CG-X'")).all())
            assert lanes == {("verification_code", "email", "code"),
                             ("verification_code", "sms", "code"),
                             ("webhook_event", "webhook", "webhook"),
                             ("contact_changed", "in_app", "default")}
            new_id = conn.execute(insert(t.accounts).values(
                external_id="a3", name="C", country="GB", locale="en", time_zone="UTC",
                created_at=datetime.now(UTC), updated_at=datetime.now(UTC))
                .returning(t.accounts.c.id)).scalar_one()
            assert new_id > ids[1]  # the deleted newest id is not handed out again
            conn.execute(text("DELETE FROM accounts WHERE id = :i"), {"i": new_id})
            again = conn.execute(insert(t.accounts).values(
                external_id="a4", name="D", country="GB", locale="en", time_zone="UTC",
                created_at=datetime.now(UTC), updated_at=datetime.now(UTC))
                .returning(t.accounts.c.id)).scalar_one()
            assert again > new_id  # never handed out twice
            endpoint = conn.execute(insert(t.webhook_endpoints).values(
                url="https://x.example", description="", events=[], secret="s", enabled=True,
                failure_streak=0, created_at=datetime.now(UTC), updated_at=datetime.now(UTC))
                .returning(t.webhook_endpoints.c.id)).scalar_one()
            if conn.dialect.name == "sqlite":  # (a PostgreSQL sequence is past 7 already)
                assert endpoint > 7  # not the id whose deliveries are still in the outbox
            if conn.dialect.name == "sqlite":
                schema = dict(conn.execute(text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
                assert all("AUTOINCREMENT" in schema[table.name] for table in NEVER_REUSED_IDS)
    finally:
        engine.dispose()
        _truncate(database_url)


# Revisions 0010-0012 shipped (stop 14) as empty placeholders: a database that ran them is at
# 0012 with none of their later content. Their content lives in 0014-0016, so such a database
# gets every table on upgrade; a released revision's upgrade must never change again.
SHIPPED_PLACEHOLDERS = ("0010_protection.py", "0011_seller_center.py", "0012_inbound.py")


def test_shipped_placeholder_revisions_stay_empty() -> None:
    import ast
    from pathlib import Path

    import contactguard.adapters.db as db

    folder = Path(db.__file__).parent / "migrations" / "versions"
    for name in SHIPPED_PLACEHOLDERS:
        tree = ast.parse((folder / name).read_text())
        bodies = {node.name: node.body for node in tree.body if isinstance(node, ast.FunctionDef)}
        for function in ("upgrade", "downgrade"):
            assert [type(n) for n in bodies[function]] == [ast.Pass], (name, function)


def test_a_database_at_the_shipped_placeholders_upgrades_to_every_table(tmp_path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from contactguard.adapters.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'shipped.db'}"
    command.upgrade(alembic_config(url), "0012")  # what a database of that release holds
    engine = create_engine(url)
    try:
        assert "protection_blocks" not in inspect(engine).get_table_names()
        upgrade(url)
        assert current_revision(url) is not None
        found = set(inspect(engine).get_table_names())
        assert {"protection_blocks", "phone_sends", "inbound_reports", "phishing_waves",
                "call_sessions"} <= found
        assert "scopes" in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    finally:
        engine.dispose()
