"""The facts behind a listed person's reasons, read from their own records before the as-of date.

A reason such as "4 frailty deficits" or "2 classes of fall-risk-increasing medicine" tells a
team nothing to act on; the facts do: which conditions count toward the deficits, which medicine
classes (and how many items) in the last 90 days, when the last fall, ambulance call or police
welfare check was and how many there were. Facts come from the feature row (flags the model saw)
and from the person's events in the scoring working folder (dates, item counts), using events
strictly before the as-of date and, like the features, only links at or above the feature
config's match probability. Everything here is pseudonymised (``person_key``); dates of events are
facts about services, not identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from falls_risk import codelists
from falls_risk.events import vocabulary

YEAR_DAYS = 365
MEDICINE_DAYS = 90
# Records of a fall within this many days of the first are one fall (ambulance, ED, GP follow-up).
FALL_EPISODE_DAYS = 7

# The agencies of the contacts timeline, by event-kind family; prescriptions and diagnoses are
# details of other contacts (or far too many to draw), so they are not drawn.
TIMELINE_AGENCY: dict[str, str] = {
    "GP": "GP",
    "emergency department": "hospital",
    "admission": "hospital",
    "ambulance": "ambulance service",
    "social care": "social care",
    "police": "police",
    "housing": "housing",
}
TIMELINE_AGENCIES: tuple[str, ...] = tuple(dict.fromkeys(TIMELINE_AGENCY.values()))

_AMBULANCE = vocabulary.patterns_of(vocabulary.AMBULANCE_CONVEYED, vocabulary.AMBULANCE_NOT_CONVEYED)
_AMBULANCE_FALL = (vocabulary.AMBULANCE_CONVEYED.code("fall"), vocabulary.AMBULANCE_NOT_CONVEYED.code("fall"))
_WELFARE = (vocabulary.POLICE_INCIDENT.code("concern_for_welfare"),)
_INJURIOUS_FALL = (vocabulary.FALL_ADMISSION.code(), vocabulary.HIP_FRACTURE_ADMISSION.code(),
                   vocabulary.ED_ATTENDANCE.code("fall"))


@dataclass(frozen=True)
class Occurrences:
    """How many events of one kind in the last 12 months, and the date of the last one ever seen."""

    last_12_months: int = 0
    last: date | None = None


@dataclass(frozen=True)
class PersonFacts:
    """One person's facts as of the run's date (see the module docstring)."""

    deficits: tuple[str, ...] = ()
    # Every condition of codelists/conditions.csv ever recorded (names, e.g. "osteoporosis").
    conditions: tuple[str, ...] = ()
    # Fall-risk-increasing medicine classes prescribed in the last 90 days: (label, items issued).
    frid_items: tuple[tuple[str, int], ...] = ()
    medicine_kinds: int = 0
    falls: Occurrences = field(default_factory=Occurrences)
    injurious_falls: Occurrences = field(default_factory=Occurrences)
    ambulance_calls: Occurrences = field(default_factory=Occurrences)
    ambulance_fall_calls: Occurrences = field(default_factory=Occurrences)
    welfare_checks: Occurrences = field(default_factory=Occurrences)
    lives_alone: bool = False
    telecare: bool = False
    home_care_hours: float | None = None  # None: no home care package open
    reablement_12_months: int = 0
    adaptation_pending: bool = False
    # The last 12 months of contacts: (date, agency, what), oldest first.
    contacts: tuple[tuple[date, str, str], ...] = ()


def _flag(row: pd.Series, name: str) -> bool:
    value = row.get(name)
    return value is not None and not pd.isna(value) and float(value) >= 0.5


def _number(row: pd.Series, name: str) -> float:
    value = row.get(name)
    return 0.0 if value is None or pd.isna(value) else float(value)


def _episodes(days: list[pd.Timestamp], gap_days: int) -> int:
    """Occasions: records within ``gap_days`` of an occasion's first record are the same occasion
    (one fall recorded by the ambulance service, the emergency department and the GP)."""
    count, start = 0, None
    for day in sorted(days):
        if start is None or (day - start).days > gap_days:
            count, start = count + 1, day
    return count


def _occurrences(
    times: pd.Series, codes: pd.Series, patterns: Iterable[str], year_start: pd.Timestamp, *, gap_days: int = 0
) -> Occurrences:
    patterns = tuple(patterns)
    if not len(codes):
        return Occurrences()
    hit = codes.map(lambda c: vocabulary.matches_any(c, patterns)).astype(bool)
    if not hit.any():
        return Occurrences()
    chosen = times[hit]
    recent = [pd.Timestamp(t).normalize() for t in chosen[chosen >= year_start]]
    n = _episodes(recent, gap_days) if gap_days else len(recent)
    return Occurrences(last_12_months=int(n), last=chosen.max().date())


def _contact_label(code: str) -> str:
    kind = _kind(code)
    if kind is None:
        return code
    if kind.is_fixed:
        return kind.means.split(" (")[0]
    value = code[len(kind.prefix):len(code) - len(kind.suffix) or None].replace("_", " ")
    family = "attendance" if kind.family == "emergency department" else kind.family
    tail = {"_conveyed": ", taken to hospital", "_not_conveyed": ", not taken to hospital"}.get(kind.suffix, "")
    if kind.family == "GP":
        labels = _condition_label_by_code()
        return f"GP record: {labels.get(code, 'coded entry')}"
    return f"{family}: {value}{tail}"


def _condition_label_by_code() -> dict[str, str]:
    out: dict[str, str] = {}
    for condition in codelists.conditions():
        for code in condition.event_codes:
            out.setdefault(code, condition.label)
    return out


def _kind(code: str) -> vocabulary.EventKind | None:
    return next((k for k in vocabulary.KINDS if k.emits(code)), None)


def _timeline(times: pd.Series, codes: pd.Series, year_start: pd.Timestamp) -> tuple[tuple[date, str, str], ...]:
    rows = []
    for when, code in zip(times.tolist(), codes.tolist(), strict=True):
        if when < year_start:
            continue
        kind = _kind(code)
        agency = None if kind is None else TIMELINE_AGENCY.get(kind.family)
        if agency is None:
            continue
        rows.append((when.date(), agency, _contact_label(code)))
    return tuple(sorted(set(rows)))


def person_facts(
    features: pd.DataFrame, events: pd.DataFrame, *, as_of: date, min_match_probability: float = 0.0
) -> dict[str, PersonFacts]:
    """``person_key`` -> facts, for each person of ``features`` (the month's feature rows of the
    people to name). ``events`` are their linked events (``person_key``, ``event_time``, ``code``,
    optionally ``match_probability``); those on or after ``as_of`` are ignored."""
    as_of_ts = pd.Timestamp(as_of)
    year_start = as_of_ts - pd.Timedelta(days=YEAR_DAYS)
    medicine_start = as_of_ts - pd.Timedelta(days=MEDICINE_DAYS)
    if len(events):
        times = pd.to_datetime(events["event_time"])
        keep = (times < as_of_ts) & events["person_key"].notna()
        if "match_probability" in events.columns and min_match_probability > 0:
            keep &= events["match_probability"].fillna(1.0) >= min_match_probability
        events = events.loc[keep, ["person_key", "code"]].assign(event_time=times[keep])
        grouped = dict(tuple(events.groupby("person_key", sort=False)))
    else:
        grouped = {}
    deficit_conditions = [c for c in codelists.conditions() if c.efi_deficit]
    drug_classes = codelists.drug_classes()
    out: dict[str, PersonFacts] = {}
    for _, row in features.iterrows():
        key = str(row["person_key"])
        own = grouped.get(key)
        times = own["event_time"] if own is not None else pd.Series([], dtype="datetime64[ns]")
        codes = own["code"].astype(str) if own is not None else pd.Series([], dtype=object)
        recent_rx = codes[(times >= medicine_start) & codes.str.startswith("rx/")] if len(codes) else codes
        frid_items = []
        for drug in drug_classes:
            items = int(recent_rx.str.startswith(f"rx/{drug.bnf_prefix}").sum()) if len(recent_rx) else 0
            if items or _flag(row, f"frid_{drug.name}_90d"):
                frid_items.append((drug.label, items))
        hours = _number(row, "home_care_hours_per_week")
        out[key] = PersonFacts(
            deficits=tuple(c.label for c in deficit_conditions if _flag(row, f"ever_{c.name}")),
            conditions=tuple(c.name for c in codelists.conditions() if _flag(row, f"ever_{c.name}")),
            frid_items=tuple(frid_items),
            medicine_kinds=int(_number(row, "polypharmacy_90d")),
            falls=_occurrences(times, codes, vocabulary.family(vocabulary.FALL), year_start,
                               gap_days=FALL_EPISODE_DAYS),
            injurious_falls=_occurrences(times, codes, _INJURIOUS_FALL, year_start),
            ambulance_calls=_occurrences(times, codes, _AMBULANCE, year_start),
            ambulance_fall_calls=_occurrences(times, codes, _AMBULANCE_FALL, year_start),
            welfare_checks=_occurrences(times, codes, _WELFARE, year_start),
            lives_alone=_flag(row, "lives_alone"),
            telecare=_flag(row, "telecare_active"),
            home_care_hours=hours if _flag(row, "home_care_active") else None,
            reablement_12_months=int(_number(row, "reablement_365d")),
            adaptation_pending=_flag(row, "adaptation_pending"),
            contacts=_timeline(times, codes, year_start),
        )
    return out
