"""Settings read from ``CONTACTGUARD_*`` environment variables.

Nothing here runs at import time: :func:`load_settings` builds a :class:`Settings` when the
composition root (``bootstrap``) asks for one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contactguard.errors import ConfigurationError

_MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Every knob ContactGuard has. See README "Configuration" for the full list."""

    model_config = SettingsConfigDict(env_prefix="CONTACTGUARD_", extra="ignore")

    dev: bool = Field(False, description="Dev mode: captured delivery, demo data, /v1/dev routes.")
    var_dir: Path = Field(Path("var"), description="Where local state (SQLite file, dev key) lives.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite file under var_dir.")
    secret_key: str = Field("", description="Keys code hashes and payload encryption (>= 32 chars).")
    public_url: str = Field("http://127.0.0.1:8000", description="Base URL sellers and links use.")
    platform_name: str = Field("ContactGuard", description="Who messages say they come from.")
    host: str = "127.0.0.1"
    port: int = 8000
    allow_unknown_line_types: bool = Field(
        False, description="Accept phone numbers whose line type libphonenumber cannot tell."
    )
    inprocess_worker: bool | None = Field(
        None, description="Deliver the outbox from a thread of the web process (default: on for SQLite)."
    )
    log_level: str = "INFO"
    # Policy and eligibility, webhooks, audit (issue 5)
    policy_file: Path | None = Field(
        None, description="TOML policy file (default: ./contactguard.toml when it exists).")
    compliance_refresh_seconds: float = Field(
        60.0, description="How often the worker moves accounts to due soon / overdue.")
    webhook_timeout_seconds: float = Field(10.0, description="Timeout of one webhook POST.")
    log_json: bool = Field(True, description="One JSON object per log line.")
    # --- Seller Center (web pages) ---
    frame_ancestors: str = Field(
        "", description="Space-separated origins allowed to frame the seller pages (CSP "
        "frame-ancestors); empty: none may.")
    session_hours: int = Field(8, ge=1, le=72, description="How long a seller session lasts.")

    # --- Delivery: SMTP, DKIM, SMS/voice providers, workers (see README "Delivery") ---
    smtp_url: str = Field("", description="smtp://[user:pass@]host:port (?starttls=1), smtps://...")
    smtp_timeout: float = Field(30.0, description="Seconds before an SMTP operation gives up.")
    mail_from: str = Field("", description="'Name <no-reply@domain>'; DKIM signs for its domain.")
    dkim_keys: str = Field("", description="selector=path[,selector=path]: PEM keys (RSA, Ed25519).")
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = Field("", description="E.164 number (or sender id) SMS/calls come from.")
    twilio_base_url: str = Field("https://api.twilio.com", description="Twilio-compatible API root.")
    gateway_url: str = Field("", description="Generic HTTP gateway for SMS/voice (signed JSON POST).")
    gateway_secret: str = Field("", description="HMAC key of the gateway's X-ContactGuard-Signature.")
    sms_providers: str = Field("", description="Failover order, e.g. 'twilio,gateway' (default: all).")
    voice_providers: str = Field("", description="Failover order for voice calls (default: all).")
    worker_concurrency: int = Field(4, ge=1, le=64, description="Delivery threads per worker process.")
    worker_batch: int = Field(50, ge=1, le=1000, description="Messages claimed at a time.")
    worker_lease_seconds: float = Field(60.0, gt=0, description="Claim lease; renewed on long batches.")
    worker_poll_seconds: float = Field(1.0, gt=0, description="Idle wait between polls.")
    dev_smtp: bool = Field(True, description="Dev mode without SMTP_URL: run an embedded SMTP server.")
    # --- Delivery isolation and hardening (issue 11) ---
    worker_code_threads: int = Field(
        # 8 (issue 10): a code thread mostly waits on database round trips and SMTP; two
        # capped a worker at ~22 codes/s on the benchmark machine.
        8, ge=1, le=16, description="Threads per worker process that deliver only one-time codes.")
    worker_code_batch: int = Field(
        1, ge=1, le=50, description="Codes a code-lane thread claims at a time.")
    worker_webhook_threads: int = Field(
        2, ge=1, le=32, description="Threads per worker process that deliver only webhooks.")
    webhook_allow_private: bool = Field(
        False, description="Allow webhook URLs on private, loopback or link-local addresses "
        "(development only).")
    # --- Operator console (issue 8) ---
    console_session_hours: int = Field(8, ge=1, le=24, description="How long a console session lasts.")
    console_login_failures: int = Field(
        5, ge=1, le=100, description="Failed console sign-ins per email within the window.")
    console_login_ip_failures: int = Field(
        20, ge=1, le=10000, description="Failed console sign-ins per client address within the window.")
    console_login_window_minutes: int = Field(
        15, ge=1, le=1440, description="The console sign-in throttle's window (and lockout).")

    # --- API hardening (issue 11): request body limits ---
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body in bytes (JSON and other bodies); "
        "the routes of guard.LARGE_BODY_ROUTES take more (25 MiB).")
    max_form_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest urlencoded form body in bytes (Seller Center, "
        "console and provider callbacks).")
    # --- Shared limits and abuse protection (issue 11) ---
    redis_url: str = Field(
        "", description="redis://host:port/db: rate limits shared by every process and host; "
        "empty: each process counts in its own memory.")
    redis_prefix: str = Field("contactguard", description="Prefix of the rate-limit keys in Redis.")
    rate_limits: str = Field(
        "on", description="'off' turns the rate limits and the SMS-pumping guard off (load "
        "tests only; a warning is logged at start). Cooldowns and attempt limits stay on.")
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Comma list of proxy addresses (or '*') whose "
        "X-Forwarded-For / X-Forwarded-Proto are trusted: the per-address limits then count "
        "the seller's address, not the proxy's.")

    # --- Campaigns (issue 8) ---
    campaign_batch: int = Field(2000, ge=10, le=50_000,
                                description="Accounts a worker plans or messages per transaction.")
    campaign_tick_seconds: float = Field(1.0, gt=0, le=60,
                                         description="How often workers look for campaign work.")

    # --- Sent ledger and message checker (issue 9) ---
    brand_aliases: str = Field(
        "", description="Comma list of other names the platform goes by (e.g. 'Seller Central').")
    brand_domains: str = Field(
        "", description="Comma list of domains the platform sends from or links to (the "
        "mail_from domain and public_url host are always included).")
    ledger_retention_days: int = Field(400, ge=1, le=3650,
                                       description="How long the sent ledger keeps a message.")
    # --- Inbound mail and phishing waves (issue 9) ---
    inbound_host: str = Field("127.0.0.1", description="Where `contactguard inbound` listens "
                              "for SMTP (the report address and bounces).")
    inbound_port: int = Field(2525, ge=1, le=65535, description="Its port.")
    mail_domain: str = Field("", description="The domain inbound mail is addressed to "
                             "(default: the mail_from domain).")
    report_address: str = Field("", description="Where sellers forward suspicious mail "
                                "(default: report@<mail domain>).")
    bounce_domain: str = Field("", description="Domain of the VERP return path "
                               "<verp_prefix>+<id>-<tag>@<bounce domain> (default: mail domain).")
    verp_prefix: str = Field("bounces", pattern=r"^[a-z0-9][a-z0-9._-]{0,30}$",
                             description="Local part before '+' of the VERP return path.")
    verp: bool = Field(True, description="Send email with a VERP return path (bounces are then "
                       "matched to the message); off: the From address.")
    wave_threshold: int = Field(10, ge=2, le=100_000, description="Reports after which a "
                                "phishing wave is announced (webhook phishing.wave_detected).")
    wave_similarity: float = Field(0.5, gt=0, le=1, description="Estimated Jaccard similarity "
                                   "(MinHash) for two reports to belong to one wave.")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as https://sellers.example.com")
        return value.rstrip("/")

    @field_validator("rate_limits")
    @classmethod
    def _check_rate_limits(cls, value: str) -> str:
        if value.strip().lower() not in {"on", "off"}:
            raise ValueError("'on' or 'off'")
        return value.strip().lower()

    @field_validator("frame_ancestors")
    @classmethod
    def _check_frame_ancestors(cls, value: str) -> str:
        for origin in value.split():
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
                raise ValueError(f"'{origin}' is not an origin such as https://platform.example.com")
        return " ".join(o.rstrip("/") for o in value.split())

    @property
    def public_host(self) -> str:
        """Host name sellers see in links and origin-bound SMS codes (``@host #123456``)."""
        return urlsplit(self.public_url).hostname or "localhost"

    @property
    def mail_from_address(self) -> str:
        """The From of our emails (dev mode has a default, as the SMTP sender does)."""
        return self.mail_from or (f"{self.platform_name} <no-reply@contactguard.localhost>"
                                  if self.dev else "")

    @property
    def mail_domain_name(self) -> str:
        """The domain our mail comes from and inbound mail goes to."""
        if self.mail_domain:
            return self.mail_domain.strip().lower().rstrip(".")
        return parseaddr(self.mail_from_address)[1].rpartition("@")[2].lower() or "localhost"

    @property
    def report_mailbox(self) -> str:
        return (self.report_address.strip().lower()
                or f"report@{self.mail_domain_name}")

    @property
    def bounce_mail_domain(self) -> str:
        return self.bounce_domain.strip().lower().rstrip(".") or self.mail_domain_name

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def run_inprocess_worker(self) -> bool:
        return self.is_sqlite if self.inprocess_worker is None else self.inprocess_worker


def load_settings(*, require_secret: bool = True, **overrides: Any) -> Settings:
    """Read settings from the environment (plus ``overrides``) and fill dev-mode defaults.

    Raises ConfigurationError when a production setting is missing or unsafe
    (``require_secret=False`` for commands that never touch secrets, like ``db upgrade``).
    """
    settings = Settings(**overrides)
    var_dir = settings.var_dir.resolve()
    updates: dict[str, Any] = {"var_dir": var_dir}
    if not settings.database_url:
        updates["database_url"] = f"sqlite:///{var_dir / 'contactguard.db'}"
    if not settings.secret_key:
        if not settings.dev and not require_secret:
            return settings.model_copy(update=updates)
        if not settings.dev:
            raise ConfigurationError(
                "CONTACTGUARD_SECRET_KEY is required outside dev mode "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        updates["secret_key"] = _dev_secret_key(var_dir)
    elif len(settings.secret_key) < _MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"CONTACTGUARD_SECRET_KEY must be at least {_MIN_SECRET_LENGTH} characters long"
        )
    return settings.model_copy(update=updates)


def _dev_secret_key(var_dir: Path) -> str:
    """Return the dev secret kept in ``var/secret_key``, creating it (mode 0600) on first use."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    return create_file_once(path, (secrets.token_urlsafe(48) + "\n").encode()).decode().strip()


def create_file_once(path: Path, content: bytes) -> bytes:
    """Write ``path`` (mode 0600) unless it exists; returns what the file holds.

    Safe when several processes start at once: the file appears complete or not at all
    (written aside, then hard-linked into place), and the first writer wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):  # another process was first: use its file
            os.link(aside, path)
    finally:
        aside.unlink()
    return path.read_bytes()
