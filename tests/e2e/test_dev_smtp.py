"""``make run``: emails go over real SMTP, DKIM-signed, to the embedded server and are captured."""

from __future__ import annotations

from pathlib import Path

import dkim
import httpx

from contactguard.adapters.delivery.dkim import load_keys
from tests.conftest import code_in
from tests.e2e.conftest import Server
from tests.e2e.test_server import wait_for_message


def test_dev_email_is_dkim_signed_smtp_captured_with_raw_bytes(dev_server: Server) -> None:
    output = dev_server.output.read_text()
    assert "Dev SMTP server: smtp://127.0.0.1:" in output
    headers = {"Authorization": f"Bearer {dev_server.api_key}"}
    with httpx.Client(base_url=dev_server.base_url, headers=headers) as client:
        created = client.post("/v1/verifications", json={"account": "demo-landline",
                                                         "contact": "emergency_email"})
        assert created.status_code == 201, created.text
        message = wait_for_message(client, "owner@lotus-tea.example.com")
        assert message["channel"] == "email" and message["subject"]
        assert message["html"] and message["reference"]
        assert message["reference"] in message["body"]
        result = client.post(f"/v1/verifications/{created.json()['id']}/check",
                             json={"code": code_in(message["body"])}).json()
        assert result["status"] == "approved"
        raw = client.get(f"/v1/dev/messages/{message['id']}/raw")
        assert raw.headers["content-type"] == "message/rfc822"
        assert client.get("/v1/dev/messages/999999/raw").status_code == 404
        metrics = client.get("/metrics").text
    assert 'contactguard_messages_sent_total{channel="email",provider="smtp"} 1.0' in metrics
    var = Path(dev_server.output).parent / "var" / "dkim"
    keys = load_keys(",".join(f"{p.stem}={p}" for p in sorted(var.glob("*.pem"))))
    records = {f"{k.selector}._domainkey.contactguard.localhost.".encode():
               k.public_record().encode() for k in keys}
    verifier = dkim.DKIM(raw.content)
    assert raw.content.count(b"DKIM-Signature:") == 2
    for idx in (0, 1):
        assert verifier.verify(idx=idx, dnsfunc=lambda name, timeout=5: records.get(name))


def test_dev_smtp_starts_quietly_and_takes_internationalized_addresses(
        dev_server: Server) -> None:
    """aiosmtpd logged every session ("Connection lost during _handle_client()" when one
    ends, each command with the full recipient address); the server offers SMTPUTF8."""
    headers = {"Authorization": f"Bearer {dev_server.api_key}"}
    with httpx.Client(base_url=dev_server.base_url, headers=headers) as client:
        created = client.post("/v1/accounts", json={
            "external_id": "seller-ru", "name": "Лавка", "country": "RU",
            "contacts": {"emergency_email": "пользователь@пример.рф"}})
        assert created.status_code == 201, created.text
        started = client.post("/v1/verifications", json={"account": "seller-ru",
                                                         "contact": "emergency_email"})
        assert started.status_code == 201, started.text
        message = wait_for_message(client, "пользователь@xn--e1afmkfd.xn--p1ai")
        assert message["channel"] == "email"
    output = dev_server.output.read_text()
    assert "Connection lost" not in output and "mail.log" not in output
    assert "xn--e1afmkfd" not in output and "пользователь" not in output  # no addresses
