"""Evaluation figures for MLflow: ROC, precision-recall, calibration, decision curve."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay


def roc_figure(y: np.ndarray, p: np.ndarray, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y, p, ax=ax, name=title, plot_chance_level=True)
    ax.set_title(f"ROC, out-of-time test: {title}")
    return fig


def pr_figure(y: np.ndarray, p: np.ndarray, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    PrecisionRecallDisplay.from_predictions(y, p, ax=ax, name=title, plot_chance_level=True)
    ax.set_title(f"Precision-recall, out-of-time test: {title}")
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 5))
    CalibrationDisplay.from_predictions(y, p, n_bins=10, strategy="quantile", ax=ax, name=title)
    top = float(max(np.quantile(p, 0.999), 0.05))
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_title(f"Calibration (deciles of risk): {title}")
    return fig


def decision_curve_figure(curve: pd.DataFrame, title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(curve["threshold"], curve["net_benefit_model"], label=title, color="C0")
    if "net_benefit_model_ci_low" in curve:
        ax.fill_between(curve["threshold"], curve["net_benefit_model_ci_low"], curve["net_benefit_model_ci_high"],
                        color="C0", alpha=0.2, label="95% interval")
    ax.plot(curve["threshold"], curve["net_benefit_treat_all"], label="treat all", color="C1", linestyle="--")
    ax.axhline(0, color="grey", linewidth=1, label="treat none")
    low = min(0.0, float(curve["net_benefit_model"].min()))
    ax.set_ylim(low - 0.002, float(curve["net_benefit_model"].max()) * 1.15 + 1e-4)
    ax.set_xlabel("risk threshold")
    ax.set_ylabel("net benefit")
    ax.set_title(f"Decision curve: {title}")
    ax.legend()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)
