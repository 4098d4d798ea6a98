"""Precision, recall and F1 of record-to-person assignments against the synthetic ground truth.

Truth (``DIR/truth/record_person.parquet``) gives each extract row's true NHS number; the
true ``person_key`` is its keyed hash with the same secret. Only rows that reached linkage are
scored (quarantined rows never did). A row whose person is not in the spine is right only when
left unlinked.

False links are split by who the record really belongs to, where the truth says so (synthetic
worlds write ``person_kind``, ``twin`` and the true ``date_of_birth``): a relative of a spine
household, an outsider (a visitor, a younger suspect or witness, someone registered elsewhere),
a twin, or another spine person (other); and how many went to a spine person 20 or more years
older than the record's person (an impossible link).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from falls_risk.catalog import LINKED, POPULATION, TRUTH_RECORD_PERSON
from falls_risk.contract import PERSON_SOURCES
from falls_risk.errors import LinkageError
from falls_risk.identity import person_keys
from falls_risk.linkage.secret import load_secret
from falls_risk.workspace import Workspace

NO_NHS_SOURCES = ("social_care", "police_incidents", "housing_adaptations")


FALSE_LINK_KINDS = ("relative", "outsider", "twin", "other")
YEARS_IMPOSSIBLE = 20


def _false_link_kinds(frame: pd.DataFrame, false: pd.Series) -> dict[str, int]:
    kind = frame["true_kind"].astype("string").fillna("other")
    twin = frame["true_twin"].fillna(False).astype(bool)
    labelled = pd.Series("other", index=frame.index, dtype="string")
    labelled[kind.isin(["relative", "outsider"])] = kind[kind.isin(["relative", "outsider"])]
    labelled[twin] = "twin"
    out = {f"false_{k}": int((false & (labelled == k)).sum()) for k in FALSE_LINK_KINDS}
    years = (frame["true_dob"] - frame["linked_birth"]).dt.days / 365.25
    out[f"false_{YEARS_IMPOSSIBLE}y_younger"] = int((false & (years >= YEARS_IMPOSSIBLE)).sum())
    return out


def _scores(frame: pd.DataFrame) -> dict[str, float | int]:
    predicted = frame["person_key"].notna()
    in_spine = frame["true_in_spine"]
    correct = predicted & (frame["person_key"] == frame["true_person_key"])
    tp = int(correct.sum())
    fp = int((predicted & ~correct).sum())
    fn = int((in_spine & ~correct).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "records": len(frame),
        "in_spine": int(in_spine.sum()),
        "linked": int(predicted.sum()),
        "true_links": tp,
        "false_links": fp,
        "missed": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        **_false_link_kinds(frame, predicted & ~correct),
    }


def evaluate_linkage(
    workspace: str | Path, truth_dir: str | Path, *, secret: bytes | None = None
) -> pd.DataFrame:
    """One row per source, then 'without NHS number' (social care, police, housing) and 'all'."""
    ws = Workspace(workspace)
    truth_path = TRUTH_RECORD_PERSON.path(truth_dir)
    if not truth_path.exists():
        raise LinkageError(f"{truth_path} does not exist. Pass --truth DIR/truth of the synthetic world.")
    population = POPULATION.require(ws)
    secret = secret if secret is not None else load_secret(workspace=ws.root)
    available = set(pq.read_schema(truth_path).names)
    extra = [c for c in ("person_kind", "twin", "date_of_birth") if c in available]
    truth = pd.read_parquet(truth_path, columns=["source", "row_number", "nhs_number", *extra])
    truth = truth.rename(columns={"person_kind": "true_kind", "twin": "true_twin", "date_of_birth": "true_dob"})
    for column, empty in (("true_kind", None), ("true_twin", False), ("true_dob", pd.NaT)):
        if column not in truth:
            truth[column] = empty
    truth["true_dob"] = pd.to_datetime(truth["true_dob"])
    truth["true_person_key"] = person_keys(secret, truth["nhs_number"])
    spine = pd.read_parquet(population, columns=["person_key", "birth_month"])
    spine_keys = set(spine["person_key"])
    births = pd.Series(pd.to_datetime(spine["birth_month"] + "-01", errors="coerce").to_numpy(), index=spine["person_key"])
    truth["true_in_spine"] = truth["true_person_key"].isin(spine_keys)
    parts = []
    for source in sorted(PERSON_SOURCES):
        if not LINKED.exists(ws, source=source):
            continue
        linked = LINKED.load(ws, source=source, columns=["row_number", "person_key", "link_method"])
        linked["source"] = source
        parts.append(linked)
    if not parts:
        raise LinkageError(
            f"No linked sources in {LINKED.path(ws, source='*').parent}. Run `falls-risk link --workspace {ws.root}` first."
        )
    linked = pd.concat(parts, ignore_index=True)
    merged = linked.merge(truth, on=["source", "row_number"], how="left", validate="one_to_one")
    unknown = merged["true_person_key"].isna() & merged["nhs_number"].isna()
    if unknown.all():
        raise LinkageError(
            f"No linked row matches a row of {truth_path}: is this the truth of the world this workspace was built from?"
        )
    merged["true_in_spine"] = merged["true_in_spine"].fillna(False).astype(bool)
    # The linked person's birth month (mid-month: at most half a month off).
    merged["linked_birth"] = merged["person_key"].map(births) + pd.Timedelta(days=14)
    rows = []
    for source, group in merged.groupby("source", sort=True):
        rows.append({"source": source, **_scores(group)})
    without = merged[merged["source"].isin(NO_NHS_SOURCES)]
    if not without.empty:
        rows.append({"source": "without NHS number", **_scores(without)})
    rows.append({"source": "all", **_scores(merged)})
    return pd.DataFrame(rows)


def print_evaluation(table: pd.DataFrame) -> None:
    """The evaluation as two tables on stdout: scores, then false links by kind."""
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    false_columns = [c for c in table.columns if c.startswith("false_") and c != "false_links"]
    for title, columns in (
        ("Record-to-person links vs ground truth", [c for c in table.columns if c not in false_columns]),
        ("False links by whom the record belongs to", ["source", "false_links", *false_columns]),
    ):
        out = Table(title=title)
        for column in columns:
            out.add_column(column.removeprefix("false_") if column in false_columns else column,
                           justify="left" if column == "source" else "right")
        for row in table[columns].itertuples(index=False):
            cells = []
            for column, value in zip(columns, row, strict=True):
                cells.append(
                    f"{value:.4f}"
                    if column in ("precision", "recall", "f1")
                    else f"{value:,}"
                    if isinstance(value, int)
                    else str(value)
                )
            out.add_row(*cells)
        console.print(out)
