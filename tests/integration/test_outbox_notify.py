"""`contactguard worker` on PostgreSQL: a commit that queues a code wakes the delivery threads
at once (LISTEN/NOTIFY), instead of leaving the code for their next timed poll (issue 10)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

import contactguard.worker as worker_module
from contactguard.adapters.db.notify import OutboxListener
from contactguard.bootstrap import Container
from contactguard.testing import RecordingSender
from contactguard.worker import WorkerPool
from tests.integration.conftest import make_account, start


def test_a_queued_code_wakes_an_idle_postgres_worker_at_once(
        database_url: str, container: Container, client: TestClient, sender: RecordingSender,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite the web process delivers")
    # Idle threads would look again only after a minute: only the notification can wake them.
    monkeypatch.setattr(worker_module, "CODE_POLL_SECONDS", 60.0)
    pool = WorkerPool(container.deps, container.transports, owner="pool", concurrency=1,
                      batch=10, poll_seconds=60.0, code_threads=1, webhook_threads=1)
    listener = OutboxListener(container.engine, pool.wake)
    pool.start()
    listener.start()
    try:
        make_account(client, "seller-n", email="owner@notify.example.com", phone=None)
        time.sleep(1.0)  # every thread found nothing and sleeps; the listener listens
        assert start(client, "seller-n", "emergency_email").status_code == 201
        deadline = time.monotonic() + 10
        while not sender.to("owner@notify.example.com") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sender.to("owner@notify.example.com"), "the code waited for the timed poll"
    finally:
        listener.stop()
        pool.stop()
        pool.join(10)
