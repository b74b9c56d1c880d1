"""The audit log: record every change in the caller's transaction; verify the chain."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from contactguard.domain.audit import GENESIS, Actor, AuditEntry, ChainReport, chain_hash
from contactguard.domain.contacts import Contact, mask_contact
from contactguard.ports import UnitOfWork
from contactguard.services.deps import Deps


def record(deps: Deps, uow: UnitOfWork, actor: Actor, action: str, subject: str, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Append one entry to the chain, in the caller's transaction (commits with the change).

    The append runs just before the commit, so that the chain head is always the last lock a
    transaction takes (no lock-order cycles with account or contact rows on PostgreSQL).
    Contact values must already be masked (see :func:`contact_snapshot`).
    """
    at = deps.clock.now()

    def append() -> None:
        seq, prev = uow.audit.lock_head()
        entry = AuditEntry(seq=seq + 1, at=at, actor=actor, action=action, subject=subject,
                           before=before, after=after, prev_hash=prev)
        uow.audit.append(replace(entry, hash=chain_hash(deps.audit_key, entry)))

    uow.before_commit(append)


def contact_snapshot(contact: Contact | None) -> dict[str, Any] | None:
    """What the log keeps of a contact: masked values and whether it is verified."""
    if contact is None:
        return None
    return {"value": mask_contact(contact.kind, contact.value),
            "active_value": mask_contact(contact.kind, contact.active_value),
            "verified": contact.is_verified}


def verify_chain(deps: Deps, *, batch: int = 2000) -> ChainReport:
    """Walk the whole chain; report the first entry that was altered, inserted or removed."""
    checked, expected_seq, prev = 0, 1, GENESIS
    with deps.reader() as uow:
        head_seq, head_hash = uow.audit.head()
        while True:
            entries: list[AuditEntry] = uow.audit.after(expected_seq - 1, batch)
            if not entries:
                break
            for entry in entries:
                if entry.seq != expected_seq:
                    return ChainReport(checked, False, expected_seq,
                                       f"entry {expected_seq} is missing (next is {entry.seq})")
                if entry.prev_hash != prev:
                    return ChainReport(checked, False, entry.seq,
                                       f"entry {entry.seq} does not follow entry {entry.seq - 1}")
                if chain_hash(deps.audit_key, entry) != entry.hash:
                    return ChainReport(checked, False, entry.seq,
                                       f"entry {entry.seq} was altered after it was written")
                checked += 1
                expected_seq, prev = entry.seq + 1, entry.hash
    if head_seq != expected_seq - 1 or head_hash != prev:
        return ChainReport(checked, False, expected_seq,
                           f"entries after {expected_seq - 1} are missing "
                           f"(the chain head is at {head_seq})")
    return ChainReport(checked, True)


def list_entries(deps: Deps, *, limit: int = 50, before_seq: int | None = None,
                 subject: str | None = None) -> list[AuditEntry]:
    """Newest first; ``before_seq`` pages back."""
    with deps.reader() as uow:
        entries: list[AuditEntry] = uow.audit.newest(limit=limit, before_seq=before_seq,
                                                     subject=subject)
        return entries
