"""Verify-the-caller through the API, the Seller Center and the console, on SQLite and
PostgreSQL: a 4-digit code shown to both sides, the seller's confirmation or report reaching
the agent, expiry after 10 minutes (frozen clock), one open session per account, another
account's or an expired session never confirmed, every step audited without the code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.domain.audit import Actor
from contactguard.domain.call_sessions import CallAnswer, CallStatus, ReportReason
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import CallSessionClosed, CallSessionNotFound, ValidationFailed
from contactguard.services import call_sessions
from contactguard.services.audit import list_entries
from contactguard.services.seller_sessions import create_session_link
from contactguard.testing import FrozenClock
from tests.integration.conftest import csrf_token_in, make_account

BASE = "https://sellers.acme.test"
SELLER = Actor.seller("web-session:1", "seller-1")


@pytest.fixture
def web(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                    raise_server_exceptions=False) as browser:
        yield browser



def _seller_signs_in(container: Container, web: TestClient, account: str) -> str:
    link = create_session_link(container.deps, account, base_url=BASE)
    assert web.get(urlsplit(link.url).path).status_code == 303
    return csrf_token_in(web.get("/seller/contacts").text)


def _audit(container: Container, account: str) -> list[dict]:
    return [{"action": e.action, "actor": e.actor, "before": e.before, "after": e.after}
            for e in reversed(list_entries(container.deps, subject=f"account:{account}"))
            if e.action.startswith("call_session.")]


def test_api_starts_and_reads_a_session(client: TestClient, container: Container,
                                        clock: FrozenClock) -> None:
    make_account(client, "seller-1")
    started = client.post("/v1/call_sessions", json={"account": "seller-1",
                                                     "agent_name": "  Mei   Lin "})
    assert started.status_code == 201, started.text
    body = started.json()
    assert {"id", "code", "expires_at", "status"} <= set(body)
    assert re.fullmatch(r"\d{4}", body["code"]) and body["status"] == "active"
    assert body["agent_name"] == "Mei Lin" and body["account"] == "seller-1"
    assert started.headers["location"] == f"/v1/call_sessions/{body['id']}"
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(minutes=10)
    read = client.get(f"/v1/call_sessions/{body['id']}")
    assert read.status_code == 200 and read.json() == body

    for payload, status in (({"account": "nobody", "agent_name": "Mei"}, 404),
                            ({"account": "seller-1", "agent_name": " "}, 422),
                            ({"account": "seller-1", "agent_name": "Mei\u202eLin"}, 422),
                            ({"account": "seller-1", "agent_name": "x" * 61}, 422),
                            ({"account": "seller-1"}, 422)):
        answer = client.post("/v1/call_sessions", json=payload)
        assert answer.status_code == status, (payload, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    for missing in ("call_" + "0" * 20, "nope", "call_" + "²" * 20):
        answer = client.get(f"/v1/call_sessions/{missing}")
        assert answer.status_code == 404 and \
            answer.json()["type"].endswith("call-session-not-found")

    once = {"account": "seller-1", "agent_name": "Ana"}
    first = client.post("/v1/call_sessions", json=once, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/call_sessions", json=once, headers={"Idempotency-Key": "k-1"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    body = first.json()  # the session the rest of this test works with

    schema = client.get("/openapi.json").json()
    assert "201" in schema["paths"]["/v1/call_sessions"]["post"]["responses"]
    assert set(schema["components"]["schemas"]["CallSessionOut"]["required"]) >= {
        "id", "code", "expires_at", "status"}
    assert "/v1/call_sessions/{session_id}" in schema["paths"]

    # A new session replaces the open one; only the newest can be answered.
    newer = client.post("/v1/call_sessions", json={"account": "seller-1",
                                                   "agent_name": "Tom"}).json()
    assert client.get(f"/v1/call_sessions/{body['id']}").json()["status"] == "replaced"
    with pytest.raises(CallSessionClosed):
        call_sessions.answer_call(container.deps, "seller-1", body["id"], CallAnswer.CONFIRM,
                                  actor=SELLER)
    done = call_sessions.answer_call(container.deps, "seller-1", newer["id"],
                                     CallAnswer.CONFIRM, actor=SELLER)
    assert done.status is CallStatus.CONFIRMED
    assert client.get(f"/v1/call_sessions/{newer['id']}").json()["status"] == "confirmed"

    trail = _audit(container, "seller-1")
    assert [e["action"] for e in trail] == [
        "call_session.started", "call_session.replaced", "call_session.started",
        "call_session.replaced", "call_session.started", "call_session.confirmed"]
    assert trail[0]["actor"].kind.value == "api_key" and trail[0]["after"]["agent"] == "Mei"
    assert trail[5]["actor"] == SELLER
    codes = {body["code"], newer["code"]}
    assert not any(code in json.dumps(e["after"]) + json.dumps(e["before"]) for code in codes
                   for e in trail)  # the code never reaches the audit log


def test_sessions_expire_after_ten_minutes(container: Container, client: TestClient,
                                           clock: FrozenClock) -> None:
    make_account(client, "seller-1")
    view = call_sessions.start_call_session(container.deps, "seller-1", "Mei",
                                            actor=Actor.operator(1, "a@ops.example.com"))
    clock.advance(minutes=9, seconds=59)
    assert call_sessions.seller_call(container.deps, "seller-1") is not None
    clock.advance(seconds=1)
    assert call_sessions.get_call_session(container.deps, view.id).status is CallStatus.EXPIRED
    assert call_sessions.seller_call(container.deps, "seller-1") is None
    assert client.get(f"/v1/call_sessions/{view.id}").json()["status"] == "expired"
    for answer in CallAnswer:
        with pytest.raises(CallSessionClosed):
            call_sessions.answer_call(container.deps, "seller-1", view.id, answer, actor=SELLER)
    # A new start after the expiry: the old row reads expired (not replaced).
    call_sessions.start_call_session(container.deps, "seller-1", "Mei",
                                     actor=Actor.operator(1, "a@ops.example.com"))
    assert call_sessions.get_call_session(container.deps, view.id).status is CallStatus.EXPIRED
    assert [e["action"] for e in _audit(container, "seller-1")] == [
        "call_session.started", "call_session.started"]


def test_another_account_cannot_answer_and_a_report_is_kept(container: Container,
                                                            client: TestClient,
                                                            clock: FrozenClock) -> None:
    make_account(client, "seller-1")
    make_account(client, "seller-2", email="two@lotus.example.com")
    view = call_sessions.start_call_session(container.deps, "seller-1", "Mei",
                                            actor=Actor.operator(1, "a@ops.example.com"))
    with pytest.raises(CallSessionNotFound):
        call_sessions.answer_call(container.deps, "seller-2", view.id, CallAnswer.CONFIRM,
                                  actor=SELLER)
    assert call_sessions.seller_call(container.deps, "seller-2") is None
    with pytest.raises(ValidationFailed):
        call_sessions.start_call_session(container.deps, "seller-1", "Mei\nLin",
                                         actor=SELLER)
    reported = call_sessions.answer_call(container.deps, "seller-1", view.id, CallAnswer.REPORT,
                                         reason=ReportReason.ASKED_FOR_SECRETS, actor=SELLER)
    assert reported.status is CallStatus.REPORTED
    assert reported.session.report_reason is ReportReason.ASKED_FOR_SECRETS
    with pytest.raises(CallSessionClosed):  # answered once
        call_sessions.answer_call(container.deps, "seller-1", view.id, CallAnswer.CONFIRM,
                                  actor=SELLER)
    assert client.get(f"/v1/call_sessions/{view.id}").json()["report_reason"] == \
        "asked_for_secrets"
    # The seller's page keeps the answer for two minutes, then the banner goes.
    assert call_sessions.seller_call(container.deps, "seller-1") is not None
    clock.advance(minutes=2)
    assert call_sessions.seller_call(container.deps, "seller-1") is None
    trail = _audit(container, "seller-1")
    assert trail[-1]["action"] == "call_session.reported"
    assert trail[-1]["after"] == {"call_session": view.id, "status": "reported",
                                  "reason": "asked_for_secrets"}


def test_agent_in_console_and_seller_in_seller_center(container: Container, web: TestClient,
                                                      client: TestClient,
                                                      clock: FrozenClock) -> None:
    from tests.integration.test_console_pages import _sign_in

    container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)
    make_account(client, "seller-1", locale="zh-Hans")
    make_account(client, "seller-2", email="two@lotus.example.com")
    _sign_in(web, container, clock, "agent@acme.example.com", role="support")
    page = web.get("/console/accounts/seller-1")
    assert page.status_code == 200 and 'id="call-none"' in page.text
    csrf = csrf_token_in(page.text)
    assert web.post("/console/accounts/seller-1/call", data={"agent_name": "Mei Lin"}
                    ).status_code == 403  # no CSRF token
    empty = web.post("/console/accounts/seller-1/call", data={"csrf_token": csrf,
                                                              "agent_name": ""})
    assert empty.headers["location"] == "/console/accounts/seller-1?call_error=required#call"
    started = web.post("/console/accounts/seller-1/call", data={"csrf_token": csrf,
                                                                "agent_name": "Mei Lin"})
    assert started.headers["location"] == "/console/accounts/seller-1?done=call_started#call"
    page = web.get("/console/accounts/seller-1?done=call_started")
    code = re.search(r'id="agent-code">(\d{4})<', page.text).group(1)
    assert 'value="Mei Lin"' in page.text  # the name is remembered for the next call
    status = web.get("/console/accounts/seller-1/call")
    key = re.search(r'"seen": "([^"]+)"', status.text).group(1)
    assert 'data-status="active"' in status.text and "HX-Push-Url" not in status.headers
    assert web.get(f"/console/accounts/seller-1/call?seen={key}").status_code == 204

    # The seller (reading Chinese) sees the agent's first name and the same code.
    seller = TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                        raise_server_exceptions=False)
    with seller:
        seller_csrf = _seller_signs_in(container, seller, "seller-1")
        assert 'hx-get="/seller/call"' in seller.get("/seller").text
        banner = seller.get("/seller/call", headers={"HX-Request": "true"})
        assert banner.status_code == 200 and "HX-Push-Url" not in banner.headers
        assert "账户健康团队的 Mei 正在给您打电话" in banner.text
        assert f'id="call-code">{code}<' in banner.text
        call_id = re.search(r'data-call="(call_[0-9a-f]+)"', banner.text).group(1)
        seller_key = re.search(r'"seen": "([^"]+)"', banner.text).group(1)
        assert seller.get(f"/seller/call?seen={seller_key}").status_code == 204

        # Another seller neither sees nor confirms it.
        other = TestClient(create_app(container), base_url=BASE, follow_redirects=False,
                           raise_server_exceptions=False)
        with other:
            other_csrf = _seller_signs_in(container, other, "seller-2")
            assert 'id="call-active"' not in other.get("/seller/call").text
            refused = other.post(f"/seller/call/{call_id}/answer", headers={"HX-Request": "true"},
                                 data={"csrf_token": other_csrf, "answer": "confirm"})
            assert "not for your account" in refused.text

        assert seller.post(f"/seller/call/{call_id}/answer",
                           data={"csrf_token": "forged", "answer": "confirm"}).status_code == 403
        answered = seller.post(f"/seller/call/{call_id}/answer", headers={"HX-Request": "true"},
                               data={"csrf_token": seller_csrf, "answer": "confirm"})
        assert answered.status_code == 200 and 'id="call-confirmed"' in answered.text
        assert "Mei 说出了正确的验证码" in answered.text

    status = web.get(f"/console/accounts/seller-1/call?seen={key}")
    assert status.status_code == 200 and 'data-status="confirmed"' in status.text
    assert "hx-trigger" not in status.text  # answered: the agent's page stops polling
    trail = _audit(container, "seller-1")
    assert [e["action"] for e in trail] == ["call_session.started", "call_session.confirmed"]
    assert trail[0]["actor"].kind.value == "operator"
    assert trail[0]["actor"].label == "agent@acme.example.com"
    assert trail[1]["actor"].kind.value == "seller"
    seller.cookies.clear()  # signed out: the polled fragments answer 204, not a sign-in page
    assert seller.get("/seller/call", headers={"HX-Request": "true"}).status_code == 204
    audit_page = web.get("/console/accounts/seller-1")
    assert "call_session.confirmed" in audit_page.text and code not in re.sub(
        r'id="agent-code">\d{4}<', "", audit_page.text).split('id="audit-h"')[1]
    web.cookies.clear()
    assert web.get("/console/accounts/seller-1/call").status_code == 204
