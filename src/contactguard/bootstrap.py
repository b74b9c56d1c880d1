"""The composition root: the one place that reads settings and builds engines and adapters."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from contactguard.adapters.clock import SystemClock
from contactguard.adapters.crypto import FernetSecretBox, HmacCodeHasher
from contactguard.adapters.db.engine import make_engine
from contactguard.adapters.db.uow import SqlUnitOfWork
from contactguard.adapters.delivery.capture import CaptureSender
from contactguard.adapters.delivery.in_app import InAppSender
from contactguard.adapters.templates import MessageRenderer
from contactguard.config import Settings, load_settings
from contactguard.domain.contacts import Channel
from contactguard.logs import configure_logging
from contactguard.ports import Clock, Sender
from contactguard.services.apikeys import ApiKeyAuthenticator
from contactguard.services.delivery import Transports
from contactguard.services.deps import Branding, Deps
from contactguard.worker import BackgroundWorker

log = logging.getLogger("contactguard")


@dataclass
class Container:
    """Everything a running ContactGuard process uses, wired together."""

    settings: Settings
    engine: Engine
    deps: Deps
    transports: Transports
    authenticator: ApiKeyAuthenticator
    worker: BackgroundWorker | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              senders: dict[Channel, Sender] | None = None, start_worker: bool | None = None,
              configure_logs: bool = False) -> Container:
    """Build a container from ``settings`` (default: the environment).

    ``senders`` replaces the transports (tests pass fakes); ``start_worker`` overrides whether
    an in-process outbox worker thread runs.
    """
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.log_level, json_lines=settings.log_json)
    engine = make_engine(settings.database_url)
    clock = clock or SystemClock()
    container_ref: list[Container] = []

    def on_outbox() -> None:
        if container_ref:
            container_ref[0].wake_worker()

    write_lock = threading.RLock() if settings.is_sqlite else None

    def write_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, on_outbox=on_outbox, write_lock=write_lock)

    def read_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, write=False)

    deps = Deps(
        uow=write_uow,
        read_uow=read_uow,
        clock=clock,
        hasher=HmacCodeHasher(settings.secret_key),
        box=FernetSecretBox(settings.secret_key),
        branding=Branding(platform_name=settings.platform_name,
                          public_host=settings.public_host),
        allow_unknown_line_types=settings.allow_unknown_line_types,
    )
    transports = Transports(senders=senders or _senders(settings, write_uow, deps),
                            renderer=MessageRenderer())
    container = Container(settings=settings, engine=engine, deps=deps, transports=transports,
                          authenticator=ApiKeyAuthenticator(deps))
    container_ref.append(container)
    run_worker = start_worker if start_worker is not None else settings.run_inprocess_worker
    if run_worker and not transports.senders:
        log.warning("no delivery transports are configured: the outbox is kept until a worker "
                    "with transports runs (set CONTACTGUARD_DEV=1 to capture messages locally)")
    elif run_worker:
        container.worker = BackgroundWorker(deps, transports, owner=worker_name("inproc"))
        container.worker.start()
    return container


def worker_name(role: str) -> str:
    """An id for leases: host, pid and role, so a stuck lease can be traced to its process."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{role}"


def _senders(settings: Settings, uow_factory: Callable[[], SqlUnitOfWork],
             deps: Deps) -> dict[Channel, Sender]:
    """The transport for each channel: the capture in dev mode (real providers: see README)."""
    if settings.dev:
        capture = CaptureSender(uow_factory, deps.clock)
        return {Channel.EMAIL: capture, Channel.SMS: capture, Channel.VOICE: capture,
                Channel.IN_APP: InAppSender()}
    return {}
