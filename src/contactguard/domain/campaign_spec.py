"""A campaign as an operator writes it (JSON body or campaign.toml), checked field by field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contactguard.domain.accounts import EXTERNAL_ID_RULE, is_valid_external_id
from contactguard.domain.campaigns import (
    DEFAULT_QUIET_HOURS,
    DEFAULT_REMINDERS,
    QuietHours,
    parse_clock,
)
from contactguard.domain.compliance import ComplianceState
from contactguard.domain.contacts import Channel, ContactKind
from contactguard.domain.text import (
    CONTROL_CHARACTERS,
    control_characters_message,
    describe_character,
    unsafe_character,
)
from contactguard.errors import FieldError, ValidationFailed

#: Channels a campaign can use; the in-app notice (message center + banner) is mandatory.
CAMPAIGN_CHANNELS = (Channel.IN_APP, Channel.EMAIL, Channel.SMS)
MAX_AUDIENCE_ACCOUNTS = 10_000
MAX_REMINDERS = 10
MAX_REMINDER_DAYS = 365
MAX_THROTTLE = 100_000.0
_COUNTRY = re.compile(r"^[A-Z]{2}$")
KEYS = ("name", "contacts", "audience", "announce_at", "effective_at", "channels", "reminders",
        "quiet_hours", "throttle_per_second")
_OFF = {"off", "none", "false", ""}
#: How far in the past announce_at may be (clock skew, a slow form) before it is refused.
_GRACE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is targeted: every filter given must match (none given: every account)."""

    accounts: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[ComplianceState, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if self.accounts:
            out["accounts"] = list(self.accounts)
        if self.countries:
            out["countries"] = list(self.countries)
        if self.states:
            out["states"] = [s.value for s in self.states]
        return out


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    contacts: tuple[ContactKind, ...]
    effective_at: datetime
    channels: tuple[Channel, ...]
    audience: Audience = field(default_factory=Audience)
    announce_at: datetime | None = None  # None: when launched
    reminders: tuple[int, ...] = DEFAULT_REMINDERS
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    throttle_per_second: float | None = None

    def settings(self) -> dict[str, Any]:
        """What is stored in ``campaigns.spec`` (dates have their own columns)."""
        return {"contacts": [c.value for c in self.contacts], "audience": self.audience.as_dict(),
                "channels": [c.value for c in self.channels], "reminders": list(self.reminders),
                "quiet_hours": self.quiet_hours.as_dict() if self.quiet_hours else None,
                "throttle_per_second": self.throttle_per_second}


def spec_from_row(name: str, settings: Mapping[str, Any], announce_at: datetime | None,
                  effective_at: datetime) -> CampaignSpec:
    """Rebuild a stored campaign's spec (it was validated when it was created)."""
    audience = settings.get("audience") or {}
    quiet = settings.get("quiet_hours")
    return CampaignSpec(
        name=name, contacts=tuple(ContactKind(c) for c in settings["contacts"]),
        effective_at=effective_at, channels=tuple(Channel(c) for c in settings["channels"]),
        audience=Audience(accounts=tuple(audience.get("accounts", ())),
                          countries=tuple(audience.get("countries", ())),
                          states=tuple(ComplianceState(s) for s in audience.get("states", ()))),
        announce_at=announce_at, reminders=tuple(settings.get("reminders", DEFAULT_REMINDERS)),
        quiet_hours=QuietHours(parse_clock(quiet["start"]), parse_clock(quiet["end"]))
        if quiet else None,
        throttle_per_second=settings.get("throttle_per_second"))


def parse_spec(document: Mapping[str, Any], *, now: datetime) -> CampaignSpec:
    """Check every field of a campaign document and build its spec.

    Raises ValidationFailed naming each bad field (``channels``, ``effective_at``, ...).
    The minimum notice per country and the audience's accounts are checked by the service,
    which knows the accounts.
    """
    errors: list[FieldError] = []
    errors += [FieldError(key, f"unknown setting '{key}'; known: {', '.join(KEYS)}", "unknown")
               for key in document if key not in KEYS]
    name = document.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        errors.append(FieldError("name", "a name of 1-200 characters", "invalid"))
    elif (unsafe := unsafe_character(name)) is not None:  # the name reaches every message
        errors.append(FieldError("name", control_characters_message(unsafe), CONTROL_CHARACTERS,
                                 params={"character": describe_character(unsafe)}))
    contacts = _enum_list(document.get("contacts"), ContactKind, "contacts", errors, required=True)
    channels = _enum_list(document.get("channels"), Channel, "channels", errors, required=True,
                          allowed=CAMPAIGN_CHANNELS)
    if channels and Channel.IN_APP not in channels:
        errors.append(FieldError(
            "channels", "in_app is always part of a campaign: the dashboard banner and the "
            "message-center notice are how sellers tell a genuine notice from phishing "
            "(an email-only campaign is refused)", "in_app_required"))
    announce_at = _moment(document.get("announce_at"), "announce_at", errors, required=False)
    effective_at = _moment(document.get("effective_at"), "effective_at", errors, required=True)
    if announce_at is not None and announce_at < now.replace(microsecond=0) - _GRACE:
        errors.append(FieldError("announce_at", "is in the past; leave it out to announce at "
                                 "launch", "in_past"))
    start = announce_at or now
    if effective_at is not None and effective_at <= start:
        errors.append(FieldError("effective_at", "must be after announce_at (or now)",
                                 "before_announce"))
    reminders = _reminders(document.get("reminders", list(DEFAULT_REMINDERS)), errors)
    quiet = _quiet_hours(document.get("quiet_hours", DEFAULT_QUIET_HOURS.as_dict()), errors)
    throttle = _throttle(document.get("throttle_per_second"), errors)
    audience = _audience(document.get("audience", {}), errors)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
                               errors=errors)
    assert isinstance(name, str) and effective_at is not None and audience is not None
    return CampaignSpec(name=name.strip(), contacts=tuple(contacts), effective_at=effective_at,
                        channels=tuple(c for c in CAMPAIGN_CHANNELS if c in channels),
                        audience=audience, announce_at=announce_at, reminders=reminders,
                        quiet_hours=quiet, throttle_per_second=throttle)


def _enum_list(value: Any, enum: Any, name: str, errors: list[FieldError], *, required: bool,
               allowed: tuple[Any, ...] | None = None) -> list[Any]:
    if value is None:
        if required:
            errors.append(FieldError(name, "required", "missing"))
        return []
    if not isinstance(value, list | tuple) or not value:
        errors.append(FieldError(name, "a non-empty list", "invalid"))
        return []
    choices = allowed or tuple(enum)
    out: list[Any] = []
    for index, item in enumerate(value):
        member = next((c for c in choices if c.value == item), None)
        if member is None:
            errors.append(FieldError(f"{name}.{index}", f"'{str(item)[:40]}' is not one of "
                                     f"{', '.join(c.value for c in choices)}", "invalid"))
        elif member in out:
            errors.append(FieldError(f"{name}.{index}", f"{member.value} is listed twice",
                                     "duplicate"))
        else:
            out.append(member)
    return out


def _moment(value: Any, name: str, errors: list[FieldError], *, required: bool) -> datetime | None:
    if value is None:
        if required:
            errors.append(FieldError(name, "required (ISO 8601 with a time zone offset)",
                                     "missing"))
        return None
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None:
        errors.append(FieldError(name, "an ISO 8601 date-time such as 2027-03-01T09:00:00+08:00",
                                 "invalid"))
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        errors.append(FieldError(name, "include a time zone offset (Z or +08:00)", "naive"))
        return None
    if not 2000 <= moment.year <= 2200:
        errors.append(FieldError(name, "a year between 2000 and 2200", "out_of_range"))
        return None
    return moment


def _reminders(value: Any, errors: list[FieldError]) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_REMINDERS:
        errors.append(FieldError("reminders", f"a list of at most {MAX_REMINDERS} whole numbers "
                                 "of days before the deadline", "invalid"))
        return ()
    days: list[int] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_REMINDER_DAYS:
            errors.append(FieldError(f"reminders.{index}", f"whole days, 1-{MAX_REMINDER_DAYS}",
                                     "invalid"))
        elif item in days:
            errors.append(FieldError(f"reminders.{index}", f"{item} is listed twice", "duplicate"))
        else:
            days.append(item)
    return tuple(sorted(days, reverse=True))


def _quiet_hours(value: Any, errors: list[FieldError]) -> QuietHours | None:
    if value is None or value is False or (isinstance(value, str) and value.lower() in _OFF):
        return None
    if isinstance(value, QuietHours):
        return value
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        errors.append(FieldError("quiet_hours", 'an object {"start": "21:00", "end": "09:00"}, or '
                                 "null to send at any hour", "invalid"))
        return None
    try:
        quiet = QuietHours(parse_clock(str(value["start"])), parse_clock(str(value["end"])))
    except ValueError as exc:
        errors.append(FieldError("quiet_hours", str(exc), "invalid"))
        return None
    if quiet.start == quiet.end:
        errors.append(FieldError("quiet_hours", "start and end must differ", "invalid"))
        return None
    return quiet


def _throttle(value: Any, errors: list[FieldError]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 < value <= MAX_THROTTLE):
        errors.append(FieldError("throttle_per_second", f"a number of accounts per second, more "
                                 f"than 0 and at most {MAX_THROTTLE:g}", "invalid"))
        return None
    return float(value)


def _audience(value: Any, errors: list[FieldError]) -> Audience | None:
    if not isinstance(value, Mapping):
        errors.append(FieldError("audience", "an object with accounts, countries and/or states",
                                 "invalid"))
        return None
    unknown = [k for k in value if k not in ("accounts", "countries", "states")]
    errors += [FieldError(f"audience.{k}", "unknown filter; use accounts, countries or states",
                          "unknown") for k in unknown]
    accounts = _strings(value.get("accounts"), "audience.accounts", errors,
                        limit=MAX_AUDIENCE_ACCOUNTS)
    for index, external_id in enumerate(accounts):
        if not is_valid_external_id(external_id):
            errors.append(FieldError(f"audience.accounts.{index}", EXTERNAL_ID_RULE, "invalid"))
    countries = [c.upper() for c in _strings(value.get("countries"), "audience.countries",
                                              errors, limit=300)]
    for index, country in enumerate(countries):
        if not _COUNTRY.match(country):
            errors.append(FieldError(f"audience.countries.{index}",
                                     "an ISO 3166 alpha-2 code such as CN or GB", "invalid"))
    states = _enum_list(value.get("states"), ComplianceState, "audience.states", errors,
                        required=False)
    return Audience(accounts=tuple(dict.fromkeys(accounts)),
                    countries=tuple(dict.fromkeys(countries)), states=tuple(states))


def _strings(value: Any, name: str, errors: list[FieldError], *, limit: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(name, "a list of strings", "invalid"))
        return []
    if len(value) > limit:
        errors.append(FieldError(name, f"at most {limit} entries (use countries or states for "
                                 "larger audiences)", "too_many"))
        return []
    return [v.strip() for v in value]
