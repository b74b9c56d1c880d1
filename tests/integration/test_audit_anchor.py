"""Audit anchors (issue 11): deleting the newest entries and rewinding the head is caught."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.domain.audit import (
    GENESIS,
    anchor_from_document,
    anchor_key,
    anchor_to_document,
    sign_anchor,
)
from contactguard.entrypoints.cli import app as cli_app
from contactguard.errors import InvalidAnchor
from contactguard.services.audit import make_anchor, verify_chain
from tests.conftest import SECRET
from tests.integration.conftest import MOBILE_GB, make_account


def _cli(container: Container, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"CONTACTGUARD_DATABASE_URL": container.settings.database_url,
           "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_VAR_DIR": str(tmp_path / "var"),
           "CONTACTGUARD_DEV": None, "CONTACTGUARD_LOG_JSON": "1", "COLUMNS": "200"}
    result = CliRunner().invoke(cli_app, list(args), env=env)
    return result.exit_code, result.output


def _cut_back(container: Container, to_seq: int) -> None:
    """What an attacker with database access does: delete the newest entries, rewind the
    head to the entry before them (the chain itself stays consistent)."""
    log = t.audit_log
    with container.engine.begin() as conn:
        kept = conn.execute(select(log.c.hash).where(log.c.seq == to_seq)).scalar_one()
        conn.execute(delete(log).where(log.c.seq > to_seq))
        conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1)
                     .values(seq=to_seq, hash=kept))


def _entries(client: TestClient) -> int:
    make_account(client, "a1", country="GB", email="alice@example.com", phone=MOBILE_GB)
    make_account(client, "a2", country="GB", email="bob@example.com", phone=None)
    assert client.put("/v1/accounts/a1/contacts/emergency_email",
                      json={"value": "alicia@example.com"}).status_code == 200
    head = client.get("/v1/audit", params={"limit": 1}).json()["data"][0]["seq"]
    assert head >= 4
    return int(head)


def test_deleted_newest_entries_pass_the_chain_but_not_the_anchor(
        client: TestClient, container: Container, tmp_path: Path) -> None:
    head = _entries(client)
    anchor_file = tmp_path / "anchor.json"
    code, output = _cli(container, tmp_path, "audit", "anchor", "--out", str(anchor_file))
    assert code == 0, output
    assert f"anchored entry {head}" in output
    document = json.loads(anchor_file.read_text())
    assert document["seq"] == head and len(document["signature"]) == 64
    code, output = _cli(container, tmp_path, "audit", "verify", "--anchor", str(anchor_file))
    assert (code, output) == (0, f"audit log intact: {head} entries verified, anchored entry "
                                 f"{head} present\n")
    make_account(client, "a3", country="GB", email="carol@example.com", phone=None)
    assert _cli(container, tmp_path, "audit", "verify", "--anchor", str(anchor_file))[0] == 0

    _cut_back(container, head - 2)
    assert verify_chain(container.deps).ok  # the hole: the chain alone cannot tell
    assert _cli(container, tmp_path, "audit", "verify")[0] == 0
    code, output = _cli(container, tmp_path, "audit", "verify", "--anchor", str(anchor_file))
    assert code == 1, output
    assert f"audit log broken at entry {head - 1}:" in output
    assert f"entries {head - 1}-{head} are missing" in output
    assert f"entry {head} was anchored at 20" in output  # the CLI runs on the system clock


def test_a_cut_back_log_written_again_differs_from_the_anchor(
        client: TestClient, container: Container) -> None:
    head = _entries(client)
    anchor = make_anchor(container.deps)
    _cut_back(container, head - 1)
    report = verify_chain(container.deps, anchor=anchor)
    assert not report.ok and report.broken_at == head
    assert report.reason.startswith(f"entry {head} is missing: the chain ends at entry {head - 1}")
    make_account(client, "a9", country="GB", email="dan@example.com", phone=None)  # new entries
    report = verify_chain(container.deps, anchor=anchor)
    assert verify_chain(container.deps).ok
    assert not report.ok and report.broken_at == head
    assert f"entry {head} is not the one anchored" in report.reason


def test_a_tampered_or_foreign_anchor_is_refused(client: TestClient, container: Container,
                                                 tmp_path: Path) -> None:
    head = _entries(client)
    anchor = make_anchor(container.deps)
    assert verify_chain(container.deps, anchor=anchor).ok
    _cut_back(container, head - 1)
    # the attacker rewrites the anchor to match the shortened chain: its signature breaks
    forged = replace(anchor, seq=head - 1)
    with pytest.raises(InvalidAnchor, match="signature does not match"):
        verify_chain(container.deps, anchor=forged)
    anchor_file = tmp_path / "anchor.json"
    anchor_file.write_text(json.dumps(anchor_to_document(forged)))
    code, output = _cli(container, tmp_path, "audit", "verify", "--anchor", str(anchor_file))
    assert code == 1 and "anchor refused" in output and "signature does not match" in output
    foreign = sign_anchor(anchor_key(b"another secret"), anchor)  # another installation's key
    with pytest.raises(InvalidAnchor):
        verify_chain(container.deps, anchor=foreign)
    anchor_file.write_text('{"kind": "something else"}')
    code, output = _cli(container, tmp_path, "audit", "verify", "--anchor", str(anchor_file))
    assert code == 2 and "not an audit anchor" in output
    code, output = _cli(container, tmp_path, "audit", "verify", "--anchor",
                        str(tmp_path / "missing.json"))
    assert code == 2 and "cannot use" in output


def test_anchor_of_an_empty_log(container: Container) -> None:
    empty = make_anchor(container.deps)
    assert (empty.seq, empty.hash) == (0, GENESIS)
    assert verify_chain(container.deps, anchor=empty).ok


def test_anchor_over_the_api(client: TestClient, container: Container) -> None:
    first = make_anchor(container.deps)
    head = _entries(client)
    response = client.get("/v1/audit/anchor")
    assert response.status_code == 200, response.text
    anchor = anchor_from_document(response.json())
    assert anchor.seq == head
    assert verify_chain(container.deps, anchor=anchor).ok
    assert verify_chain(container.deps, anchor=first).ok  # older anchors stay valid
    bad = {**response.json(), "hash": "f" * 64}
    with pytest.raises(InvalidAnchor):
        verify_chain(container.deps, anchor=anchor_from_document(bad))
