"""Policy, compliance, webhooks and audit commands, run as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.e2e.conftest import Cli

CSV = """external_id,name,country,locale,time_zone,emergency_email,emergency_phone
s-1,Lotus Tea House,CN,zh-Hans,Asia/Shanghai,owner@lotus.example.com,010 6552 9988
s-2,Acme Outdoor,GB,en-GB,,ops@acme.example.com,
"""


def test_policy_file_and_policy_set(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    policy_file = tmp_path / "contactguard.toml"
    policy_file.write_text('[policy]\nreverify_after_days = 180\n'
                           'min_signals = { account_health_rating = 200 }\n')
    cli.env["CONTACTGUARD_POLICY_FILE"] = str(policy_file)
    shown = json.loads(cli("policy", "show").stdout)
    assert shown["reverify_after_days"] == 180
    assert shown["min_signals"] == {"account_health_rating": 200.0}
    policy_file.write_text('[policy]\nreverify_after_days = "soon"\nmax_snoozes = 99\n')
    bad = cli("policy", "show", check=False)
    assert bad.returncode == 2
    message = " ".join(bad.stderr.split())
    assert "policy.reverify_after_days: a whole number" in message
    assert "policy.max_snoozes: must be between 0 and 20" in message
    del cli.env["CONTACTGUARD_POLICY_FILE"]
    update = tmp_path / "new.toml"
    update.write_text('required = ["emergency_email"]\ndue_soon_days = 14\n')
    stored = json.loads(cli("policy", "set", str(update)).stdout)
    assert stored["required"] == ["emergency_email"] and stored["due_soon_days"] == 14
    assert json.loads(cli("policy", "show").stdout)["due_soon_days"] == 14


def test_compliance_webhooks_and_audit_commands(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    from contactguard.bootstrap import bootstrap
    from contactguard.config import load_settings
    from contactguard.services.webhooks import create_endpoint

    settings = load_settings(database_url=cli.env["CONTACTGUARD_DATABASE_URL"],
                             secret_key=cli.env["CONTACTGUARD_SECRET_KEY"],
                             var_dir=tmp_path / "var",
                             webhook_allow_private=True)  # a local address, never posted to
    container = bootstrap(settings, start_worker=False)
    try:
        endpoint = create_endpoint(container.deps, url="http://127.0.0.1:9/hooks",
                                   events=["contact.changed"]).endpoint
    finally:
        container.close()
    source = tmp_path / "sellers.csv"
    source.write_text(CSV)
    cli("accounts", "import", str(source))
    listing = cli("compliance", "list", "--state", "action_required").stdout
    assert "s-1" in listing and "s-2" in listing and "not verified" in listing
    assert "2 accounts recomputed" in cli("compliance", "rebuild").stdout

    assert "http://127.0.0.1:9/hooks" in cli("webhooks", "list").stdout
    deliveries = cli("webhooks", "deliveries", str(endpoint.id)).stdout
    assert deliveries.count("contact.changed") == 3 and "pending" in deliveries
    engine = create_engine(cli.env["CONTACTGUARD_DATABASE_URL"])
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM outbox WHERE channel = 'webhook'")).scalar()
    assert "queued again" in cli("webhooks", "replay", str(first)).stdout

    assert "audit log intact" in cli("audit", "verify").stdout
    entries = [json.loads(line) for line in cli("audit", "list", "--json").stdout.splitlines()]
    actions = {e["action"] for e in entries}
    assert {"account.created", "contact.added", "webhook.delivery_replayed"} <= actions
    assert any(e["actor"] == "cli" for e in entries if e["action"] == "webhook.delivery_replayed")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET after = NULL WHERE seq = 2"))
    engine.dispose()
    broken = cli("audit", "verify", check=False)
    assert broken.returncode == 1
    message = " ".join(broken.stderr.split())
    assert "broken at entry 2" in message and "altered" in message
