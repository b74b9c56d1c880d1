"""Webhook URLs: malformed ones, server-side request forgery, pinned addresses, deletion.

No DNS: names resolve through a ``StaticResolver``; the only connections go to loopback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from contactguard.adapters.db import tables as t
from contactguard.adapters.delivery.webhook import UNREACHABLE
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import Channel
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key
from contactguard.testing import FrozenClock, RecordingSender, StaticResolver
from tests.conftest import _truncate, deliver, make_settings
from tests.integration.conftest import make_account
from tests.integration.webhook_receiver import Receiver

EVENTS = ["contact.changed"]


def _build(database_url: str, tmp_path: Path, clock: FrozenClock, resolver: StaticResolver, *,
           allow_private: bool, **settings: object) -> Iterator[tuple[Container, TestClient]]:
    _truncate(database_url)
    sender = RecordingSender()
    container = bootstrap(
        make_settings(database_url, tmp_path, webhook_allow_private=allow_private, **settings),
        clock=clock, start_worker=False, resolver=resolver,
        senders={Channel.EMAIL: sender, Channel.SMS: sender, Channel.VOICE: sender})
    key = create_api_key(container.deps, "tests").secret
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield container, client
    container.close()


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver({"hooks.platform.test": ["93.184.216.34"],
                           "internal.platform.test": ["10.1.2.3"],
                           "sneaky.platform.test": ["93.184.216.34", "127.0.0.1"],
                           "localhost": ["127.0.0.1", "::1"]})


@pytest.fixture
def strict(database_url: str, tmp_path: Path, clock: FrozenClock, resolver: StaticResolver):
    """Production settings: private addresses refused."""
    yield from _build(database_url, tmp_path, clock, resolver, allow_private=False)


@pytest.fixture
def dev(database_url: str, tmp_path: Path, clock: FrozenClock, resolver: StaticResolver):
    """CONTACTGUARD_WEBHOOK_ALLOW_PRIVATE=1, short timeouts."""
    yield from _build(database_url, tmp_path, clock, resolver, allow_private=True,
                      webhook_timeout_seconds=0.5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.mark.parametrize(("url", "code"), [
    ("http://127.0.0.1:abc/x", "invalid_url"),
    ("http://[::1/x", "invalid_url"),
    ("http://hooks.platform.test/a\x00b", "control_characters"),  # the request guard refuses NUL
    ("http://hooks.platform.test/a\r\nX-Injected: 1", "invalid_url"),
    ("http://0x7f000001/", "invalid_url"),
    ("http://2130706433/", "invalid_url"),
    ("http://0177.0.0.1/", "invalid_url"),
    ("http://127.1/", "invalid_url"),
    ("http://169.254.169.254/latest/meta-data", "forbidden_address"),
    ("http://10.0.0.1/", "forbidden_address"),
    ("http://[::1]/", "forbidden_address"),
    ("http://[::ffff:127.0.0.1]/", "forbidden_address"),
    ("http://[64:ff9b::a00:1]/", "forbidden_address"),
    ("https://localhost:8443/hooks", "forbidden_address"),
    ("https://internal.platform.test/hooks", "forbidden_address"),
    ("https://sneaky.platform.test/hooks", "forbidden_address"),
    ("http://224.0.0.1/", "forbidden_address"),
    ("http://0.0.0.0/", "forbidden_address"),
])
def test_registration_refuses_malformed_urls_and_private_addresses(
        strict: tuple[Container, TestClient], url: str, code: str) -> None:
    _container, client = strict
    response = client.post("/v1/webhooks", json={"url": url, "events": EVENTS})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("url", code)
    assert client.get("/v1/webhooks").json()["data"] == []


def test_a_public_name_is_accepted_and_checked_again_at_send_time(
        strict: tuple[Container, TestClient], resolver: StaticResolver) -> None:
    """DNS rebinding: the name resolved to a public address when registered and to loopback
    when the delivery is due. The delivery is refused before any connection."""
    container, client = strict
    created = client.post("/v1/webhooks", json={"url": "https://hooks.platform.test/cg",
                                                "events": EVENTS})
    assert created.status_code == 201
    endpoint = created.json()["id"]
    resolver.table["hooks.platform.test"] = ["127.0.0.1"]
    make_account(client, "r1", country="GB", email="r1@example.com", phone=None)
    deliver(container)
    [delivery] = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]
    assert delivery["status"] == "failed" and delivery["attempts"] == 1
    assert delivery["last_error"] == ("the endpoint's address is not allowed: hooks.platform.test "
                                      "is a loopback address (webhooks go to public addresses "
                                      "only)")


def test_a_stored_malformed_url_fails_for_good_and_disables_the_endpoint(
        dev: tuple[Container, TestClient], receiver: Receiver) -> None:
    container, client = dev
    endpoint = client.post("/v1/webhooks", json={"url": receiver.url, "events": EVENTS}).json()["id"]
    with container.engine.begin() as conn:  # stored by a version that did not check
        conn.execute(update(t.webhook_endpoints).where(t.webhook_endpoints.c.id == endpoint)
                     .values(url="http://[::1/x"))
    for n in range(5):
        make_account(client, f"m{n}", country="GB", email=f"m{n}@example.com", phone=None)
    deliver(container)
    deliveries = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]
    assert len(deliveries) == 5
    assert {(d["status"], d["attempts"]) for d in deliveries} == {("failed", 1)}
    assert deliveries[0]["last_error"].startswith("the endpoint URL cannot be used: not a valid URL")
    state = client.get(f"/v1/webhooks/{endpoint}").json()
    assert state["enabled"] is False and state["disabled_reason"] == "5 deliveries in a row failed"
    assert client.patch(f"/v1/webhooks/{endpoint}", json={"enabled": True}).status_code == 422


def test_the_delivery_connects_to_the_checked_address_with_the_original_host(
        dev: tuple[Container, TestClient], resolver: StaticResolver, receiver: Receiver) -> None:
    container, client = dev
    resolver.table["hooks.platform.test"] = ["127.0.0.1"]
    created = client.post("/v1/webhooks", json={
        "url": f"http://hooks.platform.test:{receiver.port}/hooks", "events": EVENTS}).json()
    receiver.secret = created["secret"]
    resolver.asked.clear()
    make_account(client, "p1", country="GB", email="p1@example.com", phone=None)
    deliver(container)
    assert [p["data"]["account"] for p in receiver.verified] == ["p1"]
    assert receiver.hosts == [f"hooks.platform.test:{receiver.port}"]
    assert resolver.asked == ["hooks.platform.test"]  # resolved once, by us, and pinned


def test_refused_and_silent_endpoints_report_the_same_error(
        dev: tuple[Container, TestClient]) -> None:
    """The deliveries list must not work as a port scanner."""
    container, client = dev
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]  # nothing listens once this closes
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    stop = threading.Event()
    try:
        refused = client.post("/v1/webhooks", json={
            "url": f"http://127.0.0.1:{closed_port}/x", "events": EVENTS}).json()["id"]
        mute = client.post("/v1/webhooks", json={
            "url": f"http://127.0.0.1:{silent.getsockname()[1]}/x", "events": EVENTS}).json()["id"]
        make_account(client, "s1", country="GB", email="s1@example.com", phone=None)
        deliver(container)
        errors = {endpoint: client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"][0]
                  ["last_error"] for endpoint in (refused, mute)}
    finally:
        stop.set()
        silent.close()
    assert errors == {refused: UNREACHABLE, mute: UNREACHABLE}


def test_deleting_an_endpoint_cancels_its_retries_and_a_new_one_inherits_nothing(
        dev: tuple[Container, TestClient], receiver: Receiver, clock: FrozenClock) -> None:
    """Issue 11: on SQLite the new endpoint got the deleted one's id, its pending retries and
    its history."""
    container, client = dev
    old = client.post("/v1/webhooks", json={"url": receiver.url, "events": EVENTS}).json()["id"]
    receiver.stop()  # down: deliveries wait for a retry
    for n in range(3):
        make_account(client, f"d{n}", country="GB", email=f"d{n}@example.com", phone=None)
    deliver(container)
    pending = client.get(f"/v1/webhooks/{old}/deliveries").json()["data"]
    assert {d["status"] for d in pending} == {"pending"} and len(pending) == 3
    assert client.delete(f"/v1/webhooks/{old}").status_code == 204
    receiver.start()
    created = client.post("/v1/webhooks", json={"url": receiver.url, "events": EVENTS}).json()
    receiver.secret = created["secret"]
    assert created["id"] != old
    assert client.get(f"/v1/webhooks/{created['id']}/deliveries").json()["data"] == []
    clock.advance(hours=3)
    deliver(container)
    assert receiver.verified == []  # the old endpoint's events were not sent to the new one
    with container.engine.connect() as conn:
        statuses = set(conn.execute(select(t.outbox.c.status)
                                    .where(t.outbox.c.channel == "webhook")).scalars())
    assert statuses == {"canceled"}
    audit = client.get("/v1/audit", params={"subject": f"webhook:{old}"}).json()["data"][0]
    assert audit["action"] == "webhook.deleted" and audit["after"] == {"canceled_deliveries": 3}
