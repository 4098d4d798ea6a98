"""The practitioner risk list: the one output where people are named again.

The pseudonymised results are joined back to the ingested population spine (which still holds
identifiers, in the scoring working folder only) on ``person_key`` = HMAC(NHS number), with the
same secret and the same rule (first spine row per NHS number) as linkage. The CSV is written
with mode 0600 before it is moved into place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from falls_risk.errors import ScoringError
from falls_risk.identity import normalise_nhs_numbers, spine_person_keys

IDENTITY_COLUMNS = ("nhs_number", "forename", "surname", "date_of_birth", "address_line", "postcode")
# Why someone is on the list, in the order practitioners read them.
FLAGGED = "flagged tier"
ALERT = "new event"
RISER = "rising risk"
LEFT_TIER = "left the flagged tier"


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


def build_risk_list(
    scores: pd.DataFrame,
    *,
    alerts: pd.DataFrame,
    risers: pd.DataFrame | None,
    entrants: set[str],
    leavers: set[str] = frozenset(),
    by_local_authority: bool = False,
) -> pd.DataFrame:
    """The rows practitioners act on: the flagged tier, anyone with a new alerting event, the
    biggest risers, and those who left the flagged tier since the last run but are still eligible
    (so their team can review or close the case; leavers who died or moved away are not scored,
    so they cannot be listed). Pseudonymised still: ``person_key`` is replaced by identities in
    :func:`reidentify`.
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
    out["risk_change"] = [f"+{100 * rises[k][0]:.1f} points since last run" if k in rises else ""
                          for k in out["person_key"]]
    out["why_risen"] = [str(rises[k][1]) if k in rises else "" for k in out["person_key"]]
    out["risk_percent"] = (out["probability"] * 100).round(1)
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
    ]
    return merged[columns]
