"""The run summary for the analyst and commissioners: counts, distribution, drift, alerts.

No identifiers and no person keys: only counts (1-4 shown as ``<5``), shares and PSI values.
The data is built as a plain dict (``summary_data``) and rendered by a Jinja2 template.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from falls_risk import templating
from falls_risk.config import horizon_text
from falls_risk.disclosure import SMALL_COUNT_LIMIT, is_small, suppress_count

TEMPLATE = "scoring_summary.html.j2"
PROBABILITY_BANDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def _distribution(probability: pd.Series) -> list[dict[str, Any]]:
    edges = list(PROBABILITY_BANDS)
    counts = np.histogram(np.clip(probability.to_numpy(float), 0, 1), bins=edges)[0]
    total = max(int(counts.sum()), 1)
    return [
        {
            "band": f"{lo:.0%}–{hi:.0%}",
            "count": suppress_count(c),
            "share": None if is_small(c) else float(c) / total,
        }
        for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def summary_data(
    *,
    manifest: dict[str, Any],
    scores: pd.DataFrame,
    drift: pd.DataFrame,
    warnings: list[str],
    alerts: pd.DataFrame,
    changes: pd.DataFrame | None,
    risers: pd.DataFrame | None,
    horizon_days: int,
) -> dict[str, Any]:
    """Everything the summary shows, as counts and rates only; risks are within ``horizon_days``
    (the label horizon the model was trained on)."""
    tiers = scores["tier"].astype("string")
    by_la = []
    if "local_authority" in scores.columns:
        grouped = scores.assign(tier=tiers).groupby("local_authority", dropna=False, observed=True)
        for la, frame in grouped:
            flagged = frame[frame["tier"] == "high"]
            by_la.append(
                {
                    "local_authority": "(unknown)" if pd.isna(la) else str(la),
                    "eligible": suppress_count(len(frame)),
                    "flagged": suppress_count(len(flagged)),
                    "mean_risk_flagged": float(flagged["probability"].mean()) if len(flagged) >= SMALL_COUNT_LIMIT else None,
                }
            )
    flagged = scores[tiers == "high"]
    alert_counts = (
        [{"alert": a, "count": suppress_count(c)} for a, c in alerts["alert"].value_counts().items()]
        if len(alerts)
        else []
    )
    return {
        "manifest": manifest,
        "horizon": horizon_text(horizon_days),
        # The manifest keeps exact counts; the page shows them like every other count.
        "row_counts": {stage: suppress_count(n) for stage, n in manifest.get("row_counts", {}).items()},
        "eligible": suppress_count(len(scores)),
        "tiers": [{"tier": t, "count": suppress_count(int((tiers == t).sum()))} for t in ("high", "moderate", "low")],
        "flagged_mean_risk": float(flagged["probability"].mean()) if len(flagged) >= SMALL_COUNT_LIMIT else None,
        "population_mean_risk": float(scores["probability"].mean()) if len(scores) else None,
        "expected_admissions": float(scores["probability"].sum()),
        "expected_admissions_flagged": float(flagged["probability"].sum()),
        "by_local_authority": by_la,
        "distribution": _distribution(scores["probability"]),
        "drift": [
            {"variable": r.variable, "psi": None if pd.isna(r.psi) else float(r.psi), "status": r.status}
            for r in drift.itertuples(index=False)
        ],
        "warnings": warnings,
        "alerts": alert_counts,
        "alerts_in_flagged": suppress_count(int((alerts["tier"] == "high").sum())) if len(alerts) else "0",
        "entered": suppress_count(int((changes["change"] == "entered").sum())) if changes is not None else None,
        "left": suppress_count(int((changes["change"] == "left").sum())) if changes is not None else None,
        "risers": suppress_count(len(risers)) if risers is not None else None,
        "median_rise_points": float(100 * np.median(risers["rise"])) if risers is not None and len(risers) >= SMALL_COUNT_LIMIT else None,
    }


def render_summary(data: dict[str, Any]) -> str:
    return templating.render(TEMPLATE, data)
