"""Signed-in web sessions (Seller Center and operator console), kept server-side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Realm(StrEnum):
    """Which web surface a session belongs to; a session never crosses realms."""

    SELLER = "seller"  # subject: the account's external id
    OPERATOR = "operator"  # subject: the operator's id


@dataclass(frozen=True, slots=True)
class WebSessionRecord:
    """A session as stored (never its token: only the token's hash is kept)."""

    id: int
    realm: str
    subject: str
    user_agent: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    def is_open(self, now: datetime) -> bool:
        return self.ended_at is None and self.expires_at > now
