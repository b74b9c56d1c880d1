"""Audit entries for API keys, security phrases and seller actions (on both backends)."""

from __future__ import annotations

from contactguard.bootstrap import Container
from contactguard.domain.audit import CLI, Actor, ActorKind
from contactguard.services.accounts import AccountInput, set_security_phrase, upsert_account
from contactguard.services.apikeys import create_api_key, revoke_api_key
from contactguard.services.audit import list_entries, verify_chain


def test_api_key_changes_are_audited(container: Container) -> None:
    created = create_api_key(container.deps, "backend", actor=CLI)
    revoke_api_key(container.deps, created.info.id, actor=CLI)
    entries = list_entries(container.deps, subject=f"api_key:{created.info.id}")
    assert [e.action for e in entries] == ["api_key.revoked", "api_key.created"]
    assert all(e.actor.kind is ActorKind.CLI for e in entries)
    assert created.secret not in str(entries[1].after)  # only the prefix is kept
    assert verify_chain(container.deps).ok


def test_security_phrase_is_audited_without_the_phrase(container: Container) -> None:
    upsert_account(container.deps, AccountInput(external_id="ph", name="Shop", country="DE"))
    seller = Actor.seller("s1", "ph")
    set_security_phrase(container.deps, "ph", "blue heron at dawn", actor=seller)
    entry = list_entries(container.deps, subject="account:ph")[0]
    assert entry.action == "account.security_phrase_set"
    assert entry.actor == seller
    assert "heron" not in str(entry.before) + str(entry.after)
