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


# --- Anchors (issue 11): the head, signed, kept outside the database ---------------------------

ANCHOR_KIND = "contactguard-audit-anchor"
ANCHOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class AuditAnchor:
    """A signed checkpoint: "entry ``seq`` of the chain had hash ``hash`` at ``at``".

    Kept outside the database (a file, an object store with retention, a ticket), it catches
    what the chain alone cannot: deleting the newest entries and rewinding ``audit_head``.
    """

    seq: int
    hash: str
    at: datetime
    signature: str = ""


def anchor_key(audit_key: bytes) -> bytes:
    """The anchors' signing key: derived from the chain key (so from the secret key), for
    this purpose only."""
    return hmac.new(audit_key, b"contactguard audit anchor/v1", hashlib.sha256).digest()


def _anchor_bytes(anchor: AuditAnchor) -> bytes:
    return json.dumps({"kind": ANCHOR_KIND, "v": ANCHOR_VERSION, "seq": anchor.seq,
                       "hash": anchor.hash, "at": anchor.at.isoformat(timespec="microseconds")},
                      sort_keys=True, separators=(",", ":")).encode()


def sign_anchor(key: bytes, anchor: AuditAnchor) -> AuditAnchor:
    """``anchor`` with its HMAC-SHA256 signature (``key`` from :func:`anchor_key`)."""
    signature = hmac.new(key, _anchor_bytes(anchor), hashlib.sha256).hexdigest()
    return AuditAnchor(anchor.seq, anchor.hash, anchor.at, signature)


def anchor_signature_valid(key: bytes, anchor: AuditAnchor) -> bool:
    return hmac.compare_digest(sign_anchor(key, anchor).signature, anchor.signature)


def anchor_to_document(anchor: AuditAnchor) -> dict[str, Any]:
    """The anchor as JSON-ready data (what ``audit anchor`` prints and the API returns)."""
    return {"kind": ANCHOR_KIND, "v": ANCHOR_VERSION, "seq": anchor.seq, "hash": anchor.hash,
            "at": anchor.at.isoformat(timespec="microseconds"), "signature": anchor.signature}


def anchor_from_document(document: Any) -> AuditAnchor:
    """Parse what :func:`anchor_to_document` made. Raises ValueError saying what is wrong."""
    if not isinstance(document, dict) or document.get("kind") != ANCHOR_KIND:
        raise ValueError(f"not an audit anchor (expected \"kind\": \"{ANCHOR_KIND}\")")
    if document.get("v") != ANCHOR_VERSION:
        raise ValueError(f"unsupported anchor version {document.get('v')!r}")
    seq, digest, at, signature = (document.get(k) for k in ("seq", "hash", "at", "signature"))
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("the anchor's seq must be a whole number >= 0")
    for name, value in (("hash", digest), ("signature", signature)):
        if not isinstance(value, str) or len(value) != 64 or value.strip("0123456789abcdef"):
            raise ValueError(f"the anchor's {name} must be 64 hexadecimal digits")
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        raise ValueError("the anchor's time is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        raise ValueError("the anchor's time must carry its UTC offset")
    return AuditAnchor(seq, str(digest), when, str(signature))
