"""What the PostgreSQL benchmarks share: a throw-away, migrated database and reading a
process's resident memory from /proc."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from contactguard.adapters.db.migrate import upgrade

POSTGRES = os.environ.get("CONTACTGUARD_BENCH_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


@contextmanager
def throwaway_database(prefix: str) -> Iterator[tuple[str, Path]]:
    """A new migrated database named ``<prefix>_<random>`` and a scratch folder of the same
    name under /tmp; the database is dropped afterwards (also on errors)."""
    admin = create_engine(make_url(POSTGRES), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    work = Path(f"/tmp/{name}")
    work.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(url)
        yield url, work
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
