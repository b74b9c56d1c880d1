"""Shared limits and abuse protection (issue 11): pure rules, no I/O.

* :class:`Quota` — "so many hits per window" for one named limit.
* :class:`ProtectionPolicy` — every limit and the SMS-pumping guard's settings; part of the
  policy (``Policy.protection``, policy documents' ``protection`` object).
* :func:`destination_key` — one destination, one cooldown: the key under which sends to an
  address or number are counted (``MailBox@Example.net`` and ``mailbox@example.net`` are one).
* :func:`phone_prefix`, :func:`number_risk`, :func:`judge_prefix` — the pumping guard's rules.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: Country calling codes of non-geographic ranges (international freephone, shared cost,
#: premium, global mobile satellite and "international networks" numbers), refused by default:
#: SMS-pumping fraud favours them because they cost the sender most.
NON_GEOGRAPHIC_CODES: frozenset[str] = frozenset(
    {"800", "808", "870", "878", "881", "882", "883", "888", "979"})

#: Line types (libphonenumber's number_type) that cost the sender extra; refused by default.
COSTLY_LINE_TYPES: frozenset[str] = frozenset({"premium_rate", "shared_cost", "uan"})

#: Digits kept of an E.164 number to form its prefix (the number without its last 4 digits).
PREFIX_DROP_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Quota:
    """``limit`` hits per ``window_seconds`` for the limit called ``name``."""

    name: str
    limit: int
    window_seconds: int

    @property
    def policy_header(self) -> str:
        """The ``RateLimit-Policy`` item (IETF draft-ietf-httpapi-ratelimit-headers)."""
        return f'"{self.name}";q={self.limit};w={self.window_seconds}'

    def header(self, remaining: int, reset_seconds: int) -> str:
        """The ``RateLimit`` item: what is left and in how many seconds the window resets."""
        return f'"{self.name}";r={max(remaining, 0)};t={max(reset_seconds, 0)}'


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """One hit counted: whether it was within the quota; for a refusal, what is left and
    in how many seconds the window resets (an accepted hit does not look: -1, 0)."""

    allowed: bool
    remaining: int
    reset_seconds: int


class BlockReason(StrEnum):
    """Why a destination was refused by the pumping guard."""

    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    NON_GEOGRAPHIC = "non_geographic"
    COSTLY_NUMBER = "costly_number"
    PREFIX_VELOCITY = "prefix_velocity"
    LOW_CONVERSION = "low_conversion"
    COUNTRY_BUDGET = "country_budget"
    PREFIX_BLOCKED = "prefix_blocked"


#: What a seller may do instead, per reason (the problem's ``alternative``).
ALTERNATIVES: dict[BlockReason, str] = {
    BlockReason.COUNTRY_NOT_ALLOWED: "use a phone number of a supported country, or verify "
                                     "your email address and contact support",
    BlockReason.NON_GEOGRAPHIC: "use an ordinary mobile or landline number of your country",
    BlockReason.COSTLY_NUMBER: "use an ordinary mobile or landline number of your country",
    BlockReason.PREFIX_VELOCITY: "verify your email address now and try the phone again "
                                 "later, or contact support",
    BlockReason.LOW_CONVERSION: "verify your email address now and try the phone again "
                                "later, or contact support",
    BlockReason.COUNTRY_BUDGET: "try again tomorrow or verify your email address first",
    BlockReason.PREFIX_BLOCKED: "verify your email address now and try the phone again "
                                "later, or contact support",
}


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """Rate limits and the SMS-pumping guard (README "Protection, limits and hardening").

    Request limits are counted in Redis when ``CONTACTGUARD_REDIS_URL`` is set (shared by
    every process), else in each process's memory. The guard's counts live in the database.
    """

    # --- request limits (per minute) ---
    #: Requests per minute per API key (every /v1 route).
    api_key_per_minute: int = 1200
    #: Seller Center requests per minute per client address.
    seller_ip_per_minute: int = 300
    #: Sign-in attempts (seller session links, console sign-in) per minute per client address.
    login_ip_per_minute: int = 20
    # --- send limits (per hour), on top of the per-destination cooldown kept in the database ---
    #: Codes sent per hour for one account (all its contacts).
    account_sends_per_hour: int = 20
    #: Codes sent per hour to one destination (normalized address or number), all accounts.
    destination_sends_per_hour: int = 10
    #: Codes sent per hour to numbers of one prefix (see :func:`phone_prefix`).
    prefix_sends_per_hour: int = 60
    # --- SMS-pumping guard (SMS and voice) ---
    #: ISO regions allowed to receive codes by SMS or voice; empty: every country.
    allowed_countries: tuple[str, ...] = ()
    #: Allow non-geographic (+800, +882, ...) and premium / shared-cost numbers.
    allow_costly_numbers: bool = False
    #: Codes sent to numbers of one prefix that were not verified, within the window, before
    #: the prefix is blocked (at most this many are sent).
    prefix_unverified_limit: int = 30
    #: The guard's window, in hours (velocity and conversion).
    prefix_window_hours: int = 24
    #: Conversion alarm: once a prefix had this many sends in the window ...
    conversion_min_sends: int = 20
    #: ... and fewer than this share (percent) of them were verified, the prefix is blocked.
    conversion_min_percent: int = 10
    #: Codes by SMS or voice per country per day (UTC day), all prefixes; 0: no budget.
    country_daily_budget: int = 5000
    #: Hours a prefix stays blocked (an operator can lift it sooner).
    block_hours: int = 24

    def quota(self, name: str) -> Quota:
        """The quota of one named limit (``api_key``, ``seller_ip``, ``login_ip``,
        ``account``, ``destination``, ``prefix``)."""
        per_minute = {"api_key": self.api_key_per_minute, "seller_ip": self.seller_ip_per_minute,
                      "login_ip": self.login_ip_per_minute}
        if name in per_minute:
            return Quota(name, per_minute[name], 60)
        per_hour = {"account": self.account_sends_per_hour,
                    "destination": self.destination_sends_per_hour,
                    "prefix": self.prefix_sends_per_hour}
        return Quota(name, per_hour[name], 3600)


#: Policy document key -> (lowest, highest) of every whole-number protection setting.
PROTECTION_LIMITS: dict[str, tuple[int, int]] = {
    "api_key_per_minute": (1, 1_000_000),
    "seller_ip_per_minute": (1, 100_000),
    "login_ip_per_minute": (1, 10_000),
    "account_sends_per_hour": (1, 1000),
    "destination_sends_per_hour": (1, 1000),
    "prefix_sends_per_hour": (1, 100_000),
    "prefix_unverified_limit": (1, 100_000),
    "prefix_window_hours": (1, 24 * 30),
    "conversion_min_sends": (1, 100_000),
    "conversion_min_percent": (0, 100),
    "country_daily_budget": (0, 10_000_000),
    "block_hours": (1, 24 * 365),
}


@dataclass(frozen=True, slots=True)
class PrefixStats:
    """Sends to one prefix within the guard's window, and how many of them were verified."""

    sent: int
    verified: int

    @property
    def unverified(self) -> int:
        return self.sent - self.verified


def judge_prefix(stats: PrefixStats, policy: ProtectionPolicy) -> BlockReason | None:
    """Whether one more send to this prefix must be refused and the prefix blocked."""
    if stats.unverified >= policy.prefix_unverified_limit:
        return BlockReason.PREFIX_VELOCITY
    if (stats.sent >= policy.conversion_min_sends
            and stats.verified * 100 < policy.conversion_min_percent * stats.sent):
        return BlockReason.LOW_CONVERSION
    return None


def phone_prefix(e164: str) -> str:
    """The prefix numbers are grouped by: the E.164 number without its last 4 digits
    (``+4915112345678`` -> ``+491511234``); numbers one attacker cycles through share it."""
    digits = e164.lstrip("+")
    return "+" + digits[:max(len(digits) - PREFIX_DROP_DIGITS, 1)]


def number_risk(calling_code: str, line_type: str | None,
                policy: ProtectionPolicy) -> BlockReason | None:
    """Non-geographic and costly numbers are refused unless the policy allows them."""
    if policy.allow_costly_numbers:
        return None
    if calling_code in NON_GEOGRAPHIC_CODES:
        return BlockReason.NON_GEOGRAPHIC
    if line_type in COSTLY_LINE_TYPES:
        return BlockReason.COSTLY_NUMBER
    return None


def destination_key(value: str, *, is_email: bool) -> str:
    """One destination, one key: an email address case-folded (local part and domain, NFC),
    a phone number as stored (E.164). Sends, cooldowns and locks are keyed by it."""
    if not is_email:
        return value.strip()
    return unicodedata.normalize("NFC", value.strip()).casefold()


def lock_id(key: str) -> int:
    """A signed 64-bit number for ``key`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class Block:
    """A prefix (or one number) the guard refuses, until ``expires_at`` or lifted."""

    id: int
    prefix: str
    country: str
    reason: BlockReason
    sent: int
    verified: int
    created_at: datetime
    expires_at: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.lifted_at is None and self.expires_at > now
