from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from contactguard.bootstrap import Container
from contactguard.entrypoints.api.app import create_app
from contactguard.services.apikeys import create_api_key

LANDLINE_CN = "+86 10 6552 9988"
MOBILE_GB = "+44 7911 123456"
PREMIUM_US = "+1 900 555 0100"


@pytest.fixture
def api_key(container: Container) -> str:
    return create_api_key(container.deps, "tests").secret


@pytest.fixture
def client(container: Container, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {api_key}"
        yield test_client


def make_account(client: TestClient, external_id: str = "seller-1", *, country: str = "CN",
                 email: str | None = "owner@lotus.example.com",
                 phone: str | None = LANDLINE_CN, locale: str | None = None) -> dict:
    contacts = {k: v for k, v in {"emergency_email": email, "emergency_phone": phone}.items() if v}
    body = {"external_id": external_id, "name": "Lotus Tea House", "country": country,
            "contacts": contacts}
    if locale:
        body["locale"] = locale
    response = client.post("/v1/accounts", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def start(client: TestClient, account: str, contact: str, channel: str | None = None):
    body = {"account": account, "contact": contact}
    if channel:
        body["channel"] = channel
    return client.post("/v1/verifications", json=body)


def csrf_token_in(html: str) -> str:
    """The CSRF token of a Seller Center or console page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)
