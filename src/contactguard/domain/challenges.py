"""Verification challenges: a one-time code sent to a contact, its expiry, attempts and resends."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contactguard.domain.contacts import Channel, ContactKind

CODE_LENGTH = 6


class ChallengeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    LOCKED = "locked"
    EXPIRED = "expired"
    CANCELED = "canceled"  # replaced by a newer challenge or a changed contact value


@dataclass(frozen=True, slots=True)
class VerificationRules:
    """The limits of one-time codes. Defaults follow NIST SP 800-63B and the product brief."""

    code_ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    cooldowns: tuple[timedelta, ...] = (
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
    )
    max_sends_per_window: int = 5
    send_window: timedelta = timedelta(hours=1)

    def cooldown_after(self, sends: int) -> timedelta:
        """Wait required after the ``sends``-th send (1-based): 30 s, 60 s, then 120 s."""
        return self.cooldowns[min(max(sends, 1), len(self.cooldowns)) - 1]

    def next_send_at(self, recent_sends: Sequence[datetime], now: datetime) -> datetime:
        """When the next code may go to a contact, given its sends inside the window.

        ``recent_sends`` are the send times within ``send_window`` before ``now``, any order.
        Returns ``now`` or earlier when a send is allowed right away.
        """
        window = sorted(t for t in recent_sends if t > now - self.send_window)
        if not window:
            return now
        after_cooldown = window[-1] + self.cooldown_after(len(window))
        if len(window) >= self.max_sends_per_window:
            # The oldest send that must leave the window before another one fits.
            oldest = window[len(window) - self.max_sends_per_window]
            return max(after_cooldown, oldest + self.send_window)
        return after_cooldown


@dataclass(slots=True)
class Challenge:
    """One verification of one contact value on one channel."""

    id: str
    account_id: int
    contact_id: int
    contact_kind: ContactKind
    destination: str
    channel: Channel
    status: ChallengeStatus
    code_hash: str
    attempts: int
    max_attempts: int
    send_count: int
    last_sent_at: datetime
    expires_at: datetime
    resend_available_at: datetime
    created_at: datetime
    approved_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def attempts_left(self) -> int:
        return max(self.max_attempts - self.attempts, 0)

    def status_at(self, now: datetime) -> ChallengeStatus:
        """The status a caller sees at ``now``: a pending challenge past its expiry is expired."""
        if self.status is ChallengeStatus.PENDING:
            if now >= self.expires_at:
                return ChallengeStatus.EXPIRED
            if self.attempts >= self.max_attempts:
                return ChallengeStatus.LOCKED
        return self.status


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds (rounded up, at least 1) from ``now`` until ``moment``."""
    return max(1, math.ceil((moment - now).total_seconds()))


#: Separators people type inside a code ("79 69 52", "796-952"): spaces of any kind, dashes, dots.
_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212\u30fc\uff0d._\u00b7\u30fb")


def normalize_code(raw: str) -> str | None:
    """The code as ASCII digits, or None if ``raw`` cannot be one.

    Accepts what people type: spaces and dashes between digits ("79 69 52"), full-width
    digits from CJK input methods (U+FF10-FF19) and any other Unicode decimal digits.
    """
    if len(raw) > 64:
        return None
    digits = []
    for ch in unicodedata.normalize("NFKC", raw):
        if ch.isspace() or ch in _SEPARATORS:
            continue
        value = unicodedata.decimal(ch, None)
        if value is None:
            return None
        digits.append(str(value))
    code = "".join(digits)
    return code if len(code) == CODE_LENGTH else None
