"""Descriptive views of a linked workspace, for the exploration notebook and for QA.

Each function reads the workspace and returns a tidy DataFrame; notebooks only plot them. Nothing
here sees a direct identifier: it reads the tables after linkage.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from falls_risk.contract import PERSON_SOURCES, SOURCES
from falls_risk.workspace import Workspace

AGE_BANDS = (65, 75, 85)
AGE_BAND_LABELS = ("65-74", "75-84", "85+")


def _ws(workspace: str | Path | Workspace) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def link_rates(workspace: str | Path | Workspace) -> pd.DataFrame:
    """Records per source and link method, with the share of the source's records."""
    ws = _ws(workspace)
    frames = []
    for source in PERSON_SOURCES:
        path = ws.linked_table(source)
        if not path.exists():
            continue
        methods = pd.read_parquet(path, columns=["link_method"])["link_method"]
        counts = methods.value_counts().rename_axis("link_method").reset_index(name="records")
        counts.insert(0, "source", source)
        counts["share"] = counts["records"] / counts["records"].sum()
        frames.append(counts)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def event_volumes(workspace: str | Path | Workspace, freq: str = "MS") -> pd.DataFrame:
    """Linked events per agency and month (one column per agency)."""
    ws = _ws(workspace)
    events = ws.require(ws.events / "events.parquet", "features")
    con = duckdb.connect()
    try:
        frame = con.sql(
            f"SELECT date_trunc('month', event_time) AS month, source, count(*) AS events "
            f"FROM read_parquet('{events.as_posix()}') GROUP BY ALL ORDER BY month"
        ).df()
    finally:
        con.close()
    frame["agency"] = frame["source"].map(lambda s: SOURCES[s].agency if s in SOURCES else s)
    table = frame.pivot_table(index="month", columns="agency", values="events", aggfunc="sum", fill_value=0)
    return table.asfreq(freq, fill_value=0) if len(table) else table


def age_band(age: pd.Series) -> pd.Series:
    return pd.cut(age, bins=[*AGE_BANDS, float("inf")], right=False, labels=list(AGE_BAND_LABELS))


def cohort_summary(features: pd.DataFrame) -> pd.DataFrame:
    """Per index date: people in the cohort, labels known, fall admissions and their rate."""
    grouped = features.groupby("index_date")
    summary = pd.DataFrame(
        {
            "people": grouped.size(),
            "labels_known": grouped["label"].count(),
            "fall_admissions": grouped["label"].sum(),
            "died_in_window": grouped["died_in_window"].sum(),
        }
    )
    summary["label_rate"] = summary["fall_admissions"] / summary["labels_known"]
    return summary


def label_rates(features: pd.DataFrame) -> pd.DataFrame:
    """Fall-admission rate within a year by age band and sex (labelled rows only)."""
    from falls_risk.features.registry import get_feature

    known = features[features["label"].notna()].copy()
    sexes = get_feature("sex").categories
    known["age_band"] = age_band(known["age"])
    known["sex"] = known["sex"].map(lambda code: sexes[int(code)] if pd.notna(code) else "unknown")
    rates = (
        known.groupby(["age_band", "sex"], observed=True)["label"]
        .agg(person_dates="count", fall_admissions="sum", rate="mean")
        .reset_index()
    )
    return rates
