"""Drift: population stability index (PSI) of each feature and of the score against training.

The reference is stored with the model (``FallsRiskModel.reference_``, built by
``falls_risk.modelling.drift.build_reference`` from the out-of-time test set): each feature's
bins and the share of the test population in each, and the same for the calibrated score. This
month's population is put into the same bins and compared (``modelling.drift.psi``)::

    PSI = sum over bins of (actual - expected) * ln(actual / expected)

Conventional reading: below 0.1 stable, 0.1-0.2 some shift, above 0.2 a shift worth acting on
(the model may no longer describe this population). Warnings go to the summary and the exit
output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.catalog import RUN_SUMMARY
from falls_risk.modelling.drift import psi

WARN_ABOVE = 0.2
SHIFT_ABOVE = 0.1
SCORE = "score"


def drift_table(reference: Mapping[str, Any], current: pd.DataFrame, probability: Any | None = None) -> pd.DataFrame:
    """PSI of every feature in ``reference["features"]`` (columns of ``current``) and of the score.

    Returns one row per variable: ``variable`` (feature name, or ``score``), ``psi`` and
    ``status`` (stable / shift / warning / missing), largest shift first. A feature of the
    reference that ``current`` lacks is reported with a null PSI and status ``missing``.
    """
    rows = []
    entries = dict(reference.get("features", {}))
    if probability is not None and reference.get("score"):
        entries[SCORE] = reference["score"]
    for name, entry in entries.items():
        values = probability if name == SCORE else current[name] if name in current.columns else None
        if values is None:
            rows.append({"variable": name, "psi": np.nan, "status": "missing"})
            continue
        value = psi(entry, values)
        status = "warning" if value > WARN_ABOVE else "shift" if value > SHIFT_ABOVE else "stable"
        rows.append({"variable": name, "psi": value, "status": status})
    table = pd.DataFrame(rows, columns=["variable", "psi", "status"])
    return table.sort_values("psi", ascending=False, na_position="first", kind="stable").reset_index(drop=True)


def drift_warnings(table: pd.DataFrame, *, limit: int = 8) -> list[str]:
    """Plain sentences for the variables whose PSI is above ``WARN_ABOVE`` (or that are missing).

    The score gets its own sentence; features are listed in one sentence, largest shift first,
    up to ``limit`` names (the summary's drift table lists them all).
    """
    out = []
    warned = table[table["status"] == "warning"]
    score = warned[warned["variable"] == SCORE]
    if len(score):
        out.append(
            f"Drift: the risk score has PSI {score['psi'].iloc[0]:.2f} (> {WARN_ABOVE}) against the model's test "
            "population; the model may no longer describe this population. Consider retraining."
        )
    features = warned[warned["variable"] != SCORE]
    if len(features):
        shown = ", ".join(f"{r.variable} ({r.psi:.2f})" for r in features.head(limit).itertuples(index=False))
        more = f" and {len(features) - limit} more" if len(features) > limit else ""
        noun = "feature has" if len(features) == 1 else "features have"
        out.append(
            f"Drift: {len(features)} {noun} PSI > {WARN_ABOVE} against the model's test population: {shown}{more}. "
            f"Check the extract for changes in recording (see {RUN_SUMMARY.file_name}), and consider retraining."
        )
    missing = table.loc[table["status"] == "missing", "variable"].tolist()
    if missing:
        out.append(f"Drift: {', '.join(missing)} in the model's reference could not be computed this month.")
    return out
