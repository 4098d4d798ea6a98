"""The capacity table: for each list size, how many of the people listed were admitted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.disclosure import metric_or_suppressed, suppress_count

DEFAULT_PEOPLE_PER_MONTH = (25, 50, 100, 250, 500, 1000, 2500)


def capacity_table(
    test: pd.DataFrame, probability: np.ndarray, people_per_month: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """For each N: the N highest-risk people at each test index date, and how many were admitted."""
    frame = pd.DataFrame(
        {"index_date": test["index_date"].to_numpy(), "label": test["label"].to_numpy(dtype=int), "p": probability}
    )
    months = frame["index_date"].nunique()
    per_month = len(frame) / max(months, 1)
    total_events = int(frame["label"].sum())
    sizes = [int(n) for n in (people_per_month or DEFAULT_PEOPLE_PER_MONTH) if 0 < int(n) < per_month]
    if not sizes:
        sizes = [max(1, int(per_month // 20))]
    frame = frame.sort_values(["index_date", "p"], ascending=[True, False], kind="stable")
    frame["rank"] = frame.groupby("index_date").cumcount() + 1
    rows = []
    for n in sizes:
        flagged = frame[frame["rank"] <= n]
        admissions = int(flagged["label"].sum())
        rows.append(
            {
                "people_per_month": n,
                # Every monthly list together (the total the admissions count is out of).
                "listed_total": len(flagged),
                "population_share": n / per_month,
                # Suppressed here, not only in the page: the summary is also saved as JSON.
                "admissions": suppress_count(admissions),
                "admissions_per_month": metric_or_suppressed(admissions / max(months, 1), admissions, fmt="{:.1f}"),
                "ppv": metric_or_suppressed(admissions / max(len(flagged), 1), admissions, fmt="{:.1%}"),
                "sensitivity": metric_or_suppressed(
                    admissions / total_events if total_events else float("nan"), admissions, fmt="{:.1%}"
                ),
                "threshold": float(flagged["p"].min()) if len(flagged) else None,
            }
        )
    return rows


def headline_capacity(capacity: list[dict[str, Any]]) -> dict[str, Any]:
    """The capacity row quoted in the headline and the model card: the second smallest list
    (the smallest is often too short to say much)."""
    return capacity[min(1, len(capacity) - 1)]


