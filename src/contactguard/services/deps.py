"""What every use case needs, built once by ``bootstrap`` and passed in explicitly."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from contactguard.domain.campaigns import HolidayCalendar, WeekendCalendar
from contactguard.domain.challenges import CODE_LENGTH, VerificationRules
from contactguard.domain.compliance import Policy
from contactguard.domain.inbound import InboundAddresses
from contactguard.domain.operators import LoginThrottle
from contactguard.ports import (
    Clock,
    CodeHasher,
    Fingerprints,
    MessageInspector,
    PasswordHasher,
    RateLimiter,
    Renderer,
    Resolver,
    SecondFactor,
    SecretBox,
    UnitOfWork,
)


def random_code() -> str:
    """A uniformly random numeric one-time code from the OS CSPRNG."""
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


@dataclass(frozen=True, slots=True)
class Branding:
    """How messages name the platform and its web origin."""

    platform_name: str = "ContactGuard"
    public_host: str = "localhost"
    #: The sellers' origin, for the pages a message may link to (the opt-in email link).
    public_url: str = "http://localhost"


@dataclass(slots=True)
class Deps:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    hasher: CodeHasher
    box: SecretBox
    rules: VerificationRules = field(default_factory=VerificationRules)
    #: Returns the policy in force (bootstrap: the database version, else the file, cached).
    policy_source: Callable[[], Policy] = Policy
    branding: Branding = field(default_factory=Branding)
    allow_unknown_line_types: bool = False
    new_code: Callable[[], str] = random_code
    read_uow: Callable[[], UnitOfWork] | None = None
    audit_key: bytes = b"contactguard-audit-chain"  # bootstrap derives it from the secret key
    # Delivery isolation and hardening (issue 11): webhook URLs must reach public addresses
    resolver: Resolver | None = None
    webhook_allow_private: bool = False
    # Operator console (issue 8): bootstrap sets argon2id and TOTP.
    passwords: PasswordHasher | None = None
    second_factor: SecondFactor | None = None
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    # Campaigns (issue 8): public holidays by country (bootstrap: the `holidays` package) and
    # the message renderer (campaign previews render sample messages).
    calendars: Callable[[str], HolidayCalendar] = field(default=lambda _country: WeekendCalendar())
    renderer: Renderer | None = None
    # Sent ledger and message checker (issue 9): keyed hashes of what was sent, and the adapter
    # that parses suspicious messages (bootstrap derives the key and builds the inspector).
    ledger_key: bytes = b"contactguard-sent-ledger"
    inspector: MessageInspector | None = None
    # Shared limits and abuse protection (issue 11): the rate limiter (Redis or memory; None:
    # limits and the SMS-pumping guard are off) and a counter of protection events (metrics).
    limiter: RateLimiter | None = None
    protection_event: Callable[[str, str], None] = field(default=lambda _name, _label: None)
    # Inbound mail and phishing waves (issue 9): the addresses mail is sorted by, the key of
    # VERP tags, MinHash fingerprints, and a counter hook (bootstrap: Prometheus).
    inbound: InboundAddresses = field(default_factory=InboundAddresses)
    verp_key: bytes = b"contactguard-verp"
    fingerprints: Fingerprints | None = None
    on_inbound: Callable[[str], None] | None = None

    @property
    def policy(self) -> Policy:
        """The policy in force now."""
        return self.policy_source()

    def reader(self) -> UnitOfWork:
        """A unit of work for reads only (no write lock on SQLite)."""
        return (self.read_uow or self.uow)()
