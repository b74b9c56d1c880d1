"""The console's dashboard: accounts by compliance state, shares verified, the 30-day trend."""

from __future__ import annotations

from datetime import date

from babel.dates import format_skeleton
from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.domain.compliance import ComplianceState
from contactguard.domain.operators import Permission
from contactguard.entrypoints.web.console.charts import NARROW, WIDE, Series, line_chart
from contactguard.entrypoints.web.console.common import signed_in
from contactguard.services import console as console_service

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
async def dashboard(request: Request) -> Response:
    console = await signed_in(request, Permission.VIEW_DASHBOARD)
    board = await console.call(console_service.dashboard, by=console.me)
    t = console.t
    first = board.today.day.toordinal() - len(board.trend) + 1
    days = [date.fromordinal(first + i) for i in range(len(board.trend))]

    def share(pick: str) -> list[float | None]:
        values: list[float | None] = []
        for figures in board.trend:
            if figures is None or not figures.accounts:
                values.append(None)
                continue
            count = {"met": figures.met, "email": figures.email_verified,
                     "phone": figures.phone_verified}[pick]
            values.append(count / figures.accounts)
        return values

    series = [Series("s-met", t.gettext("Requirements met"), share("met")),
              Series("s-email", t.gettext("Email verified"), share("email")),
              Series("s-phone", t.gettext("Phone verified"), share("phone"))]
    def day_label(d: date) -> str:
        return str(format_skeleton("MMMd", d, locale=t.babel_locale))

    title = t.gettext("Last 30 days")
    chart = (line_chart(days, series, title=title, day_label=day_label, size=NARROW,
                        css="chart-narrow")
             + line_chart(days, series, title=title, day_label=day_label, size=WIDE,
                          css="chart-wide"))
    today = board.today
    return console.render("dashboard.html", {
        "today": today, "states": [s.value for s in ComplianceState], "chart": chart,
        "series": series, "recorded_days": sum(1 for f in board.trend[:-1] if f is not None),
        "pct": lambda n: f"{n / today.accounts * 100:.0f}%" if today.accounts else "—",
    })
