"""Listing accounts by compliance state among 1,000,000: indexed keyset pages vs baselines.

Seeds N accounts with their denormalised compliance rows by bulk INSERT (COPY on
PostgreSQL), then times, through the real service (``list_by_state``, as the API calls it):

- the first page of overdue accounts (100 rows),
- a deep page (the page after the 50,000th overdue account, reached by its keyset cursor),

against baselines measured in the same run on the same data:

- ``SELECT count(*) FROM account_compliance`` (one full scan of the table),
- the same first page with index scans switched off (PostgreSQL) / ``NOT INDEXED``
  (SQLite): what the listing costs without the (state, deadline, account_id) index,
- the deep page reached with OFFSET instead of a cursor.

Usage:  .venv/bin/python bench/listing_bench.py [--accounts 1000000] [--runs 5]
        [--backend postgresql|sqlite|both]
PostgreSQL at CONTACTGUARD_BENCH_POSTGRES_URL (default the local server); a throw-away
database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from contactguard.adapters.db.migrate import upgrade
from contactguard.bootstrap import bootstrap
from contactguard.config import Settings
from contactguard.domain.compliance import ComplianceState
from contactguard.services.compliance import list_by_state

POSTGRES = os.environ.get("CONTACTGUARD_BENCH_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHARES = [("compliant", 0.55), ("due_soon", 0.15), ("overdue", 0.10), ("action_required", 0.20)]
NO_DEADLINE = "9999-12-31 00:00:00"


STAMP = NOW.strftime("%Y-%m-%d %H:%M:%S")


def account_rows(n: int) -> Iterator[tuple]:
    for i in range(1, n + 1):
        yield (i, f"seller-{i:07d}", f"Shop {i}", "GB", "en", "Europe/London", STAMP, STAMP)


def compliance_rows(n: int) -> Iterator[tuple]:
    """Generated lazily (flat memory): 55% compliant, 15% due soon, 10% overdue, 20% to do."""
    rng = random.Random(7)
    states = [s for s, share in SHARES for _ in range(int(share * 1000))]
    rng.shuffle(states)
    for i in range(1, n + 1):
        state = states[i % len(states)]
        if state == "action_required":
            deadline = NO_DEADLINE
        else:
            offset = {"compliant": (31, 365), "due_soon": (0, 30), "overdue": (-365, 0)}[state]
            deadline = (NOW + timedelta(days=rng.uniform(*offset))).strftime(
                "%Y-%m-%d %H:%M:%S.%f")
        yield (i, state, deadline, state in ("compliant", "due_soon"), "[]", None, STAMP)


def seed_postgres(url: str, n: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY accounts (id, external_id, name, country, locale, time_zone, "
                         "created_at, updated_at) FROM STDIN") as copy:
            for row in account_rows(n):
                copy.write_row(row)
        with cursor.copy("COPY account_compliance (account_id, state, deadline, eligible, "
                         "reasons, recheck_at, updated_at) FROM STDIN") as copy:
            for row in compliance_rows(n):
                copy.write_row(row)
        cursor.execute("SELECT setval('accounts_id_seq', %s)", (n,))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - started


def seed_sqlite(url: str, n: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.executemany("INSERT INTO accounts (id, external_id, name, country, locale, "
                           "time_zone, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                           account_rows(n))
        cursor.executemany("INSERT INTO account_compliance (account_id, state, deadline, "
                           "eligible, reasons, recheck_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                           compliance_rows(n))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return time.perf_counter() - started


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm the cache once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, n: int, runs: int, backend: str, var_dir: Path) -> dict[str, float]:
    settings = Settings(database_url=url, secret_key="bench-" + "x" * 40, var_dir=var_dir,
                        log_json=False)
    container = bootstrap(settings, start_worker=False)
    deps = container.deps
    overdue = ComplianceState.OVERDUE
    try:
        first = list_by_state(deps, overdue, limit=100)
        assert len(first.items) == 100 and first.next_cursor

        # The cursor of the (up to) 50,000th overdue account: walk there with pages of 1,000.
        depth = min(50, int(n * 0.10) // 2000)
        cursor = None
        for _ in range(depth):
            cursor = list_by_state(deps, overdue, limit=1000, cursor=cursor).next_cursor
        deep_cursor = cursor

        engine = container.engine
        listing_sql = ("SELECT c.account_id, a.external_id FROM account_compliance c "
                       "{hint} JOIN accounts a ON a.id = c.account_id "
                       "WHERE c.state = 'overdue' ORDER BY c.deadline, c.account_id "
                       "LIMIT 100 {offset}")

        def raw(sql: str, setup: tuple[str, ...] = ()) -> Callable[[], object]:
            def run() -> object:
                with engine.connect() as conn:
                    for statement in setup:
                        conn.execute(text(statement))
                    result = conn.execute(text(sql)).all()
                    conn.rollback()
                    return result
            return run

        if backend == "postgresql":
            no_index = raw(listing_sql.format(hint="", offset=""),
                           ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off",
                            "SET LOCAL enable_indexonlyscan = off"))
        else:
            no_index = raw(listing_sql.format(hint="NOT INDEXED", offset=""))
        figures = {
            "first page (service, keyset)": median_ms(
                lambda: list_by_state(deps, overdue, limit=100), runs),
            "first page (raw SQL, keyset index)": median_ms(
                raw(listing_sql.format(hint="", offset="")), runs),
            f"deep page after {depth * 1000:,} (service, keyset)": median_ms(
                lambda: list_by_state(deps, overdue, limit=100, cursor=deep_cursor), runs),
            "baseline: SELECT count(*) full scan": median_ms(
                raw("SELECT count(*) FROM account_compliance"), runs),
            "baseline: first page without the index": median_ms(no_index, runs),
            f"baseline: deep page with OFFSET {depth * 1000}": median_ms(
                raw(listing_sql.format(hint="", offset=f"OFFSET {depth * 1000}")), runs),
        }
    finally:
        container.close()
    return figures


def report(backend: str, n: int, seconds: float, figures: dict[str, float]) -> None:
    print(f"\n{backend}: {n:,} accounts seeded in {seconds:.1f} s (bulk, not through the API)")
    scan = figures["baseline: SELECT count(*) full scan"]
    unindexed = figures["baseline: first page without the index"]
    print(f"  {'':45s} {'median':>9s}      vs count(*)  vs unindexed page")
    for name, ms in figures.items():
        print(f"  {name:45s} {ms:9.2f} ms   {ms / scan:9.3f} x  {ms / unindexed:9.4f} x")


def run_postgres(n: int, runs: int) -> None:
    admin_url = make_url(POSTGRES)
    name = f"cg_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        seconds = seed_postgres(url, n)
        with tempfile.TemporaryDirectory() as var:
            report("PostgreSQL", n, seconds, measure(url, n, runs, "postgresql", Path(var)))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_sqlite(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as var:
        url = f"sqlite:///{Path(var) / 'bench.db'}"
        upgrade(url)
        seconds = seed_sqlite(url, n)
        report("SQLite", n, seconds, measure(url, n, runs, "sqlite", Path(var)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("postgresql", "both"):
        run_postgres(args.accounts, args.runs)
    if args.backend in ("sqlite", "both"):
        run_sqlite(args.accounts, args.runs)


if __name__ == "__main__":
    main()
