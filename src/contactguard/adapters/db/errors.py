"""Database errors that input or a race can cause, translated into the exception tree.

The unit of work raises these in place of the driver's exceptions, so that a value the
database cannot store answers a 4xx (never a 500) and a lost insert race can be retried.
Messages never repeat the statement's values (they may be personal data).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, IntegrityError

from contactguard.errors import ConcurrentWrite, ContactGuardError, InvalidValue

log = logging.getLogger("contactguard.db")

_UNIQUE_VIOLATION = "23505"


def translate_db_error(exc: BaseException) -> ContactGuardError | None:
    """The ContactGuardError ``exc`` stands for, or None when it is not caused by input or a race.

    - a data exception (PostgreSQL SQLSTATE class 22: NUL in text, value out of range...),
      an integer too big for the driver or a string that cannot be encoded (lone
      surrogates): InvalidValue (422);
    - a unique violation (another transaction inserted the same key first): ConcurrentWrite.
    """
    if isinstance(exc, DataError):
        log.warning("the database refused a value", extra={"sqlstate": _sqlstate(exc)})
        return InvalidValue("a value in this request cannot be stored (e.g. a NUL character "
                            "or a number out of range)")
    if isinstance(exc, OverflowError):  # sqlite3: "Python int too large to convert to ..."
        return InvalidValue("a number in this request is out of range")
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return InvalidValue("a text in this request is not valid Unicode (lone surrogate)")
    if isinstance(exc, IntegrityError) and _is_unique_violation(exc):
        return ConcurrentWrite("another request created the same record at the same moment; "
                               "retry the request")
    return None


def _sqlstate(exc: DataError | IntegrityError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def _is_unique_violation(exc: IntegrityError) -> bool:
    if _sqlstate(exc) == _UNIQUE_VIOLATION:
        return True
    return "UNIQUE constraint failed" in str(exc.orig)  # sqlite3 has no SQLSTATE
