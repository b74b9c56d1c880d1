"""Verify-the-caller sessions (see tables.call_sessions and domain/call_sessions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from contactguard.adapters.db import tables as t
from contactguard.domain.call_sessions import CallSession, CallStatus, ReportReason

_C = t.call_sessions.c
_COLUMNS = (*t.call_sessions.c, t.accounts.c.external_id)


def _session(row: Row[Any]) -> CallSession:
    return CallSession(
        id=row.id, account_id=int(row.account_id), account=row.external_id,
        agent_name=row.agent_name, code=row.code, status=CallStatus(row.status),
        created_at=row.created_at, expires_at=row.expires_at, answered_at=row.answered_at,
        report_reason=ReportReason(row.report_reason) if row.report_reason else None,
        started_by=row.started_by)


def _select() -> Any:
    return select(*_COLUMNS).join_from(t.call_sessions, t.accounts,
                                       t.accounts.c.id == _C.account_id)


class CallSessionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def close_active(self, account_id: int, now: datetime) -> list[str]:
        """End the account's active session(s): ``expired`` past their expiry, else
        ``replaced``. Returns the ids of those replaced (still open until now)."""
        self._conn.execute(update(t.call_sessions).where(
            _C.account_id == account_id, _C.status == CallStatus.ACTIVE.value,
            _C.expires_at <= now).values(status=CallStatus.EXPIRED.value))
        rows = self._conn.execute(update(t.call_sessions).where(
            _C.account_id == account_id, _C.status == CallStatus.ACTIVE.value,
        ).values(status=CallStatus.REPLACED.value).returning(_C.id)).all()
        return [row.id for row in rows]

    def add(self, *, session_id: str, account_id: int, agent_name: str, code: str,
            started_by: str, now: datetime, expires_at: datetime) -> None:
        self._conn.execute(insert(t.call_sessions).values(
            id=session_id, account_id=account_id, agent_name=agent_name, code=code,
            status=CallStatus.ACTIVE.value, started_by=started_by, created_at=now,
            expires_at=expires_at))

    def get(self, session_id: str) -> CallSession | None:
        row = self._conn.execute(_select().where(_C.id == session_id)).first()
        return _session(row) if row else None

    def latest(self, account_id: int) -> CallSession | None:
        """The account's newest session, whatever its status."""
        row = self._conn.execute(_select().where(_C.account_id == account_id)
                                 .order_by(_C.created_at.desc(), _C.id.desc()).limit(1)).first()
        return _session(row) if row else None

    def answer(self, session_id: str, account_id: int, *, status: CallStatus,
               reason: ReportReason | None, now: datetime) -> bool:
        """Record the seller's answer if the session is the account's, active and unexpired.

        One conditional UPDATE: an expired, replaced or already answered session (or another
        account's) is left as it is, and False is returned.
        """
        result = self._conn.execute(update(t.call_sessions).where(
            _C.id == session_id, _C.account_id == account_id,
            _C.status == CallStatus.ACTIVE.value, _C.expires_at > now,
        ).values(status=status.value, report_reason=reason.value if reason else None,
                 answered_at=now))
        return int(result.rowcount) == 1
