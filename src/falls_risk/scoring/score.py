"""Score people: calibrated probability, tier and plain-language reasons, always together.

``tier_population`` gives every eligible person's probability, rank and tier; ``explain_people``
then gives everyone in the flagged tier, and the people it is asked for (alerts, risers, leavers:
found by ``since_last_run`` on the tiered scores), the full SHAP contribution vector and the
reasons in plain language. ``score_people`` does both for a library user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import ScoringError
from falls_risk.explain import explain
from falls_risk.features import wording
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.scoring.tiers import HIGH, TierPolicy, assign_tiers

CONTRIB_PREFIX = "shap__"
# The contribution chart shows this many of a person's largest factors (either direction).
WATERFALL_STEPS = 6


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
    # person_key -> their reasons (``explain.Reason``, largest first), as in ``reasons``.
    reason_items: dict[str, list] = field(default_factory=dict)
    # person_key -> the contribution chart's steps on the probability scale: (label, points 0-1),
    # the largest families first, the rest as one "other factors" step; and the average risk.
    waterfall: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    base_probability: float = float("nan")

    @property
    def flagged(self) -> pd.DataFrame:
        return self.scores[self.scores["tier"] == HIGH]


def _check_features(model: FallsRiskModel, features: pd.DataFrame) -> None:
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


def tier_population(
    model: FallsRiskModel,
    features: pd.DataFrame,
    policy: TierPolicy,
    *,
    groups: pd.Series | None = None,
    predict: Callable[[FallsRiskModel, pd.DataFrame], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Calibrated probability, rank and tier for every row of ``features`` (one per person).

    ``groups`` (aligned with ``features``) gives each person's local authority when tiers are per
    local authority. ``predict`` computes the probabilities elsewhere (on Spark:
    ``scoring.on_spark.predict_on_spark``); by default the model predicts here.
    """
    _check_features(model, features)
    raw = model.predict_proba(features) if predict is None else predict(model, features)
    probability = np.asarray(raw, dtype=float).reshape(-1)
    if len(probability) != len(features) or not np.isfinite(probability).all():
        raise ScoringError("The model returned missing or non-finite probabilities; check the model and features.")
    scores = pd.DataFrame({"person_key": features["person_key"].to_numpy(), "probability": probability})
    if groups is not None:
        scores["local_authority"] = pd.Series(groups).astype("string").to_numpy()
    return assign_tiers(scores, policy)


def people_to_explain(scores: pd.DataFrame, people: Iterable[str] = ()) -> set[str]:
    """The flagged tier and those of ``people`` who were scored."""
    return set(scores.loc[scores["tier"] == HIGH, "person_key"]) | (set(people) & set(scores["person_key"]))


def explain_people(
    model: FallsRiskModel,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    policy: TierPolicy,
    people: Iterable[str] = (),
    *,
    top_n: int = 3,
    min_points: float = 0.0,
    facts: Mapping[str, Any] | None = None,
    as_of: date | None = None,
    backend: Any = "auto",
) -> ScoredPopulation:
    """Explain the flagged tier and ``people`` (e.g. those with alerts): their full SHAP vectors and
    reasons; the rest are scored but not explained, because exact Tree SHAP costs far more than a
    prediction. Reasons moving risk by less than ``min_points`` percentage points are left out;
    ``facts`` (person_key -> ``scoring.facts.PersonFacts``) are the explained people's facts, which
    the reasons then state. ``backend``: the contributions backend (``falls_risk.explain``; on Spark
    ``scoring.on_spark.SparkContributions``)."""
    wanted = people_to_explain(scores, people)
    chosen = features[features["person_key"].isin(wanted)]
    frame = chosen.set_index("person_key")
    explanation = explain(model, frame.loc[:, list(model.feature_names_)], top_n=top_n, backend=backend)
    person_facts = facts
    items = explanation.reason_items(top_n, min_points=min_points, facts=person_facts, as_of=as_of)
    reasons = explanation.reasons_text(top_n, min_points=min_points, facts=person_facts, as_of=as_of)
    if min_points > 0:
        reasons = reasons.where(reasons != "", wording.no_reason_text(min_points))
    steps = explanation.reason_items(WATERFALL_STEPS, direction=None, facts=person_facts, as_of=as_of)
    # The explanation recomputes the probability; it must be the one we tiered on.
    check = scores.set_index("person_key").loc[explanation.probability.index, "probability"]
    if len(check) and not np.allclose(check.to_numpy(), explanation.probability.to_numpy(), atol=1e-9):
        raise ScoringError("Explanations and scores disagree on probabilities; the model is not deterministic.")

    scores = scores.copy()
    scores["explained"] = scores["person_key"].isin(wanted)
    scores["reasons"] = scores["person_key"].map(reasons).fillna("").astype("string")
    explanations = scores.loc[scores["explained"], ["person_key", "probability", "rank", "tier", "reasons"]]
    explanations = explanations.merge(
        explanation.raw_margin.rename("raw_margin").rename_axis("person_key").reset_index(), on="person_key"
    ).merge(explanation.to_frame(CONTRIB_PREFIX).rename_axis("person_key").reset_index(), on="person_key")
    explanations = explanations.sort_values(["tier", "probability", "person_key"], ascending=[True, False, True])
    keys = list(explanation.contributions.index)
    total = explanation.probability_contributions.sum(axis=1).to_numpy()
    waterfall = {}
    for key, own, sum_all in zip(keys, steps, total, strict=True):
        shown = [(r.text, float(r.points)) for r in own]
        waterfall[str(key)] = [*shown, ("other factors", float(sum_all - sum(p for _, p in shown)))]
    return ScoredPopulation(
        scores=scores, explanations=explanations.reset_index(drop=True), contributions=explanation.contributions,
        policy=policy, reason_items={str(k): v for k, v in zip(keys, items, strict=True)}, waterfall=waterfall,
        base_probability=float(explanation.base_probability),
    )


def score_people(
    model: FallsRiskModel,
    features: pd.DataFrame,
    policy: TierPolicy,
    *,
    groups: pd.Series | None = None,
    also_explain: Iterable[str] = (),
    top_n: int = 3,
) -> ScoredPopulation:
    """Tier everyone in ``features`` and explain the flagged tier plus ``also_explain``."""
    scores = tier_population(model, features, policy, groups=groups)
    return explain_people(model, features, scores, policy, also_explain, top_n=top_n)
