"""Internationalized addresses over real SMTP, look-alike domains, and SMTP connection resets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import Channel
from contactguard.domain.messages import MessageKind, OutboundMessage, RenderedMessage
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key
from contactguard.services.delivery import deliver_due
from contactguard.testing import FrozenClock
from tests.conftest import _truncate, make_settings
from tests.integration.conftest import make_account, start
from tests.integration.test_seller_center import BASE, _sign_in
from tests.smtp_sink import SmtpSink

DOMAIN = "mail.acme.test"
LOOKALIKE = "ops@\u0430cme-outdoor.example.com"  # the first "a" is Cyrillic (U+0430)
LOOKALIKE_ASCII = "ops@xn--cme-outdoor-xij.example.com"
BROKEN = "legacy@example.org"


def _setup(database_url: str, tmp_path: Path, clock: FrozenClock, sink: SmtpSink
           ) -> Iterator[tuple[Container, TestClient]]:
    _truncate(database_url)
    settings = make_settings(database_url, tmp_path, smtp_url=sink.url,
                             mail_from=f"Acme Market <no-reply@{DOMAIN}>")
    container = bootstrap(settings, clock=clock, start_worker=False)
    key = create_api_key(container.deps, "tests").secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield container, client
    container.close()


@pytest.fixture
def plain_sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def utf8_sink() -> Iterator[SmtpSink]:
    server = SmtpSink(smtputf8=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def plain(database_url: str, tmp_path: Path, clock: FrozenClock, plain_sink: SmtpSink):
    yield from _setup(database_url, tmp_path, clock, plain_sink)


@pytest.fixture
def utf8(database_url: str, tmp_path: Path, clock: FrozenClock, utf8_sink: SmtpSink):
    yield from _setup(database_url, tmp_path, clock, utf8_sink)


def _rows(container: Container):
    with container.engine.connect() as conn:
        return {r.recipient: r for r in conn.execute(select(t.outbox))}


def test_a_unicode_local_part_fails_alone_when_the_server_lacks_smtputf8(
        plain: tuple[Container, TestClient], plain_sink: SmtpSink) -> None:
    """Issue 11: it used to raise UnicodeEncodeError at RCPT, abort the batch and leave the
    connection mid-transaction, so the next seller's email failed with 503."""
    container, client = plain
    make_account(client, "u1", country="GB", email="пользователь@example.org", phone=None)
    make_account(client, "u2", country="GB", email="next@example.org", phone=None)
    assert start(client, "u1", "emergency_email").status_code == 201
    assert start(client, "u2", "emergency_email").status_code == 201
    result = deliver_due(container.deps, container.transports, owner="w")
    assert (result.claimed, result.failed, result.sent) == (2, 1, 1)
    rows = _rows(container)
    failed = rows["пользователь@example.org"]
    assert failed.status == "failed" and "SMTPUTF8" in failed.last_error
    assert rows["next@example.org"].status == "sent"
    assert [r.rcpt for r in plain_sink.received] == ["next@example.org"]
    contact = client.get("/v1/accounts/u1/contacts").json()["data"][0]
    assert contact["status"] == "undeliverable"
    assert "SMTPUTF8" in contact["undeliverable_channels"][0]["reason"]


def test_unicode_local_parts_and_idn_domains_are_delivered_with_smtputf8(
        utf8: tuple[Container, TestClient], utf8_sink: SmtpSink) -> None:
    container, client = utf8
    make_account(client, "u1", country="DE", email="пользователь@example.org", phone=None)
    make_account(client, "u2", country="DE", email="Jörg@Bücher.Example", phone=None)
    assert start(client, "u1", "emergency_email").status_code == 201
    assert start(client, "u2", "emergency_email").status_code == 201
    assert deliver_due(container.deps, container.transports, owner="w").sent == 2
    received = {r.rcpt: r for r in utf8_sink.received}
    # the domain travels in its ASCII form; a non-ASCII local part as UTF-8 (RFC 6531)
    assert set(received) == {"пользователь@example.org", "Jörg@xn--bcher-kva.example"}
    assert str(received["Jörg@xn--bcher-kva.example"].parsed["To"]) == "Jörg@xn--bcher-kva.example"


def test_an_idn_domain_needs_no_smtputf8(plain: tuple[Container, TestClient],
                                         plain_sink: SmtpSink) -> None:
    container, client = plain
    make_account(client, "u1", country="DE", email="info@münchen.example", phone=None)
    assert start(client, "u1", "emergency_email").status_code == 201
    assert deliver_due(container.deps, container.transports, owner="w").sent == 1
    [received] = plain_sink.received
    assert received.rcpt == "info@xn--mnchen-3ya.example"
    assert str(received.parsed["To"]) == "info@xn--mnchen-3ya.example"
    contact = client.get("/v1/accounts/u1/contacts").json()["data"][0]
    assert contact["value"] == "info@münchen.example"  # a real IDN is shown as written
    assert contact["lookalike_domain"] is False


def test_a_lookalike_domain_is_shown_in_punycode_and_flagged(
        plain: tuple[Container, TestClient], plain_sink: SmtpSink) -> None:
    container, client = plain
    make_account(client, "real", country="GB", email="ops@acme-outdoor.example.com", phone=None)
    make_account(client, "fake", country="GB", email=LOOKALIKE, phone=None)
    real = client.get("/v1/accounts/real/contacts").json()["data"][0]
    fake = client.get("/v1/accounts/fake/contacts").json()["data"][0]
    assert real["lookalike_domain"] is False and real["domain_warnings"] == []
    assert fake["value"] == fake["active_value"] == LOOKALIKE_ASCII
    assert fake["lookalike_domain"] is True
    assert fake["domain_warnings"] == ["imitates_ascii", "mixed_scripts"]
    assert fake["value"] != real["value"]
    assert start(client, "fake", "emergency_email").status_code == 201
    assert deliver_due(container.deps, container.transports, owner="w").sent == 1
    assert [r.rcpt for r in plain_sink.received] == [LOOKALIKE_ASCII]


def test_an_unexpected_error_retries_that_message_only_and_gives_up_after_a_few_attempts(
        utf8: tuple[Container, TestClient], utf8_sink: SmtpSink, clock: FrozenClock) -> None:
    """A message that makes the pipeline raise (here: a row written by older code that its
    template cannot render) is retried a bounded number of times; the next message of the
    same batch goes out at once, and the log/row name the error without personal data."""
    container, client = utf8
    make_account(client, "u2", country="GB", email="next@example.org", phone=None)
    with container.deps.uow() as uow:
        uow.outbox.add(OutboundMessage(kind=MessageKind.VERIFICATION_CODE, channel=Channel.EMAIL,
                                       recipient=BROKEN, locale="en", account_id=None,
                                       params={"platform_name": "Acme"}), sealed_secret=None,
                       now=clock.now())
        uow.commit()
    assert start(client, "u2", "emergency_email").status_code == 201
    result = deliver_due(container.deps, container.transports, owner="w")
    assert (result.claimed, result.crashed, result.sent) == (2, 1, 1)
    rows = _rows(container)
    assert rows["next@example.org"].status == "sent"
    assert [r.rcpt for r in utf8_sink.received] == ["next@example.org"]
    broken = rows[BROKEN]
    assert broken.status == "pending" and "UndefinedError" in broken.last_error
    assert BROKEN not in broken.last_error
    for _ in range(3):  # bounded: it fails for good after a few attempts
        clock.advance(minutes=10)
        deliver_due(container.deps, container.transports, owner="w")
    broken = _rows(container)[BROKEN]
    assert broken.status == "failed" and broken.last_error.startswith("gave up after 3 attempts")


def test_an_error_in_the_middle_of_an_smtp_transaction_resets_the_connection(
        utf8: tuple[Container, TestClient], utf8_sink: SmtpSink) -> None:
    """Whatever interrupts a transaction (here the hand-over mark failing after DATA), the
    connection is dropped, so the next message does not meet a server mid-transaction."""
    container, _client = utf8
    sender = container.transports.senders[Channel.EMAIL]
    first = RenderedMessage(Channel.EMAIL, "one@example.org", "body", subject="s",
                            reference="CG-AAAA-AAAA", outbox_id=1)

    def broken_handover() -> None:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        sender.send(first, handover=broken_handover)
    second = RenderedMessage(Channel.EMAIL, "two@example.org", "body", subject="s",
                             reference="CG-BBBB-BBBB", outbox_id=2)
    sender.send(second, handover=lambda: None)
    assert [r.rcpt for r in utf8_sink.received] == ["two@example.org"]


@pytest.fixture
def web(container: Container, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                    raise_server_exceptions=False) as browser:
        yield browser


def test_the_seller_sees_a_lookalike_domain_in_punycode_with_a_warning(
        container: Container, web: TestClient) -> None:
    from contactguard.services.accounts import AccountInput, upsert_account

    upsert_account(container.deps, AccountInput(
        external_id="s1", name="Lotus Tea House", country="CN", locale="zh-Hans",
        contacts={"emergency_email": LOOKALIKE}))
    _sign_in(container, web)
    page = web.get("/seller/contacts").text
    assert "o•••@xn--cme-outdoor-xij.example.com" in page
    assert "仿冒域名" in page and 'class="error lookalike"' in page
    web.cookies.clear()
    upsert_account(container.deps, AccountInput(
        external_id="s2", name="Real", country="GB", locale="en",
        contacts={"emergency_email": "ops@acme-outdoor.example.com"}))
    _sign_in(container, web, "s2")
    page = web.get("/seller/contacts").text
    assert "o•••@acme-outdoor.example.com" in page and "lookalike" not in page
