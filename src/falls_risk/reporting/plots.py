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

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

INK = "#1d2b36"
MODEL = "#1f6f8b"
GREY = "#8a949c"
LIGHT = "#d9e2e8"
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

plt.rcParams.update(
    {
        "font.size": 9,
        "axes.edgecolor": GREY,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titleweight": "bold",
        "axes.titlesize": 10,
    }
)


def agency_colour(agency: str) -> str:
    return AGENCY_COLOURS.get(agency, GREY)


def to_data_uri(fig: Figure) -> str:
    """Encode ``fig`` as a PNG ``data:`` URI and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def roc_figure(y: np.ndarray, p: np.ndarray, label: str) -> Figure:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.plot(fpr, tpr, color=MODEL, lw=2, label=label)
    ax.plot([0, 1], [0, 1], color=GREY, lw=1, ls="--", label="chance")
    ax.set_xlabel("False positive rate (1 - specificity)")
    ax.set_ylabel("True positive rate (sensitivity)")
    ax.set_title("ROC curve (test period)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> Figure:
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.2, 4.4), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top = float(max(predicted.max(initial=0), observed.max(initial=0))) * 1.1 or 1.0
    ax.plot([0, top], [0, top], color=GREY, lw=1, ls="--", label="perfect calibration")
    ax.plot(predicted, observed, "o-", color=MODEL, lw=2, ms=4, label="model (tenths of risk)")
    ax.set_ylabel("Observed share admitted")
    ax.set_title("Calibration (test period)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.legend(loc="upper left", frameon=False)
    hist.hist(p, bins=40, range=(0, top), color=LIGHT, edgecolor=MODEL, lw=0.4)
    hist.set_xlabel("Predicted 12-month risk")
    hist.set_ylabel("People")
    hist.set_yticks([])
    fig.tight_layout()
    return fig


def decision_curve_figure(curve: pd.DataFrame) -> Figure:
    """Net benefit of the model against treating everyone and no one."""
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    t = curve["threshold"].to_numpy()
    if {"net_benefit_model_ci_low", "net_benefit_model_ci_high"} <= set(curve.columns):
        ax.fill_between(t, curve["net_benefit_model_ci_low"], curve["net_benefit_model_ci_high"],
                        color=MODEL, alpha=0.15, lw=0, label="model, 95% interval")
    ax.plot(t, curve["net_benefit_model"], color=MODEL, lw=2, label="model")
    ax.plot(t, curve["net_benefit_treat_all"], color="#e76f51", lw=1.2, label="offer everyone")
    ax.plot(t, curve["net_benefit_treat_none"], color=GREY, lw=1.2, ls="--", label="offer no one")
    top = float(np.nanmax(curve["net_benefit_model"].to_numpy(dtype=float), initial=0.0))
    ax.set_ylim(min(-0.005, -0.2 * top), max(top * 1.3, 0.005))
    ax.set_xlabel("Risk threshold for offering an intervention")
    ax.set_ylabel("Net benefit")
    ax.set_title("Decision curve (test period)")
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


def importance_figure(table: pd.DataFrame, top: int = 20) -> Figure:
    """Mean |SHAP| per feature (log-odds), coloured by agency."""
    rows = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8.2, 0.3 * len(rows) + 1.1))
    ax.barh(range(len(rows)), rows["mean_abs_shap"], color=[agency_colour(a) for a in rows["agency"]])
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows["short_label"] if "short_label" in rows else [_short(t) for t in rows["label"]])
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


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def figures_from(builders: Sequence[tuple[str, Any]]) -> dict[str, str]:
    """Render ``(name, callable returning a Figure)`` pairs into data URIs."""
    return {name: to_data_uri(build()) for name, build in builders}
