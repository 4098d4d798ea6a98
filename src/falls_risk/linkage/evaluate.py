"""Precision, recall and F1 of record-to-person assignments against the synthetic ground truth.

Truth (``DIR/truth/record_person.parquet``) gives each extract row's true NHS number; the
true ``person_key`` is its keyed hash with the same secret. Only rows that reached linkage are
scored (quarantined rows never did). A row whose person is not in the spine is right only when
left unlinked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from falls_risk.catalog import LINKED, POPULATION, TRUTH_RECORD_PERSON
from falls_risk.contract import PERSON_SOURCES
from falls_risk.errors import LinkageError
from falls_risk.identity import person_keys
from falls_risk.linkage.secret import load_secret
from falls_risk.workspace import Workspace

NO_NHS_SOURCES = ("social_care", "police_incidents", "housing_adaptations")


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
    truth = pd.read_parquet(truth_path, columns=["source", "row_number", "nhs_number"])
    truth["true_person_key"] = person_keys(secret, truth["nhs_number"])
    spine_keys = set(pd.read_parquet(population, columns=["person_key"])["person_key"])
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
    rows = []
    for source, group in merged.groupby("source", sort=True):
        rows.append({"source": source, **_scores(group)})
    without = merged[merged["source"].isin(NO_NHS_SOURCES)]
    if not without.empty:
        rows.append({"source": "without NHS number", **_scores(without)})
    rows.append({"source": "all", **_scores(merged)})
    return pd.DataFrame(rows)


def print_evaluation(table: pd.DataFrame) -> None:
    """The evaluation as a table on stdout."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title="Record-to-person links vs ground truth")
    for column in table.columns:
        out.add_column(column, justify="left" if column == "source" else "right")
    for row in table.itertuples(index=False):
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            cells.append(
                f"{value:.4f}"
                if column in ("precision", "recall", "f1")
                else f"{value:,}"
                if isinstance(value, int)
                else str(value)
            )
        out.add_row(*cells)
    import sys

    Console(width=None if sys.stdout.isatty() else 160).print(out)
