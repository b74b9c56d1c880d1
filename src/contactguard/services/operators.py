"""Operators of the console: create, list, disable and enable, reset a password or the
second factor, and decide what a signed-in operator may do (roles are checked here, not
only by the pages)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from contactguard import normalize
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.operators import Operator, Permission, Role
from contactguard.domain.sessions import Realm
from contactguard.errors import (
    ConfigurationError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from contactguard.ports import PasswordHasher, UnitOfWork
from contactguard.services import audit
from contactguard.services.deps import Deps

#: Ends every session of an operator whose access changed.
_REVOKE_REASON = "access changed"


@dataclass(frozen=True, slots=True)
class CreatedOperator:
    """A new operator and its one-time password (shown once, to be changed at first sign-in)."""

    operator: Operator
    password: str


def normalize_operator_email(raw: str, *, field: str = "email") -> str:
    """The stored form of an operator's email (normalized, lower case). Raises ValidationFailed."""
    return normalize.normalize_email(raw, field=field).lower()


def one_time_password() -> str:
    """20 random URL-safe characters (120 bits) from the OS CSPRNG."""
    return secrets.token_urlsafe(15)


def passwords(deps: Deps) -> PasswordHasher:
    if deps.passwords is None:
        raise ConfigurationError("no password hasher is configured (bootstrap sets argon2id)")
    return deps.passwords


def authorize(deps: Deps, by: Operator, permission: Permission) -> Operator:
    """The operator as stored now, if it is active and its role allows ``permission``.

    Raises Forbidden (also when the operator was disabled or changed role meanwhile).
    """
    with deps.reader() as uow:
        current: Operator | None = uow.operators.get(by.id)
    if current is None or not current.can(permission):
        raise Forbidden(f"your role does not allow this ({permission.value})")
    return current


def create_operator(deps: Deps, email: str, role: str, *, by: Operator | None = None,
                    actor: Actor = SYSTEM) -> CreatedOperator:
    """Create an operator with a one-time password that must be changed at first sign-in.

    ``by`` is the console operator doing it (must be allowed to manage operators); None is
    the command line. Raises ValidationFailed, Conflict (email taken), Forbidden.
    """
    if by is not None:
        actor = authorize(deps, by, Permission.MANAGE_OPERATORS).actor
    errors = []
    try:
        clean = normalize_operator_email(email)
    except ValidationFailed as exc:
        errors += exc.errors
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", "admin or support", "invalid"))
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    password = one_time_password()
    hashed = passwords(deps).hash(password)
    now = deps.clock.now()
    with deps.uow() as uow:
        if uow.operators.by_email(clean) is not None:
            raise Conflict("an operator with this email exists already",
                           errors=[FieldError("email", "already an operator", "taken")])
        operator: Operator = uow.operators.add(email=clean, role=Role(role), password_hash=hashed,
                                               must_change_password=True, now=now)
        audit.record(deps, uow, actor, "operator.created", f"operator:{operator.id}",
                     after={"email": operator.email, "role": operator.role.value})
        uow.commit()
    return CreatedOperator(operator, password)


def list_operators(deps: Deps, *, by: Operator | None = None) -> list[Operator]:
    """Every operator, oldest first. Raises Forbidden."""
    if by is not None:
        authorize(deps, by, Permission.MANAGE_OPERATORS)
    with deps.reader() as uow:
        found: list[Operator] = uow.operators.all()
    return found


def get_operator(deps: Deps, operator_id: int) -> Operator:
    """Raises NotFound."""
    with deps.reader() as uow:
        return _require(uow, operator_id)


def find_operator(deps: Deps, ident: str) -> Operator:
    """An operator by id or email (the command line's argument). Raises NotFound."""
    with deps.reader() as uow:
        found: Operator | None = None
        if ident.isdigit():
            found = uow.operators.get(int(ident))
        elif "@" in ident:
            try:
                found = uow.operators.by_email(normalize_operator_email(ident))
            except ValidationFailed:
                found = None
    if found is None:
        raise NotFound(f"no operator '{ident[:100]}'")
    return found


def active_operator(deps: Deps, operator_id: int) -> Operator | None:
    """The operator if it exists and is not disabled (checked on every console page)."""
    with deps.reader() as uow:
        found: Operator | None = uow.operators.get(operator_id)
    return found if found is not None and found.active else None


def disable_operator(deps: Deps, operator_id: int, *, by: Operator | None = None,
                     actor: Actor = SYSTEM) -> Operator:
    """Disable an operator and end its sessions at once. The last active admin stays.

    Raises NotFound, Conflict, Forbidden.
    """
    if by is not None:
        actor = authorize(deps, by, Permission.MANAGE_OPERATORS).actor
        if by.id == operator_id:
            raise Conflict("you cannot disable yourself; ask another admin")
    now = deps.clock.now()
    with deps.uow() as uow:
        operator = _require(uow, operator_id, for_update=True)
        if not operator.active:
            return operator
        if operator.role is Role.ADMIN and uow.operators.count_active_admins() <= 1:
            raise Conflict("this is the last active admin; create or enable another admin first")
        uow.operators.update(operator_id, now, disabled_at=now)
        _end_sessions(uow, operator_id, now)
        audit.record(deps, uow, actor, "operator.disabled", f"operator:{operator_id}",
                     before={"active": True}, after={"active": False})
        uow.commit()
        return _require(uow, operator_id)


def enable_operator(deps: Deps, operator_id: int, *, by: Operator | None = None,
                    actor: Actor = SYSTEM) -> Operator:
    """Let a disabled operator sign in again. Raises NotFound, Forbidden."""
    if by is not None:
        actor = authorize(deps, by, Permission.MANAGE_OPERATORS).actor
    now = deps.clock.now()
    with deps.uow() as uow:
        operator = _require(uow, operator_id, for_update=True)
        if operator.active:
            return operator
        uow.operators.update(operator_id, now, disabled_at=None)
        audit.record(deps, uow, actor, "operator.enabled", f"operator:{operator_id}",
                     before={"active": False}, after={"active": True})
        uow.commit()
        return _require(uow, operator_id)


def reset_second_factor(deps: Deps, operator_id: int, *, by: Operator | None = None,
                        actor: Actor = SYSTEM) -> Operator:
    """Forget the operator's TOTP secret (lost phone): it enrols again at its next sign-in.

    Its sessions end. Raises NotFound, Forbidden.
    """
    if by is not None:
        actor = authorize(deps, by, Permission.MANAGE_OPERATORS).actor
    now = deps.clock.now()
    with deps.uow() as uow:
        _require(uow, operator_id, for_update=True)
        uow.operators.update(operator_id, now, totp_secret=None, totp_enabled_at=None,
                             totp_last_step=None)
        _end_sessions(uow, operator_id, now)
        audit.record(deps, uow, actor, "operator.totp_reset", f"operator:{operator_id}")
        uow.commit()
        return _require(uow, operator_id)


def reset_password(deps: Deps, operator_id: int, *, by: Operator | None = None,
                   actor: Actor = SYSTEM) -> CreatedOperator:
    """Give the operator a new one-time password (to change at next sign-in); its sessions end.

    Raises NotFound, Forbidden.
    """
    if by is not None:
        actor = authorize(deps, by, Permission.MANAGE_OPERATORS).actor
    password = one_time_password()
    hashed = passwords(deps).hash(password)
    now = deps.clock.now()
    with deps.uow() as uow:
        _require(uow, operator_id, for_update=True)
        uow.operators.update(operator_id, now, password_hash=hashed, must_change_password=True)
        _end_sessions(uow, operator_id, now)
        audit.record(deps, uow, actor, "operator.password_reset", f"operator:{operator_id}")
        uow.commit()
        return CreatedOperator(_require(uow, operator_id), password)


def _require(uow: UnitOfWork, operator_id: int, *, for_update: bool = False) -> Operator:
    found: Operator | None = uow.operators.get(operator_id, for_update=for_update)
    if found is None:
        raise NotFound(f"no operator {operator_id}")
    return found


def _end_sessions(uow: UnitOfWork, operator_id: int, now: datetime) -> None:
    records = uow.web_sessions.open_for(Realm.OPERATOR.value, str(operator_id), now,
                                        limit=10_000)
    uow.web_sessions.end([r.id for r in records], reason=_REVOKE_REASON, now=now)


def ensure_demo_operator(deps: Deps, email: str, role: Role, *, password: str,
                         totp_secret: str) -> Operator:
    """Dev mode only (``make run``): an operator with known credentials and second factor,
    created or reset to them, ready to sign in. Never called outside dev mode."""
    clean = normalize_operator_email(email)
    hashed = passwords(deps).hash(password)
    sealed = deps.box.seal(totp_secret.encode())
    now = deps.clock.now()
    for attempt in range(2):  # two dev processes starting together: the loser updates instead
        with deps.uow() as uow:
            try:
                found: Operator | None = uow.operators.by_email(clean)
                if found is None:
                    found = uow.operators.add(email=clean, role=role, password_hash=hashed,
                                              must_change_password=False, now=now)
                uow.operators.update(found.id, now, role=role.value, password_hash=hashed,
                                     must_change_password=False, totp_secret=sealed,
                                     totp_enabled_at=now, disabled_at=None)
                uow.commit()
            except Exception:  # the other process inserted the same email first
                if attempt:
                    raise
                continue
            return _require(uow, found.id)
    raise AssertionError("unreachable")
