"""The spec of every registry feature, stated once on tiny tables (after OpenSAFELY ehrQL's spec
tests): for each aggregation, the events a few people have and the value each must get.

Every feature gets its own people (``<feature>/<who>``) carrying only that feature's codes, so one
query per engine computes every case, and a case's expected values depend on nothing else.
Index date 2023-01-01; no arrival lags; events "n days before" sit at 23:30 on that day, so a
day difference of timestamps (which counts whole 24-hour periods) would get them wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

from falls_risk.features.registry import FEATURES
from falls_risk.features.spec import FeatureSpec

D = date(2023, 1, 1)
SPEC_BY_NAME = {spec.name: spec for spec in FEATURES}
MISSING = math.nan


def at(days_before: int, hour: time = time(23, 30)) -> datetime:
    """A moment ``days_before`` calendar days before the index date (0 = on it; negative = after)."""
    return datetime.combine(D - timedelta(days=days_before), hour)


def example_code(pattern: str, tail: str = "x") -> str:
    """A code matching ``pattern`` (a wildcard pattern gets ``tail`` after its stem)."""
    return pattern[:-1] + tail if pattern.endswith("*") else pattern


@dataclass
class Case:
    """People (spine rows), their events, and the value each person must get for one feature."""

    feature: str
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    expected: dict[str, float] = field(default_factory=dict)

    def person(self, who: str, value: float, **spine: Any) -> str:
        key = f"{self.feature}/{who}"
        self.people[key] = spine
        self.expected[key] = value
        return key

    def event(self, key: str, code: str, when: datetime, *, end: datetime | None = None,
              value: float | None = None, p: float | None = 1.0) -> None:
        # A gp_events record: known from its own time (``known_time``, as ``events.build`` writes it).
        self.events.append({"person_key": key, "event_time": when, "source": "gp_events", "code": code,
                            "value": value, "end_time": end, "match_probability": p, "known_time": when})


def _count(spec: FeatureSpec, c: Case, binary: bool) -> None:
    code, w = example_code(spec.codes[0]), spec.window_days
    a = c.person("a", (1 if binary else (3 if w is None else 2)))
    c.event(a, code, at(0, time(0, 30)))  # on the index date: not before it
    c.event(a, code, at(1))
    c.event(a, code, at(w or 1000))  # the window's last day counts
    c.event(a, code, at((w or 1000) + 1))  # outside a window; inside "ever"
    c.event(a, code, at(-3))  # after the index date
    c.event(a, code, at(2), p=0.5)  # a link too weak to use
    c.person("none", 0)
    if w is not None:
        old = c.person("old", 0)
        c.event(old, code, at(w + 1))


def _bed_days(spec: FeatureSpec, c: Case) -> None:
    code, w = example_code(spec.codes[0]), spec.window_days
    a = c.person("a", 6 + 3 + 5 if w is not None else 6 + 3 + 5 + 10)
    c.event(a, code, at(10, time(9)), end=at(4, time(15)))  # 6 days, discharged before the index date
    c.event(a, code, at(3, time(9)))  # still in hospital, no discharge: 3 days so far
    c.event(a, code, at(5, time(9)), end=at(-2, time(12)))  # discharged after the index date: 5 so far
    c.event(a, code, at((w or 1000) + 20, time(9)), end=at((w or 1000) + 10))  # only "ever": 10 days
    c.person("none", 0)


def _days_since(spec: FeatureSpec, c: Case) -> None:
    code = example_code(spec.codes[-1])
    a = c.person("a", 7)
    c.event(a, code, at(40))
    c.event(a, code, at(7))
    c.event(a, code, at(0, time(1)))
    c.person("none", MISSING)


def _active_any(spec: FeatureSpec, c: Case) -> None:
    code = example_code(spec.codes[0])
    c.event(c.person("open", 1), code, at(30))
    c.event(c.person("ended", 0), code, at(30), end=at(5))
    c.event(c.person("ends_later", 1), code, at(30), end=at(-5))
    c.event(c.person("starts_later", 0), code, at(-1))
    c.person("none", 0)


def _active_sum_value(spec: FeatureSpec, c: Case) -> None:
    code = example_code(spec.codes[0])
    a = c.person("a", 9.5)
    c.event(a, code, at(60), value=7.5)
    c.event(a, code, at(20), value=2.0, end=at(-10))
    c.event(a, code, at(90), value=10.0, end=at(1))
    c.event(c.person("no_hours", 0), code, at(20), value=None)
    c.person("none", 0)


def _paragraphs(spec: FeatureSpec, c: Case) -> None:
    a = c.person("a", 2)
    c.event(a, "rx/0401010X0AAAAAA", at(3))
    c.event(a, "rx/0401010Y0AAABAB", at(50))  # the same paragraph (040101) again
    c.event(a, "rx/0402010AAAAAAAA", at(89))
    c.event(a, "rx/0601011A0AAAAAA", at((spec.window_days or 1000) + 1))
    c.person("none", 0)


def _trend(spec: FeatureSpec, c: Case) -> None:
    code, half = example_code(spec.codes[0]), (spec.window_days or 0) // 2
    a = c.person("a", 2 - 1)
    c.event(a, code, at(10))
    c.event(a, code, at(half))  # the recent half includes its last day
    c.event(a, code, at(half + 1))
    c.event(a, code, at((spec.window_days or 0) + 1))
    c.person("none", 0)


def _sum_of(spec: FeatureSpec, c: Case) -> None:
    # Three inputs present, the third beyond a windowed input's reach.
    a = c.person("a", 3 if SPEC_BY_NAME[spec.inputs[2]].window_days is None else 2)
    for name, days in zip(spec.inputs[:3], (5, 30, (spec.window_days or 1000) + 1)):
        c.event(a, example_code(SPEC_BY_NAME[name].codes[0]), at(days))
    c.person("none", 0)


def _link_quality(spec: FeatureSpec, c: Case) -> None:
    share = spec.aggregation == "weak_link_share"
    a = c.person("a", 1 / 3 if share else 1)
    for p in (1.0, 0.995, 0.97, 0.5):  # strong, strong, strong but weak (< 0.99), excluded (< 0.9)
        c.event(a, "gp/38341003", at(20), p=p)
    c.event(a, "gp/38341003", at(-20), p=0.5)  # after the index date: not counted
    c.person("none", MISSING if share else 0)


def _demographic(spec: FeatureSpec, c: Case) -> None:
    agg = spec.aggregation
    if agg == "age_years":
        c.person("65_last_month", 65, birth_month="1957-12")
        c.person("65_this_month", 65, birth_month="1958-01")
        c.person("90", 90, birth_month="1932-06")
    elif agg == "sex_code":
        for value in spec.categories:
            c.person(f"sex_{value}", spec.categories.index(value), sex=value)
        c.person("lower_case_padded", spec.categories.index("F"), sex=" f ")
        c.person("unknown_value", MISSING, sex="X")
    elif agg == "local_authority_code":
        c.person("cardiff", spec.categories.index("Cardiff"), local_authority="cardiff ")
        c.person("not_welsh", MISSING, local_authority="Bristol")
    elif agg == "wimd_quintile":
        for rank, quintile in ((1, 1), (381, 1), (382, 1), (383, 2), (1909, 5)):
            c.person(f"rank_{rank}", quintile, wimd_rank=rank)
        c.person("rank_0", MISSING, wimd_rank=0)
        c.person("no_rank", MISSING, wimd_rank=None)
    elif agg == "lives_alone":
        c.person("alone", 1, household_key="h-alone")
        c.person("pair_1", 0, household_key="h-pair")
        c.person("pair_2", 0, household_key="h-pair")
        c.person("widowed", 1, household_key="h-widow")
        c.people["lives_alone/late_spouse"] = {"household_key": "h-widow", "date_of_death": date(2022, 3, 1)}
        c.person("no_address", MISSING, household_key=None)


def case_for(spec: FeatureSpec) -> Case:
    c = Case(spec.name)
    agg = spec.aggregation
    if agg in ("count", "any"):
        _count(spec, c, binary=agg == "any")
    elif agg == "bed_days":
        _bed_days(spec, c)
    elif agg == "days_since":
        _days_since(spec, c)
    elif agg == "active_any":
        _active_any(spec, c)
    elif agg == "active_sum_value":
        _active_sum_value(spec, c)
    elif agg == "distinct_bnf_paragraphs":
        _paragraphs(spec, c)
    elif agg == "trend":
        _trend(spec, c)
    elif agg == "sum_of":
        _sum_of(spec, c)
    elif agg in ("weak_link_share", "excluded_count"):
        _link_quality(spec, c)
    else:
        _demographic(spec, c)
    return c


CASES = {spec.name: case_for(spec) for spec in FEATURES}

SPINE_DEFAULTS = {
    "sex": "F", "birth_month": "1940-05", "lsoa_code": "W01000001", "wimd_rank": 100,
    "local_authority": "Cardiff", "registration_date": date(1990, 1, 1), "deregistration_date": None,
    "date_of_death": None, "household_key": None,
}


def population_frame() -> pd.DataFrame:
    rows = []
    for case in CASES.values():
        for key, spine in case.people.items():
            row = {"person_key": key, **SPINE_DEFAULTS, **spine}
            if "household_key" not in spine and case.feature != "lives_alone":
                row["household_key"] = f"h-{key}"
            rows.append(row)
    frame = pd.DataFrame(rows)
    frame["wimd_rank"] = frame["wimd_rank"].astype("Int64")
    for name in ("registration_date", "deregistration_date", "date_of_death"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    return frame


def events_frame() -> pd.DataFrame:
    frame = pd.DataFrame([e for case in CASES.values() for e in case.events])
    return frame.astype({"event_time": "datetime64[us]", "end_time": "datetime64[us]",
                         "known_time": "datetime64[us]", "value": "float64",
                         "match_probability": "float64", "person_key": "str", "source": "str", "code": "str"})
