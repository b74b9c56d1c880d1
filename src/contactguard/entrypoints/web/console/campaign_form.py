"""The create-campaign form: its fields turned into the campaign document that the API and
campaign.toml take (the service checks every rule), and the service's field errors put next
to the inputs they are about, in the operator's language."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date

from contactguard.domain.campaign_spec import MAX_AUDIENCE_ACCOUNTS, MAX_REMINDERS
from contactguard.domain.campaigns import DEFAULT_QUIET_HOURS, DEFAULT_REMINDERS
from contactguard.domain.compliance import ComplianceState
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.web.i18n import Translator
from contactguard.errors import FieldError
from contactguard.services.campaigns import NoticeShortfall

#: Where each input's errors are shown (``err-<slot>``), in the form's order.
SLOTS = ("name", "contacts", "countries", "states", "accounts", "audience", "tz", "announce_at",
         "effective_at", "channels", "reminders", "quiet", "throttle", "form")
STATES = tuple(s.value for s in ComplianceState)
KINDS = tuple(k.value for k in ContactKind)
#: The channels an operator may add; the in-app notice is always on (a hidden input).
OPTIONAL_CHANNELS = ("email", "sms")
_SPLIT = re.compile(r"[\s,;]+")
_LOCAL = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
            "Indian/", "Pacific/")


@cache
def time_zones() -> tuple[str, ...]:
    """UTC, then every region/city zone this system knows (the form's choices)."""
    return ("UTC", *sorted(z for z in available_timezones() if z.startswith(_REGIONS)))


def blank_values() -> dict[str, Any]:
    """What the form shows before anything is typed: the API's defaults."""
    quiet = DEFAULT_QUIET_HOURS.as_dict()
    return {"name": "", "contacts": set(KINDS), "countries": "", "states": set(),
            "accounts": "", "tz": "UTC", "announce_at": "", "effective_at": "",
            "channels": {"in_app", *OPTIONAL_CHANNELS},
            "reminders": ", ".join(str(d) for d in DEFAULT_REMINDERS), "quiet": True,
            "quiet_start": quiet["start"], "quiet_end": quiet["end"], "throttle": ""}


@dataclass
class Submitted:
    """A submitted form: the document for the service, what to show again, the form's own
    errors (an unknown time zone) by slot."""

    document: dict[str, Any]
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)


def read_form(form: Any) -> Submitted:
    """The campaign document from the create form (``form``: Starlette's FormData)."""
    def text(name: str, limit: int = 200) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def many(name: str) -> list[str]:
        return [v[:40] for v in form.getlist(name) if isinstance(v, str)][:20]

    errors: list[FieldError] = []
    values: dict[str, Any] = {
        "name": text("name", 300), "contacts": set(many("contacts")),
        "countries": text("countries", 2000), "states": set(many("states")),
        "accounts": text("accounts", 400_000), "tz": text("tz", 64) or "UTC",
        "announce_at": text("announce_at", 40), "effective_at": text("effective_at", 40),
        "channels": set(many("channels")), "reminders": text("reminders", 200),
        "quiet": bool(form.get("quiet")), "quiet_start": text("quiet_start", 10),
        "quiet_end": text("quiet_end", 10), "throttle": text("throttle", 40)}
    zone = ZoneInfo("UTC")
    if values["tz"] in time_zones():
        zone = ZoneInfo(values["tz"])
    else:
        errors.append(FieldError("tz", "unknown time zone", "unknown_zone"))
    document: dict[str, Any] = {
        "name": values["name"], "contacts": many("contacts"), "channels": many("channels"),
        "reminders": [int(d) if d.isascii() and d.isdigit() and len(d) < 6 else d
                      for d in _SPLIT.split(values["reminders"]) if d],
        "quiet_hours": {"start": values["quiet_start"], "end": values["quiet_end"]}
        if values["quiet"] else None}
    for key in ("announce_at", "effective_at"):
        if values[key].strip():
            document[key] = _moment(values[key].strip(), zone)
    audience: dict[str, list[str]] = {}
    countries = list(dict.fromkeys(c.upper() for c in _SPLIT.split(values["countries"]) if c))
    accounts = list(dict.fromkeys(a for a in _SPLIT.split(values["accounts"]) if a))
    if countries:
        audience["countries"] = countries
    if accounts:
        audience["accounts"] = accounts
    if values["states"]:
        audience["states"] = [s for s in many("states")]
    document["audience"] = audience
    throttle = values["throttle"].strip()
    if throttle:
        try:
            document["throttle_per_second"] = float(throttle)
        except ValueError:
            document["throttle_per_second"] = throttle  # the service names it
    return Submitted(document, values, errors)


def _moment(raw: str, zone: ZoneInfo) -> str:
    """``2027-03-08T18:00`` typed in ``zone`` as ISO 8601 with its offset; anything else is
    passed on as typed, for the service to refuse with its field error."""
    for pattern in _LOCAL:
        try:
            local = datetime.strptime(raw, pattern)
        except ValueError:
            continue
        return local.replace(tzinfo=zone).isoformat()
    return raw


def slot_of(field_name: str) -> str:
    """The input a service field error belongs next to."""
    head, _, rest = field_name.partition(".")
    if head == "audience":
        sub = rest.partition(".")[0]
        return sub if sub in ("countries", "accounts", "states") else "audience"
    return {"quiet_hours": "quiet", "throttle_per_second": "throttle"}.get(
        head, head if head in SLOTS else "form")


def field_errors(t: Translator, errors: Sequence[FieldError], document: Mapping[str, Any],
                 shortfalls: Sequence[NoticeShortfall] = ()) -> dict[str, list[str]]:
    """Each error in the operator's language, by slot (the service's English text when the
    console has no words of its own for it)."""
    out: dict[str, list[str]] = {}
    short = list(shortfalls)
    for error in errors:
        if error.code == "notice_too_short" and short:
            message = notice_message(t, short.pop(0))
        else:
            message = _message(t, error, document)
        listed = out.setdefault(slot_of(error.field), [])
        if message not in listed:
            listed.append(message)
    return out


def notice_message(t: Translator, s: NoticeShortfall) -> str:
    """A country short of notice, as the service refuses it, in the operator's language."""
    def day(d: Any) -> str:
        return str(format_date(d, "medium", locale=t.babel_locale))

    text = t.ngettext(
        "%(country)s: only %(n)s working day of notice from %(start)s to %(end)s (%(zone)s); "
        "the policy requires at least %(min)s.",
        "%(country)s: only %(n)s working days of notice from %(start)s to %(end)s (%(zone)s); "
        "the policy requires at least %(min)s.", s.working_days, country=s.country,
        start=day(s.announce_day), end=day(s.effective_day), zone=s.time_zone, min=s.minimum)
    if s.holidays:
        text += " " + t.gettext("Public holidays in between: %(days)s.",
                                days=", ".join(day(d) for d in s.holidays))
    return text


def _item(document: Mapping[str, Any], field_name: str) -> str:
    """The value a ``list.N`` field error is about (``audience.accounts.3``)."""
    parts = field_name.split(".")
    value: Any = document
    try:
        for part in parts:
            value = value[int(part)] if part.isdigit() else value[part]
    except (KeyError, IndexError, TypeError):
        return ""
    return str(value)[:80]


def _message(t: Translator, error: FieldError, document: Mapping[str, Any]) -> str:
    gettext = t.gettext
    name, code = error.field, error.code
    value = _item(document, name)
    indexed = name.rsplit(".", 1)[-1].isdigit()
    if code == "duplicate":
        return gettext("“%(value)s” is listed twice.", value=value)
    if name == "name":
        return gettext("Give the campaign a name of 1 to 200 characters.")
    if name.startswith("contacts"):
        if indexed:
            return gettext("“%(value)s” is not a contact that can be verified.", value=value)
        return gettext("Choose at least one contact that sellers must verify.")
    if name.startswith("channels"):
        if code == "in_app_required":
            return gettext("The message center is always part of a campaign: the dashboard "
                           "banner and the message-center notice are how sellers tell a genuine "
                           "notice from phishing. An email-only campaign is refused.")
        if indexed:
            return gettext("“%(value)s” is not a campaign channel (message center, email, SMS).",
                           value=value)
        return gettext("Choose the channels.")
    if name in ("announce_at", "effective_at"):
        if code == "missing":
            return gettext("Required: the date and time the requirement takes effect.")
        if code == "in_past":
            return gettext("This is in the past. Leave it empty to announce at launch.")
        if code == "before_announce":
            return gettext("Must be after the announcement (or now, when announced at launch).")
        if code == "out_of_range":
            return gettext("Use a year between 2000 and 2200.")
        if code in ("invalid", "naive"):
            return gettext("Enter a date and a time.")
    if name.startswith("reminders"):
        if indexed:
            return gettext("“%(value)s”: use whole days before the deadline, from 1 to 365.",
                           value=value)
        return t.ngettext("At most %(n)s reminder.", "At most %(n)s reminders.", MAX_REMINDERS)
    if name == "quiet_hours":
        return gettext("Quiet hours need a start and an end (HH:MM, 24-hour) that differ.")
    if name == "throttle_per_second":
        return gettext("A number of accounts per second, more than 0 and at most 100,000.")
    if name == "tz":
        return gettext("Choose a time zone from the list.")
    if name.startswith("audience.accounts"):
        if code == "not_found":
            return gettext("No account “%(value)s”.", value=value)
        if indexed:
            return gettext("“%(value)s” is not a valid external id.", value=value)
        return t.ngettext("At most %(n)s account; use countries or states for larger audiences.",
                          "At most %(n)s accounts; use countries or states for larger audiences.",
                          MAX_AUDIENCE_ACCOUNTS)
    if name.startswith("audience.countries") and indexed:
        return gettext("“%(value)s” is not a country code; use two letters such as CN or GB.",
                       value=value)
    if name == "audience" and code == "empty":
        return gettext("The audience matches no account.")
    return error.message
