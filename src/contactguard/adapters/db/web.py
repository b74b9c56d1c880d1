"""Repositories of the web surfaces: single-use account-session links, web sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from contactguard.adapters.db import tables as t
from contactguard.domain.sessions import WebSessionRecord


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


class WebSessionRepository:
    """Server-side web sessions (see tables.web_sessions)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, token_hash: str, realm: str, subject: str, user_agent: str | None,
            expires_at: datetime, now: datetime) -> WebSessionRecord:
        row = self._conn.execute(insert(t.web_sessions).values(
            token_hash=token_hash, realm=realm, subject=subject, user_agent=user_agent,
            created_at=now, last_seen_at=now, expires_at=expires_at,
        ).returning(*_COLUMNS)).one()
        return _record(row)

    def by_token(self, token_hash: str, realm: str) -> WebSessionRecord | None:
        c = t.web_sessions.c
        row = self._conn.execute(select(*_COLUMNS).where(
            c.token_hash == token_hash, c.realm == realm)).first()
        return _record(row) if row else None

    def get(self, session_id: int) -> WebSessionRecord | None:
        row = self._conn.execute(select(*_COLUMNS).where(t.web_sessions.c.id == session_id)).first()
        return _record(row) if row else None

    def touch(self, session_id: int, now: datetime) -> None:
        self._conn.execute(update(t.web_sessions).where(t.web_sessions.c.id == session_id)
                           .values(last_seen_at=now))

    def end(self, session_ids: list[int], *, reason: str, now: datetime) -> int:
        """End the given sessions that are still open; returns how many were."""
        if not session_ids:
            return 0
        c = t.web_sessions.c
        return int(self._conn.execute(update(t.web_sessions).where(
            c.id.in_(session_ids), c.ended_at.is_(None)).values(
            ended_at=now, end_reason=reason)).rowcount)

    def open_for(self, realm: str, subject: str | None, now: datetime, *,
                 limit: int = 100) -> list[WebSessionRecord]:
        """Sessions neither ended nor expired, newest first (``subject`` None: everyone's)."""
        c = t.web_sessions.c
        query = select(*_COLUMNS).where(c.realm == realm, c.ended_at.is_(None),
                                        c.expires_at > now)
        if subject is not None:
            query = query.where(c.subject == subject)
        rows = self._conn.execute(query.order_by(c.id.desc()).limit(limit))
        return [_record(row) for row in rows]

    def purge_before(self, moment: datetime) -> int:
        """Delete sessions that expired or ended before ``moment``."""
        c = t.web_sessions.c
        return int(self._conn.execute(delete(t.web_sessions).where(
            (c.expires_at < moment) | (c.ended_at < moment))).rowcount)


_COLUMNS = [col for col in t.web_sessions.c if col.name != "token_hash"]


def _record(row: Any) -> WebSessionRecord:
    m = row._mapping
    return WebSessionRecord(id=int(m["id"]), realm=m["realm"], subject=m["subject"],
                            user_agent=m["user_agent"], created_at=m["created_at"],
                            last_seen_at=m["last_seen_at"], expires_at=m["expires_at"],
                            ended_at=m["ended_at"], end_reason=m["end_reason"])
