"""``contactguard serve``: build the container, prepare dev mode, run uvicorn."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from contactguard.bootstrap import Container, bootstrap, start_dev_smtp
from contactguard.config import Settings, load_settings
from contactguard.domain.operators import Role
from contactguard.entrypoints.api.app import create_app
from contactguard.errors import ConfigurationError, Unauthorized
from contactguard.services.apikeys import create_api_key
from contactguard.services.dev import seed_demo_data
from contactguard.services.operators import ensure_demo_operator

log = logging.getLogger("contactguard.server")

#: Dev mode's demo console operators (``make run``).
DEMO_ADMIN = "admin@console.example.com"
DEMO_SUPPORT = "support@console.example.com"


def run_server(*, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Serve the app; ``workers`` > 1 runs that many uvicorn worker processes on one port,
    each with its own container (dev-mode preparation and the dev SMTP server run once, here)."""
    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    if settings.dev and not is_loopback(host):
        raise ConfigurationError(
            f"dev mode (CONTACTGUARD_DEV=1) only listens on loopback, not on {host!r}: its "
            "/dev/login signs into any account and /dev/inbox shows codes without "
            "authentication. Use --host 127.0.0.1 (or ::1), or turn dev mode off.")
    if settings.dev and "public_url" not in settings.model_fields_set:
        # Dev mode: links (account-session links, SMS origin) point at this very server.
        settings = settings.model_copy(update={"public_url": _local_base(host, port)})
    smtp = None
    if settings.dev and settings.dev_smtp and not settings.smtp_url:
        smtp, settings = start_dev_smtp(settings)
    try:
        if workers > 1:
            _run_workers(settings, host, port, workers, smtp.url if smtp else None)
            return
        container = bootstrap(settings, configure_logs=True)
        if settings.dev:
            _prepare_dev(container, host, port, smtp.url if smtp else None)
        app = create_app(container, own_container=True)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                    proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                    server_header=False)
    finally:
        if smtp is not None:
            smtp.stop()


#: Settings the parent decided (dev mode) that its worker processes must share.
_SHARED_SETTINGS = {"public_url": "CONTACTGUARD_PUBLIC_URL", "smtp_url": "CONTACTGUARD_SMTP_URL",
                    "dkim_keys": "CONTACTGUARD_DKIM_KEYS"}


def _run_workers(settings: Settings, host: str, port: int, workers: int,
                 smtp_url: str | None) -> None:
    if settings.dev:  # once, before the workers start: demo data, dev key, banner
        container = bootstrap(settings, configure_logs=True, start_worker=False)
        try:
            _prepare_dev(container, host, port, smtp_url)
        finally:
            container.close()
    for name, variable in _SHARED_SETTINGS.items():
        value = getattr(settings, name)
        if value:
            os.environ[variable] = str(value)
    uvicorn.run("contactguard.entrypoints.server:app_from_environment", factory=True,
                workers=workers, host=host, port=port, log_config=None, access_log=False,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                server_header=False)


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``contactguard serve --workers N``."""
    return create_app(bootstrap(load_settings(), configure_logs=True), own_container=True)


def dev_api_key(container: Container) -> str:
    """The dev API key kept in ``var/dev_api_key``, created when missing or revoked."""
    path: Path = container.settings.var_dir / "dev_api_key"
    if path.exists():
        key = path.read_text().strip()
        try:
            container.authenticator.authenticate(key)
            return key
        except Unauthorized:
            pass
    key = create_api_key(container.deps, "dev (make run)").secret
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")  # replaced whole, never half-written
    aside.write_text(key + "\n")
    aside.chmod(0o600)
    os.replace(aside, path)
    return key


def dev_console_operators(container: Container) -> dict[str, str]:
    """Dev mode: a demo admin and a demo support agent with a known password and TOTP secret
    (kept in ``var/dev_console``, mode 0600), so a developer can sign in to the console."""
    path: Path = container.settings.var_dir / "dev_console"
    demo: dict[str, str] = {}
    if path.exists():
        try:
            demo = json.loads(path.read_text())
        except ValueError:
            demo = {}
    factor = container.deps.second_factor
    if not {"password", "totp_secret"} <= set(demo) and factor is not None:
        demo = {"password": f"dev-{secrets.token_urlsafe(12)}", "totp_secret": factor.new_secret()}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(demo) + "\n")
        path.chmod(0o600)
    demo.update(admin_email=DEMO_ADMIN, support_email=DEMO_SUPPORT)
    for email, role in ((DEMO_ADMIN, Role.ADMIN), (DEMO_SUPPORT, Role.SUPPORT)):
        ensure_demo_operator(container.deps, email, role, password=demo["password"],
                             totp_secret=demo["totp_secret"])
    container.extras["dev_console"] = demo
    return demo


def _prepare_dev(container: Container, host: str, port: int,
                 smtp_url: str | None = None) -> None:
    settings: Settings = container.settings
    demo_ids = seed_demo_data(container.deps)
    key = dev_api_key(container)
    demo = dev_console_operators(container)
    base = _local_base(host, port)
    print(
        "\n  ContactGuard is running in dev mode (messages are captured, nothing leaves this machine)\n"
        f"    Seller Center:   {base}/dev/login  (sign in as a demo seller; dashboard at {base}/seller)\n"
        f"    Console:         {base}/console  (operators; the sign-in page shows the current code)\n"
        f"      demo admin {demo['admin_email']}, support {demo['support_email']}\n"
        f"      password {demo['password']}, TOTP secret {demo['totp_secret']}\n"
        f"    Dev inbox:       {base}/dev/inbox  (emails, SMS and voice scripts captured)\n"
        f"    API docs:        {base}/docs\n"
        f"    OpenAPI schema:  {base}/openapi.json\n"
        f"    Captured:        {base}/v1/dev/messages  (with the dev API key)\n"
        + (f"    Dev SMTP server: {smtp_url}  (emails are DKIM-signed and captured; "
           f"raw bytes at /v1/dev/messages/ID/raw)\n" if smtp_url else "") +
        f"    Dev API key:     {key[:10]}…  (full key in {settings.var_dir}/dev_api_key)\n"
        f"    Demo sellers:    {', '.join(demo_ids)}\n",
        flush=True,
    )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); no DNS lookup."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another name: it may resolve to anything


def _local_base(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else host}:{port}"  # noqa: S104
