"""The audit log: record every change in the caller's transaction; verify the chain."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from contactguard.domain.audit import (
    GENESIS,
    Actor,
    AuditAnchor,
    AuditEntry,
    ChainReport,
    anchor_key,
    anchor_signature_valid,
    chain_hash,
    sign_anchor,
)
from contactguard.domain.contacts import Contact, mask_contact
from contactguard.errors import Conflict, InvalidAnchor
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


def make_anchor(deps: Deps) -> AuditAnchor:
    """A signed checkpoint of the chain's head, to keep outside the database.

    Raises Conflict when the head does not match the newest entry (verify first).
    """
    with deps.reader() as uow:
        seq, head_hash = uow.audit.head()
        newest: list[AuditEntry] = uow.audit.after(seq - 1, 1) if seq else []
    if seq and (not newest or newest[0].seq != seq or newest[0].hash != head_hash):
        raise Conflict("the chain head does not match its newest entry; run "
                       "'contactguard audit verify' before anchoring")
    return sign_anchor(anchor_key(deps.audit_key), AuditAnchor(seq, head_hash, deps.clock.now()))


def verify_chain(deps: Deps, *, batch: int = 2000,
                 anchor: AuditAnchor | None = None) -> ChainReport:
    """Walk the whole chain; report the first entry that was altered, inserted or removed.

    With an ``anchor`` (see :func:`make_anchor`), the chain must also still reach the
    anchored entry with the anchored hash: this catches the newest entries deleted and the
    head rewound. Raises InvalidAnchor when the anchor's signature does not match.
    """
    if anchor is not None and not anchor_signature_valid(anchor_key(deps.audit_key), anchor):
        raise InvalidAnchor("the anchor's signature does not match: it was altered, or made "
                            "with another CONTACTGUARD_SECRET_KEY; it proves nothing")
    anchored_hash = GENESIS if anchor is not None and anchor.seq == 0 else None
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
                if anchor is not None and entry.seq == anchor.seq:
                    anchored_hash = entry.hash
    if head_seq != expected_seq - 1 or head_hash != prev:
        return ChainReport(checked, False, expected_seq,
                           f"entries after {expected_seq - 1} are missing "
                           f"(the chain head is at {head_seq})")
    if anchor is not None:
        return _against_anchor(checked, expected_seq - 1, anchor, anchored_hash)
    return ChainReport(checked, True)


def _against_anchor(checked: int, last: int, anchor: AuditAnchor,
                    anchored_hash: str | None) -> ChainReport:
    """The report for an intact chain ending at entry ``last``, compared with ``anchor``."""
    when = anchor.at.isoformat(timespec="seconds")
    if anchor.seq > last:
        missing = f"entry {last + 1} is" if anchor.seq == last + 1 \
            else f"entries {last + 1}-{anchor.seq} are"
        return ChainReport(checked, False, last + 1,
                           f"{missing} missing: the chain ends at entry {last}, but entry "
                           f"{anchor.seq} was anchored at {when} (the newest entries were "
                           "deleted and the head rewound)")
    if anchored_hash != anchor.hash:
        return ChainReport(checked, False, anchor.seq,
                           f"entry {anchor.seq} is not the one anchored at {when}: the log was "
                           f"cut back and written again at or before entry {anchor.seq}")
    return ChainReport(checked, True)


def list_entries(deps: Deps, *, limit: int = 50, before_seq: int | None = None,
                 subject: str | None = None) -> list[AuditEntry]:
    """Newest first; ``before_seq`` pages back."""
    with deps.reader() as uow:
        entries: list[AuditEntry] = uow.audit.newest(limit=limit, before_seq=before_seq,
                                                     subject=subject)
        return entries
