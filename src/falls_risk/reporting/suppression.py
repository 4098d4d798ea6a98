"""Small-number suppression: the one helper every commissioner-facing number goes through.

Counts of 1 to 4 are shown as ``<5`` (a disclosure-control rule: a small count in a small area
can identify a person). Zero stays 0: nobody can be identified from an empty cell. Rates and
metrics computed from a suppressed count are suppressed too (``metric_or_suppressed``).
"""

from __future__ import annotations

import math
from typing import Any

SMALL_COUNT_LIMIT = 5
SUPPRESSED = "<5"
NOT_SHOWN = "–"  # a metric withheld because it rests on a suppressed count


def is_small(count: Any) -> bool:
    """True for a count that must not be shown (1-4)."""
    if count is None:
        return False
    try:
        value = float(count)
    except (TypeError, ValueError):
        return False
    return not math.isnan(value) and 0 < value < SMALL_COUNT_LIMIT


def suppress_count(count: Any) -> str:
    """A count as text: ``<5`` for 1-4, thousands separators otherwise, ``–`` when unknown."""
    if count is None:
        return NOT_SHOWN
    if isinstance(count, str):
        return count
    value = float(count)
    if math.isnan(value):
        return NOT_SHOWN
    if is_small(value):
        return SUPPRESSED
    return f"{round(value):,}"


def metric_or_suppressed(value: Any, *counts: Any, fmt: str = "{:.2f}") -> str:
    """``value`` formatted, unless any count it rests on is 1-4 (then ``–``) or it is missing."""
    if any(is_small(c) for c in counts):
        return NOT_SHOWN
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_SHOWN
    return fmt.format(value)
