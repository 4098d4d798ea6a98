"""The shape of one declared feature.

The registry (``falls_risk.features.registry``) is a list of these. From it come the SQL, the
feature table, ``data_dictionary.md``, the model's feature list, and the plain-language reasons
shown to practitioners (written by ``falls_risk.features.wording``). Nothing else declares a feature.

A spec's fields are of two kinds. ``COMPUTATION_FIELDS`` decide the feature's values: the
registry's version hashes them, so changing one makes every feature table and model built before
it refuse to mix with this code. The others say how the feature is described, grouped and read
(description, singular, agency, unit, ...): they can change without changing a single value, so
rewording a reason never forces a rebuild or a retrain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Reading(StrEnum):
    """How a feature's value reads in a sentence (``falls_risk.features.wording`` writes each)."""

    COUNT = "count"  # a number of things, number first: "2 ambulance calls for a fall"
    FLAG = "flag"  # yes or no: "receiving home care" / "not receiving home care"
    RECENCY = "recency"  # days since the latest event: "their last fall was about 7 months ago"
    SHARE = "share"  # a proportion: "share of their records ...: 4%"
    TREND = "trend"  # a signed change: "change in urgent contacts ...: +2 contacts"
    MEASURE = "measure"  # a quantity: "age: 84 years"
    CATEGORY = "category"  # one of the spec's categories: "sex: male"


# Every aggregation the registry may use (the SQL implements each), with how its value reads.
# Declared once, here: the registry refuses any other aggregation, and the wording reads a value
# through its spec's ``reading``, never by listing aggregations itself.
AGGREGATION_READINGS: dict[str, Reading] = {
    "count": Reading.COUNT,
    "any": Reading.FLAG,
    "bed_days": Reading.COUNT,
    "days_since": Reading.RECENCY,
    "active_any": Reading.FLAG,
    "active_sum_value": Reading.MEASURE,
    "distinct_bnf_paragraphs": Reading.COUNT,
    "trend": Reading.TREND,
    "sum_of": Reading.COUNT,
    "weak_link_share": Reading.SHARE,
    "excluded_count": Reading.COUNT,
    "age_years": Reading.MEASURE,
    "sex_code": Reading.CATEGORY,
    "wimd_quintile": Reading.MEASURE,
    "local_authority_code": Reading.CATEGORY,
    "lives_alone": Reading.FLAG,
}

# The fields that decide a feature's values (what the SQL reads); the registry version hashes
# exactly these. Every other field is wording or grouping.
COMPUTATION_FIELDS: tuple[str, ...] = ("name", "codes", "window_days", "aggregation", "kind", "categories", "inputs")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    # What a practitioner reads, in the plural for a count so that a number can precede it, e.g.
    # "ambulance calls for a fall where they were not taken to hospital".
    description: str
    # The agency whose data the feature rests on: "demographics", "health board",
    # "ambulance service", "social care", "police", "housing", "linkage".
    agency: str
    # Event codes counted (e.g. "ambulance/fall_not_conveyed"); empty for derived features.
    codes: tuple[str, ...] = ()
    # Look-back window in days before the index date; None = ever (all history).
    window_days: int | None = None
    # One of ``AGGREGATION_READINGS`` (count, any, days_since, ...).
    aggregation: str = "count"
    unit: str = ""
    # What a missing value means, e.g. "no fall ever recorded".
    missing_means: str = "not applicable"
    # "numeric", "binary" or "categorical". Categorical features are stored as integer codes
    # (index into ``categories``), because a served model cannot take a category dtype.
    kind: str = "numeric"
    categories: tuple[str, ...] = ()
    # For derived features (aggregation "sum_of"): the registry features added up.
    inputs: tuple[str, ...] = ()
    # Overrides ``window_text`` for features that are not a look-back count: "" for a
    # characteristic (age), "on the index date" for a state (home care in place).
    window_label: str | None = None
    # For a count: the description of one thing ("ambulance call for a fall"), read when the
    # value is 1. Declared, not guessed from the plural; the registry requires it of its counts.
    singular: str = ""
    # What a reader sees for each category, in the order of ``categories`` (e.g. "male" for
    # "M"); empty when the categories read as they are.
    category_labels: tuple[str, ...] = ()

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def plural(self) -> str:
        """The description of several things: the description itself."""
        return self.description

    @property
    def reading(self) -> Reading:
        """How the value reads: categories and yes/no features by their kind, the rest by their
        aggregation (an aggregation the registry does not know reads as a measure)."""
        if self.is_categorical:
            return Reading.CATEGORY
        if self.kind == "binary":
            return Reading.FLAG
        return AGGREGATION_READINGS.get(self.aggregation, Reading.MEASURE)

    @property
    def display_categories(self) -> tuple[str, ...]:
        """The categories as a reader sees them (``category_labels``, else the codes)."""
        return self.category_labels or self.categories

    def computation(self) -> dict[str, Any]:
        """The fields that decide the feature's values (``COMPUTATION_FIELDS``), by name."""
        return {name: getattr(self, name) for name in COMPUTATION_FIELDS}
