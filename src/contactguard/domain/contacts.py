"""Contacts, their kinds and line types, and which channel can reach which contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ContactKind(StrEnum):
    """What a contact is for. Backups get their own kinds later."""

    EMERGENCY_EMAIL = "emergency_email"
    EMERGENCY_PHONE = "emergency_phone"

    @property
    def is_phone(self) -> bool:
        return self.value.endswith("_phone")

    @property
    def is_email(self) -> bool:
        return self.value.endswith("_email")


class Channel(StrEnum):
    """How a message travels. Codes use sms, voice or email; in_app is the message center."""

    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    IN_APP = "in_app"
    WEBHOOK = "webhook"  # signed events to operators' endpoints (recipient: the endpoint id)


CODE_CHANNELS = (Channel.SMS, Channel.VOICE, Channel.EMAIL)


class LineType(StrEnum):
    """Phone line types, named after libphonenumber's PhoneNumberType."""

    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    VOIP = "voip"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


_VOICE_ONLY = (Channel.VOICE,)
_SMS_AND_VOICE = (Channel.SMS, Channel.VOICE)

#: Channels that can deliver a code to each line type; a type absent here is refused.
PHONE_CHANNELS: dict[LineType, tuple[Channel, ...]] = {
    LineType.MOBILE: _SMS_AND_VOICE,
    LineType.FIXED_LINE_OR_MOBILE: _SMS_AND_VOICE,
    LineType.VOIP: _SMS_AND_VOICE,
    LineType.PERSONAL_NUMBER: _SMS_AND_VOICE,
    LineType.FIXED_LINE: _VOICE_ONLY,
    LineType.TOLL_FREE: _VOICE_ONLY,
    LineType.SHARED_COST: _VOICE_ONLY,
    LineType.UAN: _VOICE_ONLY,
}

#: Line types refused whatever the settings say, with the reason shown to the user.
REFUSED_LINE_TYPES: dict[LineType, str] = {
    LineType.PREMIUM_RATE: "premium-rate numbers cannot be used as an emergency contact",
    LineType.PAGER: "pager numbers cannot receive verification codes",
    LineType.VOICEMAIL: "voicemail-only numbers cannot receive verification codes",
}


def allowed_channels(kind: ContactKind, line_type: LineType | None) -> tuple[Channel, ...]:
    """Channels that can carry a code to a contact of this kind and line type."""
    if kind.is_email:
        return (Channel.EMAIL,)
    if line_type is None:
        return ()
    if line_type is LineType.UNKNOWN:
        return _SMS_AND_VOICE  # only stored when the operator allows unknown types
    return PHONE_CHANNELS.get(line_type, ())


class ContactStatus(StrEnum):
    """What a seller and an operator see for one contact."""

    VERIFIED = "verified"
    PENDING = "pending"
    UNVERIFIED = "unverified"
    UNDELIVERABLE = "undeliverable"  # no channel the contact allows can reach its value


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """A channel that permanently failed for a contact's current value, and why."""

    channel: Channel
    reason: str
    since: datetime


def undeliverable_status(kind: ContactKind, line_type: LineType | None,
                         marks: tuple[Undeliverable, ...]) -> bool:
    """True when every channel the contact allows is marked undeliverable."""
    allowed = allowed_channels(kind, line_type)
    failed = {mark.channel for mark in marks}
    return bool(allowed) and all(channel in failed for channel in allowed)


@dataclass(slots=True)
class Contact:
    """One contact slot of an account.

    ``value`` is the latest value set. ``verified_value`` is the last value proven by a code:
    while a changed value is unverified, the old verified one stays in force.
    """

    id: int
    account_id: int
    kind: ContactKind
    value: str
    line_type: LineType | None
    verified_value: str | None
    verified_line_type: LineType | None
    verified_at: datetime | None
    verified_channel: Channel | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_verified(self) -> bool:
        return self.verified_value is not None and self.verified_value == self.value

    @property
    def active_value(self) -> str:
        """The value in force: the verified one if any, otherwise the latest value set."""
        return self.verified_value if self.verified_value is not None else self.value

    def status(self, *, has_open_challenge: bool) -> ContactStatus:
        if self.is_verified:
            return ContactStatus.VERIFIED
        return ContactStatus.PENDING if has_open_challenge else ContactStatus.UNVERIFIED


def mask_email(value: str) -> str:
    """``jane@example.com`` -> ``j•••@example.com``; enough to recognise, not to harvest."""
    local, _, domain = value.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def mask_phone(e164: str) -> str:
    """``+14155554567`` -> ``+1 ••• ••• 4567`` (country code kept only when short)."""
    digits = e164.lstrip("+")
    if len(digits) < 7:
        return "•••"
    prefix = digits[:1] if digits[0] in "17" else digits[:2]
    return f"+{prefix} ••• ••• {digits[-4:]}"


def mask_contact(kind: ContactKind, value: str) -> str:
    return mask_email(value) if kind.is_email else mask_phone(value)
