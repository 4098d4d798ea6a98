"""Small-number suppression: the one helper every published count and rate goes through.

Counts of 1 to 4 are shown as ``<5`` (a disclosure-control rule: a small count in a small area
can identify a person). Zero stays 0: nobody can be identified from an empty cell. Rates and
metrics computed from a suppressed count are suppressed too (``metric_or_suppressed``), and so
is a share whose complement is 1-4 (``share_or_suppressed``: 97 of 100 gives the 3 away).

It sits below every stage that publishes numbers (the linkage report, the model report, the
scoring summary), so each of them uses the same rule.
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


def share_or_suppressed(part: Any, whole: Any) -> str:
    """``part`` as a percentage of ``whole`` (``92.3%``); ``n/a (<5)`` when ``part`` or the rest
    (``whole - part``) is 1-4, and ``-`` when ``whole`` is 0."""
    if whole == 0:
        return "-"
    if is_small(part) or is_small(whole - part):
        return f"n/a ({SUPPRESSED})"
    return f"{100 * part / whole:.1f}%"
