"""Benchmark: full verification flows (start + check) against one ContactGuard process.

Starts ``contactguard``'s app in a child process (uvicorn, one worker, SQLite in WAL mode,
captured delivery, the in-process outbox worker running) with a fixed code generator so the
client can answer without reading the capture, and drives it with N concurrent clients.
Also measures ``GET /healthz`` in the same run as a baseline (the framework's ceiling).

    .venv/bin/python bench/verification_flow.py --clients 16 --seconds 10 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

CODE = "246810"


def serve(db_dir: str, port: int, ready: multiprocessing.synchronize.Event,
          accounts: int = 20000, start_worker: bool = True) -> None:
    import uvicorn

    from contactguard.adapters.db.migrate import upgrade
    from contactguard.bootstrap import bootstrap
    from contactguard.config import load_settings
    from contactguard.entrypoints.api.app import create_app
    from contactguard.services.accounts import AccountInput, upsert_accounts
    from contactguard.services.apikeys import create_api_key

    # Throughput, not abuse: the rate limits and the pumping guard are off (issue 11); the
    # per-contact cooldowns stay on (every flow uses its own account).
    os.environ.update({"CONTACTGUARD_DEV": "1", "CONTACTGUARD_VAR_DIR": db_dir,
                       "CONTACTGUARD_LOG_LEVEL": "WARNING", "CONTACTGUARD_RATE_LIMITS": "off"})
    settings = load_settings()
    upgrade(settings.database_url)
    container = bootstrap(settings, configure_logs=True, start_worker=start_worker)
    container.deps.new_code = lambda: CODE  # the bench client knows the code
    key = create_api_key(container.deps, "bench").secret
    upsert_accounts(container.deps, [
        AccountInput(external_id=f"b{i}", name=f"Bench {i}", country="US",
                     contacts={"emergency_email": f"b{i}@example.com"}) for i in range(accounts)])
    Path(db_dir, "bench_key").write_text(key)
    ready.set()
    uvicorn.run(create_app(container, own_container=True), host="127.0.0.1", port=port,
                log_level="warning", access_log=False)


async def flows(base: str, key: str, clients: int, seconds: float, start_index: int) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(start_index, start_index + 10**9))

    async def client() -> None:
        nonlocal done, errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
            while time.perf_counter() < deadline:
                account = f"b{next(counter) % 20000}"
                t0 = time.perf_counter()
                started = await http.post("/v1/verifications", json={
                    "account": account, "contact": "emergency_email"})
                t1 = time.perf_counter()
                if started.status_code != 201:
                    errors += 1
                    continue
                checked = await http.post(f"/v1/verifications/{started.json()['id']}/check",
                                          json={"code": CODE})
                t2 = time.perf_counter()
                latencies.extend([t1 - t0, t2 - t1])
                if checked.json().get("status") == "approved":
                    done += 1
                else:
                    errors += 1

    begin = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    elapsed = time.perf_counter() - begin
    latencies.sort()
    return {"flows_per_s": done / elapsed, "errors": errors,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}


async def hello(base: str, clients: int, seconds: float) -> float:
    deadline = time.perf_counter() + seconds
    count = 0

    async def client() -> None:
        nonlocal count
        async with httpx.AsyncClient(base_url=base) as http:
            while time.perf_counter() < deadline:
                await http.get("/healthz")
                count += 1

    begin = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return count / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8190)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ready = multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(tmp, args.port, ready), daemon=True)
        server.start()
        if not ready.wait(120):
            sys.exit("server did not start")
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        key = Path(tmp, "bench_key").read_text()
        results = []
        for run in range(args.runs):
            baseline = asyncio.run(hello(base, args.clients, min(args.seconds, 5)))
            # Each run starts on other accounts, so cooldowns never interfere.
            result = asyncio.run(flows(base, key, args.clients, args.seconds, run * 4000))
            result["hello_req_per_s"] = baseline
            results.append(result)
            print(json.dumps({"run": run + 1, **{k: round(v, 1) for k, v in result.items()}}),
                  flush=True)
        server.terminate()
    summary = {k: round(statistics.median(r[k] for r in results), 1) for k in results[0]}
    print(json.dumps({"median": summary}))


if __name__ == "__main__":
    main()
