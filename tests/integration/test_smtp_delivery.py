"""Email delivery over real SMTP to a local aiosmtpd server, DKIM-verified with dkimpy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.adapters.delivery.dkim import generate_key, write_key
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import ContactKind
from contactguard.services.delivery import POSSIBLE_DUPLICATE, deliver_due
from contactguard.services.verification import start_verification
from contactguard.testing import FrozenClock
from tests.conftest import _truncate, code_in, make_settings
from tests.integration.conftest import make_account
from tests.smtp_sink import SmtpSink

DOMAIN = "mail.acme.test"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dkim_keys(tmp_path: Path):
    keys = [generate_key("ed25519", "cg-ed"), generate_key("rsa", "cg-rsa")]
    for key in keys:
        write_key(key, tmp_path / f"{key.selector}.pem")
    spec = ",".join(f"{k.selector}={tmp_path / (k.selector + '.pem')}" for k in keys)
    return keys, spec


@pytest.fixture
def smtp_container(database_url: str, tmp_path: Path, clock: FrozenClock, sink: SmtpSink,
                   dkim_keys) -> Iterator[Container]:
    _truncate(database_url)
    settings = make_settings(database_url, tmp_path, smtp_url=sink.url,
                             mail_from=f"Acme Market <no-reply@{DOMAIN}>", dkim_keys=dkim_keys[1])
    built = bootstrap(settings, clock=clock, start_worker=False)
    yield built
    built.close()


@pytest.fixture
def smtp_client(smtp_container: Container) -> Iterator[TestClient]:
    from contactguard.entrypoints.api.app import create_app
    from contactguard.services.apikeys import create_api_key

    key = create_api_key(smtp_container.deps, "tests").secret
    with TestClient(create_app(smtp_container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


def _dns(keys):
    records = {f"{k.selector}._domainkey.{DOMAIN}.".encode(): k.public_record().encode()
               for k in keys}
    return lambda name, timeout=5: records.get(name)


def _drain(container: Container) -> None:
    while deliver_due(container.deps, container.transports, owner="test").claimed:
        pass


def _outbox(container: Container):
    with container.engine.connect() as conn:
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))


def _queue_emails(container: Container, client: TestClient, count: int) -> None:
    for i in range(count):
        make_account(client, f"seller-{i}", email=f"owner{i}@lotus.example.com", phone=None)
        start_verification(container.deps, account=f"seller-{i}",
                           contact=ContactKind.EMERGENCY_EMAIL)


def test_email_arrives_dkim_signed_with_both_keys(smtp_container: Container,
                                                  smtp_client: TestClient, sink: SmtpSink,
                                                  dkim_keys) -> None:
    make_account(smtp_client, "seller-zh", email="owner@lotus.example.com", phone=None,
                 locale="zh-Hans")
    with smtp_container.deps.uow() as uow:  # the web helper adds the page; store it directly
        uow.connection.execute(t.accounts.update().values(security_phrase="blue heron at dawn"))
        # A verified address (the phrase only goes to those): this is a re-verification.
        uow.connection.execute(t.contacts.update().values(
            verified_value=t.contacts.c.value, verified_at=smtp_container.deps.clock.now(),
            verified_channel="email"))
        uow.commit()
    start_verification(smtp_container.deps, account="seller-zh",
                       contact=ContactKind.EMERGENCY_EMAIL)
    _drain(smtp_container)

    [received] = sink.received
    assert received.rcpt == "owner@lotus.example.com"
    verifier = dkim.DKIM(received.raw)
    assert verifier.verify(idx=0, dnsfunc=_dns(dkim_keys[0]))
    assert verifier.verify(idx=1, dnsfunc=_dns(dkim_keys[0]))
    email = received.parsed
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    [row] = _outbox(smtp_container)
    assert row.status == "sent" and row.provider == "smtp"
    assert email["Message-ID"] == row.provider_message_id == f"<{row.reference}.{row.id}@{DOMAIN}>"
    assert email["X-ContactGuard-Reference"] == row.reference
    assert str(email["Subject"]) == "您的 Acme Market 验证码"
    code = code_in(text)
    for body in (text, html):
        assert code in body and row.reference in body
        assert "blue heron at dawn" in body
        assert "绝不会" in body  # "will never ask you for this code"
        assert "http" not in body.replace("http://www.w3.org", "")  # no links to log in
    assert row.secret is None  # the code is wiped once sent


def test_smtp_down_then_back_delivers_each_message_once(smtp_container: Container,
                                                        smtp_client: TestClient, sink: SmtpSink,
                                                        clock: FrozenClock) -> None:
    sink.stop()
    _queue_emails(smtp_container, smtp_client, 6)
    result = deliver_due(smtp_container.deps, smtp_container.transports, owner="w1")
    assert (result.claimed, result.retried) == (6, 6)
    rows = _outbox(smtp_container)
    assert {r.status for r in rows} == {"pending"}
    assert all("ConnectionRefusedError" in r.last_error for r in rows)
    for _ in range(3):  # a minute of outage: every retry fails again
        clock.advance(seconds=20)
        deliver_due(smtp_container.deps, smtp_container.transports, owner="w1")
    sink.start()
    assert deliver_due(smtp_container.deps, smtp_container.transports,
                       owner="w1").claimed == 0  # still backing off
    clock.advance(minutes=3)
    _drain(smtp_container)
    assert {r.status for r in _outbox(smtp_container)} == {"sent"}
    counts = sink.message_id_counts()
    assert len(counts) == 6 and set(counts.values()) == {1}
    assert sorted(r.rcpt for r in sink.received) == sorted(
        f"owner{i}@lotus.example.com" for i in range(6))


def test_rejected_recipient_fails_and_marks_contact_undeliverable(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink) -> None:
    sink.handler.reject_rcpt["owner0@lotus.example.com"] = "550 5.1.1 no such mailbox"
    sink.handler.reject_rcpt["owner1@lotus.example.com"] = "452 4.2.2 mailbox full"
    _queue_emails(smtp_container, smtp_client, 3)
    _drain(smtp_container)
    rows = {r.recipient: r for r in _outbox(smtp_container)}
    bounced = rows["owner0@lotus.example.com"]
    assert bounced.status == "failed"
    assert bounced.last_error == "SMTP 550 from the recipient: 5.1.1 no such mailbox"
    assert rows["owner1@lotus.example.com"].status == "pending"  # 4xx: retried later
    assert rows["owner2@lotus.example.com"].status == "sent"
    contact = smtp_client.get("/v1/accounts/seller-0").json()["contacts"][0]
    assert contact["status"] == "undeliverable"
    assert contact["undeliverable_channels"][0]["channel"] == "email"
    assert "550" in contact["undeliverable_channels"][0]["reason"]
    # a new address clears it
    smtp_client.put("/v1/accounts/seller-0/contacts/emergency_email",
                    json={"value": "new@lotus.example.com"})
    contact = smtp_client.get("/v1/accounts/seller-0").json()["contacts"][0]
    assert contact["status"] == "unverified" and contact["undeliverable_channels"] == []


def test_a_message_handed_over_by_a_dead_worker_is_sent_again_with_its_message_id(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink,
        clock: FrozenClock) -> None:
    """At least once: a hand-over whose result is unknown is retried with the same Message-ID
    (receivers drop the copy), noted on the row and counted as a possible duplicate."""
    _queue_emails(smtp_container, smtp_client, 2)
    deps = smtp_container.deps
    with deps.uow() as uow:  # worker "dead" claims both and reaches the point of no return once
        claimed = uow.outbox.claim_due(now=clock.now(), owner="dead", lease=smtp_container
                                       .transports.lease, limit=10)
        assert uow.outbox.hand_over(claimed[0][0].id, owner="dead", now=clock.now())
        uow.commit()
    assert deliver_due(deps, smtp_container.transports, owner="alive").claimed == 0
    clock.advance(minutes=2)  # the lease expires
    result = deliver_due(deps, smtp_container.transports, owner="alive")
    assert (result.resent, result.sent) == (1, 1)
    first, second = _outbox(smtp_container)
    assert (first.status, first.last_error, first.attempts) == ("sent", POSSIBLE_DUPLICATE, 2)
    assert (second.status, second.last_error, second.attempts) == ("sent", None, 2)
    assert sorted(r.rcpt for r in sink.received) == sorted([first.recipient, second.recipient])
    by_rcpt = {r.rcpt: r.message_id for r in sink.received}
    assert by_rcpt[first.recipient] == first.provider_message_id == (
        f"<{first.reference}.{first.id}@{DOMAIN}>")  # the id the first attempt carried
    text = smtp_client.get("/metrics").text
    assert 'contactguard_messages_resent_total{channel="email",provider="none"} 1.0' in text


def test_a_code_handed_over_by_a_dead_worker_is_not_resent_after_it_expired(
        smtp_container: Container, smtp_client: TestClient, sink: SmtpSink,
        clock: FrozenClock) -> None:
    _queue_emails(smtp_container, smtp_client, 1)
    deps = smtp_container.deps
    with deps.uow() as uow:
        [(message, _)] = uow.outbox.claim_due(now=clock.now(), owner="dead",
                                              lease=smtp_container.transports.lease, limit=10)
        assert uow.outbox.hand_over(message.id, owner="dead", now=clock.now())
        uow.commit()
    clock.advance(minutes=11)  # past the code's expiry (10 minutes)
    _drain(smtp_container)
    [row] = _outbox(smtp_container)
    assert row.status == "expired" and row.secret is None
    assert sink.received == []


def test_a_worker_that_lost_its_lease_does_not_send(smtp_container: Container,
                                                    smtp_client: TestClient, sink: SmtpSink,
                                                    clock: FrozenClock) -> None:
    _queue_emails(smtp_container, smtp_client, 1)
    deps = smtp_container.deps
    with deps.uow() as uow:
        claimed = uow.outbox.claim_due(now=clock.now(), owner="slow",
                                       lease=smtp_container.transports.lease, limit=10)
        uow.commit()
    clock.advance(minutes=2)
    _drain(smtp_container)  # another worker takes it over and sends it
    with deps.uow() as uow:  # the slow worker wakes up: its hand-over is refused
        assert not uow.outbox.hand_over(claimed[0][0].id, owner="slow", now=clock.now())
    assert len(sink.received) == 1


def test_stopping_releases_the_rest_of_the_batch(smtp_container: Container,
                                                 smtp_client: TestClient, sink: SmtpSink) -> None:
    _queue_emails(smtp_container, smtp_client, 5)
    calls = iter([False, False])
    result = deliver_due(smtp_container.deps, smtp_container.transports, owner="w",
                         should_stop=lambda: next(calls, True))
    assert (result.claimed, result.sent, result.released) == (5, 2, 3)
    rows = _outbox(smtp_container)
    assert [r.status for r in rows] == ["sent", "sent", "pending", "pending", "pending"]
    assert [r.attempts for r in rows[2:]] == [0, 0, 0] and rows[2].lease_owner is None
    _drain(smtp_container)
    assert len(sink.received) == 5


def test_metrics_count_deliveries(smtp_container: Container, smtp_client: TestClient,
                                  sink: SmtpSink) -> None:
    sink.handler.reject_rcpt["owner1@lotus.example.com"] = "550 5.1.1 no such mailbox"
    _queue_emails(smtp_container, smtp_client, 2)
    _drain(smtp_container)
    text = smtp_client.get("/metrics").text
    assert 'contactguard_messages_sent_total{channel="email",provider="smtp"} 1.0' in text
    assert 'contactguard_messages_failed_total{channel="email",provider="smtp"} 1.0' in text
    assert 'contactguard_delivery_latency_seconds_count{channel="email"} 1.0' in text


def test_a_connection_closed_by_a_server_restart_is_reopened(smtp_container: Container,
                                                             smtp_client: TestClient,
                                                             sink: SmtpSink) -> None:
    _queue_emails(smtp_container, smtp_client, 1)
    _drain(smtp_container)  # opens the connection that the worker keeps
    sink.stop()
    sink.start()
    make_account(smtp_client, "seller-late", email="late@lotus.example.com", phone=None)
    start_verification(smtp_container.deps, account="seller-late",
                       contact=ContactKind.EMERGENCY_EMAIL)
    result = deliver_due(smtp_container.deps, smtp_container.transports, owner="w")
    assert (result.sent, result.retried) == (1, 0)
    assert [r.rcpt for r in sink.received][-1] == "late@lotus.example.com"
