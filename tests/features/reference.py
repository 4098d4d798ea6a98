"""A plain-Python reference implementation of the registry, one person at a time.

Written independently of the SQL (no DuckDB, no pandas group-bys) and deliberately simple, so
tests can check the generated SQL against it on a sample. Slow: use on small worlds only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from falls_risk.config import FeatureConfig
from falls_risk.features.registry import FEATURES
from falls_risk.features.spec import FeatureSpec

DEFAULT_CONFIG = FeatureConfig()

Row = dict[str, Any]


def _day(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        if str(value) == "NaT":
            return None
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or str(value) in ("NaT", "<NA>", "nan")
    )


def matches(code: str, codes: tuple[str, ...]) -> bool:
    return any(code.startswith(c[:-1]) if c.endswith("*") else code == c for c in codes)


def age_years(birth_month: str, on: date) -> int:
    year, month = int(birth_month[:4]), int(birth_month[5:7])
    return ((on.year * 12 + on.month) - (year * 12 + month)) // 12


def alive_and_registered(person: Row, on: date) -> bool:
    death, reg, dereg = (
        _day(person.get("date_of_death")),
        _day(person.get("registration_date")),
        _day(person.get("deregistration_date")),
    )
    return (death is None or death > on) and reg is not None and reg < on and (dereg is None or dereg > on)


def _feature(
    spec: FeatureSpec,
    known: list[Row],
    person: Row,
    on: date,
    household_size: int | None,
    config: FeatureConfig,
    values: dict[str, Any],
) -> Any:
    agg = spec.aggregation
    if agg == "age_years":
        return age_years(person["birth_month"], on)
    if agg == "sex_code":
        sex = None if _missing(person.get("sex")) else str(person["sex"]).strip().upper()
        return spec.categories.index(sex) if sex in spec.categories else None
    if agg == "local_authority_code":
        la = (
            None
            if _missing(person.get("local_authority"))
            else str(person["local_authority"]).strip().lower()
        )
        lowered = [c.lower() for c in spec.categories]
        return lowered.index(la) if la in lowered else None
    if agg == "wimd_quintile":
        rank = person.get("wimd_rank")
        if _missing(rank) or int(rank) < 1:
            return None
        return min(5, 1 + math.floor((int(rank) - 1) * 5 / config.wimd_lsoa_count))
    if agg == "lives_alone":
        return None if household_size is None else int(household_size == 1)
    if agg == "sum_of":
        return sum(values[name] for name in spec.inputs)
    if agg == "excluded_count":
        return sum(1 for e in known if not e["strong"])
    if agg == "weak_link_share":
        strong = [e for e in known if e["strong"]]
        return None if not strong else sum(1 for e in strong if e["weak"]) / len(strong)

    chosen = [
        e
        for e in known
        if e["strong"]
        and matches(e["code"], spec.codes)
        and (spec.window_days is None or e["days_before"] <= spec.window_days)
    ]

    def still_open(e: Row) -> bool:
        return e["end_days_before"] is None or e["end_days_before"] <= e["lag"]

    if agg == "count":
        return len(chosen)
    if agg == "any":
        return int(bool(chosen))
    if agg == "days_since":
        return min((e["days_before"] for e in chosen), default=None)
    if agg == "bed_days":
        return sum(e["days_before"] - (e["lag"] if still_open(e) else e["end_days_before"]) for e in chosen)
    if agg == "active_any":
        return int(any(still_open(e) for e in chosen))
    if agg == "active_sum_value":
        return sum(0.0 if _missing(e["value"]) else float(e["value"]) for e in chosen if still_open(e))
    if agg == "distinct_bnf_paragraphs":
        return len({e["code"][:10] for e in chosen})
    if agg == "trend":
        half = (spec.window_days or 0) // 2
        return sum(1 for e in chosen if e["days_before"] <= half) - sum(
            1 for e in chosen if e["days_before"] > half
        )
    raise ValueError(f"{spec.name}: aggregation {agg} not in the reference")


def reference_features(
    events: list[Row],
    population: list[Row],
    index_dates: list[date],
    config: FeatureConfig = DEFAULT_CONFIG,
    *,
    label_known_until: date | None = None,
    specs: tuple[FeatureSpec, ...] = FEATURES,
) -> list[Row]:
    """Rows (person_key, index_date, features..., label, died_in_window), sorted by date, person."""
    by_person: dict[str, list[Row]] = defaultdict(list)
    for event in events:
        if not _missing(event.get("person_key")):
            by_person[event["person_key"]].append(event)
    horizon = config.label_horizon_days
    out: list[Row] = []
    for on in sorted(set(index_dates)):
        households: dict[str, int] = defaultdict(int)
        for person in population:
            if not _missing(person.get("household_key")) and alive_and_registered(person, on):
                households[person["household_key"]] += 1
        for person in sorted(population, key=lambda p: p["person_key"]):
            if _missing(person.get("birth_month")) or not alive_and_registered(person, on):
                continue
            if age_years(person["birth_month"], on) < config.min_age:
                continue
            known: list[Row] = []
            fall_admissions = 0
            for e in by_person.get(person["person_key"], []):
                start, end = _day(e["event_time"]), _day(e.get("end_time"))
                # When the record reached its agency's extract (a spell: at discharge); never None
                # for a known record.
                became_known = _day(e.get("known_time"))
                p = 1.0 if _missing(e.get("match_probability")) else float(e["match_probability"])
                days_before = (on - start).days
                lag = config.arrival_lag_days.get(e["source"], 0)
                if (
                    e["code"] == "inpatient/fall_emergency"
                    and p >= config.min_match_probability
                    and 1 <= -days_before <= horizon
                ):
                    fall_admissions += 1
                # The point-in-time rule: known to the agency strictly before the index date - lag.
                if became_known is not None and (on - became_known).days > lag:
                    known.append(
                        {
                            "code": e["code"],
                            "value": e.get("value"),
                            "days_before": days_before,
                            "lag": lag,
                            "end_days_before": None if end is None else (on - end).days,
                            "strong": p >= config.min_match_probability,
                            "weak": p < config.weak_link_probability,
                        }
                    )
            key = person.get("household_key")
            size = None if _missing(key) else households[key]
            values: dict[str, Any] = {}
            for spec in specs:
                values[spec.name] = _feature(spec, known, person, on, size, config, values)
            covered = (
                label_known_until is not None and (on.toordinal() + horizon) <= label_known_until.toordinal()
            )
            death = _day(person.get("date_of_death"))
            died = death is not None and 1 <= (death - on).days <= horizon
            dereg = _day(person.get("deregistration_date"))
            moved_away = (
                dereg is not None and 1 <= (dereg - on).days <= horizon and (death is None or death > dereg)
            )
            if moved_away and not fall_admissions:
                covered_label = None
            else:
                covered_label = int(fall_admissions > 0) if covered else None
            out.append(
                {
                    "person_key": person["person_key"],
                    "index_date": on,
                    **values,
                    "label": covered_label,
                    "died_in_window": 1 if died else (0 if covered else None),
                }
            )
    return out
