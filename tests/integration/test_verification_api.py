"""One-time-code verification over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contactguard.adapters.crypto import FernetSecretBox, HmacCodeHasher, derive_key
from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.errors import ConfigurationError
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import SECRET, deliver, latest_code
from tests.integration.conftest import MOBILE_GB, make_account, start

LANDLINE = "+861065529988"
EMAIL = "owner@lotus.example.com"


def check(client: TestClient, challenge_id: str, code: str):
    return client.post(f"/v1/verifications/{challenge_id}/check", json={"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_landline_cannot_get_sms_but_verifies_by_voice(client, container, sender) -> None:
    make_account(client)
    refused = start(client, "seller-1", "emergency_phone", "sms")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "/problems/channel-not-allowed"
    assert "'voice'" in problem["detail"] and "fixed line" in problem["detail"]
    assert problem["errors"][0]["field"] == "channel"

    started = start(client, "seller-1", "emergency_phone", "voice")
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["status"], body["channel"], body["attempts_left"]) == ("pending", "voice", 5)
    assert body["to"] == "+86 ••• ••• 9988"
    assert started.headers["location"] == f"/v1/verifications/{body['id']}"

    code = latest_code(container, sender, LANDLINE)
    script = sender.to(LANDLINE)[-1].body
    spoken = ", ".join(code)
    assert script.count(spoken) == 2  # digit by digit, twice
    approved = check(client, body["id"], code).json()
    assert approved["status"] == "approved"
    phone = client.get("/v1/accounts/seller-1").json()["contacts"][1]
    assert phone["status"] == "verified"
    assert phone["verified_channel"] == "voice"
    assert phone["verified_at"] is not None


def test_default_channel_follows_the_line_type(client) -> None:
    make_account(client)
    assert start(client, "seller-1", "emergency_phone").json()["channel"] == "voice"
    assert start(client, "seller-1", "emergency_email").json()["channel"] == "email"
    assert start(client, "seller-1", "emergency_email", "sms").status_code == 422


def test_mobile_verifies_by_sms_with_an_origin_bound_message(client, container, sender) -> None:
    make_account(client, "m1", country="GB", phone=MOBILE_GB, locale="en-GB")
    body = start(client, "m1", "emergency_phone", "sms").json()
    code = latest_code(container, sender, "+447911123456")
    sms = sender.to("+447911123456")[-1].body
    assert sms.startswith("Acme Market:")
    assert "will never ask you for this code" in sms
    assert sms.splitlines()[-1] == f"@sellers.acme.test #{code}"
    assert check(client, body["id"], code).json()["status"] == "approved"


def test_email_verifies_by_code_in_the_account_language(client, container, sender) -> None:
    make_account(client, locale="zh-Hans")
    body = start(client, "seller-1", "emergency_email").json()
    code = latest_code(container, sender, EMAIL)
    email = sender.to(EMAIL)[-1]
    assert email.subject == "您的 Acme Market 验证码"
    assert "绝不会" in email.body and code in email.body
    assert "http" not in email.body  # no links in a code email
    assert check(client, body["id"], code).json()["status"] == "approved"


def test_five_wrong_codes_lock_the_challenge(client, container, sender) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    code = latest_code(container, sender, EMAIL)
    for left in (4, 3, 2, 1):
        result = check(client, body["id"], wrong(code)).json()
        assert (result["status"], result["attempts_left"]) == ("pending", left)
        assert result["detail"] == "Invalid or expired code."
    assert check(client, body["id"], wrong(code)).json()["status"] == "locked"
    after = check(client, body["id"], code).json()  # the right code no longer works
    assert (after["status"], after["attempts_left"]) == ("locked", 0)
    assert client.post(f"/v1/verifications/{body['id']}/resend").status_code == 409


def test_code_expires_ten_minutes_after_it_is_sent(client, container, sender,
                                                   clock: FrozenClock) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    code = latest_code(container, sender, EMAIL)
    clock.advance(minutes=9, seconds=59)
    assert client.get(f"/v1/verifications/{body['id']}").json()["status"] == "pending"
    clock.advance(seconds=1)
    result = check(client, body["id"], code).json()
    assert (result["status"], result["detail"]) == ("expired", "Invalid or expired code.")
    assert result["attempts_left"] == 5  # an expired challenge does not count attempts


def test_resend_replaces_the_code_and_honours_cooldowns(client, container, sender,
                                                        clock: FrozenClock) -> None:
    codes = ["482913", "105377", "771046"]  # distinct, so each old code is surely tried
    container.deps.new_code = iter(codes).__next__
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    assert latest_code(container, sender, EMAIL) == codes[0]
    too_soon = client.post(f"/v1/verifications/{body['id']}/resend")
    assert too_soon.status_code == 429
    assert too_soon.headers["retry-after"] == "30"
    assert too_soon.json()["retry_after"] == 30
    # A new verification for the same contact is held to the same cooldown.
    assert start(client, "seller-1", "emergency_email").status_code == 429

    clock.advance(seconds=30)
    resent = client.post(f"/v1/verifications/{body['id']}/resend")
    assert resent.status_code == 200, resent.text
    assert latest_code(container, sender, EMAIL) == codes[1]
    assert client.post(f"/v1/verifications/{body['id']}/resend").headers["retry-after"] == "60"
    clock.advance(seconds=60)
    assert client.post(f"/v1/verifications/{body['id']}/resend").status_code == 200
    assert latest_code(container, sender, EMAIL) == codes[2]
    assert client.post(f"/v1/verifications/{body['id']}/resend").headers["retry-after"] == "120"
    assert len(sender.to(EMAIL)) == 3  # one message per accepted send, none for refusals
    for old in codes[:2]:  # each old code is dead, and trying it uses up an attempt
        dead = check(client, body["id"], old).json()
        assert (dead["status"], dead["detail"]) == ("pending", "Invalid or expired code.")
    approved = check(client, body["id"], codes[2]).json()
    assert (approved["status"], approved["attempts_left"]) == ("approved", 2)


def test_at_most_five_codes_per_contact_per_hour(client, container, clock: FrozenClock) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    for _ in range(4):
        clock.advance(seconds=120)
        assert client.post(f"/v1/verifications/{body['id']}/resend").status_code == 200
    clock.advance(seconds=120)
    capped = client.post(f"/v1/verifications/{body['id']}/resend")
    assert capped.status_code == 429
    # The first send was 10 minutes ago: the next one fits when it leaves the hour window.
    assert int(capped.headers["retry-after"]) == 50 * 60


def test_a_used_code_cannot_be_used_again(client, container, sender) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    code = latest_code(container, sender, EMAIL)
    assert check(client, body["id"], code).json()["status"] == "approved"
    again = check(client, body["id"], code)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/verification-closed"


def test_malformed_codes_and_unknown_ids(client) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    bad = check(client, body["id"], "12ab56")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "code"
    assert client.get(f"/v1/verifications/{body['id']}").json()["attempts_left"] == 5
    assert check(client, "vrf_nope", "123456").status_code == 404
    unknown = start(client, "ghost", "emergency_email")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == "/problems/account-not-found"
    bad_kind = client.post("/v1/verifications", json={"account": "seller-1", "contact": "fax"})
    assert bad_kind.status_code == 422


def test_missing_contact_says_how_to_add_it(client) -> None:
    make_account(client, phone=None)
    response = start(client, "seller-1", "emergency_phone")
    assert response.status_code == 404
    assert "PUT /v1/accounts/seller-1/contacts/emergency_phone" in response.json()["detail"]


def test_codes_are_stored_only_hashed_and_encrypted(client, container: Container,
                                                    sender: RecordingSender) -> None:
    make_account(client)
    body = start(client, "seller-1", "emergency_email").json()
    with container.engine.connect() as conn:
        challenge = conn.execute(select(t.challenges)).one()
        queued = conn.execute(select(t.outbox)).one()
    code = latest_code(container, sender, EMAIL)
    assert body["id"] == challenge.id
    # The hash is HMAC-SHA256 keyed from the secret key, over "<challenge id>:<code>".
    key = derive_key(SECRET, "otp-hash/v1")
    message = f"{challenge.id}:{code}".encode()
    assert challenge.code_hash == hmac.new(key, message, hashlib.sha256).hexdigest()
    assert challenge.code_hash != hashlib.sha256(message).hexdigest()
    assert HmacCodeHasher(SECRET + "-other").hash(challenge.id, code) != challenge.code_hash
    # The code waits in the outbox sealed: the box opens it, a box of another key cannot.
    assert code not in json.dumps(queued.params) and code not in queued.secret
    assert json.loads(FernetSecretBox(SECRET).open(queued.secret))["code"] == code
    with pytest.raises(ConfigurationError):
        FernetSecretBox(SECRET + "-other").open(queued.secret)
    with container.engine.connect() as conn:
        delivered = conn.execute(select(t.outbox)).one()
    assert delivered.status == "sent" and delivered.secret is None  # wiped after sending


def test_a_code_that_would_arrive_after_expiry_is_not_sent(client, container, sender,
                                                           clock: FrozenClock) -> None:
    make_account(client)
    start(client, "seller-1", "emergency_email")
    clock.advance(minutes=11)
    deliver(container)
    assert sender.to(EMAIL) == []
    with container.engine.connect() as conn:
        assert conn.execute(select(t.outbox.c.status)).scalar_one() == "expired"


def test_idempotent_start_sends_one_code(client, container, sender) -> None:
    make_account(client)
    payload = {"account": "seller-1", "contact": "emergency_email"}
    first = client.post("/v1/verifications", json=payload, headers={"Idempotency-Key": "v1"})
    second = client.post("/v1/verifications", json=payload, headers={"Idempotency-Key": "v1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    deliver(container)
    assert len(sender.to(EMAIL)) == 1
