"""Clerical review: borderline pairs out as CSV, reviewed decisions back in.

``WS/reports/clerical_review.csv`` shows each borderline record beside its candidate person
with an empty ``decision`` column. A reviewer fills in ``confirmed`` or ``rejected`` and saves the
file as ``WS/linkage/review_decisions.csv`` (or passes its path); the next run applies those
decisions before the model's: a confirmed pair links, a rejected pair never does.

Pairs are keyed by ``review_record_key`` (a keyed hash of the record's identifying details, so
the same details written the same way in next month's extract keep their decision) and the
candidate's ``person_key``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from falls_risk.catalog import CLERICAL_REVIEW
from falls_risk.errors import LinkageError, format_examples

DECISIONS = ("confirmed", "rejected")
_SYNONYMS = {"confirm": "confirmed", "match": "confirmed", "reject": "rejected", "non-match": "rejected"}
KEY_COLUMNS = ("review_record_key", "person_key")
SHOWN = ("forename", "surname", "date_of_birth", "sex", "postcode", "address_line")
MAX_CANDIDATES_PER_RECORD = 3


def review_pairs(
    candidates: pd.DataFrame,
    identities: pd.DataFrame,
    spine_people: pd.DataFrame,
    assignment: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    lower: float,
    upper: float,
) -> pd.DataFrame:
    """Borderline pairs side by side, plus every pair that already has a decision.

    ``candidates``: record_uid, person_key, match_probability (record-level, before decisions) and
    splink_probability (pairwise).
    ``identities``: record_uid, review_record_key, n_rows, sources and the SHOWN columns.
    ``spine_people``: person_key and the SHOWN columns. ``assignment``: record_uid, person_key.
    """
    ranked = candidates.sort_values(["record_uid", "match_probability"], ascending=[True, False])
    ranked = ranked[ranked.groupby("record_uid").cumcount() < MAX_CANDIDATES_PER_RECORD]
    borderline = ranked[(ranked["match_probability"] >= lower) & (ranked["match_probability"] < upper)]
    ident = identities.set_index("record_uid")
    keyed = borderline.assign(review_record_key=borderline["record_uid"].map(ident["review_record_key"]))
    if not decisions.empty:
        decided = decisions[["review_record_key", "person_key", "decision"]]
        keyed = keyed.merge(decided, on=list(KEY_COLUMNS), how="outer")
        keyed["record_uid"] = keyed["review_record_key"].map(
            identities.set_index("review_record_key")["record_uid"]
        )
        keyed = keyed[keyed["record_uid"].notna()]
        model_p = candidates.set_index(["record_uid", "person_key"])["match_probability"]
        keyed["match_probability"] = [
            model_p.get((r, p), float("nan"))
            for r, p in zip(keyed["record_uid"], keyed["person_key"], strict=True)
        ]
    else:
        keyed = keyed.assign(decision="")
    if keyed.empty:
        columns = [
            "review_record_key",
            "person_key",
            "match_probability",
            "splink_probability",
            "linked_now",
            "records",
            "sources",
            *(f"{side}_{c}" for c in SHOWN for side in ("record", "candidate")),
            "decision",
        ]
        return pd.DataFrame(columns=columns)
    chosen = assignment.set_index("record_uid")["person_key"]
    splink_p = candidates.set_index(["record_uid", "person_key"])["splink_probability"].round(4).to_dict()
    out = pd.DataFrame(
        {
            "review_record_key": keyed["review_record_key"].to_numpy(),
            "person_key": keyed["person_key"].to_numpy(),
            "match_probability": keyed["match_probability"].round(4).to_numpy(),
            "splink_probability": [
                splink_p.get((r, p), float("nan"))
                for r, p in zip(keyed["record_uid"], keyed["person_key"], strict=True)
            ],
            "linked_now": (keyed["record_uid"].map(chosen) == keyed["person_key"]).fillna(False).to_numpy(),
            "records": keyed["record_uid"].map(ident["n_rows"]).to_numpy(),
            "sources": keyed["record_uid"].map(ident["sources"]).to_numpy(),
        }
    )
    people = spine_people.drop_duplicates("person_key").set_index("person_key")
    for column in SHOWN:
        out[f"record_{column}"] = keyed["record_uid"].map(ident[column]).astype("string").to_numpy()
        out[f"candidate_{column}"] = keyed["person_key"].map(people[column]).astype("string").to_numpy()
    out["decision"] = keyed["decision"].fillna("").to_numpy()
    return out.sort_values(["match_probability", "review_record_key"], ascending=[False, True]).reset_index(
        drop=True
    )


def read_decisions(path: Path) -> pd.DataFrame:
    """Reviewed decisions (review_record_key, person_key, decision); blank decisions are skipped.

    Every problem is collected and reported once, with the file, rows and column.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise LinkageError(f"Review decisions file {path} does not exist. Check the path.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LinkageError(f"{path}: not a readable CSV ({exc}). Save it as UTF-8 CSV and re-run.") from None
    missing = [c for c in (*KEY_COLUMNS, "decision") if c not in table.columns]
    if missing:
        raise LinkageError(
            f"{path}: missing column(s) {missing}. Start from the workspace's {CLERICAL_REVIEW.template} and "
            "fill in its decision column."
        )
    decision = table["decision"].str.strip().str.lower().replace(_SYNONYMS)
    rows = pd.Series(range(2, len(table) + 2), index=table.index)  # 1-based, after the header
    bad = decision.ne("") & ~decision.isin(DECISIONS)
    empty_key = decision.ne("") & (
        table["review_record_key"].str.strip().eq("") | table["person_key"].str.strip().eq("")
    )
    problems: list[str] = []
    if bad.any():
        examples = [f"row {r}: {v!r}" for r, v in zip(rows[bad], table.loc[bad, "decision"], strict=True)]
        problems.append(
            f"column decision must be 'confirmed', 'rejected' or empty ({format_examples(examples)})"
        )
    if empty_key.any():
        problems.append(
            f"review_record_key or person_key empty in rows {format_examples(rows[empty_key].tolist())}"
        )
    out = pd.DataFrame(
        {
            "review_record_key": table["review_record_key"].str.strip(),
            "person_key": table["person_key"].str.strip(),
            "decision": decision,
            "row": rows,
        }
    )
    out = out[out["decision"].isin(DECISIONS)]
    conflicts = out.groupby(list(KEY_COLUMNS))["decision"].nunique()
    conflicts = conflicts[conflicts > 1]
    if not conflicts.empty:
        pairs = [f"{k[0][:8]}../{k[1][:8]}.." for k in conflicts.index]
        problems.append(f"pairs both confirmed and rejected: {format_examples(pairs)}")
    if problems:
        raise LinkageError(f"{path}: " + "; ".join(problems) + ". Fix these rows and re-run.")
    return out.drop_duplicates(list(KEY_COLUMNS)).drop(columns="row").reset_index(drop=True)


def empty_decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "review_record_key": pd.Series(dtype=str),
            "person_key": pd.Series(dtype=str),
            "decision": pd.Series(dtype=str),
        }
    )
