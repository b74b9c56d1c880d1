"""Input hardening (issue 11), on SQLite and PostgreSQL: every reproduction is a 4xx problem.

NUL characters, lone surrogates, NaN/Infinity, control and bidi characters in text fields,
body limits, API keys checked before bodies are read, no SQL parameters in error logs,
insert races that end in 2xx, and the Twilio signature compare on odd bytes.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from contactguard.bootstrap import Container, bootstrap
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import ValidationFailed
from contactguard.logs import JsonFormatter
from contactguard.services.accounts import (
    AccountInput,
    get_account,
    set_security_phrase,
    upsert_account,
)
from contactguard.services.apikeys import create_api_key
from contactguard.services.imports import import_accounts, read_rows
from contactguard.services.seller_sessions import create_session_link
from contactguard.services.webhooks import create_endpoint
from contactguard.testing import FrozenClock
from tests.conftest import _truncate, make_settings
from tests.integration.conftest import make_account

JSON = {"Content-Type": "application/json"}


def problem(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Assert ``response`` is a problem with ``status`` (and a field error ``code`` on ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if code is not None:
        assert {(e["field"], e["code"]) for e in body["errors"]} >= {(field, code)}, body
    return body


# --- NUL, surrogates, NaN: never a 500 -----------------------------------------------------


def test_nul_characters_anywhere_are_field_errors(client: TestClient) -> None:
    make_account(client, "s1")
    problem(client.post("/v1/accounts", json={"external_id": "s2", "name": "A\x00B",
                                              "country": "US"}), 422, "control_characters", "name")
    problem(client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x",
                                              "events": ["contact.verified"],
                                              "description": "x\x00y"}),
            422, "control_characters", "description")
    problem(client.post("/v1/accounts", json={"external_id": "s3", "name": "N", "country": "US",
                                              "contacts": {"emergency_email": "a\x00@x.com"}}),
            422, "control_characters", "contacts.emergency_email")
    problem(client.get("/v1/accounts/s1%00x"), 422, "control_characters", "path")
    problem(client.get("/v1/verifications/vrf_%00x"), 422, "control_characters", "path")
    problem(client.put("/v1/accounts/s1%00/contacts/emergency_email",
                       json={"value": "a@example.com"}), 422, "control_characters", "path")
    problem(client.get("/v1/audit", params={"subject": "account:\x00"}),
            422, "control_characters", "subject")
    problem(client.get("/v1/dev/messages", params={"to": "a\x00@example.com"}),
            422, "control_characters", "to")
    problem(client.put("/v1/accounts/s1/signals", json={"bad\x00name": 1}),
            422, "control_characters", "")
    problem(client.put("/v1/policy", json={"min_signals": {"x\x00": 1}}),
            422, "control_characters", "min_signals")
    assert client.get("/v1/accounts/s1").json()["name"] == "Lotus Tea House"


def test_nan_and_infinity_are_refused(client: TestClient) -> None:
    make_account(client, "s1")
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = f'{{"account_health_rating": {literal}}}'.encode()
        problem(client.put("/v1/accounts/s1/signals", content=body, headers=JSON),
                422, "not_finite", "account_health_rating")
        policy = f'{{"min_signals": {{"account_health_rating": {literal}}}}}'.encode()
        problem(client.put("/v1/policy", content=policy, headers=JSON),
                422, "not_finite", "min_signals.account_health_rating")
    problem(client.put("/v1/policy", json={"min_signals": {"rating": 10**400}}),
            422, "not_finite", "min_signals.rating")
    # The words themselves are fine inside strings.
    assert client.put("/v1/accounts/s1/signals",
                      content=b'{"nan_infinity_count": 1}', headers=JSON).status_code == 200


def test_lone_surrogates_are_refused(client: TestClient) -> None:
    body = b'{"external_id": "s1", "name": "Lotus \\ud800 Tea", "country": "US"}'
    problem(client.post("/v1/accounts", content=body, headers=JSON), 422, "invalid_unicode",
            "name")
    # A proper surrogate pair (an emoji written as escapes) is a real character.
    pair = b'{"external_id": "s1", "name": "Lotus \\ud83c\\udf75 Tea", "country": "US"}'
    assert client.post("/v1/accounts", content=pair, headers=JSON).status_code == 201
    assert client.get("/v1/accounts/s1").json()["name"] == "Lotus \U0001f375 Tea"


def test_seller_pages_refuse_nul_in_ids_and_forms(container: Container) -> None:
    base = "https://sellers.acme.test"
    upsert_account(container.deps, AccountInput(external_id="s1", name="Lotus", country="GB",
                                                contacts={"emergency_email": "o@example.com"}))
    with TestClient(create_app(container), base_url=base, follow_redirects=False,
                    raise_server_exceptions=False) as web:
        link = create_session_link(container.deps, "s1", base_url=base)
        assert web.get(urlsplit(link.url).path).status_code == 303
        problem(web.get("/seller/verifications/vrf_%00x"), 422, "control_characters", "path")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/seller/contacts").text)
        assert csrf
        problem(web.post("/seller/security-phrase",
                         data={"security_phrase": "blue\x00teapot", "csrf_token": csrf.group(1)}),
                422, "control_characters", "security_phrase")
        page = web.post("/seller/security-phrase",
                        data={"security_phrase": "blue\u202eteapot", "csrf_token": csrf.group(1)})
        assert page.status_code == 422 and "U+202E" in page.text
    assert get_account(container.deps, "s1").account.security_phrase is None


def test_odd_bytes_in_the_twilio_signature_are_a_403(database_url: str, tmp_path: Path,
                                                     clock: FrozenClock) -> None:
    _truncate(database_url)
    container = bootstrap(make_settings(database_url, tmp_path, twilio_account_sid="AC1",
                                        twilio_auth_token="token-123",
                                        twilio_from_number="+15005550006"),
                          clock=clock, start_worker=False)
    try:
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            for signature in (b"\xff\xfe", "é".encode(), b"\x80" * 28):
                response = client.post("/v1/providers/twilio/status",
                                       data={"MessageSid": "SM1", "MessageStatus": "sent"},
                                       headers={"X-Twilio-Signature": signature})
                problem(response, 403)
    finally:
        container.close()


# --- text fields that reach messages and pages ---------------------------------------------

DANGEROUS = {"\r\n": "U+000D", "\n": "U+000A", "\x00": "U+0000", "\u202e": "U+202E",
             "\u2066": "U+2066", "\u200b": "U+200B", "\u2028": "U+2028", "\x1b[31m": "U+001B",
             "\ufeff": "U+FEFF", "\U000e0041": "U+E0041"}


@pytest.mark.parametrize("bad", list(DANGEROUS))
def test_account_names_refuse_control_and_bidi_characters(client: TestClient, bad: str) -> None:
    body = {"external_id": "s1", "name": f"Lotus{bad}Tea House", "country": "US"}
    error = problem(client.post("/v1/accounts", json=body), 422, "control_characters", "name")
    assert DANGEROUS[bad] in error["errors"][0]["message"] or bad == "\x00"
    make_account(client, "s1")
    problem(client.post("/v1/accounts", json=body), 422, "control_characters", "name")
    assert client.get("/v1/accounts/s1").json()["name"] == "Lotus Tea House"


def test_real_world_names_stay_accepted(client: TestClient) -> None:
    names = ["Lotus Tea House", "茶馆 · 北京", "مقهى اللوتس", "שוק הלוטוס", "Café Zoë",
             "Tea\u200dHouse 👨\u200d👩\u200d👧", "می\u200cخواهم", "हिन्दी\u200c",  # noqa: RUF001
             "O'Neil & Sons, Ltd."]
    for index, name in enumerate(names):
        response = client.post("/v1/accounts", json={"external_id": f"s{index}", "name": name,
                                                     "country": "US"})
        assert response.status_code == 201, (name, response.text)
        assert response.json()["name"] == name


def test_external_ids_with_a_trailing_newline_are_refused(client: TestClient) -> None:
    problem(client.post("/v1/accounts", json={"external_id": "seller-1\n", "name": "N",
                                              "country": "US"}), 422, "invalid", "external_id")


def test_every_text_field_refuses_them(container: Container, client: TestClient) -> None:
    make_account(client, "s1")
    bad = "Ops \u202e team"
    problem(client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x",
                                              "events": ["contact.verified"],
                                              "description": bad}),
            422, "control_characters", "description")
    hook = client.post("/v1/webhooks", json={"url": "https://hooks.example.com/x",
                                             "events": ["contact.verified"]}).json()
    problem(client.patch(f"/v1/webhooks/{hook['id']}", json={"description": "a\r\nb"}),
            422, "control_characters", "description")
    for call in (lambda: set_security_phrase(container.deps, "s1", "blue\r\nteapot"),
                 lambda: set_security_phrase(container.deps, "s1", "blue \u2067teapot"),
                 lambda: create_api_key(container.deps, "ops\x1b[2J"),
                 lambda: create_endpoint(container.deps, url="https://hooks.example.com/y",
                                         events=["contact.verified"], description="a\u2028b")):
        with pytest.raises(ValidationFailed) as refused:
            call()
        assert refused.value.errors[0].code == "control_characters"
    # Leading/trailing whitespace is trimmed, as before; inner spaces are fine.
    assert set_security_phrase(container.deps, "s1", " blue teapot\n").security_phrase == \
        "blue teapot"


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_imports_report_such_rows_by_line_and_keep_the_others(container: Container,
                                                              fmt: str) -> None:
    rows = [{"external_id": "ok-1", "name": "Good One", "country": "US"},
            {"external_id": "bad-1", "name": "Evil\u202eCorp", "country": "US"},
            {"external_id": "bad-2", "name": "Line\r\nBreak", "country": "US"},
            {"external_id": "bad-3", "name": "Nul\x00Name", "country": "US"},
            {"external_id": "ok-2", "name": "Good Two", "country": "US"}]
    if fmt == "csv":
        handle = io.StringIO(newline="")
        handle.write("external_id,name,country\n")
        for row in rows:
            name = row["name"].replace('"', '""')
            handle.write(f'{row["external_id"]},"{name}",{row["country"]}\n')
        handle.seek(0)
        lines = {"bad-1": 3, "bad-2": 4, "bad-3": 6}  # the quoted CR/LF spans lines 4-5
    else:
        handle = io.StringIO("".join(json.dumps(row) + "\n" for row in rows))
        lines = {"bad-1": 2, "bad-2": 3, "bad-3": 4}
    report = import_accounts(container.deps, read_rows(handle, fmt))
    assert report.created == 2
    assert {(e.line, e.external_id) for e in report.errors} == set(
        (line, external_id) for external_id, line in lines.items())
    assert all("control characters" in e.reason for e in report.errors)
    assert get_account(container.deps, "ok-2").account.name == "Good Two"


# --- body limits and API keys before bodies --------------------------------------------------


def test_bodies_over_the_limit_are_refused_with_413(client: TestClient) -> None:
    big = b'{"external_id": "s1", "name": "' + b"x" * (1024 * 1024) + b'", "country": "US"}'
    problem(client.post("/v1/accounts", content=big, headers=JSON), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"external_id": "s1", "name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'", "country": "US"}'

    refused = problem(client.post("/v1/accounts", content=chunks(), headers=JSON), 413)
    assert refused["type"] == "/problems/payload-too-large"
    # Just under the limit is read (and refused by validation, not by size).
    under = b'{"external_id": "s1", "name": "' + b"x" * (1024 * 1000) + b'", "country": "US"}'
    assert client.post("/v1/accounts", content=under, headers=JSON).status_code == 422
    # Routes of the table take more (the route may not exist yet: anything but 413).
    message = b"From: a@example.com\r\n\r\n" + b"x" * (3 * 1024 * 1024)
    assert client.post("/v1/messages/check", content=message,
                       headers={"Content-Type": "message/rfc822"}).status_code != 413


def test_forms_have_their_own_smaller_limit(container: Container) -> None:
    with TestClient(create_app(container), raise_server_exceptions=False) as web:
        form = {"security_phrase": "x" * (70 * 1024), "csrf_token": "t"}
        problem(web.post("/seller/security-phrase", data=form), 413)
        assert web.post("/seller/security-phrase", data={"csrf_token": "t"}).status_code == 401


def test_the_body_limit_is_a_setting(database_url: str, tmp_path: Path) -> None:
    _truncate(database_url)
    container = bootstrap(make_settings(database_url, tmp_path, max_body_bytes=4096),
                          start_worker=False)
    try:
        key = create_api_key(container.deps, "t").secret
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            body = {"external_id": "s1", "name": "x" * 3000, "country": "US"}
            assert client.post("/v1/accounts", json=body).status_code == 422  # read: too long
            body["name"] = "x" * 5000
            problem(client.post("/v1/accounts", json=body), 413)
    finally:
        container.close()


def test_api_keys_are_checked_before_the_body_is_read(client: TestClient) -> None:
    del client.headers["Authorization"]
    # A body that cannot even be parsed: the key is refused first (the body is never read).
    for headers in ({}, {"Authorization": "Bearer cgk_not-a-key"}, {"Authorization": "Basic x"}):
        response = client.post("/v1/accounts", content=b'{"broken', headers={**JSON, **headers})
        problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    problem(client.post("/v1/verifications/vrf_x/check", content=b"\x00" * 100, headers=JSON), 401)
    problem(client.get("/v1/no-such-route"), 401)  # no route listing without a key
    # Routes outside /v1 and signed callbacks need no key.
    assert client.get("/healthz").status_code == 200
    assert client.post("/v1/providers/twilio/status", data={"a": "b"}).status_code == 403


# --- races and logs -------------------------------------------------------------------------


def test_racing_creates_of_one_account_all_succeed(container: Container) -> None:
    barrier = threading.Barrier(6)
    results: list[object] = []

    def create() -> None:
        barrier.wait()
        try:
            results.append(upsert_account(container.deps, AccountInput(
                external_id="race-1", name="Race", country="US",
                contacts={"emergency_email": "race@example.com"}))[1])
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == ["False"] * 5 + ["True"], results


def test_database_errors_are_logged_without_their_values(container: Container,
                                                         client: TestClient) -> None:
    secret_name, secret_email = "Zyxwv Private-Person", "zyxwv.private@example.com"
    with container.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # PostgreSQL repeats the row in DETAIL
            conn.execute(text(f"ALTER TABLE accounts ADD CONSTRAINT forced_failure "
                              f"CHECK (name <> '{secret_name}')"))
        else:
            conn.execute(text(f"CREATE TRIGGER forced_failure BEFORE INSERT ON accounts "
                              f"WHEN NEW.name = '{secret_name}' "
                              f"BEGIN SELECT RAISE(ABORT, 'forced failure'); END"))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        response = client.post("/v1/accounts", json={
            "external_id": "zyxwv-1", "name": secret_name, "country": "US",
            "contacts": {"emergency_email": secret_email}})
    finally:
        root.removeHandler(handler)
        with container.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE accounts DROP CONSTRAINT forced_failure"))
            else:
                conn.execute(text("DROP TRIGGER forced_failure"))
    assert response.status_code == 500
    logged = stream.getvalue()
    assert "unhandled error on POST /v1/accounts" in logged and "INSERT INTO accounts" in logged
    for value in (secret_name, secret_email, "Zyxwv", "zyxwv"):
        assert value not in logged, logged
