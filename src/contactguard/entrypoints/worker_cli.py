"""``contactguard worker`` and ``contactguard dkim``: outbox delivery processes and DKIM keys."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from contactguard.errors import ContactGuardError

log = logging.getLogger("contactguard.worker")
dkim_app = typer.Typer(help="DKIM signing keys.", no_args_is_help=True)


def worker(
    concurrency: Annotated[int | None, typer.Option(help="Delivery threads (default: "
                                                         "CONTACTGUARD_WORKER_CONCURRENCY)")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this "
                                                          "port")] = None,
) -> None:
    """Deliver the outbox until SIGTERM/SIGINT; run any number of these on PostgreSQL."""
    from prometheus_client import start_http_server

    from contactguard.bootstrap import bootstrap, worker_name
    from contactguard.config import load_settings
    from contactguard.domain.contacts import Channel
    from contactguard.worker import WorkerPool

    try:
        settings = load_settings()
        container = bootstrap(settings, start_worker=False, configure_logs=True)
    except ContactGuardError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    threads = concurrency or settings.worker_concurrency
    code_threads, webhook_threads = settings.worker_code_threads, settings.worker_webhook_threads
    if settings.is_sqlite:
        # SQLite has one writer at a time; more threads only wait on the lock (each lane
        # still has its own thread, so codes never wait behind webhooks or notices)
        threads = code_threads = webhook_threads = 1
    if not set(container.transports.senders) - {Channel.IN_APP, Channel.WEBHOOK}:
        typer.echo("warning: no email, SMS or voice transport is configured (set "
                   "CONTACTGUARD_SMTP_URL, CONTACTGUARD_TWILIO_*, or CONTACTGUARD_DEV=1); "
                   "only webhooks, in-app notices and scheduled jobs run", err=True)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.host,
                          registry=container.extras["metrics"].registry)
    pool = WorkerPool(container.deps, container.transports, owner=worker_name("worker"),
                      concurrency=threads, batch=settings.worker_batch,
                      poll_seconds=settings.worker_poll_seconds,
                      periodic=container.periodic_jobs, code_threads=code_threads,
                      code_batch=settings.worker_code_batch, webhook_threads=webhook_threads)

    listener = None
    if not settings.is_sqlite:  # commits that queue messages NOTIFY: deliver at once
        from contactguard.adapters.db.notify import OutboxListener

        listener = OutboxListener(container.engine, pool.wake)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping: finishing in-flight messages", extra={"signal": signum})
        pool.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("worker started", extra={"threads": threads, "code_threads": code_threads,
                                      "webhook_threads": webhook_threads, "channels":
                                      sorted(c.value for c in container.transports.senders)})
    print(f"worker ready ({threads} thread(s))", flush=True)
    pool.start()
    if listener is not None:
        listener.start()
    while not pool.join(0.5):
        pass
    if listener is not None:
        listener.stop()
    container.close()
    log.info("worker stopped", extra={"sent": pool.delivered})


@dkim_app.command("keygen")
def keygen(
    selector: Annotated[str, typer.Option(help="DNS selector, e.g. cg2026")],
    out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600)")],
    algorithm: Annotated[str, typer.Option(help="ed25519 or rsa (2048 bits)")] = "ed25519",
    domain: Annotated[str | None, typer.Option(help="Signing domain (default: that of "
                                                    "CONTACTGUARD_MAIL_FROM)")] = None,
) -> None:
    """Write a new DKIM key and print the DNS TXT record to publish for it."""
    from contactguard.adapters.delivery.dkim import dns_txt_record, generate_key, write_key
    from contactguard.adapters.delivery.smtp import parse_mail_from
    from contactguard.config import load_settings

    try:
        if domain is None:
            mail_from = load_settings(require_secret=False).mail_from
            domain = parse_mail_from(mail_from).domain if mail_from else "<domain>"
        key = generate_key(algorithm, selector)
    except ContactGuardError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    if out.exists():
        typer.echo(f"error: {out} exists; choose another path", err=True)
        raise typer.Exit(2)
    write_key(key, out)
    print(dns_txt_record(key, domain))
    print(f"key written to {out}; add '{selector}={out}' to CONTACTGUARD_DKIM_KEYS",
          file=sys.stderr)
