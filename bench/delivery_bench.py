"""Email delivery throughput: rendered + DKIM-signed + accepted by a local SMTP server.

Compares, in the same run and against the same aiosmtpd server (its own process):
  * the raw SMTP ceiling: smtplib, one connection, one pre-built unsigned message resent;
  * ContactGuard's pipeline: MessageRenderer -> MIME bytes -> DKIM (Ed25519, RSA-2048 or both)
    -> SmtpSender (reused connection per thread, the production code path with its hand-over
    point between the message and the final "."), with 1 or more sender threads, and in
    several processes (as several `contactguard worker` processes run).
Prints each figure as the median of --runs runs, and its ratio to the ceiling.

    .venv/bin/python bench/delivery_bench.py --messages 2000 --runs 5
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import statistics
import threading
import time
from datetime import UTC, datetime

from contactguard.adapters.clock import SystemClock
from contactguard.adapters.delivery.dev_smtp import free_loopback_port
from contactguard.adapters.delivery.dkim import DkimSigner, generate_key
from contactguard.adapters.delivery.smtp import SmtpSender, parse_mail_from, parse_smtp_url
from contactguard.adapters.templates import MessageRenderer
from contactguard.domain.contacts import Channel
from contactguard.domain.messages import MessageKind, MessageStatus, StoredMessage


def _serve(port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


def _no_db() -> None:
    """The worker commits its hand-over mark here; the benchmark has no database."""


def _stored(i: int) -> StoredMessage:
    return StoredMessage(
        id=i, reference=f"CG-{i:04d}-BENC"[:12], kind=MessageKind.VERIFICATION_CODE,
        channel=Channel.EMAIL, recipient=f"seller{i}@shop.example.com",
        locale="zh-Hans" if i % 2 else "en", account_id=i,
        params={"platform_name": "Acme Market", "host": "sellers.acme.example",
                "account_name": f"Seller {i}", "ttl_minutes": 10},
        secret_params={"code": f"{i % 1_000_000:06d}", "security_phrase": "blue heron at dawn"},
        challenge_id=None, not_after=None, status=MessageStatus.SENDING, attempts=1,
        created_at=datetime.now(UTC))


def raw_ceiling(url: str, count: int, template: bytes) -> float:
    target = parse_smtp_url(url)
    conn = smtplib.SMTP(target.host, target.port)
    conn.ehlo()
    started = time.perf_counter()
    for i in range(count):
        conn.sendmail("no-reply@acme.example", [f"seller{i}@shop.example.com"], template)
    elapsed = time.perf_counter() - started
    conn.quit()
    return count / elapsed


def pipeline(url: str, count: int, keys: list, threads: int) -> float:
    renderer = MessageRenderer()
    signer = DkimSigner("acme.example", keys) if keys else None
    sender = SmtpSender(parse_smtp_url(url), parse_mail_from("Acme Market <no-reply@acme.example>"),
                        SystemClock(), signer=signer)
    messages = [_stored(i) for i in range(count)]
    sender.send(renderer.render(messages[0]))  # warm the first connection

    def work(part: list[StoredMessage]) -> None:
        for stored in part:
            sender.send(renderer.render(stored), handover=_no_db)

    parts = [messages[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=work, args=(part,)) for part in parts]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    sender.close()
    return count / elapsed


def _process_part(url: str, first: int, count: int, pems: list[tuple[str, bytes]], threads: int,
                  barrier: multiprocessing.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    from cryptography.hazmat.primitives import serialization

    from contactguard.adapters.delivery.dkim import DkimKey

    keys = [DkimKey(sel, serialization.load_pem_private_key(pem, None)) for sel, pem in pems]  # type: ignore[arg-type]
    renderer = MessageRenderer()
    sender = SmtpSender(parse_smtp_url(url), parse_mail_from("Acme Market <no-reply@acme.example>"),
                        SystemClock(), signer=DkimSigner("acme.example", keys) if keys else None)
    messages = [_stored(first + i) for i in range(count)]
    parts = [messages[i::threads] for i in range(threads)]

    def work(part: list[StoredMessage]) -> None:
        try:
            sender.send(renderer.render(part[0]))  # connect before the clock starts
        finally:
            barrier.wait()
        for stored in part[1:]:
            sender.send(renderer.render(stored), handover=_no_db)

    workers = [threading.Thread(target=work, args=(part,)) for part in parts]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sender.close()


def pipeline_processes(url: str, count: int, keys: list, processes: int, threads: int) -> float:
    """The pipeline in several processes (as several `contactguard worker` processes run)."""
    from cryptography.hazmat.primitives import serialization

    pems = [(k.selector, k.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())) for k in keys]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    barrier = spawn.Barrier(processes * threads + 1, timeout=120)
    share = count // processes
    procs = [spawn.Process(target=_process_part,
                                     args=(url, i * share, share, pems, threads, barrier))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    barrier.wait()
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    return (share - threads) * processes / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--processes", type=int, default=2,
                        help="also run the pipeline in this many processes x 2 threads (0: no)")
    args = parser.parse_args()

    port = free_loopback_port()
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    server = spawn.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    url = f"smtp://127.0.0.1:{port}"
    ed, rsa = generate_key("ed25519", "ed"), generate_key("rsa", "rsa")
    sample = SmtpSender(parse_smtp_url(url), parse_mail_from("no-reply@acme.example"),
                        SystemClock()).render_bytes(MessageRenderer().render(_stored(1)))[1]
    variants = [("unsigned", []), ("ed25519", [ed]), ("rsa-2048", [rsa]),
                ("ed25519+rsa", [ed, rsa])]
    results: dict[str, list[float]] = {"raw ceiling (1 conn, unsigned)": []}
    for _ in range(args.runs):
        results["raw ceiling (1 conn, unsigned)"].append(raw_ceiling(url, args.messages, sample))
        for name, keys in variants:
            for threads in args.threads:
                label = f"pipeline {name}, {threads} thread(s)"
                results.setdefault(label, []).append(pipeline(url, args.messages, keys, threads))
            if args.processes:
                label = f"pipeline {name}, {args.processes} processes x 2 threads"
                results.setdefault(label, []).append(
                    pipeline_processes(url, args.messages, keys, args.processes, 2))
    server.terminate()
    ceiling = statistics.median(results["raw ceiling (1 conn, unsigned)"])
    print(f"{'what':<42} {'msg/s':>8} {'x ceiling':>9}")
    for label, values in results.items():
        median = statistics.median(values)
        print(f"{label:<42} {median:>8.0f} {median / ceiling:>9.2f}")


if __name__ == "__main__":
    main()
