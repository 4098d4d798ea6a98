"""Every word a practitioner reads about a feature: values, windows, reasons and their size.

A wording change touches this module alone. What each feature is (its description, its
singular, its category labels, how its value reads) is data on its ``FeatureSpec`` in the
registry; this module turns that data and a person's value into English, e.g. "2 ambulance calls
for a fall where they were not taken to hospital, in the last 12 months (raises risk by 4.2
points)". ``falls_risk.explain`` ranks the reasons and calls these functions to write them.
"""

from __future__ import annotations

import re
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


# --------------------------------------------------------------------------------------------
# Facts: what a reason rests on, in this person's own records
# --------------------------------------------------------------------------------------------

# What "points" means wherever a reason's size is shown (the risk list's notes, the worklist
# page, the docs); ``horizon`` is ``config.horizon_text`` of the model's label horizon.
POINTS_DEFINITION = (
    "A point is one percentage point of the predicted risk of an emergency admission for a fall "
    "within {horizon}: \"raises risk by 2.0 points\" means this fact takes the person's risk from, say, 8% "
    "to 10% (SHAP contributions on the probability scale; a person's points add up to their risk "
    "minus the average risk)."
)
DEFICITS_DEFINITION = (
    "Frailty deficits are counted as in the electronic Frailty Index (eFI): long-term conditions "
    "and events such as falls, dementia, incontinence and poor sight recorded by the GP or in a "
    "hospital diagnosis."
)


def points_definition(horizon: str = "12 months") -> str:
    return POINTS_DEFINITION.format(horizon=horizon)


def day_text(day: Any) -> str:
    """A date as a practitioner reads it: "3 Feb 2026"."""
    day = pd.Timestamp(day)
    return f"{day.day} {day:%b %Y}"


def _times(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _occurrence_text(occ: Any, one: str, many: str, *, as_of: Any = None) -> str | None:
    """e.g. "2 police welfare checks in the last 12 months, the last on 3 Feb 2026"."""
    if occ.last is None:
        return None
    when = f"the last on {day_text(occ.last)}"
    if as_of is not None:
        when += f" ({time_ago((pd.Timestamp(as_of) - pd.Timestamp(occ.last)).days)})"
    if occ.last_12_months == 0:
        return f"no {many} in the last 12 months; {when}"
    return f"{_times(occ.last_12_months, one, many)} in the last 12 months, {when}"


# Feature name (or its start) -> the fact that tells its story; features not named keep the
# value in words.
_FACT_OF_FEATURE: tuple[tuple[str, str], ...] = (
    ("efi_deficits", "deficits"),
    ("frid_", "medicines"),
    ("polypharmacy_", "medicine_kinds"),
    ("days_since_fall", "falls"),
    ("gp_recorded_falls_", "falls"),
    ("ever_fall", "falls"),
    ("fall_admissions_", "injurious_falls"),
    ("hip_fracture_admissions_", "injurious_falls"),
    ("ed_fall_attendances_", "injurious_falls"),
    ("ambulance_fall_", "ambulance_fall_calls"),
    ("ambulance_calls_", "ambulance_calls"),
    ("police_concern_for_welfare_", "welfare_checks"),
)


def fact_kind(feature: str) -> str | None:
    """Which of a person's facts tells the story of ``feature`` (None: its value in words)."""
    for start, kind in _FACT_OF_FEATURE:
        if feature == start or (start.endswith("_") and feature.startswith(start)):
            return kind
    return None


def medicines_text(frid_items: Any) -> str | None:
    """e.g. "fall-risk-increasing medicines in the last 90 days: opioid painkillers (3 items) and
    antidepressants (1 item)"."""
    if not frid_items:
        return None
    parts = [f"{label} ({_times(n, 'item', 'items')})" if n else label for label, n in frid_items]
    classes = _times(len(frid_items), "class", "classes")
    return f"{classes} of fall-risk-increasing medicine in the last 90 days: {listing(parts)}"


def fact_text(feature: str, facts: Any, *, as_of: Any = None) -> str | None:
    """The person's facts behind ``feature`` in words, or None when there are none to tell (the
    reason then keeps the feature's value in words). ``facts`` is a ``scoring.facts.PersonFacts``."""
    kind = fact_kind(feature)
    if kind is None or facts is None:
        return None
    if kind == "deficits":
        if not facts.deficits:
            return None
        n = len(facts.deficits)
        return f"{_times(n, 'frailty deficit', 'frailty deficits')} recorded: {listing(list(facts.deficits))}"
    if kind == "medicines":
        return medicines_text(facts.frid_items)
    if kind == "medicine_kinds":
        if not facts.medicine_kinds:
            return None
        text = f"{_times(facts.medicine_kinds, 'kind of medicine', 'different kinds of medicine')} prescribed " \
            "in the last 90 days"
        frids = [label for label, _ in facts.frid_items]
        return text + (f", including {listing(frids)}" if frids else "")
    if kind == "falls":
        return _occurrence_text(facts.falls, "fall recorded (any agency)", "falls recorded (any agency)",
                                as_of=as_of)
    if kind == "injurious_falls":
        return _occurrence_text(
            facts.injurious_falls, "hospital visit for a fall (emergency department or admission)",
            "hospital visits for a fall (emergency department or admission)", as_of=as_of)
    if kind == "ambulance_fall_calls":
        return _occurrence_text(facts.ambulance_fall_calls, "ambulance call for a fall",
                                "ambulance calls for a fall", as_of=as_of)
    if kind == "ambulance_calls":
        text = _occurrence_text(facts.ambulance_calls, "ambulance call", "ambulance calls", as_of=as_of)
        falls = facts.ambulance_fall_calls.last_12_months
        return text if text is None or not falls else f"{text} ({falls} for a fall)"
    if kind == "welfare_checks":
        return _occurrence_text(facts.welfare_checks, "police welfare check (concern for welfare)",
                                "police welfare checks (concern for welfare)", as_of=as_of)
    return None


def already_known_to(facts: Any) -> str:
    """Services already in contact, e.g. "Social care: home care package (10 hours a week),
    telecare, reablement (1 episode in the last 12 months)"; empty when none."""
    parts = []
    if facts.home_care_hours is not None:
        hours = f" ({_number(facts.home_care_hours)} hours a week)" if facts.home_care_hours else ""
        parts.append(f"home care package{hours}")
    if facts.telecare:
        parts.append("telecare")
    if facts.reablement_12_months:
        n = _times(facts.reablement_12_months, "episode", "episodes")
        parts.append(f"reablement ({n} in the last 12 months)")
    return f"Social care: {', '.join(parts)}" if parts else ""


RISK_LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("risk_percent", "the predicted risk of an emergency admission for a fall within {horizon}, in percent"),
    ("listed_because", "flagged tier, new event, rising risk and/or left the flagged tier"),
    ("reasons", ("the facts that raise this person's risk most, grouped by agency, each with its size in points "
                "(only those of {min_points} points or more, at most five)")),
    ("alerts", "events new since the last run (an ambulance call for a fall, a police welfare check, ...)"),
    ("previous_risk_percent", "the risk at the previous run (empty when not scored then)"),
    ("risk_change_points", "risk now minus risk at the previous run, in points (a number: sort on it)"),
    ("risk_change", "the same change in words"),
    ("why_risen", "for the biggest risers: what changed"),
    ("case_finding", ("which NICE NG249 case-finding criteria the person meets (a previous injurious fall, several "
                     "falls, frailty) and which these records cannot tell (gait or balance)")),
    ("suggested_actions", "what the guidance then offers, each action with the fact that prompted it and its source"),
    ("already_known_to", "services already in contact: an active home-care package, telecare, recent reablement"),
)


def risk_list_notes(*, horizon: str, min_points: float) -> str:
    """The risk list's header notes (a text file beside the CSV)."""
    lines = [
        "Notes on the falls risk list (risk_list)",
        "",
        points_definition(horizon),
        DEFICITS_DEFINITION,
        "",
        "Columns:",
        *(f"- {name}: {text.format(horizon=horizon, min_points=f'{min_points:g}')}" for name, text in RISK_LIST_COLUMNS),
        "",
        ("NICE NG249 (April 2025) advises against using a falls risk prediction tool alone: the list is a prompt to "
        "case-find, leading to a multifactorial falls risk assessment. The suggested actions come from the cited "
        "mapping in falls_risk/guidance (actions and case-finding CSV files)."),
        "The list names people: keep it within the team.",
    ]
    return "\n".join(lines) + "\n"


def without_definitions(text: str) -> str:
    """A reason without the definitions the list's notes give once (the eFI's, in brackets)."""
    return re.sub(r" \(eFI-style count[^)]*\)", "", text)


def no_reason_text(min_points: float) -> str:
    """For a listed person none of whose factors moves their risk by ``min_points`` or more."""
    return f"No single factor moves their risk by {min_points:g} points or more."


def short_text(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters at a word boundary (a label cut mid-word reads as a
    different word), with an ellipsis: labels in the report's figures and the worklist's charts."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:(-…") + "…"
