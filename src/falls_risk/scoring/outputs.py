"""The practitioner risk list: the one output where people are named again.

The pseudonymised results are joined back to the ingested population spine (which still holds
identifiers, in the scoring working folder only) on ``person_key`` = HMAC(NHS number), with the
same secret and the same rule (first spine row per NHS number) as linkage. The CSV is written
with mode 0600 before it is moved into place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from falls_risk.errors import ScoringError
from falls_risk.features import wording
from falls_risk.identity import normalise_nhs_numbers, spine_person_keys

IDENTITY_COLUMNS = ("nhs_number", "forename", "surname", "date_of_birth", "address_line", "postcode")
# Why someone is on the list, in the order practitioners read them.
FLAGGED = "flagged tier"
ALERT = "new event"
RISER = "rising risk"
LEFT_TIER = "left the flagged tier"
GUIDANCE_COLUMNS = ("suggested_actions", "case_finding", "already_known_to")


def identities(population_path: Path, secret: bytes) -> pd.DataFrame:
    """person_key and identifiers from the ingested spine (first row per person; a row without a
    valid NHS number is keyed on its demographics, as linkage keys it)."""
    if not population_path.exists():
        raise ScoringError(
            f"{population_path} is missing: the practitioner list needs the ingested population spine. "
            "Re-run the scoring command so ingest writes it."
        )
    available = set(pq.read_schema(population_path).names)
    wanted = ["row_number", "nhs_number", "forename_raw", "surname_raw", "forename", "surname",
              "date_of_birth", "sex", "address_line", "postcode"]
    spine = pd.read_parquet(population_path, columns=[c for c in wanted if c in available])
    spine["nhs_number"] = normalise_nhs_numbers(spine["nhs_number"])
    if "row_number" in spine.columns:
        spine = spine.sort_values("row_number", kind="stable")
    # The one keying rule linkage uses: NHS number, else a demographic key (issue 19.1).
    spine["person_key"] = spine_person_keys(secret, spine)
    spine = spine[spine["person_key"].notna()].drop_duplicates("person_key", keep="first")
    # Names as the health board recorded them (not the case-folded matching form).
    for name in ("forename", "surname"):
        if f"{name}_raw" in spine.columns:
            spine[name] = spine[f"{name}_raw"].where(spine[f"{name}_raw"].notna(), spine.get(name))
    return spine[["person_key", *[c for c in IDENTITY_COLUMNS if c in spine.columns]]]


def guidance_columns(keys: pd.Series, facts: Mapping[str, Any] | None) -> pd.DataFrame:
    """``suggested_actions``, ``case_finding`` and ``already_known_to`` for each of ``keys``
    (empty text for a person without facts)."""
    from falls_risk import guidance

    rows = []
    for key in keys.astype(str):
        person = None if facts is None else facts.get(key)
        rows.append(("", "", "") if person is None else (
            guidance.suggested_actions(person), guidance.case_finding(person), wording.already_known_to(person)))
    frame = pd.DataFrame(rows, columns=list(GUIDANCE_COLUMNS), index=keys.index, dtype=object)
    return frame.astype("string")


def build_risk_list(
    scores: pd.DataFrame,
    *,
    alerts: pd.DataFrame,
    risers: pd.DataFrame | None,
    entrants: set[str],
    leavers: set[str] = frozenset(),
    by_local_authority: bool = False,
    previous_scores: pd.DataFrame | None = None,
    facts: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The rows practitioners act on: the flagged tier, anyone with a new alerting event, the
    biggest risers, and those who left the flagged tier since the last run but are still eligible
    (so their team can review or close the case; leavers who died or moved away are not scored,
    so they cannot be listed). Pseudonymised still: ``person_key`` is replaced by identities in
    :func:`reidentify`.

    ``previous_scores`` (the previous run's ``person_key`` and ``probability``) give everyone
    listed who was scored then, leavers included, ``previous_risk_percent`` and the numeric
    ``risk_change_points`` (percentage points; empty for a first run or a newly eligible person).
    ``facts`` (person_key -> ``scoring.facts.PersonFacts``) give ``suggested_actions``,
    ``case_finding`` and ``already_known_to``.
    """
    listed = scores["tier"].astype("string") == "high"
    alert_keys = set(alerts["person_key"])
    riser_keys = set(risers["person_key"]) if risers is not None else set()
    listed |= scores["person_key"].isin(alert_keys | riser_keys | set(leavers))
    out = scores.loc[listed, ["person_key", "local_authority", "rank", "tier", "probability", "reasons"]].copy()
    because = []
    for key, tier in zip(out["person_key"], out["tier"].astype("string"), strict=True):
        parts = [FLAGGED] if tier == "high" else []
        if key in alert_keys:
            parts.append(ALERT)
        if key in riser_keys:
            parts.append(RISER)
        if key in leavers:
            parts.append(LEFT_TIER)
        because.append("; ".join(parts))
    out["listed_because"] = because
    out["new_to_flagged_tier"] = out["person_key"].isin(entrants)
    alert_text: dict[str, list[str]] = {}
    for key, alert, day in zip(alerts["person_key"], alerts["alert"], alerts["event_date"], strict=True):
        alert_text.setdefault(key, []).append(f"{alert} on {day}")
    out["alerts"] = [("; ".join(alert_text[k]) if k in alert_text else "") for k in out["person_key"]]
    rises = {}
    if risers is not None and len(risers):
        whys = risers["why"] if "why" in risers.columns else pd.Series("", index=risers.index)
        rises = {k: (r, w) for k, r, w in zip(risers["person_key"], risers["rise"], whys.fillna(""), strict=True)}
    out["why_risen"] = [str(rises[k][1]) if k in rises else "" for k in out["person_key"]]
    out["risk_percent"] = (out["probability"] * 100).round(1)
    before = pd.Series(np.nan, index=out.index)
    if previous_scores is not None and len(previous_scores):
        was = previous_scores.drop_duplicates("person_key").set_index("person_key")["probability"].astype(float)
        before = out["person_key"].map(was).astype(float)
    out["previous_risk_percent"] = (before * 100).round(1)
    out["risk_change_points"] = ((out["probability"].astype(float) - before) * 100).round(1)
    # Risers are measured exactly by ``changes``; everyone else from the previous run's scores.
    change = [100 * rises[k][0] if k in rises else pts for k, pts in zip(
        out["person_key"], out["risk_change_points"], strict=True)]
    out["risk_change"] = ["" if pd.isna(c) else f"{c:+.1f} points since last run" for c in change]
    out = pd.concat([out, guidance_columns(out["person_key"], facts)], axis=1)
    # Flagged first (per local authority when capacity is per local authority), highest risk first.
    keys = [out["rank"].to_numpy(), -out["probability"].to_numpy()]
    if by_local_authority:
        keys.append(out["local_authority"].astype(str).to_numpy())
    keys.append((out["tier"].astype("string") != "high").to_numpy())
    order = np.lexsort(keys)
    return out.iloc[order].reset_index(drop=True)


def reidentify(risk_list: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """Swap person_key for the identifiers; refuse if anyone on the list cannot be found."""
    merged = risk_list.merge(people, on="person_key", how="left", indicator=True)
    lost = merged["_merge"] == "left_only"
    if lost.any():
        raise ScoringError(
            f"{int(lost.sum())} people on the risk list are not in the ingested population spine, so they "
            "cannot be named. The secret (FALLS_RISK_SECRET or the key file) must be the one linkage used."
        )
    columns = [
        "local_authority", "rank", "risk_percent", "tier", "listed_because", "new_to_flagged_tier",
        *[c for c in IDENTITY_COLUMNS if c in merged.columns],
        "reasons", "alerts", "risk_change", "why_risen",
        "previous_risk_percent", "risk_change_points", *GUIDANCE_COLUMNS,
    ]
    return merged[columns]
