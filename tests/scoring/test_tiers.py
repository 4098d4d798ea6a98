import numpy as np
import pandas as pd
import pytest

from falls_risk.errors import ScoringError
from falls_risk.scoring.tiers import TierPolicy, assign_tiers


def _scores(n=100, seed=0, las=("Cardiff", "Newport")):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "person_key": [f"k{i:04d}" for i in range(n)],
            "probability": rng.uniform(0, 0.5, n),
            "local_authority": [las[i % len(las)] for i in range(n)],
        }
    )


def test_capacity_overall_flags_exactly_the_highest():
    scores = _scores()
    out = assign_tiers(scores, TierPolicy(capacity=10))
    high = out[out["tier"] == "high"]
    assert len(high) == 10
    assert high["probability"].min() >= out.loc[out["tier"] != "high", "probability"].max()
    assert (out["tier"] == "moderate").sum() == 10
    assert list(out["person_key"]) == list(scores["person_key"])  # row order kept
    assert sorted(out.loc[out["tier"] == "high", "rank"]) == list(range(1, 11))


def test_top_percent_rounds_up_and_capacity_cannot_exceed_population():
    scores = _scores(n=101)
    assert (assign_tiers(scores, TierPolicy(top_percent=5))["tier"] == "high").sum() == 6
    assert (assign_tiers(scores, TierPolicy(capacity=500))["tier"] == "high").sum() == 101


def test_capacity_per_local_authority():
    scores = _scores(n=100)
    out = assign_tiers(scores, TierPolicy(capacity=3, per="local_authority"))
    counts = out[out["tier"] == "high"].groupby("local_authority").size()
    assert counts.to_dict() == {"Cardiff": 3, "Newport": 3}
    for la, frame in out.groupby("local_authority"):
        assert frame.loc[frame["tier"] == "high", "probability"].min() >= frame.loc[
            frame["tier"] != "high", "probability"
        ].max()

    uneven = assign_tiers(scores, TierPolicy(capacity={"Cardiff": 5, "Newport": 1}, per="local_authority"))
    assert uneven[uneven["tier"] == "high"].groupby("local_authority").size().to_dict() == {
        "Cardiff": 5,
        "Newport": 1,
    }


def test_missing_local_authority_in_capacity_mapping_is_named():
    with pytest.raises(ScoringError, match="Newport"):
        assign_tiers(_scores(), TierPolicy(capacity={"Cardiff": 5}, per="local_authority"))


def test_ties_are_broken_deterministically():
    scores = pd.DataFrame({"person_key": ["c", "a", "b", "d"], "probability": [0.3, 0.3, 0.3, 0.1]})
    out = assign_tiers(scores, TierPolicy(capacity=2))
    assert set(out.loc[out["tier"] == "high", "person_key"]) == {"a", "b"}
    shuffled = assign_tiers(scores.sample(frac=1, random_state=3), TierPolicy(capacity=2))
    assert set(shuffled.loc[shuffled["tier"] == "high", "person_key"]) == {"a", "b"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one"),
        ({"capacity": 5, "top_percent": 5}, "exactly one"),
        ({"capacity": 0}, "--capacity"),
        ({"top_percent": 150}, "--top-percent"),
        ({"capacity": 5, "per": "ward"}, "ward"),
    ],
)
def test_bad_policies_say_what_is_wrong(kwargs, message):
    with pytest.raises(ScoringError, match=message):
        TierPolicy(**kwargs)


def test_missing_probability_is_refused():
    scores = _scores(n=5)
    scores.loc[2, "probability"] = np.nan
    with pytest.raises(ScoringError, match="no probability"):
        assign_tiers(scores, TierPolicy(capacity=1))
