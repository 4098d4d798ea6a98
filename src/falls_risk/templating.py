"""The one Jinja2 environment for every HTML page: the linkage report, the model report and the
scoring summary.

Every template lives in ``falls_risk/templates/``. The environment escapes HTML, fails on an
undefined name, trims the lines of block tags, and has the number filters: ``count`` (the
small-number suppression of :mod:`falls_risk.disclosure`, and the only way a template prints a
count), ``pct``, ``num`` and ``signed``. A text that is already formatted (``<5``, ``–``)
passes through the number filters unchanged.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from falls_risk.disclosure import NOT_SHOWN, suppress_count

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


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


@functools.cache
def environment() -> jinja2.Environment:
    """The environment (built once): HTML autoescaping, strict undefined, the number filters."""
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


def render(template: str, context: Mapping[str, Any]) -> str:
    """``template`` (a file name in ``falls_risk/templates/``) rendered as one HTML string."""
    return environment().get_template(template).render(**context)
