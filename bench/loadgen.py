"""A lean asyncio HTTP/1.1 load generator for the verification-flow benchmarks.

Why not httpx: on a 2-core machine the client shares the CPU with the server under test, so
every microsecond the client spends per request is taken from the server. httpx's async
client costs several times more CPU per request than this one (see ``calibrate`` in
compare_flows.py, which measures both against the same trivial endpoint and reports the
client's own CPU time per request).

What it does: N concurrent virtual clients, each with ONE connection reused with keep-alive
when the server allows it (uvicorn does) and re-opened when the server answers
``Connection: close`` (gunicorn's sync worker always does); bodies framed by Content-Length,
chunked encoding or close. Each client loops over a *scenario*: an async function that runs
one flow through a ``Conn`` and returns True when the flow ended as expected. The latency of
every request and of every whole flow is recorded, so the report has both.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


class HTTPError(Exception):
    """An unexpected status or body: the flow counts as an error (status kept for the report)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass
class Stats:
    requests: int = 0
    flows_ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    request_latencies: list[float] = field(default_factory=list)
    flow_latencies: list[float] = field(default_factory=list)


class Conn:
    """One HTTP/1.1 connection to ``host:port`` (reconnects when the server closes it)."""

    def __init__(self, host: str, port: int, stats: Stats) -> None:
        self.host, self.port, self.stats = host, port, stats
        self._host_header = f"{host}:{port}".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: Any = None,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; returns (status, body). Timed into ``stats.request_latencies``."""
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        if body is not None:
            head.append(b"Content-Type: application/json")
        head.append(b"Content-Length: %d" % len(payload))
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}".encode())
        raw = b"\r\n".join(head) + b"\r\n\r\n" + payload
        t0 = time.perf_counter()
        reused = self.writer is not None
        try:
            result = await self._exchange(raw)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server dropped an idle keep-alive connection: retry once on a new one.
            self.close()
            t0 = time.perf_counter()
            result = await self._exchange(raw)
        self.stats.request_latencies.append(time.perf_counter() - t0)
        self.stats.requests += 1
        return result

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is not None:
            body = await self.reader.readexactly(length)
        elif chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body


Scenario = Callable[[Conn, int], Awaitable[None]]


async def drive(host: str, port: int, scenario: Scenario, *, clients: int, seconds: float,
                next_index: Callable[[], int]) -> tuple[Stats, float, float]:
    """Run ``clients`` loops of ``scenario`` for ``seconds``: (stats, wall seconds, client CPU s).

    ``scenario(conn, index)`` raises HTTPError (or any exception) when a flow fails.
    ``next_index()`` hands out the account/user number each flow uses.
    """
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        conn = Conn(host, port, stats)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    await scenario(conn, next_index())
                except HTTPError as exc:
                    stats.errors[exc.what] += 1
                    continue
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
                    stats.errors[type(exc).__name__] += 1
                    conn.close()
                    continue
                stats.flow_latencies.append(time.perf_counter() - t0)
                stats.flows_ok += 1
        finally:
            conn.close()

    cpu0 = time.process_time()
    begin = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return stats, time.perf_counter() - begin, time.process_time() - cpu0


def merge(parts: list[tuple[Stats, float, float]]) -> tuple[Stats, float, float]:
    """Combine the results of several client processes that ran side by side."""
    total = Stats()
    for stats, _, _ in parts:
        total.requests += stats.requests
        total.flows_ok += stats.flows_ok
        total.errors.update(stats.errors)
        total.request_latencies.extend(stats.request_latencies)
        total.flow_latencies.extend(stats.flow_latencies)
    return total, max(p[1] for p in parts), sum(p[2] for p in parts)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values.sort()
    return 1000 * values[min(len(values) - 1, int(len(values) * q))]


def summarize(stats: Stats, elapsed: float, cpu: float) -> dict[str, Any]:
    return {
        "flows_per_s": stats.flows_ok / elapsed,
        "flows_ok": stats.flows_ok,
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
        "req_per_s": stats.requests / elapsed,
        "req_p50_ms": _pct(stats.request_latencies, 0.50),
        "req_p99_ms": _pct(stats.request_latencies, 0.99),
        "flow_p50_ms": _pct(stats.flow_latencies, 0.50),
        "flow_p99_ms": _pct(stats.flow_latencies, 0.99),
        # The client's own CPU: share of one core, and microseconds per request.
        "client_cpu_pct": 100 * cpu / elapsed,
        "client_cpu_us_per_req": 1e6 * cpu / max(stats.requests, 1),
    }


async def hello(conn: Conn, index: int) -> None:
    """Scenario: one GET /healthz (the framework baseline and the client calibration)."""
    status, _ = await conn.request("GET", "/healthz")
    if status != 200:
        raise HTTPError(f"healthz {status}")


async def httpx_hello(base: str, *, clients: int, seconds: float) -> dict[str, Any]:
    """The same /healthz load through httpx.AsyncClient, to show what the lean client saves."""
    import httpx

    count = 0
    # Clients (and their TLS contexts, which httpx builds eagerly) are made and connected
    # before the clock starts, so only the steady state is measured.
    https = [httpx.AsyncClient(base_url=base, timeout=10) for _ in range(clients)]
    for http in https:
        await http.get("/healthz")

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await http.get("/healthz")
            count += 1

    cpu0 = time.process_time()
    begin = time.perf_counter()
    deadline = begin + seconds
    await asyncio.gather(*[client(http) for http in https])
    elapsed = time.perf_counter() - begin
    cpu = time.process_time() - cpu0
    for http in https:
        await http.aclose()
    return {"req_per_s": count / elapsed, "client_cpu_pct": 100 * cpu / elapsed,
            "client_cpu_us_per_req": 1e6 * cpu / max(count, 1)}
