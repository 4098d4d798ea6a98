from __future__ import annotations

import math

import pandas as pd

from falls_risk.linkage.assign import apply_rejections, assign_best, estimate_in_spine, record_posteriors

N = 1000


def cands(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """rows of (record, person, Bayes factor)."""
    return pd.DataFrame(
        [(r, p, math.log2(bf)) for r, p, bf in rows],
        columns=["record_uid", "person_key", "log2_bayes_factor"],
    )


def posterior(c: pd.DataFrame, q: float = 0.9) -> pd.DataFrame:
    q_per_record = pd.Series(q, index=c["record_uid"].unique())
    return c.assign(probability=record_posteriors(c, q_per_record, spine_size=N))


def test_a_lone_strong_candidate_is_near_certain_and_namesakes_split_the_mass() -> None:
    out = posterior(cands([("r1", "A", 1e6), ("r2", "B", 1e6), ("r2", "C", 1e6)])).set_index(
        ["record_uid", "person_key"]
    )
    assert out.loc[("r1", "A"), "probability"] > 0.999
    assert 0.49 < out.loc[("r2", "B"), "probability"] < 0.5


def test_records_of_people_outside_the_spine_lower_q() -> None:
    groups = pd.Series(["police"] * 300 + ["social"] * 300, index=[f"r{i}" for i in range(600)])
    rows = [
        (f"r{i}", f"P{i}", 1e7) for i in range(600) if i < 200 or i >= 300
    ]  # 100 police records match nobody
    q = estimate_in_spine(cands(rows), groups, spine_size=N, start=0.95)
    assert abs(q["police"] - 200 / 300) < 0.01 and q["social"] > 0.99


def test_each_record_gets_at_most_one_person_the_best_above_threshold() -> None:
    c = posterior(
        cands([("r1", "A", 1e7), ("r1", "B", 1e2), ("r2", "A", 5.0), ("r3", "C", 1e6), ("r3", "D", 1e6)])
    )
    out = assign_best(pd.Series(["r1", "r2", "r3", "r4"]), c, threshold=0.95).set_index("record_uid")
    assert out.loc["r1", "person_key"] == "A" and out.loc["r1", "match_probability"] > 0.99
    assert pd.isna(out.loc["r2", "person_key"]) and out.loc["r2", "unlinked_reason"] == "below_threshold"
    assert pd.isna(out.loc["r3", "person_key"]) and out.loc["r3", "unlinked_reason"] == "ambiguous"
    assert out.loc["r4", "unlinked_reason"] == "no_candidate"
    assert len(out) == 4


def test_decisions_override_the_model() -> None:
    c = cands([("r1", "A", 1e7), ("r1", "B", 1e6), ("r2", "C", 2.0)])
    decisions = pd.DataFrame(
        {"record_uid": ["r1", "r2"], "person_key": ["A", "C"], "decision": ["rejected", "confirmed"]}
    )
    kept = posterior(apply_rejections(c, decisions))
    out = assign_best(
        pd.Series(["r1", "r2"]),
        kept,
        threshold=0.95,
        confirmed=decisions[decisions["decision"] == "confirmed"],
        rejected_records={"r1"},
    ).set_index("record_uid")
    assert out.loc["r1", "person_key"] == "B"  # the next best, now without its rival
    assert out.loc["r2", "person_key"] == "C" and out.loc["r2", "match_probability"] == 1.0


def test_rejected_and_nothing_else_is_unlinked_with_that_reason() -> None:
    c = cands([("r1", "A", 1e7)])
    decisions = pd.DataFrame({"record_uid": ["r1"], "person_key": ["A"], "decision": ["rejected"]})
    kept = posterior(apply_rejections(c, decisions))
    out = assign_best(pd.Series(["r1"]), kept, threshold=0.95, rejected_records={"r1"})
    assert pd.isna(out.loc[0, "person_key"]) and out.loc[0, "unlinked_reason"] == "rejected_in_review"
