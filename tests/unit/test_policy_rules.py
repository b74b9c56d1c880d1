"""Pure rules of issue 5: policy documents, eligibility, re-check times, webhook retries,
the audit chain."""

from __future__ import annotations

import random
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from contactguard.domain.audit import GENESIS, SYSTEM, Actor, AuditEntry, chain_hash
from contactguard.domain.compliance import Policy, eligibility, evaluate, next_change
from contactguard.domain.contacts import Channel, Contact, ContactKind
from contactguard.domain.policy import policy_from_document, policy_to_document
from contactguard.domain.webhooks import WEBHOOK_RETRY
from contactguard.errors import ValidationFailed

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EMAIL, PHONE = ContactKind.EMERGENCY_EMAIL, ContactKind.EMERGENCY_PHONE


def contact(kind: ContactKind, days_ago: int) -> Contact:
    at = NOW - timedelta(days=days_ago)
    return Contact(id=1, account_id=1, kind=kind, value="v", line_type=None, verified_value="v",
                   verified_line_type=None, verified_at=at, verified_channel=Channel.EMAIL,
                   created_at=at, updated_at=at)


def test_policy_documents_round_trip_with_defaults() -> None:
    assert policy_from_document({}) == Policy()
    policy = policy_from_document({"reverify_after_days": 90, "due_soon_days": 10,
                                   "min_signals": {"account_health_rating": 200}})
    assert policy.reverify_after == timedelta(days=90)
    assert policy.min_signals == (("account_health_rating", 200.0),)
    assert policy_from_document(policy_to_document(policy)) == policy


def test_policy_documents_name_every_bad_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        policy_from_document({"required": [], "due_soon_days": 400, "max_snoozes": True,
                              "min_signals": {"x": "high"}, "extra": 1}, prefix="policy.")
    fields = [e.field for e in caught.value.errors]
    assert fields == ["policy.extra", "policy.required", "policy.due_soon_days",
                      "policy.max_snoozes", "policy.min_signals.x"]
    with pytest.raises(ValidationFailed, match="shorter than reverify_after_days"):
        policy_from_document({"reverify_after_days": 30, "due_soon_days": 30})


def test_eligibility_needs_requirements_met_and_signals_high_enough() -> None:
    policy = Policy(min_signals=(("account_health_rating", 200),))
    contacts = {EMAIL: contact(EMAIL, 10), PHONE: contact(PHONE, 340)}  # phone due soon
    compliance = evaluate(policy, contacts, NOW)
    assert eligibility(policy, compliance, {"account_health_rating": 260}).eligible
    low = eligibility(policy, compliance, {"account_health_rating": 199.5})
    assert not low.eligible and low.reasons == [
        "account health rating is 199.5, below the required 200"]
    overdue = evaluate(policy, {EMAIL: contact(EMAIL, 366)}, NOW)
    reasons = eligibility(policy, overdue, {"account_health_rating": 300}).reasons
    assert reasons == ["emergency email verification expired on 2026-03-01",
                       "no emergency phone on file"]


def test_next_change_is_when_due_soon_then_overdue_begin() -> None:
    policy = Policy()
    contacts = {EMAIL: contact(EMAIL, 0), PHONE: contact(PHONE, 100)}
    assert next_change(policy, contacts, NOW) == NOW + timedelta(days=265 - 30)
    assert next_change(policy, {EMAIL: contact(EMAIL, 340)}, NOW) == NOW + timedelta(days=25)
    assert next_change(policy, {}, NOW) is None


def test_webhook_retries_span_more_than_a_day_even_with_the_least_jitter() -> None:
    class Least(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    delays = [WEBHOOK_RETRY.delay(n, Least()) for n in range(1, WEBHOOK_RETRY.max_attempts)]
    assert sum(delays, timedelta()) > timedelta(hours=24)
    assert max(delays) <= timedelta(hours=2)
    assert WEBHOOK_RETRY.gives_up_after(WEBHOOK_RETRY.max_attempts)


def test_the_audit_chain_hash_covers_every_field_and_needs_the_key() -> None:
    entry = AuditEntry(seq=1, at=NOW, actor=Actor.api_key(3, "backend"), action="contact.changed",
                       subject="account:s-1", before={"value": "a•••@x.com"}, after=None,
                       prev_hash=GENESIS)
    digest = chain_hash(b"k", entry)
    assert chain_hash(b"k", entry) == digest
    changes = {"seq": 2, "at": NOW + timedelta(microseconds=1), "action": "contact.added",
               "subject": "account:s-2", "before": {"value": "b•••@x.com"},
               "after": {"value": "b•••@x.com"}, "prev_hash": "1" * 64,
               "actor": [SYSTEM, Actor.api_key(4, "backend"), Actor.api_key(3, "frontend"),
                         Actor.seller("3", "backend")]}
    # Every field but the hash itself: a field added to the entry must be added here too.
    assert set(changes) == {f.name for f in fields(AuditEntry)} - {"hash"}
    for name, values in changes.items():
        for value in values if isinstance(values, list) else [values]:
            assert chain_hash(b"k", replace(entry, **{name: value})) != digest, (name, value)
    assert chain_hash(b"k", replace(entry, hash="f" * 64)) == digest
    assert chain_hash(b"other key", entry) != digest
