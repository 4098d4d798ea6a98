"""SHAP explanations of the LightGBM model, and the plain-language reasons built from them.

The package is the only place that imports shap. It has three parts:

- ``contributions``: the numbers. The model adapter, both SHAP backends (shap's TreeExplainer
  and LightGBM's ``pred_contrib``), the additivity check against the model's raw margin, and the
  contributions on the probability scale.
- ``reasons``: ranking contributions into each person's reasons, the ``Explanation`` record and
  ``reasons_text`` (the risk list's column). The words come from ``falls_risk.features.wording``.
- ``figures``: shap's beeswarm and dependence plots for the commissioners' report.

Everything a caller needs is importable from here.
"""

from falls_risk.explain.contributions import (
    ADDITIVITY_TOLERANCE,
    BACKENDS,
    FASTEST_BACKEND,
    Contributions,
    backends_agree,
    check_additivity,
    compute_contributions,
    contributions_for,
    feature_names,
)
from falls_risk.explain.figures import beeswarm_figure, dependence_figure
from falls_risk.explain.reasons import DIRECTIONS, LOWERS, RAISES, Explanation, explain, explanation_summary
from falls_risk.features.wording import describe_value

__all__ = [
    "ADDITIVITY_TOLERANCE",
    "BACKENDS",
    "DIRECTIONS",
    "FASTEST_BACKEND",
    "LOWERS",
    "RAISES",
    "Contributions",
    "Explanation",
    "backends_agree",
    "beeswarm_figure",
    "check_additivity",
    "compute_contributions",
    "contributions_for",
    "dependence_figure",
    "describe_value",
    "explain",
    "explanation_summary",
    "feature_names",
]
