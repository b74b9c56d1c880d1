"""Campaigns end to end: the CLI with a campaign.toml, real workers, a real SMTP server, and a
worker SIGKILLed in the middle of a fan-out."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from contactguard.adapters.db import tables as t
from contactguard.adapters.holidays import HolidayCalendars
from contactguard.domain.campaigns import next_allowed
from contactguard.services.campaign_messages import zone
from tests.e2e.conftest import BIN, Cli
from tests.smtp_sink import SinkHandler, SmtpSink

EXAMPLE = Path(__file__).parents[2] / "docs" / "campaign.example.toml"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(SinkHandler())
    server.start()
    yield server
    server.stop()


def _worker_env(cli: Cli, sink: SmtpSink, **extra: str) -> dict[str, str]:
    return {**cli.env, "CONTACTGUARD_SMTP_URL": sink.url,
            "CONTACTGUARD_MAIL_FROM": "Acme Market <no-reply@mail.acme.test>",
            "CONTACTGUARD_WORKER_POLL_SECONDS": "0.2", "CONTACTGUARD_WORKER_LEASE_SECONDS": "3",
            "CONTACTGUARD_CAMPAIGN_TICK_SECONDS": "0.2", **extra}


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as handle:
        return subprocess.Popen([str(BIN), "worker"], env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}"
                                 + (f"\n{log.read_text()[-3000:]}" if log else ""))
        time.sleep(0.05)


def _scalar(url: str, query) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_cli_runs_a_campaign_from_campaign_toml(cli: Cli, database_url: str, tmp_path: Path,
                                                sink: SmtpSink) -> None:
    cli("db", "upgrade")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "external_id,name,country,locale,time_zone,emergency_email,emergency_phone\n"
        "gb-1,Tea Shop,GB,en,Europe/London,owner@tea.example.co.uk,+447911123456\n"
        "cn-1,Lotus Tea House,CN,zh-Hans,Asia/Shanghai,owner@lotus.example.com,+8613800138000\n")
    cli("accounts", "import", str(accounts))
    cli("compliance", "rebuild")

    # the complete example from the README, moved to dates ahead of the real clock
    now = datetime.now(UTC)
    effective = (now + timedelta(days=45)).replace(microsecond=0)
    document = EXAMPLE.read_text()
    document = re.sub(r"(?m)^announce_at = .*$", "", document)
    document = re.sub(r"(?m)^effective_at = .*$", f"effective_at = {effective.isoformat()}",
                      document)
    campaign_toml = tmp_path / "campaign.toml"
    campaign_toml.write_text(document)

    email_only = tmp_path / "email-only.toml"
    email_only.write_text(document.replace('channels = ["in_app", "email", "sms"]',
                                           'channels = ["email"]'))
    refused = cli("campaigns", "create", "--file", str(email_only), check=False)
    assert refused.returncode == 1 and "channels: in_app is always part" in refused.stderr

    created = json.loads(cli("campaigns", "create", "--file", str(campaign_toml),
                             "--json").stdout)
    assert created["status"] == "draft" and created["quiet_hours"] == {"start": "21:00",
                                                                       "end": "09:00"}
    campaign = str(created["id"])
    preview = cli("campaigns", "preview", campaign)
    assert "2 account(s)" in preview.stdout and "CN" in preview.stdout
    assert "open your seller dashboard" in preview.stdout

    cli("campaigns", "launch", campaign)
    calendars = HolidayCalendars()
    due_now = {email for email, country, tz in (
        ("owner@tea.example.co.uk", "GB", "Europe/London"),
        ("owner@lotus.example.com", "CN", "Asia/Shanghai"))
        if next_allowed(now, zone(tz), calendars(country), created_quiet(created)) <= now
        + timedelta(seconds=30)}
    log = tmp_path / "worker.log"
    worker = _start_worker(_worker_env(cli, sink), log)
    try:
        _wait(lambda: _scalar(database_url, select(func.count()).select_from(t.campaign_targets))
              == 2, 60, "planning", log)
        _wait(lambda: {r.rcpt for r in sink.received} >= due_now, 60, "the notices", log)
        status = json.loads(cli("campaigns", "status", campaign, "--json").stdout)
        assert status["campaign"]["progress"]["planned"] == 2
        assert status["funnel"]["notified"] == len(due_now)
        assert status["funnel"]["by_channel"].get("email", {}).get("sent", 0) == len(due_now)
        table = cli("campaigns", "status", campaign, "--once").stdout
        assert "notified" in table and "by country" in table
        for message in sink.received:
            body = message.parsed.get_body(("plain",)).get_content()
            assert "http" not in body
            assert "Reference: CG-" in body or "参考编号：CG-" in body
        assert json.loads(cli("campaigns", "pause", campaign, "--json").stdout)["status"] == \
            "paused"
        assert json.loads(cli("campaigns", "resume", campaign, "--json").stdout)["status"] == \
            "running"
        assert "running" in cli("campaigns", "list").stdout
        assert json.loads(cli("campaigns", "cancel", campaign, "--json").stdout)["status"] == \
            "canceled"
        again = cli("campaigns", "cancel", campaign, check=False)
        assert again.returncode == 1 and "cannot cancel a canceled campaign" in again.stderr
    finally:
        _stop(worker)


def created_quiet(created: dict):
    from contactguard.domain.campaigns import QuietHours, parse_clock

    q = created["quiet_hours"]
    return QuietHours(parse_clock(q["start"]), parse_clock(q["end"])) if q else None


def _seed(url: str, count: int) -> None:
    """Sellers with an emergency email each, written with SQL (as the benchmark does)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (external_id, name, country, locale, time_zone, created_at, "
            "updated_at) SELECT 'k-' || g, 'Seller ' || g, 'GB', 'en', 'Europe/London', now(), "
            "now() FROM generate_series(1, :n) g"), {"n": count})
        conn.execute(text(
            "INSERT INTO contacts (account_id, kind, value, created_at, updated_at) "
            "SELECT id, 'emergency_email', 'owner-' || id || '@shop.example.com', now(), now() "
            "FROM accounts"))
    engine.dispose()


def test_a_worker_killed_mid_fan_out_leaves_notice_and_email_together(
        cli: Cli, database_url: str, tmp_path: Path, sink: SmtpSink) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SIGKILL during fan-out across worker processes is a PostgreSQL deployment")
    cli("db", "upgrade")
    count = 1500
    _seed(database_url, count)
    toml = tmp_path / "campaign.toml"
    effective = (datetime.now(UTC) + timedelta(days=45)).replace(microsecond=0)
    toml.write_text(f'name = "Kill test"\ncontacts = ["emergency_email"]\n'
                    f'channels = ["in_app", "email"]\neffective_at = {effective.isoformat()}\n'
                    f'quiet_hours = false\nreminders = []\n[audience]\ncountries = ["GB"]\n')
    campaign = json.loads(cli("campaigns", "create", "--file", str(toml), "--json").stdout)["id"]
    cli("campaigns", "launch", str(campaign))

    steps = select(func.count()).select_from(t.campaign_steps)
    env = _worker_env(cli, sink, CONTACTGUARD_CAMPAIGN_BATCH="50")
    victim = _start_worker(env, tmp_path / "victim.log")
    try:
        _wait(lambda: _scalar(database_url, steps) >= 200, 60, "the fan-out to start",
              tmp_path / "victim.log")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
    finally:
        _stop(victim)
    written = _scalar(database_url, steps)
    assert 200 <= written < count, "the kill must land in the middle of the fan-out"
    _assert_notice_and_email_together(database_url)

    log = tmp_path / "rerun.log"
    rerun = _start_worker(env, log)
    try:
        _wait(lambda: _scalar(database_url, steps) == count, 120, "the rerun to finish", log)
        _assert_notice_and_email_together(database_url)
        _wait(lambda: len(sink.received) >= 100, 60, "delivery", log)
    finally:
        _stop(rerun)
    by_rcpt: dict[str, set[str]] = {}
    for item in sink.received:
        by_rcpt.setdefault(item.rcpt, set()).add(item.message_id)
    assert all(len(ids) == 1 for ids in by_rcpt.values()), "an account got two notices"


def _assert_notice_and_email_together(url: str) -> None:
    """Every account has its in-app notice (step) and its email, or neither."""
    s, o = t.campaign_steps.c, t.outbox.c
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            steps = set(conn.execute(select(s.account_id, s.reference)).all())
            emails = set(conn.execute(select(o.account_id, o.reference).where(
                o.kind == "campaign_notice", o.channel == "email")).all())
            targets_notified = conn.execute(select(func.count()).select_from(
                t.campaign_targets).where(t.campaign_targets.c.notified_at.is_not(None))
            ).scalar_one()
            per_reference = conn.execute(select(o.reference, func.count()).where(
                o.kind == "campaign_notice").group_by(o.reference).having(func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    assert steps == emails
    assert targets_notified == len(steps)
    assert per_reference == []
