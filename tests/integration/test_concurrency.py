"""Races on one challenge, with real connections in parallel threads, on both backends."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.contacts import ContactKind
from contactguard.errors import ContactGuardError
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.verification import check_code, start_verification
from contactguard.testing import RecordingSender
from tests.conftest import latest_code

EMAIL = "race@example.com"


def _race(container: Container, challenge_id: str, code: str, n: int = 20) -> Counter[str]:
    """``n`` threads check at once, through two containers (two engines, as two processes
    would have), so that only the database arbitrates between them."""
    other = bootstrap(container.settings, clock=container.deps.clock, start_worker=False,
                      senders=dict(container.transports.senders))
    barrier = threading.Barrier(n)

    def attempt(i: int) -> str:
        deps = (container if i % 2 else other).deps
        barrier.wait()
        try:
            return check_code(deps, challenge_id, code).status.value
        except ContactGuardError as exc:
            return exc.code

    try:
        with ThreadPoolExecutor(n) as pool:
            return Counter(pool.map(attempt, range(n)))
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
