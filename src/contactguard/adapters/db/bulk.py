"""Writing many rows at once: ``COPY`` on PostgreSQL, one executemany on SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, insert

from contactguard.domain.messages import JsonText


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (mappings holding at least ``columns``) in the caller's transaction.

    On PostgreSQL the rows stream through ``COPY ... FROM STDIN`` on the same connection
    (hence the same transaction): no statement per row, no ORM objects, flat memory. Values
    must already be what the column stores (timezone-aware datetimes, JSON-able dicts).
    """
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [
            {name: json.loads(row[name]) if isinstance(row[name], JsonText) else row[name]
             for name in columns} for row in rows])
        return len(rows)
    converters = [_converter(table, name) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    raw: Any = conn.connection.dbapi_connection  # psycopg 3: cursor().copy()
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([convert(row[name]) if convert else row[name]
                            for name, convert in zip(columns, converters, strict=True)])
    return len(rows)


def _converter(table: Table, name: str) -> Callable[[Any], Any] | None:
    if isinstance(table.c[name].type, JSON):
        return _json
    return None


def _json(value: Any) -> str | None:
    if value is None or isinstance(value, JsonText):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
