"""SMS and voice through a local server that speaks Twilio's REST API; failover; callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from contactguard.adapters.db import tables as t
from contactguard.adapters.delivery.twilio import twilio_signature
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key
from contactguard.services.delivery import deliver_due
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import FrozenClock
from tests.conftest import _truncate, make_settings
from tests.integration.conftest import make_account

SID, TOKEN = "AC" + "0" * 32, "twilio-test-auth-token"
GATEWAY_SECRET = "gateway-secret-0123456789"
LANDLINE_US = "+14155550100"  # the fake provider knows it is a landline
MOBILE_US = "+14155550123"


class FakeProvider(ThreadingHTTPServer):
    """Twilio's Messages and Calls APIs (Basic auth, form bodies, JSON answers) and a gateway."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict]] = []
        self.gateway: list[tuple[dict, str]] = []
        self.twilio_status = 201  # set to 503 to simulate an outage
        self.landlines = {LANDLINE_US}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeProvider

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/gateway":
            self.server.gateway.append((json.loads(raw), self.headers["X-ContactGuard-Signature"]))
            return self._answer(202, {"id": f"gw-{len(self.server.gateway)}"})
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.headers["Authorization"] != expected:
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        resource = self.path.rsplit("/", 1)[-1]
        self.server.requests.append((resource, form))
        if self.server.twilio_status >= 500:
            return self._answer(503, {"code": 20500, "message": "Service unavailable",
                                      "status": 503})
        if resource == "Messages.json" and form["To"] in self.server.landlines:
            return self._answer(400, {
                "code": 21614, "message": f"'To' number {form['To']} is not a valid mobile number",
                "more_info": "https://www.twilio.com/docs/errors/21614", "status": 400})
        prefix = "SM" if resource == "Messages.json" else "CA"
        self._answer(201, {"sid": f"{prefix}{len(self.server.requests):032d}", "status": "queued"})


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _container(database_url: str, tmp_path: Path, clock: FrozenClock, provider: FakeProvider,
               **overrides: object) -> Container:
    _truncate(database_url)
    settings = make_settings(
        database_url, tmp_path, twilio_account_sid=SID, twilio_auth_token=TOKEN,
        twilio_from_number="+15005550006", twilio_base_url=provider.base_url, **overrides)
    return bootstrap(settings, clock=clock, start_worker=False)


@pytest.fixture
def phone(database_url: str, tmp_path: Path, clock: FrozenClock,
          provider: FakeProvider) -> Iterator[tuple[Container, TestClient]]:
    container = _container(database_url, tmp_path, clock, provider)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = "Bearer " + create_api_key(container.deps, "t").secret
        yield container, client
    container.close()


def _drain(container: Container) -> None:
    while deliver_due(container.deps, container.transports, owner="test").claimed:
        pass


def _rows(container: Container):
    with container.engine.connect() as conn:
        return list(conn.execute(select(t.outbox).order_by(t.outbox.c.id)))


def test_sms_and_voice_go_through_the_twilio_api(phone, provider: FakeProvider) -> None:
    container, client = phone
    make_account(client, "s-us", country="US", phone=MOBILE_US, email=None)
    make_account(client, "s-cn", phone="+86 10 6552 9988", email=None, locale="zh-Hans")
    by_sms = start_verification(container.deps, account="s-us",
                                contact=ContactKind.EMERGENCY_PHONE, channel=Channel.SMS)
    by_call = start_verification(container.deps, account="s-cn",
                                 contact=ContactKind.EMERGENCY_PHONE)
    _drain(container)
    (sms_kind, sms), (call_kind, call) = provider.requests
    assert sms_kind == "Messages.json" and sms["To"] == MOBILE_US
    assert sms["From"] == "+15005550006"
    # Origin-bound (WebOTP) form on the last line: the code in it is the one that verifies.
    bound = re.search(r"^@sellers\.acme\.test #(\d{6})$", sms["Body"], re.MULTILINE)
    assert bound and bound.end() == len(sms["Body"].rstrip("\n")), sms["Body"]
    assert check_code(container.deps, by_sms.id, bound.group(1)).status.value == "approved"
    spoken = re.search(r"<Say[^>]*>.*?(\d(?:, \d){5})", call["Twiml"], re.DOTALL)
    assert spoken, call["Twiml"]
    assert check_code(container.deps, by_call.id, spoken.group(1).replace(", ", "")
                      ).status.value == "approved"
    assert sms["StatusCallback"] == "https://sellers.acme.test/v1/providers/twilio/status"
    assert call_kind == "Calls.json" and call["To"] == "+861065529988"
    assert call["Twiml"].startswith('<Response><Say language="zh-CN">')
    sms_row, call_row = _rows(container)
    assert (sms_row.status, sms_row.provider) == ("sent", "twilio")
    assert sms_row.provider_message_id.startswith("SM")
    assert call_row.provider_message_id.startswith("CA")


def test_sms_to_a_landline_fails_permanently_and_marks_the_contact(
        phone, provider: FakeProvider) -> None:
    container, client = phone
    make_account(client, "s-land", country="US", phone=LANDLINE_US, email=None)
    start_verification(container.deps, account="s-land", contact=ContactKind.EMERGENCY_PHONE,
                       channel=Channel.SMS)
    _drain(container)
    [row] = _rows(container)
    assert row.status == "failed" and row.attempts == 1  # not retried
    assert row.last_error.startswith("twilio HTTP 400 error 21614: the number is a landline or "
                                     "otherwise cannot receive SMS")
    [contact] = client.get("/v1/accounts/s-land").json()["contacts"]
    assert [m["channel"] for m in contact["undeliverable_channels"]] == ["sms"]
    assert contact["status"] == "pending"  # not "undeliverable": a voice call can still reach it
    assert "21614" in contact["undeliverable_channels"][0]["reason"]


def test_outage_fails_over_to_the_second_provider(database_url: str, tmp_path: Path,
                                                  clock: FrozenClock,
                                                  provider: FakeProvider) -> None:
    container = _container(database_url, tmp_path, clock, provider,
                           gateway_url=provider.base_url + "/gateway",
                           gateway_secret=GATEWAY_SECRET, sms_providers="twilio,gateway")
    try:
        provider.twilio_status = 503
        with TestClient(create_app(container)) as client:
            client.headers["Authorization"] = "Bearer " + create_api_key(container.deps,
                                                                         "t").secret
            make_account(client, "s-us", country="US", phone=MOBILE_US, email=None)
        start_verification(container.deps, account="s-us", contact=ContactKind.EMERGENCY_PHONE,
                           channel=Channel.SMS)
        _drain(container)
    finally:
        container.close()
    assert len(provider.requests) == 1  # twilio was tried first
    [(payload, signature)] = provider.gateway
    assert payload["to"] == MOBILE_US and payload["channel"] == "sms"
    timestamp = signature.split(",")[0][2:]
    body = json.dumps(payload, ensure_ascii=False).encode()
    expected = hmac.new(GATEWAY_SECRET.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    assert signature == f"t={timestamp},v1={expected}"
    [row] = _rows(container)
    assert (row.status, row.provider, row.provider_message_id) == ("sent", "gateway", "gw-1")


def test_our_signature_matches_twilios_validator() -> None:
    url = "https://sellers.acme.test/v1/providers/twilio/status"
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+14155550123",
              "AccountSid": SID}
    validator = RequestValidator(TOKEN)
    assert twilio_signature(TOKEN, url, params) == validator.compute_signature(url, params)


def test_status_callbacks_are_recorded_only_when_signed(phone, provider: FakeProvider) -> None:
    container, client = phone
    make_account(client, "s-us", country="US", phone=MOBILE_US, email=None)
    start_verification(container.deps, account="s-us", contact=ContactKind.EMERGENCY_PHONE,
                       channel=Channel.SMS)
    _drain(container)
    [row] = _rows(container)
    url = "https://sellers.acme.test/v1/providers/twilio/status"
    params = {"MessageSid": row.provider_message_id, "MessageStatus": "undelivered",
              "ErrorCode": "30006", "AccountSid": SID}
    good = RequestValidator(TOKEN).compute_signature(url, params)
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    path = "/v1/providers/twilio/status"
    refused = client.post(path, data=params, headers={"X-Twilio-Signature": forged})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/invalid-signature")
    assert client.post(path, data=params).status_code == 403
    assert client.post(path, data=params, headers={"X-Twilio-Signature": good}).status_code == 204
    with container.engine.connect() as conn:
        receipts = list(conn.execute(select(t.delivery_receipts)))
    assert [(r.outbox_id, r.status, r.error_code) for r in receipts] == [
        (row.id, "undelivered", "30006")]
    [contact] = client.get("/v1/accounts/s-us").json()["contacts"]
    assert [m["channel"] for m in contact["undeliverable_channels"]] == ["sms"]
    unknown = {**params, "MessageSid": "SM-unknown"}
    signed = RequestValidator(TOKEN).compute_signature(url, unknown)
    assert client.post(path, data=unknown,
                       headers={"X-Twilio-Signature": signed}).status_code == 404
