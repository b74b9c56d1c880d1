"""The ``contactguard`` command line: serve, migrate, manage keys, import accounts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contactguard.bootstrap import Container, bootstrap
from contactguard.config import load_settings
from contactguard.domain.audit import CLI
from contactguard.entrypoints import campaign_cli, console_cli, policy_cli, protection_cli
from contactguard.entrypoints.checker_cli import check_message_command
from contactguard.entrypoints.worker_cli import dkim_app, worker
from contactguard.errors import ContactGuardError

app = typer.Typer(help="ContactGuard: verify emergency contacts, keep sellers safe from phishing.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Operator API keys.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts and their contacts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="apikeys")
app.add_typer(keys_app, name="keys", help="Operator API keys (same as 'apikeys').")
app.add_typer(accounts_app, name="accounts")
policy_cli.register(app)  # policy, compliance, webhooks, audit
console_cli.register(app)  # operators of the console
campaign_cli.register(app)  # campaigns (issue 8)
protection_cli.register(app)  # the SMS-pumping guard's blocks (issue 11)
app.command()(worker)
app.add_typer(dkim_app, name="dkim")
app.command("check-message")(check_message_command)  # the message checker (issue 9)

out = Console()
err = Console(stderr=True)


def _container(**kwargs: object) -> Container:
    return bootstrap(start_worker=False, **kwargs)  # type: ignore[arg-type]


def _fail(exc: ContactGuardError, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.detail}")
    for field_error in exc.errors:
        err.print(f"  {field_error.field}: {field_error.message}")
    return typer.Exit(code)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
          port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
          workers: Annotated[int, typer.Option(
              min=1, max=64, help="Worker processes sharing the port")] = 1) -> None:
    """Run the HTTP server (API, and in dev mode demo data and captured delivery)."""
    from contactguard.entrypoints.server import run_server

    try:
        run_server(host=host, port=port, workers=workers)
    except ContactGuardError as exc:
        raise _fail(exc) from None


@app.command()
def inbound(host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
            port: Annotated[int | None, typer.Option(help="Port to listen on")] = None) -> None:
    """Run the inbound SMTP listener: reports, bounces (DSNs) and replies to our mail."""
    import signal
    import threading

    from contactguard.bootstrap import inbound_server

    try:
        container = bootstrap(configure_logs=True)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    server = inbound_server(container, host=host, port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    settings = container.settings
    err.print(f"inbound SMTP on {server.host}:{server.port}: reports to "
              f"{settings.report_mailbox}, bounces to {settings.verp_prefix}+…@"
              f"{settings.bounce_mail_domain}")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        container.close()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply database migrations (safe to run again)."""
    from contactguard.adapters.db.migrate import current_revision, upgrade

    settings = load_settings(require_secret=False)
    upgrade(settings.database_url, revision)
    out.print(f"database at revision {current_revision(settings.database_url)}")


@keys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses it")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="read, write (includes read), sessions, admin or full; repeat for "
                        "several (default: full)")] = None,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from contactguard.domain.apikeys import to_text
    from contactguard.services.apikeys import create_api_key

    container = _container()
    try:
        created = create_api_key(container.deps, name, scopes=scope or None, actor=CLI)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    err.print(f"created key #{created.info.id} '{created.info.name}' with scopes "
              f"'{to_text(created.info.scopes)}'; store it now, it cannot be shown again:")
    print(created.secret)


@keys_app.command("list")
def apikeys_list() -> None:
    """List API keys (prefixes only)."""
    from contactguard.services.apikeys import list_api_keys

    container = _container()
    try:
        keys = list_api_keys(container.deps)
    finally:
        container.close()
    from contactguard.domain.apikeys import to_text

    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for key in keys:
        table.add_row(str(key.id), key.name, key.prefix + "…", to_text(key.scopes),
                      key.created_at.isoformat(),
                      key.revoked_at.isoformat() if key.revoked_at else "")
    out.print(table)


@keys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see list)")]) -> None:
    """Revoke an API key (effective everywhere within 10 seconds)."""
    from contactguard.services.apikeys import revoke_api_key

    container = _container()
    try:
        revoke_api_key(container.deps, key_id, actor=CLI)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    out.print(f"revoked key #{key_id}")


@accounts_app.command("import")
def accounts_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV (with a header) or NDJSON file")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or ndjson (default: from "
                                                             "the file name)")] = None,
) -> None:
    """Create or update accounts from a file, by external_id; bad rows are reported, good rows
    imported. Exit code 1 if any row was rejected."""
    from contactguard.services import imports

    try:
        kind = imports.detect_format(file, fmt)
    except ContactGuardError as exc:
        raise _fail(exc, 2) from None
    total = _count_lines(file, kind)
    container = _container()
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle, Progress(
            TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=False, disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("import", total=total)
            report = imports.import_accounts(
                container.deps, imports.read_rows(handle, kind),
                progress=lambda n: progress.advance(task, n), actor=CLI)
    except ContactGuardError as exc:
        raise _fail(exc, 2) from None
    except UnicodeDecodeError:
        err.print("[red]error:[/red] the file is not UTF-8 text")
        raise typer.Exit(2) from None
    finally:
        container.close()
    for row_error in report.errors:
        ident = f" ({row_error.external_id})" if row_error.external_id else ""
        err.print(f"line {row_error.line}{ident}: {row_error.reason}")
    out.print(f"{report.created} created, {report.updated} updated, {report.rejected} rejected")
    if report.errors:
        raise typer.Exit(1)


@accounts_app.command("show")
def accounts_show(external_id: Annotated[str, typer.Argument(help="The account's external_id")],
                  as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False
                  ) -> None:
    """Show an account and the status of its contacts."""
    from contactguard.entrypoints.api.schemas import AccountOut
    from contactguard.services.accounts import get_account

    container = _container()
    try:
        view = get_account(container.deps, external_id)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    if as_json:
        print(json.dumps(AccountOut.of(view).model_dump(mode="json"), indent=2,
                         ensure_ascii=False))
        return
    a = view.account
    out.print(f"[bold]{a.name}[/bold]  {a.external_id}  {a.country} · {a.locale} · {a.time_zone}")
    table = Table("contact", "value", "line type", "status", "verified")
    for c in view.contacts:
        contact = c.contact
        verified = (f"{contact.verified_at:%Y-%m-%d %H:%M} via {contact.verified_channel}"
                    if contact.verified_at else "")
        table.add_row(contact.kind.value, contact.value,
                      contact.line_type.value if contact.line_type else "", c.status.value,
                      verified)
    out.print(table)


def _count_lines(path: Path, kind: str) -> int | None:
    """Rows in the file, for the progress bar (cheap: one pass over bytes)."""
    try:
        with path.open("rb") as handle:
            lines = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    return max(lines - 1, 0) if kind == "csv" else lines


def main() -> None:
    try:
        app()
    except ContactGuardError as exc:  # configuration errors at start-up
        err.print(f"[red]error:[/red] {exc.detail}")
        sys.exit(2)


if __name__ == "__main__":
    main()
