"""Figures drawn by shap: the beeswarm of the most important features and one feature's dependence.

Kept in ``falls_risk.explain`` so that no other module imports shap; the report
(``falls_risk.reporting``) embeds the matplotlib Figures these return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from falls_risk.errors import parameter_error
from falls_risk.explain.contributions import import_shap
from falls_risk.explain.reasons import Explanation, spec_for
from falls_risk.features.wording import short_text


def _shap_explanation(
    explanation: Explanation, sample: Sequence[Any] | None = None, labels: Mapping[str, str] | None = None
) -> Any:
    shap = import_shap()

    contributions = explanation.contributions
    values = explanation.values
    if sample is not None:
        contributions = contributions.loc[sample]
        values = values.loc[sample]
    labels = labels or {}
    names = [
        labels.get(n) or short_text(spec_for(n, explanation.specs).description, 48) for n in explanation.feature_names
    ]
    return shap.Explanation(
        values=contributions.to_numpy(dtype=float),
        base_values=np.full(len(contributions), explanation.expected_value),
        data=values.to_numpy(dtype=float),
        feature_names=names,
    )


def beeswarm_figure(
    explanation: Explanation,
    *,
    max_display: int = 15,
    max_points: int = 3000,
    seed: int = 0,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """A matplotlib Figure: shap's beeswarm of the most important features (log-odds).

    ``labels`` maps feature names to the text shown (default: the registry description).
    """
    import matplotlib.pyplot as plt

    shap = import_shap()

    sample = _sample_index(explanation, max_points, seed)
    rows = min(max_display, len(explanation.feature_names))
    fig = plt.figure(figsize=(9, 0.36 * rows + 1.4))
    with plt.rc_context({"font.size": 9}):
        shap.plots.beeswarm(
            _shap_explanation(explanation, sample, labels), max_display=max_display, show=False, plot_size=None,
            group_remaining_features=False,
        )
    for ax in fig.axes:
        ax.tick_params(labelsize=9)
        ax.yaxis.label.set_size(9)
    main = fig.axes[0]
    main.set_xlabel("Contribution to risk (log-odds); right of 0 raises risk", fontsize=9)
    main.set_title("Each dot is one person-month (a person at one index date)", fontsize=10, weight="bold")
    return fig


def dependence_figure(
    explanation: Explanation, feature: str, *, max_points: int = 3000, seed: int = 0, label: str | None = None
) -> Any:
    """A matplotlib Figure: shap's dependence (scatter) plot of one feature."""
    import matplotlib.pyplot as plt

    shap = import_shap()

    if feature not in explanation.feature_names:
        raise parameter_error("feature", f"one of the model's features {explanation.feature_names}", feature)
    sample = _sample_index(explanation, max_points, seed)
    exp = _shap_explanation(explanation, sample)
    col = explanation.feature_names.index(feature)
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    shap.plots.scatter(exp[:, col], ax=ax, show=False, color="#1f6f8b", alpha=0.5, dot_size=10, hist=False)
    spec = spec_for(feature, explanation.specs)
    if spec.is_categorical and spec.categories:
        ax.set_xticks(range(len(spec.categories)))
        ax.set_xticklabels([short_text(c, 14) for c in spec.categories], rotation=30, ha="right")
    elif spec.kind == "binary":
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["no", "yes"])
    unit = f" ({spec.unit})" if spec.unit and spec.kind == "numeric" else ""
    # Shown at about half size in the report's two-column grid: text at 11-12 pt stays legible.
    ax.set_xlabel(short_text(label or spec.description, 44) + unit, fontsize=11)
    ax.set_ylabel("Contribution (log-odds)", fontsize=11)
    ax.tick_params(labelsize=10.5)
    ax.axhline(0, color="#888", lw=0.8, zorder=0)
    fig.tight_layout()
    return fig


def _sample_index(explanation: Explanation, max_points: int, seed: int) -> list[Any] | None:
    n = len(explanation.contributions)
    if n <= max_points:
        return None
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, size=max_points, replace=False))
    return list(explanation.contributions.index[pick])
