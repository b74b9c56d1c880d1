"""Titles of notices in the message center, in each supported language, from safe params only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contactguard.domain.locales import message_locale

_CHANNEL_NAMES = {
    "en": {"sms": "text message", "voice": "phone call", "email": "email", "in_app": "Seller Center"},
    "zh-Hans": {"sms": "短信", "voice": "语音电话", "email": "电子邮件", "in_app": "卖家中心"},
}

#: What sellers call each contact kind, per language (lower case, inside a sentence).
CONTACT_LABELS: dict[str, dict[str, str]] = {
    "en": {"emergency_email": "emergency email", "emergency_phone": "emergency phone"},
    "zh-Hans": {"emergency_email": "紧急联系邮箱", "emergency_phone": "紧急联系电话"},
}

_ANY_CONTACT = {"en": "emergency contact", "zh-Hans": "紧急联系方式"}

#: kind -> locale -> title template; ``{masked_to}``, ``{contact_label}`` and other safe
#: params are filled in.
TITLES: dict[str, dict[str, str]] = {
    "verification_code": {
        "en": "Verification code sent to {masked_to}",
        "zh-Hans": "验证码已发送至 {masked_to}",
    },
    "contact_changed": {
        "en": "Your {contact_label} was changed to {masked_new}",
        "zh-Hans": "您的{contact_label}已更改为 {masked_new}",
    },
    "campaign_notice": {
        "en": "{campaign_name}: verify your {contacts_text} by {deadline_date}",
        "zh-Hans": "{campaign_name}：请于 {deadline_date} 前验证您的{contacts_text}",
    },
    "campaign_reminder": {
        "en": "Reminder: verify your {contacts_text} by {deadline_date}",
        "zh-Hans": "提醒：请于 {deadline_date} 前验证您的{contacts_text}",
    },
    # Inbound mail and phishing waves (issue 9)
    "report_verdict": {
        "en": "Our check of the message you reported",
        "zh-Hans": "我们对您举报的邮件的检查结果",
    },
    "reply_answer": {
        "en": "We never ask you to reply by email",
        "zh-Hans": "我们从不要求您通过邮件回复",
    },
    "phishing_warning": {
        "en": "Warning: a fake email titled \u201c{subject}\u201d is circulating",
        "zh-Hans": "警告：一封标题为\u201c{subject}\u201d的虚假邮件正在传播",
    },
}

_FALLBACK = {"en": "Notice: {kind}", "zh-Hans": "通知：{kind}"}
#: A notice of a kind with no title in a language: still in that language.
_GENERIC = {"en": "Notice from your Seller Center", "zh-Hans": "卖家中心通知"}


def contact_label(kind: str, locale: str) -> str:
    """``emergency_email`` as a seller reads it in ``locale`` (``紧急联系邮箱``)."""
    lang = message_locale(locale)
    if not kind:
        return _ANY_CONTACT[lang]
    return CONTACT_LABELS[lang].get(kind) or CONTACT_LABELS["en"].get(kind) or kind.replace("_", " ")


def notice_title(kind: str, params: Mapping[str, Any], locale: str) -> str:
    """A one-line title for a notice; never uses secret parameters (they are not passed in)."""
    lang = message_locale(locale)
    template = TITLES.get(kind, {}).get(lang)
    if template is None:
        title = params.get(f"title_{lang}") or (params.get("title") if lang == "en" else None)
        if isinstance(title, str) and title:
            return title
        return _GENERIC[lang] if lang != "en" else _FALLBACK[lang].format(
            kind=kind.replace("_", " "))
    values = {k: v for k, v in params.items() if isinstance(v, str | int)}
    if "contact" in values:
        values["contact_label"] = contact_label(str(values["contact"]), lang)
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return _GENERIC[lang] if lang != "en" else _FALLBACK[lang].format(
            kind=kind.replace("_", " "))


_WARNING_TEXT = {
    "en": ("A fake email titled \u201c{subject}\u201d is circulating. It is not from us: we never "
           "ask you to reply with your password or codes, and nothing is done by email. Do not "
           "reply to it or open its links. If you are unsure about a message, check it on the "
           "\u201cIs this message genuine?\u201d page of your dashboard."),
    "zh-Hans": ("一封标题为\u201c{subject}\u201d的虚假邮件正在传播。"
                "它并非来自我们：我们绝不会要求您回复密码或验证码，"
                "任何操作都不会通过邮件完成。请不要回复，也不要打开其中的链接。如对某封邮件有疑问，"
                "请在控制台的\u201c这封邮件是真的吗？\u201d页面检查。"),
}


def warning_text(subject: str, locale: str) -> str:
    """The text of a phishing warning (message center), in ``locale``."""
    return _WARNING_TEXT[message_locale(locale)].format(subject=subject)


def channel_name(channel: str, locale: str) -> str:
    return _CHANNEL_NAMES[message_locale(locale)].get(channel, channel)

