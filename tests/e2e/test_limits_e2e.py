"""Shared limits across processes (issue 11): two ``contactguard serve`` processes on one
database and one Redis. A per-address limit is counted once for both; an SMS-pumping run
of 200 numbers of one prefix, spread over both processes, gets at most 30 codes out."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from contactguard.adapters.db import tables as t
from tests.e2e.conftest import Cli, running_server

PREFIX = "+49151123"
OTHER = "+49151987"


@pytest.mark.slow
def test_two_processes_share_limits_and_stop_a_pumping_run(cli: Cli, tmp_path: Path,
                                                           redis_url: str) -> None:
    policy = tmp_path / "contactguard.toml"
    policy.write_text("[policy.protection]\nlogin_ip_per_minute = 4\n")
    env = {**cli.env, "CONTACTGUARD_DEV": "1", "CONTACTGUARD_INPROCESS_WORKER": "1",
           "CONTACTGUARD_RATE_LIMITS": "on", "CONTACTGUARD_REDIS_URL": redis_url,
           "CONTACTGUARD_REDIS_PREFIX": f"cg-e2e-{secrets.token_hex(4)}",
           "CONTACTGUARD_POLICY_FILE": str(policy)}
    with ExitStack() as stack:
        (a, key), (b, _) = (stack.enter_context(running_server(env, tmp_path / f"{n}.log"))
                            for n in ("a", "b"))
        # one sign-in limit for both processes: 4 attempts in all, then 429 on either
        answers = [httpx.get(f"{base}/seller/session/not-a-token", follow_redirects=False)
                   for base in (a, b, a, b, a, b)]
        assert [r.status_code == 429 for r in answers] == [False] * 4 + [True] * 2
        refused = answers[-1]
        assert refused.headers["RateLimit-Policy"] == '"login_ip";q=4;w=60'
        assert refused.headers["RateLimit"].startswith('"login_ip";r=0;t=')
        assert 1 <= int(refused.headers["Retry-After"]) <= 60

        headers = {"Authorization": f"Bearer {key}"}
        clients = [httpx.Client(base_url=base, headers=headers, timeout=30) for base in (a, b)]
        def create(n: int) -> int:
            return clients[n % 2].post("/v1/accounts", json={
                "external_id": f"pump-{n}", "name": "Pump", "country": "DE",
                "contacts": {"emergency_phone": f"{PREFIX}4{n:04d}"}}).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(create, range(200))) == {201}

        def attack(n: int) -> int:
            return clients[n % 2].post("/v1/verifications", json={
                "account": f"pump-{n}", "contact": "emergency_phone", "channel": "sms"}
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(attack, range(200)))
        assert set(statuses) == {201, 403}
        assert statuses.count(201) <= 30, statuses.count(201)

        created = clients[1].post("/v1/accounts", json={
            "external_id": "honest", "name": "Honest", "country": "DE",
            "contacts": {"emergency_phone": f"{OTHER}40001"}})
        assert created.status_code == 201
        honest = clients[0].post("/v1/verifications", json={
            "account": "honest", "contact": "emergency_phone", "channel": "sms"})
        assert honest.status_code == 201, honest.text
        blocks = clients[1].get("/v1/protection/blocks").json()["data"]
        assert [blk["prefix"] for blk in blocks] == [f"{PREFIX}4"]
        for client in clients:
            client.close()

    engine = create_engine(cli.env["CONTACTGUARD_DATABASE_URL"])
    with engine.connect() as conn:
        sends = conn.execute(select(func.count()).select_from(t.verification_sends).where(
            t.verification_sends.c.destination.startswith(PREFIX))).scalar_one()
    engine.dispose()
    assert sends == statuses.count(201)
