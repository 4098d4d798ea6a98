"""Score people: calibrated probability, tier and plain-language reasons, always together.

``score_people`` is the library entry point: give it a model, a feature table (one row per
eligible person) and a tier policy; it returns every person's probability and tier, and for
everyone in the flagged tier (plus anyone else asked for, such as people with alerts) the full
SHAP contribution vector and the reasons in plain language. Reasons are computed for the flagged
tier only by default because exact Tree SHAP costs far more than a prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import ScoringError
from falls_risk.scoring.tiers import HIGH, TierPolicy, assign_tiers

CONTRIB_PREFIX = "shap__"


@dataclass(frozen=True)
class ScoredPopulation:
    """The result of :func:`score_people`.

    ``scores``: one row per person: ``person_key``, ``local_authority`` (when grouped),
    ``probability``, ``rank``, ``tier``, ``explained`` (bool) and ``reasons`` (plain language;
    empty for people whose reasons were not computed).
    ``explanations``: one row per explained person: ``person_key``, ``probability``, ``tier``,
    ``reasons``, ``raw_margin`` and ``shap__<feature>`` (log-odds) plus ``shap__expected_value``.
    ``contributions``: the same SHAP values, indexed by ``person_key``, one column per feature.
    """

    scores: pd.DataFrame
    explanations: pd.DataFrame
    contributions: pd.DataFrame
    policy: TierPolicy

    @property
    def flagged(self) -> pd.DataFrame:
        return self.scores[self.scores["tier"] == HIGH]


def _check_features(model: Any, features: pd.DataFrame) -> None:
    if "person_key" not in features.columns:
        raise ScoringError("The feature table has no person_key column; build it with `falls-risk features`.")
    if features["person_key"].isna().any():
        raise ScoringError(
            f"{int(features['person_key'].isna().sum())} rows of the feature table have no person_key; "
            "only linked people can be scored."
        )
    dupes = features["person_key"].duplicated()
    if dupes.any():
        raise ScoringError(
            f"{int(dupes.sum())} people appear more than once in the feature table (e.g. "
            f"{features.loc[dupes, 'person_key'].iloc[0]}); score one index date at a time."
        )
    missing = [f for f in model.feature_names_ if f not in features.columns]
    if missing:
        raise ScoringError(
            f"The feature table lacks {len(missing)} of the model's features ({missing[:5]}); rebuild the "
            "features with the registry version the model was trained on."
        )


def explain_people(model: Any, features: pd.DataFrame, *, top_n: int = 3) -> Any:
    """SHAP explanation (``falls_risk.explain.Explanation``) of rows indexed by person_key."""
    from falls_risk.explain import explain

    frame = features.set_index("person_key") if "person_key" in features.columns else features
    return explain(model, frame.loc[:, list(model.feature_names_)], top_n=top_n)


def reasons_text(explanation: Any, top_n: int) -> pd.Series:
    """One plain-language string per explained person: the wording of ``falls_risk.explain``."""
    return explanation.reasons_text(top_n)


def score_people(
    model: Any,
    features: pd.DataFrame,
    policy: TierPolicy,
    *,
    groups: pd.Series | None = None,
    also_explain: Iterable[str] | Callable[[pd.DataFrame], Iterable[str]] = (),
    top_n: int = 3,
) -> ScoredPopulation:
    """Calibrated probability, tier and reasons for every row of ``features``.

    ``features`` has ``person_key`` and the model's feature columns. ``groups`` (aligned with
    ``features``) gives each person's local authority when tiers are per local authority.
    ``also_explain`` lists further person keys (e.g. people with event alerts) whose reasons
    are computed even if they are not in the flagged tier; it may be a function of the tiered
    scores (``person_key``, ``probability``, ``rank``, ``tier``), e.g. to pick the biggest risers.
    """
    _check_features(model, features)
    probability = np.asarray(model.predict_proba(features), dtype=float).reshape(-1)
    if len(probability) != len(features) or not np.isfinite(probability).all():
        raise ScoringError("The model returned missing or non-finite probabilities; check the model and features.")
    scores = pd.DataFrame({"person_key": features["person_key"].to_numpy(), "probability": probability})
    if groups is not None:
        scores["local_authority"] = pd.Series(groups).astype("string").to_numpy()
    scores = assign_tiers(scores, policy)

    extra = also_explain(scores) if callable(also_explain) else also_explain
    wanted = set(scores.loc[scores["tier"] == HIGH, "person_key"]) | (set(extra) & set(scores["person_key"]))
    chosen = features[features["person_key"].isin(wanted)]
    explanation = explain_people(model, chosen, top_n=top_n)
    reasons = reasons_text(explanation, top_n)
    # The explanation recomputes the probability; it must be the one we tiered on.
    check = scores.set_index("person_key").loc[explanation.probability.index, "probability"]
    if len(check) and not np.allclose(check.to_numpy(), explanation.probability.to_numpy(), atol=1e-9):
        raise ScoringError("Explanations and scores disagree on probabilities; the model is not deterministic.")

    scores["explained"] = scores["person_key"].isin(wanted)
    scores["reasons"] = scores["person_key"].map(reasons).fillna("").astype("string")
    contributions = explanation.contributions
    explanations = scores.loc[scores["explained"], ["person_key", "probability", "rank", "tier", "reasons"]]
    explanations = explanations.merge(
        explanation.raw_margin.rename("raw_margin").rename_axis("person_key").reset_index(), on="person_key"
    ).merge(explanation.to_frame(CONTRIB_PREFIX).rename_axis("person_key").reset_index(), on="person_key")
    explanations = explanations.sort_values(["tier", "probability", "person_key"], ascending=[True, False, True])
    return ScoredPopulation(
        scores=scores, explanations=explanations.reset_index(drop=True), contributions=contributions, policy=policy
    )
