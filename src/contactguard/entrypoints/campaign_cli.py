"""``contactguard campaigns``: create from campaign.toml, preview, launch, watch, pause, resume,
cancel (registered in cli.py). Every command calls the same services as the API."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from contactguard.bootstrap import Container, bootstrap
from contactguard.domain.audit import CLI
from contactguard.errors import ContactGuardError

campaigns_app = typer.Typer(help="Campaigns: announce a requirement on every channel at once.",
                            no_args_is_help=True)
out = Console()
err = Console(stderr=True)
_DONE = {"finished", "canceled"}

CampaignId = Annotated[int, typer.Argument(help="The campaign's id (see list)", min=1)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]


def register(app: typer.Typer) -> None:
    app.add_typer(campaigns_app, name="campaigns")


def _container() -> Container:
    return bootstrap(start_worker=False)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    container = _container()
    try:
        return fn(container.deps, *args, **kwargs)
    except ContactGuardError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        for field_error in exc.errors:
            err.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None
    finally:
        container.close()


def _dump(model: Any) -> None:
    print(json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False))


def _summary(view: Any) -> None:
    p = view.progress
    out.print(f"campaign {view.id} [bold]{view.name}[/bold]: {view.status.value}")
    if view.status.value != "draft":
        out.print(f"  targeted {p.targeted}, planned {p.planned}, notified {p.notified}, "
                  f"scheduled {p.scheduled}, skipped (already verified) {p.skipped}, "
                  f"reminders sent {p.reminders_sent}")


@campaigns_app.command("create")
def create(file: Annotated[Path, typer.Option("--file", exists=True, dir_okay=False,
                                              readable=True, help="campaign.toml")],
           as_json: AsJson = False) -> None:
    """Create a draft from a TOML file (see README: a complete campaign.toml). Every rule is
    checked; each broken one is named with its field."""
    from contactguard.entrypoints.api.campaign_schemas import CampaignOut
    from contactguard.services.campaigns import create_campaign

    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] {file} is not valid TOML: {exc}")
        raise typer.Exit(2) from None
    view = _call(create_campaign, document, actor=CLI)
    if as_json:
        _dump(CampaignOut.of(view))
        return
    _summary(view)
    out.print(f"preview it with: contactguard campaigns preview {view.id}")


@campaigns_app.command("list")
def list_all(as_json: AsJson = False) -> None:
    """Campaigns, newest first."""
    from contactguard.entrypoints.api.campaign_schemas import CampaignOut
    from contactguard.services.campaigns import list_campaigns

    found = _call(list_campaigns, limit=200)
    if as_json:
        print(json.dumps([CampaignOut.of(c).model_dump(mode="json") for c in found.items],
                         indent=2, ensure_ascii=False))
        return
    table = Table("id", "name", "status", "effective", "targeted", "notified")
    for c in found.items:
        table.add_row(str(c.id), c.name, c.status.value, f"{c.effective_at:%Y-%m-%d %H:%M}Z",
                      str(c.progress.targeted or ""), str(c.progress.notified))
    out.print(table)


@campaigns_app.command("preview")
def preview(campaign_id: CampaignId, as_json: AsJson = False) -> None:
    """Who is told, when each country's first message goes out, each country's deadline with
    the public holidays that moved it, and the messages as sellers will read them."""
    from contactguard.entrypoints.api.campaign_schemas import PreviewOut
    from contactguard.services.campaigns import preview_campaign

    found = _call(preview_campaign, campaign_id)
    if as_json:
        _dump(PreviewOut.of(found))
        return
    out.print(f"{found.targeted} account(s); announced {found.announce_at:%Y-%m-%d %H:%M}Z")
    table = Table("country", "accounts", "first send (UTC)", "deadline (UTC)", "working days",
                  "holidays skipped")
    for c in found.countries:
        table.add_row(c.country, str(c.accounts), f"{c.first_send_at:%Y-%m-%d %H:%M}",
                      f"{c.deadline:%Y-%m-%d %H:%M}", str(c.notice_working_days),
                      ", ".join(d.isoformat() for d in c.holidays_skipped)
                      or ("-" if c.calendar_known else "no holiday data"))
    out.print(table)
    for sample in found.samples:
        title = f"{sample.locale} {sample.channel.value}"
        out.rule(title)
        if sample.subject:
            out.print(f"[bold]{sample.subject}[/bold]")
        out.print(sample.body, markup=False, highlight=False)


def _action(name: str) -> Callable[[int, bool], None]:
    def command(campaign_id: CampaignId, as_json: AsJson = False) -> None:
        from contactguard.entrypoints.api.campaign_schemas import CampaignOut
        from contactguard.services import campaigns

        view = _call(getattr(campaigns, f"{name}_campaign"), campaign_id, actor=CLI)
        if as_json:
            _dump(CampaignOut.of(view))
        else:
            _summary(view)

    command.__doc__ = {
        "launch": "Launch a draft: workers send each account's notice at its first allowed time.",
        "pause": "Pause: nothing more is sent (queued mail is held) until resumed.",
        "resume": "Resume a paused campaign where it stopped; no step is sent twice.",
        "cancel": "Cancel: unsent messages are dropped and the deadlines lifted.",
    }[name]
    return command


for _name in ("launch", "pause", "resume", "cancel"):
    campaigns_app.command(_name)(_action(_name))


@campaigns_app.command("status")
def status(campaign_id: CampaignId,
           once: Annotated[bool, typer.Option("--once", help="Print once and exit")] = False,
           interval: Annotated[float, typer.Option(help="Seconds between refreshes", min=0.2)]
           = 2.0,
           as_json: AsJson = False) -> None:
    """Live progress (bars and the funnel) until the campaign finishes or is canceled
    (Ctrl-C stops watching; the campaign goes on)."""
    from contactguard.entrypoints.api.campaign_schemas import CampaignOut, FunnelOut
    from contactguard.services.campaigns import campaign_funnel, get_campaign

    container = _container()
    try:
        def snapshot() -> tuple[Any, Any]:
            return (get_campaign(container.deps, campaign_id),
                    campaign_funnel(container.deps, campaign_id))

        try:
            view, funnel = snapshot()
        except ContactGuardError as exc:
            err.print(f"[red]error:[/red] {exc.detail}")
            raise typer.Exit(1) from None
        if as_json:
            print(json.dumps({"campaign": CampaignOut.of(view).model_dump(mode="json"),
                              "funnel": FunnelOut.of(funnel).model_dump(mode="json")},
                             indent=2, ensure_ascii=False))
            return
        if once or view.status.value in _DONE or not out.is_terminal:
            out.print(_render(view, funnel))
            return
        with Live(_render(view, funnel), console=out, refresh_per_second=4) as live:
            try:
                while view.status.value not in _DONE:
                    time.sleep(interval)
                    view, funnel = snapshot()
                    live.update(_render(view, funnel))
            except KeyboardInterrupt:
                pass
    finally:
        container.close()


def _render(view: Any, funnel: Any) -> Group:
    p = view.progress
    total = max(p.targeted or funnel.targeted or 0, 1)
    bars = Progress(TextColumn("{task.description:>10}"), BarColumn(bar_width=40),
                    MofNCompleteColumn(), TextColumn("{task.percentage:>5.1f}%"))
    bars.add_task("planned", total=total, completed=p.planned)
    for stage in ("notified", "seen", "started", "verified"):
        bars.add_task(stage, total=total, completed=getattr(funnel, stage))
    header = (f"campaign {view.id} [bold]{view.name}[/bold] — {view.status.value}; "
              f"effective {view.effective_at:%Y-%m-%d %H:%M}Z")
    if p.next_send_at:
        header += f"; next send {p.next_send_at:%Y-%m-%d %H:%M}Z"
    channels = Table("channel", *sorted({s for c in funnel.by_channel.values() for s in c}),
                     title="messages")
    statuses = sorted({s for c in funnel.by_channel.values() for s in c})
    for channel, counts in sorted(funnel.by_channel.items()):
        channels.add_row(channel, *(str(counts.get(s, 0)) for s in statuses))
    countries = Table("country", "targeted", "notified", "seen", "started", "verified",
                      title="by country")
    for r in funnel.by_country:
        countries.add_row(r.key, str(r.targeted), str(r.notified), str(r.seen), str(r.started),
                          str(r.verified))
    return Group(header, bars, channels, countries)
