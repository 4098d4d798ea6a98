"""Render a report summary (a plain dict) with its Jinja2 template into one HTML string."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2

from falls_risk.disclosure import NOT_SHOWN, suppress_count

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
MODEL_REPORT_TEMPLATE = "model_report.html.j2"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _pct(value: Any, digits: int = 1) -> str:
    if isinstance(value, str):
        return value
    return NOT_SHOWN if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def _num(value: Any, digits: int = 2) -> str:
    if isinstance(value, str):
        return value
    return NOT_SHOWN if _missing(value) else f"{float(value):,.{digits}f}"


def _signed(value: Any, digits: int = 3) -> str:
    if isinstance(value, str):
        return value
    return NOT_SHOWN if _missing(value) else f"{float(value):+.{digits}f}"


def environment() -> jinja2.Environment:
    """The Jinja2 environment: HTML autoescaping, strict undefined, and the number filters.

    ``count`` is the small-number suppression (1-4 -> ``<5``) and is the only way a count is
    printed in a template.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["count"] = suppress_count
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    return env


def render_report(summary: dict[str, Any], template: str = MODEL_REPORT_TEMPLATE) -> str:
    """The report as one self-contained HTML document."""
    return environment().get_template(template).render(**summary)
