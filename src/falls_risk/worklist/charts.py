"""The worklist's two small charts, drawn as inline SVG (no script, no network, prints well).

``waterfall``: from the average person's risk, each of the person's largest factors adds or
takes away points on the probability scale, ending at their risk (SHAP contributions on the
probability scale add up exactly, so the bars end where the risk is). ``timeline``: the last 12
months of contacts, one row per agency, one mark per contact, with the contact in its tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

from falls_risk.features.wording import short_text

RAISE_COLOUR = "#b3261e"
LOWER_COLOUR = "#2e7d32"
AGENCY_COLOURS = {
    "GP": "#5b6abf", "hospital": "#b3261e", "ambulance service": "#d97706", "social care": "#2e7d32",
    "police": "#1f4e8c", "housing": "#7b4f9d",
}


def waterfall(steps: Sequence[tuple[str, float]], base: float, *, width: int = 560) -> str:
    """An SVG waterfall: ``base`` (average risk, 0-1), then ``steps`` (label, points 0-1)."""
    label_w, value_w, row_h = 250, 58, 20
    plot_w = width - label_w - value_w
    rows = [("average risk", 0.0, base, "base")]
    level = base
    for text, points in steps:
        rows.append((text, level, level + points, "step"))
        level += points
    rows.append(("their risk", 0.0, level, "total"))
    top = max(max(a, b) for _, a, b, _ in rows)
    scale = plot_w / max(top, 1e-9)
    height = row_h * len(rows) + 24
    parts = [(f'<svg class="waterfall" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="Contribution of each factor to the risk, in percentage points">')]
    for i, (text, start, end, kind) in enumerate(rows):
        y = 4 + i * row_h
        x0, x1 = label_w + min(start, end) * scale, label_w + max(start, end) * scale
        colour = "#555" if kind != "step" else (RAISE_COLOUR if end >= start else LOWER_COLOUR)
        value = f"{end * 100:.1f}%" if kind != "step" else f"{(end - start) * 100:+.1f}"
        title = escape(f"{text}: {value}{'' if kind != 'step' else ' points'}")
        parts.append(
            f'<g><title>{title}</title>'
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="11">{escape(short_text(text, 34))}</text>'
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.0):.1f}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{width - 4}" y="{y + 13}" text-anchor="end" font-size="12">{escape(value)}</text></g>'
        )
    axis_y = 4 + len(rows) * row_h + 4
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + plot_w}" y2="{axis_y}" stroke="#999"/>')
    parts.append(f'<text x="{label_w}" y="{axis_y + 14}" font-size="11">0%</text>')
    parts.append(f'<text x="{label_w + plot_w}" y="{axis_y + 14}" font-size="11" text-anchor="end">{top * 100:.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline(contacts: Sequence[tuple[date, str, str]], as_of: date, agencies: Sequence[str], *, width: int = 560) -> str:
    """An SVG timeline of the 12 months before ``as_of``: one row per agency in ``agencies``."""
    label_w, row_h = 130, 18
    plot_w = width - label_w - 10
    start = as_of - timedelta(days=365)
    height = row_h * len(agencies) + 22
    parts = [(f'<svg class="timeline" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-label="Contacts with each agency in the last 12 months">')]
    for i, agency in enumerate(agencies):
        y = 4 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" font-size="12">{escape(agency)}</text>'
                     f'<line x1="{label_w}" y1="{y + 8}" x2="{label_w + plot_w}" y2="{y + 8}" stroke="#ddd"/>')
        colour = AGENCY_COLOURS.get(agency, "#444")
        for day, who, what in contacts:
            if who != agency or not (start <= day < as_of):
                continue
            x = label_w + (day - start).days / 365 * plot_w
            parts.append(f'<circle cx="{x:.1f}" cy="{y + 8}" r="4.5" fill="{colour}" fill-opacity="0.8">'
                         f'<title>{escape(f"{day:%d %b %Y}: {what}")}</title></circle>')
    axis_y = 4 + len(agencies) * row_h + 12
    for months_back in (12, 9, 6, 3, 0):
        day = as_of - timedelta(days=round(months_back * 30.44))
        x = label_w + max(0, (day - start).days) / 365 * plot_w
        anchor = "start" if months_back == 12 else "end" if months_back == 0 else "middle"
        text = f"{as_of:%d %b}" if months_back == 0 else f"{day:%b %Y}"
        parts.append(f'<text x="{x:.1f}" y="{axis_y}" font-size="10" fill="#555" text-anchor="{anchor}">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)
