"""An outbox worker thread inside the web process (SQLite and dev mode)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from contactguard.services.delivery import Transports, deliver_due
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.worker")


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A plain service call run every ``interval`` seconds (e.g. compliance refresh)."""

    name: str
    interval: float
    run: Callable[[], object]


class BackgroundWorker:
    """Delivers due outbox messages; woken right after a commit that queued one."""

    def __init__(self, deps: Deps, transports: Transports, *, owner: str,
                 idle_seconds: float = 1.0, periodic: list[PeriodicJob] | None = None) -> None:
        self._deps = deps
        self._transports = transports
        self._owner = owner
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._periodic = list(periodic or [])
        self._next_run = {job.name: 0.0 for job in self._periodic}
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._idle)
            self._wake.clear()
            self._run_periodic()
            try:
                while not self._stop.is_set():
                    if deliver_due(self._deps, self._transports, owner=self._owner,
                                   should_stop=self._stop.is_set).claimed == 0:
                        break
            except Exception:
                log.exception("outbox worker iteration failed; retrying shortly")
                self._stop.wait(self._idle)

    def _run_periodic(self) -> None:
        for job in self._periodic:
            if self._next_run[job.name] > time.monotonic():
                continue
            self._next_run[job.name] = time.monotonic() + job.interval
            try:
                job.run()
            except Exception:
                log.exception("periodic job %s failed; it runs again later", job.name)

class WorkerPool:
    """``contactguard worker``: N delivery threads polling the outbox until told to stop.

    On stop, each thread finishes the message it is sending and releases the rest of its
    batch (they go back to ``pending`` at once, for another worker).
    """

    def __init__(self, deps: Deps, transports: Transports, *, owner: str, concurrency: int,
                 batch: int, poll_seconds: float,
                 periodic: list[PeriodicJob] | None = None) -> None:
        self._deps = deps
        self._periodic = list(periodic or [])
        self._transports = transports
        self._owner = owner
        self._batch = batch
        self._poll = poll_seconds
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(f"{owner}:{i}",),
                                          name=f"delivery-{i}", daemon=True)
                         for i in range(concurrency)]
        if self._periodic:
            self._threads.append(threading.Thread(target=self._run_periodic, name="periodic",
                                                  daemon=True))
        self.delivered = 0

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; True when all have ended."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    def _run_periodic(self) -> None:
        """Scheduled jobs (compliance refresh, purges): safe to run in every worker process."""
        next_run = {job.name: 0.0 for job in self._periodic}
        while not self.stopping.is_set():
            for job in self._periodic:
                if next_run[job.name] > time.monotonic():
                    continue
                next_run[job.name] = time.monotonic() + job.interval
                try:
                    job.run()
                except Exception:
                    log.exception("periodic job %s failed; it runs again later", job.name)
            self.stopping.wait(min(job.interval for job in self._periodic))

    def _run(self, owner: str) -> None:
        while not self.stopping.is_set():
            try:
                result = deliver_due(self._deps, self._transports, owner=owner, limit=self._batch,
                                     should_stop=self.stopping.is_set)
            except Exception:
                log.exception("delivery batch failed; retrying shortly")
                self.stopping.wait(self._poll)
                continue
            self.delivered += result.sent
            if result.claimed == 0:
                self.stopping.wait(self._poll)
