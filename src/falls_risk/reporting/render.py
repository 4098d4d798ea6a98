"""Render the model report's summary (a plain dict) with its template into one HTML string."""

from __future__ import annotations

from typing import Any

from falls_risk import templating

MODEL_REPORT_TEMPLATE = "model_report.html.j2"


def render_report(summary: dict[str, Any], template: str = MODEL_REPORT_TEMPLATE) -> str:
    """The report as one self-contained HTML document."""
    return templating.render(template, summary)
