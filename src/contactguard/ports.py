"""Small interfaces between the services and the outside world.

Adapters implement them; tests use the fakes in ``contactguard.testing``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from contactguard.domain.messages import RenderedMessage, StoredMessage


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class Sender(Protocol):
    """Hands one rendered message to a transport (SMTP server, SMS provider, capture...)."""

    name: str

    def send(self, message: RenderedMessage) -> str | None:
        """Deliver ``message``; return the transport's id for it if it has one.

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
    deliverability: Any
    receipts: Any

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...


class DeliveryMetrics(Protocol):
    """Counts delivery outcomes (sent, failed, retried, ...) by channel and provider."""

    def record(self, *, channel: str, provider: str, outcome: str,
               latency_seconds: float | None = None) -> None: ...


class Renderer(Protocol):
    def render(self, message: StoredMessage) -> RenderedMessage: ...
