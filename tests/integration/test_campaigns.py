"""Campaigns through the API and the runner, on SQLite and PostgreSQL, with a frozen clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.services.campaign_runner import CampaignRunner
from contactguard.testing import FaultInjector, FrozenClock, InjectedFault, RecordingSender
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



def test_a_failure_between_notice_and_email_leaves_neither(
        client: TestClient, container: Container, sellers: dict, clock: FrozenClock,
        sender: RecordingSender) -> None:
    """The in-app notice (the step row) and the account's email/SMS rows commit together: a
    failure after the outbox write rolls both back, and the next run writes both once."""
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    # PostgreSQL plans set-based (outbox.add_planned), SQLite row by row (outbox.add_many)
    postgres = container.settings.database_url.startswith("postgresql")
    faulty = FaultInjector(container.deps.uow, times=100,
                           after="outbox.add_planned" if postgres else "outbox.add_many")
    runner = CampaignRunner(replace(container.deps, uow=faulty))
    with pytest.raises(InjectedFault):
        while True:
            runner.run(budget_seconds=None)
    assert faulty.fired >= 1
    assert counts(container, t.campaign_steps) == 0
    assert counts(container, t.outbox, t.outbox.c.kind == "campaign_notice") == 0
    run_campaigns(container)
    assert counts(container, t.campaign_steps) == 1
    assert counts(container, t.outbox, t.outbox.c.kind == "campaign_notice") == 2
    deliver(container)
    assert sorted(m.to for m in sender.sent) == ["+447911123456", "gb1@tea.example.co.uk"]



class _RacedSteps:
    """``uow.campaigns`` whose ``add_steps`` loses every row to a concurrent writer: the same
    rows are inserted first, so the runner's own insert writes none (the unique key)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def add_steps(self, rows):  # type: ignore[no-untyped-def]
        self._inner.add_steps(rows)  # the other worker's insert
        return self._inner.add_steps(rows)

    def add_staged_steps(self, campaign_id, **kwargs):  # type: ignore[no-untyped-def]
        # PostgreSQL's set-based planning: the other worker's insert, whose marks in the
        # staging table are not this worker's
        self._inner.add_staged_steps(campaign_id, **kwargs)
        self._inner._conn.exec_driver_sql("UPDATE cg_plan SET written = false")
        return self._inner.add_staged_steps(campaign_id, **kwargs)


def test_a_step_another_worker_wrote_is_not_sent_again(
        client: TestClient, container: Container, sellers: dict, sender: RecordingSender) -> None:
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")

    class RacedUow:
        def __init__(self) -> None:
            self._inner = container.deps.uow()

        def __enter__(self):  # type: ignore[no-untyped-def]
            self._inner.__enter__()
            self.campaigns = _RacedSteps(self._inner.campaigns)
            return self

        def __exit__(self, *exc: object) -> None:
            self._inner.__exit__(*exc)

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    CampaignRunner(replace(container.deps, uow=RacedUow)).run(budget_seconds=None)
    assert counts(container, t.campaign_steps) == 1  # written once, by "the other worker"
    assert counts(container, t.outbox, t.outbox.c.kind == "campaign_notice") == 0


# --- pause, resume, throttle --------------------------------------------------------------------

def _gb_sellers(client: TestClient, clock: FrozenClock, count: int) -> list[str]:
    clock.set(ANNOUNCE - timedelta(days=40))
    ids = []
    for n in range(count):
        external_id = f"gb-{n:03d}"
        make_account(client, external_id, country="GB", email=f"{external_id}@shop.example.co.uk",
                     phone=f"+44 7911 {123000 + n}")
        ids.append(external_id)
    clock.set(ANNOUNCE)
    return ids


def test_pause_stops_sends_and_resume_continues_without_duplicates(
        client: TestClient, container: Container, clock: FrozenClock,
        sender: RecordingSender) -> None:
    ids = _gb_sellers(client, clock, 12)
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None, channels=["in_app", "email"],
        throttle_per_second=4)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    run_campaigns(container)  # the bucket holds 4 accounts' worth
    assert counts(container, t.campaign_steps) == 4
    paused = client.post(f"/v1/campaigns/{campaign['id']}/pause").json()
    assert paused["status"] == "paused"
    deliver(container)  # the queued notices are held, not sent
    assert sender.sent == []
    for _ in range(5):
        clock.advance(seconds=2)
        run_campaigns(container)
        deliver(container)
    assert sender.sent == [] and counts(container, t.campaign_steps) == 4
    assert counts(container, t.outbox, t.outbox.c.status == "held") == 4
    assert client.post(f"/v1/campaigns/{campaign['id']}/pause").status_code == 409

    client.post(f"/v1/campaigns/{campaign['id']}/resume")
    for _ in range(10):
        run_campaigns(container)
        deliver(container)
        clock.advance(seconds=1)
    sent_to = [m.to for m in sender.sent]
    assert sorted(sent_to) == sorted(f"{i}@shop.example.co.uk" for i in ids)  # once each
    assert counts(container, t.campaign_steps) == 12
    clock.advance(seconds=15)
    run_campaigns(container)
    view = client.get(f"/v1/campaigns/{campaign['id']}").json()
    assert view["progress"]["notified"] == 12 and view["progress"]["notices_sent"] == 12
    audit = client.get(f"/v1/audit?subject=campaign:{campaign['id']}").json()["data"]
    assert {e["action"] for e in audit} >= {"campaign.created", "campaign.launched",
                                            "campaign.paused", "campaign.resumed"}


def test_cancel_drops_unsent_mail_and_lifts_the_deadline(
        client: TestClient, container: Container, clock: FrozenClock,
        sender: RecordingSender) -> None:
    _gb_sellers(client, clock, 3)
    grace_deadline = client.get("/v1/accounts/gb-000/eligibility").json()["deadline"]
    campaign = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["GB"]}, quiet_hours=None)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    run_campaigns(container)
    assert client.get("/v1/accounts/gb-000/eligibility").json()["deadline"] == EFFECTIVE
    assert client.post(f"/v1/campaigns/{campaign['id']}/cancel").json()["status"] == "canceled"
    run_campaigns(container)
    deliver(container)
    assert sender.sent == []
    assert counts(container, t.outbox, t.outbox.c.status == "canceled") == 6
    assert client.get("/v1/accounts/gb-000/eligibility").json()["deadline"] == grace_deadline
    assert client.post(f"/v1/campaigns/{campaign['id']}/resume").status_code == 409


def email_deadline(client: TestClient, external_id: str) -> str:
    requirements = client.get(f"/v1/accounts/{external_id}/eligibility").json()["requirements"]
    return next(r["deadline"] for r in requirements if r["contact"] == "emergency_email")


# --- reminders --------------------------------------------------------------------------------

def test_reminders_stop_when_compliant_and_remind_me_later_keeps_the_deadline(
        client: TestClient, container: Container, clock: FrozenClock,
        sender: RecordingSender) -> None:
    from tests.conftest import code_in

    start = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    clock.set(start - timedelta(days=3))
    for name in ("done", "later", "idle"):
        make_account(client, name, country="GB", email=f"{name}@shop.example.co.uk", phone=None)
    clock.set(start)
    campaign = client.post("/v1/campaigns", json=campaign_body(
        contacts=["emergency_email"], audience={"countries": ["GB"]}, quiet_hours=None,
        channels=["in_app", "email"], effective_at="2027-03-29T10:00:00Z")).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")

    def step_to(moment: datetime) -> None:
        while clock.now() < moment:
            clock.advance(hours=6)
            run_campaigns(container)
            deliver(container)

    run_campaigns(container)
    deliver(container)
    # Good Friday and Easter Monday (England) move the deadline by one working day
    deadline = email_deadline(client, "later")
    assert deadline == "2027-03-30T10:00:00Z"
    step_to(datetime(2027, 3, 14, 10, tzinfo=UTC))
    snoozed = client.post("/v1/verifications", json={"account": "done",
                                                     "contact": "emergency_email"})
    assert snoozed.status_code == 201
    deliver(container)
    code = code_in(sender.to("done@shop.example.co.uk")[-1].body)
    client.post(f"/v1/verifications/{snoozed.json()['id']}/check", json={"code": code})
    from contactguard.domain.contacts import ContactKind
    from contactguard.services.compliance import snooze_reminder
    kept = snooze_reminder(container.deps, "later", ContactKind.EMERGENCY_EMAIL)
    assert kept.deadline == datetime(2027, 3, 30, 10, tzinfo=UTC)
    step_to(datetime(2027, 3, 31, 10, tzinfo=UTC))

    def campaign_mail(who: str) -> list:
        return [m for m in sender.to(f"{who}@shop.example.co.uk")
                if "verification code" not in (m.subject or "")]

    assert len(campaign_mail("idle")) == 5  # notice + 14, 7, 2 and 1 days before
    assert len(campaign_mail("done")) == 1  # verified before the first reminder
    later = campaign_mail("later")
    assert len(later) == 5  # the 14-day reminder waited for the snooze, none was dropped
    assert email_deadline(client, "later") == deadline
    assert all("Reminder" in (m.subject or "") for m in campaign_mail("idle")[1:])
    clock.advance(minutes=1)
    run_campaigns(container)
    assert client.get(f"/v1/campaigns/{campaign['id']}").json()["status"] == "finished"


# --- funnel and read tracking -------------------------------------------------------------------

def test_funnel_counts_match_what_happened(client: TestClient, container: Container,
                                           sellers: dict, clock: FrozenClock,
                                           sender: RecordingSender) -> None:
    from urllib.parse import urlsplit

    from contactguard.entrypoints.api.app import create_app
    from contactguard.services.seller_sessions import create_session_link
    from tests.conftest import code_in

    campaign = client.post("/v1/campaigns", json=campaign_body(quiet_hours=None)).json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    clock.set(datetime(2027, 2, 11, 2, tzinfo=UTC))  # after Spring Festival
    run_campaigns(container)
    deliver(container)
    base = "https://sellers.acme.test"
    with TestClient(create_app(container), base_url=base, follow_redirects=False) as web:
        link = create_session_link(container.deps, "gb-1", base_url=base)
        web.get(urlsplit(link.url).path)
        page = web.get("/seller")
        assert page.status_code == 200
        reference = next(m.reference for m in sender.sent if m.to == "gb1@tea.example.co.uk")
        assert reference in page.text and "Verify your emergency email" in page.text
    messages = client.get("/v1/accounts/gb-1/messages").json()["data"]
    assert messages[0]["read_at"] is not None
    # cn-1 starts verifying; gb-1 verifies both contacts
    client.post("/v1/verifications", json={"account": "cn-1", "contact": "emergency_email"})
    for contact, to in (("emergency_email", "gb1@tea.example.co.uk"),
                        ("emergency_phone", "+447911123456")):
        started = client.post("/v1/verifications", json={"account": "gb-1", "contact": contact,
                                                         "channel": "sms" if "phone" in contact
                                                         else "email"}).json()
        deliver(container)
        code = code_in(sender.to(to)[-1].body)
        checked = client.post(f"/v1/verifications/{started['id']}/check", json={"code": code})
        assert checked.json()["status"] == "approved"
    funnel = client.get(f"/v1/campaigns/{campaign['id']}/funnel").json()
    assert (funnel["targeted"], funnel["notified"], funnel["seen"], funnel["started"],
            funnel["verified"]) == (3, 3, 1, 2, 1)
    assert funnel["by_channel"]["email"] == {"sent": 3}
    assert funnel["by_channel"]["sms"] == {"sent": 3}
    assert funnel["by_channel"]["in_app"] == {"sent": 3}
    countries = {r["country"]: r for r in funnel["by_country"]}
    assert countries["GB"] == {"country": "GB", "targeted": 1, "notified": 1, "seen": 1,
                               "started": 1, "verified": 1}
    assert countries["CN"]["started"] == 1 and countries["CN"]["verified"] == 0
    assert funnel["by_day"] == [{"date": "2027-02-11", "targeted": None, "notified": 3,
                                 "seen": 1, "started": 2, "verified": 1}]
    from contactguard.services.campaigns import funnel_csv
    csv_text = funnel_csv(container.deps, campaign["id"])
    assert csv_text.splitlines()[1] == "total,all,3,3,1,2,1"
