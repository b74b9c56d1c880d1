"""Outgoing messages: what the outbox holds until a worker delivers it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from contactguard.domain.contacts import Channel

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: reference codes are read aloud and typed from paper.
_REFERENCE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting for a worker (possibly until available_at, after a retry)
    SENDING = "sending"  # leased by a worker
    SENT = "sent"  # accepted by the transport
    FAILED = "failed"  # permanently undeliverable; last_error says why
    EXPIRED = "expired"  # a code that could only have arrived after its challenge expired
    CANCELED = "canceled"  # superseded before it was sent (e.g. a resend replaced the code)
    HELD = "held"  # a campaign message while its campaign is paused; pending again on resume


class MessageKind(StrEnum):
    VERIFICATION_CODE = "verification_code"
    CONTACT_CHANGED = "contact_changed"  # "if this wasn't you": to the old email + message center
    WEBHOOK_EVENT = "webhook_event"  # a signed event to an operator's endpoint (channel webhook)
    CAMPAIGN_NOTICE = "campaign_notice"  # a campaign's announcement (email, SMS; in-app = its step)
    CAMPAIGN_REMINDER = "campaign_reminder"  # a campaign's reminder before the account's deadline
    # Inbound mail (issue 9)
    REPORT_VERDICT = "report_verdict"  # the checker's verdict, to a known contact who reported
    REPLY_ANSWER = "reply_answer"  # "we never ask you to reply", once per original message


class JsonText(str):
    """Message parameters already serialised to JSON (bulk writes share one template)."""


#: Kinds that carry a one-time code: on a code channel they travel in the code lane.
CODE_KINDS = frozenset({MessageKind.VERIFICATION_CODE})


class Lane(StrEnum):
    """Which workers deliver a message: codes never wait behind anything else.

    Each lane is claimed by its own delivery threads, so a slow webhook endpoint or a large
    campaign cannot delay a one-time code (see ``adapters/db/outbox.lane_for``).
    """

    CODE = "code"  # one-time codes (SMS, voice, email)
    DEFAULT = "default"  # notices, campaign mail, in-app entries, any new kind
    WEBHOOK = "webhook"  # operators' endpoints: may be slow, never share threads with codes


def new_reference() -> str:
    """A short reference code such as ``CG-7KQ4-M9XD`` that a seller can look up later."""
    number = secrets.randbelow(len(_REFERENCE_ALPHABET) ** 8)  # one draw, uniform
    chars = ""
    for _ in range(8):
        number, digit = divmod(number, len(_REFERENCE_ALPHABET))
        chars += _REFERENCE_ALPHABET[digit]
    return f"CG-{chars[:4]}-{chars[4:]}"


@dataclass(slots=True)
class OutboundMessage:
    """A message to send, as written to the outbox in the transaction that caused it.

    ``params`` are safe to show (they feed the message center); ``secret_params`` (such as a
    one-time code) are stored encrypted and wiped once the message is sent or dropped.
    """

    kind: MessageKind
    channel: Channel
    recipient: str
    locale: str
    account_id: int | None
    params: dict[str, Any] = field(default_factory=dict)
    secret_params: dict[str, str] = field(default_factory=dict)
    challenge_id: str | None = None
    not_after: datetime | None = None  # do not deliver after this moment
    reference: str = field(default_factory=new_reference)


@dataclass(slots=True)
class StoredMessage:
    """An outbox row as a worker sees it."""

    id: int
    reference: str
    kind: MessageKind
    channel: Channel
    recipient: str
    locale: str
    account_id: int | None
    params: dict[str, Any]
    secret_params: dict[str, str]
    challenge_id: str | None
    not_after: datetime | None
    status: MessageStatus
    attempts: int
    created_at: datetime
    # Set when a worker reached the point of no return with the transport (see delivery).
    handed_over_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message ready for its transport: text always, subject and HTML for email."""

    channel: Channel
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    reference: str = ""
    locale: str = "en"
    outbox_id: int | None = None  # with the reference, makes a stable Message-ID


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a sender may return instead of a bare id: which provider took the message."""

    provider: str
    provider_message_id: str | None = None
    # For the sent ledger (issue 9): what the transport actually sent.
    message_id: str | None = None  # the email's Message-ID
    body_digest: str | None = None  # e.g. the DKIM body hash (bh=) of the email as sent
    dkim_selectors: tuple[str, ...] = ()
