"""``falls-risk actions summary`` as a Rich table (counts of 1-4 shown as <5)."""

from __future__ import annotations

import os

import pandas as pd
from rich.console import Console
from rich.table import Table

from falls_risk.actions.summary import actions_summary
from falls_risk.actions.validate import ACTIONS
from falls_risk.disclosure import suppress_count
from falls_risk.progress import console


def print_summary(runs_dir: str | os.PathLike[str]) -> None:
    summary = actions_summary(runs_dir)
    if summary.empty:
        console.print(f"No scoring runs recorded in {runs_dir}: nothing to summarise.")
        return
    shown = [a for a in ACTIONS if summary[a].sum() > 0]
    table = Table(title=f"Actions on each month's list ({runs_dir})")
    for name in ("month", "team", "listed", "with_action", "acted_on", "not_acted_on", "not_listed", *shown):
        table.add_column(name.replace("_", " "), justify="left" if name in ("month", "team") else "right")
    for row in summary.to_dict(orient="records"):
        cells = [row["month"], row["team"]]
        for name in ("listed", "with_action", "acted_on", "not_acted_on", "not_listed", *shown):
            value = row[name]
            cells.append("" if pd.isna(value) else suppress_count(value))
        table.add_row(*cells)
    Console(width=max(console.width, 160)).print(table)  # wide enough that no month or team name folds
