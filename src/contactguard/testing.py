"""Fakes shipped with ContactGuard for tests of code that uses it (and for our own tests)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from contactguard.domain.messages import RenderedMessage
from contactguard.errors import DeliveryError


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


class RecordingSender:
    """Keeps what it is asked to send; can be told to fail with a given error."""

    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.sent: list[RenderedMessage] = []
        self.fail_with: DeliveryError | None = None
        self._lock = threading.Lock()

    def send(self, message: RenderedMessage) -> str | None:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.sent.append(message)
            return f"{self.name}-{len(self.sent)}"

    def to(self, recipient: str) -> list[RenderedMessage]:
        return [m for m in self.sent if m.to == recipient]


class StaticResolver:
    """A resolver from a fixed table (tests must not use DNS); unknown names raise LookupError."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise LookupError(f"{host} does not resolve")
        return list(self.table[host])
