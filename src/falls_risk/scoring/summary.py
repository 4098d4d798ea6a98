"""The run summary for the analyst and commissioners: counts, distribution, drift, alerts.

No identifiers and no person keys: only counts (1-4 shown as ``<5``), shares and PSI values.
The data is built as a plain dict (``summary_data``) and rendered by a Jinja2 template.
"""

from __future__ import annotations

from itertools import pairwise
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


# A source whose records link less often than this is flagged on the page (police links were
# 74% in one run: a drop in an agency's data should be seen before the list is used).
LOW_LINK_RATE = 0.9


def _data_quality(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source: rows read, quarantined (count and share) and, for linked sources, the share of
    accepted rows linked to a person (by NHS number or probabilistically)."""
    linkage = (manifest.get("linkage") or {}).get("sources") or {}
    rows = []
    for source, counts in sorted((manifest.get("ingest") or {}).items()):
        read = int(counts.get("read", 0))
        quarantined = int(counts.get("quarantined", 0))
        linked = linkage.get(source)
        rate = None
        if linked and linked.get("rows"):
            rate = (int(linked.get("nhs_number", 0)) + int(linked.get("probabilistic", 0))) / int(linked["rows"])
        rows.append({
            "source": source.replace("_", " "),
            "read": suppress_count(read),
            "quarantined": suppress_count(quarantined),
            "quarantined_share": quarantined / read if read and not is_small(quarantined) else None,
            "link_rate": rate,
            "low": rate is not None and rate < LOW_LINK_RATE,
        })
    return rows


def _drift_svg(reference: list[float], current: list[float], labels: list[str]) -> str:
    """A small paired bar chart: reference (grey) and this month (blue) share in each bin."""
    width, height, pad = 260, 70, 12
    n = max(len(reference), 1)
    top = max([*reference, *current, 1e-9])
    slot = (width - 2) / n
    bars = []
    for i, (r, c) in enumerate(zip(reference, current, strict=True)):
        x = 1 + i * slot
        for j, (value, colour) in enumerate(((r, "#9aa3ad"), (c, "#3b6ea8"))):
            h = (height - pad) * value / top
            bars.append(f'<rect x="{x + j * slot / 2:.1f}" y="{height - pad - h:.1f}" width="{max(slot / 2 - 1, 1):.1f}" '
                        f'height="{h:.1f}" fill="{colour}"><title>{labels[i]}: {"reference" if j == 0 else "this month"} '
                        f'{value:.1%}</title></rect>')
    return (f'<svg class="drift" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="Share in each bin: reference grey, this month blue">{"".join(bars)}'
            f'<line x1="0" y1="{height - pad}" x2="{width}" y2="{height - pad}" stroke="#999"/>'
            f'<text x="0" y="{height - 1}" font-size="9" fill="#555">{labels[0] if labels else ""}</text>'
            f'<text x="{width}" y="{height - 1}" font-size="9" fill="#555" text-anchor="end">'
            f'{labels[-1] if labels else ""}</text></svg>')


def _bin_labels(entry: dict[str, Any]) -> list[str]:
    if entry.get("kind") == "categorical":
        return [*map(str, entry.get("labels", [])), "other", "missing"]
    edges = entry.get("edges", [])
    if not edges:
        return ["all", "missing"]
    inner = [f"{a:.3g}–{b:.3g}" for a, b in pairwise(edges)]
    return [f"≤{edges[0]:.3g}", *inner, f">{edges[-1]:.3g}", "missing"]


def _moved(drift: pd.DataFrame, reference: dict[str, Any] | None, features: pd.DataFrame | None,
           probability: pd.Series | None) -> list[dict[str, Any]]:
    """The variables that moved (status other than stable), each with a reference-vs-now chart."""
    from falls_risk.modelling.drift import binned_proportions

    out = []
    for r in drift.itertuples(index=False):
        if r.status == "stable":
            continue
        svg = ""
        entry = None
        if reference:
            entry = reference.get("score") if r.variable == "score" else reference.get("features", {}).get(r.variable)
        values = probability if r.variable == "score" else (
            features[r.variable] if features is not None and r.variable in features.columns else None)
        if entry is not None and values is not None:
            ref, new = binned_proportions(entry, values)
            labels = _bin_labels(entry) if r.variable != "score" else [*_bin_labels({**entry, "kind": "numeric"})]
            labels = (labels + [""] * len(ref))[: len(ref)]
            svg = _drift_svg(ref, new, labels)
        out.append({"variable": r.variable, "psi": None if pd.isna(r.psi) else float(r.psi), "status": r.status,
                    "svg": svg})
    return out


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
    reference: dict[str, Any] | None = None,
    features: pd.DataFrame | None = None,
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
        "drift": _moved(drift, reference, features, scores["probability"]),
        "drift_stable": int((drift["status"] == "stable").sum()),
        "data_quality": _data_quality(manifest),
        "low_link_rate": LOW_LINK_RATE,
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
