"""Exactly one person per record: the best candidate above the threshold, reviewed decisions first."""

from __future__ import annotations

import pandas as pd

REASON_NO_CANDIDATE = "no_candidate"
REASON_BELOW_THRESHOLD = "below_threshold"
REASON_AMBIGUOUS = "ambiguous"
REASON_REJECTED = "rejected_in_review"

# Two candidates closer than this are a tie: neither is chosen.
TIE_TOLERANCE = 1e-9


def apply_decisions(candidates: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Candidates (record_uid, person_key, match_probability) after clerical decisions.

    ``decisions``: record_uid, person_key, decision (confirmed / rejected). A confirmed pair gets
    probability 1 (added if the model did not propose it); a rejected pair is removed.
    """
    cols = ["record_uid", "person_key", "match_probability"]
    out = candidates[cols].copy()
    if decisions.empty:
        out["reviewed"] = False
        return out
    rejected = decisions.loc[decisions["decision"] == "rejected", ["record_uid", "person_key"]]
    confirmed = decisions.loc[decisions["decision"] == "confirmed", ["record_uid", "person_key"]]
    if not rejected.empty:
        marker = rejected.assign(_rejected=True)
        out = out.merge(marker, on=["record_uid", "person_key"], how="left")
        out = out[out["_rejected"].isna()].drop(columns="_rejected")
    out["reviewed"] = False
    if not confirmed.empty:
        out = out.merge(confirmed.assign(_confirmed=True), on=["record_uid", "person_key"], how="outer")
        hit = out["_confirmed"].fillna(False).astype(bool)
        out.loc[hit, "match_probability"] = 1.0
        out.loc[hit, "reviewed"] = True
        out = out.drop(columns="_confirmed")
    return out.reset_index(drop=True)


def assign_best(
    record_uids: pd.Series,
    candidates: pd.DataFrame,
    *,
    threshold: float,
    rejected_records: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """One row per record: person_key (or missing), match_probability, best_probability, reason.

    Candidates are ranked by probability; the best links if it reaches ``threshold`` and is not
    tied with a different person. ``best_probability`` is the top candidate's probability whether
    or not it linked (for the missed-match estimate and the report).
    """
    ranked = candidates.sort_values(["record_uid", "match_probability", "person_key"], ascending=[True, False, True])
    # A person proposed twice for one record (several spine rows cannot share a key) counts once.
    ranked = ranked.drop_duplicates(["record_uid", "person_key"])
    ranked["rank"] = ranked.groupby("record_uid").cumcount()
    best = ranked[ranked["rank"] == 0].set_index("record_uid")
    second = ranked[ranked["rank"] == 1].set_index("record_uid")["match_probability"]
    result = pd.DataFrame({"record_uid": record_uids.astype(str).to_numpy()})
    result["best_person_key"] = result["record_uid"].map(best["person_key"])
    result["best_probability"] = result["record_uid"].map(best["match_probability"]).astype("Float64")
    result["second_probability"] = result["record_uid"].map(second).astype("Float64")
    has = result["best_person_key"].notna()
    tie = has & result["second_probability"].notna() & (
        (result["best_probability"] - result["second_probability"]).abs() <= TIE_TOLERANCE
    )
    above = has & (result["best_probability"] >= threshold)
    link = above & ~tie
    result["person_key"] = result["best_person_key"].where(link)
    result["match_probability"] = result["best_probability"].where(link)
    reason = pd.Series(pd.NA, index=result.index, dtype="string")
    reason[~has] = REASON_NO_CANDIDATE
    reason[has & ~above] = REASON_BELOW_THRESHOLD
    reason[above & tie] = REASON_AMBIGUOUS
    rejected = result["record_uid"].isin(rejected_records) & ~link
    reason[rejected] = REASON_REJECTED
    result["unlinked_reason"] = reason
    result["tie"] = tie
    return result.drop(columns=["second_probability"])
