"""PostgreSQL LISTEN/NOTIFY for the outbox: a commit that queued messages wakes the delivery
threads of `contactguard worker` processes at once (their timed poll stays as the fallback)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("contactguard.notify")

#: The channel; the payload is the comma-separated lanes that got a message.
OUTBOX_CHANNEL = "contactguard_outbox"
_NOTIFY = text("SELECT pg_notify(:channel, :lanes)")


def notify_outbox(conn: Connection, lanes: set[str]) -> None:
    """Inside the transaction that queued messages: delivered to listeners on commit only."""
    conn.execute(_NOTIFY, {"channel": OUTBOX_CHANNEL, "lanes": ",".join(sorted(lanes))})


class OutboxListener:
    """A thread LISTENing on :data:`OUTBOX_CHANNEL`; calls ``on_wake(lanes)`` (None: every
    lane) per notification. Reconnects after an error; ``stop()`` ends it within a second."""

    def __init__(self, engine: Engine, on_wake: Callable[[frozenset[str] | None], None]) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._on_wake = on_wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._on_wake(None)  # anything queued while we were not listening
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._on_wake(frozenset(note.payload.split(","))
                                          if note.payload else None)
            except Exception as exc:  # the timed poll keeps delivering meanwhile
                log.warning("outbox listener: %s; reconnecting", type(exc).__name__)
                self._stopping.wait(1.0)
