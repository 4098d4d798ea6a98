"""The shape of one declared feature.

The registry (``falls_risk.features.registry``) is a list of these. From it come the SQL, the
feature table, ``data_dictionary.md``, the model's feature list, and the plain-language reasons
shown to practitioners. Nothing else declares a feature.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    # What a practitioner reads, written so a number can follow or precede it, e.g.
    # "ambulance calls for a fall where they were not taken to hospital".
    description: str
    # The agency whose data the feature rests on: "demographics", "health board",
    # "ambulance service", "social care", "police", "housing", "linkage".
    agency: str
    # Event codes counted (e.g. "ambulance/fall_not_conveyed"); empty for derived features.
    codes: tuple[str, ...] = ()
    # Look-back window in days before the index date; None = ever (all history).
    window_days: int | None = None
    # count, sum, any, days_since, max, value, ratio, ...
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

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def window_text(self) -> str:
        if self.window_label is not None:
            return self.window_label
        if self.window_days is None:
            return "ever"
        if self.window_days % 365 == 0:
            years = self.window_days // 365
            return "in the last 12 months" if years == 1 else f"in the last {years} years"
        return f"in the last {self.window_days} days"

    @property
    def label(self) -> str:
        """The feature as a reader says it: its description and window, e.g. "ambulance calls for
        a fall where they were not taken to hospital (in the last 12 months)"."""
        window = self.window_text
        return self.description if window in ("", "on the index date") else f"{self.description} ({window})"
