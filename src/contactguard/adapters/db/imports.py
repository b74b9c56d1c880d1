"""Set-based account import on PostgreSQL: a chunk of validated rows is copied (``COPY``) into a
temporary table, compared with the stored accounts in one query, and the new accounts, their
contacts and compliance rows are written with INSERT ... SELECT (see services/imports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, text

#: One staged row: line, external_id, name, country, locale, time_zone (as given, or None),
#: default time zone (for a new account), email, phone, phone line type, pattern.
STAGE_COLUMNS = ("line", "external_id", "name", "country", "locale", "time_zone", "default_tz",
                 "email", "phone", "phone_line_type", "pattern")

_CREATE_STAGE = (
    "CREATE TEMPORARY TABLE cg_import (line bigint, external_id varchar(128), "
    "name varchar(200), country varchar(2), locale varchar(35), time_zone varchar(64), "
    "default_tz varchar(64), email varchar(320), phone varchar(320), "
    "phone_line_type varchar(32), pattern varchar(64), account_id bigint) ON COMMIT DROP")

_EXISTING = text("""
SELECT s.line, a.id, a.name, a.country, a.locale, a.time_zone,
       e.value AS email, p.value AS phone, p.line_type AS phone_line_type
FROM cg_import s JOIN accounts a ON a.external_id = s.external_id
LEFT JOIN contacts e ON e.account_id = a.id AND e.kind = 'emergency_email'
LEFT JOIN contacts p ON p.account_id = a.id AND p.kind = 'emergency_phone'
""")

_CREATE_ACCOUNTS = text("""
WITH created AS (
  INSERT INTO accounts (external_id, name, country, locale, time_zone, created_at, updated_at)
  SELECT external_id, name, country, COALESCE(locale, :default_locale),
         COALESCE(time_zone, default_tz), :now, :now
  FROM cg_import WHERE line = ANY(CAST(:lines AS bigint[])) ORDER BY line
  ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id)
UPDATE cg_import s SET account_id = created.id FROM created
WHERE s.external_id = created.external_id
RETURNING s.line
""")

_CREATE_CONTACTS = text("""
INSERT INTO contacts (account_id, kind, value, line_type, created_at, updated_at)
SELECT account_id, 'emergency_email', email, NULL, :now, :now FROM cg_import
WHERE account_id IS NOT NULL AND email IS NOT NULL
UNION ALL
SELECT account_id, 'emergency_phone', phone, phone_line_type, :now, :now FROM cg_import
WHERE account_id IS NOT NULL AND phone IS NOT NULL
""")

_EXEMPLARS = text(
    "SELECT DISTINCT ON (pattern) pattern, account_id FROM cg_import "
    "WHERE account_id IS NOT NULL ORDER BY pattern, line")

_COPY_COMPLIANCE = text("""
INSERT INTO account_compliance (account_id, state, deadline, eligible, reasons, recheck_at,
                                updated_at)
SELECT s.account_id, c.state, c.deadline, c.eligible, c.reasons, c.recheck_at, c.updated_at
FROM cg_import s JOIN account_compliance c ON c.account_id = :exemplar
WHERE s.account_id IS NOT NULL AND s.pattern = :pattern AND s.account_id <> :exemplar
""")


class ImportRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def set_based(self) -> bool:
        """Whether :meth:`stage` and the rest work here (PostgreSQL)."""
        return self._conn.dialect.name == "postgresql"

    def stage(self, rows: Sequence[Sequence[Any]]) -> None:
        """``COPY`` the chunk's rows (values in :data:`STAGE_COLUMNS` order) into a temporary
        table that lives until the transaction ends."""
        self._conn.exec_driver_sql(_CREATE_STAGE)
        raw: Any = self._conn.connection.dbapi_connection
        names = ", ".join(STAGE_COLUMNS)
        with raw.cursor() as cursor, cursor.copy(f"COPY cg_import ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def existing(self) -> list[Row[Any]]:
        """The stored accounts (and both emergency contacts) of the staged rows, by line."""
        return list(self._conn.execute(_EXISTING))

    def create_accounts(self, lines: Sequence[int], *, default_locale: str,
                        now: datetime) -> set[int]:
        """Insert the staged rows of ``lines`` as new accounts (an external_id that exists by
        now is skipped); returns the lines written."""
        if not lines:
            return set()
        return set(self._conn.execute(_CREATE_ACCOUNTS, {
            "lines": list(lines), "default_locale": default_locale, "now": now}).scalars())

    def create_contacts(self, now: datetime) -> int:
        return int(self._conn.execute(_CREATE_CONTACTS, {"now": now}).rowcount)

    def exemplars(self) -> list[tuple[str, int]]:
        """One new account per pattern (which contacts, which phone line type)."""
        return [(r.pattern, r.account_id) for r in self._conn.execute(_EXEMPLARS)]

    def copy_compliance(self, pattern: str, exemplar: int) -> int:
        """Give every other new account of ``pattern`` the exemplar's compliance row."""
        return int(self._conn.execute(_COPY_COMPLIANCE, {
            "pattern": pattern, "exemplar": exemplar}).rowcount)
