"""Console sign-in: password, then a TOTP code (enrolled at the first sign-in), throttled.

Every failure answers the same :class:`SignInFailed`, whether the email exists or not, and
is counted per email typed and per client address in the database (so the limits hold
across processes); past a limit, :class:`SignInThrottled` until the window has moved on.
The web layer opens the server-side session only after both factors
(:func:`complete_sign_in`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

from contactguard.domain.audit import Actor, ActorKind
from contactguard.domain.operators import Operator, password_problem
from contactguard.errors import (
    ConfigurationError,
    Conflict,
    FieldError,
    SignInFailed,
    SignInThrottled,
    ValidationFailed,
)
from contactguard.ports import SecondFactor, UnitOfWork
from contactguard.services import audit
from contactguard.services.deps import Deps
from contactguard.services.operators import normalize_operator_email, passwords

GENERIC = "Wrong email, password or code."
_MAX_INPUT = 256
#: Failures are kept this long (longer than any throttle window), then purged.
KEEP_FAILURES = timedelta(days=1)
#: Who a failed attempt is logged as: nobody proven yet (the subject names the operator).
SIGN_IN = Actor(ActorKind.SYSTEM, "console-sign-in", "console sign-in (not signed in)")


class NextStep(StrEnum):
    ENROL = "enrol"  # no second factor yet: show the QR code
    TOTP = "totp"  # ask for the current code


@dataclass(frozen=True, slots=True)
class PasswordChecked:
    operator_id: int
    next_step: NextStep


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the secret (as text and QR code) and its URI."""

    secret: str
    uri: str
    email: str


def check_password(deps: Deps, email: str, password: str, *, ip: str | None) -> PasswordChecked:
    """The first factor. Raises SignInThrottled, SignInFailed (never saying which part was wrong)."""
    typed = _typed_email(email)
    keys = _keys(typed, ip)
    _refuse_if_throttled(deps, keys)
    operator: Operator | None = None
    stored: str | None = None
    with deps.reader() as uow:
        operator = uow.operators.by_email(typed)
        if operator is not None:
            stored = uow.operators.credentials(operator.id)[0]
    good = passwords(deps).verify(stored, password[:_MAX_INPUT])  # always costs one hash
    if operator is None or not operator.active or not good:
        _fail(deps, keys, operator, "password")
    return PasswordChecked(operator.id,
                           NextStep.TOTP if operator.totp_enrolled else NextStep.ENROL)


def check_code(deps: Deps, operator_id: int, code: str, *, ip: str | None) -> Operator:
    """The second factor for an enrolled operator. A code works once (replay refused).

    Raises SignInThrottled, SignInFailed.
    """
    factor = _factor(deps)
    with deps.reader() as uow:
        operator: Operator | None = uow.operators.get(operator_id)
        sealed = uow.operators.credentials(operator_id)[1] if operator else None
    keys = _keys(operator.email if operator else f"#{operator_id}", ip)
    _refuse_if_throttled(deps, keys)
    if operator is None or not operator.active or not operator.totp_enrolled or sealed is None:
        _fail(deps, keys, operator, "code")
    step = factor.match(deps.box.open(sealed).decode(), code[:20], deps.clock.now())
    if step is None:
        _fail(deps, keys, operator, "code")
    with deps.uow() as uow:
        used = uow.operators.use_totp_step(operator.id, step)
        uow.commit()
    if not used:
        _fail(deps, keys, operator, "code")
    return operator


def enrolment(deps: Deps, operator_id: int) -> Enrolment:
    """The pending TOTP secret of an operator without a second factor (made on first call).

    Raises Conflict when the operator already has one, SignInFailed when it is unknown or
    disabled.
    """
    factor = _factor(deps)
    now = deps.clock.now()
    with deps.uow() as uow:
        operator: Operator | None = uow.operators.get(operator_id, for_update=True)
        if operator is None or not operator.active:
            raise SignInFailed(GENERIC)
        if operator.totp_enrolled:
            raise Conflict("this operator has a second factor already")
        sealed = uow.operators.credentials(operator_id)[1]
        if sealed is None:
            secret = factor.new_secret()
            uow.operators.update(operator_id, now, totp_secret=deps.box.seal(secret.encode()),
                                 totp_last_step=None)
            uow.commit()
        else:
            secret = deps.box.open(sealed).decode()
    return Enrolment(secret, factor.provisioning_uri(secret, operator.email), operator.email)


def confirm_enrolment(deps: Deps, operator_id: int, code: str, *, ip: str | None) -> Operator:
    """Turn the pending secret on once the operator's app shows a matching code.

    Raises SignInThrottled, SignInFailed.
    """
    factor = _factor(deps)
    with deps.reader() as uow:
        operator: Operator | None = uow.operators.get(operator_id)
        sealed = uow.operators.credentials(operator_id)[1] if operator else None
    keys = _keys(operator.email if operator else f"#{operator_id}", ip)
    _refuse_if_throttled(deps, keys)
    if operator is None or not operator.active or operator.totp_enrolled or sealed is None:
        _fail(deps, keys, operator, "enrolment")
    now = deps.clock.now()
    step = factor.match(deps.box.open(sealed).decode(), code[:20], now)
    if step is None:
        _fail(deps, keys, operator, "enrolment")
    with deps.uow() as uow:
        uow.operators.update(operator.id, now, totp_enabled_at=now, totp_last_step=step)
        audit.record(deps, uow, operator.actor, "operator.totp_enrolled",
                     f"operator:{operator.id}")
        uow.commit()
        enrolled: Operator = uow.operators.get(operator.id)
    return enrolled


def change_password(deps: Deps, operator_id: int, new_password: str, *,
                    current_password: str | None = None) -> Operator:
    """Set a new password. ``current_password`` is required unless the operator must change a
    one-time password (at sign-in, after both factors). Raises ValidationFailed, SignInFailed.
    """
    with deps.reader() as uow:
        operator: Operator | None = uow.operators.get(operator_id)
        stored = uow.operators.credentials(operator_id)[0] if operator else None
    if operator is None or not operator.active:
        raise SignInFailed(GENERIC)
    hasher = passwords(deps)
    if not operator.must_change_password and not hasher.verify(
            stored, (current_password or "")[:_MAX_INPUT]):
        raise ValidationFailed("the current password is not right", errors=[
            FieldError("current_password", "not right", "invalid")])
    problem = password_problem(new_password, operator.email)
    if problem is None and hasher.verify(stored, new_password[:_MAX_INPUT]):
        problem = "must differ from the current password"
    if problem is not None:
        raise ValidationFailed(f"new password: {problem}",
                               errors=[FieldError("password", problem, "weak_password")])
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.operators.update(operator_id, now, password_hash=hasher.hash(new_password),
                             must_change_password=False)
        audit.record(deps, uow, operator.actor, "operator.password_changed",
                     f"operator:{operator_id}")
        uow.commit()
        changed: Operator = uow.operators.get(operator_id)
    return changed


def complete_sign_in(deps: Deps, operator: Operator, *, session_id: int, ip: str | None,
                     user_agent: str | None) -> None:
    """Record a successful sign-in (both factors passed, session opened): clears the email's
    failures, stamps ``last_login_at`` and writes the audit entry."""
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.login_failures.clear("email", _key("email", operator.email))
        uow.operators.update(operator.id, now, last_login_at=now)
        audit.record(deps, uow, operator.actor, "operator.signed_in", f"operator:{operator.id}",
                     after={"session": session_id, "ip": ip or "",
                            "user_agent": (user_agent or "")[:120]})
        uow.commit()


def record_sign_out(deps: Deps, operator: Operator, *, session_id: int | None) -> None:
    with deps.uow() as uow:
        audit.record(deps, uow, operator.actor, "operator.signed_out", f"operator:{operator.id}",
                     after={"session": session_id})
        uow.commit()


def purge_failures(deps: Deps) -> int:
    """The periodic job: forget failures older than any throttle window."""
    with deps.uow() as uow:
        count: int = uow.login_failures.purge_before(deps.clock.now() - KEEP_FAILURES)
        uow.commit()
    return count


def _typed_email(email: str) -> str:
    text = email.strip()[:_MAX_INPUT]
    try:
        return normalize_operator_email(text)
    except ValidationFailed:
        return text.lower()


def _key(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()


def _keys(email: str, ip: str | None) -> list[tuple[str, str]]:
    keys = [("email", _key("email", email))]
    if ip:
        keys.append(("ip", _key("ip", ip)))
    return keys


def _refuse_if_throttled(deps: Deps, keys: list[tuple[str, str]]) -> None:
    rules = deps.login_throttle
    now = deps.clock.now()
    since = now - rules.window
    retry_at: datetime | None = None
    with deps.reader() as uow:
        for scope, key in keys:
            limit = rules.per_email if scope == "email" else rules.per_ip
            recent: list[datetime] = uow.login_failures.recent(scope, key, since, limit=limit)
            if len(recent) >= limit:
                free_at = recent[0] + rules.window
                retry_at = free_at if retry_at is None else max(retry_at, free_at)
    if retry_at is not None:
        seconds = max(1, int((retry_at - now).total_seconds() + 0.999))
        raise SignInThrottled("too many failed sign-ins; try again later", retry_at=retry_at,
                              retry_after_seconds=seconds)


def _fail(deps: Deps, keys: list[tuple[str, str]], operator: Operator | None,
          step: str) -> NoReturn:
    """Count the failure (email and address), audit it for a known operator, refuse."""
    with deps.uow() as uow:
        uow.login_failures.add(keys, deps.clock.now())
        if operator is not None:
            _audit_failure(deps, uow, SIGN_IN, operator.id, step)
        uow.commit()
    raise SignInFailed(GENERIC)


def _audit_failure(deps: Deps, uow: UnitOfWork, actor: Actor, operator_id: int,
                   step: str) -> None:
    audit.record(deps, uow, actor, "operator.sign_in_failed", f"operator:{operator_id}",
                 after={"step": step})


def _factor(deps: Deps) -> SecondFactor:
    if deps.second_factor is None:
        raise ConfigurationError("no second factor is configured (bootstrap sets TOTP)")
    return deps.second_factor
