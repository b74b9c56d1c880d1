"""Use cases for accounts and their contacts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from contactguard import normalize
from contactguard.domain import phrases
from contactguard.domain.accounts import (
    EXTERNAL_ID_RULE,
    MAX_NAME_LENGTH,
    Account,
    is_valid_external_id,
)
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.contacts import (
    Contact,
    ContactKind,
    ContactStatus,
    LineType,
    Undeliverable,
    allowed_channels,
    undeliverable_status,
)
from contactguard.domain.locales import DEFAULT_LOCALE
from contactguard.errors import ConcurrentWrite, FieldError, ValidationFailed
from contactguard.ports import UnitOfWork
from contactguard.services import audit, protection
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

#: A write that lost an insert race to another transaction is run again this many times.
_RACE_RETRIES = 2


@dataclass(slots=True)
class AccountInput:
    """An account as a caller describes it; ``None`` means "leave as it is" on update."""

    external_id: str
    name: str | None = None
    country: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    contacts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactView:
    contact: Contact
    status: ContactStatus
    undeliverable: tuple[Undeliverable, ...] = ()  # channels that permanently failed

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c.value for c in allowed_channels(self.contact.kind, self.contact.line_type))

    @property
    def domain_warnings(self) -> tuple[str, ...]:
        """Why an email's domain may imitate another (``mixed_scripts``, ``imitates_ascii``);
        such a domain is stored and shown in its ASCII (punycode) form."""
        if not self.contact.kind.is_email:
            return ()
        return normalize.email_warnings(self.contact.value)

    @property
    def lookalike_domain(self) -> bool:
        return bool(self.domain_warnings)


@dataclass(frozen=True, slots=True)
class AccountView:
    account: Account
    contacts: list[ContactView]


@dataclass(slots=True)
class _CleanAccount:
    external_id: str
    name: str | None
    country: str | None
    locale: str | None
    time_zone: str | None
    contacts: dict[ContactKind, str]
    # Values already parsed during validation (emails; phones when the country was given).
    parsed: dict[ContactKind, tuple[str, LineType | None]] = field(default_factory=dict)


def upsert_account(deps: Deps, data: AccountInput, *,
                   actor: Actor = SYSTEM) -> tuple[AccountView, bool]:
    """Create the account ``data.external_id`` or update the fields given; returns (view, created).

    Contacts given in ``data.contacts`` are set as with :func:`set_contact`.
    Raises ValidationFailed listing every bad field at once, TooManyContactChanges.
    """
    clean = _validate(deps, data)
    for attempt in range(_RACE_RETRIES + 1):
        try:
            with deps.uow() as uow:
                account, created = _write_account(deps, uow, clean, actor)
                uow.commit()
                return _view(deps, uow, account), created
        except ConcurrentWrite:  # another request created the account (or contact) first
            if attempt == _RACE_RETRIES:
                raise
    raise AssertionError("unreachable")


def upsert_accounts(deps: Deps, batch: list[AccountInput], *,
                    actor: Actor = SYSTEM) -> list[tuple[str, bool]]:
    """Write a batch of already-validated inputs in one transaction; returns (id, created)."""
    cleaned = [_validate(deps, item) for item in batch]
    for attempt in range(_RACE_RETRIES + 1):
        results: list[tuple[str, bool]] = []
        try:
            with deps.uow() as uow:
                for clean in cleaned:
                    account, created = _write_account(deps, uow, clean, actor)
                    results.append((account.external_id, created))
                uow.commit()
            return results
        except ConcurrentWrite:  # another process created one of them first: write again
            if attempt == _RACE_RETRIES:
                raise
    raise AssertionError("unreachable")


def validate_account_input(deps: Deps, data: AccountInput) -> None:
    """Raise ValidationFailed if ``data`` would be refused (used by imports before writing)."""
    _validate(deps, data)


def clean_account(deps: Deps, data: AccountInput) -> _CleanAccount:
    """``data`` checked and normalised (contacts parsed where the country is known); needs
    only ``deps.allow_unknown_line_types``. Raises ValidationFailed."""
    return _validate(deps, data)


def get_account(deps: Deps, external_id: str) -> AccountView:
    """Raises AccountNotFound."""
    with deps.reader() as uow:
        return _view(deps, uow, require_account(uow, external_id))


def set_contact(deps: Deps, external_id: str, kind: ContactKind, raw_value: str, *,
                actor: Actor = SYSTEM) -> ContactView:
    """Set a contact value. A changed value needs verifying; the old verified value stays in force.

    Raises AccountNotFound, ValidationFailed, TooManyContactChanges.
    """
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        value, line_type = _parse_contact(deps, kind, raw_value, account.country, "value")
        contact = _store_contact(deps, uow, account, kind, value, line_type, actor)
        uow.commit()
        return _contact_views(deps, uow, [contact])[0]


def list_contacts(deps: Deps, external_id: str) -> list[ContactView]:
    """Raises AccountNotFound."""
    return get_account(deps, external_id).contacts



def _view(deps: Deps, uow: UnitOfWork, account: Account) -> AccountView:
    return AccountView(account, _contact_views(deps, uow, uow.contacts.for_account(account.id)))


def _contact_views(deps: Deps, uow: UnitOfWork, contacts: list[Contact]) -> list[ContactView]:
    """Each contact with its status; UNDELIVERABLE when no allowed channel can reach it."""
    open_ids = uow.challenges.open_contact_ids([c.id for c in contacts], deps.clock.now())
    marks: dict[int, tuple[Undeliverable, ...]] = uow.deliverability.for_contacts(
        [(c.id, c.value) for c in contacts])
    views = []
    for c in contacts:
        failed = marks.get(c.id, ())
        status = c.status(has_open_challenge=c.id in open_ids)
        if failed and undeliverable_status(c.kind, c.line_type, failed):
            status = ContactStatus.UNDELIVERABLE
        views.append(ContactView(c, status, failed))
    return views


def _write_account(deps: Deps, uow: UnitOfWork, clean: _CleanAccount,
                   actor: Actor = SYSTEM) -> tuple[Account, bool]:
    now = deps.clock.now()
    account: Account | None = uow.accounts.by_external_id(clean.external_id)
    created = account is None
    if account is None:
        missing = [FieldError(f, "required when creating an account", "required")
                   for f in ("name", "country") if getattr(clean, f) is None]
        if missing:
            raise ValidationFailed(f"account '{clean.external_id}' does not exist yet: "
                                   "name and country are required", errors=missing)
        assert clean.name is not None and clean.country is not None
        account = uow.accounts.add(
            external_id=clean.external_id, name=clean.name, country=clean.country,
            locale=clean.locale or DEFAULT_LOCALE,
            time_zone=clean.time_zone or normalize.default_time_zone(clean.country), now=now)
        before = None
    else:
        before = replace(account)
        changed = False
        for attr in ("name", "country", "locale", "time_zone"):
            new = getattr(clean, attr)
            if new is not None and new != getattr(account, attr):
                setattr(account, attr, new)
                changed = True
        if changed:
            uow.accounts.update(account, now)
    protection.account_written(deps, uow, account, before, actor,  # audit, compliance row
                               contacts_follow=bool(clean.contacts))
    for kind, raw in clean.contacts.items():
        value, line_type = clean.parsed.get(kind) or _parse_contact(
            deps, kind, raw, account.country, f"contacts.{kind.value}")
        _store_contact(deps, uow, account, kind, value, line_type, actor)
    return account, created


def _store_contact(deps: Deps, uow: UnitOfWork, account: Account, kind: ContactKind, value: str,
                   line_type: LineType | None, actor: Actor = SYSTEM) -> Contact:
    now: datetime = deps.clock.now()
    contact: Contact | None = uow.contacts.get(account.id, kind, for_update=True)
    if contact is None:
        new: Contact = uow.contacts.add(account_id=account.id, kind=kind, value=value,
                                        line_type=line_type, now=now)
        protection.contact_set(deps, uow, account, new, None, actor)  # audit, webhook, compliance
        return new
    if contact.value != value:
        if contact.is_verified:  # replacing a verified value: daily limit (raises)
            protection.guard_contact_change(deps, uow, account)
        previous = replace(contact)
        for challenge_id in uow.challenges.cancel_open(contact.id):
            uow.outbox.cancel_for_challenge(challenge_id)
        uow.contacts.set_value(contact, value, line_type, now)
        protection.contact_set(deps, uow, account, contact, previous, actor)  # notices too
    return contact


def _parse_contact(deps: Deps, kind: ContactKind, raw: str, country: str,
                   field_name: str) -> tuple[str, LineType | None]:
    if kind.is_phone:
        parsed = normalize.parse_phone(raw, default_region=country, field=field_name,
                                       allow_unknown=deps.allow_unknown_line_types)
        return parsed.e164, parsed.line_type
    return normalize.normalize_email(raw, field=field_name), None


def _validate(deps: Deps, data: AccountInput) -> _CleanAccount:
    errors: list[FieldError] = []

    def check(fn: object, value: str | None, field_name: str) -> str | None:
        if value is None:
            return None
        try:
            return fn(value, field=field_name)  # type: ignore[operator,no-any-return]
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            return None

    if not is_valid_external_id(data.external_id or ""):
        errors.append(FieldError("external_id", f"must be {EXTERNAL_ID_RULE}", "invalid"))
    name = data.name.strip() if data.name is not None else None
    if name is not None and not (0 < len(name) <= MAX_NAME_LENGTH):
        errors.append(FieldError("name", f"must be 1-{MAX_NAME_LENGTH} characters", "invalid"))
    elif name is not None and (bad_text := normalize.text_error(name, field="name")):
        errors.append(bad_text)
    country = check(normalize.normalize_country, data.country, "country")
    locale = check(normalize.normalize_locale, data.locale, "locale")
    time_zone = check(normalize.normalize_time_zone, data.time_zone, "time_zone")
    contacts: dict[ContactKind, str] = {}
    parsed: dict[ContactKind, tuple[str, LineType | None]] = {}
    for key, raw in data.contacts.items():
        try:
            kind = ContactKind(key)
        except ValueError:
            choices = ", ".join(k.value for k in ContactKind)
            errors.append(FieldError(f"contacts.{key}", f"unknown contact kind; use {choices}",
                                     "invalid"))
            continue
        contacts[kind] = raw
        if kind.is_email or country is not None:  # else the stored country is needed (on write)
            try:
                parsed[kind] = _parse_contact(deps, kind, raw, country or "", f"contacts.{key}")
            except ValidationFailed as exc:
                errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors[0].message if len(errors) == 1 else
                               f"{len(errors)} fields are invalid", errors=errors)
    return _CleanAccount(external_id=data.external_id, name=name, country=country, locale=locale,
                         time_zone=time_zone, contacts=contacts, parsed=parsed)


SECURITY_PHRASE_MIN, SECURITY_PHRASE_MAX = phrases.MIN_LENGTH, phrases.MAX_LENGTH
_PHRASE_MESSAGES = {
    "phrase_length": f"use {SECURITY_PHRASE_MIN} to {SECURITY_PHRASE_MAX} characters",
    "phrase_characters": "use letters, digits, spaces and punctuation only (no < or >)",
    "phrase_link": "a phrase may not look like a web address",
    "phrase_number": "a phrase may not contain a long number, so it is never mistaken for a code",
    "phrase_example": "this is the example from the page; choose a phrase of your own",
    "phrase_common": "this phrase is too common; choose one only you would think of",
}


def set_security_phrase(deps: Deps, external_id: str, phrase: str, *,
                        actor: Actor = SYSTEM) -> Account:
    """Set the personal phrase shown in every genuine email to the account holder.

    The phrase is 4-60 printable characters, may not look like a link or a code, and may
    not be the page's example or a very common phrase. Raises AccountNotFound,
    ValidationFailed (the field error's code says why).
    """
    bad_text = normalize.text_error(phrase.strip(), field="security_phrase")
    if bad_text is not None:
        raise ValidationFailed(bad_text.message, errors=[bad_text])
    clean = phrases.clean_phrase(phrase)
    code = phrases.phrase_problem(clean)
    if code:
        problem = _PHRASE_MESSAGES[code]
        raise ValidationFailed(problem, errors=[FieldError(
            "security_phrase", problem, code,
            params={"min": str(SECURITY_PHRASE_MIN), "max": str(SECURITY_PHRASE_MAX)})])
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        had_phrase = account.security_phrase is not None
        account.security_phrase = clean
        uow.accounts.update(account, deps.clock.now())
        # The phrase itself stays out of the log: it is what tells genuine emails apart.
        audit.record(deps, uow, actor, "account.security_phrase_set",
                     f"account:{account.external_id}",
                     before={"security_phrase": "set" if had_phrase else "unset"},
                     after={"security_phrase": "set"})
        uow.commit()
        return account
