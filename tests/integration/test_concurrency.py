"""Races on one challenge, with real connections in parallel threads, on both backends."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from sqlalchemy import select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import ContactKind
from contactguard.errors import ContactGuardError
from contactguard.ports import CodeHasher
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import CountingHasher, RecordingSender
from tests.conftest import latest_code

EMAIL = "race@example.com"


def _race(container: Container, challenge_id: str, code: str | list[str], n: int = 20,
          hasher: CodeHasher | None = None) -> Counter[str]:
    """``n`` threads check at once (thread ``i`` sends ``code[i]`` when given a list), through
    two containers (two engines, as two processes would have), so that only the database
    arbitrates between them. ``hasher`` replaces both containers' code hasher."""
    codes = code if isinstance(code, list) else [code] * n
    other = bootstrap(container.settings, clock=container.deps.clock, start_worker=False,
                      senders=dict(container.transports.senders))
    deps = [replace(c.deps, hasher=hasher) if hasher else c.deps for c in (container, other)]
    barrier = threading.Barrier(len(codes))

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            return check_code(deps[i % 2], challenge_id, codes[i]).status.value
        except ContactGuardError as exc:
            return exc.code

    try:
        with ThreadPoolExecutor(len(codes)) as pool:
            return Counter(pool.map(attempt, range(len(codes))))
    finally:
        other.close()


def _challenge(container: Container) -> str:
    upsert_account(container.deps, AccountInput(
        external_id="race", name="Race", country="US", contacts={"emergency_email": EMAIL}))
    return start_verification(container.deps, account="race",
                              contact=ContactKind.EMERGENCY_EMAIL).id


def test_twenty_parallel_right_codes_approve_exactly_once(container: Container,
                                                          sender: RecordingSender) -> None:
    challenge_id = _challenge(container)
    code = latest_code(container, sender, EMAIL)
    outcomes = _race(container, challenge_id, code)
    assert outcomes["approved"] == 1, outcomes
    assert sum(outcomes.values()) == 20
    assert set(outcomes) <= {"approved", "verification-closed", "locked"}, outcomes


def test_twenty_parallel_wrong_codes_count_exactly_five_attempts(
        container: Container, sender: RecordingSender) -> None:
    challenge_id = _challenge(container)
    code = latest_code(container, sender, EMAIL)
    outcomes = _race(container, challenge_id, f"{(int(code) + 7) % 1_000_000:06d}")
    assert outcomes["approved"] == 0
    # Four attempts leave the challenge pending, the fifth locks it, the rest find it locked.
    assert outcomes["pending"] == 4, outcomes
    assert outcomes["locked"] == 16, outcomes
    assert check_code(container.deps, challenge_id, code).status.value == "locked"


def test_nineteen_wrong_codes_and_the_right_one_racing_evaluate_at_most_five(
        container: Container, sender: RecordingSender) -> None:
    challenge_id = _challenge(container)
    code = latest_code(container, sender, EMAIL)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    codes = [wrong] * 20
    codes[13] = code
    hasher = CountingHasher(container.deps.hasher)
    outcomes = _race(container, challenge_id, codes, hasher=hasher)
    with container.engine.connect() as conn:
        row = conn.execute(select(t.challenges).where(t.challenges.c.id == challenge_id)).one()
    # Every comparison made was a counted attempt, and no more than five were made, whatever
    # the order the racers arrived in.
    assert hasher.evaluations == row.attempts <= 5, (hasher.evaluations, row.attempts, outcomes)
    assert sum(outcomes.values()) == 20
    if row.status == "approved":  # the right code was among the first five
        assert outcomes["approved"] == 1, outcomes
        assert outcomes["pending"] == row.attempts - 1, outcomes
        assert set(outcomes) <= {"approved", "pending", "verification-closed"}, outcomes
    else:
        assert (row.status, row.attempts) == ("locked", 5), outcomes
        assert outcomes["approved"] == 0 and outcomes["pending"] == 4, outcomes
        assert outcomes["locked"] == 16, outcomes
