"""Policy, compliance states driven by the clock, eligibility and signed webhooks, on both
backends, with a real HTTP receiver on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from contactguard.bootstrap import Container
from contactguard.domain.contacts import ContactKind
from contactguard.services.compliance import refresh_due_states
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
    response = client.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    receiver.secret = body["secret"]
    return int(body["id"])


def verify_all(container: Container, sender: RecordingSender, account: str, email: str,
               phone: str) -> None:
    for kind, to in ((ContactKind.EMERGENCY_EMAIL, email), (ContactKind.EMERGENCY_PHONE, phone)):
        challenge = start_verification(container.deps, account=account, contact=kind)
        check_code(container.deps, challenge.id, latest_code(container, sender, to))


def test_overdue_reverification_flips_eligibility_with_one_signed_webhook_per_change(
        client: TestClient, container: Container, sender: RecordingSender, clock: FrozenClock,
        receiver: Receiver) -> None:
    register(client, receiver, "account.eligibility_changed", "account.compliance_changed")
    make_account(client, "s1", country="GB", email="s1@example.com", phone=MOBILE_GB)
    verify_all(container, sender, "s1", "s1@example.com", "+447911123456")
    deliver(container)
    assert [p["data"]["eligible"] for p in receiver.of_type("account.eligibility_changed")] == [True]
    eligibility = client.get("/v1/accounts/s1/eligibility").json()
    assert eligibility["eligible"] is True and eligibility["state"] == "compliant"

    clock.advance(days=340)  # inside the 30-day window before the 365-day re-verification
    assert refresh_due_states(container.deps) == 1
    deliver(container)
    assert client.get("/v1/accounts/s1/eligibility").json()["state"] == "due_soon"
    assert [p["data"]["state"] for p in receiver.of_type("account.compliance_changed")] == [
        "compliant", "due_soon"]
    assert len(receiver.of_type("account.eligibility_changed")) == 1  # due soon: still eligible

    clock.advance(days=30)
    assert refresh_due_states(container.deps) == 1
    assert refresh_due_states(container.deps) == 0  # nothing left to do: no duplicate events
    deliver(container)
    flips = receiver.of_type("account.eligibility_changed")
    assert [p["data"]["eligible"] for p in flips] == [True, False]
    assert "verification expired" in flips[-1]["data"]["reasons"][0]
    eligibility = client.get("/v1/accounts/s1/eligibility").json()
    assert eligibility["state"] == "overdue" and eligibility["eligible"] is False
    listing = client.get("/v1/accounts", params={"state": "overdue"}).json()
    assert [row["external_id"] for row in listing["data"]] == ["s1"]
    assert len(set(receiver.ids)) == len(receiver.ids)  # one id per event
    assert receiver.rejected == []

    # Verifying the phone again: still overdue on email, no flip, no webhook.
    challenge = start_verification(container.deps, account="s1",
                                   contact=ContactKind.EMERGENCY_PHONE)
    check_code(container.deps, challenge.id, latest_code(container, sender, "+447911123456"))
    deliver(container)
    assert len(receiver.of_type("account.eligibility_changed")) == 2


def test_platform_signals_gate_eligibility(client: TestClient, container: Container,
                                           sender: RecordingSender, receiver: Receiver) -> None:
    assert client.put("/v1/policy", json={"min_signals": {"account_health_rating": 200}}
                      ).status_code == 200
    register(client, receiver, "account.eligibility_changed")
    make_account(client, "s2", country="GB", email="s2@example.com", phone=MOBILE_GB)
    verify_all(container, sender, "s2", "s2@example.com", "+447911123456")
    body = client.get("/v1/accounts/s2/eligibility").json()
    assert body["eligible"] is False
    assert body["reasons"] == ["account health rating has not been reported (at least 200 is "
                               "required)"]
    low = client.put("/v1/accounts/s2/signals", json={"account_health_rating": 150}).json()
    assert low["eligible"] is False and "150, below the required 200" in low["reasons"][0]
    high = client.put("/v1/accounts/s2/signals", json={"account_health_rating": 260}).json()
    assert high["eligible"] is True and high["reasons"] == []
    assert high["signals"] == {"account_health_rating": 260}
    client.put("/v1/accounts/s2/signals", json={"account_health_rating": 261})  # no flip
    deliver(container)
    assert [p["data"]["eligible"] for p in receiver.verified] == [True]
    bad = client.put("/v1/accounts/s2/signals", json={"Bad Name": 1})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "Bad Name"


def test_listing_by_state_pages_with_a_cursor(client: TestClient, clock: FrozenClock) -> None:
    for n in range(7):
        make_account(client, f"p{n}", country="GB", email=f"p{n}@example.com", phone=None)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"state": "action_required", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/accounts", params=params).json()
        seen += [row["external_id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"p{n}" for n in range(7)] and len(seen) == 7
    assert client.get("/v1/accounts", params={"state": "overdue"}).json() == {
        "data": [], "next_cursor": None}
    bad = client.get("/v1/accounts", params={"state": "overdue", "cursor": "!!"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert client.get("/v1/accounts", params={"state": "late"}).status_code == 422


def test_policy_api_validates_every_field(client: TestClient, container: Container) -> None:
    document = client.get("/v1/policy").json()
    reasons = document.pop("reasons")
    protection = document.pop("protection")
    assert protection["allowed_countries"] == [] and protection["allow_costly_numbers"] is False
    assert document == {
        "required": ["emergency_email", "emergency_phone"], "reverify_after_days": 365,
        "due_soon_days": 30, "snooze_days": 3, "max_snoozes": 3,
        "max_contact_changes_per_day": 3, "grace_days": 30, "min_notice_days": 14,
        "min_signals": {}, "email_link": False}
    assert set(reasons) == {"en", "zh-Hans"}
    assert "account health assurance" in reasons["en"]["consequence"]
    bad = client.put("/v1/policy", json={"required": ["fax"], "reverify_after_days": 0,
                                         "snooze_days": "3", "colour": "red", "grace_days": 0,
                                         "reasons": {"fr": {"why": "x", "consequence": "\u202e"},
                                                     "de": {"why": "x"}}, "email_link": "yes"})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"required", "reverify_after_days", "snooze_days", "colour", "grace_days",
                      "reasons.fr.consequence", "reasons.de", "reasons", "email_link"}
    good = client.put("/v1/policy", json={"required": ["emergency_phone"],
                                          "reverify_after_days": 180})
    assert good.status_code == 200 and good.json()["reverify_after_days"] == 180
    assert container.deps.policy.reverify_after.days == 180  # seen at once in this process
    assert client.get("/v1/policy").json()["required"] == ["emergency_phone"]


def test_policy_change_is_applied_by_the_job(client: TestClient, container: Container) -> None:
    make_account(client, "s3", country="GB", email="s3@example.com", phone=MOBILE_GB)
    assert client.get("/v1/accounts", params={"state": "action_required"}).json()["data"]
    client.put("/v1/policy", json={"required": ["emergency_phone"]})
    assert refresh_due_states(container.deps) == 1
    row = client.get("/v1/accounts", params={"state": "action_required"}).json()["data"][0]
    assert row["reasons"] == ["emergency phone is not verified"]


def test_the_in_process_worker_runs_the_periodic_refresh(
        client: TestClient, container: Container, sender: RecordingSender,
        clock: FrozenClock) -> None:
    import time

    from contactguard.worker import BackgroundWorker

    make_account(client, "w1", country="GB", email="w1@example.com", phone=MOBILE_GB)
    verify_all(container, sender, "w1", "w1@example.com", "+447911123456")
    clock.advance(days=366)
    assert container.periodic_jobs[0].name == "compliance-refresh"
    worker = BackgroundWorker(container.deps, container.transports, owner="test",
                              idle_seconds=0.05, periodic=container.periodic_jobs)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = client.get("/v1/accounts", params={"state": "overdue"}).json()["data"]
            if rows:
                break
            time.sleep(0.05)
    finally:
        worker.stop()
    assert [row["external_id"] for row in rows] == ["w1"]


def test_every_open_requirement_has_a_deadline(client: TestClient, clock: FrozenClock) -> None:
    """A new seller's never-verified contacts are due after the grace period, then overdue."""
    make_account(client, "g1", country="GB", email="g1@example.com", phone=MOBILE_GB)
    due = (clock.now() + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    body = client.get("/v1/accounts/g1/eligibility").json()
    assert body["state"] == "action_required" and body["deadline"] == due
    assert [r["deadline"] for r in body["requirements"]] == [due, due]
    clock.advance(days=31)
    assert refresh_due_states(client.app.state.container.deps) == 1
    body = client.get("/v1/accounts/g1/eligibility").json()
    assert body["state"] == "overdue"
    assert [r["state"] for r in body["requirements"]] == ["overdue", "overdue"]
