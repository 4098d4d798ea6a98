"""The whole pipeline on a synthetic world: what `make demo` runs.

synth -> ingest -> link -> features -> baselines + tuned LightGBM -> champion -> commissioners'
report -> two monthly scoring runs (so that changes and alerts show) -> one day's delivery notified
to the teams. Everything is written under
``demo/`` (the synthetic world, the workspace, reports, monthly runs, the demo's secret key) except
the MLflow store and the Optuna study, which live in the project directory so that `mlflow ui`
shows the runs.

Run: ``python -m falls_risk.demo [--people N] [--out DIR] [--trials N]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from falls_risk.catalog import (
    CLERICAL_REVIEW,
    FEATURE_TABLE,
    LEDGER,
    LINKAGE_REPORT,
    MONITOR_PAGE,
    NOTIFY_OUTBOX_DIR,
    QUARANTINE,
    RISK_LIST,
    RUN_SUMMARY,
)
from falls_risk.progress import console

WORLD_START = date(2019, 1, 1)
WORLD_END = date(2025, 12, 31)
# Quarterly index dates whose label windows (the default horizon, 12 months) the world covers,
# then two scoring months.
TRAINING_INDEX_DATES = "2020-01-01:2024-10-01:quarterly"
SCORING_MONTHS = (date(2025, 11, 1), date(2025, 12, 1))
# The day after the second monthly run: its records are delivered and notified.
NOTIFY_DAY = date(2025, 12, 2)
# A month inside the champion's out-of-time test period, scored first, so that the monitor page
# (the demo's last step) has a month whose whole outcome window the extract already holds.
BACKTEST_MONTH = date(2024, 10, 1)
EXPERIMENTS = Path("experiments")


@dataclass
class DemoPaths:
    root: Path
    world: Path = field(init=False)
    workspace: Path = field(init=False)
    reports: Path = field(init=False)
    runs: Path = field(init=False)
    key_file: Path = field(init=False)
    monitor: Path = field(init=False)

    def __post_init__(self) -> None:
        self.world = self.root / "world"
        self.workspace = self.root / "workspace"
        self.reports = self.root / "reports"
        self.runs = self.root / "runs"
        self.key_file = self.root / "secret.key"
        self.monitor = self.root / "monitor"


@dataclass
class DemoResult:
    paths: DemoPaths
    timings: dict[str, float] = field(default_factory=dict)
    champion: Any = None
    report: Path | None = None
    scoring_runs: list[Any] = field(default_factory=list)
    notified: Any = None
    monitor: Any = None


def _timed(result: DemoResult, step: str, action: Callable[[], Any]) -> Any:
    console.rule(f"[bold]{step}")
    started = time.perf_counter()
    value = action()
    result.timings[step] = time.perf_counter() - started
    console.print(f"[green]done[/] {step} in {result.timings[step]:.1f} s")
    return value


def _experiment(name: str, workspace: Path, trials: int | None) -> Any:
    from falls_risk.config import ExperimentConfig, load_yaml_model

    config = load_yaml_model(EXPERIMENTS / f"{name}.yaml", ExperimentConfig)
    update: dict[str, Any] = {"data": config.data.model_copy(update={"workspace": workspace})}
    if trials is not None:
        update["tuning"] = config.tuning.model_copy(update={"n_trials": trials})
    return config.model_copy(update=update)


def run_demo(root: Path = Path("demo"), *, people: int = 20_000, seed: int = 1, trials: int = 12) -> DemoResult:
    from falls_risk.features import build_features, parse_index_dates
    from falls_risk.ingest import run_ingest
    from falls_risk.linkage import create_secret_file, load_secret, run_linkage
    from falls_risk.modelling import promote, run_experiment
    from falls_risk.reporting import build_report
    from falls_risk.scoring import ScoringRequest, TierPolicy, print_result, run_scoring
    from falls_risk.synth import generate_world

    paths = DemoPaths(root)
    result = DemoResult(paths)
    root.mkdir(parents=True, exist_ok=True)
    create_secret_file(paths.key_file)
    secret = load_secret(paths.key_file)

    _timed(
        result,
        f"Synthesise a {people:,}-person world",
        lambda: generate_world(paths.world, people=people, seed=seed, start=WORLD_START, end=WORLD_END),
    )
    _timed(result, "Ingest", lambda: run_ingest(paths.world / "extract", paths.workspace))
    _timed(result, "Link", lambda: run_linkage(paths.workspace, secret=secret))
    index_dates = parse_index_dates(TRAINING_INDEX_DATES)
    _timed(result, "Features", lambda: build_features(paths.workspace, index_dates))
    baselines = _timed(
        result, "Train baselines", lambda: run_experiment(_experiment("baselines", paths.workspace, None))
    )
    tuned = _timed(
        result,
        f"Tune LightGBM ({trials} Optuna trials)",
        lambda: run_experiment(_experiment("lightgbm_optuna", paths.workspace, trials)),
    )
    candidates = [r for r in [*baselines, *tuned] if r.version is not None]
    # The champion must be explainable with SHAP (a tree model); the leaderboard shows the rest.
    trees = [r for r in candidates if r.model.booster_ is not None]
    champion = max(trees, key=lambda r: r.metrics.get("test_auprc", float("-inf")))
    result.champion = champion
    promote(
        str(champion.version),
        "champion",
        f"demo: highest out-of-time AUPRC ({champion.metrics.get('test_auprc', float('nan')):.3f}) of "
        f"{len(trees)} LightGBM candidates",
    )
    result.report = _timed(
        result,
        "Commissioners' report",
        lambda: build_report("models:/falls-risk@champion", paths.workspace, paths.reports),
    )
    for as_of in (BACKTEST_MONTH, *SCORING_MONTHS):
        month = as_of.strftime("%Y-%m")
        run = _timed(
            result,
            f"Monthly scoring {month}",
            lambda as_of=as_of, month=month: run_scoring(ScoringRequest(
                paths.world / "extract", as_of, paths.runs / month, TierPolicy(top_percent=2.0),
                key_file=paths.key_file,
            )),
        )
        print_result(run)
        result.scoring_runs.append(run)
    result.notified = _timed(result, f"Notify the teams of {NOTIFY_DAY}'s delivery", lambda: _notify_day(paths))
    from falls_risk.monitor import MonitorRequest, run_monitor
    from falls_risk.monitor import print_result as print_monitor

    result.monitor = _timed(
        result,
        "Monitor: every run against the latest extract's outcomes",
        lambda: run_monitor(MonitorRequest(paths.world / "extract", paths.runs, paths.monitor, key_file=paths.key_file)),
    )
    print_monitor(result.monitor)
    _print_outputs(result, candidates)
    return result


def _notify_day(paths: DemoPaths) -> Any:
    """One day's delivery (the spine and that day's new records) cut from the world, then notified."""
    from falls_risk.notify import NotifyRequest, run_notify
    from falls_risk.synth.deliveries import cut_delivery

    delivery = paths.root / "deliveries" / NOTIFY_DAY.isoformat()
    cut_delivery(paths.world, delivery, NOTIFY_DAY)
    return run_notify(NotifyRequest(delivery / "extract", paths.runs, key_file=paths.key_file,
                                    extract_date=NOTIFY_DAY), progress=True)


def _print_outputs(result: DemoResult, candidates: list[Any]) -> None:
    paths = result.paths
    board = Table(title="Models (out-of-time test)")
    for column in ("model", "version", "AUROC", "AUPRC", "Brier"):
        board.add_column(column)
    for run in sorted(candidates, key=lambda r: -r.metrics.get("test_auprc", 0.0)):
        m = run.metrics
        board.add_row(
            run.name + (" (champion)" if run is result.champion else ""),
            str(run.version),
            f"{m.get('test_auroc', float('nan')):.3f}",
            f"{m.get('test_auprc', float('nan')):.3f}",
            f"{m.get('test_brier', float('nan')):.4f}",
        )
    console.print(board)

    outputs = Table(title="Where everything is", show_header=False)
    outputs.add_column("what")
    outputs.add_column("where")
    latest = paths.runs / SCORING_MONTHS[-1].strftime("%Y-%m")
    for what, where in (
        ("Synthetic extracts (and ground truth)", paths.world),
        ("Ingest quarantine", QUARANTINE.path(paths.workspace, source="*").parent),
        ("Linkage quality report", LINKAGE_REPORT.path(paths.workspace)),
        ("Clerical review pairs", CLERICAL_REVIEW.path(paths.workspace)),
        ("Feature table", FEATURE_TABLE.path(paths.workspace)),
        ("Commissioners' report", result.report),
        ("Practitioners' risk list (identifiable)", RISK_LIST.path(latest)),
        ("Monthly summary", RUN_SUMMARY.path(latest)),
        ("Run ledger", LEDGER.path(paths.runs)),
        ("Notifications outbox (identifiable)", NOTIFY_OUTBOX_DIR.path(paths.runs)),
        ("Monitor page (how the model performs in use)", MONITOR_PAGE.path(paths.monitor)),
        ("Time taken", f"{sum(result.timings.values()) / 60:.1f} minutes"),
    ):
        outputs.add_row(what, str(where))
    console.print(outputs)
    console.print(
        "Open the MLflow UI with:  [bold].venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db[/]"
        "  then browse http://127.0.0.1:5000"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m falls_risk.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo"), help="folder for the demo's outputs")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=12, help="Optuna trials for the tuned LightGBM")
    args = parser.parse_args(argv)
    run_demo(args.out, people=args.people, seed=args.seed, trials=args.trials)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
