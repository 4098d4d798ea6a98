"""Views behind the data scientists' notebooks (``notebooks/``), and for QA.

Three groups, one per notebook:

* descriptive views of a linked workspace (cohort, event volumes, link rates, label rates,
  feature coverage): ``notebooks/1.0-explore-linked-data.ipynb``;
* comparisons of tracked training runs read back from MLflow (metrics with their intervals,
  calibration and decision curves from each run's logged test predictions):
  ``notebooks/2.0-train-and-compare-models.ipynb``;
* grouped SHAP importance (by agency, by subgroup): ``notebooks/3.0-feature-importance-for-
  commissioners.ipynb``.

Each function returns a tidy DataFrame (or a matplotlib Figure, for the ``*_figure`` helpers), so
a notebook cell is one library call and a plot. Nothing here sees a direct identifier: it reads the
tables after linkage, the tracked runs and the model's explanations; person keys are dropped
before anything is returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pydantic import ValidationError

from falls_risk.catalog import EVENTS, LINKED
from falls_risk.config import horizon_text
from falls_risk.contract import PERSON_SOURCES, SOURCES
from falls_risk.errors import ConfigError, ModelError, WorkspaceError, parameter_error
from falls_risk.features import wording
from falls_risk.workspace import Workspace, sql_path

AGE_BANDS = (65, 75, 85)
AGE_BAND_LABELS = ("65-74", "75-84", "85+")


def _ws(workspace: str | Path | Workspace) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def _linked_tables(ws: Workspace, columns: list[str]) -> Iterator[tuple[str, pd.DataFrame]]:
    """(source, columns of its linked table) for every person source the workspace holds."""
    for source in PERSON_SOURCES:
        if LINKED.exists(ws, source=source):
            yield source, LINKED.load(ws, source=source, columns=columns)


def link_rates(workspace: str | Path | Workspace) -> pd.DataFrame:
    """Records per source and link method, with the share of the source's records."""
    frames = []
    for source, table in _linked_tables(_ws(workspace), ["link_method"]):
        methods = table["link_method"]
        counts = methods.value_counts().rename_axis("link_method").reset_index(name="records")
        counts.insert(0, "source", source)
        counts["share"] = counts["records"] / counts["records"].sum()
        frames.append(counts)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def event_volumes(workspace: str | Path | Workspace, freq: str = "MS", by: str = "agency") -> pd.DataFrame:
    """Linked events per month (rows) and agency, or contract source with ``by="source"`` (columns)."""
    if by not in ("agency", "source"):
        raise parameter_error("by", "'agency' or 'source'", by)
    ws = _ws(workspace)
    events = EVENTS.require(ws)
    con = duckdb.connect()
    try:
        frame = con.sql(
            f"SELECT date_trunc('month', event_time) AS month, source, count(*) AS events "
            f"FROM read_parquet({sql_path(events)}) GROUP BY ALL ORDER BY month"
        ).df()
    finally:
        con.close()
    frame["agency"] = frame["source"].map(lambda s: SOURCES[s].agency if s in SOURCES else s)
    table = frame.pivot_table(index="month", columns=by, values="events", aggfunc="sum", fill_value=0)
    return table.asfreq(freq, fill_value=0) if len(table) else table


def age_band(age: pd.Series) -> pd.Series:
    return pd.cut(age, bins=[*AGE_BANDS, float("inf")], right=False, labels=list(AGE_BAND_LABELS))


def cohort_summary(features: pd.DataFrame) -> pd.DataFrame:
    """Per index date: people in the cohort, labels known, fall admissions and their rate."""
    grouped = features.groupby(pd.to_datetime(features["index_date"]).rename("index_date"))
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


def label_horizon_days(workspace: str | Path | Workspace) -> int:
    """The label horizon the workspace's feature table was built with (its features manifest)."""
    from falls_risk.features.compute import read_manifest

    return read_manifest(_ws(workspace)).config.label_horizon_days


def label_rates(features: pd.DataFrame) -> pd.DataFrame:
    """Fall-admission rate within the label horizon by age band and sex (labelled rows only)."""
    known = features[features["label"].notna()].copy()
    known["age_band"] = age_band(known["age"])
    known["sex"] = _sex_labels(known["sex"])
    rates = (
        known.groupby(["age_band", "sex"], observed=True)["label"]
        .agg(person_dates="count", fall_admissions="sum", rate="mean")
        .reset_index()
    )
    return rates


def unlinked_reasons(workspace: str | Path | Workspace) -> pd.DataFrame:
    """Records left unlinked, per source and reason (largest first)."""
    ws = _ws(workspace)
    frames = []
    for source, table in _linked_tables(ws, ["link_method", "unlinked_reason"]):
        reasons = table.loc[table["link_method"] == "unlinked", "unlinked_reason"].fillna("not recorded")
        counts = reasons.value_counts().rename_axis("reason").reset_index(name="records")
        counts.insert(0, "source", source)
        counts["share_of_source"] = counts["records"] / max(len(table), 1)
        frames.append(counts)
    if not frames:
        raise WorkspaceError(f"{ws.linked} holds no linked source table. Run `falls-risk link --workspace {ws.root}`.")
    return pd.concat(frames, ignore_index=True).sort_values("records", ascending=False, ignore_index=True)


def _sex_labels(codes: pd.Series) -> pd.Series:
    from falls_risk.features.registry import get_feature

    sexes = get_feature("sex").categories
    return codes.map(lambda code: sexes[int(code)] if pd.notna(code) else "unknown")


def cohort_profile(features: pd.DataFrame) -> pd.DataFrame:
    """People in the cohort per index date by age band (rows: index date; columns: age band x sex)."""
    frame = pd.DataFrame({
        "index_date": pd.to_datetime(features["index_date"]),
        "age_band": age_band(features["age"]),
        "sex": _sex_labels(features["sex"]),
    })
    return frame.pivot_table(index="index_date", columns=["age_band", "sex"], aggfunc="size", fill_value=0,
                             observed=True)


def feature_coverage(features: pd.DataFrame, specs: Sequence[Any] | None = None) -> pd.DataFrame:
    """Per registry feature: its agency, share missing, share non-zero, and the mean among people who
    were / were not admitted for a fall within the year (labelled rows; categorical features: no mean).

    A feature nobody has (non-zero share near 0) or that is missing for most people is worth a look
    before modelling; a large gap between the two means is a first hint of signal.
    """
    if specs is None:
        from falls_risk.features.registry import FEATURES

        specs = FEATURES
    known = features[features["label"].notna()]
    admitted = known["label"] == 1
    rows = []
    for spec in specs:
        if spec.name not in features:
            continue
        values = pd.to_numeric(features[spec.name], errors="coerce")
        numeric = not spec.is_categorical
        labelled = pd.to_numeric(known[spec.name], errors="coerce")
        rows.append({
            "feature": spec.name,
            "agency": spec.agency,
            "description": spec.description,
            "kind": spec.kind,
            "missing_share": float(values.isna().mean()),
            "nonzero_share": float((values.fillna(0) != 0).mean()),
            "mean_admitted": float(labelled[admitted].mean()) if numeric and admitted.any() else np.nan,
            "mean_not_admitted": float(labelled[~admitted].mean()) if numeric and (~admitted).any() else np.nan,
        })
    return pd.DataFrame(rows)


# --- comparing tracked runs (notebook 2) ---------------------------------------------------------------
def experiment_config(
    path: str | Path,
    *,
    workspace: str | Path,
    name: str | None = None,
    n_trials: int | None = None,
    storage: str | Path | None = None,
    bootstrap: int | None = None,
) -> Any:
    """An experiment file (``experiments/*.yaml``) with a notebook's overrides: the workspace, the
    experiment name (which names the Optuna study, so a notebook's study is its own), the trial
    budget, the Optuna storage file and the bootstrap resamples. Validated like the file itself."""
    from falls_risk.config import ExperimentConfig, load_experiment_config

    config = load_experiment_config(path)
    raw = config.model_dump()
    raw["data"]["workspace"] = Path(workspace)
    if name is not None:
        raw["name"] = name
    if n_trials is not None:
        raw["tuning"]["n_trials"] = n_trials
    if storage is not None:
        raw["tuning"]["storage"] = Path(storage)
    if bootstrap is not None:
        raw["evaluation"]["bootstrap"] = bootstrap
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path} with the notebook's overrides: {problems}. Fix the overrides.") from None


HEADLINE_METRICS = ("test_auroc", "test_auprc", "test_brier", "test_calibration_slope")
PREDICTIONS_ARTIFACT = "evaluation/test_predictions.parquet"
DECISION_CURVE_ARTIFACT = "evaluation/decision_curve.csv"


def run_labels(board: pd.DataFrame) -> pd.Series:
    """A readable, unique label per leaderboard row: run name and registered version (or run id)."""
    labels = [
        f"{name} v{version}" if pd.notna(version) and str(version) else f"{name} ({str(run_id)[:8]})"
        for name, version, run_id in zip(board["run_name"], board["version"], board["run_id"], strict=True)
    ]
    return pd.Series(labels, index=board.index, name="run")


def metric_intervals(board: pd.DataFrame, metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """The leaderboard (``falls_risk.tracking.leaderboard`` / ``compare_runs``) as a long table:
    run, metric, value, ci_low, ci_high (95% person-bootstrap intervals logged with each run)."""
    missing = [m for m in metrics if m not in board.columns]
    if missing:
        raise parameter_error("metrics", f"columns of the leaderboard {list(board.columns)}", missing)
    labels = run_labels(board)
    rows = []
    for i, row in board.iterrows():
        for metric in metrics:
            rows.append({
                "run": labels[i],
                "run_id": row["run_id"],
                "metric": metric,
                "value": row[metric],
                "ci_low": row.get(f"{metric}_ci_low", np.nan),
                "ci_high": row.get(f"{metric}_ci_high", np.nan),
            })
    return pd.DataFrame(rows)


def _download(run_id: str, artifact: str, directory: Path) -> Path:
    from falls_risk import tracking

    try:
        return tracking.download_artifact(run_id, artifact, directory)
    except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing artifact
        raise ModelError(
            f"Run {run_id} has no artifact {artifact} ({exc.__class__.__name__}). It was not logged by "
            "`falls_risk.modelling.run_experiment`; leave the run out of the comparison."
        ) from None


def logged_predictions(board: pd.DataFrame) -> pd.DataFrame:
    """Each run's logged out-of-time test predictions (``evaluation/test_predictions.parquet``),
    stacked: run, index_date, label, prob. Person keys are dropped. Call
    ``falls_risk.tracking.configure`` first."""
    import tempfile

    labels = run_labels(board)
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run_id in board["run_id"].items():
            path = _download(str(run_id), PREDICTIONS_ARTIFACT, Path(tmp) / str(run_id))
            frame = pd.read_parquet(path, columns=["index_date", "label", "prob"])
            frame.insert(0, "run", labels[i])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run", "index_date", "label", "prob"])


def logged_decision_curves(board: pd.DataFrame) -> pd.DataFrame:
    """Each run's logged decision curve (net benefit by threshold, with its 95% interval), stacked."""
    import tempfile

    labels = run_labels(board)
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run_id in board["run_id"].items():
            frame = pd.read_csv(_download(str(run_id), DECISION_CURVE_ARTIFACT, Path(tmp) / str(run_id)))
            frame.insert(0, "run", labels[i])
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def calibration_curves(predictions: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Per run, observed share admitted against mean predicted risk in ``n_bins`` equal-count bins
    (scikit-learn's ``calibration_curve``, quantile strategy)."""
    from sklearn.calibration import calibration_curve

    if not isinstance(n_bins, int) or n_bins < 2:
        raise parameter_error("n_bins", "a whole number of at least 2", n_bins)
    rows = []
    for run, group in predictions.groupby("run", sort=False):
        observed, predicted = calibration_curve(group["label"], group["prob"], n_bins=n_bins, strategy="quantile")
        rows.append(pd.DataFrame({"run": run, "bin": range(1, len(observed) + 1), "mean_predicted": predicted,
                                  "observed": observed}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def interval_figure(intervals: pd.DataFrame) -> Any:
    """A forest plot: one panel per metric, each run's value with its 95% interval."""
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(intervals["metric"]))
    runs = list(dict.fromkeys(intervals["run"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.35 * len(runs) + 1.4), sharey=True,
                             squeeze=False)
    positions = {run: i for i, run in enumerate(reversed(runs))}
    for ax, metric in zip(axes[0], metrics, strict=True):
        part = intervals[intervals["metric"] == metric]
        y = part["run"].map(positions).to_numpy()
        value = part["value"].to_numpy(dtype=float)
        low = np.nan_to_num(value - part["ci_low"].to_numpy(dtype=float), nan=0.0)
        high = np.nan_to_num(part["ci_high"].to_numpy(dtype=float) - value, nan=0.0)
        ax.errorbar(value, y, xerr=[low, high], fmt="o", color="#1f6f8b", ecolor="#8a949c", capsize=3)
        ax.set_title(metric.removeprefix("test_").replace("_", " "))
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(list(positions.values()), list(positions.keys()))
    fig.suptitle("Out-of-time test metrics with 95% person-bootstrap intervals")
    fig.tight_layout()
    return fig


def calibration_comparison_figure(curves: pd.DataFrame, *, horizon_days: int) -> Any:
    """Calibration curves of several runs on one set of axes (risks within ``horizon_days``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    top = float(max(curves["mean_predicted"].max(), curves["observed"].max())) * 1.1 if len(curves) else 1.0
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="perfect calibration")
    for run, group in curves.groupby("run", sort=False):
        ax.plot(group["mean_predicted"], group["observed"], "o-", ms=3, label=run)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"mean predicted risk within {horizon_text(horizon_days)} (per decile of predicted risk)")
    ax.set_ylabel("observed share admitted")
    ax.set_title("Calibration, out-of-time test")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def decision_curve_comparison_figure(curves: pd.DataFrame) -> Any:
    """Net benefit of several runs against offering everyone / no one (with each run's interval)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (run, group) in enumerate(curves.groupby("run", sort=False)):
        colour = f"C{i % 10}"
        ax.plot(group["threshold"], group["net_benefit_model"], color=colour, label=run)
        if "net_benefit_model_ci_low" in group:
            ax.fill_between(group["threshold"], group["net_benefit_model_ci_low"], group["net_benefit_model_ci_high"],
                            color=colour, alpha=0.12, lw=0)
    if len(curves):
        first = curves[curves["run"] == curves["run"].iloc[0]]
        ax.plot(first["threshold"], first["net_benefit_treat_all"], color="black", ls=":", label="offer everyone")
        top = float(curves["net_benefit_model"].max())
        ax.set_ylim(min(-0.005, -0.2 * top), max(top * 1.3, 0.005))
    ax.axhline(0, color="grey", lw=1, label="offer no one")
    ax.set_xlabel("risk threshold")
    ax.set_ylabel("net benefit")
    ax.set_title("Decision curves, out-of-time test")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- grouped explanations (notebook 3) ------------------------------------------------------------------
MIN_GROUP_ROWS = 20


def agency_members(explanation: Any) -> dict[str, list[str]]:
    """Agency -> the model's features resting on its data (for ``agency_ablation``)."""
    return explanation.agency_members()


def labelled_importance(explanation: Any, max_features: int | None = None) -> pd.DataFrame:
    """``falls_risk.explain.explanation_summary`` with a readable ``label`` per feature."""
    from falls_risk.explain import explanation_summary

    table = explanation_summary(explanation, max_features=max_features)
    specs = explanation.specs
    table["label"] = [wording.label(specs[name]) if name in specs else name for name in table["feature"]]
    return table


def agency_importance(explanation: Any, ablation: tuple[float | None, dict[str, float]] | None = None) -> pd.DataFrame:
    """Grouped SHAP by agency: per agency, its features, the mean |summed contribution| (log-odds:
    SHAP values add up, so an agency's sum is its share of a person's score) and that share of the
    total. With ``ablation`` (``falls_risk.reporting.summary.agency_ablation``'s result): test AUROC
    retrained without the agency and the drop from the reference."""
    grouped = explanation.agency_contributions().abs().mean().sort_values(ascending=False)
    counts = pd.Series(explanation.agencies()).value_counts()
    table = pd.DataFrame({
        "agency": grouped.index,
        "features": [int(counts[a]) for a in grouped.index],
        "mean_abs_shap": grouped.to_numpy(dtype=float),
    })
    table["share"] = table["mean_abs_shap"] / (table["mean_abs_shap"].sum() or 1.0)
    if ablation is not None:
        reference, without = ablation
        table["auroc_without"] = table["agency"].map(without).astype(float)
        table["auroc_drop"] = (reference - table["auroc_without"]) if reference is not None else np.nan
    return table


def importance_by_group(
    explanation: Any, groups: pd.Series, top: int = 10, min_rows: int = MIN_GROUP_ROWS
) -> pd.DataFrame:
    """Grouped SHAP by subgroup: mean |SHAP| (log-odds) of the ``top`` features overall (rows) within
    each level of ``groups`` (columns; e.g. age band, aligned with the explained rows). Levels with
    fewer than ``min_rows`` explained people are left out (too few to say anything, and small)."""
    if not isinstance(top, int) or top < 1:
        raise parameter_error("top", "a positive whole number", top)
    contributions = explanation.contributions.abs()
    labels = groups.reindex(contributions.index)
    if labels.isna().all():
        raise parameter_error("groups", "a Series indexed like the explained rows", "a Series with no matching index")
    sizes = labels.value_counts()
    keep = [level for level in sizes.index if sizes[level] >= min_rows]
    features = list(explanation.mean_abs().index[:top])
    table = contributions.loc[labels.isin(keep), features].groupby(labels[labels.isin(keep)]).mean().T
    table = table[sorted(table.columns, key=str)]
    table.index.name = "feature"
    table.columns.name = groups.name
    return table


def subgroup_figure(rows: Sequence[dict[str, Any]]) -> Any:
    """Test AUROC per subgroup from ``falls_risk.reporting.summary.subgroup_table`` rows (groups whose
    figures are suppressed, with 1-4 or no admissions, are not drawn)."""
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.get("auroc_value") is not None]
    fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(shown), 1) + 1.2))
    labels = [f"{r['group']}: {r['level']}" for r in shown][::-1]
    values = [r["auroc_value"] for r in shown][::-1]
    ax.barh(range(len(shown)), values, color="#1f6f8b")
    ax.set_yticks(range(len(shown)), labels)
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("AUROC, out-of-time test (0.5 = coin toss)")
    ax.set_title("How well the model ranks people, by subgroup")
    fig.tight_layout()
    return fig
