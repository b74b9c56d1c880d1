"""The contact registry over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import latest_code
from tests.integration.conftest import LANDLINE_CN, MOBILE_GB, PREMIUM_US, make_account, start


def test_create_then_update_by_external_id(client: TestClient) -> None:
    created = client.post("/v1/accounts", json={
        "external_id": "seller-1", "name": "Lotus Tea House", "country": "cn",
        "locale": "zh_cn", "contacts": {"emergency_email": "Owner@LOTUS.example.com",
                                        "emergency_phone": "010 6552 9988"}})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/accounts/seller-1"
    body = created.json()
    assert (body["country"], body["locale"], body["time_zone"]) == ("CN", "zh-Hans-CN",
                                                                   "Asia/Shanghai")
    contacts = {c["kind"]: c for c in body["contacts"]}
    assert contacts["emergency_phone"]["value"] == "+861065529988"
    assert contacts["emergency_phone"]["line_type"] == "fixed_line"
    assert contacts["emergency_phone"]["channels"] == ["voice"]
    assert contacts["emergency_email"]["value"] == "Owner@lotus.example.com"
    assert contacts["emergency_email"]["status"] == "unverified"

    updated = client.post("/v1/accounts", json={"external_id": "seller-1", "name": "Lotus Tea"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "Lotus Tea"
    assert updated.json()["country"] == "CN"  # untouched fields stay

    fetched = client.get("/v1/accounts/seller-1").json()
    assert fetched["name"] == "Lotus Tea"
    assert len(client.get("/v1/accounts/seller-1/contacts").json()["data"]) == 2


def test_bad_fields_are_all_reported_with_their_names(client: TestClient) -> None:
    response = client.post("/v1/accounts", json={
        "external_id": "seller 1", "name": "X", "country": "XQ", "locale": "not a locale!",
        "time_zone": "Mars/Olympus", "contacts": {"emergency_email": "nobody@",
                                                   "fax": "123"}})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"external_id", "country", "locale", "time_zone", "contacts.emergency_email",
                      "contacts.fax"}
    assert client.get("/v1/accounts/seller 1").status_code == 404  # nothing half-written


def test_phone_numbers_are_checked_against_the_account_country(client: TestClient) -> None:
    response = client.post("/v1/accounts", json={
        "external_id": "s2", "name": "Shop", "country": "US",
        "contacts": {"emergency_phone": PREMIUM_US}})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "contacts.emergency_phone"
    assert error["code"] == "premium_rate"

    make_account(client, "s3", country="GB", phone=MOBILE_GB)
    bad = client.put("/v1/accounts/s3/contacts/emergency_phone", json={"value": "12"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "value"
    assert bad.json()["errors"][0]["code"] == "invalid_phone"
    national = client.put("/v1/accounts/s3/contacts/emergency_phone",
                          json={"value": "020 7946 0000"})
    assert national.status_code == 200
    assert national.json()["value"] == "+442079460000"
    assert national.json()["line_type"] == "fixed_line"


def test_unknown_account_and_contact_kind(client: TestClient) -> None:
    missing = client.get("/v1/accounts/nobody")
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/account-not-found"
    assert client.put("/v1/accounts/nobody/contacts/emergency_email",
                      json={"value": "a@example.com"}).status_code == 404
    make_account(client)
    bad_kind = client.put("/v1/accounts/seller-1/contacts/fax", json={"value": "1"})
    assert bad_kind.status_code == 422
    assert bad_kind.json()["errors"][0]["field"] == "kind"


def test_malformed_bodies_get_clear_4xx(client: TestClient) -> None:
    broken = client.post("/v1/accounts", content=b'{"external_id": ',
                         headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["type"] == "/problems/malformed-json"
    form = client.post("/v1/accounts", content=b"external_id=x",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    extra = client.post("/v1/accounts", json={"external_id": "x", "colour": "red"})
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["field"] == "colour"
    not_object = client.post("/v1/accounts", json=[1, 2])
    assert not_object.status_code == 422
    new_without_name = client.post("/v1/accounts", json={"external_id": "new-1"})
    assert new_without_name.status_code == 422
    assert {e["field"] for e in new_without_name.json()["errors"]} == {"name", "country"}


def test_requests_need_a_valid_api_key(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer cgk_wrong"},
                    {"Authorization": "Basic abc"}):
        response = client.get("/v1/accounts/seller-1", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["type"] == "/problems/unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_idempotency_key_replays_the_first_response(client: TestClient) -> None:
    body = {"external_id": "idem-1", "name": "Shop", "country": "DE"}
    first = client.post("/v1/accounts", json=body, headers={"Idempotency-Key": "k1"})
    again = client.post("/v1/accounts", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = client.post("/v1/accounts", json={**body, "name": "Other"},
                        headers={"Idempotency-Key": "k1"})
    assert other.status_code == 409
    assert other.json()["type"] == "/problems/idempotency-conflict"
    plain = client.post("/v1/accounts", json=body)
    assert plain.status_code == 200  # without a key it is an ordinary update


def test_changing_a_verified_contact_keeps_the_old_one_in_force(
        client: TestClient, container, sender) -> None:
    make_account(client, "s4", country="GB", phone=MOBILE_GB)
    challenge = start(client, "s4", "emergency_phone", "sms").json()
    code = latest_code(container, sender, "+447911123456")
    assert client.post(f"/v1/verifications/{challenge['id']}/check",
                       json={"code": code}).json()["status"] == "approved"

    changed = client.put("/v1/accounts/s4/contacts/emergency_phone",
                         json={"value": "+44 7400 123456"}).json()
    assert changed["status"] == "unverified"
    assert changed["value"] == "+447400123456"
    assert changed["active_value"] == "+447911123456"  # the verified number still counts

    challenge = start(client, "s4", "emergency_phone", "sms").json()
    code = latest_code(container, sender, "+447400123456")
    client.post(f"/v1/verifications/{challenge['id']}/check", json={"code": code})
    phone = client.get("/v1/accounts/s4").json()["contacts"][1]
    assert (phone["status"], phone["active_value"]) == ("verified", "+447400123456")


def test_changing_a_contact_cancels_its_open_challenge(client: TestClient, container,
                                                       sender) -> None:
    make_account(client, "s5", phone=LANDLINE_CN)
    challenge = start(client, "s5", "emergency_email").json()
    code = latest_code(container, sender, "owner@lotus.example.com")
    client.put("/v1/accounts/s5/contacts/emergency_email", json={"value": "new@lotus.example.com"})
    result = client.post(f"/v1/verifications/{challenge['id']}/check", json={"code": code})
    assert result.json()["status"] == "expired"
    emails = {c["kind"]: c for c in client.get("/v1/accounts/s5").json()["contacts"]}
    assert emails["emergency_email"]["status"] == "unverified"
