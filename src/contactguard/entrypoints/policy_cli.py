"""CLI for policy, compliance, webhooks and the audit log (registered in cli.py)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.audit import CLI, AuditAnchor
from contactguard.domain.compliance import ComplianceState
from contactguard.domain.policy import policy_to_document
from contactguard.errors import ContactGuardError

policy_app = typer.Typer(help="The verification policy.", no_args_is_help=True)
compliance_app = typer.Typer(help="Compliance states and eligibility.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and deliveries.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(compliance_app, name="compliance")
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(audit_app, name="audit")


def _container() -> Container:
    return bootstrap(start_worker=False)


def _fail(exc: ContactGuardError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc.detail}")
    for field_error in exc.errors:
        err.print(f"  {field_error.field}: {field_error.message}")
    return typer.Exit(1)


@policy_app.command("show")
def policy_show() -> None:
    """Print the policy in force as JSON."""
    container = _container()
    try:
        print(json.dumps(policy_to_document(container.deps.policy), indent=2))
    finally:
        container.close()


@policy_app.command("set")
def policy_set(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                     help="TOML ([policy] table) or JSON")]) -> None:
    """Store a new policy (as PUT /v1/policy does); accounts are recomputed by the worker."""
    from contactguard.services.policy import set_policy

    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] cannot read {file}: {exc}")
        raise typer.Exit(2) from None
    container = _container()
    try:
        policy = set_policy(container.deps, data.get("policy", data), actor=CLI)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    print(json.dumps(policy_to_document(policy), indent=2))


@compliance_app.command("refresh")
def compliance_refresh() -> None:
    """Run the periodic job once: move accounts to due soon / overdue as time requires."""
    from contactguard.services.compliance import refresh_due_states

    container = _container()
    try:
        count = refresh_due_states(container.deps)
    finally:
        container.close()
    out.print(f"{count} accounts recomputed")


@compliance_app.command("rebuild")
def compliance_rebuild() -> None:
    """Recompute every account's stored compliance row."""
    from contactguard.services.compliance import rebuild_compliance

    container = _container()
    try:
        count = rebuild_compliance(container.deps)
    finally:
        container.close()
    out.print(f"{count} accounts recomputed")


@compliance_app.command("list")
def compliance_list(state: Annotated[ComplianceState, typer.Option(help="Which state")],
                    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
                    cursor: Annotated[str | None, typer.Option()] = None) -> None:
    """Accounts in a state, earliest deadline first."""
    from contactguard.services.compliance import list_by_state

    container = _container()
    try:
        listing = list_by_state(container.deps, state, limit=limit, cursor=cursor)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    table = Table("account", "state", "deadline", "eligible", "reasons")
    for row in listing.items:
        table.add_row(row.external_id, row.state.value,
                      f"{row.deadline:%Y-%m-%d}" if row.deadline else "",
                      "yes" if row.eligible else "no", "; ".join(row.reasons))
    out.print(table)
    if listing.next_cursor:
        out.print(f"next page: --cursor {listing.next_cursor}")


@webhooks_app.command("list")
def webhooks_list() -> None:
    """List endpoints."""
    from contactguard.services.webhooks import list_endpoints

    container = _container()
    try:
        endpoints = list_endpoints(container.deps)
    finally:
        container.close()
    table = Table("id", "url", "events", "enabled", "failures", "disabled because")
    for e in endpoints:
        table.add_row(str(e.id), e.url, ", ".join(e.events), "yes" if e.enabled else "no",
                      str(e.failure_streak), e.disabled_reason or "")
    out.print(table)


@webhooks_app.command("deliveries")
def webhooks_deliveries(endpoint_id: Annotated[int, typer.Argument(help="Endpoint id")],
                        limit: Annotated[int, typer.Option(min=1, max=500)] = 50) -> None:
    """An endpoint's deliveries, newest first."""
    from contactguard.services.webhooks import list_deliveries

    container = _container()
    try:
        items = list_deliveries(container.deps, endpoint_id, limit=limit)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    table = Table("id", "event", "type", "status", "attempts", "next attempt", "last error")
    for d in items:
        table.add_row(str(d.id), d.event_id, d.event_type, d.status.value, str(d.attempts),
                      d.next_attempt_at.isoformat() if d.next_attempt_at else "",
                      d.last_error or "")
    out.print(table)


@webhooks_app.command("replay")
def webhooks_replay(delivery_id: Annotated[int, typer.Argument(help="Delivery id")]) -> None:
    """Send a delivery again (the worker picks it up)."""
    from contactguard.services.webhooks import replay_delivery

    container = _container()
    try:
        delivery = replay_delivery(container.deps, delivery_id, actor=CLI)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    out.print(f"delivery {delivery.id} ({delivery.event_type}) queued again")


@audit_app.command("anchor")
def audit_anchor(out_file: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Write the anchor to this file (default: print it)")] = None,
) -> None:
    """Print (or write) a signed checkpoint of the chain's head, for a store outside the
    database; 'audit verify --anchor FILE' then detects entries removed after it."""
    from contactguard.domain.audit import anchor_to_document
    from contactguard.services.audit import make_anchor

    container = _container()
    try:
        anchor = make_anchor(container.deps)
    except ContactGuardError as exc:
        raise _fail(exc) from None
    finally:
        container.close()
    text = json.dumps(anchor_to_document(anchor), sort_keys=True) + "\n"
    if out_file is None:
        print(text, end="")
        return
    partial = out_file.with_name(out_file.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(out_file)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {out_file}: {exc}")
        raise typer.Exit(2) from None
    err.print(f"anchored entry {anchor.seq} in {out_file}; copy it to a store the database's "
              "administrators cannot change")


def _read_anchor(file: Path) -> AuditAnchor:
    from contactguard.domain.audit import anchor_from_document

    try:
        return anchor_from_document(json.loads(file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        err.print(f"[red]error:[/red] cannot use {file} as an audit anchor: {exc}")
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(anchor_file: Annotated[Path | None, typer.Option(
        "--anchor", dir_okay=False,
        help="An anchor written by 'audit anchor': the chain must still reach it")] = None,
) -> None:
    """Check the hash chain; exit code 1 and the first broken entry if it was tampered with."""
    from contactguard.services.audit import verify_chain

    anchor = _read_anchor(anchor_file) if anchor_file is not None else None
    container = _container()
    try:
        report = verify_chain(container.deps, anchor=anchor)
    except ContactGuardError as exc:
        err.print(f"[red]anchor refused:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    if report.ok:
        reached = f", anchored entry {anchor.seq} present" if anchor is not None else ""
        out.print(f"audit log intact: {report.checked} entries verified{reached}")
        return
    err.print(f"[red]audit log broken at entry {report.broken_at}:[/red] {report.reason} "
              f"({report.checked} entries verified before it)")
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
               subject: Annotated[str | None, typer.Option(help="e.g. account:seller-1")] = None,
               as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The newest audit entries."""
    from contactguard.services.audit import list_entries

    container = _container()
    try:
        entries = list_entries(container.deps, limit=limit, subject=subject)
    finally:
        container.close()
    if as_json:
        for e in entries:
            print(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor.kind.value,
                              "actor_id": e.actor.id, "action": e.action, "subject": e.subject,
                              "before": e.before, "after": e.after}, ensure_ascii=False))
        return
    table = Table("seq", "at", "actor", "action", "subject", "after")
    for e in entries:
        table.add_row(str(e.seq), f"{e.at:%Y-%m-%d %H:%M:%S}", f"{e.actor.kind.value}:{e.actor.label}",
                      e.action, e.subject, json.dumps(e.after, ensure_ascii=False)[:80])
    out.print(table)
