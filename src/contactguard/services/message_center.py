"""The seller's message center: every notice sent to an account, with its reference code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contactguard.domain.messages import MessageStatus
from contactguard.domain.notices import notice_title, warning_text
from contactguard.errors import NotFound
from contactguard.services import campaign_notices
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

#: Messages superseded or dropped before sending were never sent to the seller.
_NOT_SENT = {MessageStatus.CANCELED.value, MessageStatus.EXPIRED.value}
_LIMIT = 500
#: Phishing warnings stay in the message center this long.
_WARNINGS_KEPT = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice: the deliveries sharing a reference (e.g. an email and its in-app copy)."""

    reference: str
    kind: str
    title: str
    created_at: datetime
    channels: tuple[str, ...]
    statuses: tuple[str, ...]
    params: dict[str, Any]
    # Campaigns (issue 8): the campaign a notice belongs to, its in-app text, when first seen
    campaign: int | None = None
    body: str | None = None
    read_at: datetime | None = None


def list_notices(deps: Deps, external_id: str, *, locale: str | None = None) -> list[Notice]:
    """The account's notices, newest first, titled in ``locale`` (default: the account's).

    Only safe parameters are read; codes and other secrets never leave the outbox.
    Raises AccountNotFound.
    """
    with deps.reader() as uow:
        account = require_account(uow, external_id)
        rows = uow.outbox.for_account(account.id, limit=_LIMIT)
        steps = uow.campaigns.notices_for_account(account.id, limit=_LIMIT)
        warnings = uow.inbound.warnings_for(  # phishing warnings (issue 9)
            account.country, deps.clock.now() - _WARNINGS_KEPT, limit=50)
        reads = uow.campaigns.reads(account.id, list({r.reference for r in rows}
                                                     | {s.reference for s in steps}
                                                     | {w.reference for w in warnings}))
    lang = locale or account.locale
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        if row.status not in _NOT_SENT:
            grouped.setdefault(row.reference, []).append(row)
    notices = []
    for reference, group in grouped.items():
        first = min(group, key=lambda r: (r.created_at, r.id))
        params = dict(first.params or {})
        notices.append(Notice(
            reference=reference, kind=first.kind,
            title=notice_title(first.kind, params, lang), created_at=first.created_at,
            channels=tuple(dict.fromkeys(r.channel for r in group)),
            statuses=tuple(r.status for r in group), params=params,
            read_at=reads.get(reference)))
    notices = campaign_notices.merge(deps, account, notices, steps, lang, reads)
    notices.extend(_warning_notice(w, lang, reads) for w in warnings)
    notices.sort(key=lambda n: n.created_at, reverse=True)
    return notices


def _warning_notice(row: Any, lang: str, reads: dict[str, datetime]) -> Notice:
    """A published phishing warning as a message-center notice (in-app only)."""
    params = {"subject": row.subject, "check_url": "/seller/check"}
    body = warning_text(row.subject, lang)
    return Notice(reference=row.reference, kind="phishing_warning",
                  title=notice_title("phishing_warning", params, lang),
                  created_at=row.created_at, channels=("in_app",),
                  statuses=(MessageStatus.SENT.value,), params=params, body=body,
                  read_at=reads.get(row.reference))


def find_notice(deps: Deps, external_id: str, reference: str, *,
                locale: str | None = None) -> Notice:
    """One of the account's notices by its reference code (``CG-7KQ4-M9XD``, any case).

    Raises AccountNotFound, NotFound (no such notice for this account).
    """
    wanted = reference.strip().upper()
    for notice in list_notices(deps, external_id, locale=locale):
        if notice.reference == wanted:
            return notice
    raise NotFound(f"no notice '{reference[:20]}' for this account")


@dataclass(frozen=True, slots=True)
class NoticePage:
    items: list[Notice]
    next_cursor: str | None


def list_messages(deps: Deps, external_id: str, *, limit: int = 50,
                  cursor: str | None = None, locale: str | None = None) -> NoticePage:
    """The account's message center for the API: notices newest first, ``limit`` at a time
    (``cursor``: the previous page's ``next_cursor``). Reading it does not mark anything read.

    Raises AccountNotFound, ValidationFailed (bad limit or cursor).
    """
    items, next_cursor = campaign_notices.page(list_notices(deps, external_id, locale=locale),
                                               limit=limit, cursor=cursor)
    return NoticePage(items, next_cursor)
