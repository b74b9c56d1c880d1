"""API key scopes (issue 11): every /v1 route declares one; keys only do what theirs allow."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from contactguard.bootstrap import Container
from contactguard.domain.apikeys import Scope
from contactguard.entrypoints.api.app import create_app
from contactguard.entrypoints.api.deps import ScopedRoute, scoped_routes
from contactguard.entrypoints.cli import app as cli_app
from contactguard.errors import ValidationFailed
from contactguard.services.apikeys import ApiKeyAuthenticator, create_api_key, list_api_keys
from tests.conftest import SECRET
from tests.integration.conftest import MOBILE_GB, make_account

#: /v1 routes that are not called with an operator API key, or only exist in dev mode.
EXEMPT = ("/v1/providers/", "/v1/dev/")


def _v1_routes(container: Container) -> list[ScopedRoute]:
    return [r for r in scoped_routes(create_app(container)) if r.path.startswith("/v1/")
            and not r.path.startswith(EXEMPT)]


def _key(container: Container, *scopes: str) -> str:
    return create_api_key(container.deps, "scoped", scopes=list(scopes)).secret


def _as(client: TestClient, secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _refused(response, scope: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["type"] == "/problems/insufficient-scope"
    assert body["required_scope"] == scope
    assert f"'{scope}' scope" in body["detail"]


def test_every_v1_route_declares_a_scope(container: Container) -> None:
    """New routes (from any branch) must say which scope they need, else this test fails."""
    routes = _v1_routes(container)
    assert len(routes) > 20
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if r.scope is None]
    assert undeclared == [], "declare a scope (ReadKey, WriteKey, SessionsKey, AdminKey)"
    changing = [r for r in routes if set(r.methods) - {"GET", "HEAD"}]
    assert changing and all(r.scope is not Scope.READ for r in changing)
    assert all(r.scope is Scope.READ for r in routes if set(r.methods) <= {"GET", "HEAD"}
               and not r.path.endswith("/audit/anchor"))


def test_read_only_key_cannot_change_anything(client: TestClient, container: Container) -> None:
    make_account(client, "seller-1", country="GB", email="ann@example.com", phone=MOBILE_GB)
    read = _as(client, _key(container, "read"))
    changing = [r for r in _v1_routes(container) if set(r.methods) - {"GET", "HEAD"}]
    for route in changing:
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in set(route.methods) - {"GET", "HEAD"}:
            response = client.request(method, path, json={}, headers=read)
            _refused(response, route.scope.value)  # type: ignore[union-attr]
    assert client.get("/v1/accounts/seller-1", headers=read).status_code == 200
    assert client.get("/v1/policy", headers=read).status_code == 200
    assert client.get("/v1/audit", headers=read).status_code == 200
    # nothing was changed by the refused requests
    assert client.get("/v1/webhooks").json()["data"] == []
    assert client.get("/v1/accounts/seller-1").json()["name"] == "Lotus Tea House"


def test_sessions_key_opens_seller_sessions_but_reads_nothing(client: TestClient,
                                                              container: Container) -> None:
    make_account(client, "seller-1", country="GB", email="ann@example.com", phone=MOBILE_GB)
    sessions = _as(client, _key(container, "sessions"))
    created = client.post("/v1/account_sessions", json={"account": "seller-1"}, headers=sessions)
    assert created.status_code == 201, created.text
    assert created.json()["url"].startswith("https://sellers.acme.test/")
    assert client.delete("/v1/account_sessions/seller-1", headers=sessions).status_code == 200
    _refused(client.get("/v1/accounts/seller-1", headers=sessions), "read")
    _refused(client.get("/v1/accounts/seller-1/contacts", headers=sessions), "read")
    _refused(client.post("/v1/accounts", json={"external_id": "s2", "name": "X", "country": "GB"},
                         headers=sessions), "write")
    # a write key is not enough for seller sessions: it is a scope of its own
    write = _as(client, _key(container, "write"))
    _refused(client.post("/v1/account_sessions", json={"account": "seller-1"}, headers=write),
             "sessions")
    _refused(client.delete("/v1/account_sessions/seller-1", headers=write), "sessions")


def test_write_key_reads_and_writes_but_does_not_administer(client: TestClient,
                                                            container: Container) -> None:
    write = _as(client, _key(container, "write"))
    created = client.post("/v1/accounts", headers=write, json={
        "external_id": "w1", "name": "Writer", "country": "GB"})
    assert created.status_code == 201, created.text
    assert client.get("/v1/accounts/w1", headers=write).status_code == 200  # write includes read
    _refused(client.put("/v1/policy", json={}, headers=write), "admin")
    _refused(client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x"},
                         headers=write), "admin")
    _refused(client.get("/v1/audit/anchor", headers=write), "admin")
    admin = _as(client, _key(container, "admin"))
    assert client.get("/v1/audit/anchor", headers=admin).status_code == 200
    _refused(client.get("/v1/accounts/w1", headers=admin), "read")


def test_scopes_are_documented_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/accounts"]["post"]["x-required-scope"] == "write"
    assert paths["/v1/accounts/{external_id}"]["get"]["x-required-scope"] == "read"
    assert paths["/v1/account_sessions"]["post"]["x-required-scope"] == "sessions"
    assert "`sessions` scope" in paths["/v1/account_sessions"]["post"]["description"]
    refused = paths["/v1/account_sessions"]["post"]["responses"]["403"]
    assert "`sessions` scope" in refused["description"]
    assert refused["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")


def test_scope_names_are_checked(container: Container) -> None:
    with pytest.raises(ValidationFailed, match="unknown scope 'everything'"):
        create_api_key(container.deps, "k", scopes=["read", "everything"])
    with pytest.raises(ValidationFailed, match="at least one scope"):
        create_api_key(container.deps, "k", scopes=[])
    assert create_api_key(container.deps, "k", scopes=["read", "full"]).info.scopes == (
        Scope.FULL,)
    assert create_api_key(container.deps, "k").info.scopes == (Scope.FULL,)


def test_cli_creates_and_lists_scoped_keys(container: Container, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"CONTACTGUARD_DATABASE_URL": container.settings.database_url,
           "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_VAR_DIR": str(tmp_path / "var"),
           "CONTACTGUARD_DEV": None, "CONTACTGUARD_LOG_JSON": "1", "COLUMNS": "200"}
    result = runner.invoke(cli_app, ["keys", "create", "--name", "shop backend", "--scope", "read",
                                     "--scope", "sessions"], env=env)
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    info = ApiKeyAuthenticator(container.deps).authenticate(secret)
    assert info.scopes == (Scope.READ, Scope.SESSIONS)
    listed = runner.invoke(cli_app, ["apikeys", "list"], env=env)
    assert listed.exit_code == 0 and "read sessions" in listed.output, listed.output
    bad = runner.invoke(cli_app, ["keys", "create", "--name", "x", "--scope", "root"], env=env)
    assert bad.exit_code == 1 and "unknown scope 'root'" in bad.output
    assert [k.name for k in list_api_keys(container.deps)] == ["shop backend"]


def test_keys_made_before_scopes_keep_full_access(database_url: str) -> None:
    from alembic import command

    from contactguard.adapters.db.migrate import alembic_config, upgrade
    from tests.conftest import _truncate

    _truncate(database_url)
    command.downgrade(alembic_config(database_url), "0014")
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                              "VALUES ('old', 'cgk_old', :h, :t)"),
                         {"h": "a" * 64, "t": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)})
        upgrade(database_url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT scopes FROM api_keys")).scalar_one() == "full"
            conn.execute(text("DELETE FROM api_keys"))
    finally:
        engine.dispose()
        upgrade(database_url)
