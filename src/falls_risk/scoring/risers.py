"""Why the biggest risers rose: the current model's contributions on this run's features minus
those on the previous run's (see ``changes.explain_risers``), worded from the feature registry."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from falls_risk.explain import compute_contributions
from falls_risk.features.registry import FEATURES
from falls_risk.features.wording import describe_value
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.scoring.changes import explain_risers


def _describer() -> Callable[[str, object, object], str]:
    specs = {s.name: s for s in FEATURES}

    def describe(feature: str, before: object, now: object) -> str:
        spec = specs.get(feature)
        if spec is None:
            return f"{feature}: {before} → {now}"
        now_text, before_text = describe_value(spec, now), describe_value(spec, before)
        if now_text == before_text:
            # Same value, but in a tree model it can weigh more alongside the person's other changes.
            return f"{now_text} (unchanged, but counts for more alongside the other changes)"
        return f"{now_text} (was: {before_text})"

    return describe


def explain_rises(
    model: FallsRiskModel, risers: pd.DataFrame, features: pd.DataFrame, previous_features: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """``risers`` with ``why``, ``feature_change_points`` and ``model_change_points``; and warnings."""
    names = list(model.feature_names_)
    if risers.empty:
        return risers.assign(why=pd.Series(dtype="string")), []
    lacking = [f for f in names if f not in previous_features.columns]
    if lacking:
        return risers.assign(why=""), [
            (f"The previous run's features lack {len(lacking)} of this model's features; risers are listed "
            "without reasons.")
        ]
    keys = list(risers["person_key"])
    now = features.set_index("person_key").loc[keys, names]
    before = previous_features.set_index("person_key").loc[keys, names]
    contrib_now, _ = compute_contributions(model, now)
    contrib_before, _ = compute_contributions(model, before)
    on_before = pd.Series(model.predict_proba(before), index=before.index)
    return explain_risers(risers, contrib_now, contrib_before, now, before, _describer(),
                          probability_on_before=on_before), []
