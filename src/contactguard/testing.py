"""Fakes shipped with ContactGuard for tests of code that uses it (and for our own tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from contactguard.domain.messages import RenderedMessage
from contactguard.errors import DeliveryError
from contactguard.ports import CodeHasher, UnitOfWork


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


class InjectedFault(RuntimeError):
    """The failure a :class:`FaultInjector` raises on purpose."""


class FaultInjector:
    """A ``Deps.uow`` that fails on purpose: wraps a unit-of-work factory and raises
    :class:`InjectedFault` right after a named repository call (``after="outbox.add"``) or
    just before the commit (``after="commit"``).

    Use it to prove a use case leaves nothing behind when a step after its first write fails:
    ``deps = dataclasses.replace(container.deps, uow=FaultInjector(container.deps.uow,
    after="outbox.add"))``. It fails ``times`` times (default once), then lets work through;
    ``fired`` counts the faults raised.
    """

    def __init__(self, factory: Callable[[], UnitOfWork], *, after: str, times: int = 1) -> None:
        repository, _, method = after.partition(".")
        if after != "commit" and not (repository and method):
            raise ValueError(f"after must be 'commit' or 'repository.method', not {after!r}")
        self._factory = factory
        self.after = after
        self.repository, self.method = repository, method
        self.remaining = times
        self.fired = 0

    def __call__(self) -> UnitOfWork:
        return _FaultyUnitOfWork(self._factory(), self)

    def fire(self) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            self.fired += 1
            raise InjectedFault(f"fault injected after {self.after}")


class _FaultyUnitOfWork:
    """Delegates everything to the real unit of work, except the step chosen to fail."""

    def __init__(self, inner: UnitOfWork, plan: FaultInjector) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_plan", plan)

    def __enter__(self) -> _FaultyUnitOfWork:
        self._inner.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name == self._plan.repository:
            return _FailAfter(value, self._plan)
        return value

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._inner, name, value)

    def commit(self) -> None:
        if self._plan.after == "commit":
            self._plan.fire()
        self._inner.commit()


class _FailAfter:
    def __init__(self, repository: Any, plan: FaultInjector) -> None:
        self._repository = repository
        self._plan = plan

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._repository, name)
        if name != self._plan.method:
            return value

        def call_then_fail(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            self._plan.fire()
            return result

        return call_then_fail


class CountingHasher:
    """A ``CodeHasher`` that counts the comparisons it makes (``evaluations``), around a real one."""

    def __init__(self, inner: CodeHasher) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.evaluations = 0

    def hash(self, challenge_id: str, code: str) -> str:
        return self._inner.hash(challenge_id, code)

    def matches(self, challenge_id: str, code: str, stored_hash: str) -> bool:
        with self._lock:
            self.evaluations += 1
        return self._inner.matches(challenge_id, code, stored_hash)

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
