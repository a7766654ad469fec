"""A stacked bar chart as inline SVG, drawn on the server: no script, no library, no CDN.

One bar per month, one coloured segment per user; each segment carries a
``<title>`` (the browser shows it on hover) and ``data-`` attributes naming its
month, user and value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = (
    "#1f5fa8",
    "#e07b24",
    "#2e9e6a",
    "#b8405e",
    "#7a5cc2",
    "#8c6d31",
    "#3a9bb8",
    "#6b7280",
)
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def stacked_bars(
    months: Sequence[str],
    values: Mapping[str, Mapping[str, float]],
    *,
    label: str,
    fmt: Callable[[float], str],
) -> Markup:
    """The chart of ``values[user][month]`` over ``months``.

    Parameters
    ----------
    months
        The bars, left to right (``YYYY-MM``).
    values
        Per user, per month, the amount; users are stacked in sorted order.
    label
        What the amounts are, for the chart's accessible name.
    fmt
        Formats an amount for the axis and the tooltips.
    """
    users = sorted(values)
    totals = [sum(values[u].get(m, 0.0) for u in users) for m in months]
    top = nice_ceiling(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = min(56.0, slot * 0.6)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="100%" role="img" aria-label="{escape(label)} per month">',
        f"<title>{escape(label)} per month</title>",
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11"'
            f' fill="#6b7280">{escape(fmt(value))}</text>'
        )
    for index, month in enumerate(months):
        x = LEFT + slot * index + (slot - bar_w) / 2
        base = TOP + plot_h
        for number, user in enumerate(users):
            value = values[user].get(month, 0.0)
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}"'
                f' height="{height:.1f}" fill="{PALETTE[number % len(PALETTE)]}"'
                f' data-month="{escape(month)}" data-user="{escape(user)}"'
                f' data-value="{value:g}"><title>{escape(user)}, {escape(month)}:'
                f" {escape(fmt(value))}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle"'
            f' font-size="11" fill="#374151">{escape(month)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"'
        ' stroke="#9ca3af" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(users: Sequence[str]) -> list[tuple[str, str]]:
    """Each user (sorted) with the colour of their segments."""
    return [(user, PALETTE[n % len(PALETTE)]) for n, user in enumerate(sorted(users))]
