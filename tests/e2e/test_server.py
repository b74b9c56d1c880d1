"""The dev server over real HTTP, as a new user drives it with curl."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.conftest import code_in
from tests.e2e.conftest import Cli, Server, running_server


def wait_for_message(client: httpx.Client, to: str, seen: int = 0, timeout: float = 10) -> dict:
    """Poll the dev capture until a message beyond the first ``seen`` ones arrives for ``to``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = client.get("/v1/dev/messages", params={"to": to}).json()["data"]
        if len(messages) > seen:
            return messages[0]
        time.sleep(0.05)
    raise AssertionError(f"no message reached {to} within {timeout} s")


def test_make_run_prints_urls_and_serves_demo_sellers(dev_server: Server) -> None:
    output = dev_server.output.read_text()
    assert f"{dev_server.base_url}/docs" in output
    assert "demo-landline" in output
    assert dev_server.api_key not in output  # the key itself is only in var/dev_api_key
    with httpx.Client(base_url=dev_server.base_url,
                      headers={"Authorization": f"Bearer {dev_server.api_key}"}) as client:
        assert client.get("/openapi.json").json()["info"]["title"] == "ContactGuard"
        demo = client.get("/v1/accounts/demo-landline").json()
        assert demo["contacts"][1]["line_type"] == "fixed_line"


def test_full_verification_flow_over_http(dev_server: Server) -> None:
    headers = {"Authorization": f"Bearer {dev_server.api_key}"}
    with httpx.Client(base_url=dev_server.base_url, headers=headers) as client:
        assert client.post("/v1/accounts", json={
            "external_id": "e2e-1", "name": "Harbour Tea", "country": "CN",
            "contacts": {"emergency_phone": "010 6552 9988",
                         "emergency_email": "e2e@example.com"}}).status_code == 201
        sms = client.post("/v1/verifications", json={"account": "e2e-1",
                                                     "contact": "emergency_phone",
                                                     "channel": "sms"})
        assert sms.status_code == 422 and "voice" in sms.json()["detail"]

        voice = client.post("/v1/verifications", json={"account": "e2e-1",
                                                       "contact": "emergency_phone",
                                                       "channel": "voice"}).json()
        message = wait_for_message(client, "+861065529988")
        assert message["channel"] == "voice"
        result = client.post(f"/v1/verifications/{voice['id']}/check",
                             json={"code": code_in(message["body"])}).json()
        assert result["status"] == "approved"

        resend = client.post(f"/v1/verifications/{voice['id']}/resend")
        assert resend.status_code == 409  # approved: nothing to resend

        email = client.post("/v1/verifications", json={"account": "e2e-1",
                                                       "contact": "emergency_email"}).json()
        too_soon = client.post(f"/v1/verifications/{email['id']}/resend")
        assert too_soon.status_code == 429
        assert 1 <= int(too_soon.headers["retry-after"]) <= 30
        code = code_in(wait_for_message(client, "e2e@example.com")["body"])
        assert client.post(f"/v1/verifications/{email['id']}/check",
                           json={"code": code}).json()["status"] == "approved"
        account = client.get("/v1/accounts/e2e-1").json()
        assert {c["status"] for c in account["contacts"]} == {"verified"}


def test_twenty_parallel_checks_over_http_approve_once(dev_server: Server) -> None:
    headers = {"Authorization": f"Bearer {dev_server.api_key}"}
    with httpx.Client(base_url=dev_server.base_url, headers=headers) as client:
        client.post("/v1/accounts", json={"external_id": "race-1", "name": "Race", "country": "US",
                                          "contacts": {"emergency_email": "race@example.com"}})
        challenge = client.post("/v1/verifications", json={
            "account": "race-1", "contact": "emergency_email"}).json()
        code = code_in(wait_for_message(client, "race@example.com")["body"])

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=dev_server.base_url, headers=headers) as client:
            return await asyncio.gather(*[
                client.post(f"/v1/verifications/{challenge['id']}/check", json={"code": code})
                for _ in range(20)])

    responses = asyncio.run(race())
    approved = [r for r in responses if r.status_code == 200 and r.json()["status"] == "approved"]
    assert len(approved) == 1
    assert all(r.status_code < 500 for r in responses)


def test_bad_requests_get_problem_details(dev_server: Server) -> None:
    with httpx.Client(base_url=dev_server.base_url,
                      headers={"Authorization": f"Bearer {dev_server.api_key}"}) as client:
        broken = client.post("/v1/accounts", content=b"{nope",
                             headers={"content-type": "application/json"})
        assert broken.status_code == 400
        assert broken.headers["content-type"] == "application/problem+json"
        phone = client.post("/v1/accounts", json={"external_id": "x", "name": "X",
                                                  "country": "US",
                                                  "contacts": {"emergency_phone": "555"}})
        assert phone.status_code == 422
        assert phone.json()["errors"][0]["field"] == "contacts.emergency_phone"
        assert client.get("/v1/accounts/nobody").status_code == 404
        assert client.get("/nowhere").json()["type"] == "/problems/not-found"
        described = client.get("/problems/rate-limited").json()
        assert described["status"] == 429


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_serve_with_two_worker_processes_and_the_dev_smtp_child(cli: Cli, tmp_path: Path) -> None:
    """``contactguard serve --workers 2`` (issue 10): two uvicorn worker processes share the
    port, dev mode is prepared once, and the embedded SMTP server is a child process; a full
    flow (start, code from the dev inbox, check) works through them."""
    env = {**cli.env, "CONTACTGUARD_DEV": "1", "CONTACTGUARD_INPROCESS_WORKER": "1"}
    pids: list[int] = []
    with running_server(env, tmp_path / "server.log", ("--workers", "2"), pids) as (base, key):
        commands = [_cmdline(c) for c in _children(pids[0])]
        assert sum("spawn_main" in c for c in commands) == 2, commands
        assert sum("contactguard.adapters.delivery.dev_smtp" in c for c in commands) == 1
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers) as client:
            for _ in range(4):  # several connections: both workers answer
                assert client.get("/healthz").status_code == 200
            started = client.post("/v1/verifications", json={"account": "demo-landline",
                                                             "contact": "emergency_email"})
            assert started.status_code == 201, started.text
            message = wait_for_message(client, "owner@lotus-tea.example.com")
            checked = client.post(f"/v1/verifications/{started.json()['id']}/check",
                                  json={"code": code_in(message["body"])})
            assert checked.json()["status"] == "approved"
    output = (tmp_path / "server.log").read_text()
    assert output.count("ContactGuard is running in dev mode") == 1
