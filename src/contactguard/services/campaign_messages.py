"""What campaign messages say: the safe parameters stored with each message, and the policy's
reasons (why, what the seller loses) added when it is rendered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time, get_timezone_name

from contactguard.domain.contacts import ContactKind
from contactguard.domain.locales import message_locale
from contactguard.domain.messages import MessageKind, StoredMessage
from contactguard.services.deps import Deps

CAMPAIGN_KINDS = (MessageKind.CAMPAIGN_NOTICE, MessageKind.CAMPAIGN_REMINDER)

_CONTACT_NAMES = {
    "en": {ContactKind.EMERGENCY_EMAIL: "emergency email address",
           ContactKind.EMERGENCY_PHONE: "emergency phone number"},
    "zh-Hans": {ContactKind.EMERGENCY_EMAIL: "紧急联系邮箱",
                ContactKind.EMERGENCY_PHONE: "紧急联系电话"},
}
_AND = {"en": " and ", "zh-Hans": "和"}
_BABEL = {"en": "en", "zh-Hans": "zh_Hans"}


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The seller's time zone; UTC when the stored name is unknown to this system."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def contacts_text(kinds: Sequence[ContactKind | str], locale: str) -> str:
    """``emergency email address and emergency phone number`` in the seller's language."""
    lang = message_locale(locale)
    names = [_CONTACT_NAMES[lang].get(ContactKind(k), str(k)) for k in kinds]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + _AND[lang] + names[-1]


@lru_cache(maxsize=4096)
def deadline_text(deadline: datetime, time_zone: str, locale: str) -> str:
    """The deadline as the seller reads it: their language, their time zone, named."""
    lang = message_locale(locale)
    here = deadline.astimezone(zone(time_zone))
    babel = _BABEL[lang]
    day = format_date(here, "full", locale=babel)
    clock = format_time(here, "HH:mm", locale=babel)
    name = get_timezone_name(here, "long", locale=babel)
    return f"{day} {clock}（{name}）" if lang == "zh-Hans" else f"{day}, {clock} ({name})"


@lru_cache(maxsize=4096)
def deadline_date(deadline: datetime, time_zone: str, locale: str) -> str:
    lang = message_locale(locale)
    return format_date(deadline.astimezone(zone(time_zone)), "long", locale=_BABEL[lang])


def message_params(deps: Deps, *, account_name: str, campaign_id: int, campaign_name: str,
                   step: int, deadline: datetime, kinds: Sequence[ContactKind], locale: str,
                   time_zone: str, country: str) -> dict[str, Any]:
    """The safe parameters of one campaign message (stored in the outbox, shown in the
    message center); the same keys as every message (see services/messages.queue_message)."""
    return {"platform_name": deps.branding.platform_name, "host": deps.branding.public_host,
            "account_name": account_name, "campaign": campaign_id,
            "campaign_name": campaign_name, "step": step,
            "deadline": deadline.isoformat().replace("+00:00", "Z"),
            "deadline_text": deadline_text(deadline, time_zone, locale),
            "deadline_date": deadline_date(deadline, time_zone, locale),
            "contacts": [k.value for k in kinds], "contacts_text": contacts_text(kinds, locale),
            "time_zone": time_zone, "country": country}


def render_context(deps: Deps, message: StoredMessage) -> Mapping[str, Any]:
    """Extra template values for campaign messages: the policy's reasons in the message's
    language (kept out of each stored row: a million copies of the same paragraph)."""
    if message.kind not in CAMPAIGN_KINDS:
        return {}
    reasons = deps.policy.reasons_for(message_locale(message.locale))
    return {"why": reasons.why, "consequence": reasons.consequence}
