"""Use cases for compliance: what an account must do, by when, and putting reminders off."""

from __future__ import annotations

from dataclasses import dataclass

from contactguard.domain.accounts import Account
from contactguard.domain.compliance import Compliance, Requirement, Snooze, can_snooze, evaluate
from contactguard.domain.contacts import ContactKind
from contactguard.errors import AccountNotFound, Conflict, NotFound
from contactguard.ports import UnitOfWork
from contactguard.services.deps import Deps


@dataclass(frozen=True, slots=True)
class AccountCompliance:
    """An account's compliance, and its account health assurance eligibility with reasons."""

    account: Account
    compliance: Compliance

    @property
    def eligible(self) -> bool:
        return self.compliance.requirements_met

    @property
    def eligibility_reasons(self) -> list[str]:
        return self.compliance.reasons


def get_compliance(deps: Deps, external_id: str) -> AccountCompliance:
    """The account's compliance state, requirements, deadlines and reasons.

    Raises AccountNotFound.
    """
    with deps.reader() as uow:
        account = _account(uow, external_id)
        return AccountCompliance(account, _evaluate(deps, uow, account))


def snooze_reminder(deps: Deps, external_id: str, kind: ContactKind) -> Requirement:
    """Put the reminder for one requirement on hold for the policy's snooze length.

    The deadline does not move. Raises AccountNotFound, NotFound (not a requirement),
    Conflict (already met, or no snoozes left).
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        account = _account(uow, external_id)
        compliance = _evaluate(deps, uow, account)
        requirement = next((r for r in compliance.requirements if r.kind is kind), None)
        if requirement is None:
            raise NotFound(f"{kind.value} is not a requirement for this account")
        if not can_snooze(requirement):
            reason = ("it is already met" if requirement.is_met and
                      requirement.state.value == "compliant" else
                      f"it has been put off {deps.policy.max_snoozes} times already")
            raise Conflict(f"this reminder cannot be put off: {reason}")
        used = deps.policy.max_snoozes - requirement.snoozes_left + 1
        uow.snoozes.save(account.id, kind, Snooze(until=now + deps.policy.snooze_length,
                                                  count=used), now)
        uow.commit()
        snoozes = uow.snoozes.for_account(account.id)
        contacts = {c.kind: c for c in uow.contacts.for_account(account.id)}
        updated = evaluate(deps.policy, contacts, now, snoozes)
        return next(r for r in updated.requirements if r.kind is kind)


def _evaluate(deps: Deps, uow: UnitOfWork, account: Account) -> Compliance:
    contacts = {c.kind: c for c in uow.contacts.for_account(account.id)}
    return evaluate(deps.policy, contacts, deps.clock.now(), uow.snoozes.for_account(account.id))


def _account(uow: UnitOfWork, external_id: str) -> Account:
    account: Account | None = uow.accounts.by_external_id(external_id)
    if account is None:
        raise AccountNotFound(f"no account with external_id '{external_id}'")
    return account
