"""Shared limits and abuse protection (issue 11): rate limits (memory, Redis, Redis down),
one destination = one cooldown (also under races on PostgreSQL), the SMS-pumping guard and
its blocks API. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.abuse import ProtectionPolicy, destination_key, phone_prefix
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.policy import policy_from_document, policy_to_document
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import RateLimited, ValidationFailed
from contactguard.services import policy, verification, webhooks
from contactguard.services.apikeys import create_api_key
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import _truncate, deliver, make_settings
from tests.integration.conftest import make_account, start

PREFIX_A = "+49151123"  # + 4 more digits of a German mobile number: 10 000 numbers
PREFIX_B = "+49151987"


def number(prefix: str, n: int) -> str:
    return f"{prefix}4{n:04d}"


@pytest.fixture
def build(database_url: str, tmp_path: Path, clock: FrozenClock, sender: RecordingSender
          ) -> Iterator[Callable[..., Container]]:
    """Containers with the limits ON (``**overrides`` are settings)."""
    _truncate(database_url)
    built: list[Container] = []

    def make(**overrides: Any) -> Container:
        values: dict[str, Any] = {"rate_limits": "on", "redis_prefix": f"cg{secrets.token_hex(4)}"}
        values.update(overrides)
        container = bootstrap(make_settings(database_url, tmp_path, **values), clock=clock,
                              senders={Channel.EMAIL: sender, Channel.SMS: sender,
                                       Channel.VOICE: sender}, start_worker=False)
        built.append(container)
        return container

    yield make
    for container in built:
        container.close()


def api(container: Container) -> TestClient:
    client = TestClient(create_app(container), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {create_api_key(container.deps, 'tests').secret}"
    return client


def protect(container: Container, **settings: Any) -> None:
    """Put protection ``settings`` into the policy in force."""
    document = policy_to_document(container.deps.policy)
    document["protection"].update(settings)
    policy.set_policy(container.deps, document)


def count(container: Container, table: Any) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- policy documents ----------------------------------------------------------------------


def test_protection_settings_live_in_the_policy_with_defaults() -> None:
    document = policy_to_document(policy_from_document({}))
    assert document["protection"]["login_ip_per_minute"] == ProtectionPolicy().login_ip_per_minute
    assert document["protection"]["prefix_unverified_limit"] == 30
    changed = policy_from_document({"protection": {"api_key_per_minute": 5,
                                                   "allowed_countries": ["de", "US"]}})
    assert changed.protection.api_key_per_minute == 5
    assert changed.protection.allowed_countries == ("DE", "US")
    assert changed.protection.seller_ip_per_minute == ProtectionPolicy().seller_ip_per_minute
    with pytest.raises(ValidationFailed) as caught:
        policy_from_document({"protection": {"api_key_per_minute": 0, "allowed_countries": ["x"],
                                             "nope": 1}})
    fields = {e.field for e in caught.value.errors}
    assert fields == {"protection.api_key_per_minute", "protection.allowed_countries",
                      "protection.nope"}


# --- request limits ------------------------------------------------------------------------


def test_api_key_limit_answers_429_with_ratelimit_headers(build) -> None:
    container = build()
    protect(container, api_key_per_minute=3)
    client = api(container)
    assert [client.get("/v1/policy").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/v1/policy")
    assert refused.status_code == 429
    assert refused.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Policy"] == '"api_key";q=3;w=60'
    assert refused.headers["RateLimit"].startswith('"api_key";r=0;t=')
    other = api(container)  # another key has its own count
    assert other.get("/v1/policy").status_code == 200


def test_seller_sign_ins_are_limited_per_address(build) -> None:
    container = build()
    protect(container, login_ip_per_minute=2)
    client = TestClient(create_app(container), raise_server_exceptions=False)
    answers = [client.get("/seller/session/not-a-token", follow_redirects=False).status_code
               for _ in range(3)]
    assert answers[:2] != [429, 429] and answers[2] == 429
    console = [client.post("/console/login", data={"email": "a@b.c", "password": "x"},
                           follow_redirects=False).status_code for _ in range(3)]
    assert console == [429, 429, 429]  # one count per address for every sign-in form


def test_the_call_banner_poll_is_not_counted_per_address(build) -> None:
    """Every open Seller Center page polls /seller/call every 3 s: sellers sharing one address
    (an office, a carrier's NAT) must not run into the page limit by keeping tabs open."""
    container = build()
    protect(container, seller_ip_per_minute=3)
    client = TestClient(create_app(container), raise_server_exceptions=False)
    polls = [client.get("/seller/call").status_code for _ in range(10)]
    assert 429 not in polls and set(polls) == {204}  # no session: nothing to show, not counted
    pages = [client.get("/seller", follow_redirects=False).status_code for _ in range(4)]
    assert pages[:3].count(429) == 0 and pages[3] == 429


def test_limits_are_shared_through_redis(build, redis_url) -> None:
    prefix = f"cg{secrets.token_hex(4)}"
    first, second = build(redis_url=redis_url, redis_prefix=prefix), \
        build(redis_url=redis_url, redis_prefix=prefix)
    protect(first, api_key_per_minute=4)
    second.deps.policy_source.invalidate()  # type: ignore[attr-defined]
    key = create_api_key(first.deps, "shared").secret
    answers = []
    for container in (first, second, first, second, first, second):
        client = TestClient(create_app(container), raise_server_exceptions=False)
        answers.append(client.get("/v1/policy", headers={"Authorization": f"Bearer {key}"})
                       .status_code)
    assert answers == [200, 200, 200, 200, 429, 429]


def test_redis_down_fails_open_but_cooldowns_hold(build, caplog, sender) -> None:
    container = build(redis_url="redis://127.0.0.1:1/0",  # nothing listens there
                      allow_unknown_line_types=True)
    protect(container, api_key_per_minute=1)
    client = api(container)
    make_account(client, "r1", phone=None)
    with caplog.at_level(logging.WARNING, logger="contactguard.limits"):
        assert start(client, "r1", "emergency_email").status_code == 201
    assert "rate-limit store unavailable" in caplog.text
    again = start(client, "r1", "emergency_email")  # the per-destination cooldown (database)
    assert again.status_code == 429 and "recently" in again.json()["detail"]
    assert again.headers["RateLimit-Policy"] == '"destination_cooldown";q=5;w=3600'
    assert again.headers["RateLimit"] == f'"destination_cooldown";r=0;t={again.headers["Retry-After"]}'
    metrics = client.get("/metrics").text
    assert "contactguard_rate_limit_store_errors_total" in metrics
    assert "contactguard_rate_limit_store_errors_total 0.0" not in metrics
    # the pumping guard lives in the database: it still refuses
    make_account(client, "r2", country="DE", email=None, phone="+882 3421 234")
    refused = start(client, "r2", "emergency_phone", "sms")
    assert refused.status_code == 403 and refused.json()["reason"] == "non_geographic"


def test_rate_limits_off_keeps_cooldowns_and_logs_a_warning(build, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="contactguard"):
        container = build(rate_limits="off")
    assert "CONTACTGUARD_RATE_LIMITS=off" in caplog.text
    protect(container, api_key_per_minute=1, allowed_countries=["FR"])
    client = api(container)
    make_account(client, "o1", country="DE", phone=number(PREFIX_A, 1))
    assert client.get("/v1/policy").status_code == 200  # no API key limit
    assert start(client, "o1", "emergency_phone", "sms").status_code == 201  # no guard
    assert start(client, "o1", "emergency_phone", "sms").status_code == 429  # cooldown


def test_account_and_destination_limits(build) -> None:
    container = build()
    protect(container, account_sends_per_hour=2)
    client = api(container)
    make_account(client, "a1", country="DE", phone=number(PREFIX_A, 2))
    assert start(client, "a1", "emergency_email").status_code == 201
    assert start(client, "a1", "emergency_phone", "sms").status_code == 201
    changed = client.put("/v1/accounts/a1/contacts/emergency_phone",
                         json={"value": number(PREFIX_A, 3)})
    assert changed.status_code == 200, changed.text
    refused = start(client, "a1", "emergency_phone", "sms")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Policy"] == '"account";q=2;w=3600'


# --- one destination, one cooldown --------------------------------------------------------


def test_differently_cased_addresses_share_one_cooldown(container, client) -> None:
    deps = container.deps
    for external_id, email in (("c1", "mailbox@example.net"), ("c2", "MailBox@Example.NET")):
        make_account(client, external_id, email=email, phone=None)
    verification.start_verification(deps, account="c1", contact=ContactKind.EMERGENCY_EMAIL)
    with pytest.raises(RateLimited):
        verification.start_verification(deps, account="c2", contact=ContactKind.EMERGENCY_EMAIL)
    assert destination_key("MailBox@Example.NET", is_email=True) == "mailbox@example.net"


def test_a_send_waits_for_the_destination_lock_another_transaction_holds(
        container, client) -> None:
    """Deterministic form of the race below: while another transaction holds the number's
    destination lock (as a concurrent start for another account does between its cooldown
    check and its commit), a start for a second account sharing the number must wait."""
    if container.settings.is_sqlite:
        pytest.skip("SQLite's writing transactions are serial; the lock is PostgreSQL's")
    deps = container.deps
    phone = number(PREFIX_B, 90)
    for external_id in ("held-a", "held-b"):
        make_account(client, external_id, country="DE", email=None, phone=phone)
    key = destination_key(phone, is_email=False)
    outcome: list[str] = []

    def second_start() -> None:
        verification.start_verification(deps, account="held-b",
                                         contact=ContactKind.EMERGENCY_PHONE, channel=Channel.SMS)
        outcome.append("sent")

    with deps.uow() as uow:
        uow.protection.lock(f"destination:{key}")
        worker = threading.Thread(target=second_start)
        worker.start()
        worker.join(1.5)
        assert worker.is_alive() and outcome == [], "the start did not wait for the lock"
    worker.join(10)
    assert outcome == ["sent"]  # released: it goes on (nothing was sent meanwhile)


def test_two_accounts_sharing_a_phone_never_both_get_a_code_under_a_race(
        container, client) -> None:
    """On PostgreSQL the contact row locks differ: an advisory lock on the destination
    serialises the two (SQLite's writers are serial anyway)."""
    deps = container.deps
    for round_ in range(6):
        phone = number(PREFIX_B, round_)
        ids = [f"race{round_}-{side}" for side in "ab"]
        for external_id in ids:
            make_account(client, external_id, country="DE", email=None, phone=phone)
        barrier = threading.Barrier(2)

        def go(external_id: str) -> str:
            barrier.wait()
            try:
                verification.start_verification(deps, account=external_id,
                                                 contact=ContactKind.EMERGENCY_PHONE,
                                                 channel=Channel.SMS)
                return "sent"
            except RateLimited:
                return "refused"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(go, ids))
        assert outcomes == ["refused", "sent"], round_
    with container.engine.connect() as conn:
        per_destination = conn.execute(select(t.verification_sends.c.destination, func.count())
                                       .group_by(t.verification_sends.c.destination)).all()
    assert len(per_destination) == 6 and all(n == 1 for _, n in per_destination)


# --- the SMS-pumping guard -----------------------------------------------------------------


def test_pumping_200_numbers_of_one_prefix_gets_at_most_30_codes_out(build, sender) -> None:
    container = build()
    client = api(container)
    endpoint = webhooks.create_endpoint(container.deps, url="https://hooks.example.com/x",
                                        events=["fraud.prefix_blocked"])
    for n in range(200):
        make_account(client, f"p{n}", country="DE", email=None, phone=number(PREFIX_A, n))

    def attack(n: int) -> tuple[int, dict]:
        answer = start(client, f"p{n}", "emergency_phone", "sms")
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(attack, range(200)))
    sent = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status != 201]
    assert len(sent) <= 30, len(sent)
    assert {status for status, _ in answers} == {201, 403}
    assert {b["type"] for b in refused} == {"/problems/destination-blocked"}
    assert {b["reason"] for b in refused} <= {"prefix_blocked", "prefix_velocity",
                                              "low_conversion"}
    assert "email" in refused[-1]["alternative"]
    assert refused[-1]["errors"][0]["code"] == "destination_blocked"
    deliver(container)
    assert len([m for m in sender.sent if m.to.startswith(PREFIX_A)]) == len(sent)
    assert count(container, t.phone_sends) == len(sent)

    # another prefix is unaffected
    make_account(client, "other", country="DE", email=None, phone=number(PREFIX_B, 1))
    assert start(client, "other", "emergency_phone", "sms").status_code == 201

    blocks = client.get("/v1/protection/blocks").json()["data"]
    assert len(blocks) == 1
    block = blocks[0]
    assert block["prefix"] == phone_prefix(number(PREFIX_A, 0)) and block["active"]
    assert block["country"] == "DE" and block["sent"] == len(sent) and block["verified"] == 0
    with container.engine.connect() as conn:
        events = conn.execute(select(t.outbox.c.params).where(
            t.outbox.c.recipient == str(endpoint.endpoint.id))).scalars().all()
    assert [e["type"] for e in events] == ["fraud.prefix_blocked"]
    metrics = client.get("/metrics").text
    assert 'contactguard_fraud_prefix_blocked_total{reason="low_conversion"} 1.0' in metrics

    lifted = client.delete(f"/v1/protection/blocks/{block['id']}")
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert client.get("/v1/protection/blocks").json()["data"] == []
    assert client.delete("/v1/protection/blocks/999999").status_code == 404
    audit = client.get("/v1/audit", params={"subject": f"block:{block['id']}"}).json()
    actions = {e["action"] for e in audit["data"]}
    assert actions == {"protection.prefix_blocked", "protection.block_lifted"}


def test_verified_codes_keep_a_prefix_open(build, sender) -> None:
    container = build()
    protect(container, conversion_min_sends=4, conversion_min_percent=50,
            prefix_unverified_limit=1000)
    client = api(container)
    from tests.conftest import latest_code

    for n in range(10):
        make_account(client, f"v{n}", country="DE", email=None, phone=number(PREFIX_A, n))
        started = start(client, f"v{n}", "emergency_phone", "sms")
        assert started.status_code == 201, (n, started.text)
        code = latest_code(container, sender, number(PREFIX_A, n))
        checked = client.post(f"/v1/verifications/{started.json()['id']}/check",
                              json={"code": code})
        assert checked.json()["status"] == "approved"
    assert client.get("/v1/protection/blocks").json()["data"] == []


def test_countries_non_geographic_and_budget(build) -> None:
    container = build(allow_unknown_line_types=True)
    protect(container, allowed_countries=["DE", "001"][:1], country_daily_budget=1)
    client = api(container)
    make_account(client, "us", country="US", email=None, phone="+1 202 555 0123")
    refused = start(client, "us", "emergency_phone", "voice")
    assert refused.status_code == 403 and refused.json()["reason"] == "country_not_allowed"

    protect(container, allowed_countries=[], country_daily_budget=1)
    make_account(client, "ng", country="DE", email=None, phone="+882 3421 234")
    refused = start(client, "ng", "emergency_phone", "sms")
    assert refused.status_code == 403 and refused.json()["reason"] == "non_geographic"
    protect(container, allow_costly_numbers=True, country_daily_budget=0)
    assert start(client, "ng", "emergency_phone", "sms").status_code == 201

    protect(container, country_daily_budget=1)
    make_account(client, "d1", country="DE", email=None, phone=number(PREFIX_A, 1))
    make_account(client, "d2", country="DE", email=None, phone=number(PREFIX_B, 2))
    assert start(client, "d1", "emergency_phone", "sms").status_code == 201
    over = start(client, "d2", "emergency_phone", "sms")
    assert over.status_code == 403 and over.json()["reason"] == "country_budget"


def test_seller_center_explains_a_blocked_number_in_the_sellers_language(build) -> None:
    import re
    from urllib.parse import urlsplit

    from contactguard.services.seller_sessions import create_session_link

    container = build()
    protect(container, allowed_countries=["DE"])
    make_account(api(container), "cn1", locale="zh-Hans")  # a Chinese landline
    base = "https://sellers.acme.test"
    with TestClient(create_app(container), base_url=base, follow_redirects=False,
                    raise_server_exceptions=False) as web:
        link = create_session_link(container.deps, "cn1", base_url=base)
        assert web.get(urlsplit(link.url).path).status_code == 303
        page = web.get("/seller/contacts/emergency_phone/verify")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        refused = web.post("/seller/contacts/emergency_phone/verify",
                           data={"channel": "voice", "csrf_token": csrf.group(1)})
    assert refused.status_code == 403
    assert 'id="destination-blocked"' in refused.text
    assert "我们无法通过短信或电话向此号码发送验证码" in refused.text
    assert "电子邮箱" in refused.text  # the safe alternative


def test_protection_settings_through_the_policy_api_and_problem_catalog(client) -> None:
    current = client.get("/v1/policy").json()
    assert current["protection"]["login_ip_per_minute"] == 20
    changed = client.put("/v1/policy", json={"protection": {"allowed_countries": ["de"]}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["protection"]["allowed_countries"] == ["DE"]
    bad = client.put("/v1/policy", json={"protection": {"block_hours": 0}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "protection.block_hours"
    problem = client.get("/problems/destination-blocked").json()
    assert problem["status"] == 403
    spec = client.get("/openapi.json").json()
    assert {"get"} <= set(spec["paths"]["/v1/protection/blocks"])
    assert "delete" in spec["paths"]["/v1/protection/blocks/{block_id}"]
    assert "403" in spec["paths"]["/v1/verifications"]["post"]["responses"]


def test_a_resend_racing_a_new_start_of_the_same_contact_never_deadlocks(
        container, client, clock) -> None:
    """Both take the destination's lock before the challenge row (PostgreSQL would otherwise
    abort one of them as a deadlock: start holds the contact and the destination and cancels
    the open challenge; resend held that challenge and waited for the destination)."""
    from contactguard.errors import VerificationClosed

    deps = container.deps
    for round_ in range(8):
        external_id = f"dl{round_}"
        make_account(client, external_id, country="DE", email=None,
                     phone=number(PREFIX_B, 100 + round_))
        first = verification.start_verification(deps, account=external_id,
                                                 contact=ContactKind.EMERGENCY_PHONE)
        clock.advance(seconds=31)
        barrier = threading.Barrier(2)

        def restart(external_id: str = external_id) -> str:
            barrier.wait()
            verification.start_verification(deps, account=external_id,
                                             contact=ContactKind.EMERGENCY_PHONE)
            return "started"

        def resend(challenge_id: str = first.id) -> str:
            barrier.wait()
            verification.resend_code(deps, challenge_id)
            return "resent"

        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(restart), pool.submit(resend)]
            outcomes = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except (RateLimited, VerificationClosed):
                    outcomes.append("refused")
        assert outcomes.count("refused") == 1, (round_, outcomes)


def test_blocks_from_the_command_line(build, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from contactguard.entrypoints import protection_cli
    # the module's console measured its width at import (80 under pytest-xdist): widen it
    monkeypatch.setattr(protection_cli.out, "width", 200)

    from contactguard.entrypoints.cli import app as cli_app
    from tests.conftest import SECRET

    container = build()
    protect(container, prefix_unverified_limit=1)
    client = api(container)
    for n in range(2):
        make_account(client, f"cli{n}", country="DE", email=None, phone=number(PREFIX_A, n))
    assert start(client, "cli0", "emergency_phone", "sms").status_code == 201
    assert start(client, "cli1", "emergency_phone", "sms").json()["reason"] == "prefix_velocity"
    block_id = client.get("/v1/protection/blocks").json()["data"][0]["id"]
    env = {"CONTACTGUARD_DATABASE_URL": container.settings.database_url,
           "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_VAR_DIR": str(tmp_path / "var"),
           "CONTACTGUARD_DEV": None, "CONTACTGUARD_LOG_JSON": "1", "COLUMNS": "200"}
    runner = CliRunner()
    # --all: the command runs on the real clock, the block on the test's frozen one
    listed = runner.invoke(cli_app, ["protection", "blocks", "--all"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "+491511234" in listed.output and "prefix_velocity" in listed.output
    lifted = runner.invoke(cli_app, ["protection", "lift", str(block_id)], env=env)
    assert lifted.exit_code == 0 and "lifted" in lifted.output, lifted.output
    assert client.get("/v1/protection/blocks").json()["data"] == []
    missing = runner.invoke(cli_app, ["protection", "lift", "999999"], env=env)
    assert missing.exit_code == 1
    entries = client.get("/v1/audit", params={"subject": f"block:{block_id}"}).json()["data"]
    lift_entry = next(e for e in entries if e["action"] == "protection.block_lifted")
    assert lift_entry["actor"]["kind"] == "cli"
