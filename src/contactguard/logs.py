"""Structured logging: one JSON object per line, with no secrets or full contact values."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def format_exception_safely(exc: BaseException) -> str:
    """A traceback like the standard one, but database errors never show the statement's values.

    SQLAlchemy is told to hide parameters (``hide_parameters``), but drivers repeat values
    in their own messages (PostgreSQL: ``DETAIL: Key (email)=(...) already exists``,
    ``Failing row contains (...)``). A database error is shown as its class, SQLSTATE,
    constraint/table/column names and the SQL with placeholders only.
    """
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for index, (error, _) in enumerate(reversed(chain)):
        if index:
            parts.append(chain[len(chain) - index][1] or _CONTEXT)
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(error.__traceback__))
        parts.append(f"{_qualified(type(error))}: {_safe_message(error)}\n")
    return "".join(parts).rstrip("\n")


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _qualified(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"


def _safe_message(error: BaseException) -> str:
    """The exception's message, or for a database error a summary without values."""
    diag = getattr(error, "diag", None)
    if diag is not None and hasattr(error, "sqlstate"):  # a psycopg error
        fields = {"sqlstate": getattr(error, "sqlstate", None),
                  "constraint": getattr(diag, "constraint_name", None),
                  "table": getattr(diag, "table_name", None),
                  "column": getattr(diag, "column_name", None)}
        if fields["sqlstate"] is None:  # raised by the driver itself: a fixed text, no values
            return str(error).split("\n", 1)[0]
        return "database error " + " ".join(f"{k}={v}" for k, v in fields.items() if v)
    statement = getattr(error, "statement", None)
    orig = getattr(error, "orig", None)
    if isinstance(statement, str) and orig is not None:  # a SQLAlchemy DBAPIError
        return f"({_qualified(type(orig))}) {_safe_message(orig)} [SQL: {statement}]"
    try:
        return str(error)
    except Exception:
        return "<message unavailable>"


class _SafeExceptions(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        if ei and ei[1] is not None:
            return format_exception_safely(ei[1])
        return super().formatException(ei)


class JsonFormatter(_SafeExceptions):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items()
                      if k not in _STANDARD and k != "color_message" and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else
                         _SafeExceptions("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
