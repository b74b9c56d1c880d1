"""Console operators and sign-in (SQLite and PostgreSQL): one-time passwords, argon2id, TOTP
enrolment and codes (pyotp), replay, throttling per email and per address, roles checked in
the services, and every action audited with the operator as actor."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.adapters.operator_auth import Argon2Passwords
from contactguard.bootstrap import Container
from contactguard.domain.audit import CLI, ActorKind
from contactguard.domain.operators import Operator, Role
from contactguard.domain.sessions import Realm
from contactguard.errors import Conflict, Forbidden, SignInFailed, SignInThrottled, ValidationFailed
from contactguard.services import audit, console, operator_auth, operators, web_sessions
from contactguard.testing import FrozenClock

NEW_PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_hashes(container: Container) -> None:
    """Real argon2id with small costs: the suite hashes dozens of times."""
    container.deps.passwords = Argon2Passwords(time_cost=1, memory_cost=1024, parallelism=1)


def _enrolled(container: Container, email: str, role: str = "admin") -> tuple[Operator, str]:
    """An operator that signed in once: enrolled TOTP, changed its password. Returns the secret."""
    deps = container.deps
    created = operators.create_operator(deps, email, role, actor=CLI)
    checked = operator_auth.check_password(deps, email, created.password, ip="10.0.0.1")
    enrolment = operator_auth.enrolment(deps, checked.operator_id)
    totp = pyotp.TOTP(enrolment.secret)
    operator_auth.confirm_enrolment(deps, checked.operator_id, totp.at(deps.clock.now()),
                                    ip="10.0.0.1")
    operator_auth.change_password(deps, checked.operator_id, NEW_PASSWORD)
    return operators.get_operator(deps, checked.operator_id), enrolment.secret


def test_first_sign_in_enrols_totp_then_codes_work_once(container: Container,
                                                       clock: FrozenClock) -> None:
    deps = container.deps
    created = operators.create_operator(deps, " Ops.Lead@Acme.Example.COM ", "admin", actor=CLI)
    assert created.operator.email == "ops.lead@acme.example.com" and created.operator.must_change_password
    assert len(created.password) >= 20
    with container.engine.connect() as conn:
        stored = conn.execute(select(t.operators.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and created.password not in stored

    checked = operator_auth.check_password(deps, "OPS.LEAD@acme.example.com", created.password, ip="10.0.0.1")
    assert checked.next_step is operator_auth.NextStep.ENROL
    enrolment = operator_auth.enrolment(deps, checked.operator_id)
    assert enrolment.uri.startswith("otpauth://totp/") and "secret=" + enrolment.secret in enrolment.uri
    assert operator_auth.enrolment(deps, checked.operator_id).secret == enrolment.secret  # stable
    with container.engine.connect() as conn:
        sealed = conn.execute(select(t.operators.c.totp_secret)).scalar_one()
    assert enrolment.secret not in sealed  # sealed at rest

    totp = pyotp.TOTP(enrolment.secret)
    with pytest.raises(SignInFailed):
        operator_auth.confirm_enrolment(deps, checked.operator_id, "000000", ip="10.0.0.1")
    operator_auth.confirm_enrolment(deps, checked.operator_id, totp.at(clock.now()), ip="10.0.0.1")
    with pytest.raises(Conflict):
        operator_auth.enrolment(deps, checked.operator_id)

    # A one-time password must be changed; weak or unchanged passwords are refused by field.
    for weak in ("short", created.password, "ops.lead-is-great-2026", "aaaaaaaaaaaaaaaa"):
        with pytest.raises(ValidationFailed) as refused:
            operator_auth.change_password(deps, checked.operator_id, weak)
        assert refused.value.errors[0].field == "password"
    operator_auth.change_password(deps, checked.operator_id, NEW_PASSWORD)
    with pytest.raises(SignInFailed):
        operator_auth.check_password(deps, "ops.lead@acme.example.com", created.password, ip="10.0.0.1")

    clock.advance(seconds=60)
    again = operator_auth.check_password(deps, "ops.lead@acme.example.com", NEW_PASSWORD, ip="10.0.0.1")
    assert again.next_step is operator_auth.NextStep.TOTP
    code = totp.at(clock.now())
    operator = operator_auth.check_code(deps, again.operator_id, code, ip="10.0.0.1")
    assert operator.email == "ops.lead@acme.example.com"
    with pytest.raises(SignInFailed):  # the same code again: replay refused
        operator_auth.check_code(deps, again.operator_id, code, ip="10.0.0.1")
    # One step of clock drift either way is accepted.
    clock.advance(seconds=30)
    operator_auth.check_code(deps, again.operator_id, totp.at(clock.now() + timedelta(seconds=30)),
                             ip="10.0.0.1")
    with pytest.raises(SignInFailed):
        operator_auth.check_code(deps, again.operator_id, totp.at(clock.now() + timedelta(minutes=5)),
                                 ip="10.0.0.1")


def test_failures_are_generic_and_throttled_per_email_and_per_address(
        container: Container, clock: FrozenClock) -> None:
    deps = container.deps
    admin, secret = _enrolled(container, "admin@acme.example.com")
    # Unknown email, wrong password, disabled operator: the same answer.
    messages = set()
    for email, password in (("nobody@acme.example.com", NEW_PASSWORD),
                            ("admin@acme.example.com", "wrong" * 3)):
        with pytest.raises(SignInFailed) as failed:
            operator_auth.check_password(deps, email, password, ip="10.0.0.2")
        messages.add(failed.value.detail)
    assert messages == {operator_auth.GENERIC}

    # Five failures for one email lock that email (from any address), not others.
    for _ in range(4):
        with pytest.raises(SignInFailed):
            operator_auth.check_password(deps, "admin@acme.example.com", "wrong" * 3, ip="10.0.0.3")
    with pytest.raises(SignInThrottled) as throttled:
        operator_auth.check_password(deps, "admin@acme.example.com", NEW_PASSWORD, ip="10.0.0.9")
    assert 0 < throttled.value.retry_after_seconds <= 15 * 60
    # The same answer for an email that does not exist, once it was tried five times.
    for _ in range(5):
        with pytest.raises(SignInFailed):
            operator_auth.check_password(deps, "ghost@acme.example.com", "x" * 12, ip=f"10.1.0.{_}")
    with pytest.raises(SignInThrottled):
        operator_auth.check_password(deps, "ghost@acme.example.com", "x" * 12, ip="10.1.0.99")
    # Wrong TOTP codes count against the operator's email too.
    clock.advance(minutes=16)
    checked = operator_auth.check_password(deps, "admin@acme.example.com", NEW_PASSWORD, ip="10.0.0.4")
    for _ in range(5):
        with pytest.raises(SignInFailed):
            operator_auth.check_code(deps, checked.operator_id, "123456" if _ % 2 else "654321",
                                     ip="10.0.0.4")
    with pytest.raises(SignInThrottled):
        operator_auth.check_code(deps, checked.operator_id, pyotp.TOTP(secret).at(clock.now()),
                                 ip="10.0.0.4")
    # Per address: 20 failures over many emails lock the address.
    clock.advance(minutes=16)
    for i in range(20):
        with pytest.raises(SignInFailed):
            operator_auth.check_password(deps, f"spray{i}@acme.example.com", "x" * 12, ip="10.9.9.9")
    with pytest.raises(SignInThrottled):
        operator_auth.check_password(deps, "admin@acme.example.com", NEW_PASSWORD, ip="10.9.9.9")
    assert operator_auth.check_password(deps, "admin@acme.example.com", NEW_PASSWORD,
                                        ip="10.0.0.5").operator_id == admin.id
    # Failed attempts at a known operator are audited (not as the operator: nobody proved it).
    failed_entries = [e for e in audit.list_entries(deps, limit=200, subject=f"operator:{admin.id}")
                      if e.action == "operator.sign_in_failed"]
    assert failed_entries and all(e.actor.kind is ActorKind.SYSTEM for e in failed_entries)
    clock.advance(days=2)
    assert operator_auth.purge_failures(deps) > 0


def test_roles_are_enforced_in_the_services(container: Container) -> None:
    deps = container.deps
    admin, _ = _enrolled(container, "admin@acme.example.com")
    agent, _ = _enrolled(container, "agent@acme.example.com", "support")
    console.dashboard(deps, by=agent)
    console.read_policy(deps, by=agent)
    refused = [
        lambda: console.set_policy(deps, {"grace_days": 10}, by=agent),
        lambda: console.list_webhooks(deps, by=agent),
        lambda: console.webhook_deliveries(deps, 1, by=agent),
        lambda: console.replay_webhook(deps, 1, by=agent),
        lambda: console.operator_sessions(deps, by=agent),
        lambda: console.revoke_operator_session(deps, 1, by=agent),
        lambda: console.revoke_operator_sessions(deps, admin.id, by=agent),
        lambda: console.sign_seller_out(deps, "seller-1", by=agent),
        lambda: operators.create_operator(deps, "x@acme.example.com", "admin", by=agent),
        lambda: operators.list_operators(deps, by=agent),
        lambda: operators.disable_operator(deps, admin.id, by=agent),
        lambda: operators.enable_operator(deps, admin.id, by=agent),
        lambda: operators.reset_second_factor(deps, admin.id, by=agent),
        lambda: operators.reset_password(deps, admin.id, by=agent),
    ]
    for action in refused:
        with pytest.raises(Forbidden):
            action()
    # A disabled admin is refused at once too, whatever its cookie says.
    second, _ = _enrolled(container, "second@acme.example.com")
    operators.disable_operator(deps, second.id, by=admin)
    with pytest.raises(Forbidden):
        console.list_webhooks(deps, by=second)
    assert operators.active_operator(deps, second.id) is None


def test_operator_management_ends_sessions_and_is_audited(container: Container) -> None:
    deps = container.deps
    admin, _ = _enrolled(container, "admin@acme.example.com")
    created = operators.create_operator(deps, "agent@acme.example.com", "support", by=admin)
    with pytest.raises(Conflict):
        operators.create_operator(deps, "AGENT@acme.example.com", "support", by=admin)
    with pytest.raises(ValidationFailed) as bad:
        operators.create_operator(deps, "not an email", "boss", by=admin)
    assert {e.field for e in bad.value.errors} == {"email", "role"}

    token, _ = web_sessions.open_session(deps, realm=Realm.OPERATOR,
                                         subject=str(created.operator.id),
                                         lifetime=timedelta(hours=8))
    operators.reset_second_factor(deps, created.operator.id, by=admin)
    assert web_sessions.resolve_session(deps, realm=Realm.OPERATOR, token=token) is None
    reset = operators.reset_password(deps, created.operator.id, by=admin)
    assert reset.password != created.password and reset.operator.must_change_password
    operators.disable_operator(deps, created.operator.id, by=admin)
    with pytest.raises(SignInFailed):
        operator_auth.check_password(deps, "agent@acme.example.com", reset.password, ip=None)
    operators.enable_operator(deps, created.operator.id, by=admin)
    assert operator_auth.check_password(deps, "agent@acme.example.com", reset.password, ip=None)

    with pytest.raises(Conflict):  # the last active admin stays
        operators.disable_operator(deps, admin.id, actor=CLI)
    with pytest.raises(Conflict):
        operators.disable_operator(deps, admin.id, by=admin)
    assert [o.role for o in operators.list_operators(deps, by=admin)] == [Role.ADMIN, Role.SUPPORT]

    entries = audit.list_entries(deps, limit=100, subject=f"operator:{created.operator.id}")
    by_admin = {e.action for e in entries if e.actor.kind is ActorKind.OPERATOR
                and e.actor.id == str(admin.id) and e.actor.label == "admin@acme.example.com"}
    assert {"operator.created", "operator.totp_reset", "operator.password_reset",
            "operator.disabled", "operator.enabled"} <= by_admin
    assert audit.verify_chain(deps).ok
