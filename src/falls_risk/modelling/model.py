"""``FallsRiskModel``: the one model object that training produces and everyone else consumes.

Follows the scikit-learn estimator contract (no logic in ``__init__``, ``fit`` returns self,
fitted attributes end in ``_``). After ``fit``:

* ``predict_proba(X)`` - 1-D array of *calibrated* probabilities of a fall-related emergency
  admission within the label horizon of the index date (``FeatureConfig.label_horizon_days``
  of the feature table it was trained on);
* ``raw_margin(X)`` - the uncalibrated log-odds (what SHAP explains for tree models);
* ``feature_names_`` (the columns it reads, in order), ``categorical_features_`` (integer-coded
  columns), ``categories_`` (code -> label per categorical), ``specs_`` (their ``FeatureSpec``),
  ``registry_version_``, ``kind_`` (``lightgbm`` / ``logistic`` / ``rule``), ``variant_`` (the
  experiment's model kind, e.g. ``deficit_score``), ``booster_`` (``lightgbm.Booster`` or None),
  ``calibrator_`` (``method``: ``isotonic`` / ``platt``, or None when fitted without a slice),
  ``calibration_scores_`` (cross-fitted Brier score of each method);
* ``reference_`` (drift reference, plain JSON-able dict; set by ``set_reference``) and
  ``training_record_`` (the ``TrainingRecord`` of the run that produced it: config, split, the
  data it read, the feature config and linkage model scoring reuses; set by ``run_experiment``,
  None for a model fitted outside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from falls_risk.errors import ModelError
from falls_risk.features.spec import FeatureSpec
from falls_risk.modelling.calibration import CALIBRATION_METHODS, choose_calibrator
from falls_risk.modelling.estimators import FAMILY, as_model_frame, make_scorer
from falls_risk.modelling.record import TrainingRecord
from falls_risk.modelling.roles import default_registry_version, default_specs, resolve_roles


def _labels(y: Any, what: str) -> np.ndarray:
    arr = pd.Series(y).to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(arr).any():
        raise ModelError(f"{what} has {int(np.isnan(arr).sum())} missing labels; drop rows whose label "
                         "is not yet known before fitting.")
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ModelError(f"{what} must be 0/1 labels; got values {sorted(set(arr.tolist()))[:5]}.")
    return arr.astype(int)


class FallsRiskModel(BaseEstimator):
    """Predict the probability of a fall-related emergency admission within the label horizon.

    Parameters
    ----------
    kind : one of ``age_sex_logistic``, ``previous_fall_rule``, ``deficit_score``, ``logistic``,
        ``lightgbm``, ``lightgbm_tuned``.
    params : model parameters (LightGBM parameters plus ``num_boost_round``; ``C`` for logistic).
    specs : the feature registry (``FeatureSpec`` list); default ``falls_risk.features.registry``.
    features : subset of feature names to use (default: every registry feature).
    roles : explicit names for ``age``, ``sex``, ``falls``, ``deficits`` ... (see ``roles.py``).
    calibration_methods : candidates, chosen by cross-fitted Brier score on the calibration slice.
    registry_version : recorded with the model; default the registry's ``REGISTRY_VERSION``.
    random_state : seed.
    """

    def __init__(
        self,
        kind: str = "lightgbm",
        params: dict[str, Any] | None = None,
        specs: Sequence[FeatureSpec] | None = None,
        features: Sequence[str] | None = None,
        roles: dict[str, Any] | None = None,
        calibration_methods: Sequence[str] = CALIBRATION_METHODS,
        registry_version: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.params = params
        self.specs = specs
        self.features = features
        self.roles = roles
        self.calibration_methods = calibration_methods
        self.registry_version = registry_version
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        X_calibration: pd.DataFrame | None = None,
        y_calibration: Any = None,
        groups_calibration: Any = None,
    ) -> FallsRiskModel:
        """Fit the scorer on (X, y), then the calibrator on the calibration slice if given."""
        specs = tuple(self.specs) if self.specs is not None else default_specs()
        by_name = {s.name: s for s in specs}
        wanted = list(self.features) if self.features is not None else [s.name for s in specs]
        unknown = [f for f in wanted if f not in by_name]
        if unknown:
            raise ModelError(f"features {unknown[:5]} are not in the feature registry; check the names.")
        categorical = [f for f in wanted if by_name[f].is_categorical]
        roles = resolve_roles(specs, self.roles)
        y_arr = _labels(y, "y")
        if y_arr.min() == y_arr.max():
            raise ModelError(f"The training rows ({len(y_arr)}) all have label {y_arr[0]}: need both outcomes.")
        scorer = make_scorer(
            self.kind,
            features=wanted,
            categorical=categorical,
            roles=roles,
            params=dict(self.params or {}),
            seed=self.random_state,
        )
        frame = as_model_frame(X, scorer.features)
        self.scorer_ = scorer.fit(frame, y_arr)
        self.feature_names_ = list(scorer.features)
        self.categorical_features_ = [f for f in self.feature_names_ if by_name[f].is_categorical]
        self.categories_ = {f: list(by_name[f].categories) for f in self.categorical_features_}
        self.specs_ = tuple(by_name[f] for f in self.feature_names_)
        self.roles_ = roles
        self.kind_ = FAMILY[self.kind]
        self.variant_ = self.kind
        self.booster_ = getattr(self.scorer_, "booster_", None)
        self.registry_version_ = (
            self.registry_version if self.registry_version is not None else default_registry_version()
        )
        self.calibrator_ = None
        self.calibration_scores_: dict[str, float] = {}
        if X_calibration is not None:
            self.calibrate(X_calibration, y_calibration, groups_calibration)
        self.reference_: dict[str, Any] = {}
        self.training_record_: TrainingRecord | None = None
        return self

    def calibrate(self, X: pd.DataFrame, y: Any, groups: Any = None) -> FallsRiskModel:
        """(Re)fit the calibrator on a slice the scorer was not trained on."""
        check_is_fitted(self, "scorer_")
        y_arr = _labels(y, "y_calibration")
        self.calibrator_, self.calibration_scores_ = choose_calibrator(
            self.raw_margin(X), y_arr, None if groups is None else np.asarray(groups),
            methods=list(self.calibration_methods),
        )
        return self

    # -- prediction ------------------------------------------------------------------------------
    def raw_margin(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds, one per row."""
        check_is_fitted(self, "scorer_")
        frame = as_model_frame(X, self.feature_names_)
        return np.asarray(self.scorer_.margin(frame), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of a fall admission within the label horizon (1-D)."""
        margin = self.raw_margin(X)
        if self.calibrator_ is None:
            return 1.0 / (1.0 + np.exp(-margin))
        return self.calibrator_.predict(margin)

    # -- drift reference -------------------------------------------------------------------------
    def set_reference(self, X: pd.DataFrame, bins: int = 10) -> FallsRiskModel:
        """Store each feature's binned distribution and the score distribution of ``X`` (the test set)."""
        from falls_risk.modelling.drift import build_reference

        check_is_fitted(self, "scorer_")
        self.reference_ = build_reference(X, self.specs_, self.predict_proba(X), bins=bins)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "scorer_")
