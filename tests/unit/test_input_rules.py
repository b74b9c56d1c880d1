"""Pure rules of issue 11: which characters text fields refuse, loopback binds, safe logs."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from contactguard.domain.text import CONTROL_CHARACTERS, describe_character, unsafe_character
from contactguard.entrypoints.server import is_loopback
from contactguard.errors import ValidationFailed
from contactguard.logs import format_exception_safely
from contactguard.normalize import check_text, text_error


@pytest.mark.parametrize("ch", ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\u200b",
                                "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d",
                                "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u2028",
                                "\u2029", "\u2060", "\ufeff", "\u00ad", "\u061c", "\U000e0001",
                                "\U000e0041", "\ud800"])
def test_controls_and_invisible_format_characters_are_refused(ch: str) -> None:
    assert unsafe_character(f"Lotus{ch}Tea") == ch
    error = text_error(f"Lotus{ch}Tea", field="name")
    assert error is not None and error.code == CONTROL_CHARACTERS == "control_characters"
    assert f"U+{ord(ch):04X}" in error.message


def test_every_control_format_and_separator_character_is_refused() -> None:
    for code_point in range(sys.maxunicode + 1):
        ch = chr(code_point)
        refused = unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} and \
            ch not in "\u200c\u200d"
        assert (unsafe_character(ch) is not None) is refused, hex(code_point)


@pytest.mark.parametrize("text", ["Lotus Tea House", "茶馆 · 北京", "Café Zoë", "O'Neil & Sons",
                                  "می\u200cخواهم", "👨\u200d👩\u200d👧", "मिन्दी\u200d", "",  # noqa: RUF001
                                  "Ünïcödé ñame with spaces", "\u00a0non-breaking\u3000space"])
def test_ordinary_text_is_accepted(text: str) -> None:
    assert unsafe_character(text) is None
    assert check_text(text, field="name") == text


def test_check_text_raises_a_field_error() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_text("a\u202eb", field="description")
    assert refused.value.errors[0].field == "description"
    assert describe_character("\u202e") == "U+202E RIGHT-TO-LEFT OVERRIDE"
    assert describe_character("\r") == "U+000D CARRIAGE RETURN"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("192.168.1.5", False), ("10.0.0.1", False), ("sellers.example.com", False),
    ("::ffff:10.0.0.1", False), ("", False)])
def test_only_loopback_binds_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


class _FakeDiag:
    constraint_name = "uq_contacts_value"
    table_name = "contacts"
    column_name = None


class _FakeDriverError(Exception):
    """Shaped like a psycopg error: a message with the row in it, a SQLSTATE and diag."""

    sqlstate = "23505"
    diag = _FakeDiag()


def test_logged_database_errors_keep_the_statement_but_not_the_values() -> None:
    from sqlalchemy.exc import IntegrityError

    driver = _FakeDriverError("duplicate key value violates unique constraint\n"
                              "DETAIL:  Key (value)=(owner@private.example) already exists.")
    try:
        try:
            raise driver
        except _FakeDriverError as exc:
            raise IntegrityError("INSERT INTO contacts (value) VALUES (%(value)s)",
                                 {"value": "owner@private.example"}, exc) from exc
    except IntegrityError as exc:
        text = format_exception_safely(exc)
    assert "owner@private.example" not in text
    assert "INSERT INTO contacts (value) VALUES (%(value)s)" in text
    assert "sqlstate=23505" in text and "constraint=uq_contacts_value" in text
    assert text.count("Traceback (most recent call last):") == 2
    assert "The above exception was the direct cause" in text


def test_other_exceptions_are_formatted_as_usual() -> None:
    try:
        raise ValueError("plain message")
    except ValueError as exc:
        text = format_exception_safely(exc)
    assert text.startswith("Traceback (most recent call last):")
    assert text.endswith("ValueError: plain message")
