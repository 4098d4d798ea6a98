"""Evaluation figures, drawn once for both readers: MLflow artifacts of every training run
(``modelling.train``) and the commissioners' report (``reporting``).

ROC, precision-recall, calibration and decision curve, in one house style (set here on import),
as matplotlib Figures; the caller saves, logs or encodes them and then closes them.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: runs and reports are built on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from falls_risk.config import horizon_text

INK = "#1d2b36"
MODEL = "#1f6f8b"
GREY = "#8a949c"
LIGHT = "#d9e2e8"

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


def roc_figure(y: np.ndarray, p: np.ndarray, label: str) -> Figure:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.plot(fpr, tpr, color=MODEL, lw=2, label=label)
    ax.plot([0, 1], [0, 1], color=GREY, lw=1, ls="--", label="chance")
    return _unit_square(fig, ax, "False positive rate (1 - specificity)", "True positive rate (sensitivity)",
                        "ROC curve (test period)", legend="lower right")


def precision_recall_figure(y: np.ndarray, p: np.ndarray, label: str) -> Figure:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    prevalence = float(np.mean(y)) if len(y) else 0.0
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.plot(recall, precision, color=MODEL, lw=2, label=label)
    ax.axhline(prevalence, color=GREY, lw=1, ls="--", label=f"chance ({prevalence:.1%} admitted)")
    return _unit_square(fig, ax, "Recall (sensitivity)", "Precision (positive predictive value)",
                        "Precision-recall (test period)", legend="upper right")


def _unit_square(fig: Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str, legend: str) -> Figure:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc=legend, frameon=False)
    fig.tight_layout()
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, n_bins: int = 10, *, horizon_days: int) -> Figure:
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
    hist.set_xlabel(f"Predicted risk within {horizon_text(horizon_days)}")
    hist.set_ylabel("People")
    hist.set_yticks([])
    fig.tight_layout()
    return fig


def decision_curve_figure(curve: pd.DataFrame) -> Figure:
    """Net benefit of the model against treating everyone and no one
    (``modelling.evaluation.decision_curve`` builds ``curve``)."""
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


def close(fig: Figure) -> None:
    plt.close(fig)
