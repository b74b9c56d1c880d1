"""Policy documents: the operator-facing form of a Policy (TOML file or JSON), validated."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from contactguard.domain.abuse import PROTECTION_LIMITS, ProtectionPolicy
from contactguard.domain.compliance import Policy, PolicyReasons
from contactguard.domain.contacts import ContactKind
from contactguard.errors import FieldError, ValidationFailed

COUNTRY_CODE = re.compile(r"[A-Za-z]{2}\Z")
SIGNAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")

#: Document key -> (lowest, highest) for the whole-number settings.
_LIMITS: dict[str, tuple[int, int]] = {
    "reverify_after_days": (1, 3650),
    "due_soon_days": (0, 365),
    "snooze_days": (1, 30),
    "max_snoozes": (0, 20),
    "max_contact_changes_per_day": (1, 100),
    "grace_days": (1, 365),
    "min_notice_days": (1, 90),
}
KEYS = ("required", *_LIMITS, "min_signals", "reasons", "email_link", "protection")
_REASON_TEXT_MAX = 500
LOCALE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def is_finite_number(value: object) -> bool:
    """True for an int or float that is neither NaN nor infinite nor too big for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def policy_to_document(policy: Policy) -> dict[str, Any]:
    """The policy as the JSON/TOML document operators read and write."""
    return {
        "required": [k.value for k in policy.required],
        "reverify_after_days": policy.reverify_after.days,
        "due_soon_days": policy.due_soon_window.days,
        "snooze_days": policy.snooze_length.days,
        "max_snoozes": policy.max_snoozes,
        "max_contact_changes_per_day": policy.max_contact_changes_per_day,
        "grace_days": policy.grace_period.days,
        "min_notice_days": policy.min_notice_days,
        "min_signals": dict(policy.min_signals),
        "reasons": {r.locale: {"why": r.why, "consequence": r.consequence}
                    for r in policy.reasons},
        "email_link": policy.email_link,
        "protection": protection_to_document(policy.protection),
    }


def protection_to_document(protection: ProtectionPolicy) -> dict[str, Any]:
    """The ``protection`` object of a policy document (issue 11)."""
    document: dict[str, Any] = {key: getattr(protection, key) for key in PROTECTION_LIMITS}
    document["allowed_countries"] = list(protection.allowed_countries)
    document["allow_costly_numbers"] = protection.allow_costly_numbers
    return document


def _protection(raw: Any, bad: Any) -> ProtectionPolicy:
    """Parse the ``protection`` object; settings left out keep their defaults."""
    if not isinstance(raw, Mapping):
        bad("protection", "an object of limit settings, e.g. {\"login_ip_per_minute\": 20}")
        return ProtectionPolicy()
    known = (*PROTECTION_LIMITS, "allowed_countries", "allow_costly_numbers")
    values: dict[str, Any] = {}
    for key in raw:
        if key not in known:
            bad(f"protection.{key}", f"unknown setting; known settings: {', '.join(known)}",
                "unknown")
    for key, (low, high) in PROTECTION_LIMITS.items():
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            bad(f"protection.{key}", "a whole number")
        elif not low <= value <= high:
            bad(f"protection.{key}", f"must be between {low} and {high}", "out_of_range")
        else:
            values[key] = value
    if "allow_costly_numbers" in raw:
        if not isinstance(raw["allow_costly_numbers"], bool):
            bad("protection.allow_costly_numbers", "true or false")
        else:
            values["allow_costly_numbers"] = raw["allow_costly_numbers"]
    if "allowed_countries" in raw:
        countries = raw["allowed_countries"]
        if not isinstance(countries, list) or not all(
                isinstance(c, str) and COUNTRY_CODE.match(c) for c in countries):
            bad("protection.allowed_countries", "a list of two-letter country codes such as "
                                                "[\"US\", \"DE\"] (empty: every country)")
        else:
            values["allowed_countries"] = tuple(sorted({c.upper() for c in countries}))
    return ProtectionPolicy(**values)


def policy_from_document(document: Mapping[str, Any], *, prefix: str = "") -> Policy:
    """Build a Policy; keys left out keep their defaults.

    Raises ValidationFailed naming every bad field (``prefix`` is prepended to field names).
    """
    errors: list[FieldError] = []
    values = policy_to_document(Policy())

    def bad(key: str, message: str, code: str = "invalid") -> None:
        errors.append(FieldError(f"{prefix}{key}", message, code))

    if not isinstance(document, Mapping):
        raise ValidationFailed("a policy is an object of settings",
                               errors=[FieldError(prefix.rstrip(".") or "policy", "expected an object")])
    for key in document:
        if key not in KEYS:
            bad(str(key), f"unknown setting; known settings: {', '.join(KEYS)}", "unknown")
    required = document.get("required", values["required"])
    kinds: list[ContactKind] = []
    if not isinstance(required, list) or not required:
        bad("required", "a non-empty list of contact kinds")
    else:
        for item in required:
            try:
                kind = ContactKind(item)
            except ValueError:
                choices = ", ".join(k.value for k in ContactKind)
                bad("required", f"unknown contact kind {item!r}; use {choices}")
                continue
            if kind not in kinds:
                kinds.append(kind)
    numbers: dict[str, int] = {}
    for key, (low, high) in _LIMITS.items():
        value = document.get(key, values[key])
        if isinstance(value, bool) or not isinstance(value, int):
            bad(key, "a whole number")
        elif not low <= value <= high:
            bad(key, f"must be between {low} and {high}", "out_of_range")
        else:
            numbers[key] = value
    if ("due_soon_days" in numbers and "reverify_after_days" in numbers
            and numbers["due_soon_days"] >= numbers["reverify_after_days"]):
        bad("due_soon_days", "must be shorter than reverify_after_days")
    signals: list[tuple[str, float]] = []
    raw_signals = document.get("min_signals", {})
    if not isinstance(raw_signals, Mapping):
        bad("min_signals", 'an object of signal name -> minimum, e.g. {"account_health_rating": 200}')
    else:
        for name, minimum in raw_signals.items():
            if not SIGNAL_NAME.match(str(name)):
                bad(f"min_signals.{name}", "signal names are lowercase letters, digits and _")
            elif isinstance(minimum, bool) or not isinstance(minimum, int | float):
                bad(f"min_signals.{name}", "a number")
            elif not is_finite_number(minimum):
                bad(f"min_signals.{name}", "a finite number (not NaN or infinity)", "not_finite")
            else:
                signals.append((str(name), float(minimum)))
    reasons = _reasons(document.get("reasons", values["reasons"]), bad)
    email_link = document.get("email_link", values["email_link"])
    protection = _protection(document.get("protection", {}), bad)
    if not isinstance(email_link, bool):
        bad("email_link", "true or false")
    if errors:
        raise ValidationFailed(errors[0].message if len(errors) == 1 else
                               f"{len(errors)} policy settings are invalid", errors=errors)
    return Policy(required=tuple(kinds),
                  reverify_after=timedelta(days=numbers["reverify_after_days"]),
                  due_soon_window=timedelta(days=numbers["due_soon_days"]),
                  snooze_length=timedelta(days=numbers["snooze_days"]),
                  max_snoozes=numbers["max_snoozes"],
                  max_contact_changes_per_day=numbers["max_contact_changes_per_day"],
                  grace_period=timedelta(days=numbers["grace_days"]),
                  min_notice_days=numbers["min_notice_days"],
                  min_signals=tuple(sorted(signals)), reasons=reasons,
                  email_link=bool(email_link), protection=protection)


def _reasons(raw: Any, bad: Any) -> tuple[PolicyReasons, ...]:
    """``{"en": {"why": ..., "consequence": ...}, "zh-Hans": {...}}``; English is required."""
    if not isinstance(raw, Mapping) or not raw:
        bad("reasons", 'an object of language -> {"why", "consequence"}, e.g. '
                       '{"en": {"why": "...", "consequence": "..."}}')
        return ()
    found: list[PolicyReasons] = []
    for locale, entry in raw.items():
        field = f"reasons.{locale}"
        if not LOCALE_TAG.match(str(locale)):
            bad(field, "a language tag such as en or zh-Hans")
            continue
        if not isinstance(entry, Mapping) or set(entry) != {"why", "consequence"}:
            bad(field, 'an object with exactly "why" and "consequence"')
            continue
        texts = []
        for part in ("why", "consequence"):
            text = entry[part]
            if not isinstance(text, str) or not text.strip():
                bad(f"{field}.{part}", "a non-empty text")
            elif len(text) > _REASON_TEXT_MAX:
                bad(f"{field}.{part}", f"at most {_REASON_TEXT_MAX} characters", "too_long")
            elif any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
                     for c in text):
                bad(f"{field}.{part}", "control and direction-override characters are not "
                                       "allowed", "control_characters")
            else:
                texts.append(" ".join(text.split()))
        if len(texts) == 2:
            found.append(PolicyReasons(str(locale), why=texts[0], consequence=texts[1]))
    if "en" not in raw:
        bad("reasons", "English (en) reasons are required: they are the fallback for every "
                       "other language", "required")
    return tuple(found)
