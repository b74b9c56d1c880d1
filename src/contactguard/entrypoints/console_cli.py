"""CLI for the operator console's operators (registered in cli.py): create the first admin,
list, disable and enable, reset a password or the second factor."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.audit import CLI
from contactguard.domain.operators import Operator
from contactguard.errors import ContactGuardError
from contactguard.services import operators

T = TypeVar("T")

operators_app = typer.Typer(help="Operators of the console (/console).", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(operators_app, name="operators")


def _call(fn: Callable[[Container], T]) -> T:
    container = bootstrap(start_worker=False)
    try:
        return fn(container)
    except ContactGuardError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        for field_error in exc.errors:
            err.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None
    finally:
        container.close()


def _by_ident(container: Container, ident: str) -> Operator:
    return operators.find_operator(container.deps, ident)


@operators_app.command("create")
def create(email: Annotated[str, typer.Option("--email", help="The operator's work email")],
           role: Annotated[str, typer.Option("--role", help="admin or support")]) -> None:
    """Create an operator and print a one-time password (changed at first sign-in, after the
    operator set up an authenticator app)."""
    created = _call(lambda c: operators.create_operator(c.deps, email, role, actor=CLI))
    err.print(f"created operator #{created.operator.id} {created.operator.email} "
              f"({created.operator.role.value}). One-time password, shown only now; it must be "
              "changed at the first sign-in:")
    print(created.password)


@operators_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List operators."""
    found = _call(lambda c: operators.list_operators(c.deps))
    if as_json:
        print(json.dumps([{"id": o.id, "email": o.email, "role": o.role.value,
                           "active": o.active, "totp_enrolled": o.totp_enrolled,
                           "must_change_password": o.must_change_password,
                           "last_login_at": o.last_login_at.isoformat() if o.last_login_at
                           else None} for o in found], indent=2))
        return
    table = Table("id", "email", "role", "status", "second factor", "last sign-in")
    for o in found:
        status = "disabled" if not o.active else (
            "must change password" if o.must_change_password else "active")
        table.add_row(str(o.id), o.email, o.role.value, status,
                      "enrolled" if o.totp_enrolled else "not set up",
                      o.last_login_at.isoformat(timespec="seconds") if o.last_login_at else "")
    out.print(table)


@operators_app.command("disable")
def disable(ident: Annotated[str, typer.Argument(help="The operator's id or email")]) -> None:
    """Disable an operator; its console sessions end at once (the last admin cannot be)."""
    done = _call(lambda c: operators.disable_operator(c.deps, _by_ident(c, ident).id, actor=CLI))
    out.print(f"disabled operator #{done.id} {done.email}")


@operators_app.command("enable")
def enable(ident: Annotated[str, typer.Argument(help="The operator's id or email")]) -> None:
    """Let a disabled operator sign in again."""
    done = _call(lambda c: operators.enable_operator(c.deps, _by_ident(c, ident).id, actor=CLI))
    out.print(f"enabled operator #{done.id} {done.email}")


@operators_app.command("reset-password")
def reset_password(ident: Annotated[str, typer.Argument(help="The operator's id or email")]
                   ) -> None:
    """Print a new one-time password for the operator (its sessions end)."""
    reset = _call(lambda c: operators.reset_password(c.deps, _by_ident(c, ident).id, actor=CLI))
    err.print(f"new one-time password for #{reset.operator.id} {reset.operator.email}, shown "
              "only now:")
    print(reset.password)


@operators_app.command("reset-totp")
def reset_totp(ident: Annotated[str, typer.Argument(help="The operator's id or email")]) -> None:
    """Forget the operator's authenticator (lost phone): it sets up a new one at next sign-in."""
    done = _call(lambda c: operators.reset_second_factor(c.deps, _by_ident(c, ident).id,
                                                         actor=CLI))
    out.print(f"second factor reset for #{done.id} {done.email}")
