"""CLI for the SMS-pumping guard's blocks (issue 11; registered in cli.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactguard.bootstrap import bootstrap
from contactguard.domain.audit import CLI
from contactguard.errors import ContactGuardError
from contactguard.services import abuse

protection_app = typer.Typer(help="Rate limits and the SMS-pumping guard.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(protection_app, name="protection")


@protection_app.command("blocks")
def blocks(include_all: Annotated[bool, typer.Option(
        "--all", help="Also lifted and expired blocks")] = False) -> None:
    """List the prefixes the guard blocked (as GET /v1/protection/blocks)."""
    container = bootstrap(start_worker=False)
    try:
        found = abuse.list_blocks(container.deps, include_inactive=include_all)
        now = container.deps.clock.now()
        table = Table("id", "prefix", "country", "reason", "sent", "verified", "until", "state")
        for block in found:
            state = ("active" if block.active(now) else
                     f"lifted by {block.lifted_by}" if block.lifted_at else "expired")
            table.add_row(str(block.id), block.prefix, block.country, block.reason.value,
                          str(block.sent), str(block.verified),
                          block.expires_at.strftime("%Y-%m-%d %H:%M"), state)
        out.print(table if found else "no blocks")
    finally:
        container.close()


@protection_app.command("lift")
def lift(block_id: Annotated[int, typer.Argument(min=1, help="The block's id")]) -> None:
    """Lift a block at once (audited, as DELETE /v1/protection/blocks/{id})."""
    container = bootstrap(start_worker=False)
    try:
        block = abuse.lift_block(container.deps, block_id, actor=CLI)
    except ContactGuardError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    finally:
        container.close()
    out.print(f"block {block.id} ({block.prefix}) lifted")
