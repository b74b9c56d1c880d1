"""Shared limits and abuse protection (issue 11): send locks, phone sends per prefix, blocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from contactguard.adapters.db import tables as t
from contactguard.domain.abuse import Block, BlockReason, PrefixStats, lock_id


class ProtectionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def lock(self, key: str) -> None:
        """Serialise the transactions sending to ``key`` (a destination or a prefix) until
        they end. PostgreSQL: a transaction-level advisory lock on a hash of the key. SQLite:
        nothing to do, a writing transaction (BEGIN IMMEDIATE) already excludes the others."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id(key)})

    def record_phone_send(self, prefix: str, country: str, challenge_id: str,
                          now: datetime) -> None:
        self._conn.execute(insert(t.phone_sends).values(
            prefix=prefix, country=country, challenge_id=challenge_id, sent_at=now))

    def mark_verified(self, challenge_id: str, now: datetime) -> None:
        c = t.phone_sends.c
        self._conn.execute(update(t.phone_sends).where(
            c.challenge_id == challenge_id, c.verified_at.is_(None)).values(verified_at=now))

    def prefix_stats(self, prefix: str, since: datetime) -> PrefixStats:
        c = t.phone_sends.c
        row = self._conn.execute(select(
            func.count(), func.count(c.verified_at)).where(
                c.prefix == prefix, c.sent_at > since)).one()
        return PrefixStats(sent=int(row[0]), verified=int(row[1]))

    def country_sends(self, country: str, since: datetime) -> int:
        c = t.phone_sends.c
        return int(self._conn.execute(select(func.count()).where(
            c.country == country, c.sent_at >= since)).scalar_one())

    def active_block(self, prefix: str, now: datetime) -> Block | None:
        b = t.protection_blocks.c
        row = self._conn.execute(select(t.protection_blocks).where(
            b.prefix == prefix, b.lifted_at.is_(None), b.expires_at > now
        ).order_by(b.id.desc()).limit(1)).first()
        return _block(row) if row is not None else None

    def add_block(self, *, prefix: str, country: str, reason: BlockReason, stats: PrefixStats,
                  now: datetime, expires_at: datetime) -> Block:
        row = self._conn.execute(insert(t.protection_blocks).values(
            prefix=prefix, country=country, reason=reason.value, sent=stats.sent,
            verified=stats.verified, created_at=now, expires_at=expires_at
        ).returning(t.protection_blocks)).one()
        return _block(row)

    def get_block(self, block_id: int) -> Block | None:
        row = self._conn.execute(select(t.protection_blocks).where(
            t.protection_blocks.c.id == block_id)).first()
        return _block(row) if row is not None else None

    def list_blocks(self, now: datetime, *, include_inactive: bool, limit: int) -> list[Block]:
        b = t.protection_blocks.c
        query = select(t.protection_blocks).order_by(b.id.desc()).limit(limit)
        if not include_inactive:
            query = query.where(and_(b.lifted_at.is_(None), b.expires_at > now))
        return [_block(row) for row in self._conn.execute(query)]

    def lift_block(self, block_id: int, by: str, now: datetime) -> bool:
        b = t.protection_blocks.c
        return bool(self._conn.execute(update(t.protection_blocks).where(
            b.id == block_id, b.lifted_at.is_(None)).values(lifted_at=now, lifted_by=by)
        ).rowcount)

    def purge(self, before: datetime) -> int:
        c = t.phone_sends.c
        return int(self._conn.execute(delete(t.phone_sends).where(c.sent_at < before)).rowcount)


def _block(row: Any) -> Block:
    return Block(id=row.id, prefix=row.prefix, country=row.country,
                 reason=BlockReason(row.reason), sent=row.sent, verified=row.verified,
                 created_at=row.created_at, expires_at=row.expires_at, lifted_at=row.lifted_at,
                 lifted_by=row.lifted_by)
