"""Campaigns through the API and the runner, on SQLite and PostgreSQL, with a frozen clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.testing import FrozenClock, RecordingSender
from tests.conftest import deliver
from tests.integration.conftest import make_account

CN_MOBILE = "+86 138 0013 8000"
GB_MOBILE = "+44 7911 123456"
ANNOUNCE = datetime(2027, 2, 6, 1, 0, tzinfo=UTC)  # Spring Festival in China; 01:00 in London
EFFECTIVE = "2027-03-08T10:00:00Z"


def campaign_body(**overrides: object) -> dict:
    body: dict = {"name": "Verify your emergency contacts",
                  "contacts": ["emergency_email", "emergency_phone"],
                  "audience": {"countries": ["CN", "GB"]},
                  "effective_at": EFFECTIVE, "channels": ["in_app", "email", "sms"]}
    body.update(overrides)
    return body


def run_campaigns(container: Container) -> int:
    return container.extras["campaign_runner"].run(budget_seconds=None)


def counts(container: Container, table, *where) -> int:
    engine = create_engine(container.settings.database_url)
    with engine.connect() as conn:
        value = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    engine.dispose()
    return int(value)


@pytest.fixture
def sellers(client: TestClient, clock: FrozenClock) -> dict[str, int]:
    clock.set(ANNOUNCE - timedelta(days=40))
    make_account(client, "cn-1", country="CN", email="cn1@lotus.example.com", phone=CN_MOBILE)
    make_account(client, "cn-2", country="CN", email="cn2@lotus.example.com", phone=CN_MOBILE,
                 locale="zh-Hans")
    make_account(client, "gb-1", country="GB", email="gb1@tea.example.co.uk", phone=GB_MOBILE)
    clock.set(ANNOUNCE)
    return {}


def test_email_only_campaign_and_too_short_notice_are_refused(client: TestClient,
                                                              sellers: dict) -> None:
    email_only = client.post("/v1/campaigns", json=campaign_body(channels=["email"]))
    assert email_only.status_code == 422
    problem = email_only.json()
    assert any(e["field"] == "channels" and e["code"] == "in_app_required"
               for e in problem["errors"])

    # 10 calendar days: GB has 6 working days, CN (Spring Festival) only 2
    short = client.post("/v1/campaigns", json=campaign_body(effective_at="2027-02-16T10:00:00Z"))
    assert short.status_code == 422
    fields = [e for e in short.json()["errors"] if e["code"] == "notice_too_short"]
    assert {e["message"][:2] for e in fields} == {"CN", "GB"}
    cn = next(e for e in fields if e["message"].startswith("CN"))
    assert cn["field"] == "effective_at" and "2027-02-08" in cn["message"]
    assert counts_of(client) == 0


def counts_of(client: TestClient) -> int:
    return len(client.get("/v1/campaigns").json()["data"])


def test_holidays_in_china_hold_the_notice_and_extend_the_deadline(
        client: TestClient, container: Container, sellers: dict, clock: FrozenClock,
        sender: RecordingSender) -> None:
    created = client.post("/v1/campaigns", json=campaign_body())
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["status"] == "draft" and campaign["quiet_hours"] == {"start": "21:00",
                                                                         "end": "09:00"}
    preview = client.get(f"/v1/campaigns/{campaign['id']}/preview").json()
    assert preview["targeted"] == 3
    by_country = {c["country"]: c for c in preview["countries"]}
    assert by_country["CN"]["first_send_at"] == "2027-02-11T01:00:00Z"  # 09:00 in Shanghai
    assert set(by_country["CN"]["holidays_skipped"]) >= {"2027-02-08", "2027-02-09",
                                                          "2027-02-10"}
    assert by_country["CN"]["deadline"] > EFFECTIVE.replace("Z", "")
    assert by_country["GB"]["deadline"] == "2027-03-08T10:00:00Z"
    assert by_country["GB"]["holidays_skipped"] == []
    assert by_country["GB"]["first_send_at"] == "2027-02-06T09:00:00Z"  # after quiet hours
    assert {(s["locale"], s["channel"]) for s in preview["samples"]} >= {
        ("en", "email"), ("en", "sms"), ("en", "in_app"), ("zh-Hans", "email")}
    email = next(s for s in preview["samples"] if s["channel"] == "email" and s["locale"] == "en")
    assert "http" not in email["body"] and "dashboard" in email["body"]

    assert client.post(f"/v1/campaigns/{campaign['id']}/launch").status_code == 200
    sent_per_day: dict[date, set[str]] = {}
    moment = ANNOUNCE
    while moment < datetime(2027, 2, 12, tzinfo=UTC):
        clock.set(moment)
        run_campaigns(container)
        before = len(sender.sent)
        deliver(container)
        for message in sender.sent[before:]:
            sent_per_day.setdefault(moment.date(), set()).add(message.to)
        moment += timedelta(hours=1)
    cn_addresses = {"cn1@lotus.example.com", "cn2@lotus.example.com", "+8613800138000"}
    for day in (date(2027, 2, d) for d in range(6, 11)):
        assert not (sent_per_day.get(day, set()) & cn_addresses), day
    assert {"gb1@tea.example.co.uk", "+447911123456"} <= sent_per_day[date(2027, 2, 6)]
    assert cn_addresses <= sent_per_day[date(2027, 2, 11)]

    cn = client.get("/v1/accounts/cn-1/eligibility").json()
    gb = client.get("/v1/accounts/gb-1/eligibility").json()
    assert gb["deadline"] == "2027-03-08T10:00:00Z"
    assert cn["deadline"] > gb["deadline"]
    assert cn["deadline"] == by_country["CN"]["deadline"]

    zh = [m for m in sender.sent if m.to == "cn2@lotus.example.com"]
    assert len(zh) == 1 and "账户健康" in zh[0].body and "http" not in zh[0].body
    assert "中国标准时间" in zh[0].body  # the deadline in the seller's time zone
    messages = client.get("/v1/accounts/cn-1/messages").json()["data"]
    assert messages[0]["campaign"] == campaign["id"]
    assert messages[0]["reference"] == next(m for m in sender.sent
                                            if m.to == "cn1@lotus.example.com").reference
    assert set(messages[0]["channels"]) == {"in_app", "email", "sms"}
    assert messages[0]["read_at"] is None


def test_every_notice_is_written_with_its_email_and_never_twice(
        client: TestClient, container: Container, sellers: dict, clock: FrozenClock,
        sender: RecordingSender) -> None:
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    run_campaigns(container)
    run_campaigns(container)
    assert counts(container, t.campaign_steps) == 1
    assert counts(container, t.outbox, t.outbox.c.kind == "campaign_notice") == 2
    deliver(container)
    assert [m.to for m in sender.sent] == ["gb1@tea.example.co.uk", "+447911123456"]
