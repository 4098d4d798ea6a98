"""``falls-risk compare``: a leaderboard of tracked runs with 95% intervals (Rich table + CSV)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from falls_risk import tracking
from falls_risk.modelling.train import leaderboard_frame
from falls_risk.workspace import write_text

COLUMNS = (
    ("test_auroc", "AUROC", 3),
    ("test_auprc", "AUPRC", 3),
    ("test_brier", "Brier", 4),
    ("test_calibration_slope", "Cal. slope", 2),
    ("test_ece", "ECE", 4),
    ("test_ppv_top2pct", "PPV top 2%", 3),
    ("test_sensitivity_top2pct", "Sens. top 2%", 3),
    # In use (falls-risk monitor): the latest month whose outcome window is complete.
    ("realised_auroc", "Realised AUROC", 3),
    ("realised_observed_expected", "Realised O/E", 2),
)


def _cell(row: pd.Series, metric: str, digits: int) -> str:
    value = row.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def compare_runs(
    experiments: list[str] | None = None,
    csv: str | Path | None = "leaderboard.csv",
    tracking_uri: str | None = None,
    console: Console | None = None,
    limit: int = 30,
) -> pd.DataFrame:
    """Print the leaderboard (best out-of-time AUROC first) and write it as CSV; returns it."""
    uri = tracking.configure(tracking_uri, existing=True)
    board = leaderboard_frame(experiments)
    out = console or Console()
    if board.empty:
        out.print(f"No finished training runs in {uri}. Run `falls-risk train experiments/baselines.yaml`.")
        return board
    table = Table(title=f"falls-risk runs ({uri}); out-of-time test, 95% person-bootstrap intervals")
    for header in ("run", "kind", "version", *[c[1] for c in COLUMNS], "started"):
        table.add_column(header, overflow="fold")
    for _, row in board.head(limit).iterrows():
        table.add_row(
            str(row["run_name"]), str(row["model_kind"]), "" if pd.isna(row["version"]) else str(row["version"]),
            *[_cell(row, metric, digits) for metric, _, digits in COLUMNS],
            pd.Timestamp(row["start_time"]).strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    if csv is not None:
        write_text(board.to_csv(index=False), csv)
        out.print(f"Leaderboard written to {csv} ({len(board)} runs).")
    return board
