"""Operators of the console: roles, what each role may do, sign-in throttling, passwords."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contactguard.domain.audit import Actor


class Role(StrEnum):
    ADMIN = "admin"  # policy, webhooks, operators, sessions (and campaigns)
    SUPPORT = "support"  # searches sellers and reads what they were told and why


class Permission(StrEnum):
    """One thing a console page or action needs; roles are sets of these."""

    VIEW_DASHBOARD = "view_dashboard"
    READ_ACCOUNTS = "read_accounts"  # search, contacts, eligibility, verifications, messages, audit
    READ_POLICY = "read_policy"
    EDIT_POLICY = "edit_policy"
    MANAGE_WEBHOOKS = "manage_webhooks"  # list, deliveries, replay
    MANAGE_OPERATORS = "manage_operators"  # create, disable, reset second factor or password
    MANAGE_SESSIONS = "manage_sessions"  # operator sessions; sign a seller out everywhere
    MANAGE_CAMPAIGNS = "manage_campaigns"  # create (with its live preview), launch, pause, ...
    READ_CAMPAIGNS = "read_campaigns"  # list, detail, preview, funnel, CSV (support reads them)
    CHECK_MESSAGES = "check_messages"  # the message checker (issue 9)
    VERIFY_CALLERS = "verify_callers"  # start a verify-the-caller session (issue 9)
    MANAGE_PHISHING = "manage_phishing"  # phishing waves, warnings to sellers (issue 9)


_SUPPORT = frozenset({Permission.VIEW_DASHBOARD, Permission.READ_ACCOUNTS,
                      Permission.READ_POLICY, Permission.READ_CAMPAIGNS,
                      Permission.CHECK_MESSAGES, Permission.VERIFY_CALLERS})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SUPPORT: _SUPPORT,
}


def can(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True, slots=True)
class Operator:
    """A staff member as stored (never the password hash nor the second-factor secret)."""

    id: int
    email: str
    role: Role
    created_at: datetime
    must_change_password: bool = True
    totp_enrolled: bool = False
    disabled_at: datetime | None = None
    last_login_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def actor(self) -> Actor:
        """The audit-log actor for what this operator does."""
        return Actor.operator(self.id, self.email)

    def can(self, permission: Permission) -> bool:
        return self.active and can(self.role, permission)


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Sign-in failures allowed per operator email and per client address within ``window``.

    Past either limit, every attempt for that email (or from that address) is refused until
    the window has moved past the oldest counted failure; the answer does not say whether the
    email exists.
    """

    per_email: int = 5
    per_ip: int = 20
    window: timedelta = timedelta(minutes=15)


#: Passwords: at least this long (a passphrase); at most 256 characters (hashing cost).
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


def password_problem(password: str, email: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    if len(set(password)) < 5:
        return "too repetitive: use a passphrase of several words"
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered == email.lower() or (len(local) >= 4 and local in lowered):
        return "must not contain your email address"
    return None
