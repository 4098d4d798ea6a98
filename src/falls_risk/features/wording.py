"""Every word a practitioner reads about a feature: values, windows, reasons and their size.

A wording change touches this module alone. What each feature is (its description, its
singular, its category labels, how its value reads) is data on its ``FeatureSpec`` in the
registry; this module turns that data and a person's value into English, e.g. "2 ambulance calls
for a fall where they were not taken to hospital, in the last 12 months (raises risk by 4.2
points)". ``falls_risk.explain`` ranks the reasons and calls these functions to write them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.features.spec import FeatureSpec, Reading

# The contract's sex codes as a reader sees them (the registry's sex feature declares them).
SEX_LABELS: Mapping[str, str] = {"M": "male", "F": "female", "U": "not known"}

# Window labels that describe the person at the index date (a characteristic such as age, or a
# state such as home care in place), not a look-back: nothing to add after the value.
_AT_THE_INDEX_DATE = ("", "on the index date")

# How to say that a yes/no feature is absent, by the description's first words; any other
# description is negated with "no" ("no dementia recorded by the GP ...").
_NEGATED_OPENINGS = (
    ("lives ", "does not live "),
    ("has ", "does not have "),
    ("receiving ", "not receiving "),
    ("prescribed ", "not prescribed "),
    ("waiting ", "not waiting "),
)


def category_labels(codes: tuple[str, ...], labels: Mapping[str, str]) -> tuple[str, ...]:
    """The labels of ``codes`` in their order (a code without a label reads as itself)."""
    return tuple(labels.get(code, code) for code in codes)


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def window_text(spec: FeatureSpec) -> str:
    """The spec's window in words: its ``window_label`` if it has one, else the look-back."""
    if spec.window_label is not None:
        return spec.window_label
    if spec.window_days is None:
        return "ever"
    if spec.window_days % 365 == 0:
        years = spec.window_days // 365
        return "in the last 12 months" if years == 1 else f"in the last {years} years"
    return f"in the last {spec.window_days} days"


def label(spec: FeatureSpec) -> str:
    """Description and window, e.g. "ambulance calls for a fall (in the last 12 months)"."""
    window = window_text(spec)
    return spec.description if window in _AT_THE_INDEX_DATE else f"{spec.description} ({window})"


def _window_suffix(spec: FeatureSpec, *, ever: str = " on record") -> str:
    """What follows a value: ", in the last 12 months", ``ever`` for all history, or nothing."""
    text = window_text(spec)
    if text == "ever":
        return ever
    if text in _AT_THE_INDEX_DATE:
        return ""
    return f", {text}"


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def time_ago(days: float) -> str:
    """A number of days before the index date as a person says it, e.g. "about 7 months ago"."""
    days = float(days)
    if days < 1:
        return "today"
    if days < 14:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''} ago"
    if days < 60:
        n = round(days / 7)
        return f"{n} weeks ago"
    if days < 730:
        n = round(days / 30.44)
        return f"about {n} months ago"
    n = round(days / 365.25)
    return f"about {n} years ago"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def _absent(description: str) -> str:
    for opening, negated in _NEGATED_OPENINGS:
        if description.startswith(opening):
            return negated + description[len(opening):]
    for article in ("a ", "an "):
        description = description.removeprefix(article)
    return f"no {description}"


def _missing(spec: FeatureSpec) -> str:
    # "not applicable" (the spec's default) and "never missing ..." explain the data dictionary's
    # column, not this person's value: say plainly that it was not recorded.
    meaning = spec.missing_means
    if meaning and meaning != "not applicable" and not meaning.startswith("never missing"):
        return meaning
    return f"{spec.description}: not recorded"


def _category(spec: FeatureSpec, code: int) -> str:
    labels = spec.display_categories
    return labels[code] if 0 <= code < len(labels) else f"category {code}"


def describe_value(spec: FeatureSpec, value: Any) -> str:
    """One person's value of one feature, in words a practitioner reads.

    >>> describe_value(FeatureSpec("n", "ambulance calls for a fall", "ambulance service",
    ...     window_days=365, singular="ambulance call for a fall"), 1)
    '1 ambulance call for a fall, in the last 12 months'
    """
    if _is_missing(value):
        return _missing(spec)
    reading = spec.reading
    if reading is Reading.CATEGORY:
        return f"{spec.description}: {_category(spec, int(value))}"
    value = float(value)
    if reading is Reading.FLAG:
        return (spec.description if value >= 0.5 else _absent(spec.description)) + _window_suffix(spec, ever="")
    if reading is Reading.RECENCY:
        if spec.description.startswith("days since "):
            return f"{spec.description[len('days since '):]} was {time_ago(value)}"
        return f"{spec.description}: {time_ago(value)}"
    if reading is Reading.COUNT:
        if value == 0:
            return f"no {spec.plural}{_window_suffix(spec)}"
        # A spec declared without a singular (outside the registry) reads in the plural.
        things = (spec.singular or spec.plural) if value == 1 else spec.plural
        return f"{_number(value)} {things}{_window_suffix(spec)}"
    if reading is Reading.SHARE:
        return f"{spec.description}: {value:.0%}"
    if reading is Reading.TREND:
        unit = f" {spec.unit}" if spec.unit else ""
        return f"{spec.description}: {value:+g}{unit}"
    # A measure; its unit is left out when the description already names it.
    unit = f" {spec.unit}" if spec.unit and spec.unit.split()[0] not in spec.description else ""
    return f"{spec.description}: {_number(value)}{unit}{_window_suffix(spec, ever='')}"


# --------------------------------------------------------------------------------------------
# Reasons
# --------------------------------------------------------------------------------------------


def risk_effect(*, raises: bool, points: float) -> str:
    """How much a reason moves the risk, e.g. "raises risk by 4.2 points" (``points`` 0-1)."""
    verb = "raises" if raises else "lowers"
    pts = abs(points) * 100
    size = f"{pts:.1f}" if pts >= 0.1 else "<0.1"
    return f"{verb} risk by {size} points"


def reason(text: str, *, raises: bool, points: float) -> str:
    """One reason: the value in words and its effect, e.g. "receiving home care (lowers risk by
    1.2 points)"."""
    return f"{text} ({risk_effect(raises=raises, points=points)})"


def agency_label(agency: str) -> str:
    """An agency as a heading: "ambulance service" -> "Ambulance service"."""
    return agency[:1].upper() + agency[1:]


def reasons_by_agency(groups: Mapping[str, list[str]]) -> str:
    """A person's reasons, grouped under each agency in the order given, e.g. "Ambulance service:
    2 ambulance calls ... (raises risk by 4.2 points). Social care: ..."."""
    return " ".join(f"{agency_label(agency)}: {'; '.join(reasons)}." for agency, reasons in groups.items())


__all__ = [
    "SEX_LABELS",
    "agency_label",
    "category_labels",
    "describe_value",
    "label",
    "reason",
    "reasons_by_agency",
    "risk_effect",
    "time_ago",
    "window_text",
]
