"""``contactguard check-message`` as a real process, and the checker over real HTTP: an email
sent by ``make run`` (dev SMTP server, DKIM with the dev keys) is genuine; tampered, it is
phishing; exit codes say which."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Cli, Server
from tests.e2e.test_server import wait_for_message

PHISH = """From: ContactGuard Security <security@contactguard-verify.example>
Reply-To: verify.contactguard@gmail.com
Subject: Your emergency contact is missing or invalid

Dear seller, your emergency contact is missing or invalid. Update it under Settings >
Account Info, then reply to this email with your login password and the 6-digit code.
"""


@pytest.fixture
def cli(cli: Cli) -> Cli:
    if not cli.env["CONTACTGUARD_DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the CLI runs once (SQLite); the checker's storage is tested on both "
                    "databases in tests/integration/test_checker_api.py")
    return cli


def test_dev_mail_checked_by_cli_and_api(dev_server: Server, cli: Cli, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {dev_server.api_key}"}
    with httpx.Client(base_url=dev_server.base_url, headers=headers) as client:
        created = client.post("/v1/verifications", json={"account": "demo-landline",
                                                         "contact": "emergency_email"})
        assert created.status_code == 201, created.text
        message = wait_for_message(client, "owner@lotus-tea.example.com")
        raw = client.get(f"/v1/dev/messages/{message['id']}/raw").content
        answer = client.post("/v1/messages/check", content=raw,
                             headers={"Content-Type": "message/rfc822"}).json()
        assert answer["verdict"] == "genuine", answer
        assert answer["matched"]["reference"] == message["reference"]
        chinese = client.post("/v1/messages/check", content=PHISH.encode(),
                              headers={"Content-Type": "message/rfc822",
                                       "Accept-Language": "zh-CN"}).json()
        assert chinese["verdict"] == "phishing"
        assert "回复" in {r["code"]: r["message"] for r in chinese["reasons"]}["asks_for_reply"]

    env = {**cli.env, "CONTACTGUARD_DEV": "1"}  # the same database, var/ and dev DKIM keys
    dev = Cli(env)
    genuine = tmp_path / "genuine.eml"
    genuine.write_bytes(raw)
    result = dev("check-message", str(genuine), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Genuine" in result.stdout and message["reference"] in result.stdout
    as_json = json.loads(dev("check-message", str(genuine), "--json").stdout)
    assert as_json["verdict"] == "genuine" and as_json["matched"]["channel"] == "email"

    tampered = tmp_path / "tampered.eml"
    tampered.write_bytes(raw.replace(b"Subject: ", b"Subject: URGENT ", 1))
    result = dev("check-message", str(tampered), "--json", check=False)
    assert result.returncode == 1
    codes = [r["code"] for r in json.loads(result.stdout)["reasons"]]
    assert "dkim_invalid" in codes

    phish = tmp_path / "phish.eml"
    phish.write_text(PHISH)
    result = dev("check-message", str(phish), "--lang", "zh-Hans", check=False)
    assert result.returncode == 1 and "钓鱼" in result.stdout
    assert "lookalike_domain" in result.stdout and "asks_for_reply" in result.stdout

    reference = dev("check-message", "--reference", message["reference"], "--json")
    assert json.loads(reference.stdout)["verdict"] == "genuine"


def test_cli_exit_codes_for_unrelated_and_unreadable_input(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    note = tmp_path / "note.txt"
    note.write_text("Hi, lunch on Friday? Let me know.")
    assert cli("check-message", str(note), "--text", check=False).returncode == 3
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    result = cli("check-message", str(garbage), check=False)
    assert result.returncode == 2 and "not an email message" in result.stderr
    missing = cli("check-message", str(tmp_path / "missing.eml"), check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert cli("check-message", check=False).returncode == 2
    bad = cli("check-message", "--reference", "nope", check=False)
    assert bad.returncode == 2 and "reference" in bad.stderr
