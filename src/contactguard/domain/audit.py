"""The audit log: who changed what, when, before and after, in a keyed hash chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


class ActorKind(StrEnum):
    API_KEY = "api_key"
    SELLER = "seller"  # a seller's hosted-page session (web)
    OPERATOR = "operator"  # a staff member signed in to the operator console
    SYSTEM = "system"  # scheduled jobs and the worker
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: an API key, a seller session, the system or the command line."""

    kind: ActorKind
    id: str = ""
    label: str = ""

    @classmethod
    def api_key(cls, key_id: int, name: str) -> Actor:
        return cls(ActorKind.API_KEY, str(key_id), name)

    @classmethod
    def seller(cls, session_id: str, external_id: str) -> Actor:
        return cls(ActorKind.SELLER, session_id, external_id)

    @classmethod
    def operator(cls, operator_id: int, email: str) -> Actor:
        return cls(ActorKind.OPERATOR, str(operator_id), email)


SYSTEM = Actor(ActorKind.SYSTEM, "system", "system")
CLI = Actor(ActorKind.CLI, "cli", "command line")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the log. ``before``/``after`` hold masked contact values only."""

    seq: int
    at: datetime
    actor: Actor
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str = ""


def canonical(entry: AuditEntry) -> bytes:
    """The bytes the hash covers: every field but the hash itself, in a fixed form."""
    return json.dumps({
        "seq": entry.seq, "at": entry.at.isoformat(timespec="microseconds"),
        "actor": [entry.actor.kind.value, entry.actor.id, entry.actor.label],
        "action": entry.action, "subject": entry.subject, "before": entry.before,
        "after": entry.after, "prev": entry.prev_hash,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(key: bytes, entry: AuditEntry) -> str:
    """HMAC-SHA256 of the entry, keyed so that nobody without the key can re-forge a chain."""
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    ok: bool
    broken_at: int | None = None  # seq of the first entry that does not fit
    reason: str = ""
