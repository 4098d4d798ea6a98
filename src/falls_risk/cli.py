"""The ``falls-risk`` command: a thin Typer layer.

Each command parses its options, loads config, and makes one library call. Errors a user can act
on (:class:`FallsRiskError`) print one message and exit 1; ``--debug`` anywhere on the command
line shows the traceback instead. Bad usage exits 2.
"""

from __future__ import annotations

import errno
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text
from typer._click.exceptions import ClickException

from falls_risk.catalog import LINKAGE_MODEL, MODEL_REPORT, MONITOR_JSON, MONITOR_PAGE, REVIEW_DECISIONS
from falls_risk.errors import FallsRiskError
from falls_risk.progress import console

app = typer.Typer(
    name="falls-risk",
    help="Find older people at high risk of a fall-related emergency admission.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder that the pipeline stages fill.")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Pipeline config YAML (linkage, features); defaults apply otherwise."),
]
EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", help="Query engine: duckdb (one machine) or spark; default: the config's (duckdb)."),
]


def _flag(name: str, help: str) -> typer.models.OptionInfo:
    """An on-off option: ``--x`` / ``--no-x``, shown without a value hint (``--x true`` is not a thing)."""
    return typer.Option(f"{name}/--no-{name.removeprefix('--')}", help=help, metavar="")


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}", param_hint=option) from None


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write extract/ and truth/ into.")],
    people: Annotated[int, typer.Option(min=10, help="Number of people in the region.")] = 70_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 1,
    start: Annotated[str, typer.Option(help="First day of the extract (YYYY-MM-DD).")] = "2019-01-01",
    end: Annotated[str, typer.Option(help="Last day of the extract (YYYY-MM-DD).")] = "2025-12-31",
) -> None:
    """Write a synthetic multi-agency world: agency extracts plus the ground truth."""
    from falls_risk.synth import generate_world

    generate_world(
        out, people=people, seed=seed, start=_parse_date(start, "--start"), end=_parse_date(end, "--end")
    )


@app.command()
def ingest(
    extract_dir: Annotated[Path, typer.Argument(help="Folder holding one file per source.")],
    workspace: WorkspaceOpt,
    mapping: Annotated[
        list[Path] | None,
        typer.Option(help="Mapping YAML: per-source renames, date formats, value maps (may be given again)."),
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(help="Date the extract was taken (YYYY-MM-DD); default: latest event date in it."),
    ] = None,
    config: ConfigOpt = None,
    accept_quarantine: Annotated[
        bool,
        _flag(
            "--accept-quarantine",
            "Go on although a source has more rows quarantined than allowed (recorded in the summary).",
        ),
    ] = False,
) -> None:
    """Validate and normalise an extract into the workspace; quarantine bad rows with reasons."""
    from falls_risk.config import load_pipeline_config
    from falls_risk.ingest import run_ingest

    run_ingest(
        extract_dir, workspace, mapping=mapping or None, extract_date=_parse_date(extract_date, "--extract-date"),
        config=load_pipeline_config(config).ingest, accept_quarantine=accept_quarantine,
    )


@app.command()
def inspect(
    extract_dir: Annotated[Path, typer.Argument(help="An agency's extract folder, as it was sent.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write a draft mapping YAML here for a person to finish.")
    ] = None,
) -> None:
    """Profile each file of an extract folder (encoding, delimiter, columns, values, date formats)."""
    from falls_risk.ingest.inspect import inspect_extract

    inspect_extract(extract_dir, out=out)


@app.command()
def features(
    workspace: WorkspaceOpt,
    index_dates: Annotated[
        str,
        typer.Option(
            "--index-dates",
            help="e.g. 2021-01-01:2024-12-01:monthly (or :quarterly), or a list 2023-01-01,2023-06-01.",
        ),
    ],
    config: ConfigOpt = None,
    engine: EngineOpt = None,
) -> None:
    """Build the event table and point-in-time features + labels for each index date."""
    from falls_risk.config import load_pipeline_config
    from falls_risk.features import build_features, parse_index_dates

    dates = parse_index_dates(index_dates)
    pipeline = load_pipeline_config(config, engine)
    build_features(workspace, dates, config=pipeline.features, engine=pipeline.engine, spark_config=pipeline.spark)


@app.command("data-dictionary")
def data_dictionary(
    out: Annotated[Path, typer.Option("--out", help="Where to write the dictionary.")] = Path("data_dictionary.md"),
) -> None:
    """Regenerate data_dictionary.md from the contract and the feature registry."""
    from falls_risk.features.dictionary import write_data_dictionary

    console.print(f"Wrote {write_data_dictionary(out)}")


@app.command()
def score(
    extract: Annotated[Path, typer.Option("--extract", help="Folder holding this month's agency extract.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Score as of this date (YYYY-MM-DD); not in the future.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder, e.g. runs/2026-03; the ledger goes in its parent.")],
    model: Annotated[str, typer.Option("--model", help="MLflow model URI.")] = "models:/falls-risk@champion",
    capacity: Annotated[
        int | None, typer.Option(min=1, help="People the teams can see (the flagged tier's size).")
    ] = None,
    top_percent: Annotated[
        float | None, typer.Option("--top-percent", help="Flag this percentage of the eligible instead.")
    ] = None,
    per_local_authority: Annotated[
        bool, _flag("--per-local-authority", "Apply the capacity in each local authority.")
    ] = False,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML for the extract.")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Date the extract was taken (YYYY-MM-DD); default: latest event date.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI; default MLFLOW_TRACKING_URI or ./mlflow.db.")
    ] = None,
    linkage_model: Annotated[
        Path | None, typer.Option(help="Splink model JSON; default: the one recorded with the model.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="Pseudonymisation key file; default FALLS_RISK_SECRET.")
    ] = None,
    keep_work: Annotated[
        bool, _flag("--keep-work", "Keep the working folder (holds identifiers) after the run; delete it yourself. A folder left by a killed run is removed by the next run.")
    ] = False,
    holdout_percent: Annotated[
        float, typer.Option("--holdout-percent", min=0, max=50, help="Withhold this share of the flagged tier at random (reproducibly) from the practitioners, so `monitor` can estimate the effect of being listed. Off (0) by default: an ethics and information-governance decision (docs/monitoring.md).")
    ] = 0.0,
    config: ConfigOpt = None,
    min_reason_points: Annotated[
        float, typer.Option("--min-reason-points", min=0.0,
                            help="Show only reasons moving risk by at least this many percentage points.")
    ] = 0.5,
    engine: EngineOpt = None,
) -> None:
    """Monthly scoring: a capacity-sized risk list with reasons, changes since last run and alerts."""
    from falls_risk.config import load_pipeline_config
    from falls_risk.scoring import ScoringRequest, TierPolicy, print_result, run_scoring
    from falls_risk.scoring.tiers import OVERALL, PER_LOCAL_AUTHORITY

    request = ScoringRequest(
        extract,
        _parse_date(as_of, "--as-of"),
        out,
        TierPolicy(capacity=capacity, top_percent=top_percent,
                   per=PER_LOCAL_AUTHORITY if per_local_authority else OVERALL),
        model_uri=model,
        mapping=mapping,
        extract_date=_parse_date(extract_date, "--extract-date"),
        tracking_uri=tracking_uri,
        linkage_model=linkage_model,
        key_file=key_file,
        keep_work=keep_work,
        config=load_pipeline_config(config, engine),
        min_reason_points=min_reason_points,
        holdout_percent=holdout_percent,
    )
    print_result(run_scoring(request))


ledger_app = typer.Typer(help="The scoring ledger of a runs folder.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("verify")
def ledger_verify(
    runs_dir: Annotated[Path, typer.Argument(help="The runs folder (the parent of each month's run folder).")],
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="The key file scoring used; default FALLS_RISK_SECRET.")
    ] = None,
) -> None:
    """Check the ledger's keyed hash chain and every month folder against it (exit 1 at the first problem)."""
    from falls_risk.scoring.ledger import verify_runs_dir

    for line in verify_runs_dir(runs_dir, key_file):
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def link(
    workspace: WorkspaceOpt,
    config: ConfigOpt = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help="Pseudonymisation key file (outside the workspace); default FALLS_RISK_SECRET, "
            "then ~/.config/falls-risk/secret.key.",
        ),
    ] = None,
    retrain: Annotated[
        bool, _flag("--retrain", f"Train a new Splink model even if WS/{LINKAGE_MODEL.template} exists.")
    ] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="Use this trained Splink model JSON instead of the workspace's.")
    ] = None,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help=f"Clerical-review decisions CSV; default WS/{REVIEW_DECISIONS.template} if present.",
        ),
    ] = None,
    engine: EngineOpt = None,
) -> None:
    """Link every record to one person of the population spine (NHS number, then Splink) and pseudonymise."""
    from falls_risk.config import load_pipeline_config
    from falls_risk.linkage import load_secret, run_linkage

    secret = load_secret(key_file, workspace=workspace) if key_file is not None else None
    pipeline = load_pipeline_config(config, engine)
    run_linkage(
        workspace,
        config=pipeline.linkage,
        engine=pipeline.engine,
        spark_config=pipeline.spark,
        secret=secret,
        retrain=retrain,
        model_path=model,
        decisions_path=decisions,
    )


@app.command("link-eval")
def link_eval(
    workspace: WorkspaceOpt,
    truth: Annotated[Path, typer.Option("--truth", help="The synthetic world's truth folder (DIR/truth).")],
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="The key file used by `link`; default FALLS_RISK_SECRET.")
    ] = None,
) -> None:
    """Precision, recall and F1 of record-to-person links per source against synthetic ground truth."""
    from falls_risk.linkage import evaluate_linkage, load_secret
    from falls_risk.linkage.evaluate import print_evaluation

    secret = load_secret(key_file, workspace=workspace) if key_file is not None else None
    print_evaluation(evaluate_linkage(workspace, truth, secret=secret))


@app.command()
def train(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML, e.g. experiments/lightgbm_optuna.yaml.")],
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help="Overrides the experiment's data.workspace.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI; default MLFLOW_TRACKING_URI or sqlite:///mlflow.db.")
    ] = None,
) -> None:
    """Train, calibrate, evaluate and register the experiment's models (tracked in MLflow)."""
    from falls_risk.config import load_experiment_config
    from falls_risk.modelling import run_experiment

    run_experiment(load_experiment_config(experiment), workspace=workspace, tracking_uri=tracking_uri)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered version of the falls-risk model.")],
    reason: Annotated[str, typer.Option(help="Why this version is promoted (recorded with who and when).")],
    alias: Annotated[str, typer.Option(help="Alias to point at the version.")] = "champion",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Point an alias (default: champion) at a model version, recording who, when and why."""
    from falls_risk.modelling import promote as promote_version

    record = promote_version(version, alias, reason, tracking_uri=tracking_uri)
    console.print(f"falls-risk@{record['alias']} -> version {record['version']} (was "
                  f"{record['previous_version'] or 'unset'}), by {record['by']} at {record['at']}.")


@app.command()
def compare(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", help="MLflow experiment(s) to include; default all.")
    ] = None,
    csv: Annotated[Path, typer.Option(help="Where to write the leaderboard CSV.")] = Path("leaderboard.csv"),
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
) -> None:
    """Leaderboard of training runs with 95% intervals (Rich table and CSV)."""
    from rich.console import Console

    from falls_risk.modelling.leaderboard import compare_runs

    compare_runs(experiment or None, csv=csv, tracking_uri=tracking_uri, console=Console(width=200))


@app.command()
def report(
    workspace: WorkspaceOpt,
    model: Annotated[str, typer.Option("--model", help="MLflow model URI.")] = "models:/falls-risk@champion",
    out: Annotated[
        Path, typer.Option("--out", help=f"Folder for {MODEL_REPORT.file_name} (and its summary JSON).")
    ] = Path("reports"),
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI; default MLFLOW_TRACKING_URI or ./mlflow.db.")
    ] = None,
    people_per_month: Annotated[
        list[int] | None,
        typer.Option("--people-per-month", min=1, help="Capacity rows: people the team can see a month (repeat)."),
    ] = None,
    explain_rows: Annotated[
        int, typer.Option(min=100, help="Test-period person-months explained for the SHAP figures.")
    ] = 3000,
    ablation: Annotated[
        bool, _flag("--ablation", "Retrain without each agency's features.")
    ] = True,
) -> None:
    """Commissioners' report: what drives risk, what each agency adds, performance, model card."""
    from falls_risk.reporting import build_report

    build_report(
        model, workspace, out, tracking_uri=tracking_uri, people_per_month=people_per_month,
        explain_rows=explain_rows, ablation=ablation,
    )


actions_app = typer.Typer(help="What teams did with the list: import actions files, summarise them.",
                          no_args_is_help=True)
app.add_typer(actions_app, name="actions")
RunsOpt = Annotated[Path, typer.Option("--runs", help="The runs folder (every month's run and the ledger).")]


@actions_app.command("import")
def actions_import(
    file: Annotated[Path, typer.Argument(help="Actions file (CSV, Parquet or Excel): nhs_number, action_date, action.")],
    runs: RunsOpt,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Pseudonymisation key file; default FALLS_RISK_SECRET.")
    ] = None,
) -> None:
    """Validate an actions file, quarantine bad rows with reasons, append the rest to the actions ledger."""
    from falls_risk.actions import import_actions

    for line in import_actions(file, runs, key_file=key_file).lines():
        console.print(line, highlight=False, soft_wrap=True)


@actions_app.command("summary")
def actions_summary(runs: RunsOpt) -> None:
    """Per month and team: people listed, with an action, acted on, and by which action (<5 for 1-4)."""
    from falls_risk.actions.report import print_summary

    print_summary(runs)


@app.command()
def monitor(
    extract: Annotated[Path, typer.Option("--extract", help="The latest agency extract (its outcomes are linked to every run).")],
    runs: RunsOpt,
    out: Annotated[Path, typer.Option("--out", help=f"Folder for {MONITOR_PAGE.file_name} and {MONITOR_JSON.file_name}.")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI of the scored models.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML for the extract.")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Date the extract was taken (YYYY-MM-DD); default: latest event date.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help="Pseudonymisation key file; default FALLS_RISK_SECRET.")
    ] = None,
    linkage_model: Annotated[
        Path | None, typer.Option(help="Splink model JSON; default: the one recorded with the latest run's model.")
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=20, help="Bootstrap resamples for the 95% intervals.")] = 200,
    config: ConfigOpt = None,
) -> None:
    """How the model performs in use: every past run against the latest extract's outcomes."""
    from falls_risk.config import load_pipeline_config
    from falls_risk.monitor import MonitorRequest, print_result, run_monitor

    print_result(run_monitor(MonitorRequest(
        extract, runs, out, tracking_uri=tracking_uri, mapping=mapping,
        extract_date=_parse_date(extract_date, "--extract-date"), key_file=key_file, linkage_model=linkage_model,
        config=load_pipeline_config(config), n_bootstrap=bootstrap,
    )))


# --- falls-risk notify (the notification service; docs/notify.md) ---------------------------------
notify_app = typer.Typer(help="Tell the right team within a day when someone at risk has an event.",
                         no_args_is_help=False)
app.add_typer(notify_app, name="notify")


@notify_app.callback(invoke_without_command=True)
def notify(
    ctx: typer.Context,
    extract: Annotated[
        Path | None, typer.Option("--extract", help="The delivery: the spine plus the new records of any sources.")
    ] = None,
    runs: Annotated[Path | None, typer.Option("--runs", help="The runs folder (monthly runs and the ledger).")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML for the delivery (as for ingest).")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Day the delivery was taken (YYYY-MM-DD); default today.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Notify config YAML: tiers, events, caps, teams' channels.")
    ] = None,
    linkage_model: Annotated[
        Path | None, typer.Option(help="Splink model JSON; default: the one recorded with the latest run's model.")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI; default MLFLOW_TRACKING_URI or ./mlflow.db.")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="Pseudonymisation key file; default FALLS_RISK_SECRET.")
    ] = None,
) -> None:
    """Notify the teams of one delivery: link it, find who is at risk, write the outbox, send."""
    if ctx.invoked_subcommand is not None:
        return
    if extract is None or runs is None:
        raise typer.BadParameter("give --extract DELIVERY_DIR and --runs RUNS_DIR", param_hint="--extract/--runs")
    from falls_risk.notify import NotifyRequest, load_notify_config, run_notify

    run_notify(NotifyRequest(extract, runs, config=load_notify_config(config), mapping=mapping,
                             linkage_model=linkage_model, tracking_uri=tracking_uri, key_file=key_file,
                             extract_date=_parse_date(extract_date, "--extract-date")),
               progress=True)


@notify_app.command("ack")
def notify_ack(
    notification_id: Annotated[str, typer.Argument(help="The notification_id, as in the outbox CSV.")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges it.")],
    runs: RunsOpt = Path("runs"),
    note: Annotated[str | None, typer.Option("--note", help="What was done or decided.")] = None,
) -> None:
    """Record that a team has seen and acted on a notification (it closes; a new event opens another)."""
    from falls_risk.notify.status import acknowledge

    acknowledge(runs, notification_id, by, note)


@notify_app.command("status")
def notify_status(
    runs: RunsOpt = Path("runs"),
    team: Annotated[str | None, typer.Option("--team", help="One local authority's team only.")] = None,
) -> None:
    """Notifications by team and status, the latest ones, and deliveries waiting for a retry."""
    from falls_risk.notify.status import print_status

    print_status(runs, team)


def _print_error(message: str) -> None:
    # A Text, not markup: a message is printed as written (no ":end:" emoji, no "[...]" styles).
    console.print(Text.assemble(("Error: ", "bold red"), message), highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Console entry point. Returns the exit code (0 ok, 1 data/user error, 2 bad usage)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="falls-risk", standalone_mode=False)
    except FallsRiskError as exc:
        if debug:
            raise
        _print_error(str(exc))
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except ClickException as exc:  # typer vendors its own click: bad usage lands here
        exc.show()
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("Interrupted; earlier outputs are intact.")
        return 130
    except OSError as exc:
        if debug or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        _print_error(f"the disk is full{where}. Free some space (or point the output elsewhere) and run the "
                     "command again; earlier outputs are intact.")
        return 1
    except MemoryError:
        if debug:
            raise
        _print_error("out of memory. Close other programs or run on a machine with more memory, then run the "
                     "command again; earlier outputs are intact.")
        return 1
    return 0


def entry_point() -> None:
    sys.exit(main())
