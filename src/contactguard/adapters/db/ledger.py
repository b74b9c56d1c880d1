"""The sent ledger: what ContactGuard sent, as keyed fingerprints (see domain/ledger.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select

from contactguard.adapters.db import tables as t
from contactguard.domain.ledger import LedgerEntry, unpack_shingles

_MAX_ROWS = 50


class LedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, *, outbox_id: int | None, reference: str, message_id: str | None,
            account_id: int | None, channel: str, kind: str, recipient_masked: str,
            sent_at: datetime, body_hash: str | None, text_key: str | None, shingles: str,
            links: list[str], dkim_selectors: list[str]) -> None:
        self._conn.execute(insert(t.sent_ledger).values(
            outbox_id=outbox_id, reference=reference, message_id=message_id[:255] if message_id
            else None, account_id=account_id, channel=channel, kind=kind,
            recipient_masked=recipient_masked[:320], sent_at=sent_at, body_hash=body_hash,
            text_key=text_key, shingles=shingles, links=[link[:2000] for link in links[:100]],
            dkim_selectors=dkim_selectors))

    def find(self, *, references: Iterable[str] = (), message_id: str | None = None,
             text_keys: Iterable[str] = ()) -> list[LedgerEntry]:
        """Entries with one of the references, the Message-ID or one of the text keys."""
        c = t.sent_ledger.c
        conditions: list[Any] = []
        refs = list(dict.fromkeys(references))
        if refs:
            conditions.append(c.reference.in_(refs))
        if message_id:
            conditions.append(c.message_id == message_id[:255])
        keys = list(dict.fromkeys(text_keys))
        if keys:
            conditions.append(c.text_key.in_(keys))
        if not conditions:
            return []
        rows = self._conn.execute(select(t.sent_ledger).where(or_(*conditions))
                                  .order_by(c.id.desc()).limit(_MAX_ROWS))
        return [_entry(row) for row in rows]

    def purge_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` entries sent before ``cutoff``; returns how many."""
        c = t.sent_ledger.c
        ids = list(self._conn.execute(select(c.id).where(c.sent_at < cutoff)
                                      .order_by(c.id).limit(limit)).scalars())
        if not ids:
            return 0
        return int(self._conn.execute(delete(t.sent_ledger).where(c.id.in_(ids))).rowcount)


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row.id, reference=row.reference, message_id=row.message_id, account_id=row.account_id,
        channel=row.channel, kind=row.kind, recipient=row.recipient_masked, sent_at=row.sent_at,
        body_hash=row.body_hash, text_key=row.text_key, shingles=unpack_shingles(row.shingles),
        links=tuple(row.links or ()), dkim_selectors=tuple(row.dkim_selectors or ()))
