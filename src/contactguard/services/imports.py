"""Bulk import of accounts from CSV or NDJSON: good rows are written, bad rows reported by line."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.contacts import ContactKind
from contactguard.errors import ContactGuardError, ValidationFailed
from contactguard.services.accounts import AccountInput, upsert_accounts, validate_account_input
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
                    actor: Actor = SYSTEM) -> ImportReport:
    """Upsert every valid row by external_id, in batches; report the others with their line."""
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
