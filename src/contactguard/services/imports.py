"""Bulk import of accounts from CSV or NDJSON: good rows are written, bad rows reported by line."""

from __future__ import annotations

import csv
import itertools
import json
import multiprocessing
import os
import re
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from contactguard import normalize
from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.compliance import eligibility, evaluate, next_change
from contactguard.domain.contacts import ContactKind
from contactguard.domain.locales import DEFAULT_LOCALE
from contactguard.domain.webhooks import EventType
from contactguard.errors import ContactGuardError, FieldError, ValidationFailed
from contactguard.services import audit
from contactguard.services.accounts import (
    AccountInput,
    clean_account,
    upsert_accounts,
    validate_account_input,
)
from contactguard.services.deps import Deps

ACCOUNT_FIELDS = ("external_id", "name", "country", "locale", "time_zone")
CONTACT_FIELDS = tuple(kind.value for kind in ContactKind)
BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    external_id: str | None
    reason: str


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)


def detect_format(path: Path, explicit: str | None = None) -> str:
    """``csv`` or ``ndjson``, from ``explicit`` or the file name. Raises ValidationFailed."""
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    fmt = {"jsonl": "ndjson", "json": "ndjson"}.get(fmt, fmt)
    if fmt not in {"csv", "ndjson"}:
        raise ValidationFailed(f"cannot tell the format of '{path.name}': "
                               "name it .csv or .ndjson, or pass --format csv|ndjson")
    return fmt


def read_rows(handle: IO[str], fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Yield (line number, row) pairs; a row that cannot be parsed comes as an error string."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        missing = {"external_id"} - set(reader.fieldnames or [])
        if missing:
            raise ValidationFailed("the CSV header must name at least: external_id "
                                   f"(columns: {', '.join(ACCOUNT_FIELDS + CONTACT_FIELDS)})")
        for row in reader:
            start = reader.line_num - _line_breaks(row)  # a quoted value may span lines
            if None in row:
                yield start, "more values than header columns"
                continue
            yield start, {k: v for k, v in row.items() if v not in (None, "")}
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        yield (number, value) if isinstance(value, dict) else (number, "not a JSON object")


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_breaks(row: dict[Any, Any]) -> int:
    values = [v for v in row.values() if isinstance(v, str)]
    values += [v for extra in row.values() if isinstance(extra, list) for v in extra]
    return sum(len(_LINE_BREAK.findall(v)) for v in values)


def row_to_input(row: dict[str, Any]) -> AccountInput:
    """Map a flat (CSV) or nested (``{"contacts": {...}}``) row. Raises ValidationFailed."""
    unknown = set(row) - set(ACCOUNT_FIELDS) - set(CONTACT_FIELDS) - {"contacts"}
    if unknown:
        raise ValidationFailed(f"unknown field(s): {', '.join(sorted(unknown))}")
    contacts = dict(row.get("contacts") or {})
    if not isinstance(row.get("contacts", {}), dict):
        raise ValidationFailed("contacts must be an object")
    contacts.update({k: row[k] for k in CONTACT_FIELDS if row.get(k)})
    for key, value in {**{k: row.get(k) for k in ACCOUNT_FIELDS}, **contacts}.items():
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{key} must be a string")
    return AccountInput(external_id=str(row.get("external_id") or ""), name=row.get("name"),
                        country=row.get("country"), locale=row.get("locale"),
                        time_zone=row.get("time_zone"), contacts=contacts)


def import_accounts(deps: Deps, rows: Iterable[tuple[int, dict[str, Any] | str]], *,
                    progress: Callable[[int], None] | None = None,
                    actor: Actor = SYSTEM, processes: int | None = None) -> ImportReport:
    """Upsert every valid row by external_id, in batches; report the others with their line.

    On PostgreSQL, rows are checked in chunks of :data:`CHUNK` (by ``processes`` worker
    processes when the file has more than one chunk; default: one per CPU, at most 2) and
    new accounts are written set-based (:func:`_write_chunk`); SQLite writes them row by row.
    """
    with deps.reader() as uow:
        set_based = bool(uow.imports.set_based)
    if set_based:
        return _import_set_based(deps, rows, progress, actor, processes)
    report = ImportReport()
    batch: list[tuple[int, AccountInput]] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if progress:
            progress(1)
        try:
            if isinstance(row, str):
                raise ValidationFailed(row)
            data = row_to_input(row)
            validate_account_input(deps, data)
            if data.external_id in seen:
                raise ValidationFailed(f"external_id '{data.external_id}' already appears on "
                                       f"line {seen[data.external_id]}")
            seen[data.external_id] = line
        except ValidationFailed as exc:
            report.errors.append(RowError(line, _external_id(row), _reason(exc)))
            continue
        batch.append((line, data))
        if len(batch) >= BATCH_SIZE:
            _flush(deps, batch, report, actor)
            seen.clear()
    _flush(deps, batch, report, actor)
    report.errors.sort(key=lambda error: error.line)
    return report


# --- set-based import (PostgreSQL) -------------------------------------------------------------

CHUNK = 20_000
_WATCHED = (EventType.CONTACT_CHANGED, EventType.ACCOUNT_COMPLIANCE_CHANGED,
            EventType.ACCOUNT_ELIGIBILITY_CHANGED)


@dataclass(frozen=True, slots=True)
class _Checked:
    line: int
    data: AccountInput | None  # None: refused (reason)
    clean: Any = None  # accounts._CleanAccount
    external_id: str | None = None
    reason: str = ""


def _check_chunk(allow_unknown: bool,
                 chunk: list[tuple[int, dict[str, Any] | str]]) -> list[_Checked]:
    """Parse and validate one chunk (runs in a worker process: no database)."""
    deps: Any = SimpleNamespace(allow_unknown_line_types=allow_unknown)
    out: list[_Checked] = []
    for line, row in chunk:
        try:
            if isinstance(row, str):
                raise ValidationFailed(row)
            data = row_to_input(row)
            out.append(_Checked(line, data, clean_account(deps, data)))
        except ValidationFailed as exc:
            out.append(_Checked(line, None, external_id=_external_id(row), reason=_reason(exc)))
    return out


def _chunks(rows: Iterable[tuple[int, dict[str, Any] | str]]
            ) -> Iterator[list[tuple[int, dict[str, Any] | str]]]:
    chunk: list[tuple[int, dict[str, Any] | str]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _checked_chunks(deps: Deps, rows: Iterable[tuple[int, dict[str, Any] | str]],
                    processes: int | None) -> Iterator[list[_Checked]]:
    """Checked chunks in file order; when there is more than one, checked by a process pool
    (bounded: one chunk per process in flight and one waiting, so memory stays flat)."""
    allow = deps.allow_unknown_line_types
    chunks = _chunks(rows)
    first = next(chunks, None)
    if first is None:
        return
    wanted = processes if processes is not None else min(os.cpu_count() or 1, 2)
    second = next(chunks, None)
    if second is None or wanted <= 1:  # one chunk, or no pool wanted: check here, lazily
        for chunk in itertools.chain((first,), () if second is None else (second,), chunks):
            yield _check_chunk(allow, chunk)
        return
    context = multiprocessing.get_context("spawn")  # no inherited engine, threads or locks
    with context.Pool(wanted) as pool:
        pending: deque[Any] = deque()
        for chunk in (first, second):
            pending.append(pool.apply_async(_check_chunk, (allow, chunk)))
        for chunk in chunks:
            if len(pending) > wanted:
                yield pending.popleft().get()
            pending.append(pool.apply_async(_check_chunk, (allow, chunk)))
        while pending:
            yield pending.popleft().get()


def _import_set_based(deps: Deps, rows: Iterable[tuple[int, dict[str, Any] | str]],
                      progress: Callable[[int], None] | None, actor: Actor,
                      processes: int | None) -> ImportReport:
    report = ImportReport()
    import_id = secrets.token_hex(4)
    for checked in _checked_chunks(deps, rows, processes):
        good: list[_Checked] = []
        seen: dict[str, int] = {}
        for item in checked:
            if item.data is None:
                report.errors.append(RowError(item.line, item.external_id, item.reason))
            elif item.data.external_id in seen:
                report.errors.append(RowError(
                    item.line, item.data.external_id,
                    f"external_id '{item.data.external_id}' already appears on line "
                    f"{seen[item.data.external_id]}"))
            else:
                seen[item.data.external_id] = item.line
                good.append(item)
        slow = _write_chunk(deps, good, report, actor, import_id)
        for start in range(0, len(slow), BATCH_SIZE):
            _flush(deps, [(i.line, i.data) for i in slow[start:start + BATCH_SIZE]
                          if i.data is not None], report, actor)
        if progress:
            progress(len(checked))
    report.errors.sort(key=lambda error: error.line)
    return report


def _write_chunk(deps: Deps, good: list[_Checked], report: ImportReport, actor: Actor,
                 import_id: str) -> list[_Checked]:
    """Write the chunk's new accounts set-based, in one transaction; returns the rows left to
    the row-by-row path (which audits, notifies and emits per change as any write does).

    Set-based: a new account (its contacts, compliance row), and an existing account the row
    does not change (counted as updated, nothing written). Row by row: a row that changes an
    existing account, a phone number that needs the stored country, and every row while a
    webhook endpoint subscribes to contact or compliance events (each event stays exact).
    Audit: one ``accounts.imported`` entry per chunk (subject ``import:<id>``) lists the lines
    and external ids created, in the same transaction.
    """
    if not good:
        return []
    now = deps.clock.now()
    ready = [i for i in good if len(i.clean.parsed) == len(i.clean.contacts)]
    slow = [i for i in good if len(i.clean.parsed) != len(i.clean.contacts)]
    by_line = {i.line: i for i in ready}
    with deps.uow() as uow:
        if any(uow.webhooks.enabled_for(event) for event in _WATCHED):
            return good
        uow.imports.stage([_stage_row(i) for i in ready])
        existing = {row.line: row for row in uow.imports.existing()}
        new_lines: list[int] = []
        for item in ready:
            stored = existing.get(item.line)
            if stored is None:
                missing = [FieldError(f, "required when creating an account", "required")
                           for f in ("name", "country") if getattr(item.clean, f) is None]
                if missing:
                    report.errors.append(RowError(item.line, item.clean.external_id, _reason(
                        ValidationFailed("name and country are required", errors=missing))))
                else:
                    new_lines.append(item.line)
            elif _changes(item.clean, stored):
                slow.append(item)
            else:
                report.updated += 1
        created = uow.imports.create_accounts(new_lines, default_locale=DEFAULT_LOCALE, now=now)
        slow += [by_line[line] for line in new_lines if line not in created]  # raced
        if created:
            uow.imports.create_contacts(now)
            for pattern, account_id in uow.imports.exemplars():
                _save_compliance(deps, uow, account_id, now)
                uow.imports.copy_compliance(pattern, account_id)
            lines = sorted(created)
            audit.record(deps, uow, actor, "accounts.imported", f"import:{import_id}", after={
                "lines": [lines[0], lines[-1]], "created": len(lines),
                "accounts": [by_line[line].clean.external_id for line in lines]})
        uow.commit()
    report.created += len(created)
    return sorted(slow, key=lambda i: i.line)


def _stage_row(item: _Checked) -> tuple[Any, ...]:
    clean = item.clean
    email = clean.parsed.get(ContactKind.EMERGENCY_EMAIL)
    phone = clean.parsed.get(ContactKind.EMERGENCY_PHONE)
    line_type = phone[1].value if phone and phone[1] else None
    default_tz = normalize.default_time_zone(clean.country) if clean.country else None
    pattern = f"{int(email is not None)}:{line_type if phone else '-'}"
    return (item.line, clean.external_id, clean.name, clean.country, clean.locale,
            clean.time_zone, default_tz, email[0] if email else None,
            phone[0] if phone else None, line_type, pattern)


def _changes(clean: Any, stored: Any) -> bool:
    """Whether writing ``clean`` would change the stored account or its contacts."""
    for attr in ("name", "country", "locale", "time_zone"):
        value = getattr(clean, attr)
        if value is not None and value != getattr(stored, attr):
            return True
    email = clean.parsed.get(ContactKind.EMERGENCY_EMAIL)
    phone = clean.parsed.get(ContactKind.EMERGENCY_PHONE)
    return bool((email and email[0] != stored.email) or (phone and phone[0] != stored.phone))


def _save_compliance(deps: Deps, uow: Any, account_id: int, now: datetime) -> None:
    """The compliance row of a new account (no snoozes, signals or campaign deadlines yet):
    what ``sync_account`` computes, without its change events (a new account has no previous
    state to change from)."""
    policy = deps.policy
    contacts = {c.kind: c for c in uow.contacts.for_account(account_id)}
    compliance = evaluate(policy, contacts, now, {}, since=now, deadlines={})
    result = eligibility(policy, compliance, None)
    uow.compliance.save(account_id, state=compliance.state.value, deadline=compliance.deadline,
                        eligible=result.eligible, reasons=result.reasons,
                        recheck_at=next_change(policy, contacts, now, since=now, deadlines={}),
                        now=now, exists=False)


def _flush(deps: Deps, batch: list[tuple[int, AccountInput]], report: ImportReport,
           actor: Actor) -> None:
    if not batch:
        return
    try:
        _count(report, upsert_accounts(deps, [data for _, data in batch], actor=actor))
    except ContactGuardError:
        # One row failed a check that needs the stored account (e.g. a phone number and the
        # stored country): write the rows one by one to keep the good ones.
        for line, data in batch:
            try:
                _count(report, upsert_accounts(deps, [data], actor=actor))
            except ContactGuardError as exc:
                report.errors.append(RowError(line, data.external_id, _reason(exc)))
    batch.clear()


def _count(report: ImportReport, results: list[tuple[str, bool]]) -> None:
    for _, created in results:
        if created:
            report.created += 1
        else:
            report.updated += 1


def _external_id(row: dict[str, Any] | str) -> str | None:
    return str(row.get("external_id")) if isinstance(row, dict) and row.get("external_id") else None


def _reason(exc: ContactGuardError) -> str:
    if exc.errors:
        return "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    return exc.detail
