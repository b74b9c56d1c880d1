"""Lookups every use case shares."""

from __future__ import annotations

from contactguard.domain.accounts import Account
from contactguard.errors import AccountNotFound
from contactguard.ports import UnitOfWork


def require_account(uow: UnitOfWork, external_id: str) -> Account:
    """The account with this external id. Raises AccountNotFound."""
    account: Account | None = uow.accounts.by_external_id(external_id)
    if account is None:
        raise AccountNotFound(f"no account with external_id '{external_id}'")
    return account
