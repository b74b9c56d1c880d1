"""``contactguard check-message FILE.eml [--json]``: is this message genuine?

Exit codes: 0 genuine, 1 phishing, 3 unrelated, 2 the input cannot be checked (unreadable
file, not a message, bad reference, over 25 MB).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from contactguard.domain.phishing import CheckResult, Verdict, reader_locale
from contactguard.errors import ContactGuardError

EXIT = {Verdict.GENUINE: 0, Verdict.PHISHING: 1, Verdict.UNRELATED: 3}
_STYLE = {Verdict.GENUINE: "bold green", Verdict.PHISHING: "bold red",
          Verdict.UNRELATED: "bold yellow"}
_TITLES = {
    "en": {Verdict.GENUINE: "Genuine: sent by {brand} and unchanged",
           Verdict.PHISHING: "Phishing: it claims to be {brand} but is not from {brand}",
           Verdict.UNRELATED: "Unrelated: it does not claim to be {brand}"},
    "zh-Hans": {Verdict.GENUINE: "真实：由 {brand} 发出且未被修改",
                Verdict.PHISHING: "钓鱼：它自称来自 {brand}，但并非 {brand} 所发",
                Verdict.UNRELATED: "无关：它并未自称来自 {brand}"},
    "de": {Verdict.GENUINE: "Echt: von {brand} gesendet und unverändert",
           Verdict.PHISHING: "Phishing: gibt sich als {brand} aus, stammt aber nicht von {brand}",
           Verdict.UNRELATED: "Ohne Bezug: gibt sich nicht als {brand} aus"},
    "es": {Verdict.GENUINE: "Auténtico: enviado por {brand} y sin cambios",
           Verdict.PHISHING: "Phishing: dice ser {brand} pero no viene de {brand}",
           Verdict.UNRELATED: "Sin relación: no dice ser {brand}"},
    "pt": {Verdict.GENUINE: "Autêntica: enviada por {brand} e sem alterações",
           Verdict.PHISHING: "Phishing: diz ser {brand}, mas não vem de {brand}",
           Verdict.UNRELATED: "Sem relação: não diz ser {brand}"},
    "fr": {Verdict.GENUINE: "Authentique : envoyé par {brand} et non modifié",
           Verdict.PHISHING: "Hameçonnage : se présente comme {brand} mais ne vient pas de {brand}",
           Verdict.UNRELATED: "Sans rapport : ne se présente pas comme {brand}"},
}


def check_message_command(
    file: Annotated[Path | None, typer.Argument(
        help="The message: an .eml file (RFC 5322), or with --text a pasted body/SMS; '-' "
             "reads standard input")] = None,
    as_text: Annotated[bool, typer.Option("--text", help="FILE is a pasted text, not an .eml")
                       ] = False,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="Check a reference code (CG-XXXX-XXXX) instead of a file")] = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Only genuine if sent to this account (external id)")] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help="Language of the reasons: en, zh-Hans, de, es, pt or fr (default: from "
                       "$LANG)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer")] = False,
) -> None:
    """Is this message genuine? Exit 0 genuine, 1 phishing, 3 unrelated, 2 cannot check."""
    from contactguard.bootstrap import bootstrap
    from contactguard.services.checker import check_message

    err = Console(stderr=True)
    if (file is None) == (reference is None):
        err.print("[red]error:[/red] give a FILE or --reference (one of them)")
        raise typer.Exit(2)
    data = b""
    if file is not None:
        try:
            data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot read {file}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
    locale = _locale(lang)
    container = bootstrap(start_worker=False)
    try:
        if reference is not None:
            result = check_message(container.deps, reference=reference, locale=locale,
                                   account=account)
        elif as_text:
            result = check_message(container.deps, text=data.decode("utf-8", "replace"),
                                   locale=locale, account=account)
        else:
            result = check_message(container.deps, raw=data, locale=locale, account=account)
    except ContactGuardError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        for field_error in exc.errors:
            err.print(f"  {field_error.field or 'input'}: {field_error.message}")
        raise typer.Exit(2) from None
    finally:
        container.close()
    if as_json:
        from contactguard.entrypoints.api.routers.messages import MessageCheckOut

        print(json.dumps(MessageCheckOut.of(result).model_dump(mode="json"), ensure_ascii=False,
                         indent=2))
    else:
        _show(Console(), result, locale, container.settings.platform_name)
    raise typer.Exit(EXIT[result.verdict])


def _show(out: Console, result: CheckResult, locale: str, brand: str) -> None:
    title = _TITLES[locale][result.verdict].format(brand=brand)
    lines = [f"[{_STYLE[result.verdict]}]{title}[/]"]
    if result.matched is not None:
        matched = result.matched
        label = "参考编号" if locale == "zh-Hans" else "Reference"
        lines.append(f"{label}: {matched.reference} · {matched.channel} · "
                     f"{matched.sent_at:%Y-%m-%d %H:%M} UTC · {matched.recipient or ''}")
    out.print(Panel("\n".join(lines), expand=False))
    if result.reasons:
        table = Table("sign", "what it means", "evidence", show_lines=True)
        for reason in result.reasons:
            table.add_row(reason.code.value, reason.message, reason.evidence)
        out.print(table)


def _locale(lang: str | None) -> str:
    value = (lang or os.environ.get("LC_ALL") or os.environ.get("LANG") or "en").split(".")[0]
    return reader_locale(value) or "en"
