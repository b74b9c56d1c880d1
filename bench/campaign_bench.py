"""Fan-out of a 1,000,000-account campaign on PostgreSQL: time and memory, vs a bare COPY.

Seeds N accounts (countries and time zones mixed, an emergency email and a mobile each, a
compliance row each) with SQL (``generate_series``), then per run:

- creates and launches a campaign to every account (in_app + email + SMS, no quiet hours, so
  every notice is due at once), and
- runs the campaign runner in a fresh process (as a ``contactguard worker`` would) until the
  audience is planned and every notice is written: N target rows, N steps (the in-app
  notices), 2N outbox rows (email, SMS), N compliance rows marked for recheck. The process's
  RSS is sampled every 50 ms from /proc.

Baseline, same run, same database: a bare ``COPY`` of 2N outbox rows of the same shape
(what writing the messages alone costs, with no planning, steps or targets).

Usage:  .venv/bin/python bench/campaign_bench.py [--accounts 1000000] [--runs 3]
PostgreSQL at CONTACTGUARD_BENCH_POSTGRES_URL (default the local server); a throw-away
database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pg_support import SECRET, rss_kb, throwaway_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# (country, time zone, locale) by share of accounts
MIX = [("CN", "Asia/Shanghai", "zh-Hans"), ("US", "America/New_York", "en"),
       ("GB", "Europe/London", "en"), ("DE", "Europe/Berlin", "en"),
       ("JP", "Asia/Tokyo", "en"), ("BR", "America/Sao_Paulo", "en"),
       ("IN", "Asia/Kolkata", "en"), ("AU", "Australia/Sydney", "en")]

RUNNER = """
import json, sys, time
from contactguard.bootstrap import bootstrap
from contactguard.config import Settings
settings = Settings(database_url=sys.argv[1], secret_key=sys.argv[2], var_dir=sys.argv[3],
                    platform_name="Acme Market", public_url="https://sellers.acme.test",
                    log_level="WARNING", campaign_batch=int(sys.argv[4]))
container = bootstrap(settings, start_worker=False)
runner = container.extras["campaign_runner"]
started = time.perf_counter()
handled = runner.run(budget_seconds=None)
elapsed = time.perf_counter() - started
container.close()
print(json.dumps({"seconds": elapsed, "handled": handled}))
"""


def seed(url: str, n: int) -> None:
    engine = create_engine(url)
    cases = " ".join(f"WHEN {i} THEN '{c}'" for i, (c, _, _) in enumerate(MIX))
    zones = " ".join(f"WHEN {i} THEN '{z}'" for i, (_, z, _) in enumerate(MIX))
    locales = " ".join(f"WHEN {i} THEN '{loc}'" for i, (_, _, loc) in enumerate(MIX))
    m = len(MIX)
    with engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO accounts (external_id, name, country, locale, time_zone, created_at, "
            f"updated_at) SELECT 'seller-' || g, 'Shop ' || g, CASE g % {m} {cases} END, "
            f"CASE g % {m} {locales} END, CASE g % {m} {zones} END, now() - interval '10 days', "
            f"now() - interval '10 days' FROM generate_series(1, :n) g"), {"n": n})
        conn.execute(text(
            "INSERT INTO contacts (account_id, kind, value, created_at, updated_at) "
            "SELECT id, 'emergency_email', 'owner-' || id || '@shop.example.com', now(), now() "
            "FROM accounts"))
        conn.execute(text(
            "INSERT INTO contacts (account_id, kind, value, line_type, created_at, updated_at) "
            "SELECT id, 'emergency_phone', '+447' || lpad((id % 1000000000)::text, 9, '0'), "
            "'mobile', now(), now() FROM accounts"))
        conn.execute(text(
            "INSERT INTO account_compliance (account_id, state, deadline, eligible, reasons, "
            "updated_at) SELECT id, 'action_required', now() + interval '20 days', false, "
            "'[]', now() FROM accounts"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE campaign_steps, campaign_targets, campaigns, notice_reads, "
                          "outbox, audit_log, audit_head RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE account_compliance SET recheck_at = NULL"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def launch(url: str, var_dir: Path, channels: list[str]) -> int:
    from contactguard.bootstrap import bootstrap
    from contactguard.config import Settings
    from contactguard.services.campaigns import create_campaign, launch_campaign

    container = bootstrap(Settings(database_url=url, secret_key=SECRET, var_dir=var_dir,
                                   log_level="WARNING"), start_worker=False)
    try:
        effective = datetime.now(UTC) + timedelta(days=60)
        view = create_campaign(container.deps, {
            "name": "Benchmark", "contacts": ["emergency_email", "emergency_phone"],
            "channels": channels, "effective_at": effective.isoformat(),
            "quiet_hours": None})
        launch_campaign(container.deps, view.id)
        return view.id
    finally:
        container.close()


def run_fan_out(url: str, var_dir: Path, batch: int, workers: int) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB, the largest process) and accounts handled by ``workers``
    fresh runner processes sharing the fan-out (as ``contactguard worker`` processes do)."""
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-c", RUNNER, url, SECRET, str(var_dir),
                                   str(batch)], stdout=subprocess.PIPE, text=True)
                 for _ in range(workers)]
    peak = 0
    while any(p.poll() is None for p in processes):
        peak = max([peak] + [rss_kb(process.pid) for process in processes])
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    handled = 0
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"runner failed ({process.returncode})")
        handled += json.loads(out.strip().splitlines()[-1])["handled"]
    return elapsed, peak / 1024, handled


def bare_copy(url: str, rows: int) -> float:
    """COPY ``rows`` outbox rows of the fan-out's shape; the rows are removed afterwards."""
    import psycopg

    params = json.dumps({"platform_name": "Acme Market", "host": "sellers.acme.test",
                         "account_name": "Shop 123456", "campaign": 1,
                         "campaign_name": "Benchmark", "step": 0,
                         "deadline": "2027-03-08T10:00:00Z",
                         "deadline_text": "Monday, March 8, 2027, 18:00 (China Standard Time)",
                         "deadline_date": "March 8, 2027",
                         "contacts": ["emergency_email", "emergency_phone"],
                         "contacts_text": "emergency email address and emergency phone number",
                         "time_zone": "Asia/Shanghai", "country": "CN"})
    now = datetime.now(UTC)
    raw = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(raw) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY outbox (reference, account_id, kind, channel, recipient, locale, params, "
                "secret, status, attempts, available_at, created_at) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((f"CG-{i:09d}", i // 2 + 1, "campaign_notice",
                                "email" if i % 2 else "sms", f"owner-{i}@shop.example.com", "en",
                                params, None, "pending", 0, now, now))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("TRUNCATE outbox RESTART IDENTITY CASCADE")
        conn.commit()
    return elapsed


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {name: int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
                 for name in ("campaign_targets", "campaign_steps", "outbox")}
        found["recheck_marked"] = int(conn.execute(text(
            "SELECT count(*) FROM account_compliance WHERE recheck_at IS NOT NULL")).scalar_one())
    engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2,
                        help="runner processes sharing the fan-out")
    parser.add_argument("--channels", default="in_app,email,sms")
    args = parser.parse_args()
    with throwaway_database("cg_bench_campaign") as (url, var_dir):
        started = time.perf_counter()
        seed(url, args.accounts)
        print(f"seeded {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s",
              flush=True)
        fan_outs, peaks, baselines = [], [], []
        for run in range(1, args.runs + 1):
            reset(url)
            messages = args.accounts * (len(args.channels.split(",")) - 1)
            baselines.append(bare_copy(url, messages))
            launch(url, var_dir, args.channels.split(","))
            seconds, peak, handled = run_fan_out(url, var_dir, args.batch, args.workers)
            found = counts(url)
            assert found["campaign_steps"] == args.accounts, found
            assert found["outbox"] == messages, found
            fan_outs.append(seconds)
            peaks.append(peak)
            print(json.dumps({"run": run, "fan_out_s": round(seconds, 1),
                              "peak_rss_mb": round(peak), "bare_copy_s":
                              round(baselines[-1], 1), "handled": handled, **found}), flush=True)
        median = statistics.median(fan_outs)
        baseline = statistics.median(baselines)
        print(json.dumps({"accounts": args.accounts, "runs": args.runs, "batch": args.batch,
                          "workers": args.workers, "channels": args.channels,
                          "fan_out_median_s": round(median, 1),
                          "fan_out_accounts_per_s": round(args.accounts / median),
                          "peak_rss_mb_max": round(max(peaks)),
                          "bare_copy_median_s": round(baseline, 1),
                          "ratio_to_bare_copy": round(median / baseline, 2)}), flush=True)


if __name__ == "__main__":
    main()
