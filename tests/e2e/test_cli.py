"""The ``contactguard`` command line, run as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Cli

CSV = """external_id,name,country,locale,time_zone,emergency_email,emergency_phone
s-1,Lotus Tea House,CN,zh-Hans,Asia/Shanghai,owner@lotus.example.com,010 6552 9988
s-2,Acme Outdoor,GB,en-GB,,ops@acme.example.com,+44 7911 123456
s-3,Bad Phone,US,,,a@example.com,555
s-4,,,,,,
s-5,Bad Country,QQ,,,b@example.com,
"""


def test_apikeys_create_prints_the_key_once(cli: Cli) -> None:
    cli("db", "upgrade")
    created = cli("apikeys", "create", "--name", "platform backend")
    key = created.stdout.strip()
    assert key.startswith("cgk_") and len(key) > 40
    assert "cannot be shown again" in created.stderr
    listing = cli("apikeys", "list").stdout
    assert "platform backend" in listing and key not in listing
    assert cli("apikeys", "create", "--name", "  ", check=False).returncode == 1


def test_import_csv_reports_bad_rows_by_line_and_keeps_good_ones(cli: Cli,
                                                                 tmp_path: Path) -> None:
    cli("db", "upgrade")
    source = tmp_path / "sellers.csv"
    source.write_text(CSV)
    first = cli("accounts", "import", str(source), check=False)
    assert first.returncode == 1
    assert "2 created, 0 updated, 3 rejected" in first.stdout
    assert "line 4 (s-3): emergency_phone" in first.stderr.replace("contacts.", "")
    assert "line 5 (s-4)" in first.stderr and "name" in first.stderr
    assert "line 6 (s-5): country" in first.stderr
    again = cli("accounts", "import", str(source), check=False)  # idempotent by external_id
    assert "0 created, 2 updated, 3 rejected" in again.stdout

    shown = json.loads(cli("accounts", "show", "s-1", "--json").stdout)
    assert shown["time_zone"] == "Asia/Shanghai"
    assert {c["kind"]: c["line_type"] for c in shown["contacts"]}["emergency_phone"] == "fixed_line"
    table = cli("accounts", "show", "s-2").stdout
    assert "Acme Outdoor" in table and "+447911123456" in table and "unverified" in table
    missing = cli("accounts", "show", "nobody", check=False)
    assert missing.returncode == 1 and "no account" in missing.stderr


def test_import_ndjson(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    source = tmp_path / "sellers.ndjson"
    source.write_text("\n".join([
        json.dumps({"external_id": "n-1", "name": "One", "country": "DE",
                    "contacts": {"emergency_email": "one@example.com"}}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"external_id": "n-2", "name": "Two", "country": "FR", "extra": 1}),
        json.dumps({"external_id": "n-3", "name": "Three", "country": "FR",
                    "emergency_phone": "+33 6 12 34 56 78"}),
    ]) + "\n")
    result = cli("accounts", "import", str(source), check=False)
    assert "2 created, 0 updated, 3 rejected" in result.stdout
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: not a JSON object" in result.stderr
    assert "line 4 (n-2): unknown field(s): extra" in result.stderr


def test_import_refuses_unknown_formats(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "sellers.xlsx"
    source.write_text("x")
    result = cli("accounts", "import", str(source), check=False)
    assert result.returncode == 2 and "--format" in result.stderr


def test_production_mode_requires_a_secret_key(cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k != "CONTACTGUARD_SECRET_KEY"}
    result = Cli(env)("apikeys", "list", check=False)
    assert result.returncode == 2
    assert "CONTACTGUARD_SECRET_KEY is required" in result.stderr
