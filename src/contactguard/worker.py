"""Outbox delivery threads: inside the web process (SQLite, dev mode) and `contactguard worker`.

Every lane (``domain.messages.Lane``) has threads of its own that claim only that lane, so a
slow webhook endpoint, a large campaign or a run of retries never delays a one-time code:
codes are claimed by code-lane threads, a few at a time, and nothing else runs there.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from contactguard.domain.messages import Lane
from contactguard.services.delivery import Transports, deliver_due
from contactguard.services.deps import Deps

log = logging.getLogger("contactguard.worker")


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A plain service call run every ``interval`` seconds (e.g. compliance refresh)."""

    name: str
    interval: float
    run: Callable[[], object]


@dataclass(frozen=True, slots=True)
class LanePlan:
    """How many threads claim a lane, and how many messages each claims at a time."""

    threads: int
    batch: int


#: The longest an idle code-lane thread of `contactguard worker` waits before looking again.
CODE_POLL_SECONDS = 0.25

#: The in-process worker: one thread per lane, but four for codes (claimed one at a time):
#: a code thread mostly waits on its transport (SMTP, a provider), so four overlap those waits.
INPROCESS_LANES: Mapping[Lane, LanePlan] = {
    Lane.CODE: LanePlan(threads=4, batch=1),
    Lane.DEFAULT: LanePlan(threads=1, batch=50),
    Lane.WEBHOOK: LanePlan(threads=1, batch=10),
}


def _run_jobs(jobs: list[PeriodicJob], next_run: dict[str, float]) -> None:
    for job in jobs:
        if next_run.get(job.name, 0.0) > time.monotonic():
            continue
        next_run[job.name] = time.monotonic() + job.interval
        try:
            job.run()
        except Exception:
            log.exception("periodic job %s failed; it runs again later", job.name)


class BackgroundWorker:
    """Delivers due outbox messages from threads of the web process, one set per lane; a lane's
    threads are woken right after a commit that queued a message in it."""

    def __init__(self, deps: Deps, transports: Transports, *, owner: str,
                 idle_seconds: float = 1.0, periodic: list[PeriodicJob] | None = None,
                 lanes: Mapping[Lane, LanePlan] = INPROCESS_LANES) -> None:
        self._deps = deps
        self._transports = transports
        self._owner = owner
        self._idle = idle_seconds
        self._stop = threading.Event()
        self._periodic = list(periodic or [])
        self._next_run: dict[str, float] = {}
        # One event per thread; a commit wakes ONE thread of its lane, an idle one if there is
        # one (else the next in turn: a busy thread looks again once done), so idle threads do
        # not all race to claim the same message.
        self._wake = {lane: [threading.Event() for _ in range(plan.threads)]
                      for lane, plan in lanes.items()}
        self._idle_events: set[threading.Event] = set()
        self._turn = {lane: itertools.cycle(events) for lane, events in self._wake.items()}
        self._turn_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run,
                             args=(lane, self._wake[lane][i], plan.batch,
                                   f"{owner}:{lane.value}{i}", lane is Lane.DEFAULT and i == 0),
                             name=f"outbox-{lane.value}-{i}", daemon=True)
            for lane, plan in lanes.items() for i in range(plan.threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self, lanes: Iterable[str] | None = None) -> None:
        """Wake the threads of ``lanes`` (default: every lane)."""
        wanted = set(lanes) if lanes else None
        for lane, turn in self._turn.items():
            if wanted is None or lane.value in wanted:
                with self._turn_lock:
                    idle = [e for e in self._wake[lane] if e in self._idle_events]
                    event = idle[0] if idle else next(turn)
                    self._idle_events.discard(event)
                event.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for events in self._wake.values():
            for event in events:
                event.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _run(self, lane: Lane, wake: threading.Event, batch: int, owner: str,
             runs_jobs: bool) -> None:
        jobs = self._periodic if runs_jobs else []
        while not self._stop.is_set():
            with self._turn_lock:
                self._idle_events.add(wake)
            wake.wait(self._idle)
            with self._turn_lock:
                self._idle_events.discard(wake)
            wake.clear()
            _run_jobs(jobs, self._next_run)
            try:
                while not self._stop.is_set():
                    if deliver_due(self._deps, self._transports, owner=owner, limit=batch,
                                   should_stop=self._stop.is_set, lanes=(lane,)).claimed == 0:
                        break
            except Exception:
                log.exception("outbox worker iteration failed; retrying shortly",
                              extra={"lane": lane.value})
                self._stop.wait(self._idle)


class WorkerPool:
    """``contactguard worker``: threads per lane polling the outbox until told to stop.

    On stop, each thread finishes the message it is sending and releases the rest of its
    batch (they go back to ``pending`` at once, for another worker).
    """

    def __init__(self, deps: Deps, transports: Transports, *, owner: str, concurrency: int,
                 batch: int, poll_seconds: float,
                 periodic: list[PeriodicJob] | None = None,
                 code_threads: int = 2, code_batch: int = 1, webhook_threads: int = 2) -> None:
        self._deps = deps
        self._periodic = list(periodic or [])
        self._transports = transports
        self._poll = poll_seconds
        self.stopping = threading.Event()
        plans = {Lane.CODE: LanePlan(code_threads, code_batch),
                 Lane.DEFAULT: LanePlan(concurrency, batch),
                 Lane.WEBHOOK: LanePlan(webhook_threads, min(batch, 10))}
        self._threads = [
            threading.Thread(target=self._run, args=(f"{owner}:{lane.value}{i}", lane, plan.batch),
                             name=f"delivery-{lane.value}-{i}", daemon=True)
            for lane, plan in plans.items() for i in range(plan.threads)]
        if self._periodic:
            self._threads.append(threading.Thread(target=self._run_periodic, name="periodic",
                                                  daemon=True))
        self.delivered = 0
        self._count_lock = threading.Lock()
        # Set by wake() (PostgreSQL NOTIFY after a commit that queued messages): an idle
        # thread of the lane looks at once instead of at its next poll.
        self._lane_wake = {lane: threading.Event() for lane in plans}

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for event in self._lane_wake.values():
            event.set()

    def wake(self, lanes: Iterable[str] | None = None) -> None:
        """Wake the idle threads of ``lanes`` (default: every lane)."""
        for lane, event in self._lane_wake.items():
            if lanes is None or lane.value in lanes:
                event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; True when all have ended."""
        for thread in self._threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    def _run_periodic(self) -> None:
        """Scheduled jobs (compliance refresh, purges): safe to run in every worker process."""
        next_run: dict[str, float] = {}
        while not self.stopping.is_set():
            _run_jobs(self._periodic, next_run)
            self.stopping.wait(min(job.interval for job in self._periodic))

    def _run(self, owner: str, lane: Lane, batch: int) -> None:
        while not self.stopping.is_set():
            try:
                result = deliver_due(self._deps, self._transports, owner=owner, limit=batch,
                                     should_stop=self.stopping.is_set, lanes=(lane,))
            except Exception:
                log.exception("delivery batch failed; retrying shortly", extra={"lane": lane.value})
                self.stopping.wait(self._poll)
                continue
            with self._count_lock:
                self.delivered += result.sent + result.resent
            if result.claimed == 0:  # codes are looked for more often: a cheap indexed query
                wake = self._lane_wake[lane]
                wake.wait(min(self._poll, CODE_POLL_SECONDS) if lane is Lane.CODE
                          else self._poll)
                wake.clear()
