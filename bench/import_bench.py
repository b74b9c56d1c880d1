"""``contactguard accounts import`` on PostgreSQL: time and memory, vs a bare COPY of the file.

Writes a CSV of N sellers (GB and CN, an emergency email and a mobile each, every value
unique, 0.1 % bad rows), then per run, on an emptied database:

- baseline: ``COPY`` of the same file into a table of text columns without any index (reading
  the file and moving its bytes into PostgreSQL, nothing checked);
- the real command line, ``contactguard accounts import FILE`` in a fresh process (checks every
  row, normalises contacts with phonenumbers and email-validator in a process pool, writes
  accounts, contacts, compliance rows and the audit entries). RSS is sampled every 50 ms
  from /proc for the command and its pool processes (the largest single process and the sum).

Usage:  .venv/bin/python bench/import_bench.py [--rows 200000] [--runs 3]
PostgreSQL at CONTACTGUARD_BENCH_POSTGRES_URL (default the local server); a throw-away
database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pg_support import SECRET, rss_kb, throwaway_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent / "contactguard"


def write_csv(path: Path, rows: int) -> int:
    """The file; returns how many rows are bad (a phone number too short)."""
    bad = 0
    with path.open("w") as out:
        out.write("external_id,name,country,locale,time_zone,emergency_email,emergency_phone\n")
        for n in range(rows):
            if n % 1000 == 999:
                phone, bad = "12", bad + 1
            elif n % 2:
                phone = f"+86 138 {n // 10000:04d} {n % 10000:04d}"
            else:
                phone = f"+44 7400 {n % 1000000:06d}"
            country = "CN" if n % 2 else "GB"
            locale = "zh-Hans" if n % 2 else ""
            out.write(f"seller-{n},Shop {n},{country},{locale},,owner-{n}@shop{n % 97}.example.com,"
                      f"{phone}\n")
    return bad


def reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE accounts, audit_log, audit_head, raw_import "
                          "RESTART IDENTITY CASCADE"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def bare_copy(url: str, path: Path) -> float:
    import psycopg

    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(raw) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY raw_import FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, \
                path.open("rb") as source:
            while block := source.read(1 << 20):
                copy.write(block)
        conn.commit()
        return time.perf_counter() - started


def run_import(url: str, path: Path, var_dir: Path) -> tuple[float, float, float, str]:
    """Wall seconds, peak RSS of the largest process and of all processes (MB), summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")}
    env.update({"CONTACTGUARD_DATABASE_URL": url, "CONTACTGUARD_SECRET_KEY": SECRET,
                "CONTACTGUARD_VAR_DIR": str(var_dir), "CONTACTGUARD_LOG_LEVEL": "WARNING"})
    started = time.perf_counter()
    process = subprocess.Popen([str(BIN), "accounts", "import", str(path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = total = 0
    while process.poll() is None:
        pids = [process.pid, *_children(process.pid)]
        sizes = [rss_kb(pid) for pid in pids]
        peak, total = max(peak, *sizes), max(total, sum(sizes))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    return elapsed, peak / 1024, total / 1024, out.strip()


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in found] + [g for c in found for g in _children(int(c))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with throwaway_database("cg_bench_import") as (url, work):
        source = work / "sellers.csv"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE raw_import (external_id text, name text, country "
                              "text, locale text, time_zone text, email text, phone text)"))
        engine.dispose()
        bad = write_csv(source, args.rows)
        imports, copies, peaks, totals = [], [], [], []
        for run in range(1, args.runs + 1):
            reset(url)
            copies.append(bare_copy(url, source))
            seconds, peak, total, summary = run_import(url, source, work / "var")
            expected = f"{args.rows - bad} created, 0 updated, {bad} rejected"
            imports.append(seconds)
            peaks.append(peak)
            totals.append(total)
            print(json.dumps({"run": run, "import_s": round(seconds, 1),
                              "rows_per_s": round(args.rows / seconds),
                              "peak_rss_mb": round(peak), "peak_rss_all_mb": round(total),
                              "bare_copy_s": round(copies[-1], 2), "summary": summary}),
                  flush=True)
            assert expected in summary, (summary, expected)
        median, baseline = statistics.median(imports), statistics.median(copies)
        print(json.dumps({"rows": args.rows, "runs": args.runs, "import_median_s": round(median, 1),
                          "rows_per_s": round(args.rows / median),
                          "peak_rss_mb_max": round(max(peaks)),
                          "peak_rss_all_mb_max": round(max(totals)),
                          "bare_copy_median_s": round(baseline, 2),
                          "ratio_to_bare_copy": round(median / baseline, 1)}), flush=True)


if __name__ == "__main__":
    main()
