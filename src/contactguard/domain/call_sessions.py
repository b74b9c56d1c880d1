"""Verify-the-caller: rules of a call session (pure).

A support agent about to phone a seller starts a session; the seller's Seller Center shows
"<agent> from Account Health is calling you; ask them for this code: 4821" and the agent sees
the same code. A caller who cannot say the code is not from the platform. The seller confirms
or reports the call; a session is open for 10 minutes, and an account has at most one open
session (a new one replaces the old).

The code is shown to both sides and proves nothing on its own (it is not a credential): it
is stored as is, and never logged nor written to the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

LIFETIME = timedelta(minutes=10)
CODE_DIGITS = 4
MAX_AGENT_NAME = 60
#: How long the seller's page keeps showing the answer it gave (then the banner goes).
ANSWER_SHOWN = timedelta(minutes=2)
ID_PREFIX = "call_"


class CallStatus(StrEnum):
    ACTIVE = "active"  # waiting for the seller's answer, until ``expires_at``
    CONFIRMED = "confirmed"  # the seller said the caller knew the code
    REPORTED = "reported"  # the seller reported the call
    EXPIRED = "expired"  # nobody answered within 10 minutes
    REPLACED = "replaced"  # a newer session for the same account took its place


class ReportReason(StrEnum):
    """Why a seller reported a call."""

    WRONG_CODE = "wrong_code"  # the caller could not say the code
    ASKED_FOR_SECRETS = "asked_for_secrets"  # the caller asked for a password or a code


class CallAnswer(StrEnum):
    CONFIRM = "confirm"
    REPORT = "report"


def new_code() -> str:
    """Four digits from the OS CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_id() -> str:
    return ID_PREFIX + secrets.token_hex(10)


def is_call_id(value: str) -> bool:
    rest = value[len(ID_PREFIX):]
    return value.startswith(ID_PREFIX) and len(rest) == 20 and all(
        c in "0123456789abcdef" for c in rest)


def first_name(agent_name: str) -> str:
    """What the seller is told: the agent's first name (the first word)."""
    parts = agent_name.split()
    return parts[0] if parts else ""


@dataclass(frozen=True, slots=True)
class CallSession:
    id: str
    account_id: int
    account: str  # the account's external id
    agent_name: str
    code: str
    status: CallStatus  # as stored; see :meth:`status_at`
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None = None
    report_reason: ReportReason | None = None
    started_by: str = ""  # "operator:3", "api_key:1"

    def status_at(self, now: datetime) -> CallStatus:
        """The status now: an active session past its expiry is expired."""
        if self.status is CallStatus.ACTIVE and now >= self.expires_at:
            return CallStatus.EXPIRED
        return self.status

    def is_open(self, now: datetime) -> bool:
        return self.status_at(now) is CallStatus.ACTIVE

    @property
    def agent_first_name(self) -> str:
        return first_name(self.agent_name)

    def shown_to_seller(self, now: datetime) -> bool:
        """Whether the seller's pages show it: open, or answered in the last two minutes."""
        if self.is_open(now):
            return True
        return (self.status in (CallStatus.CONFIRMED, CallStatus.REPORTED)
                and self.answered_at is not None and now - self.answered_at < ANSWER_SHOWN)
