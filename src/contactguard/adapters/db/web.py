"""Repositories of the Seller Center: single-use account-session links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, update

from contactguard.adapters.db import tables as t


class SessionLinkRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, token_hash: str, account_id: int, expires_at: datetime, now: datetime) -> None:
        self._conn.execute(insert(t.account_session_links).values(
            token_hash=token_hash, account_id=account_id, expires_at=expires_at, created_at=now))

    def consume(self, token_hash: str, now: datetime) -> int | None:
        """Mark the link used if it is unused and unexpired; returns its account id, else None.

        One conditional UPDATE: of any number of concurrent openers, exactly one wins.
        """
        c = t.account_session_links.c
        row = self._conn.execute(
            update(t.account_session_links)
            .where(c.token_hash == token_hash, c.used_at.is_(None), c.expires_at > now)
            .values(used_at=now).returning(c.account_id)
        ).first()
        return int(row.account_id) if row else None

    def purge_before(self, moment: datetime) -> int:
        c = t.account_session_links.c
        return int(self._conn.execute(
            delete(t.account_session_links).where(c.expires_at < moment)).rowcount)
