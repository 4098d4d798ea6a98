"""Suggested actions and case-finding, from current UK falls guidance, as data.

NICE NG249 (April 2025) recommends against falls risk prediction tools used alone, because they
"only stratify people into high- or low-risk categories without recommending any further
intervention"; it supports case-finding (a previous injurious fall, several falls, frailty, gait
or balance problems) that leads to a multifactorial assessment. So every listed person's entry
says which case-finding criteria they meet, and what the guidance then offers.

The mapping is two cited CSV files in this package, not code: ``case_finding.csv`` (criterion,
threshold, meaning, source, url) and ``actions.csv`` (trigger, threshold, action, source, url).
This module knows only how to test each named criterion or trigger on a person's facts
(``scoring.facts.PersonFacts``) and which fact prompted it; a row naming an unknown trigger is an
error that names the file and line. Edit the CSVs to change the wording, thresholds or citations.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from falls_risk.errors import FallsRiskError
from falls_risk.features import wording


@dataclass(frozen=True)
class GuidanceRow:
    name: str  # the trigger or criterion
    threshold: float | None
    text: str  # the action, or what the criterion means
    source: str
    url: str


@dataclass(frozen=True)
class Suggestion:
    """One suggested action for one person and the reason (a fact) that prompted it."""

    action: str
    because: str
    source: str
    url: str

    @property
    def short_source(self) -> str:
        """The source's name alone, e.g. "NICE NG249 (April 2025)", "STOPPFall"."""
        return self.source.split(":")[0].split(",")[0]

    def text(self) -> str:
        return f"{self.action} (because: {self.because}) [{self.short_source}]"


# A test on a person's facts: the fact (in words) that makes the row apply, or None.
Test = Callable[[Any, float | None], str | None]


def _falls_text(facts: Any) -> str | None:
    return wording.fact_text("days_since_fall", facts)


def _injurious(facts: Any, _: float | None) -> str | None:
    occ = facts.injurious_falls
    if occ.last is None:
        return None
    return f"hospital visit for a fall on {wording.day_text(occ.last)}"


def _several(facts: Any, threshold: float | None) -> str | None:
    n = facts.falls.last_12_months
    return f"{n} falls in the last 12 months" if n >= (threshold or 2) else None


def _frailty(facts: Any, threshold: float | None) -> str | None:
    if "frailty" in facts.conditions:
        return "frailty coded by the GP"
    n = len(facts.deficits)
    return f"{n} frailty deficits ({', '.join(facts.deficits)})" if n >= (threshold or 4) else None


def _never(facts: Any, _: float | None) -> str | None:
    return None


CRITERIA: dict[str, Test] = {
    "injurious_fall": _injurious,
    "several_falls": _several,
    "frailty": _frailty,
    "gait_balance": _never,  # not in any agency's extract: always shown as "ask"
}


def _case_finding(facts: Any, _: float | None) -> str | None:
    met = [row.text.split(" (")[0] for row in case_finding_rows() if CRITERIA[row.name](facts, row.threshold)]
    return f"meets the NICE case-finding criteria of {wording.listing(met)}" if met else None


def _recent_fall(facts: Any, _: float | None) -> str | None:
    return _falls_text(facts) if facts.falls.last_12_months else None


def _frid(facts: Any, _: float | None) -> str | None:
    return wording.medicines_text(facts.frid_items)


def _polypharmacy(facts: Any, threshold: float | None) -> str | None:
    n = facts.medicine_kinds
    return f"{n} different kinds of medicine in the last 90 days" if n >= (threshold or 10) else None


def _adaptation(facts: Any, _: float | None) -> str | None:
    return "waiting for a home adaptation" if facts.adaptation_pending else None


def _telecare(facts: Any, _: float | None) -> str | None:
    return "lives alone and has no telecare" if facts.lives_alone and not facts.telecare else None


def _bone(facts: Any, _: float | None) -> str | None:
    found = [label for name, label in (("osteoporosis", "osteoporosis"), ("hip_fracture", "a hip fracture"))
             if name in facts.conditions]
    return " and ".join(found) + " recorded" if found else None


def _welfare(facts: Any, _: float | None) -> str | None:
    return wording.fact_text("police_concern_for_welfare_365d", facts) if facts.welfare_checks.last_12_months else None


TRIGGERS: dict[str, Test] = {
    "case_finding": _case_finding,
    "recent_fall": _recent_fall,
    "frid": _frid,
    "polypharmacy": _polypharmacy,
    "adaptation_pending": _adaptation,
    "lives_alone_no_telecare": _telecare,
    "bone_health": _bone,
    "welfare_check": _welfare,
}


def _read(file_name: str, known: dict[str, Test], key: str, text: str) -> tuple[GuidanceRow, ...]:
    content = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    rows = []
    for line, row in enumerate(csv.DictReader(content.splitlines()), start=2):
        name = (row.get(key) or "").strip()
        if name not in known:
            raise FallsRiskError(
                f"guidance/{file_name} line {line}: {key} {name!r} is not one falls-risk can test; "
                f"known: {', '.join(known)}. Fix the row."
            )
        raw = (row.get("threshold") or "").strip()
        try:
            threshold = float(raw) if raw else None
        except ValueError:
            raise FallsRiskError(
                f"guidance/{file_name} line {line}: threshold {raw!r} is not a number. Fix the row."
            ) from None
        rows.append(GuidanceRow(name, threshold, row[text].strip(), row["source"].strip(), row["url"].strip()))
    return tuple(rows)


@cache
def action_rows() -> tuple[GuidanceRow, ...]:
    """The rows of ``actions.csv``, in file order (the order actions are suggested in)."""
    return _read("actions.csv", TRIGGERS, "trigger", "action")


@cache
def case_finding_rows() -> tuple[GuidanceRow, ...]:
    """The rows of ``case_finding.csv``, in file order."""
    return _read("case_finding.csv", CRITERIA, "criterion", "meaning")


def case_finding(facts: Any) -> str:
    """Which NICE NG249 case-finding criteria the person meets, with the fact for each, and the
    ones these records cannot tell, e.g. "meets: several falls (3 falls in the last 12 months).
    Not known from these records: gait or balance problems (...)"."""
    met, unknown = [], []
    for row in case_finding_rows():
        if row.name == "gait_balance":
            unknown.append(row.text)
            continue
        because = CRITERIA[row.name](facts, row.threshold)
        if because:
            met.append(f"{row.text.split(' (')[0]} ({because})")
    said = f"Meets: {'; '.join(met)}." if met else "Meets none of the case-finding criteria these records show."
    return said + (f" Not known from these records: {'; '.join(unknown)}." if unknown else "")


def suggestions(facts: Any) -> list[Suggestion]:
    """The suggested actions for one person, each with the fact that prompted it; an action the
    CSV lists twice (two triggers) is suggested once, with both reasons."""
    out: dict[str, Suggestion] = {}
    for row in action_rows():
        because = TRIGGERS[row.name](facts, row.threshold)
        if not because:
            continue
        if row.text in out:
            before = out[row.text]
            out[row.text] = Suggestion(before.action, f"{before.because}; {because}", before.source, before.url)
        else:
            out[row.text] = Suggestion(row.text, because, row.source, row.url)
    return list(out.values())


def suggested_actions(facts: Any) -> str:
    """The suggestions as one string for a CSV column ("; "-separated)."""
    return "; ".join(s.text() for s in suggestions(facts))
