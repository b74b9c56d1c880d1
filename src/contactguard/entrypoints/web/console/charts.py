"""Charts drawn on the server as inline SVG: no chart library, no script, nothing the strict
CSP would have to allow. Colours come from classes in ``console.css``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a CSS class, a legend label and one value (0..1) per day, None for a gap."""

    css: str
    label: str
    values: Sequence[float | None]


#: Drawn at about the size it is shown, so that 11-unit text reads as 11-12 px: a narrow
#: version for phones and a wide one for desktops (the stylesheet shows one of them).
NARROW, WIDE = (360, 220), (960, 280)
_LEFT, _RIGHT, _TOP, _BOTTOM = 40, 12, 12, 28


def line_chart(days: Sequence[date], series: Sequence[Series], *, title: str,
               day_label: Callable[[date], str], size: tuple[int, int] = WIDE,
               css: str = "") -> Markup:
    """Percentages over days, 0-100 %, one polyline per series (broken where values are missing)."""
    _W, _H = size
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    count = max(len(days), 1)

    def x(i: int) -> float:
        return _LEFT + (width * i / (count - 1) if count > 1 else width / 2)

    def y(value: float) -> float:
        return _TOP + height * (1 - max(0.0, min(1.0, value)))

    parts = [f'<svg class="chart {escape(css)}" viewBox="0 0 {_W} {_H}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>"]
    for tick in (0, 25, 50, 75, 100):
        ty = y(tick / 100)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{ty:.1f}" x2="{_W - _RIGHT}" '
                     f'y2="{ty:.1f}"/>')
        parts.append(f'<text class="axis" x="{_LEFT - 6}" y="{ty + 4:.1f}" '
                     f'text-anchor="end">{tick}%</text>')
    if days:
        for i in sorted({0, (count - 1) // 2, count - 1}):
            anchor = "start" if i == 0 else "end" if i == count - 1 else "middle"
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{_H - 8}" '
                         f'text-anchor="{anchor}">{escape(day_label(days[i]))}</text>')
    for line in series:
        for segment in _segments(line.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
            if len(segment) > 1:
                parts.append(f'<polyline class="line {escape(line.css)}" points="{points}"/>')
            for i, v in segment:
                parts.append(f'<circle class="dot {escape(line.css)}" cx="{x(i):.1f}" '
                             f'cy="{y(v):.1f}" r="3"><title>{escape(line.label)}: '
                             f"{escape(day_label(days[i]))} {v * 100:.0f}%</title></circle>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True, slots=True)
class Bar:
    """One stage of a funnel: a CSS class, a label and a count."""

    css: str
    label: str
    count: int


def funnel_chart(bars: Sequence[Bar], *, total: int, title: str,
                 number: Callable[[int], str] = str, size: tuple[int, int] = WIDE,
                 css: str = "") -> Markup:
    """Horizontal bars, one per stage, each as long as its share of ``total`` (the first
    stage), labelled with the count and the share. The height follows the number of bars."""
    width = size[0]
    narrow = width < 600
    label_w, value_w, row, bar_h = (84, 96, 30, 18) if narrow else (120, 150, 36, 22)
    track = width - label_w - value_w - 8
    height = 8 + row * len(bars)
    parts = [f'<svg class="chart funnel {escape(css)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>"]
    for i, bar in enumerate(bars):
        top = 4 + i * row
        middle = top + row / 2
        share = bar.count / total if total > 0 else 0.0
        length = track * max(0.0, min(1.0, share))
        text = f"{number(bar.count)} · {share * 100:.0f}%" if total > 0 else number(bar.count)
        parts.append(f'<text class="axis label" x="{label_w - 8}" y="{middle + 4:.1f}" '
                     f'text-anchor="end">{escape(bar.label)}</text>')
        parts.append(f'<rect class="track" x="{label_w}" y="{middle - bar_h / 2:.1f}" '
                     f'width="{track}" height="{bar_h}" rx="3"/>')
        if length > 0:
            parts.append(f'<rect class="bar {escape(bar.css)}" x="{label_w}" '
                         f'y="{middle - bar_h / 2:.1f}" width="{max(length, 2):.1f}" '
                         f'height="{bar_h}" rx="3"><title>{escape(bar.label)}: '
                         f"{escape(text)}</title></rect>")
        parts.append(f'<text class="axis value" x="{width - 4}" y="{middle + 4:.1f}" '
                     f'text-anchor="end">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((i, value))
    return [s for s in segments if s]
