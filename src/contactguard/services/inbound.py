"""Inbound mail (issue 9): one use case, :func:`receive_inbound`, for the SMTP listener
(``contactguard inbound``) and ``POST /v1/inbound/email`` alike.

- **reports** (mail to the report address): the checker's verdict is stored with what groups
  reports into phishing waves; the reporter gets the verdict by email only when the address
  is an email contact of some account (no backscatter to forged senders).
- **bounces** (a DSN to a VERP return path, or naming one of our Message-IDs): a permanent
  failure marks the email contact undeliverable (audited, webhook ``contact.bounced``).
- **replies to our own mail**: answered once per account and original message with "we never
  ask you to reply", never quoting what was written; counted.
- anything else is dropped and counted. Nothing here raises on odd input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.utils import getaddresses
from typing import Any

from contactguard.domain.audit import SYSTEM
from contactguard.domain.contacts import Channel, mask_email
from contactguard.domain.inbound import (
    DeliveryReport,
    InboundKind,
    bare_address,
    is_automatic,
    message_ids,
    parse_verp,
    read_dsn,
)
from contactguard.domain.ledger import keyed_hash
from contactguard.domain.messages import MessageKind
from contactguard.domain.phishing import ParsedMessage, Verdict
from contactguard.domain.webhooks import EventType
from contactguard.errors import MessageTooLarge, MessageUnparseable
from contactguard.ports import UnitOfWork
from contactguard.services import audit, webhooks
from contactguard.services.checker import MAX_MESSAGE_BYTES, check_report
from contactguard.services.deps import Deps
from contactguard.services.messages import queue_message
from contactguard.services.waves import assign_wave

log = logging.getLogger("contactguard.inbound")

_OUR_MESSAGE_ID = re.compile(r"^<(CG-[0-9A-Z]{4}-[0-9A-Z]{4}|cg)\.(\d{1,18})@([^<>\s]+)>$")
_URLISH = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+")


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """What happened to one received message."""

    kind: InboundKind
    detail: str  # e.g. answered, unknown_sender, contact_marked, transient, unparseable
    report_id: int | None = None
    wave_id: int | None = None
    verdict: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def receive_inbound(deps: Deps, raw: bytes, envelope_from: str | None,
                    rcpt_tos: list[str] | tuple[str, ...]) -> InboundOutcome:
    """Sort one received message and handle it (see the module docstring).

    ``envelope_from`` is the SMTP MAIL FROM (``""`` for a bounce; None when not known, as
    for a message posted over HTTP without it); ``rcpt_tos`` the envelope recipients (when
    empty, the message's Delivered-To/To/Cc headers are used). Never raises on the message's
    content: what cannot be read is dropped and counted.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        return _count(deps, InboundOutcome(InboundKind.DROPPED, "too_large"))
    try:
        message = message_from_bytes(raw, policy=email_policy.compat32)
        rcpts = [a for a in (bare_address(r) for r in rcpt_tos) if a] or _header_rcpts(message)
        dsn = _safe_dsn(message)
    except Exception:  # the email package on hostile input: drop, never fail
        log.info("inbound message dropped: unreadable")
        return _count(deps, InboundOutcome(InboundKind.DROPPED, "unparseable"))
    sort = deps.inbound
    verp_ids = [i for i in (parse_verp(deps.verp_key, r, prefix=sort.verp_prefix,
                                       domain=sort.bounce_domain) for r in rcpts) if i]
    if verp_ids or dsn is not None:
        return _count(deps, _bounce(deps, verp_ids[0] if verp_ids else None, dsn))
    if sort.report_address in rcpts:
        return _count(deps, _report(deps, raw, message, envelope_from))
    replied_to = _replied_entries(deps, message)
    if replied_to or any(r in sort.own_addresses for r in rcpts):
        return _count(deps, _reply(deps, message, envelope_from, replied_to))
    return _count(deps, InboundOutcome(InboundKind.DROPPED, "unrelated"))


# --- sorting helpers ----------------------------------------------------------------------------


def _header_rcpts(message: Message) -> list[str]:
    values: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        values.extend(str(v) for v in message.get_all(name, []) or [])
    found = []
    for _, addr in getaddresses(values):
        clean = bare_address(addr)
        if clean and clean not in found:
            found.append(clean)
    return found[:50]


def _safe_dsn(message: Message) -> DeliveryReport | None:
    try:
        return read_dsn(message)
    except Exception:  # a malformed report part: not a DSN we can use
        return None


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
        return str(value) if value is not None else ""
    except Exception:
        return ""


def _sender(message: Message, envelope_from: str | None) -> str:
    return bare_address(_header(message, "From")) or bare_address(envelope_from or "")


def _count(deps: Deps, outcome: InboundOutcome) -> InboundOutcome:
    kinds = [outcome.kind.value]
    if outcome.detail in {"answered", "contact_marked"}:
        kinds.append(f"{outcome.kind.value}_{outcome.detail}")
    day = deps.clock.now().date().isoformat()
    with deps.uow() as uow:
        for kind in kinds:
            uow.inbound.count(day, kind)
        uow.commit()
    if deps.on_inbound is not None:
        for kind in kinds:
            deps.on_inbound(kind)
    log.info("inbound message", extra={"inbound_kind": outcome.kind.value,
                                       "detail": outcome.detail})
    return outcome


def _email_contact(uow: UnitOfWork, address: str) -> tuple[int, str] | None:
    """(account id, the address as the contact stores it) of the first account that has
    ``address`` as an email contact, or None."""
    for row in uow.inbound.email_contacts(address):
        for value in (row.verified_value, row.value):
            if value and value.lower() == address:
                return int(row.account_id), str(value)
    return None


# --- bounces -----------------------------------------------------------------------------------


def _bounce(deps: Deps, outbox_id: int | None, dsn: DeliveryReport | None) -> InboundOutcome:
    if dsn is None:
        return InboundOutcome(InboundKind.BOUNCE, "not_a_dsn")
    if outbox_id is None:
        outbox_id = _outbox_of_message_id(deps, dsn.original_message_id)
    if outbox_id is None:
        return InboundOutcome(InboundKind.BOUNCE, "unmatched")
    failures = dsn.permanent
    if not failures:
        return InboundOutcome(InboundKind.BOUNCE, "transient")
    failure = failures[0]
    now = deps.clock.now()
    with deps.uow() as uow:
        row = uow.outbox.get(outbox_id)
        if row is None or row.channel != Channel.EMAIL.value or row.account_id is None:
            return InboundOutcome(InboundKind.BOUNCE, "unmatched")
        account = uow.accounts.get(row.account_id)
        if account is None:
            return InboundOutcome(InboundKind.BOUNCE, "unmatched")
        reason = f"bounced: {failure.status or '5.0.0'} {failure.diagnostic}".strip()
        marked = uow.deliverability.mark(account_id=account.id, recipient=row.recipient,
                                         channel=Channel.EMAIL, reason=reason[:300], now=now)
        if not marked:  # the contact changed since: its new address is not at fault
            uow.commit()
            return InboundOutcome(InboundKind.BOUNCE, "stale")
        kinds = sorted(c.kind.value for c in uow.contacts.for_account(account.id)
                       if c.kind.is_email and c.value == row.recipient)
        masked = mask_email(row.recipient)
        audit.record(deps, uow, SYSTEM, "contact.bounced", f"account:{account.external_id}",
                     after={"channel": "email", "value": masked, "status": failure.status,
                            "reference": row.reference, "contacts": kinds})
        webhooks.emit(deps, uow, EventType.CONTACT_BOUNCED, {
            "account": account.external_id, "contacts": kinds, "value": masked,
            "status": failure.status, "reference": row.reference}, account_id=account.id)
        uow.commit()
    return InboundOutcome(InboundKind.BOUNCE, "contact_marked",
                          extra={"account": account.external_id, "status": failure.status})


def _outbox_of_message_id(deps: Deps, message_id: str | None) -> int | None:
    """The outbox id in one of our Message-IDs (``<CG-XXXX-XXXX.42@domain>``), when the sent
    ledger knows that Message-ID (a DSN that quotes the original's headers)."""
    match = _OUR_MESSAGE_ID.match((message_id or "").strip())
    if match is None:
        return None
    with deps.reader() as uow:
        if not uow.ledger.find(message_id=match.group(0)):
            return None
    return int(match.group(2))


# --- replies -----------------------------------------------------------------------------------


def _replied_entries(deps: Deps, message: Message) -> list[Any]:
    ids = message_ids(_header(message, "In-Reply-To")) + message_ids(_header(message, "References"))
    entries: list[Any] = []
    if not ids:
        return entries
    with deps.reader() as uow:
        for ident in dict.fromkeys(ids):
            entries.extend(uow.ledger.find(message_id=ident))
            if entries:
                break
    return entries


def _reply(deps: Deps, message: Message, envelope_from: str | None,
           entries: list[Any]) -> InboundOutcome:
    if is_automatic(message, envelope_from):
        return InboundOutcome(InboundKind.REPLY, "automatic")  # auto-replies: never answered
    sender = _sender(message, envelope_from)
    if not sender:
        return InboundOutcome(InboundKind.REPLY, "unknown_sender")
    now = deps.clock.now()
    with deps.uow() as uow:
        owners = {int(e.account_id) for e in entries if e.account_id is not None}
        contact = None
        for row in uow.inbound.email_contacts(sender):
            if owners and int(row.account_id) not in owners:
                continue
            value = next((v for v in (row.verified_value, row.value)
                          if v and v.lower() == sender), None)
            if value:
                contact = (int(row.account_id), str(value))
                break
        if contact is None:
            return InboundOutcome(InboundKind.REPLY, "unknown_sender")
        account_id, address = contact
        account = uow.accounts.get(account_id)
        if account is None:
            return InboundOutcome(InboundKind.REPLY, "unknown_sender")
        original = entries[0].reference if entries else \
            "to:" + keyed_hash(deps.ledger_key, sender)[:32]
        if not uow.inbound.claim_reply_answer(account.id, original, now):
            uow.commit()
            return InboundOutcome(InboundKind.REPLY, "already_answered")
        queue_message(deps, uow, account, kind=MessageKind.REPLY_ANSWER, channel=Channel.EMAIL,
                      recipient=address, params={
                          "dashboard_url": f"{deps.branding.public_url}/seller",
                          "original_reference": entries[0].reference if entries else ""})
        uow.commit()
    return InboundOutcome(InboundKind.REPLY, "answered")


# --- reports -----------------------------------------------------------------------------------


def _report(deps: Deps, raw: bytes, message: Message, envelope_from: str | None) -> InboundOutcome:
    reporter = _sender(message, envelope_from)
    if not reporter:
        return InboundOutcome(InboundKind.REPORT, "unknown_sender")
    with deps.reader() as uow:
        contact = _email_contact(uow, reporter)
        account = uow.accounts.get(contact[0]) if contact else None
    locale = account.locale if account is not None else "en"
    try:
        result, inner = check_report(deps, raw, locale=locale)
    except (MessageUnparseable, MessageTooLarge):
        return InboundOutcome(InboundKind.REPORT, "unparseable")
    sender_domain, link_domains, subject = _features(deps, inner)
    fingerprint = deps.fingerprints.signature(subject, inner.text) if deps.fingerprints else []
    now = deps.clock.now()
    reporter_hash = keyed_hash(deps.ledger_key, "reporter:" + reporter)
    answered = False
    with deps.uow() as uow:
        wave_id = None
        if result.verdict is not Verdict.GENUINE and fingerprint:
            wave_id = assign_wave(deps, uow, subject=subject, sender_domain=sender_domain,
                                  link_domains=link_domains, fingerprint=fingerprint,
                                  reporter_hash=reporter_hash)
        if (account is not None and contact is not None and not is_automatic(message, envelope_from)
                and uow.inbound.answered_since(reporter_hash, now - timedelta(days=1))
                < deps.inbound.report_answers_per_day):
            answered = True
            queue_message(deps, uow, account, kind=MessageKind.REPORT_VERDICT,
                          channel=Channel.EMAIL, recipient=contact[1], params={
                              "verdict": result.verdict.value,
                              "reported_subject": _safe_subject(subject),
                              "reasons": [r.message for r in result.reasons][:6],
                              "dashboard_url": f"{deps.branding.public_url}/seller"})
        report_id = uow.inbound.add_report(
            received_at=now, reporter_hash=reporter_hash, reporter_masked=mask_email(reporter),
            account_id=account.id if account is not None else None, answered=answered,
            verdict=result.verdict.value, reasons=[r.code.value for r in result.reasons],
            sender_domain=sender_domain[:255], link_domains=link_domains,
            subject=subject[:300], fingerprint=fingerprint, wave_id=wave_id)
        uow.commit()
    return InboundOutcome(InboundKind.REPORT, "answered" if answered else
                          "unknown_sender" if account is None else "not_answered",
                          report_id=report_id, wave_id=wave_id, verdict=result.verdict.value)


def _features(deps: Deps, inner: ParsedMessage) -> tuple[str, list[str], str]:
    """Sender's registrable domain, link domains (sorted, at most 20), the subject without
    Re:/Fwd: prefixes."""
    inspector = deps.inspector
    assert inspector is not None
    sender = inner.from_.domain if inner.from_ else ""
    sender_domain = inspector.registered(sender) if sender else ""
    hosts = {link.host for link in [*inner.links, *inner.attachment_links] if link.host}
    link_domains = sorted({inspector.registered(h) for h in hosts if h})[:20]
    subject = " ".join(inner.subject.split())
    subject = re.sub(r"^(?:\s*(?:re|fw|fwd|aw|wg|tr|rv)\s*:\s*)+", "", subject, flags=re.I)
    return sender_domain.lower(), link_domains, subject[:300]


def _safe_subject(subject: str) -> str:
    """A reported subject to quote back: without links or addresses, at most 100 characters."""
    clean = " ".join(_URLISH.sub("[…]", subject).split())
    return clean[:100]

