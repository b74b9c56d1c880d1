"""One bad message never stalls the others, and codes never wait behind anything else.

Poison messages of every kind found in issue 11 (an address SMTP cannot carry, a stored
webhook URL httpx cannot parse, a sender that raises, an endpoint that does not answer) are
queued *before* 100 one-time codes; real delivery threads (the in-process worker and the
`contactguard worker` pool) then deliver every code to a real SMTP server on loopback while
the slow endpoint still holds its request open. No timing is asserted: the slow endpoint
answers only after the test saw all 100 codes arrive, so a code queued behind it could never
arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from contactguard.adapters.clock import SystemClock
from contactguard.adapters.db import tables as t
from contactguard.adapters.delivery.providers import smtp_sender
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.messages import Lane, RenderedMessage
from contactguard.entrypoints.api.app import create_app
from contactguard.services.accounts import AccountInput, upsert_accounts
from contactguard.services.apikeys import create_api_key
from contactguard.services.delivery import UNEXPECTED_ATTEMPTS
from contactguard.services.verification import start_verification
from contactguard.testing import RecordingSender
from contactguard.worker import BackgroundWorker, WorkerPool
from tests.conftest import _truncate, make_settings
from tests.integration.conftest import MOBILE_GB, make_account, start
from tests.integration.webhook_receiver import Receiver
from tests.smtp_sink import SmtpSink

DOMAIN = "mail.acme.test"
CODES = 100


class ExplodingSender(RecordingSender):
    """An SMS/voice transport with a bug: it raises for some numbers."""

    def __init__(self) -> None:
        super().__init__("exploding")
        self.explode_for: set[str] = set()

    def send(self, message: RenderedMessage) -> str | None:
        if message.to in self.explode_for:
            raise RuntimeError(f"bug while sending to {message.to}")
        return super().send(message)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()  # no SMTPUTF8: a non-ASCII local part cannot travel through it
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slow() -> Iterator[Receiver]:
    receiver = Receiver().start()
    receiver.gate = threading.Event()
    yield receiver
    receiver.gate.set()
    receiver.stop()


def _rows(container: Container):
    with container.engine.connect() as conn:
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))


def _wait(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("workers", ["inprocess", "pool"])
def test_poison_messages_of_every_kind_never_delay_100_codes(
        workers: str, database_url: str, tmp_path: Path, sink: SmtpSink,
        slow: Receiver) -> None:
    _truncate(database_url)
    settings = make_settings(database_url, tmp_path, smtp_url=sink.url,
                             mail_from=f"Acme Market <no-reply@{DOMAIN}>",
                             webhook_timeout_seconds=60)
    sms = ExplodingSender()
    clock = SystemClock()
    container = bootstrap(settings, start_worker=False, clock=clock, senders={
        Channel.EMAIL: smtp_sender(settings, clock), Channel.SMS: sms, Channel.VOICE: sms})
    key = create_api_key(container.deps, "tests").secret
    runner: BackgroundWorker | WorkerPool | None = None
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            events = ["contact.changed", "account.compliance_changed", "contact.verified",
                      "account.eligibility_changed"]
            # 1. an endpoint that holds every request open until the test lets it answer
            registered = client.post("/v1/webhooks", json={"url": slow.url, "events": events})
            slow_id, slow.secret = registered.json()["id"], registered.json()["secret"]
            # 2. an endpoint whose stored URL httpx cannot parse (stored by an older version)
            bad_id = client.post("/v1/webhooks", json={"url": slow.url, "events": events}
                                 ).json()["id"]
            with container.engine.begin() as conn:
                conn.execute(update(t.webhook_endpoints).where(t.webhook_endpoints.c.id == bad_id)
                             .values(url="http://127.0.0.1:abc/x"))
            # 3. a code to an address SMTP can only carry with SMTPUTF8
            make_account(client, "poison-utf8", country="GB", email="пользователь@example.org",
                         phone=None)
            assert start(client, "poison-utf8", "emergency_email").status_code == 201
            # 4. a code whose transport raises an unexpected exception
            make_account(client, "poison-bug", country="GB", email=None, phone=MOBILE_GB)
            sms.explode_for.add("+447911123456")
            assert start(client, "poison-bug", "emergency_phone", "sms").status_code == 201
        poison_ids = {r.id for r in _rows(container)}
        # 5. then 100 codes, queued behind every poison message
        upsert_accounts(container.deps, [
            AccountInput(external_id=f"s-{i}", name=f"Seller {i}", country="GB",
                         contacts={"emergency_email": f"owner{i}@shop.example.com"})
            for i in range(CODES)])
        for i in range(CODES):
            start_verification(container.deps, account=f"s-{i}",
                               contact=ContactKind.EMERGENCY_EMAIL)
        codes = [r for r in _rows(container) if r.kind == "verification_code"
                 and r.recipient.startswith("owner")]
        assert len(codes) == CODES and min(r.id for r in codes) > max(poison_ids)

        if workers == "inprocess":
            runner = BackgroundWorker(container.deps, container.transports, owner="inproc",
                                      idle_seconds=0.2)
        else:
            runner = WorkerPool(container.deps, container.transports, owner="pool",
                                concurrency=2, batch=50, poll_seconds=0.2, code_threads=2,
                                webhook_threads=1)
        runner.start()
        expected = {f"<{r.reference}.{r.id}@{DOMAIN}>" for r in codes}
        _wait(lambda: expected <= set(sink.message_id_counts()), "all 100 codes in the sink")

        # Every code arrived while the slow endpoint was still holding a delivery open.
        assert slow.waiting >= 1 and not slow.gate.is_set()
        counts = sink.message_id_counts()
        assert all(counts[mid] == 1 for mid in expected)
        _wait(lambda: {r.status for r in _rows(container) if r.id in {c.id for c in codes}}
              == {"sent"}, "the codes to be recorded as sent")
        rows = {r.id: r for r in _rows(container)}
        assert {rows[c.id].lane for c in codes} == {Lane.CODE.value}
        assert {r.lane for r in rows.values() if r.channel == "webhook"} == {Lane.WEBHOOK.value}

        # The Unicode address failed for good, alone, with a clear reason; the codes after
        # it went through the same SMTP connection cleanly.
        [utf8] = [r for r in rows.values() if r.recipient == "пользователь@example.org"]
        assert utf8.status == "failed" and "SMTPUTF8" in utf8.last_error
        # The sender's exception retried that message only, named without personal data.
        [bug] = [r for r in rows.values() if r.recipient == "+447911123456"]
        assert bug.status in ("pending", "failed") and 1 <= bug.attempts <= UNEXPECTED_ATTEMPTS
        assert "unexpected error in the sms transport (RuntimeError" in bug.last_error
        assert "447911" not in bug.last_error

        # Let the slow endpoint answer: the webhook lane then drains; the unusable URL fails
        # for good (never stuck in "sending") and its endpoint ends up disabled.
        slow.gate.set()
        _wait(lambda: all(r.status in ("sent", "failed") for r in _rows(container)
                          if r.channel == "webhook"), "the webhook lane to drain")
        bad = [r for r in _rows(container) if r.channel == "webhook" and r.recipient == str(bad_id)]
        assert bad and {r.status for r in bad} == {"failed"} and {r.attempts for r in bad} == {1}
        assert "the endpoint URL cannot be used" in bad[0].last_error
        with container.engine.connect() as conn:
            enabled = conn.execute(select(t.webhook_endpoints.c.enabled)
                                   .where(t.webhook_endpoints.c.id == bad_id)).scalar_one()
        assert enabled is False
        assert all(r.status == "sent" for r in _rows(container)
                   if r.channel == "webhook" and r.recipient == str(slow_id))
    finally:
        slow.gate.set()
        if isinstance(runner, WorkerPool):
            runner.stop()
            runner.join(10)
        elif runner is not None:
            runner.stop()
        container.close()
