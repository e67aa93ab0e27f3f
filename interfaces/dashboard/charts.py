"""Traffic charts drawn on the server as inline SVG: readable with no JavaScript at all.

Each bar carries a <title> (a tooltip on hover and for screen readers), and the page
shows the same numbers in a table beside the chart.
"""

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 260
LEFT = 52
RIGHT = 8
TOP = 14
BOTTOM = 30
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Bar:
    label: str  # the short label under the axis
    title: str  # the full name of the bucket, for the tooltip and the table
    hits: int
    uniques: int


def nice_step(maximum: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) that splits 0..maximum in <= ticks."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover


def _number(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return str(value)


def bar_chart(bars: list[Bar], title: str, show_uniques: bool = True) -> Markup:
    total = sum(b.hits for b in bars)
    uniques = sum(b.uniques for b in bars)
    summary = f"{total} hits" + (f", {uniques} unique" if show_uniques else "")
    peak = max([b.hits for b in bars] + [0])
    step = nice_step(peak)
    top_value = max(step, math.ceil(peak / step) * step)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(bars))
    bar_w = max(1.0, slot * 0.72)

    def y(value: int) -> float:
        return TOP + plot_h - (value / top_value) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}: {escape(summary)}" focusable="false">',
        f"<title>{escape(title)}: {escape(summary)}</title>",
    ]
    for tick in range(0, top_value + 1, step):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#d0d5dd" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end" '
            f'font-size="13" fill="#475467">{_number(tick)}</text>'
        )
    every = max(1, math.ceil(len(bars) / MAX_X_LABELS))
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + (slot - bar_w) / 2
        tip = f"{bar.title}: {bar.hits} hits" + (f", {bar.uniques} unique" if show_uniques else "")
        parts.append(f"<g><title>{escape(tip)}</title>")
        height = plot_h * bar.hits / top_value
        parts.append(
            f'<rect class="bar-hits" x="{x:.1f}" y="{y(bar.hits):.1f}" width="{bar_w:.1f}" '
            f'height="{max(0.0, height):.1f}" fill="#93b4ea"/>'
        )
        if show_uniques and bar.uniques:
            u_height = plot_h * bar.uniques / top_value
            parts.append(
                f'<rect class="bar-uniques" x="{x + bar_w * 0.2:.1f}" y="{y(bar.uniques):.1f}" '
                f'width="{bar_w * 0.6:.1f}" height="{u_height:.1f}" fill="#1d4ed8"/>'
            )
        parts.append("</g>")
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="middle" font-size="13" fill="#475467">{escape(bar.label)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#667085" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))
