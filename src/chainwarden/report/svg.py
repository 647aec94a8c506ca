"""Inline SVG charts, drawn server-side: no JavaScript, no CDN, readable without a browser plug-in."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

SEVERITY_COLOURS = {
    "critical": "#7b1fa2",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#f9a825",
    "info": "#607d8b",
    "unknown": "#9e9e9e",
    "clean": "#2e7d32",
}


def bar_chart(title: str, bars: Sequence[tuple[str, int]], *, width: int = 480, bar_height: int = 22) -> str:
    """Horizontal bars, one per (label, value); colour by label when it is a severity."""
    top = 28
    height = top + bar_height * max(len(bars), 1) + 8
    peak = max((value for _, value in bars), default=0) or 1
    label_width = 110
    span = width - label_width - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f'<title>{escape(title)}</title><text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(bars):
        y = top + index * bar_height
        length = round(span * value / peak)
        colour = SEVERITY_COLOURS.get(label, "#1565c0")
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{value}">'
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="{bar_height - 6}" fill="{colour}"/>'
            f'<text x="{label_width + length + 6}" y="{y + 15}">{value}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, points: Sequence[tuple[str, int]], *, width: int = 480, height: int = 180) -> str:
    """A line over (label, value) points in order (e.g. findings first seen per day, cumulative)."""
    left, top, bottom = 40, 28, 30
    inner_w, inner_h = width - left - 10, height - top - bottom
    peak = max((v for _, v in points), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f'<title>{escape(title)}</title><text x="0" y="16" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + inner_h}" x2="{left + inner_w}" y2="{top + inner_h}" stroke="#999"/>',
        f'<text x="0" y="{top + 10}">{peak}</text><text x="0" y="{top + inner_h}">0</text>',
    ]
    if points:
        step = inner_w / max(len(points) - 1, 1)
        coords = [
            (left + round(i * step), top + inner_h - round(inner_h * v / peak)) for i, (_, v) in enumerate(points)
        ]
        path = " ".join(f"{x},{y}" for x, y in coords)
        parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{path}"/>')
        for (x, y), (label, value) in zip(coords, points, strict=True):
            parts.append(
                f'<circle class="point" cx="{x}" cy="{y}" r="3" fill="#1565c0" data-label="{escape(label)}" '
                f'data-value="{value}"><title>{escape(label)}: {value}</title></circle>'
            )
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(points[0][0])}</text>')
        if len(points) > 1:
            parts.append(
                f'<text x="{left + inner_w}" y="{height - 8}" text-anchor="end">{escape(points[-1][0])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
