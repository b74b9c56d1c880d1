"""The challenge repository's conditional updates, on SQLite and PostgreSQL.

Exactly one approval rests on these WHERE clauses: ``count_attempt`` and ``transition`` each
refuse a challenge that is no longer pending, on their own (either one alone must hold, so
that a change to one is caught even while the other still covers for it in the races).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.domain.challenges import ChallengeStatus
from contactguard.domain.contacts import ContactKind
from contactguard.services.accounts import AccountInput, upsert_account
from contactguard.services.verification import start_verification
from contactguard.testing import FrozenClock

CLOSED = [s for s in ChallengeStatus if s is not ChallengeStatus.PENDING]


def _pending_challenge(container: Container) -> str:
    upsert_account(container.deps, AccountInput(
        external_id="repo", name="Repo", country="US",
        contacts={"emergency_email": "repo@example.com"}))
    return start_verification(container.deps, account="repo",
                              contact=ContactKind.EMERGENCY_EMAIL).id


def _set_status(container: Container, challenge_id: str, status: ChallengeStatus) -> None:
    with container.engine.begin() as conn:
        conn.execute(update(t.challenges).where(t.challenges.c.id == challenge_id)
                     .values(status=status.value, attempts=0))


def _row(container: Container, challenge_id: str):  # type: ignore[no-untyped-def]
    with container.engine.connect() as conn:
        return conn.execute(select(t.challenges).where(t.challenges.c.id == challenge_id)).one()


def test_count_attempt_counts_only_a_pending_challenge(container: Container,
                                                       clock: FrozenClock) -> None:
    challenge_id = _pending_challenge(container)
    now = clock.now()
    with container.deps.uow() as uow:
        counted = uow.challenges.count_attempt(challenge_id, now)
        uow.commit()
    assert counted is not None and counted.attempts == 1
    for status in CLOSED:  # fresh, not expired, no attempts used: only the status says no
        _set_status(container, challenge_id, status)
        with container.deps.uow() as uow:
            assert uow.challenges.count_attempt(challenge_id, now) is None, status
            uow.commit()
        assert _row(container, challenge_id).attempts == 0, status


def test_count_attempt_refuses_an_expired_or_used_up_challenge(container: Container,
                                                              clock: FrozenClock) -> None:
    challenge_id = _pending_challenge(container)
    with container.deps.uow() as uow:
        assert uow.challenges.count_attempt(challenge_id, clock.now() + timedelta(minutes=10)
                                            ) is None
        for _ in range(5):
            assert uow.challenges.count_attempt(challenge_id, clock.now()) is not None
        assert uow.challenges.count_attempt(challenge_id, clock.now()) is None
        uow.commit()
    assert _row(container, challenge_id).attempts == 5


def test_transition_moves_only_a_pending_challenge(container: Container,
                                                   clock: FrozenClock) -> None:
    challenge_id = _pending_challenge(container)
    now = clock.now()
    for status in CLOSED:
        _set_status(container, challenge_id, status)
        for target in (ChallengeStatus.APPROVED, ChallengeStatus.LOCKED):
            with container.deps.uow() as uow:
                assert uow.challenges.transition(challenge_id, target, now) is False, status
                uow.commit()
            row = _row(container, challenge_id)
            assert (row.status, row.approved_at) == (status.value, None), (status, target)
    _set_status(container, challenge_id, ChallengeStatus.PENDING)
    with container.deps.uow() as uow:
        assert uow.challenges.transition(challenge_id, ChallengeStatus.APPROVED, now) is True
        assert uow.challenges.transition(challenge_id, ChallengeStatus.APPROVED, now) is False
        uow.commit()
    row = _row(container, challenge_id)
    assert (row.status, row.approved_at) == ("approved", now)
