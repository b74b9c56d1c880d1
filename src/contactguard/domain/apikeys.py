"""What an operator API key may do: its scopes (issue 11)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """A permission of an API key. Every ``/v1`` route declares the one it needs."""

    READ = "read"  # GET: accounts, verifications, policy, webhooks, campaigns, audit log
    WRITE = "write"  # changes to accounts, contacts, verifications, campaigns; includes read
    SESSIONS = "sessions"  # create and end Seller Center sessions (/v1/account_sessions)
    ADMIN = "admin"  # policy, webhook endpoints, audit anchors
    FULL = "full"  # every scope, including any added later (keys made before scopes existed)


_NAMES = frozenset(s.value for s in Scope)

#: Scopes that grant others as well.
IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.FULL: frozenset({Scope.READ, Scope.WRITE, Scope.SESSIONS, Scope.ADMIN}),
    Scope.WRITE: frozenset({Scope.READ}),
}


def parse_scopes(values: Iterable[str]) -> tuple[Scope, ...]:
    """Known scope names in a canonical order (duplicates dropped; ``full`` absorbs the rest).

    Raises ValueError naming the first unknown scope, or when none is given.
    """
    chosen: set[Scope] = set()
    for value in values:
        try:
            chosen.add(Scope(value.strip().lower()))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {value!r} (known: {known})") from None
    if not chosen:
        raise ValueError("a key needs at least one scope")
    if Scope.FULL in chosen:
        return (Scope.FULL,)
    return tuple(s for s in Scope if s in chosen)


def granted(scopes: Iterable[Scope]) -> frozenset[Scope]:
    """Every scope the given ones allow, implied ones included."""
    result: set[Scope] = set()
    for scope in scopes:
        result.add(scope)
        result |= IMPLIES.get(scope, frozenset())
    return frozenset(result)


def allows(scopes: Iterable[Scope], needed: Scope) -> bool:
    return needed in granted(scopes)


def to_text(scopes: Iterable[Scope]) -> str:
    """How scopes are stored: space-separated names."""
    return " ".join(s.value for s in scopes)


def from_text(text: str | None) -> tuple[Scope, ...]:
    """Stored scopes back; an empty or missing value means full access (keys made before
    scopes existed). Unknown stored names are dropped (they grant nothing)."""
    names = (text or "").split()
    known = tuple(Scope(n) for n in names if n in _NAMES)
    return known if names else (Scope.FULL,)
