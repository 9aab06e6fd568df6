"""Small server-rendered SVG charts for the console (no script, CSP-friendly)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def line_chart(points: Sequence[tuple[str, int]], title: str, limit: int | None = None,
               width: int = 560, height: int = 200) -> str:
    """Persons over time; ``limit`` draws the filing threshold when it is within 5x the data."""
    left, right, top, bottom = 48, 12, 24, 28
    if not points:
        return (f'<svg class="chart" viewBox="0 0 {width} 60" role="img" '
                f'aria-label="{escape(title)}"><text x="8" y="34">—</text></svg>')
    peak = max(v for _, v in points)
    show_limit = limit is not None and limit <= max(peak, 1) * 5
    ymax = max(peak, limit if show_limit and limit else 0, 1)
    w, h = width - left - right, height - top - bottom
    n = len(points)

    def x(i: int) -> float:
        return left + (w * i / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return top + h - h * v / ymax

    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}"
                    for i, (_, v) in enumerate(points))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}: {points[-1][1]} on {escape(points[-1][0])}">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#8a949f"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#8a949f"/>',
             f'<text x="4" y="{top + 4}">{ymax:,}</text>',
             f'<text x="4" y="{top + h}">0</text>',
             f'<path d="{path}" fill="none" stroke="#0b3d91" stroke-width="2.5"/>']
    for i, (_, v) in enumerate(points):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#0b3d91"/>')
    if show_limit and limit is not None:
        parts.append(f'<line x1="{left}" y1="{y(limit):.1f}" x2="{left + w}" '
                     f'y2="{y(limit):.1f}" stroke="#b42318" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{left + 4}" y="{y(limit) - 4:.1f}" fill="#b42318">'
                     f'{limit:,}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}">{escape(points[0][0])}</text>')
    parts.append(f'<text x="{left + w}" y="{height - 6}" text-anchor="end">'
                 f'{escape(points[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(counts: dict[str, int], title: str, width: int = 560) -> str:
    """Horizontal bars, one per rule id."""
    items = list(counts.items())[:12]
    if not items:
        return (f'<svg class="chart" viewBox="0 0 {width} 40" role="img" '
                f'aria-label="{escape(title)}: 0"><text x="8" y="24">0</text></svg>')
    label_w, bar_h, gap = 230, 18, 8
    height = len(items) * (bar_h + gap) + 8
    peak = max(v for _, v in items)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    for i, (rule, v) in enumerate(items):
        yy = 4 + i * (bar_h + gap)
        bw = (width - label_w - 50) * v / peak
        parts.append(f'<text x="0" y="{yy + 13}">{escape(rule)}</text>')
        parts.append(f'<rect x="{label_w}" y="{yy}" width="{bw:.1f}" height="{bar_h}" '
                     f'fill="#b42318"/>')
        parts.append(f'<text x="{label_w + bw + 6:.1f}" y="{yy + 13}">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)
