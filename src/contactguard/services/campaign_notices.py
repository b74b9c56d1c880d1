"""Campaign notices in the seller's message center: each campaign step is an in-app notice,
merged with its email/SMS deliveries (same reference), titled and rendered in the reader's
language, plus paging for ``GET /v1/accounts/{external_id}/messages``."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contactguard.domain.accounts import Account
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.locales import message_locale
from contactguard.domain.messages import MessageKind, MessageStatus, StoredMessage
from contactguard.domain.notices import notice_title
from contactguard.errors import FieldError, ValidationFailed
from contactguard.services.campaign_messages import message_params
from contactguard.services.deps import Deps

if TYPE_CHECKING:
    from contactguard.services.message_center import Notice

MAX_PAGE = 200


def merge(deps: Deps, account: Account, notices: list[Notice], steps: Sequence[Any],
          locale: str, reads: Mapping[str, datetime]) -> list[Notice]:
    """Add the account's campaign steps to its notices (one notice per reference)."""
    from contactguard.services.message_center import Notice

    if not steps:
        return notices
    by_reference = {n.reference: n for n in notices}
    lang = message_locale(locale)
    for step in steps:
        kinds = [ContactKind(k) for k in step.spec.get("contacts", ())]
        params = message_params(deps, account_name=account.name, campaign_id=step.campaign_id,
                                campaign_name=step.campaign_name, step=step.step,
                                deadline=step.deadline, kinds=kinds, locale=lang,
                                time_zone=account.time_zone, country=account.country)
        title = notice_title(step.kind, params, lang)
        body = _render(deps, step, account, params, lang)
        channels = tuple(dict.fromkeys(["in_app", *step.channels.split(",")]))
        found = by_reference.get(step.reference)
        if found is not None:
            channels, statuses = found.channels, found.statuses
            if "in_app" not in channels:  # statuses pair with channels; the in-app copy is sent
                channels = ("in_app", *channels)
                statuses = (MessageStatus.SENT.value, *statuses)
            by_reference[step.reference] = replace(
                found, title=title, created_at=step.created_at, params=params,
                channels=channels, statuses=statuses,
                campaign=step.campaign_id, body=body)
        else:
            by_reference[step.reference] = Notice(
                reference=step.reference, kind=step.kind, title=title,
                created_at=step.created_at, channels=channels,
                statuses=(MessageStatus.SENT.value,), params=params, campaign=step.campaign_id,
                body=body, read_at=reads.get(step.reference))
    return list(by_reference.values())


def page(notices: list[Notice], *, limit: int,
         cursor: str | None) -> tuple[list[Notice], str | None]:
    """One page of notices (newest first) and the keyset cursor (created_at, reference) of
    the next one."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}",
                               errors=[FieldError("limit", f"1-{MAX_PAGE}", "out_of_range")])
    ordered = sorted(notices, key=lambda n: (n.created_at, n.reference), reverse=True)
    if cursor:
        after = _decode(cursor)
        ordered = [n for n in ordered if (n.created_at, n.reference) < after]
    items = ordered[:limit]
    more = len(ordered) > limit
    return items, _encode(items[-1]) if more and items else None


def _render(deps: Deps, step: Any, account: Account, params: dict[str, Any],
            lang: str) -> str | None:
    if deps.renderer is None:
        return None
    message = StoredMessage(
        id=0, reference=step.reference, kind=MessageKind(step.kind), channel=Channel.IN_APP,
        recipient=account.external_id, locale=lang, account_id=account.id, params=params,
        secret_params={}, challenge_id=None, not_after=None, status=MessageStatus.SENT,
        attempts=0, created_at=step.created_at)
    return deps.renderer.render(message).body


def _encode(notice: Notice) -> str:
    raw = f"{notice.created_at.isoformat()}|{notice.reference}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, reference = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not reference:
            raise ValueError("naive")
        return parsed, reference
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("this cursor is not valid; use next_cursor from a previous page",
                               errors=[FieldError("cursor", "invalid cursor", "invalid")]
                               ) from None
