"""Webhook retries, disabling and replay; contact-change protection; the audit chain.
Each test runs on SQLite and PostgreSQL with a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from contactguard.adapters.delivery.webhook import UNREACHABLE
from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.domain.webhooks import WEBHOOK_RETRY
from contactguard.services.audit import verify_chain
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver, latest_code
from tests.integration.conftest import MOBILE_GB, make_account
from tests.integration.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def register(client: TestClient, receiver: Receiver, *events: str) -> int:
    body = client.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)}).json()
    receiver.secret = body["secret"]
    return int(body["id"])


def change_phone(client: TestClient, account: str, number: str):
    return client.put(f"/v1/accounts/{account}/contacts/emergency_phone", json={"value": number})


def test_a_receiver_that_was_down_gets_every_event_once_back(
        client: TestClient, container: Container, clock: FrozenClock,
        receiver: Receiver) -> None:
    endpoint = register(client, receiver, "contact.changed")
    receiver.stop()  # down: connections are refused
    for n in range(3):
        make_account(client, f"d{n}", country="GB", email=f"d{n}@example.com", phone=None)
    deliver(container)
    listed = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]
    assert len(listed) == 3
    assert {d["status"] for d in listed} == {"pending"} and {d["attempts"] for d in listed} == {1}
    assert listed[0]["last_error"] == UNREACHABLE  # the same text for refused, filtered, ...
    for _ in range(6):  # hours of backoff, without waiting
        clock.advance(minutes=30)
        deliver(container)
    assert receiver.verified == []
    receiver.start()  # back on the same port
    clock.advance(hours=3)
    deliver(container)
    clock.advance(hours=3)
    deliver(container)
    accounts = sorted(p["data"]["account"] for p in receiver.verified)
    assert accounts == ["d0", "d1", "d2"]  # every event, once
    assert receiver.rejected == []
    statuses = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]
    assert {d["status"] for d in statuses} == {"sent"}


def test_an_endpoint_failing_for_a_day_is_disabled_then_replayed(
        client: TestClient, container: Container, clock: FrozenClock, receiver: Receiver,
        tmp_path) -> None:
    endpoint = register(client, receiver, "contact.changed")
    receiver.stop()
    make_account(client, "f1", country="GB", email="f1@example.com", phone=None)
    start = clock.now()
    for _ in range(WEBHOOK_RETRY.max_attempts + 5):
        deliver(container)
        clock.advance(hours=2)
    delivery = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"][0]
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == WEBHOOK_RETRY.max_attempts
    assert clock.now() - start > timedelta(hours=24)
    state = client.get(f"/v1/webhooks/{endpoint}").json()
    assert state["enabled"] is False and "over more than 24 hours" in state["disabled_reason"]
    notices = client.get("/v1/audit", params={"subject": f"webhook:{endpoint}"}).json()["data"]
    assert notices[0]["action"] == "webhook.disabled" and notices[0]["actor"]["kind"] == "system"
    # Disabled: new events are not queued for it, and a replay is refused until re-enabled.
    make_account(client, "f2", country="GB", email="f2@example.com", phone=None)
    assert len(client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]) == 1
    assert client.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay").status_code == 409
    receiver.start()
    enabled = client.patch(f"/v1/webhooks/{endpoint}", json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["failure_streak"] == 0
    replayed = client.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    deliver(container)
    assert [p["data"]["account"] for p in receiver.verified] == ["f1"]
    assert receiver.ids == [delivery["event_id"]]  # same event id as the original


def test_permanent_rejections_in_a_row_disable_an_endpoint(
        client: TestClient, container: Container, receiver: Receiver) -> None:
    endpoint = register(client, receiver, "contact.changed")
    receiver.status = 410
    for n in range(5):
        make_account(client, f"g{n}", country="GB", email=f"g{n}@example.com", phone=None)
    deliver(container)
    deliveries = client.get(f"/v1/webhooks/{endpoint}/deliveries").json()["data"]
    assert {d["status"] for d in deliveries} == {"failed"}
    assert {d["attempts"] for d in deliveries} == {1}  # a 410 is not retried
    assert "HTTP 410" in deliveries[0]["last_error"]
    assert client.get(f"/v1/webhooks/{endpoint}").json()["disabled_reason"] == (
        "5 deliveries in a row failed")


def test_webhook_registration_is_validated(client: TestClient) -> None:
    bad = client.post("/v1/webhooks", json={"url": "ftp://x", "events": ["contact.exploded"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"url", "events"}
    assert client.get("/v1/webhooks/99").status_code == 404
    assert client.post("/v1/webhooks/deliveries/99/replay").status_code == 404


def test_changing_a_contact_notifies_the_old_email_and_the_message_center(
        client: TestClient, container: Container, sender: RecordingSender,
        receiver: Receiver) -> None:
    register(client, receiver, "contact.changed")
    make_account(client, "c1", country="GB", email="old@example.com", phone=MOBILE_GB)
    challenge = start_verification(container.deps, account="c1",
                                   contact=ContactKind.EMERGENCY_EMAIL)
    check_code(container.deps, challenge.id, latest_code(container, sender, "old@example.com"))
    sender.sent.clear()
    changed = client.put("/v1/accounts/c1/contacts/emergency_email",
                         json={"value": "new@example.com"})
    assert changed.status_code == 200
    assert changed.json()["active_value"] == "old@example.com"  # unverified: old one in force
    deliver(container)
    notices = sender.to("old@example.com")
    assert len(notices) == 1 and sender.to("new@example.com") == []
    notice = notices[0]
    assert "wasn't you" in notice.body and "n•••@example.com" in notice.body
    assert "://" not in notice.body and "www." not in notice.body  # no link at all
    assert "reply" in notice.body.lower()
    engine = create_engine(container.settings.database_url)
    with engine.connect() as conn:
        in_app = conn.execute(text(
            "SELECT recipient, status, reference FROM outbox WHERE channel = 'in_app' "
            "AND kind = 'contact_changed'")).all()
    engine.dispose()
    assert [(r.recipient, r.status) for r in in_app] == [("c1", "sent")]
    assert in_app[0].reference == notice.reference  # one notice, two deliveries
    # A phone change is told to the email in force: still the old, verified one.
    change_phone(client, "c1", "+44 7911 123457")
    deliver(container)
    assert len(sender.to("old@example.com")) == 2
    # One event per change, the account's creation included, with masked values only.
    assert {p["type"] for p in receiver.verified} == {"contact.changed"}
    assert [(p["data"]["contact"], p["data"]["previous_value"], p["data"]["value"])
            for p in receiver.verified] == [
        ("emergency_email", None, "o•••@example.com"),
        ("emergency_phone", None, "+44 ••• ••• 3456"),
        ("emergency_email", "o•••@example.com", "n•••@example.com"),
        ("emergency_phone", "+44 ••• ••• 3456", "+44 ••• ••• 3457")]
    masked = [p["data"]["value"] for p in receiver.verified]
    assert all(v != "new@example.com" and v != "+447911123457" for v in masked)


def test_too_many_changes_in_a_day_are_refused(client: TestClient, container: Container,
                                               clock: FrozenClock,
                                               sender: RecordingSender) -> None:
    """Replacing a verified value counts against the daily limit; a change of a value that
    was never verified (fixing a typo) does not (issue 12)."""
    make_account(client, "c2", country="GB", email="c2@example.com", phone=MOBILE_GB)

    def verify_phone(number: str) -> None:
        started = start_verification(container.deps, account="c2",
                                     contact=ContactKind.EMERGENCY_PHONE)
        check_code(container.deps, started.id, latest_code(container, sender, number))

    for typo in range(4):  # never verified: as many fixes as needed
        assert change_phone(client, "c2", f"+44 7911 12345{typo}").status_code == 200
    verify_phone("+447911123453")
    for last in range(3):
        assert change_phone(client, "c2", f"+44 7911 12346{last}").status_code == 200
        verify_phone(f"+44791112346{last}")
    refused = change_phone(client, "c2", "+44 7911 123469")
    assert refused.status_code == 429
    problem = refused.json()
    assert problem["type"].endswith("/too-many-contact-changes")
    assert "at most 3 times in 24 hours" in problem["detail"]
    assert int(refused.headers["Retry-After"]) == 24 * 3600
    assert change_phone(client, "c2", "+44 7911 123462").status_code == 200  # same value: no change
    clock.advance(hours=24, seconds=1)
    assert change_phone(client, "c2", "+44 7911 123469").status_code == 200


def test_audit_log_records_actors_and_masks_contacts(client: TestClient,
                                                     container: Container) -> None:
    make_account(client, "a1", country="GB", email="alice@example.com", phone=MOBILE_GB)
    client.put("/v1/policy", json={"max_snoozes": 2})
    entries = client.get("/v1/audit", params={"limit": 500}).json()["data"]
    actions = [e["action"] for e in reversed(entries)]
    # The fixture's API key was created (by the system) before the requests below.
    assert actions[:4] == ["api_key.created", "account.created", "contact.added",
                           "contact.added"]
    assert actions[-1] == "policy.updated"
    assert all(e["actor"]["kind"] == "api_key" and e["actor"]["label"] == "tests"
               for e in entries if e["action"] not in {"compliance.changed", "api_key.created"})
    dump = str(entries)
    assert "alice@example.com" not in dump and "7911123456" not in dump
    assert "a•••@example.com" in dump
    assert client.get("/v1/audit/verify").json() == {"ok": True, "checked": len(entries),
                                                     "broken_at": None, "reason": ""}


def test_audit_verify_catches_an_edit_and_a_deletion_by_hand(
        client: TestClient, container: Container) -> None:
    for n in range(4):
        make_account(client, f"h{n}", country="GB", email=f"h{n}@example.com", phone=None)
    report = verify_chain(container.deps)
    assert report.ok and report.checked >= 8
    engine = create_engine(container.settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_label = 'someone else' WHERE seq = 3"))
    broken = verify_chain(container.deps)
    assert not broken.ok and broken.broken_at == 3 and "altered" in broken.reason
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor_label = 'tests' WHERE seq = 3"))
    assert verify_chain(container.deps).ok  # put back exactly: intact again
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    deleted = verify_chain(container.deps)
    assert not deleted.ok and deleted.broken_at == 5 and "missing" in deleted.reason
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar()
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
    tail = verify_chain(container.deps)
    assert not tail.ok and tail.broken_at == 5 and f"head is at {last}" in tail.reason
    engine.dispose()


def test_verified_and_locked_verifications_are_signed_events(
        client: TestClient, container: Container, sender: RecordingSender,
        receiver: Receiver) -> None:
    register(client, receiver, "contact.verified", "verification.locked")
    make_account(client, "v1", country="GB", email="v1@example.com", phone=MOBILE_GB)
    challenge = start_verification(container.deps, account="v1",
                                   contact=ContactKind.EMERGENCY_EMAIL)
    check_code(container.deps, challenge.id, latest_code(container, sender, "v1@example.com"))
    locked = start_verification(container.deps, account="v1",
                                contact=ContactKind.EMERGENCY_PHONE)
    code = latest_code(container, sender, "+447911123456")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        check_code(container.deps, locked.id, wrong)
    deliver(container)
    assert [p["type"] for p in receiver.verified] == ["contact.verified", "verification.locked"]
    assert receiver.verified[0]["data"]["destination"] == "v•••@example.com"
    assert receiver.verified[1]["data"]["verification"] == locked.id
    actions = [e["action"] for e in client.get("/v1/audit").json()["data"]]
    assert "verification.approved" in actions and "verification.locked" in actions


def test_concurrent_writers_keep_one_unbroken_chain(container: Container) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from contactguard.services.accounts import AccountInput, upsert_account

    def create(n: int) -> None:
        upsert_account(container.deps, AccountInput(
            external_id=f"k{n}", name="Shop", country="GB",
            contacts={"emergency_email": f"k{n}@example.com"}))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(create, range(30)))
    report = verify_chain(container.deps)
    assert report.ok, report.reason
    assert report.checked == 60  # account.created + contact.added each, no gaps, no forks
