"""The composition root: the one place that reads settings and builds engines and adapters."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from contactguard.adapters.clock import SystemClock
from contactguard.adapters.crypto import FernetSecretBox, HmacCodeHasher
from contactguard.adapters.db.engine import make_engine
from contactguard.adapters.db.notify import notify_outbox
from contactguard.adapters.db.uow import SqlUnitOfWork
from contactguard.adapters.delivery.capture import CaptureSender
from contactguard.adapters.delivery.dkim import generate_key, write_key
from contactguard.adapters.delivery.in_app import InAppSender
from contactguard.adapters.delivery.providers import build_senders, callback_validator
from contactguard.adapters.delivery.webhook import WebhookSender
from contactguard.adapters.holidays import HolidayCalendars
from contactguard.adapters.metrics import DeliveryMetricsCollector, ProtectionMetrics
from contactguard.adapters.net import SystemResolver
from contactguard.adapters.operator_auth import Argon2Passwords, TotpFactor
from contactguard.adapters.phishing.fingerprint import MinHashFingerprints
from contactguard.adapters.phishing.inspector import MailInspector
from contactguard.adapters.policy_file import read_policy_file
from contactguard.adapters.ratelimit import LimitsRateLimiter
from contactguard.adapters.templates import MessageRenderer
from contactguard.config import Settings, create_file_once, load_settings
from contactguard.domain.compliance import Policy
from contactguard.domain.contacts import Channel
from contactguard.domain.delivery import RetryPolicy
from contactguard.domain.inbound import InboundAddresses, verp_key
from contactguard.domain.operators import LoginThrottle
from contactguard.domain.webhooks import WEBHOOK_RETRY
from contactguard.logs import configure_logging
from contactguard.ports import Clock, Resolver, Sender
from contactguard.services import abuse, campaign_messages, webhooks
from contactguard.services.apikeys import ApiKeyAuthenticator
from contactguard.services.campaign_runner import CampaignGate, CampaignRunner
from contactguard.services.compliance import refresh_due_states
from contactguard.services.console import record_daily_figures
from contactguard.services.delivery import Transports
from contactguard.services.deps import Branding, Deps
from contactguard.services.ledger import purge_ledger
from contactguard.services.operator_auth import purge_failures
from contactguard.services.policy import PolicyStore
from contactguard.services.protection import purge_contact_changes
from contactguard.services.web_sessions import purge_sessions
from contactguard.worker import BackgroundWorker, PeriodicJob

if TYPE_CHECKING:
    from contactguard.adapters.delivery.dev_smtp import DevSmtpServer
    from contactguard.adapters.inbound_smtp import InboundSmtpServer

log = logging.getLogger("contactguard")


@dataclass
class Container:
    """Everything a running ContactGuard process uses, wired together."""

    settings: Settings
    engine: Engine
    deps: Deps
    transports: Transports
    authenticator: ApiKeyAuthenticator
    worker: BackgroundWorker | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    #: Jobs any worker process runs on a timer (the in-process worker, `contactguard worker`).
    periodic_jobs: list[PeriodicJob] = field(default_factory=list)

    def wake_worker(self, lanes: frozenset[str] | None = None) -> None:
        """Wake the in-process worker's threads of ``lanes`` (default: every lane)."""
        if self.worker is not None:
            self.worker.wake(lanes)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        for sender in {id(s): s for s in self.transports.senders.values()}.values():
            close = getattr(sender, "close", None)
            if close is not None:
                close()
        resolver_close = getattr(self.deps.resolver, "close", None)
        if resolver_close is not None:
            resolver_close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              senders: dict[Channel, Sender] | None = None, start_worker: bool | None = None,
              configure_logs: bool = False, resolver: Resolver | None = None) -> Container:
    """Build a container from ``settings`` (default: the environment).

    ``senders`` replaces the transports (tests pass fakes); ``start_worker`` overrides whether
    an in-process outbox worker thread runs; ``resolver`` replaces DNS (tests).
    """
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.log_level, json_lines=settings.log_json)
    engine = make_engine(settings.database_url)
    clock = clock or SystemClock()
    container_ref: list[Container] = []

    def on_outbox(lanes: frozenset[str]) -> None:
        if container_ref:
            container_ref[0].wake_worker(lanes)

    write_lock = threading.RLock() if settings.is_sqlite else None

    notify = None if settings.is_sqlite else notify_outbox

    def write_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, on_outbox=on_outbox, write_lock=write_lock, notify=notify)

    def read_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, write=False)

    deps = Deps(
        uow=write_uow,
        read_uow=read_uow,
        clock=clock,
        hasher=HmacCodeHasher(settings.secret_key),
        box=FernetSecretBox(settings.secret_key),
        branding=Branding(platform_name=settings.platform_name,
                          public_host=settings.public_host,
                          public_url=settings.public_url.rstrip("/")),
        allow_unknown_line_types=settings.allow_unknown_line_types,
    )
    # Policy and eligibility, webhooks, audit (issue 5)
    deps.policy_source = PolicyStore(deps.reader, _file_policy(settings))
    deps.audit_key = hmac.new(settings.secret_key.encode(), b"contactguard audit chain",
                              hashlib.sha256).digest()
    # Operator console (issue 8)
    deps.passwords = Argon2Passwords()
    deps.second_factor = TotpFactor(f"{settings.platform_name} console")
    deps.login_throttle = LoginThrottle(
        per_email=settings.console_login_failures, per_ip=settings.console_login_ip_failures,
        window=timedelta(minutes=settings.console_login_window_minutes))
    # Sent ledger and message checker (issue 9)
    deps.ledger_key = hmac.new(settings.secret_key.encode(), b"contactguard sent ledger",
                               hashlib.sha256).digest()
    deps.inspector = build_inspector(settings)
    # Inbound mail and phishing waves (issue 9)
    deps.inbound = inbound_addresses(settings)
    deps.verp_key = verp_key(settings.secret_key)
    deps.fingerprints = MinHashFingerprints()
    chosen = dict(senders or _senders(settings, write_uow, deps))
    chosen.setdefault(Channel.IN_APP, InAppSender())  # the message center: local in every mode
    # Delivery isolation and hardening (issue 11): webhook addresses are checked, then pinned
    deps.resolver = resolver or SystemResolver()
    deps.webhook_allow_private = settings.webhook_allow_private
    chosen.setdefault(Channel.WEBHOOK, WebhookSender(
        write_uow, deps.box, resolver=deps.resolver, timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private))
    metrics = DeliveryMetricsCollector()
    # Shared limits and abuse protection (issue 11)
    protection_metrics = ProtectionMetrics(metrics.registry)
    deps.protection_event = protection_metrics.event
    if settings.rate_limits == "off":
        log.warning("CONTACTGUARD_RATE_LIMITS=off: rate limits and the SMS-pumping guard are "
                    "OFF (load tests only); per-contact cooldowns and attempt limits stay on")
    else:
        deps.limiter = LimitsRateLimiter(
            settings.redis_url, namespace=settings.redis_prefix,
            on_store_error=partial(protection_metrics.event, "store_error", ""))
    deps.on_inbound = metrics.record_inbound
    # Campaigns (issue 8): holiday calendars, the renderer's policy reasons, the delivery gate
    deps.calendars = HolidayCalendars()
    renderer = MessageRenderer(extra_context=partial(campaign_messages.render_context, deps))
    deps.renderer = renderer
    transports = Transports(senders=chosen, renderer=renderer, metrics=metrics,
                            retry=RetryPolicy(max_attempts=16),  # ~45 min of outage
                            retry_by_channel={Channel.WEBHOOK: WEBHOOK_RETRY},
                            on_outcome={Channel.WEBHOOK: partial(webhooks.delivery_outcome, deps)},
                            lease=timedelta(seconds=settings.worker_lease_seconds))
    periodic = [PeriodicJob("compliance-refresh", settings.compliance_refresh_seconds,
                            partial(refresh_due_states, deps, budget_seconds=10.0)),
                PeriodicJob("contact-changes-purge", 3600.0,
                            partial(purge_contact_changes, deps)),
                PeriodicJob("web-sessions-purge", 3600.0, partial(purge_sessions, deps)),
                # Operator console (issue 8)
                PeriodicJob("console-daily-figures", 600.0, partial(record_daily_figures, deps)),
                PeriodicJob("login-failures-purge", 3600.0, partial(purge_failures, deps)),
                PeriodicJob("phone-sends-purge", 3600.0, partial(abuse.purge_phone_sends, deps)),
                PeriodicJob("sent-ledger-purge", 3600.0,
                            partial(purge_ledger, deps,
                                    retention_days=settings.ledger_retention_days))]
    runner = CampaignRunner(deps, batch=settings.campaign_batch)
    transports.gate = CampaignGate(deps)
    periodic.append(PeriodicJob("campaigns", settings.campaign_tick_seconds,
                                partial(runner.run, budget_seconds=5.0)))
    container = Container(settings=settings, engine=engine, deps=deps, transports=transports,
                          authenticator=ApiKeyAuthenticator(deps), periodic_jobs=periodic)
    container.extras["metrics"] = metrics
    container.extras["campaign_runner"] = runner
    container.extras["twilio_validator"] = callback_validator(settings)
    container_ref.append(container)
    run_worker = start_worker if start_worker is not None else settings.run_inprocess_worker
    if run_worker and not set(transports.senders) - {Channel.IN_APP, Channel.WEBHOOK}:
        log.warning("no delivery transports are configured: the outbox is kept until a worker "
                    "with transports runs (set CONTACTGUARD_DEV=1 to capture messages locally)")
    elif run_worker:
        container.worker = BackgroundWorker(deps, transports, owner=worker_name("inproc"),
                                            periodic=periodic)
        container.worker.start()
    return container


def build_inspector(settings: Settings) -> MailInspector:
    """The message checker's adapter: the brand's names and domains, our DKIM keys."""
    from email.utils import parseaddr

    mail_domain = parseaddr(settings.mail_from_address)[1].rpartition("@")[2].lower()
    names = [settings.platform_name, *_csv(settings.brand_aliases)]
    domains = [*_csv(settings.brand_domains), mail_domain, settings.public_host,
               settings.bounce_mail_domain]  # our VERP return path (inbound mail)
    return MailInspector(brand_names=names, brand_domains=[d for d in domains if d],
                         dkim_domain=mail_domain, dkim_spec=settings.dkim_keys,
                         dev_key_dir=settings.var_dir / "dkim" if settings.dev else None)


def inbound_addresses(settings: Settings) -> InboundAddresses:
    """How inbound mail is sorted: the report address, the VERP domain, our From address."""
    own = parseaddr(settings.mail_from_address)[1].lower()
    return InboundAddresses(report_address=settings.report_mailbox,
                            bounce_domain=settings.bounce_mail_domain,
                            verp_prefix=settings.verp_prefix,
                            own_addresses=frozenset({own} if own else set()),
                            wave_threshold=settings.wave_threshold,
                            wave_similarity=settings.wave_similarity)


def inbound_server(container: Container, *, host: str | None = None,
                   port: int | None = None) -> InboundSmtpServer:
    """The SMTP listener of ``contactguard inbound`` (not started), handing each message to
    ``receive_inbound``; it accepts the mail, bounce and report domains only."""
    from contactguard.adapters.inbound_smtp import InboundSmtpServer
    from contactguard.services.inbound import receive_inbound

    settings = container.settings
    domains = {settings.mail_domain_name, settings.bounce_mail_domain,
               settings.report_mailbox.rpartition("@")[2]}
    return InboundSmtpServer(partial(receive_inbound, container.deps),
                             host=host or settings.inbound_host,
                             port=port if port is not None else settings.inbound_port,
                             domains=domains)


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def worker_name(role: str) -> str:
    """An id for leases: host, pid and role, so a stuck lease can be traced to its process."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{role}"


def _file_policy(settings: Settings) -> Policy:
    """The policy file's policy, or the defaults when there is none."""
    path = settings.policy_file
    if path is None:
        path = Path("contactguard.toml")
        if not path.is_file():
            return Policy()
    return read_policy_file(path)


def _senders(settings: Settings, uow_factory: Callable[[], SqlUnitOfWork],
             deps: Deps) -> dict[Channel, Sender]:
    """The transport for each channel: SMTP and providers when configured; in dev mode the
    capture stands in for any channel left without one."""
    senders = build_senders(settings, deps.clock)
    if settings.dev:
        capture = CaptureSender(uow_factory, deps.clock)
        for channel in (Channel.EMAIL, Channel.SMS, Channel.VOICE):
            senders.setdefault(channel, capture)
    if senders:
        senders.setdefault(Channel.IN_APP, InAppSender())
    return senders


def start_dev_smtp(settings: Settings) -> tuple[DevSmtpServer, Settings]:
    """Start the embedded SMTP server (a child process storing into the database); returns
    it and settings that send DKIM-signed mail to it
    (dev keys, Ed25519 and RSA, are created under ``var/dkim`` unless DKIM_KEYS is set)."""
    from contactguard.adapters.delivery.dev_smtp import DevSmtpServer

    server = DevSmtpServer(settings.database_url)
    server.start()
    updates: dict[str, object] = {"smtp_url": server.url}
    if not settings.dkim_keys:
        updates["dkim_keys"] = _dev_dkim_keys(settings.var_dir / "dkim")
    return server, settings.model_copy(update=updates)


def _dev_dkim_keys(folder: Path) -> str:
    specs = []
    for selector, algorithm in (("dev-ed25519", "ed25519"), ("dev-rsa", "rsa")):
        path = folder / f"{selector}.pem"
        if not path.exists():  # written aside and linked: processes starting together agree
            aside = folder / f".{selector}.{os.getpid()}.pem"
            write_key(generate_key(algorithm, selector), aside)
            create_file_once(path, aside.read_bytes())
            aside.unlink()
        specs.append(f"{selector}={path}")
    return ",".join(specs)
