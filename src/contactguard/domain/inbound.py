"""Inbound mail (issue 9): VERP return paths, what a received message is, and DSN reading.

Pure rules, stdlib only. A bounce comes back to the envelope sender of the message that
failed; ours is ``<prefix>+<outbox id>-<tag>@<bounce domain>`` where ``tag`` is a keyed hash of
the id, so a forged bounce cannot mark someone else's contact undeliverable.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum

#: Hex characters of the VERP tag (40 bits: guessing one takes ~10^12 tries).
_TAG_LENGTH = 10
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")


class InboundKind(StrEnum):
    """What a received message turned out to be (the counts are kept by these names)."""

    REPORT = "report"  # forwarded to the report address
    BOUNCE = "bounce"  # a delivery status notification for one of our messages
    REPLY = "reply"  # a reply to our own mail
    DROPPED = "dropped"  # anything else: counted, nothing done


@dataclass(frozen=True, slots=True)
class InboundAddresses:
    """The addresses inbound mail is sorted by (bootstrap fills them from the settings)."""

    report_address: str = "report@contactguard.localhost"
    bounce_domain: str = "contactguard.localhost"
    verp_prefix: str = "bounces"
    #: Our From address(es): mail sent to them is a reply to us.
    own_addresses: frozenset[str] = frozenset({"no-reply@contactguard.localhost"})
    #: A wave is announced (webhook) when it reaches this many reports.
    wave_threshold: int = 10
    #: Estimated Jaccard similarity of two reports' fingerprints for them to be one wave.
    wave_similarity: float = 0.5
    #: Verdict emails one reporter can get in a day (a known contact; no more on top).
    report_answers_per_day: int = 10


def verp_key(secret_key: str) -> bytes:
    """The key of VERP tags, derived from the secret key."""
    return hmac.new(secret_key.encode(), b"contactguard verp", hashlib.sha256).digest()


def _tag(key: bytes, outbox_id: int) -> str:
    return hmac.new(key, f"verp:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:_TAG_LENGTH]


def verp_address(key: bytes, outbox_id: int, *, prefix: str, domain: str) -> str:
    """The envelope sender of outbox message ``outbox_id``: ``bounces+42-1a2b3c4d5e@domain``."""
    return f"{prefix}+{outbox_id}-{_tag(key, outbox_id)}@{domain}"


def parse_verp(key: bytes, address: str, *, prefix: str, domain: str) -> int | None:
    """The outbox id a VERP address encodes, or None (not ours, or the tag does not match)."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower().rstrip(".") != domain.lower() or not local.lower().startswith(f"{prefix.lower()}+"):
        return None
    ident, _, tag = local[len(prefix) + 1:].partition("-")
    if not ident.isascii() or not ident.isdigit() or len(ident) > 18:
        return None
    outbox_id = int(ident)
    return outbox_id if hmac.compare_digest(tag.lower(), _tag(key, outbox_id)) else None


def bare_address(value: str) -> str:
    """``Name <A@Example.COM>`` -> ``a@example.com`` (lowercased); '' when there is none."""
    from email.utils import parseaddr

    try:
        _, addr = parseaddr(value or "")
    except (TypeError, ValueError, IndexError):
        return ""
    addr = addr.strip().lower()
    return addr if "@" in addr and " " not in addr and len(addr) <= 320 else ""


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a DSN reports on."""

    recipient: str  # the final (or original) recipient, lowercased
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str  # 5.1.1
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(slots=True)
class DeliveryReport:
    """What an RFC 3464 delivery status notification says."""

    failures: list[Failure] = field(default_factory=list)
    original_message_id: str | None = None  # from the returned message's headers

    @property
    def permanent(self) -> list[Failure]:
        return [f for f in self.failures if f.permanent]


def read_dsn(message: Message) -> DeliveryReport | None:
    """The delivery report in ``message`` (multipart/report; report-type=delivery-status), or
    None when it is not one. Never raises on malformed parts: what cannot be read is skipped."""
    if message.get_content_type() != "multipart/report":
        return None
    report = DeliveryReport()
    found = False
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in {"message/delivery-status", "message/global-delivery-status"}:
            found = True
            report.failures.extend(_status_groups(part))
        elif ctype in {"text/rfc822-headers", "message/rfc822", "message/global-headers"}:
            ident = _message_id_in(part)
            if ident and report.original_message_id is None:
                report.original_message_id = ident
    return report if found else None


def _status_groups(part: Message) -> list[Failure]:
    """Per-recipient field groups of a delivery-status part (the first group is per-message)."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each group as a Message
        groups = [{k.lower(): str(v) for k, v in sub.items()} for sub in payload
                  if isinstance(sub, Message)]
    else:
        text = payload if isinstance(payload, str) else ""
        groups = [_fields(block) for block in re.split(r"\r?\n\s*\r?\n", text)]
    failures = []
    for fields in groups:
        recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
        action = fields.get("action", "").strip().lower()
        if not recipient or not action:
            continue
        status = _STATUS.match(fields.get("status", ""))
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        failures.append(Failure(address[:320], action[:16],
                                ".".join(status.groups()) if status else "",
                                " ".join(fields.get("diagnostic-code", "").split())[:300]))
    return failures


def _fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = ""
    for line in block.splitlines():
        if line[:1] in {" ", "\t"} and last:
            fields[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if sep:
            last = name.strip().lower()
            fields[last] = value.strip()
    return fields


def _message_id_in(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        value = payload[0].get("Message-ID")
        return str(value).strip() if value else None
    text = payload if isinstance(payload, str) else ""
    match = re.search(r"(?im)^message-id:\s*(<[^>\s]{1,250}>)", text)
    return match.group(1) if match else None


def message_ids(value: str | None) -> list[str]:
    """The ``<...>`` ids in an In-Reply-To or References header (at most 20)."""
    return re.findall(r"<[^<>\s]{1,250}>", value or "")[:20]


def is_automatic(message: Message, envelope_from: str | None) -> bool:
    """An auto-reply, list mail or bounce (RFC 3834): never answered, to avoid mail loops."""
    if envelope_from is not None and envelope_from.strip() in {"", "<>"}:
        return True
    auto = str(message.get("Auto-Submitted", "no") or "no").strip().lower()
    precedence = str(message.get("Precedence", "") or "").strip().lower()
    return (auto != "no" or precedence in {"bulk", "list", "junk", "auto_reply"}
            or message.get("List-Id") is not None or message.get("X-Autoreply") is not None
            or message.get("X-Autorespond") is not None)
