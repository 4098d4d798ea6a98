"""Figures for the commissioners' report, as self-contained ``data:`` PNG URIs.

Every figure is a matplotlib Figure turned into a base64 PNG, so the report needs no files
beside it and nothing from the network. SHAP's own figures (beeswarm, dependence) are drawn in
``falls_risk.explain`` (the only module that imports shap) and encoded here.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# The evaluation figures and the house style are shared with the MLflow artifacts of training.
from falls_risk.features.wording import short_text
from falls_risk.figures import GREY, calibration_figure, decision_curve_figure, roc_figure

__all__ = [
    "agency_colour", "agency_figure", "calibration_figure", "decision_curve_figure", "figures_from",
    "importance_figure", "roc_figure", "to_data_uri",
]

AGENCY_COLOURS = {
    "health board": "#1f6f8b",
    "ambulance service": "#2a9d8f",
    "social care": "#e9c46a",
    "police": "#264653",
    "housing": "#f4a261",
    "demographics": "#9c89b8",
    "linkage": "#b0b7bd",
}
DPI = 110


def agency_colour(agency: str) -> str:
    return AGENCY_COLOURS.get(agency, GREY)


def to_data_uri(fig: Figure) -> str:
    """Encode ``fig`` as a PNG ``data:`` URI and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def importance_figure(table: pd.DataFrame, top: int = 20) -> Figure:
    """Mean |SHAP| per feature (log-odds), coloured by agency."""
    rows = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.2, 0.3 * len(rows) + 1.1))
    ax.barh(range(len(rows)), rows["mean_abs_shap"], color=[agency_colour(a) for a in rows["agency"]])
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows["short_label"] if "short_label" in rows else [short_text(t) for t in rows["label"]])
    ax.set_xlabel("Mean |contribution| to risk (log-odds)")
    ax.set_title("What drives the risk score: average size of each feature's contribution")
    agencies = list(dict.fromkeys(table.head(top)["agency"]))
    handles = [plt.Rectangle((0, 0), 1, 1, color=agency_colour(a)) for a in agencies]
    ax.legend(handles, agencies, loc="lower right", frameon=False, title="Agency")
    fig.tight_layout()
    return fig


def agency_figure(table: pd.DataFrame) -> Figure:
    """Each agency's share of the explanation, and (if measured) what the model loses without it."""
    has_ablation = "auroc_drop" in table and table["auroc_drop"].notna().any()
    fig, axes = plt.subplots(1, 2 if has_ablation else 1, figsize=(8.6 if has_ablation else 4.6, 3.2))
    axes = np.atleast_1d(axes)
    rows = table.iloc[::-1]
    colours = [agency_colour(a) for a in rows["agency"]]
    axes[0].barh(rows["agency"], rows["mean_abs_shap"], color=colours)
    axes[0].set_xlabel("Mean |summed contribution| (log-odds)")
    axes[0].set_title("Contribution to individual scores")
    if has_ablation:
        axes[1].barh(rows["agency"], rows["auroc_drop"].fillna(0), color=colours)
        axes[1].axvline(0, color=GREY, lw=0.8)
        axes[1].set_xlabel("Fall in test AUROC when retrained without it")
        axes[1].set_title("Retrained without the agency's data")
        axes[1].set_yticklabels([])
    fig.tight_layout()
    return fig


def figures_from(builders: Sequence[tuple[str, Any]]) -> dict[str, str]:
    """Render ``(name, callable returning a Figure)`` pairs into data URIs."""
    return {name: to_data_uri(build()) for name, build in builders}
