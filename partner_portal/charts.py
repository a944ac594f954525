"""Server-side charts as inline SVG: no JavaScript, no CDN."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from billing.selectors import DayPoint

TICKS = 4


def _nice_max(value: float, integer: bool = False) -> float:
    """An axis maximum at or above value whose TICKS steps are round (1, 2, 2.5 or 3, 5 x 10^n)."""
    if value <= 0:
        return float(TICKS) if integer else 1.0
    raw_step = value / TICKS
    magnitude = 10 ** math.floor(math.log10(raw_step))
    for factor in (1, 2, 3, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw_step and (not integer or step == int(step)):
            return step * TICKS
    return 10 * magnitude * TICKS


def daily_chart(points: list[DayPoint], width: int = 900, height: int = 260) -> SafeString:
    """Bars: counted messages per day (left axis); line: commission per day (right axis)."""
    left, right, top, bottom = 48, 64, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)
    max_count = _nice_max(max((p.counted for p in points), default=0), integer=True)
    max_money = _nice_max(float(max((p.commission for p in points), default=Decimal(0))))
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1)
    label = escape(_("Counted messages and commission per day"))
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
    ]
    for i in range(TICKS + 1):
        y = top + plot_h - plot_h * i / TICKS
        count_label = formats.number_format(round(max_count * i / TICKS), 0, force_grouping=True)
        money_label = formats.number_format(Decimal(max_money * i / TICKS), 2, force_grouping=True)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{count_label}</text>"
            f'<text class="axis money" x="{left + plot_w + 6}" y="{y + 4:.1f}">{money_label}</text>'
        )
    line: list[str] = []
    for index, point in enumerate(points):
        x = left + slot * index
        h = plot_h * point.counted / max_count
        day = formats.date_format(point.day, "SHORT_DATE_FORMAT")
        money = formats.number_format(point.commission, 2, force_grouping=True)
        title = escape(f"{day}: {point.counted} · {money}")
        parts.append(
            f'<rect class="bar" x="{x + (slot - bar_w) / 2:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}"><title>{title}</title></rect>'
        )
        cy = top + plot_h - plot_h * float(point.commission) / max_money
        line.append(f"{x + slot / 2:.1f},{cy:.1f}")
        if index % 15 == 0 or index == n - 1:
            parts.append(
                f'<text class="axis" x="{x + slot / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{escape(point.day.strftime("%d.%m"))}</text>'
            )
    if line:
        parts.append(f'<polyline class="line" points="{" ".join(line)}"/>')
    parts.append(
        f'<line class="axis-line" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text piece above is escaped
