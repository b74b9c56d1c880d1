"""Small interfaces between the services and the outside world.

Adapters implement them; tests use the fakes in ``contactguard.testing``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from contactguard.domain.abuse import LimitVerdict, Quota
from contactguard.domain.messages import Receipt, RenderedMessage, StoredMessage
from contactguard.domain.phishing import DkimOutcome, DomainClass, ParsedMessage


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Sender(Protocol):
    """Hands one rendered message to a transport (SMTP server, SMS provider, capture...)."""

    name: str

    def send(self, message: RenderedMessage) -> str | Receipt | None:
        """Deliver ``message``; return the transport's id for it (or a Receipt naming the
        provider that took it, for failover senders) if it has one.

        Senders with ``supports_handover = True`` also accept a keyword ``handover`` callback,
        called at their point of no return (see services/delivery.py).
        Raises TransientDeliveryError or PermanentDeliveryError.
        """
        ...


class CodeHasher(Protocol):
    def hash(self, challenge_id: str, code: str) -> str: ...

    def matches(self, challenge_id: str, code: str, stored_hash: str) -> bool: ...


class SecretBox(Protocol):
    """Symmetric encryption for secrets that must wait in the database (codes in the outbox)."""

    def seal(self, plaintext: bytes) -> str: ...

    def open(self, token: str) -> bytes: ...


class UnitOfWork(Protocol):
    """One transaction with every repository on it (see adapters/db/uow.py)."""

    accounts: Any
    contacts: Any
    challenges: Any
    sends: Any
    outbox: Any
    api_keys: Any
    idempotency: Any
    captured: Any
    snoozes: Any
    session_links: Any
    policies: Any
    compliance: Any
    signals: Any
    contact_changes: Any
    webhooks: Any
    audit: Any
    outbox_written: bool  # set to wake the outbox worker after commit
    deliverability: Any
    receipts: Any
    web_sessions: Any
    # Operator console (issue 8)
    operators: Any
    login_failures: Any
    console: Any
    campaigns: Any
    imports: Any  # set-based account import (issue 8)
    ledger: Any  # the sent ledger (issue 9)
    call_sessions: Any  # verify-the-caller (issue 9)
    protection: Any  # send locks, phone sends per prefix, blocks (issue 11)
    inbound: Any  # inbound mail and phishing waves (issue 9)

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    def before_commit(self, callback: Callable[[], None]) -> None: ...


class DeliveryMetrics(Protocol):
    """Counts delivery outcomes (sent, failed, retried, ...) by channel and provider."""

    def record(self, *, channel: str, provider: str, outcome: str,
               latency_seconds: float | None = None) -> None: ...


class Renderer(Protocol):
    def render(self, message: StoredMessage) -> RenderedMessage: ...


class Resolver(Protocol):
    """Looks up the addresses of a host name (webhook deliveries check them before connecting)."""

    def resolve(self, host: str, port: int) -> list[str]:
        """IP addresses of ``host``, as text. Raises LookupError when there are none."""
        ...
# --- Operator console (issue 8) ---


class PasswordHasher(Protocol):
    """Operator passwords (argon2id)."""

    def hash(self, password: str) -> str: ...

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant-time check; with ``stored_hash`` None it costs the same and returns False."""
        ...

    def needs_rehash(self, stored_hash: str) -> bool: ...


class SecondFactor(Protocol):
    """TOTP (RFC 6238): secrets, the otpauth URI for the QR code, and matching a code."""

    issuer: str

    def new_secret(self) -> str: ...

    def provisioning_uri(self, secret: str, account: str) -> str: ...

    def match(self, secret: str, code: str, now: datetime) -> int | None:
        """The time step the code belongs to, or None."""
        ...

    def code_at(self, secret: str, now: datetime) -> str: ...


class MessageInspector(Protocol):
    """What the message checker learns from outside the domain: MIME and HTML parsing, public
    suffixes and look-alikes of the brand's domains, our own DKIM keys (adapters/phishing)."""

    def parse_email(self, raw: bytes) -> ParsedMessage:
        """Raises MessageUnparseable when ``raw`` is not an email message."""
        ...

    def parse_text(self, text: str) -> ParsedMessage: ...

    def looks_like_raw(self, text: str) -> bool: ...

    def signs_for_us(self, message: ParsedMessage) -> bool:
        """Whether the message carries a DKIM signature in our signing domain."""
        ...

    def verify_dkim(self, raw: bytes) -> DkimOutcome: ...

    def classify(self, host: str) -> DomainClass: ...

    def registered(self, host: str) -> str: ...

    def brand_mention(self, text: str) -> str | None: ...

    def brand_in_display_name(self, name: str) -> str | None: ...

    def hosts_in(self, text: str) -> list[str]: ...


class RateLimiter(Protocol):
    """Counts hits of named limits, shared by every process when it is backed by Redis."""

    def hit(self, quota: Quota, key: str) -> LimitVerdict | None:
        """Count one hit of ``key`` against ``quota``; None when the store is unavailable
        (the caller then lets the request through: coarse limits fail open)."""
class Fingerprints(Protocol):
    """Near-duplicate fingerprints of reported mail (MinHash), to group phishing waves."""

    def signature(self, subject: str, text: str) -> list[int]: ...

    def similarity(self, a: list[int], b: list[int]) -> float:
        """Estimated Jaccard similarity of two signatures (0..1)."""
        ...
