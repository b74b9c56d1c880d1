"""The set-based fan-out (PostgreSQL) decides exactly what the row-by-row planner decides, and
on both backends every targeted account gets one target, at most one notice, and its notice
with its email/SMS rows together."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.services.accounts import set_security_phrase
from contactguard.services.campaign_runner import CampaignRunner
from contactguard.testing import FrozenClock
from tests.integration.conftest import make_account
from tests.integration.test_campaigns import ANNOUNCE, CN_MOBILE, GB_MOBILE, campaign_body


def _sellers(client: TestClient, container: Container, clock: FrozenClock) -> None:
    """GB and CN sellers of every kind the planner tells apart."""
    clock.set(ANNOUNCE - timedelta(days=40))
    for n in range(6):
        make_account(client, f"gb-{n}", country="GB", email=f"gb{n}@tea.example.co.uk",
                     phone=GB_MOBILE, locale="zh-Hans" if n == 1 else None)
        make_account(client, f"cn-{n}", country="CN", email=f"cn{n}@lotus.example.com",
                     phone=CN_MOBILE)
    make_account(client, "gb-landline", country="GB", email="land@tea.example.co.uk",
                 phone="+44 20 7946 0018")
    make_account(client, "gb-no-phone", country="GB", email="nophone@tea.example.co.uk",
                 phone=None)
    make_account(client, "gb-no-email", country="GB", email=None, phone=GB_MOBILE)
    set_security_phrase(container.deps, "gb-2", "blue teapot on the shelf")
    engine = create_engine(container.settings.database_url)
    a, c = t.accounts.c, t.contacts.c
    with engine.begin() as conn:
        ids = dict(conn.execute(select(a.external_id, a.id)).all())
        now = clock.now()
        # gb-2: email verified (the phrase goes with it); gb-3: both verified (compliant)
        for account, kinds in (("gb-2", ["emergency_email"]),
                               ("gb-3", ["emergency_email", "emergency_phone"])):
            conn.execute(update(t.contacts).where(c.account_id == ids[account],
                                                  c.kind.in_(kinds))
                         .values(verified_value=c.value, verified_at=now,
                                 verified_line_type=c.line_type, verified_channel="email"))
        email_id = conn.execute(select(c.id, c.value).where(
            c.account_id == ids["gb-4"], c.kind == "emergency_email")).one()
        conn.execute(t.contact_undeliverable.insert().values(
            contact_id=email_id.id, channel="email", value=email_id.value, reason="bounced",
            since=now))
    engine.dispose()
    clock.set(ANNOUNCE + timedelta(hours=12))  # GB daytime; CN still in Spring Festival


def _outcome(container: Container) -> dict[str, Any]:
    engine = create_engine(container.settings.database_url)
    with engine.connect() as conn:
        targets = {r.external_id: (r.state, r.deadline, r.notified_at, r.next_step,
                                   r.next_step_at) for r in conn.execute(text(
            "SELECT a.external_id, t.* FROM campaign_targets t "
            "JOIN accounts a ON a.id = t.account_id"))}
        steps = {r.external_id: (r.step, r.kind, r.channels) for r in conn.execute(text(
            "SELECT a.external_id, s.* FROM campaign_steps s "
            "JOIN accounts a ON a.id = s.account_id"))}
        step_refs = {r.reference for r in conn.execute(text(
            "SELECT reference FROM campaign_steps"))}
        messages = sorted((r.external_id, r.channel, r.recipient, r.locale, r.lane, r.status,
                           r.secret is not None, r.reference in step_refs,
                           repr(sorted((k, v) for k, v in _json(r.params).items()
                                       if k != "campaign")))
                          for r in conn.execute(text(
            "SELECT a.external_id, o.* FROM outbox o JOIN accounts a ON a.id = o.account_id "
            "WHERE o.kind LIKE 'campaign%'")))
        recheck = {r.external_id for r in conn.execute(text(
            "SELECT a.external_id FROM account_compliance c JOIN accounts a "
            "ON a.id = c.account_id WHERE c.recheck_at = :now"),
            {"now": container.deps.clock.now()})}
    engine.dispose()
    return {"targets": targets, "steps": steps, "messages": messages, "recheck": recheck}


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def _fan_out(client: TestClient, container: Container, *, set_based: bool) -> dict[str, Any]:
    created = client.post("/v1/campaigns", json=campaign_body(
        audience={"countries": ["CN", "GB"]}, quiet_hours={"start": "21:00", "end": "09:00"}))
    campaign = created.json()
    client.post(f"/v1/campaigns/{campaign['id']}/launch")
    runner = CampaignRunner(container.deps, batch=4)  # several ranges
    runner.set_based = set_based
    runner.run(budget_seconds=None)
    return _outcome(container)


def test_set_based_planning_decides_what_the_row_by_row_planner_decides(
        client: TestClient, container: Container, clock: FrozenClock,
        database_url: str) -> None:
    _sellers(client, container, clock)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM outbox"))  # the sign-up mail, not part of this test
        conn.execute(text("UPDATE account_compliance SET recheck_at = NULL"))  # as below
        conn.commit()
    engine.dispose()
    by_rows = _fan_out(client, container, set_based=False)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE kind LIKE 'campaign%'"))
        conn.execute(text("DELETE FROM campaigns"))
        conn.execute(text("UPDATE account_compliance SET recheck_at = NULL"))
    engine.dispose()
    by_sets = _fan_out(client, container, set_based=True)
    assert by_sets["targets"] == by_rows["targets"]
    assert by_sets["steps"] == by_rows["steps"]
    assert by_sets["recheck"] == by_rows["recheck"]
    # messages: the same rows and parameters but the reference (random) and the campaign id
    def strip(messages: list[tuple]) -> list[tuple]:
        return [m[:7] + m[8:] for m in messages]

    assert strip(by_sets["messages"]) == strip(by_rows["messages"])
    # GB only: gb-0,1,2,5 email + SMS, gb-4 SMS (email bounced), gb-3 none (compliant), the
    # landline and the seller without a phone email only, the one without an email SMS only
    assert len(by_sets["messages"]) == 4 * 2 + 1 + 0 + 1 + 1 + 1
    assert all(m[7] for m in by_sets["messages"])  # every message belongs to a written step

    targets, steps = by_sets["targets"], by_sets["steps"]
    assert len(targets) == 15
    assert targets["gb-3"][0] == "skipped" and "gb-3" not in steps  # compliant already
    assert all(targets[f"cn-{n}"][0] == "scheduled" for n in range(6))  # Spring Festival
    assert steps["gb-4"][2] == "in_app,sms"  # the bounced email is not mailed again
    assert steps["gb-landline"][2] == "in_app,email"  # no SMS to a landline
    assert steps["gb-no-email"][2] == "in_app,sms"
    phrase = [m for m in by_sets["messages"] if m[0] == "gb-2" and m[1] == "email"]
    assert phrase and phrase[0][6]  # the security phrase travels sealed with the email
    assert not any(m[6] for m in by_sets["messages"] if m[0] != "gb-2")
