from __future__ import annotations

import pandas as pd

from falls_risk.linkage.assign import apply_decisions, assign_best


def cands(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_uid", "person_key", "match_probability"])


def test_each_record_gets_at_most_one_person_the_best_above_threshold() -> None:
    c = cands([("r1", "A", 0.99), ("r1", "B", 0.97), ("r2", "A", 0.6), ("r3", "C", 0.96), ("r3", "D", 0.96)])
    out = assign_best(pd.Series(["r1", "r2", "r3", "r4"]), apply_decisions(c, pd.DataFrame()), threshold=0.95)
    out = out.set_index("record_uid")
    assert out.loc["r1", "person_key"] == "A" and out.loc["r1", "match_probability"] == 0.99
    assert pd.isna(out.loc["r2", "person_key"]) and out.loc["r2", "unlinked_reason"] == "below_threshold"
    assert pd.isna(out.loc["r3", "person_key"]) and out.loc["r3", "unlinked_reason"] == "ambiguous"
    assert out.loc["r4", "unlinked_reason"] == "no_candidate"
    assert len(out) == 4


def test_decisions_override_the_model() -> None:
    c = cands([("r1", "A", 0.99), ("r1", "B", 0.97), ("r2", "C", 0.4)])
    decisions = pd.DataFrame(
        {"record_uid": ["r1", "r2"], "person_key": ["A", "C"], "decision": ["rejected", "confirmed"]}
    )
    out = assign_best(
        pd.Series(["r1", "r2"]), apply_decisions(c, decisions), threshold=0.95, rejected_records={"r1"}
    ).set_index("record_uid")
    assert out.loc["r1", "person_key"] == "B"  # next best above the threshold
    assert out.loc["r2", "person_key"] == "C" and out.loc["r2", "match_probability"] == 1.0


def test_rejected_and_nothing_else_is_unlinked_with_that_reason() -> None:
    c = cands([("r1", "A", 0.99)])
    decisions = pd.DataFrame({"record_uid": ["r1"], "person_key": ["A"], "decision": ["rejected"]})
    out = assign_best(pd.Series(["r1"]), apply_decisions(c, decisions), threshold=0.95, rejected_records={"r1"})
    assert pd.isna(out.loc[0, "person_key"]) and out.loc[0, "unlinked_reason"] == "rejected_in_review"
