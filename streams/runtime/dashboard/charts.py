"""The dashboard's two charts as inline SVG text (no chart library, no CDN). Pure.

Every text that comes from data is XML-escaped; numbers are formatted here, so the page only
inserts the markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import Any

__all__ = ["class_chart", "stake_chart"]

_STATE_FILL = {
    "agreed": "#2e7d32",
    "within-tolerance": "#7cb342",
    "diverged": "#c62828",
    "waiting": "#f9a825",
}
_SEVERITY_FILL = {"info": "#1976d2", "warning": "#ef6c00", "critical": "#b71c1c"}


def _empty(width: int, height: int, text: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(text)}" class="chart empty">'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">'
        f"{escape(text)}</text></svg>"
    )


def stake_chart(windows: Sequence[Mapping[str, Any]], width: int = 640, height: int = 200) -> str:
    """Money at stake per window over time (the newest 96 windows of the first currency), one
    bar per window coloured by its state; a window with nothing at stake shows as a thin mark."""
    views = [w for w in windows if w.get("currency")]
    if not views:
        return _empty(width, height, "No money reconciled yet")
    currency = sorted({w["currency"] for w in views})[0]
    shown = sorted((w for w in views if w["currency"] == currency), key=lambda w: w["start_ms"])
    shown = shown[-96:]
    values = [Decimal(w["at_stake"]) for w in shown]
    top = max(values) or Decimal(1)
    left, right, bottom, head = 56, 8, 28, 14
    plot_w, plot_h = width - left - right, height - bottom - head
    step = plot_w / len(shown)
    bar = max(1.0, step * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="chart" aria-label="Money at stake per window, {escape(currency)}">',
        f'<text x="{left}" y="10" class="axis">at stake ({escape(currency)})</text>',
        f'<line x1="{left}" y1="{head + plot_h}" x2="{width - right}" y2="{head + plot_h}" '
        'class="rule"/>',
        f'<text x="{left - 4}" y="{head + 4}" text-anchor="end" class="axis">{top}</text>',
        f'<text x="{left - 4}" y="{head + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, (w, value) in enumerate(zip(shown, values, strict=True)):
        h = max(1.5, float(value / top) * plot_h)
        x = left + i * step + (step - bar) / 2
        fill = _STATE_FILL.get(w["state"], "#9e9e9e")
        title = f"{w['label']} UTC: {w['at_stake']} {currency} at stake ({w['state_label']})"
        parts.append(
            f'<rect x="{x:.1f}" y="{head + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{fill}" data-window="{escape(w["id"])}"><title>{escape(title)}</title></rect>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 8}" class="axis">{escape(shown[0]["label"][:16])}</text>'
    )
    parts.append(
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end" class="axis">'
        f"{escape(shown[-1]['label'][:16])}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def class_chart(classes: Sequence[Mapping[str, Any]], width: int = 640) -> str:
    """Divergences by class: one horizontal bar per alert kind, coloured by severity."""
    if not classes:
        return _empty(width, 60, "No divergences found")
    row, label_w = 22, 190
    height = row * len(classes) + 8
    top = max(int(c["count"]) for c in classes) or 1
    plot_w = width - label_w - 48
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'class="chart" aria-label="Divergences by class">'
    ]
    for i, c in enumerate(classes):
        y = 4 + i * row
        w = max(2.0, int(c["count"]) / top * plot_w)
        fill = _SEVERITY_FILL.get(str(c["severity"]), "#757575")
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="label">'
            f"{escape(str(c['label']))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{fill}" '
            f'data-kind="{escape(str(c["kind"]))}"><title>{escape(str(c["label"]))}: '
            f"{int(c['count'])} ({escape(str(c['severity']))})</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="label">{int(c["count"])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
