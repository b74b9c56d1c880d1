"""Account import at scale (issue 8): on PostgreSQL new accounts are written set-based in
chunks (checked by a process pool), on SQLite row by row; both report bad rows by line, keep
the good ones, and a rerun changes nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import create_engine, func, select

from contactguard.adapters.db import tables as t
from contactguard.bootstrap import Container
from contactguard.services import imports
from contactguard.services.accounts import AccountInput, get_account, upsert_account
from contactguard.services.audit import list_entries
from contactguard.services.imports import import_accounts, read_rows

HEADER = "external_id,name,country,locale,time_zone,emergency_email,emergency_phone\n"


def _csv(count: int, bad_every: int = 0) -> tuple[str, dict[int, str]]:
    """``count`` sellers; every ``bad_every``-th row has a bad phone number. Returns the file
    and the line of each bad row."""
    lines, bad = [HEADER], {}
    for n in range(count):
        line = len(lines) + 1
        phone = f"+44 7911 {100000 + n}"
        if bad_every and n % bad_every == bad_every - 1:
            phone, bad[line] = "12", f"s-{n}"
        lines.append(f"s-{n},Shop {n},GB,,,owner-{n}@shop.example.com,{phone}\n")
    return "".join(lines), bad


def _count(container: Container, table, *where) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(container.settings.database_url)
    with engine.connect() as conn:
        value = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    engine.dispose()
    return int(value)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "CHUNK", 7)  # several chunks, so the process pool is used


def test_bad_rows_are_reported_by_line_good_rows_kept_and_a_rerun_changes_nothing(
        container: Container, small_chunks: None) -> None:
    text, bad = _csv(40, bad_every=9)
    text += "s-0,Shop 0,GB,,,,\n"  # again: refused in the same chunk, else the same values
    report = import_accounts(container.deps, read_rows(io.StringIO(text), "csv"), processes=2)
    assert report.created == 40 - len(bad)
    assert [(e.line, e.external_id) for e in report.errors][:len(bad)] == sorted(bad.items())
    assert all("emergency_phone" in e.reason for e in report.errors[:len(bad)])
    assert _count(container, t.accounts) == 40 - len(bad)
    assert _count(container, t.contacts) == 2 * (40 - len(bad))
    assert _count(container, t.account_compliance) == 40 - len(bad)
    seller = get_account(container.deps, "s-3")
    assert seller.account.time_zone == "Europe/London" and seller.account.locale == "en"
    assert {c.contact.kind.value: c.contact.value for c in seller.contacts} == {
        "emergency_email": "owner-3@shop.example.com", "emergency_phone": "+447911100003"}

    audit_rows = _count(container, t.audit_log)
    again = import_accounts(container.deps, read_rows(io.StringIO(_csv(40, bad_every=9)[0]),
                                                      "csv"), processes=2)
    assert (again.created, again.updated, again.rejected) == (0, 40 - len(bad), len(bad))
    assert _count(container, t.accounts) == 40 - len(bad)
    assert _count(container, t.audit_log) == audit_rows  # nothing changed, nothing written


def test_imported_accounts_get_the_compliance_row_a_single_write_gives(
        container: Container, small_chunks: None) -> None:
    upsert_account(container.deps, AccountInput(
        external_id="one", name="One", country="GB",
        contacts={"emergency_email": "one@shop.example.com",
                  "emergency_phone": "+44 7911 123456"}))
    text = HEADER + "".join(
        f"i-{n},Shop {n},GB,,,i{n}@shop.example.com,{'+44 7911 2000' + str(10 + n) if n % 2 else ''}\n"
        for n in range(20))
    import_accounts(container.deps, read_rows(io.StringIO(text), "csv"), processes=1)
    engine = create_engine(container.settings.database_url)
    c, a = t.account_compliance.c, t.accounts.c
    with engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(
            select(a.external_id, c.state, c.eligible, c.reasons, c.deadline)
            .join(t.accounts, a.id == c.account_id))}
    engine.dispose()
    single = rows.pop("one")
    assert len(rows) == 20
    for external_id, row in rows.items():
        if int(external_id.split("-")[1]) % 2:  # both contacts, as the single write
            assert (row.state, row.eligible, row.reasons, row.deadline) == (
                single.state, single.eligible, single.reasons, single.deadline)


def test_rows_that_change_an_account_go_through_the_full_write(
        container: Container, small_chunks: None) -> None:
    """A changed contact is audited (and announced) per account, as any other change."""
    first = HEADER + "c-1,Shop,GB,,,old@shop.example.com,\nc-2,Shop,GB,,,same@shop.example.com,\n"
    import_accounts(container.deps, read_rows(io.StringIO(first), "csv"))
    second = HEADER + "c-1,Shop,GB,,,new@shop.example.com,\nc-2,Shop,GB,,,same@shop.example.com,\n"
    report = import_accounts(container.deps, read_rows(io.StringIO(second), "csv"))
    assert (report.created, report.updated, report.rejected) == (0, 2, 0)
    changed = [e.action for e in list_entries(container.deps, subject="account:c-1")]
    assert "contact.changed" in changed
    assert "contact.changed" not in [
        e.action for e in list_entries(container.deps, subject="account:c-2")]
    assert {c.contact.value for c in get_account(container.deps, "c-1").contacts} == {
        "new@shop.example.com"}


def test_a_new_account_without_name_or_country_is_refused_by_line(container: Container) -> None:
    text = HEADER + "n-1,,GB,,,,\nn-2,Shop,,,,,\nn-3,Shop,GB,,,,\n"
    report = import_accounts(container.deps, read_rows(io.StringIO(text), "csv"))
    assert report.created == 1
    assert [(e.line, e.external_id) for e in report.errors] == [(2, "n-1"), (3, "n-2")]
    assert "name" in report.errors[0].reason and "country" in report.errors[1].reason
