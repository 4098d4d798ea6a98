"""Exactly one person per record: the best candidate above the threshold, reviewed decisions first.

Splink scores pairs. A record, though, belongs to at most one spine person, or to nobody in the
spine; so the probability that matters for a link is the record-level posterior

    P(person j | record) = o_j / ((1 - q) + sum_k o_k),   o_j = (q / N) * BF_j,

over the record's candidates k, where BF_j is Splink's Bayes factor for the pair (its match
weight without the prior), N the spine size and q the share of such records whose person is in
the spine. A lone strong candidate gets close to 1; two similar candidates split the mass, so
namesakes at the same address are not linked on a coin toss. q is estimated per group of
sources by a fixed-point iteration (the mean of ``1 - P(nobody | record)``), since, for example,
many people in police records are not registered with a GP in the region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REASON_NO_CANDIDATE = "no_candidate"
REASON_BELOW_THRESHOLD = "below_threshold"
REASON_AMBIGUOUS = "ambiguous"
REASON_REJECTED = "rejected_in_review"

# Two candidates closer than this (in posterior probability) are a tie: neither is chosen.
TIE_TOLERANCE = 1e-9
# Groups of sources with fewer records than this share the pooled estimate of q.
MIN_GROUP_RECORDS = 200
Q_BOUNDS = (0.05, 0.999)


def apply_rejections(candidates: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Candidates without the pairs a reviewer rejected."""
    if decisions.empty:
        return candidates.copy()
    rejected = decisions.loc[decisions["decision"] == "rejected", ["record_uid", "person_key"]].assign(
        _rej=True
    )
    out = candidates.merge(rejected, on=["record_uid", "person_key"], how="left")
    return out[out["_rej"].isna()].drop(columns="_rej").reset_index(drop=True)


def _bayes_factors(candidates: pd.DataFrame) -> pd.Series:
    return pd.Series(
        np.exp2(candidates["log2_bayes_factor"].astype(float).clip(-200, 200)), index=candidates.index
    )


def estimate_in_spine(
    candidates: pd.DataFrame, groups: pd.Series, *, spine_size: int, start: float, iterations: int = 50
) -> dict[str, float]:
    """q per group (and '*' pooled): share of records whose person is in the spine.

    ``groups`` maps every record_uid (index) to its group; records without candidates count
    (they are evidence of people outside the spine, or of identifiers too poor to find them).
    """
    sum_bf = _bayes_factors(candidates).groupby(candidates["record_uid"]).sum()
    s = groups.index.to_series().map(sum_bf).fillna(0.0).to_numpy() / spine_size
    labels = groups.to_numpy()

    def fixed_point(mask: np.ndarray) -> float:
        q = start
        for _ in range(iterations):
            p_nobody = (1 - q) / ((1 - q) + q * s[mask])
            new = float(np.clip(1 - p_nobody.mean(), *Q_BOUNDS))
            if abs(new - q) < 1e-6:
                return new
            q = new
        return q

    pooled = fixed_point(np.ones(len(s), dtype=bool)) if len(s) else start
    out = {"*": pooled}
    for group in pd.unique(labels):
        mask = labels == group
        out[str(group)] = fixed_point(mask) if mask.sum() >= MIN_GROUP_RECORDS else pooled
    return out


def record_posteriors(candidates: pd.DataFrame, q_per_record: pd.Series, *, spine_size: int) -> pd.Series:
    """P(candidate person | record) for every candidate row (see the module docstring)."""
    q = candidates["record_uid"].map(q_per_record).astype(float)
    odds = q / spine_size * _bayes_factors(candidates)
    total = odds.groupby(candidates["record_uid"]).transform("sum")
    return odds / ((1 - q) + total)


def assign_best(
    record_uids: pd.Series,
    candidates: pd.DataFrame,
    *,
    threshold: float,
    confirmed: pd.DataFrame | None = None,
    rejected_records: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """One row per record: person_key (or missing), match_probability, best_probability, reason.

    ``candidates``: record_uid, person_key, probability (record-level). Reviewer-confirmed pairs
    (``confirmed``: record_uid, person_key) link with probability 1 whatever the model says.
    The best candidate links if it reaches ``threshold`` and is not tied with another person.
    ``best_probability`` is the top candidate's probability, linked or not.
    """
    ranked = candidates[["record_uid", "person_key", "probability"]].copy()
    if confirmed is not None and not confirmed.empty:
        confirmed_records = set(confirmed["record_uid"])
        ranked = ranked[~ranked["record_uid"].isin(confirmed_records)]
        ranked = pd.concat([ranked, confirmed[["record_uid", "person_key"]].assign(probability=1.0)])
    ranked = ranked.sort_values(["record_uid", "probability", "person_key"], ascending=[True, False, True])
    ranked = ranked.drop_duplicates(["record_uid", "person_key"])
    ranked["rank"] = ranked.groupby("record_uid").cumcount()
    best = ranked[ranked["rank"] == 0].set_index("record_uid")
    second = ranked[ranked["rank"] == 1].set_index("record_uid")["probability"]
    result = pd.DataFrame({"record_uid": record_uids.astype(str).to_numpy()})
    result["best_person_key"] = result["record_uid"].map(best["person_key"])
    result["best_probability"] = result["record_uid"].map(best["probability"]).astype("Float64")
    result["second_probability"] = result["record_uid"].map(second).astype("Float64")
    has = result["best_person_key"].notna()
    tie = (
        (
            has
            & result["second_probability"].notna()
            & ((result["best_probability"] - result["second_probability"]).abs() <= TIE_TOLERANCE)
        )
        .fillna(False)
        .astype(bool)
    )
    above = (has & (result["best_probability"] >= threshold)).fillna(False).astype(bool)
    link = above & ~tie
    result["person_key"] = result["best_person_key"].where(link)
    result["match_probability"] = result["best_probability"].where(link)
    reason = pd.Series(pd.NA, index=result.index, dtype="string")
    reason[~has] = REASON_NO_CANDIDATE
    reason[has & ~above] = REASON_BELOW_THRESHOLD
    reason[tie] = REASON_AMBIGUOUS
    reason[result["record_uid"].isin(rejected_records) & ~link] = REASON_REJECTED
    result["unlinked_reason"] = reason
    result["tie"] = tie
    return result.drop(columns=["second_probability"])
