"""Where one verification flow's server CPU goes, and the floor of each part (issue 10).

In one process, in the ``make run`` configuration (dev mode, SQLite in WAL mode, emails
rendered, MIME-built, DKIM-signed with the dev Ed25519 + RSA keys and sent over SMTP to the
embedded dev SMTP server, a child process), it runs ``--flows`` flows through the real
services, one after the other (no concurrency, so nothing waits on a lock):

- ``start_verification`` (the API's POST /v1/verifications),
- ``deliver_due`` on the code lane (what the outbox worker thread does for that code),
- ``list_captured_messages`` (one poll of GET /v1/dev/messages?to=),
- ``check_code`` (POST /v1/verifications/{id}/check),

and reports, per step, CPU per call, the number of SQL statements and the time spent in the
SQLite driver for them (the rest is Python: SQLAlchemy statement building, our services);
per distinct statement, its driver time; and the floors measured on their own: the web
framework with our middleware (an in-process ASGI call of /healthz, no socket), a bare
FastAPI route, template rendering, MIME building, DKIM signing (Ed25519, RSA), and one SMTP
transaction to the dev SMTP child (wall time: it includes the child's parse and insert).

    .venv/bin/python bench/flow_floors.py --flows 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

CODE = "246810"


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    fn()
    t0 = time.thread_time()
    for _ in range(n):
        fn()
    return 1e6 * (time.thread_time() - t0) / n


def asgi_get(app: Any, path: str) -> Callable[[], None]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    def call() -> None:
        loop.run_until_complete(app(dict(scope), receive, send))

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=300)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-floors-")
    os.environ.update({"CONTACTGUARD_DEV": "1", "CONTACTGUARD_VAR_DIR": tmp,
                       "CONTACTGUARD_LOG_LEVEL": "WARNING", "CONTACTGUARD_RATE_LIMITS": "off"})
    from sqlalchemy import event

    from contactguard.adapters.db.migrate import upgrade
    from contactguard.adapters.delivery.dkim import DkimSigner, load_keys
    from contactguard.adapters.delivery.mime import build_email, message_id
    from contactguard.bootstrap import bootstrap, start_dev_smtp
    from contactguard.config import load_settings
    from contactguard.domain.contacts import Channel, ContactKind
    from contactguard.domain.messages import Lane
    from contactguard.entrypoints.api.app import create_app
    from contactguard.services.accounts import AccountInput, upsert_accounts
    from contactguard.services.delivery import deliver_due
    from contactguard.services.dev import list_captured_messages
    from contactguard.services.verification import check_code, start_verification

    settings = load_settings()
    upgrade(settings.database_url)
    smtp, settings = start_dev_smtp(settings)
    container = bootstrap(settings, start_worker=False)
    try:
        deps = container.deps
        deps.new_code = lambda: CODE
        n = args.flows
        upsert_accounts(deps, [AccountInput(external_id=f"b{i}", name=f"Bench {i}", country="US",
                                            contacts={"emergency_email": f"b{i}@example.com"})
                               for i in range(n + 1)])

        phase = ["other"]
        statements: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # phase -> [count, ns]
        per_statement: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        started: dict[int, int] = {}

        @event.listens_for(container.engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, sql: str, *a: Any) -> None:
            started[id(cursor)] = time.perf_counter_ns()

        @event.listens_for(container.engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, sql: str, *a: Any) -> None:
            took = time.perf_counter_ns() - started.pop(id(cursor), time.perf_counter_ns())
            statements[phase[0]][0] += 1
            statements[phase[0]][1] += took
            key = f"{phase[0]}: {' '.join(sql.split())[:90]}"
            per_statement[key][0] += 1
            per_statement[key][1] += took

        renderer = container.transports.renderer
        sender = container.transports.senders[Channel.EMAIL]
        timings: dict[str, list[float]] = defaultdict(list)
        rendered_one: list[Any] = []
        real_render, real_send = renderer.render, sender.send

        def timed_render(message: Any) -> Any:
            t0 = time.thread_time()
            out = real_render(message)
            timings["render"].append(time.thread_time() - t0)
            rendered_one[:] = [out]
            return out

        def timed_send(message: Any, **kw: Any) -> Any:
            t0, w0 = time.thread_time(), time.perf_counter()
            out = real_send(message, **kw)
            timings["smtp_send_cpu"].append(time.thread_time() - t0)
            timings["smtp_send_wall"].append(time.perf_counter() - w0)
            return out

        renderer.render = timed_render  # type: ignore[method-assign]
        sender.send = timed_send  # type: ignore[method-assign]

        cpu: dict[str, float] = defaultdict(float)
        wall_flow: list[float] = []
        for i in range(n):
            w0 = time.perf_counter()
            phase[0] = "start"
            t0 = time.thread_time()
            view = start_verification(deps, account=f"b{i}", contact=ContactKind.EMERGENCY_EMAIL)
            cpu["start"] += time.thread_time() - t0
            phase[0] = "deliver"
            t0 = time.thread_time()
            deliver_due(deps, container.transports, owner="floors", limit=1, lanes=(Lane.CODE,))
            cpu["deliver"] += time.thread_time() - t0
            phase[0] = "poll"
            t0 = time.thread_time()
            found = list_captured_messages(deps, to=f"b{i}@example.com", limit=1)
            cpu["poll"] += time.thread_time() - t0
            if not found:
                sys.exit("the dev SMTP child did not store the email in time")
            phase[0] = "check"
            t0 = time.thread_time()
            result = check_code(deps, view.id, CODE)
            cpu["check"] += time.thread_time() - t0
            wall_flow.append(time.perf_counter() - w0)
            assert result.status.value == "approved"
        phase[0] = "other"

        steps = {}
        for name in ("start", "deliver", "poll", "check"):
            count, ns = statements[name]
            steps[name] = {"cpu_ms": round(1000 * cpu[name] / n, 3),
                           "statements": round(count / n, 1),
                           "driver_ms": round(ns / 1e6 / n, 3),
                           "python_ms": round(1000 * cpu[name] / n - ns / 1e6 / n, 3)}
        print(json.dumps({"steps_per_flow": steps,
                          "flow_cpu_ms": round(1000 * sum(cpu.values()) / n, 2),
                          "flow_wall_ms_median": round(1000 * statistics.median(wall_flow), 2)}))
        top = sorted(per_statement.items(), key=lambda kv: -kv[1][1])
        print(json.dumps({"statements_by_driver_time": [
            {"sql": k, "per_flow": round(c / n, 2), "us_each": round(ns / c / 1000, 1)}
            for k, (c, ns) in top[:30]]}))

        # Floors of the parts, on their own.
        app = create_app(container)
        floors: dict[str, float] = {}
        floors["asgi_healthz_our_app_us"] = per_call_us(asgi_get(app, "/healthz"), 3000)
        from fastapi import FastAPI
        from fastapi.responses import Response

        bare = FastAPI()

        @bare.get("/hello")
        async def hello() -> Response:
            return Response(b'{"status":"ok"}', media_type="application/json")

        floors["asgi_bare_fastapi_us"] = per_call_us(asgi_get(bare, "/hello"), 3000)
        floors["render_us"] = 1e6 * statistics.median(timings["render"])
        message = rendered_one[0]
        mail_from = sender._from  # noqa: SLF001 - the configured sender address
        ident = message_id(message, mail_from.domain)
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        raw = build_email(message, mail_from=mail_from, sent_at=now, message_id_value=ident)
        floors["mime_us"] = per_call_us(lambda: build_email(
            message, mail_from=mail_from, sent_at=now, message_id_value=ident), 2000)
        keys = load_keys(settings.dkim_keys)
        for key in keys:
            signer = DkimSigner(mail_from.domain, [key])
            floors[f"dkim_{key.algorithm}_us"] = per_call_us(
                lambda s=signer: s.sign(raw, int(now.timestamp())), 300)
        floors["smtp_send_wall_us_median"] = 1e6 * statistics.median(timings["smtp_send_wall"])
        floors["smtp_send_cpu_us_median_incl_mime_dkim"] = 1e6 * statistics.median(
            timings["smtp_send_cpu"])
        print(json.dumps({"floors_us": {k: round(v, 1) for k, v in floors.items()}}))
    finally:
        container.close()
        smtp.stop()


if __name__ == "__main__":
    main()
