"""Dev-mode use cases: the captured-message log and the demo data set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contactguard.errors import NotFound
from contactguard.normalize import normalize_recipient
from contactguard.services.accounts import AccountInput, upsert_accounts
from contactguard.services.deps import Deps

DEMO_ACCOUNTS = (
    AccountInput(external_id="demo-landline", name="Lotus Tea House", country="CN",
                 locale="zh-Hans", time_zone="Asia/Shanghai",
                 contacts={"emergency_email": "owner@lotus-tea.example.com",
                           "emergency_phone": "+86 10 6552 9988"}),
    AccountInput(external_id="demo-mobile", name="Acme Outdoor Supply", country="GB",
                 locale="en-GB", time_zone="Europe/London",
                 contacts={"emergency_email": "ops@acme-outdoor.example.com",
                           "emergency_phone": "+44 7911 123456"}),
    AccountInput(external_id="demo-us", name="Blue Harbor Books", country="US",
                 locale="en-US", time_zone="America/Los_Angeles",
                 contacts={"emergency_email": "hello@blueharbor.example.com",
                           "emergency_phone": "(415) 555-0123"}),
)


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    id: int
    channel: str
    to: str
    subject: str | None
    body: str
    html: str | None
    reference: str | None
    created_at: datetime
    raw: bytes | None = None  # the bytes the SMTP server received (DKIM-signed), emails only


def get_captured_message(deps: Deps, message_id: int) -> CapturedMessage:
    """One captured message with its raw bytes. Raises NotFound."""
    with deps.reader() as uow:
        row = uow.captured.get(message_id)
    if row is None:
        raise NotFound(f"no captured message {message_id}")
    return CapturedMessage(row.id, row.channel, row.recipient, row.subject, row.body, row.html,
                           row.reference, row.created_at, row.raw)


def list_captured_messages(deps: Deps, *, to: str | None = None,
                           limit: int = 50) -> list[CapturedMessage]:
    """Messages the capture transport received, newest first, optionally for one recipient."""
    recipient = normalize_recipient(to) if to else None
    with deps.reader() as uow:
        rows = uow.captured.newest(recipient=recipient, limit=limit)
    return [CapturedMessage(r.id, r.channel, r.recipient, r.subject, r.body, r.html, r.reference,
                            r.created_at) for r in rows]


def seed_demo_data(deps: Deps) -> list[str]:
    """Create the demo sellers that do not exist yet (edits to existing ones are kept).

    Safe when several processes start at once on one database: the one that loses the
    insert race writes again (``upsert_accounts`` retries) and finds them created.
    """
    ids = [demo.external_id for demo in DEMO_ACCOUNTS]
    with deps.reader() as uow:
        existing = uow.accounts.by_external_ids(ids)
    missing = [demo for demo in DEMO_ACCOUNTS if demo.external_id not in existing]
    if missing:
        upsert_accounts(deps, missing)
    return ids
