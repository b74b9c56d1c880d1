"""Titles of notices in the message center, in each supported language, from safe params only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contactguard.domain.locales import message_locale

_CHANNEL_NAMES = {
    "en": {"sms": "text message", "voice": "phone call", "email": "email", "in_app": "Seller Center"},
    "zh-Hans": {"sms": "短信", "voice": "语音电话", "email": "电子邮件", "in_app": "卖家中心"},
}

#: kind -> locale -> title template; ``{masked_to}`` and other safe params are filled in.
TITLES: dict[str, dict[str, str]] = {
    "verification_code": {
        "en": "Verification code sent to {masked_to}",
        "zh-Hans": "验证码已发送至 {masked_to}",
    },
}

_FALLBACK = {"en": "Notice: {kind}", "zh-Hans": "通知：{kind}"}


def notice_title(kind: str, params: Mapping[str, Any], locale: str) -> str:
    """A one-line title for a notice; never uses secret parameters (they are not passed in)."""
    lang = message_locale(locale)
    template = TITLES.get(kind, {}).get(lang)
    if template is None:
        title = params.get("title")
        if isinstance(title, str) and title:
            return title
        return _FALLBACK[lang].format(kind=kind.replace("_", " "))
    values = {k: v for k, v in params.items() if isinstance(v, str | int)}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return _FALLBACK[lang].format(kind=kind.replace("_", " "))


def channel_name(channel: str, locale: str) -> str:
    return _CHANNEL_NAMES[message_locale(locale)].get(channel, channel)
