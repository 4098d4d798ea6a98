"""The randomised holdout: reproducible (keyed, never re-drawn), balanced, only the flagged tier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from falls_risk.errors import ScoringError
from falls_risk.identity import keyed_hash
from falls_risk.scoring.holdout import assign_holdout, check_same_percent, draws, shown

SECRET = b"test-secret-not-for-real-use"


def population(n: int, flagged_share: float = 0.3, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probability = rng.beta(1.2, 20, n)
    cut = np.quantile(probability, 1 - flagged_share)
    return pd.DataFrame({"person_key": [keyed_hash(b"k" * 16, str(i), domain="person") for i in range(n)],
                         "probability": probability,
                         "tier": np.where(probability >= cut, "high", "low"),
                         "sex_code": rng.integers(0, 2, n)})


def test_the_draw_is_reproducible_keyed_and_never_redrawn():
    scores = population(2000)
    first = assign_holdout(scores, SECRET, "2026-03", 20)
    again = assign_holdout(scores.sample(frac=1, random_state=1), SECRET, "2026-03", 20).set_index("person_key")
    assert again.loc[first["person_key"], "holdout"].tolist() == first["holdout"].tolist()  # order does not matter
    other_key = assign_holdout(scores, b"another-secret-of-16b", "2026-03", 20)
    other_month = assign_holdout(scores, SECRET, "2026-04", 20)
    assert (first["holdout"] != other_key["holdout"]).sum() > 50
    assert (first["holdout"] != other_month["holdout"]).sum() > 50
    # A larger share keeps everyone already held out (the draw is a fixed number per person and month).
    assert (first["holdout"] <= assign_holdout(scores, SECRET, "2026-03", 30)["holdout"]).all()


def test_the_holdout_is_balanced_and_only_from_the_flagged_tier():
    scores = population(20_000)
    result = assign_holdout(scores, SECRET, "2026-03", 20)
    flagged = result[result["tier"] == "high"]
    assert not result.loc[result["tier"] != "high", "holdout"].any()
    n, share = len(flagged), flagged["holdout"].mean()
    assert abs(share - 0.20) < 3 * np.sqrt(0.2 * 0.8 / n)  # within 3 standard errors of 20%
    held, listed = flagged[flagged["holdout"]], flagged[~flagged["holdout"]]
    for column in ("probability", "sex_code"):
        pooled = np.sqrt((held[column].var() + listed[column].var()) / 2)
        assert abs(held[column].mean() - listed[column].mean()) / pooled < 0.1  # standardised mean difference
    u = draws(SECRET, flagged["person_key"], "2026-03")
    assert 0 <= u.min() and u.max() < 1 and abs(np.mean(u) - 0.5) < 0.02
    assert len(shown(result)) == len(result) - result["holdout"].sum()
    assert assign_holdout(scores, SECRET, "2026-03", 0)["holdout"].sum() == 0


def test_a_rerun_must_keep_the_months_holdout_percent():
    check_same_percent([{"month": "2026-03", "holdout_percent": 20}], 20, "2026-03")
    check_same_percent([], 10, "2026-03")
    with pytest.raises(ScoringError, match="never re-drawn"):
        check_same_percent([{"month": "2026-03", "holdout_percent": 20}], 10, "2026-03")
    with pytest.raises(ScoringError, match="between 0"):
        assign_holdout(population(10), SECRET, "2026-03", 80)
