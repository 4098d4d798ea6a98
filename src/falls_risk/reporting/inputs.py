"""What the commissioners' report reads: the training run's record and the split of the feature
table, as plain data (no MLflow objects), and the small helpers every part of the report shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.record import SplitRecord


@dataclass
class RunRecord:
    """What the report reads from a training run, as plain data (no MLflow objects)."""

    model: FallsRiskModel
    uri: str
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    start_time: str | None = None


@dataclass(frozen=True)
class ReportSplit:
    """The feature table split as the model was trained: train, calibration and test rows, the
    split's record, and the hash of the table it came from (None when not computed)."""

    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    record: SplitRecord
    feature_table_hash: str | None = None



def finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def out_of_time_metric(metrics: dict[str, float], name: str) -> tuple[float | None, float | None, float | None]:
    get = metrics.get
    value, low, high = get(f"test_{name}"), get(f"test_{name}_ci_low"), get(f"test_{name}_ci_high")
    return (
        float(value) if finite(value) else None,
        float(low) if finite(low) else None,
        float(high) if finite(high) else None,
    )


def date_text(values: Sequence[Any]) -> str:
    dates = sorted({pd.Timestamp(v).date() for v in values})
    if not dates:
        return "—"
    if len(dates) == 1:
        return dates[0].isoformat()
    return f"{dates[0].isoformat()} to {dates[-1].isoformat()} ({len(dates)} index dates)"


