"""Benchmark: ContactGuard's verification flow vs django-allauth's email-code flow, same run.

One server process each (ContactGuard: uvicorn, one process; allauth: gunicorn, ONE sync
worker, optionally also 2), SQLite in WAL mode on both, N concurrent clients (default 16)
driven by the lean asyncio HTTP/1.1 client in bench/loadgen.py.

    .venv/bin/python bench/compare_flows.py --runs 5 --seconds 10 --clients 16
    .venv/bin/python bench/compare_flows.py --runs 5 --seconds 10 --allauth-workers 1,2

A flow is, for ContactGuard: POST /v1/verifications (email contact) then
POST /v1/verifications/{id}/check with the code -> "approved"; for allauth (headless API,
app client): POST /_allauth/app/v1/auth/code/request {"email"} -> 401 with a pending
"login_by_code" flow and a session token, then POST /_allauth/app/v1/auth/code/confirm
{"code"} with X-Session-Token -> 200, authenticated. Both servers use a fixed code
generator so the client needs no mailbox; both still render (and ContactGuard also queues
and delivers to its capture) the email carrying the code.

``--variant mailbox`` (and ``--variant sms``) measure the flow as a client sees it instead:
no fixed code. ContactGuard runs as ``make run`` does (the real ``contactguard serve``
command, dev mode: SQLite, emails DKIM-signed and sent over SMTP to the embedded dev SMTP
server); the client starts a verification, polls ``GET /v1/dev/messages?to=`` with a short
backoff until the code is there, and checks it. allauth (email or phone login by code)
hands each email / SMS to a Unix datagram socket the bench client reads (its "mailbox"),
and the client polls that with the same backoff.

Each run measures, per target and in alternating order: a warm-up (discarded), GET /healthz
(framework ceiling and client calibration), then the flows. Prints one JSON line per target
per run, the per-run ratio, then medians. The allauth side gets its own virtualenv
(bench/.venv-allauth, pinned by bench/allauth/requirements.txt), created on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
from loadgen import Conn, HTTPError

BENCH = Path(__file__).resolve().parent
ALLAUTH_DIR = BENCH / "allauth"
ALLAUTH_VENV = BENCH / ".venv-allauth"
CODE = "246810"  # ContactGuard's fixed code (verification_flow.CODE) and allauth's adapter
HOST = "127.0.0.1"
#: Mailbox variants: polling delays (s) before each further look, then the last one repeated.
BACKOFF = (0.002, 0.004, 0.008, 0.016, 0.02)
MAILBOX_TIMEOUT = 10.0
#: The code in ContactGuard's email ("    123456" on its own line) and SMS ("#123456", the
#: origin-bound line) and in allauth's email (the code on its own line) and SMS text.
CODE_RE = re.compile(r"(?m)(?:^[ \t]*|#|code is )(\d{6})\b")
#: Account/user bN's phone: a UK mobile, +447911 (100000 + N) (allauth/benchsite/adapter.py).
PHONE_PREFIX, PHONE_BASE = "+447911", 100000


def phone_of(index: int) -> str:
    return f"{PHONE_PREFIX}{PHONE_BASE + index}"


async def poll(look: Callable[[], Any]) -> str:
    """Call ``look`` (sync or async) until it returns a code; short backoff between looks."""
    deadline = time.monotonic() + MAILBOX_TIMEOUT
    step = 0
    while True:
        found = look()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return str(found)
        if time.monotonic() > deadline:
            raise HTTPError("mailbox timeout")
        await asyncio.sleep(BACKOFF[min(step, len(BACKOFF) - 1)])
        step += 1


class Mailbox:
    """allauth's mailbox: a Unix datagram socket its mail backend / SMS adapter writes
    ``recipient NUL message`` to; a thread files each message by recipient."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.messages: dict[str, bytes] = {}
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(path)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(1 << 20)
            except OSError:
                return
            recipient, _, payload = data.partition(b"\0")
            self.messages[recipient.decode()] = payload

    def code_for(self, recipient: str) -> str | None:
        payload = self.messages.pop(recipient, None)
        if payload is None:
            return None
        found = CODE_RE.search(payload.decode("utf-8", "replace"))
        return found.group(1) if found else None

    def close(self) -> None:
        self._sock.close()


# --- the allauth side -------------------------------------------------------------------

def ensure_allauth_venv() -> Path:
    """Create/refresh bench/.venv-allauth from the pinned requirements; returns its bin/."""
    requirements = ALLAUTH_DIR / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = ALLAUTH_VENV / ".requirements-sha256"
    if not (stamp.exists() and stamp.read_text() == digest):
        print(f"creating {ALLAUTH_VENV} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(ALLAUTH_VENV)], check=True)
        subprocess.run([str(ALLAUTH_VENV / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(requirements)], check=True)
        stamp.write_text(digest)
    return ALLAUTH_VENV / "bin"


def seed_allauth(bin_dir: Path, db_dir: str, users: int) -> subprocess.Popen:
    """Start migrating + seeding the allauth database (runs while ContactGuard seeds)."""
    env = {**os.environ, "ALLAUTH_BENCH_DIR": db_dir}
    return subprocess.Popen([str(bin_dir / "python"), str(ALLAUTH_DIR / "seed.py"), str(users)],
                            env=env, stdout=subprocess.DEVNULL)


def start_gunicorn(bin_dir: Path, db_dir: str, port: int, workers: int,
                   capture: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "ALLAUTH_BENCH_DIR": db_dir,
           "ALLAUTH_BENCH_FIXED_CODE": "0" if capture else "1"}
    if capture:
        env["ALLAUTH_BENCH_CAPTURE"] = capture
    return subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--chdir", str(ALLAUTH_DIR), "--workers", str(workers),
         "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--backlog", "2048",
         "--no-control-socket", "--log-level", "warning", "benchsite.wsgi:application"],
        env=env)


async def allauth_flow(conn: Conn, index: int) -> None:
    status, body = await conn.request("POST", "/_allauth/app/v1/auth/code/request",
                                      {"email": f"b{index}@example.com"})
    data = json.loads(body)
    pending = [f for f in data.get("data", {}).get("flows", []) if f.get("is_pending")]
    if status != 401 or [f["id"] for f in pending] != ["login_by_code"]:
        raise HTTPError(f"code/request {status}")
    token = data["meta"]["session_token"]
    status, body = await conn.request("POST", "/_allauth/app/v1/auth/code/confirm",
                                      {"code": CODE}, {"X-Session-Token": token})
    if status != 200 or json.loads(body)["meta"].get("is_authenticated") is not True:
        raise HTTPError(f"code/confirm {status}")


def allauth_mailbox_flow(mailbox: Mailbox, channel: str) -> loadgen.Scenario:
    """Login by code with the code read from the mailbox (email, or phone with ``sms``)."""

    async def flow(conn: Conn, index: int) -> None:
        to = phone_of(index) if channel == "sms" else f"b{index}@example.com"
        mailbox.messages.pop(to, None)
        status, body = await conn.request("POST", "/_allauth/app/v1/auth/code/request",
                                          {"phone" if channel == "sms" else "email": to})
        data = json.loads(body)
        pending = [f for f in data.get("data", {}).get("flows", []) if f.get("is_pending")]
        if status != 401 or [f["id"] for f in pending] != ["login_by_code"]:
            raise HTTPError(f"code/request {status}")
        token = data["meta"]["session_token"]
        code = await poll(lambda: mailbox.code_for(to))
        status, body = await conn.request("POST", "/_allauth/app/v1/auth/code/confirm",
                                          {"code": code}, {"X-Session-Token": token})
        if status != 200 or json.loads(body)["meta"].get("is_authenticated") is not True:
            raise HTTPError(f"code/confirm {status}")

    return flow


# --- the ContactGuard side --------------------------------------------------------------

def contactguard_flow(key: str) -> loadgen.Scenario:
    auth = {"Authorization": f"Bearer {key}"}

    async def flow(conn: Conn, index: int) -> None:
        status, body = await conn.request("POST", "/v1/verifications", {
            "account": f"b{index}", "contact": "emergency_email"}, auth)
        if status != 201:
            raise HTTPError(f"start {status}")
        vid = json.loads(body)["id"]
        status, body = await conn.request("POST", f"/v1/verifications/{vid}/check",
                                          {"code": CODE}, auth)
        if status != 200 or json.loads(body).get("status") != "approved":
            raise HTTPError(f"check {status}")

    return flow


def contactguard_mailbox_flow(key: str, channel: str) -> loadgen.Scenario:
    """Start, poll the dev inbox (``GET /v1/dev/messages?to=``) for the code, check."""
    auth = {"Authorization": f"Bearer {key}"}

    async def flow(conn: Conn, index: int) -> None:
        if channel == "sms":
            to = phone_of(index)
            start = {"account": f"b{index}", "contact": "emergency_phone", "channel": "sms"}
        else:
            to = f"b{index}@example.com"
            start = {"account": f"b{index}", "contact": "emergency_email"}
        status, body = await conn.request("POST", "/v1/verifications", start, auth)
        if status != 201:
            raise HTTPError(f"start {status} {problem_type(body)}")
        vid = json.loads(body)["id"]
        inbox = f"/v1/dev/messages?limit=1&to={urllib.parse.quote(to)}"

        async def look() -> str | None:
            status, body = await conn.request("GET", inbox, None, auth)
            if status != 200:
                raise HTTPError(f"inbox {status}")
            data = json.loads(body)["data"]
            found = CODE_RE.search(data[0]["body"]) if data else None
            return found.group(1) if found else None

        code = await poll(look)
        status, body = await conn.request("POST", f"/v1/verifications/{vid}/check",
                                          {"code": code}, auth)
        if status != 200 or json.loads(body).get("status") != "approved":
            raise HTTPError(f"check {status}")

    return flow


def problem_type(body: bytes) -> str:
    """The last part of an RFC 9457 problem's ``type`` (what kind of error), if any."""
    try:
        return str(json.loads(body).get("type", "")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return ""


def seed_contactguard(var_dir: str, accounts: int, env: dict[str, str]) -> None:
    """Migrate and seed a ``make run``-style var dir (runs in a child process)."""
    os.environ.update(env)
    from contactguard.adapters.db.migrate import upgrade
    from contactguard.bootstrap import bootstrap
    from contactguard.config import load_settings
    from contactguard.services.accounts import AccountInput, upsert_accounts

    settings = load_settings()
    upgrade(settings.database_url)
    container = bootstrap(settings, start_worker=False)
    for first in range(0, accounts, 2000):
        upsert_accounts(container.deps, [
            AccountInput(external_id=f"b{i}", name=f"Bench {i}", country="US",
                         contacts={"emergency_email": f"b{i}@example.com",
                                   "emergency_phone": phone_of(i)})
            for i in range(first, min(first + 2000, accounts))])
    container.close()


#: ``make run``'s environment (dev mode), quiet, without the API rate limits (load test).
CONTACTGUARD_ENV = {"CONTACTGUARD_DEV": "1", "CONTACTGUARD_LOG_LEVEL": "WARNING",
                    "CONTACTGUARD_RATE_LIMITS": "off"}


def start_contactguard_serve(var_dir: str, port: int, accounts: int,
                             database_url: str | None = None,
                             workers: int = 1) -> list[subprocess.Popen]:
    """Seed, then run the real ``contactguard serve`` (as ``make run`` does) on ``var_dir``.

    With ``database_url`` (production shape: PostgreSQL) it runs ``--workers`` processes, and
    one ``contactguard worker`` delivers (SMTP, DKIM) to serve's dev SMTP server; returns
    the processes (serve first).
    """
    env = {**os.environ, **CONTACTGUARD_ENV, "CONTACTGUARD_VAR_DIR": var_dir}
    if database_url:
        env["CONTACTGUARD_DATABASE_URL"] = database_url
    seeding = multiprocessing.Process(target=seed_contactguard, args=(var_dir, accounts, env))
    seeding.start()
    seeding.join()
    if seeding.exitcode != 0:
        sys.exit("seeding ContactGuard failed")
    command = str(Path(sys.executable).with_name("contactguard"))
    banner = Path(var_dir, "serve.out")
    with banner.open("w") as out:
        serve = subprocess.Popen([command, "serve", "--host", HOST, "--port", str(port),
                                  "--workers", str(workers)], env=env, stdout=out)
    if not database_url:
        return [serve]
    deadline = time.monotonic() + 120
    while not (found := re.search(r"Dev SMTP server: (smtp://\S+)", banner.read_text())):
        if serve.poll() is not None or time.monotonic() > deadline:
            sys.exit("contactguard serve did not start")
        time.sleep(0.2)
    dkim = Path(var_dir, "dkim")
    worker_env = {**env, "CONTACTGUARD_SMTP_URL": found.group(1), "CONTACTGUARD_DKIM_KEYS":
                  f"dev-ed25519={dkim / 'dev-ed25519.pem'},dev-rsa={dkim / 'dev-rsa.pem'}"}
    worker = subprocess.Popen([command, "worker"], env=worker_env, stdout=subprocess.DEVNULL)
    return [serve, worker]


def create_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def start_contactguard(db_dir: str, port: int, accounts: int,
                       start_worker: bool = True) -> multiprocessing.Process:
    from verification_flow import serve

    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(db_dir, port, ready, accounts, start_worker),
                                     daemon=True)
    server.start()
    if not ready.wait(600):
        sys.exit("ContactGuard did not start")
    return server


# --- measuring --------------------------------------------------------------------------

def wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"nothing answers on port {port}")
            time.sleep(0.2)


def tree_cpu_seconds(pid: int) -> float:
    """user+system CPU of ``pid`` and all its descendants (gunicorn master + workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def target_cpu_seconds(target: Target) -> float:
    return sum(tree_cpu_seconds(pid) for pid in (target.pid, *target.extra_pids))


class Target:
    def __init__(self, name: str, port: int, pid: int, scenario: loadgen.Scenario,
                 counter: IndexCounter, extra_pids: tuple[int, ...] = ()) -> None:
        self.name, self.port, self.pid = name, port, pid
        self.extra_pids = extra_pids  # more processes whose CPU counts (`contactguard worker`)
        self.scenario, self.counter = scenario, counter


def load(target: Target, scenario: loadgen.Scenario, clients: int, seconds: float,
         procs: int) -> dict[str, Any]:
    """Drive ``scenario`` with ``clients`` connections spread over ``procs`` client processes."""
    cpu0 = target_cpu_seconds(target)
    if procs <= 1:
        # /healthz uses no account: it must not use up the seeded ones either.
        counter = itertools.count().__next__ if scenario is loadgen.hello else target.counter
        raw = asyncio.run(loadgen.drive(HOST, target.port, scenario, clients=clients,
                                        seconds=seconds, next_index=counter))
    else:
        # Process p takes indexes base+p, base+p+procs, ...; the counter then moves past
        # the furthest one used, so no account/user is reused across processes or runs.
        base = target.counter.value
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()

        def child(p: int, share: int) -> None:
            local = itertools.count()
            used = [0]

            def next_index() -> int:
                used[0] = next(local)
                return (base + p + procs * used[0]) % target.counter.modulo

            raw = asyncio.run(loadgen.drive(HOST, target.port, scenario, clients=share,
                                            seconds=seconds, next_index=next_index))
            queue.put((raw, used[0] + 1))

        shares = [clients // procs + (i < clients % procs) for i in range(procs)]
        children = [ctx.Process(target=child, args=(i, shares[i])) for i in range(procs)]
        for c in children:
            c.start()
        outcomes = [queue.get() for _ in children]
        if scenario is not loadgen.hello:
            target.counter.value += procs * max(used for _, used in outcomes)
        raw = loadgen.merge([r for r, _ in outcomes])
        for c in children:
            c.join()
    result = loadgen.summarize(*raw)
    server_cpu = target_cpu_seconds(target) - cpu0
    result["server_cpu_pct"] = 100 * server_cpu / raw[1]
    # CPU the server spent per completed flow (per request for /healthz): less sensitive to
    # other load on the machine than rates are.
    result["server_cpu_ms_per_flow"] = 1000 * server_cpu / max(raw[0].flows_ok, 1)
    return result


def measure(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    if args.warmup > 0:
        load(target, target.scenario, args.clients, args.warmup, args.client_procs)
    hello = load(target, loadgen.hello, args.clients, args.hello_seconds, args.client_procs)
    flows = load(target, target.scenario, args.clients, args.seconds, args.client_procs)
    if target.counter.value > target.counter.modulo:
        print(f"warning: {target.name} wrapped around its {target.counter.modulo} accounts; "
              "reused ones may hit per-contact cooldowns (raise --accounts)",
              file=sys.stderr, flush=True)
    flows["healthz_req_per_s"] = hello["req_per_s"]
    flows["healthz_client_cpu_us_per_req"] = hello["client_cpu_us_per_req"]
    return flows


def calibrate(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """The same /healthz load through the lean client and through httpx.AsyncClient."""
    seconds = args.hello_seconds
    lean = load(target, loadgen.hello, args.clients, seconds, 1)
    cpu0 = target_cpu_seconds(target)
    httpx_result = asyncio.run(loadgen.httpx_hello(f"http://{HOST}:{target.port}",
                                                   clients=args.clients, seconds=seconds))
    httpx_result["server_cpu_pct"] = 100 * (target_cpu_seconds(target) - cpu0) / seconds
    keys = ("req_per_s", "client_cpu_pct", "client_cpu_us_per_req", "server_cpu_pct")
    return {"calibration": target.name,
            "lean": {k: round(lean[k], 1) for k in keys},
            "httpx": {k: round(httpx_result[k], 1) for k in keys}}


def rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


class IndexCounter:
    """Hands out account/user numbers in order, wrapping at ``modulo`` (the seeded count)."""

    def __init__(self, modulo: int) -> None:
        self.value = 0
        self.modulo = modulo

    def __call__(self) -> int:
        index, self.value = self.value, self.value + 1
        return index % self.modulo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10, help="flow measurement per run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--hello-seconds", type=float, default=3)
    parser.add_argument("--accounts", type=int, default=30_000,
                        help="accounts/users seeded on each side; each flow takes the next one "
                             "(ContactGuard allows a new code to a contact 30 s after the first, "
                             "60 s after the second...)")
    parser.add_argument("--allauth-workers", default="1",
                        help="comma list of gunicorn sync worker counts to measure, e.g. 1,2")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="spread the clients over this many client processes")
    parser.add_argument("--variant", choices=("fixed", "mailbox", "sms"), default="fixed",
                        help="fixed: a fixed code, no mailbox (in-process server, capture table); "
                             "mailbox: `make run` configuration, the client reads the code from "
                             "the dev inbox (allauth: from its capture socket); sms: the same "
                             "with channel sms (allauth: phone login by code)")
    parser.add_argument("--shape", choices=("make-run", "production"), default="make-run",
                        help="mailbox/sms variants: make-run (one `contactguard serve`, SQLite) "
                             "or production (PostgreSQL, `contactguard serve --workers N` plus "
                             "one `contactguard worker`)")
    parser.add_argument("--serve-workers", type=int, default=2,
                        help="production shape: worker processes of `contactguard serve`")
    parser.add_argument("--only", choices=("both", "contactguard", "allauth"), default="both")
    parser.add_argument("--no-calibrate", action="store_true",
                        help="skip the lean-client vs httpx comparison on /healthz")
    parser.add_argument("--diagnose-no-worker", action="store_true",
                        help="diagnostic only, not a fair comparison: run ContactGuard without its "
                             "in-process outbox worker (codes stay in the outbox, never rendered)")
    parser.add_argument("--port", type=int, default=8190, help="ContactGuard; allauth uses +1, +2...")
    args = parser.parse_args(argv)
    worker_counts = [int(w) for w in args.allauth_workers.split(",")] if args.only != "contactguard" else []
    mailbox_variant = args.variant != "fixed"
    if args.shape == "production" and not mailbox_variant:
        parser.error("--shape production needs --variant mailbox or sms")
    if mailbox_variant and args.client_procs != 1:
        parser.error("the mailbox variants need --client-procs 1 (allauth's mailbox is in-process)")

    targets: list[Target] = []
    cleanup: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="bench-flows-") as tmp:
        try:
            seeding = None
            setup_started = time.monotonic()
            if args.only != "contactguard":
                bin_dir = ensure_allauth_venv()
                aa_dir = os.path.join(tmp, "allauth")
                os.mkdir(aa_dir)
                seeding = seed_allauth(bin_dir, aa_dir, args.accounts)
                cleanup.append(lambda: seeding.poll() is None and seeding.kill())
            if args.only != "allauth" and mailbox_variant:
                cg_dir = os.path.join(tmp, "contactguard")
                os.mkdir(cg_dir)
                database_url = None
                if args.shape == "production":
                    pg_name = f"bench_flows_{os.getpid()}"
                    database_url = create_pg_database(pg_name)
                    cleanup.append(lambda: drop_pg_database(pg_name))
                procs = start_contactguard_serve(
                    cg_dir, args.port, args.accounts, database_url,
                    workers=args.serve_workers if args.shape == "production" else 1)
                for proc in procs:
                    cleanup.append(lambda p=proc: (p.terminate(), p.wait(20)))
                wait_http(args.port)
                key = Path(cg_dir, "dev_api_key").read_text().strip()
                targets.append(Target("contactguard", args.port, procs[0].pid,
                                      contactguard_mailbox_flow(key, args.variant),
                                      IndexCounter(args.accounts),
                                      extra_pids=tuple(p.pid for p in procs[1:])))
            elif args.only != "allauth":
                cg_dir = os.path.join(tmp, "contactguard")
                os.mkdir(cg_dir)
                server = start_contactguard(cg_dir, args.port, args.accounts,
                                            start_worker=not args.diagnose_no_worker)
                cleanup.append(lambda: (server.terminate(), server.join(10)))
                wait_http(args.port)
                key = Path(cg_dir, "bench_key").read_text()
                targets.append(Target("contactguard", args.port, server.pid,
                                      contactguard_flow(key), IndexCounter(args.accounts)))
            if seeding is not None:
                if seeding.wait() != 0:
                    sys.exit("seeding the allauth database failed")
                aa_counter = IndexCounter(args.accounts)  # shared: same database for 1 and 2 workers
                mailbox = Mailbox(os.path.join(tmp, "allauth-mailbox.sock")) if mailbox_variant else None
                if mailbox is not None:
                    cleanup.append(mailbox.close)
                for n, workers in enumerate(worker_counts, start=1):
                    proc = start_gunicorn(bin_dir, aa_dir, args.port + n, workers,
                                          capture=mailbox.path if mailbox else None)
                    cleanup.append(lambda p=proc: (p.terminate(), p.wait(10)))
                    wait_http(args.port + n)
                    scenario = (allauth_mailbox_flow(mailbox, args.variant) if mailbox
                                else allauth_flow)
                    targets.append(Target(f"allauth_{workers}w", args.port + n, proc.pid,
                                          scenario, aa_counter))
            print(json.dumps({"variant": args.variant, "shape": args.shape,
                              "clients": args.clients,
                              "accounts": args.accounts}), flush=True)
            print(f"setup (seeding {args.accounts} accounts per side, servers up): "
                  f"{time.monotonic() - setup_started:.0f} s", file=sys.stderr, flush=True)
            if not args.no_calibrate:
                print(json.dumps(calibrate(targets[0], args)), flush=True)

            results: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
            ratios: list[float] = []
            cpu_ratios: list[float] = []  # allauth's server CPU per flow / ContactGuard's
            for run in range(1, args.runs + 1):
                order = targets if run % 2 else list(reversed(targets))
                this_run = {}
                for target in order:
                    result = measure(target, args)
                    this_run[target.name] = result
                    results[target.name].append(result)
                    print(json.dumps({"run": run, "target": target.name, **rounded(result)}),
                          flush=True)
                baseline = f"allauth_{worker_counts[0]}w" if worker_counts else None
                if "contactguard" in this_run and baseline in this_run:
                    ratio = (this_run["contactguard"]["flows_per_s"]
                             / max(this_run[baseline]["flows_per_s"], 1e-9))
                    cpu_ratio = (this_run[baseline]["server_cpu_ms_per_flow"]
                                 / max(this_run["contactguard"]["server_cpu_ms_per_flow"], 1e-9))
                    ratios.append(ratio)
                    cpu_ratios.append(cpu_ratio)
                    print(json.dumps({"run": run, f"ratio_contactguard_to_{baseline}":
                                      round(ratio, 2),
                                      "server_cpu_per_flow_ratio": round(cpu_ratio, 2)}),
                          flush=True)
        finally:
            for stop in reversed(cleanup):
                stop()

    keys = ("flows_per_s", "req_p50_ms", "req_p99_ms", "flow_p50_ms", "flow_p99_ms",
            "healthz_req_per_s", "client_cpu_pct", "server_cpu_pct", "server_cpu_ms_per_flow")
    summary: dict[str, Any] = {
        name: {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
        | {"errors_total": sum(r["errors"] for r in runs),
           "error_kinds_total": dict(sum((Counter(r["error_kinds"]) for r in runs), Counter()))}
        for name, runs in results.items()}
    if ratios:
        summary["ratio_median_of_runs"] = round(statistics.median(ratios), 2)
        summary["server_cpu_per_flow_ratio_median"] = round(statistics.median(cpu_ratios), 2)
    print(json.dumps({"median": summary}), flush=True)


if __name__ == "__main__":
    main()
