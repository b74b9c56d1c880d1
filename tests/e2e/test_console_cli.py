"""Console operators with the real ``contactguard`` executable (SQLite and PostgreSQL), and the
dev server's demo operators as `make run` prints them."""

from __future__ import annotations

import json
import re

import httpx
import pyotp

from tests.e2e.conftest import Cli, Server


def _listed(cli: Cli) -> dict[str, dict]:
    return {o["email"]: o for o in json.loads(cli("operators", "list", "--json").stdout)}


def test_operators_from_the_command_line(cli: Cli) -> None:
    created = cli("operators", "create", "--email", "Lead@Acme.example.com", "--role", "admin")
    password = created.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", password)
    assert "lead@acme.example.com (admin)" in created.stderr and "shown only now" in created.stderr
    listed = _listed(cli)["lead@acme.example.com"]
    assert (listed["role"], listed["active"], listed["totp_enrolled"],
            listed["must_change_password"]) == ("admin", True, False, True)

    bad = cli("operators", "create", "--email", "nope", "--role", "root", check=False)
    assert bad.returncode == 1 and "role: admin or support" in bad.stderr and "email:" in bad.stderr
    last = cli("operators", "disable", "lead@acme.example.com", check=False)
    assert last.returncode == 1 and "last active admin" in last.stderr
    cli("operators", "create", "--email", "agent@acme.example.com", "--role", "support")
    assert "disabled operator" in cli("operators", "disable", "agent@acme.example.com").stdout

    reset = cli("operators", "reset-password", str(listed["id"]))
    assert reset.stdout.strip() != password and "shown only now" in reset.stderr
    audit = cli("audit", "list", "--json").stdout
    for action in ("operator.created", "operator.disabled", "operator.password_reset"):
        assert f'"{action}"' in audit, action


def test_make_run_prints_the_console_and_its_demo_operators(dev_server: Server) -> None:
    output = dev_server.output.read_text()
    assert f"{dev_server.base_url}/console" in output
    secret = re.search(r"TOTP secret ([A-Z2-7]{32})", output).group(1)
    password = re.search(r"password (dev-\S+),", output).group(1)
    with httpx.Client(base_url=dev_server.base_url) as client:
        login = client.get("/console/login")
        assert "admin@console.example.com" in login.text and secret in login.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        step = client.post("/console/login", data={
            "csrf_token": csrf, "email": "admin@console.example.com", "password": password})
        assert step.status_code == 303 and step.headers["location"] == "/console/login/code"
        done = client.post("/console/login/code", data={
            "csrf_token": csrf, "code": pyotp.TOTP(secret).now()})
        assert done.headers["location"] == "/console"
        dashboard = client.get("/console")
        assert dashboard.status_code == 200 and 'id="total-accounts">3<' in dashboard.text
