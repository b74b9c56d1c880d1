"""The safety guarantees the README and docs/architecture.md make, each broken on purpose.

Every test here is named by a mutation in ``tests/mutation/mutations.toml``: `make
mutation-check` breaks the guarantee in a scratch copy of the source and requires the test
to fail. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select, update
from typer.testing import CliRunner

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.domain.audit import ActorKind
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.cli import app as cli_app
from contactguard.services.audit import verify_chain
from contactguard.services.verification import check_code, resend_code, start_verification
from contactguard.testing import FaultInjector, FrozenClock, InjectedFault, RecordingSender
from tests.conftest import SECRET, deliver, latest_code
from tests.integration.conftest import MOBILE_GB, make_account, start

EMAIL = "owner@lotus.example.com"


def _count(container: Container, table: Table) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _challenge_row(container: Container, challenge_id: str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(select(t.challenges).where(t.challenges.c.id == challenge_id)).one()


# --- the outbox row is written in the same transaction as its challenge ------------------------

def test_a_failure_after_the_challenge_insert_leaves_no_challenge_and_no_message(
        client: TestClient, container: Container, sender: RecordingSender) -> None:
    make_account(client)
    for step in ("challenges.add", "sends.record", "outbox.add", "commit"):
        faulty = FaultInjector(container.deps.uow, after=step)
        with pytest.raises(InjectedFault):
            start_verification(replace(container.deps, uow=faulty), account="seller-1",
                               contact=ContactKind.EMERGENCY_EMAIL)
        assert faulty.fired == 1, step
        assert _count(container, t.challenges) == 0, f"a challenge outlived a failure at {step}"
        assert _count(container, t.outbox) == 0, f"a message outlived a failure at {step}"
        assert _count(container, t.verification_sends) == 0, step  # no cooldown either
    # Nothing was left half-done: the next try goes through at once (no cooldown) and its
    # one message carries the code that approves it.
    started = start_verification(container.deps, account="seller-1",
                                 contact=ContactKind.EMERGENCY_EMAIL)
    assert (_count(container, t.challenges), _count(container, t.outbox)) == (1, 1)
    code = latest_code(container, sender, EMAIL)
    assert len(sender.to(EMAIL)) == 1
    assert check_code(container.deps, started.id, code).status.value == "approved"


def test_a_failed_resend_keeps_the_old_code_and_queues_nothing(
        client: TestClient, container: Container, sender: RecordingSender,
        clock: FrozenClock) -> None:
    make_account(client)
    started = start_verification(container.deps, account="seller-1",
                                 contact=ContactKind.EMERGENCY_EMAIL)
    first = latest_code(container, sender, EMAIL)
    clock.advance(seconds=30)
    with pytest.raises(InjectedFault):
        resend_code(replace(container.deps, uow=FaultInjector(container.deps.uow,
                                                              after="outbox.add")), started.id)
    deliver(container)
    assert len(sender.to(EMAIL)) == 1 and _count(container, t.outbox) == 1
    assert _count(container, t.verification_sends) == 1
    assert _challenge_row(container, started.id).send_count == 1
    assert check_code(container.deps, started.id, first).status.value == "approved"


def test_a_failure_while_approving_leaves_the_challenge_pending_and_the_contact_unverified(
        client: TestClient, container: Container, sender: RecordingSender) -> None:
    make_account(client)
    started = start_verification(container.deps, account="seller-1",
                                 contact=ContactKind.EMERGENCY_EMAIL)
    code = latest_code(container, sender, EMAIL)
    audit_before = _count(container, t.audit_log)
    with pytest.raises(InjectedFault):
        check_code(replace(container.deps, uow=FaultInjector(container.deps.uow, after="commit")),
                   started.id, code)
    row = _challenge_row(container, started.id)
    assert (row.status, row.attempts, row.approved_at) == ("pending", 0, None)
    email = client.get("/v1/accounts/seller-1").json()["contacts"][0]
    assert (email["kind"], email["status"], email["verified_at"]) == (
        "emergency_email", "pending", None)
    assert _count(container, t.audit_log) == audit_before
    assert check_code(container.deps, started.id, code).status.value == "approved"


# --- an attempt is counted before the comparison, also for the right code ---------------------

def test_an_approval_uses_up_an_attempt(client: TestClient, container: Container,
                                        sender: RecordingSender) -> None:
    make_account(client)
    first = start(client, "seller-1", "emergency_email").json()
    code = latest_code(container, sender, EMAIL)
    approved = client.post(f"/v1/verifications/{first['id']}/check", json={"code": code}).json()
    assert (approved["status"], approved["attempts_left"]) == ("approved", 4)
    assert _challenge_row(container, first["id"]).attempts == 1

    # The right code on the last attempt still wins, and that attempt is counted too.
    make_account(client, "m1", country="GB", email="m1@example.com", phone=MOBILE_GB)
    second = start(client, "m1", "emergency_phone", "sms").json()
    code = latest_code(container, sender, "+447911123456")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        result = client.post(f"/v1/verifications/{second['id']}/check",
                             json={"code": wrong}).json()
        assert (result["status"], result["attempts_left"]) == ("pending", left)
    last = client.post(f"/v1/verifications/{second['id']}/check", json={"code": code}).json()
    assert (last["status"], last["attempts_left"]) == ("approved", 0)
    assert _challenge_row(container, second["id"]).attempts == 5


# --- the audit hash covers every field ---------------------------------------------------------

def _tampered(column: str, value: Any) -> Any:
    """A different value of the same kind, as someone editing the database would write."""
    if column == "actor_kind":
        return next(kind.value for kind in ActorKind if kind.value != value)
    if column == "seq":
        return value + 1000
    if isinstance(value, str):
        return (value[:-1] + ("1" if value[-1:] != "1" else "2")) if value else "x"
    if hasattr(value, "tzinfo"):
        return value + timedelta(microseconds=1)
    if isinstance(value, dict):
        return {**value, "value": "x•••@attacker.example"}
    if value is None:  # before/after of an entry without one
        return {"value": "x•••@attacker.example"}
    raise AssertionError(f"no way to tamper with audit_log.{column} = {value!r}: add one")


def test_audit_verify_names_an_entry_whose_any_column_was_edited(
        client: TestClient, container: Container, tmp_path) -> None:
    make_account(client, "a1", country="GB", email="alice@example.com", phone=MOBILE_GB)
    assert client.put("/v1/accounts/a1/contacts/emergency_email",
                      json={"value": "alicia@example.com"}).status_code == 200
    make_account(client, "a2", country="GB", email="bob@example.com", phone=None)
    log = t.audit_log
    with container.engine.connect() as conn:
        target = conn.execute(select(log).where(log.c.action == "contact.changed")).one()
        last = conn.execute(select(func.max(log.c.seq))).scalar_one()
    assert target.before and target.after and target.seq < last  # an entry in the middle
    seq = target.seq
    runner = CliRunner()
    env = {"CONTACTGUARD_DATABASE_URL": container.settings.database_url,
           "CONTACTGUARD_SECRET_KEY": SECRET, "CONTACTGUARD_VAR_DIR": str(tmp_path / "var"),
           "CONTACTGUARD_DEV": None, "CONTACTGUARD_LOG_JSON": "1", "COLUMNS": "200"}

    def audit_verify() -> tuple[int, str]:
        result = runner.invoke(cli_app, ["audit", "verify"], env=env)
        return result.exit_code, result.output

    assert audit_verify() == (0, f"audit log intact: {last} entries verified\n")
    columns = [column.name for column in log.columns]
    assert set(columns) >= {"at", "actor_kind", "actor_id", "actor_label", "action", "subject",
                            "before", "after", "prev_hash", "hash"}
    for column in columns:
        original = target._mapping[column]
        with container.engine.begin() as conn:
            conn.execute(update(log).where(log.c.seq == seq)
                         .values({column: _tampered(column, original)}))
        code, output = audit_verify()
        assert code == 1, (column, output)
        assert f"audit log broken at entry {seq}:" in output, (column, output)
        key = log.c.seq == (seq + 1000 if column == "seq" else seq)
        with container.engine.begin() as conn:  # put back exactly: intact again
            conn.execute(update(log).where(key).values({column: original}))
        assert verify_chain(container.deps).ok, column
    assert audit_verify()[0] == 0
