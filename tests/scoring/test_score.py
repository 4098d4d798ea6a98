import numpy as np
import pandas as pd
import pytest

from falls_risk.errors import ScoringError
from falls_risk.scoring.score import CONTRIB_PREFIX, score_people
from falls_risk.scoring.tiers import TierPolicy


def test_every_flagged_person_gets_reasons_and_a_full_contribution_vector(synthetic_model, month_features):
    result = score_people(synthetic_model, month_features, TierPolicy(top_percent=5), top_n=3)
    scores = result.scores
    assert len(scores) == len(month_features)
    assert np.allclose(scores["probability"], synthetic_model.predict_proba(month_features))
    flagged = result.flagged
    assert len(flagged) == 100
    assert flagged["explained"].all() and (flagged["reasons"].str.len() > 20).all()
    assert (scores.loc[~scores["explained"], "reasons"] == "").all()
    # Reasons name the agency and the size of the effect in plain words.
    assert flagged["reasons"].str.contains("raises risk by").all()

    exp = result.explanations
    assert set(exp["person_key"]) == set(flagged["person_key"])
    shap_cols = [f"{CONTRIB_PREFIX}{f}" for f in synthetic_model.feature_names_]
    assert set(shap_cols) <= set(exp.columns)
    # The stored vector adds up to the model's log-odds for each person.
    total = exp[shap_cols].sum(axis=1) + exp[f"{CONTRIB_PREFIX}expected_value"]
    assert np.allclose(total, exp["raw_margin"], atol=1e-4)


def test_also_explain_adds_people_outside_the_flagged_tier(synthetic_model, month_features):
    result = score_people(synthetic_model, month_features, TierPolicy(capacity=10))
    low = result.scores.loc[result.scores["tier"] == "low", "person_key"].iloc[:3].tolist()
    again = score_people(synthetic_model, month_features, TierPolicy(capacity=10), also_explain=low)
    assert again.scores.loc[again.scores["person_key"].isin(low), "explained"].all()
    assert len(again.explanations) == 13


def test_per_local_authority_groups(synthetic_model, month_features):
    groups = pd.Series(np.where(np.arange(len(month_features)) % 3 == 0, "Conwy", "Powys"))
    result = score_people(synthetic_model, month_features, TierPolicy(capacity=7, per="local_authority"), groups=groups)
    assert result.flagged.groupby("local_authority").size().to_dict() == {"Conwy": 7, "Powys": 7}


def test_bad_feature_tables_are_refused(synthetic_model, month_features):
    with pytest.raises(ScoringError, match="lacks 1 of the model's features"):
        score_people(synthetic_model, month_features.drop(columns="age"), TierPolicy(capacity=5))
    twice = pd.concat([month_features.head(3), month_features.head(1)])
    with pytest.raises(ScoringError, match="more than once"):
        score_people(synthetic_model, twice, TierPolicy(capacity=5))


def test_reasons_are_worded_exactly_as_the_explain_module_words_them(synthetic_model, month_features):
    from falls_risk.explain import explain

    people = month_features.head(300)
    result = score_people(synthetic_model, people, TierPolicy(capacity=300), top_n=3)
    explanation = explain(synthetic_model, people.set_index("person_key")[synthetic_model.feature_names_], top_n=3)
    scored = result.scores.set_index("person_key")["reasons"]
    assert scored.loc[explanation.probability.index].astype(object).equals(explanation.reasons_text(3))
    assert (scored.str.len() > 0).mean() > 0.9
