"""Collect everything the commissioners' report shows into one plain dict (kedro/skrub style).

``collect_summary(record, split)`` is pure: it takes the training run's record (``RunRecord``:
the model, its registry entry, metrics, params, tags) and the out-of-time split of the feature
table, and returns data only (numbers, text, figures as ``data:`` URIs). A template renders it
(``render.render_report``). Counts go through the one suppression helper (1-4 -> ``<5``); person
keys and other identifiers never enter the dict: the explained rows are re-indexed 0..n-1 and only
features, labels and index dates are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.config import FeatureConfig, horizon_text
from falls_risk.disclosure import NOT_SHOWN, is_small, metric_or_suppressed, suppress_count
from falls_risk.errors import ModelError
from falls_risk.reporting import plots

DEFAULT_PEOPLE_PER_MONTH = (25, 50, 100, 250, 500, 1000, 2500)
DEPENDENCE_PLOTS = 6
IMPORTANCE_ROWS = 15


@dataclass
class RunRecord:
    """What the report reads from a training run, as plain data (no MLflow objects)."""

    model: Any  # FallsRiskModel
    uri: str
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    start_time: str | None = None


@dataclass
class ReportSplit:
    """The feature table split as the model was trained: train, calibration and test rows."""

    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


# -- small helpers ------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _metric(metrics: dict[str, float], name: str) -> tuple[float | None, float | None, float | None]:
    get = metrics.get
    value, low, high = get(f"test_{name}"), get(f"test_{name}_ci_low"), get(f"test_{name}_ci_high")
    return (
        float(value) if _finite(value) else None,
        float(low) if _finite(low) else None,
        float(high) if _finite(high) else None,
    )


_WINDOW_SHORT = {"ever": "ever", "in the last 12 months": "12 months"}


def _short_label(spec: Any, limit: int = 46) -> str:
    """A figure label: the description cut to fit, but always with its window, so that the same
    measure over different windows stays distinguishable."""
    window = spec.window_text
    text = spec.description
    if len(text) > limit:
        text = text[: limit - 1].rstrip(" ,(") + "…"
    if window in ("", "on the index date"):
        return text
    short = _WINDOW_SHORT.get(window, window.removeprefix("in the last ").removeprefix("over the last "))
    return f"{text} ({short})"


def _specs(model: Any) -> dict[str, Any]:
    specs = getattr(model, "specs_", None)
    if specs:
        return {s.name: s for s in specs}
    from falls_risk.features.registry import FEATURES

    return {s.name: s for s in FEATURES}


def _recorded_feature_config(info: dict[str, Any]) -> dict[str, Any]:
    config = info.get("config") or {}
    return info.get("feature_config") or (config.get("features") if isinstance(config, dict) else None) or {}


def label_horizon_days(model: Any) -> int:
    """The label horizon of the feature table the model was trained on (the default if unrecorded)."""
    recorded = _recorded_feature_config(dict(getattr(model, "training_info_", {}) or {}))
    return int(recorded.get("label_horizon_days", FeatureConfig().label_horizon_days))


def _date_text(values: Sequence[Any]) -> str:
    dates = sorted({pd.Timestamp(v).date() for v in values})
    if not dates:
        return "—"
    if len(dates) == 1:
        return dates[0].isoformat()
    return f"{dates[0].isoformat()} to {dates[-1].isoformat()} ({len(dates)} index dates)"


# -- performance --------------------------------------------------------------------------------


def capacity_table(
    test: pd.DataFrame, probability: np.ndarray, people_per_month: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """For each N: the N highest-risk people at each test index date, and how many were admitted."""
    frame = pd.DataFrame(
        {"index_date": test["index_date"].to_numpy(), "label": test["label"].to_numpy(dtype=int), "p": probability}
    )
    months = frame["index_date"].nunique()
    per_month = len(frame) / max(months, 1)
    total_events = int(frame["label"].sum())
    sizes = [int(n) for n in (people_per_month or DEFAULT_PEOPLE_PER_MONTH) if 0 < int(n) < per_month]
    if not sizes:
        sizes = [max(1, int(per_month // 20))]
    frame = frame.sort_values(["index_date", "p"], ascending=[True, False], kind="stable")
    frame["rank"] = frame.groupby("index_date").cumcount() + 1
    rows = []
    for n in sizes:
        flagged = frame[frame["rank"] <= n]
        admissions = int(flagged["label"].sum())
        rows.append(
            {
                "people_per_month": n,
                "population_share": n / per_month,
                # Suppressed here, not only in the page: the summary is also saved as JSON.
                "admissions": suppress_count(admissions),
                "admissions_per_month": metric_or_suppressed(admissions / max(months, 1), admissions, fmt="{:.1f}"),
                "ppv": metric_or_suppressed(admissions / max(len(flagged), 1), admissions, fmt="{:.1%}"),
                "sensitivity": metric_or_suppressed(
                    admissions / total_events if total_events else float("nan"), admissions, fmt="{:.1%}"
                ),
                "threshold": float(flagged["p"].min()) if len(flagged) else None,
            }
        )
    return rows


def headline_capacity(capacity: list[dict[str, Any]]) -> dict[str, Any]:
    """The capacity row quoted in the headline and the model card: the second smallest list
    (the smallest is often too short to say much)."""
    return capacity[min(1, len(capacity) - 1)]


def _decision_curve(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """The decision curve over thresholds up to a little above the highest risks predicted."""
    from falls_risk.modelling.evaluation import decision_curve

    top = float(np.quantile(p, 0.99)) if len(p) else 0.3
    upper = min(0.5, max(0.05, round(top * 1.2, 2)))
    return decision_curve(y, p, np.round(np.linspace(0.005, upper, 40), 4))


_METRICS = (
    ("auroc", "AUROC (c-statistic)", "{:.3f}", "Chance a person later admitted is ranked above one who is not (0.5 = coin toss)."),
    ("auprc", "Average precision", "{:.3f}", "Precision across all list lengths; compare with the prevalence."),
    ("brier", "Brier score", "{:.4f}", "Mean squared error of the predicted risks (lower is better)."),
    ("calibration_slope", "Calibration slope", "{:.2f}", "1 is ideal; below 1 the risks are too extreme, above 1 too modest."),
    ("calibration_intercept", "Calibration intercept", "{:+.2f}", "0 is ideal; below 0 the risks are too high overall."),
    ("ece", "Expected calibration error", "{:.4f}", "Average gap between predicted and observed risk in tenths of risk."),
    ("observed_expected", "Observed / expected admissions", "{:.2f}", "1 is ideal: admissions seen over admissions predicted."),
    ("prevalence", "Prevalence", "{:.2%}", "Share of person-months followed by a fall admission within {horizon}."),
)


def metrics_table(
    metrics: dict[str, float], y: np.ndarray, p: np.ndarray, *, horizon_days: int
) -> list[dict[str, str]]:
    """Headline metrics with intervals from the run record; point values computed if absent."""
    computed: dict[str, float] = {}
    if not any(f"test_{key}" in metrics for key, *_ in _METRICS) and len(np.unique(y)) == 2:
        from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

        from falls_risk.modelling.evaluation import calibration_fit

        intercept, slope = calibration_fit(y, p)
        computed = {
            "test_auroc": roc_auc_score(y, p),
            "test_auprc": average_precision_score(y, p),
            "test_brier": brier_score_loss(y, p),
            "test_calibration_intercept": intercept,
            "test_calibration_slope": slope,
            "test_observed_expected": float(y.sum() / max(p.sum(), 1e-12)),
            "test_prevalence": float(y.mean()),
        }
    source = {**computed, **metrics}
    rows = []
    for key, label, fmt, meaning in _METRICS:
        value, low, high = _metric(source, key)
        if value is None:
            continue
        ci = f"{fmt.format(low)} to {fmt.format(high)}" if low is not None and high is not None else NOT_SHOWN
        rows.append({"key": key, "label": label, "value": fmt.format(value), "ci": ci,
                     "meaning": meaning.format(horizon=horizon_text(horizon_days))})
    return rows


# -- subgroups ----------------------------------------------------------------------------------


_ATTRIBUTE_LABELS = {
    "sex": "Sex", "age_band": "Age band", "wimd_quintile": "Deprivation quintile", "local_authority": "Local authority",
}
_SEX_WORDS = {"M": "male", "F": "female", "U": "not known"}


def subgroup_table(
    model: Any, test: pd.DataFrame, probability: np.ndarray, threshold: float | None
) -> list[dict[str, Any]]:
    """Per subgroup (the modelling stage's fairlearn MetricFrame): people, admissions, AUROC,
    observed/expected, and the share of admissions missed at the capacity threshold.

    Counts of 1-4 are suppressed, and so is every metric of a group with 1-4 (or no) admissions
    or with 1-4 people who were not admitted.
    """
    from falls_risk.modelling.fairness import subgroup_columns, subgroup_metrics
    from falls_risk.modelling.roles import resolve_roles

    specs = tuple(getattr(model, "specs_", ()) or _specs(model).values())
    roles = getattr(model, "roles_", None) or resolve_roles(specs)
    groups = subgroup_columns(test, specs, roles)
    if groups.empty or threshold is None:
        return []
    y = test["label"].to_numpy(dtype=int)
    table, _ = subgroup_metrics(y, probability, groups, np.asarray(probability) >= threshold)
    rows: list[dict[str, Any]] = []
    for rec in table.itertuples(index=False):
        n, e = rec.rows, rec.events
        shaky = e == 0 or is_small(e) or is_small(n - e)
        level = str(rec.group)
        if rec.attribute == "sex":
            level = _SEX_WORDS.get(level, level)
        rows.append(
            {
                "group": _ATTRIBUTE_LABELS.get(rec.attribute, str(rec.attribute)),
                "level": level,
                "people": suppress_count(n),
                "events": suppress_count(e),
                "auroc": NOT_SHOWN if shaky else metric_or_suppressed(rec.auroc, fmt="{:.3f}"),
                "auroc_value": None if shaky or not _finite(rec.auroc) else float(rec.auroc),
                "oe": NOT_SHOWN if shaky else metric_or_suppressed(rec.observed_expected, fmt="{:.2f}"),
                "fnr": NOT_SHOWN if shaky else metric_or_suppressed(rec.false_negative_rate, fmt="{:.0%}"),
            }
        )
    return rows


SUBGROUP_COLUMNS = (
    {"key": "group", "label": "Grouped by", "numeric": False},
    {"key": "level", "label": "Group", "numeric": False},
    {"key": "people", "label": "Person-months", "numeric": True},
    {"key": "events", "label": "Fall admissions", "numeric": True},
    {"key": "auroc", "label": "AUROC", "numeric": True},
    {"key": "oe", "label": "Observed / expected", "numeric": True},
    {"key": "fnr", "label": "Admissions not on the list", "numeric": True},
)


# -- explanations and agencies ------------------------------------------------------------------


def _features_only(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The model's feature columns with a plain 0..n-1 index: no key column survives."""
    return frame.loc[:, list(names)].reset_index(drop=True)


def agency_ablation(
    model: Any, split: ReportSplit, agencies: dict[str, list[str]]
) -> tuple[float | None, dict[str, float]]:
    """Test AUROC of the model refitted on all its features, and without each agency's features.

    Uses the modelling stage's reusable ``train_model`` with the model's kind, parameters, specs
    and roles, on the same training rows; only the feature list changes. AUROC is read from the
    raw margin, which calibration does not reorder.
    """
    from sklearn.metrics import roc_auc_score

    from falls_risk.modelling.train import train_model

    y_train = split.train["label"].to_numpy(dtype=int)
    y_test = split.test["label"].to_numpy(dtype=int)
    if len(np.unique(y_test)) < 2 or len(np.unique(y_train)) < 2:
        return None, {}
    names = list(model.feature_names_)

    def auroc_with(features: list[str]) -> float:
        refit = train_model(
            split.train, None, kind=getattr(model, "variant_", model.kind), params=dict(model.params or {}),
            specs=getattr(model, "specs_", None), features=features, roles=getattr(model, "roles", None),
            seed=getattr(model, "random_state", 0),
        )
        return float(roc_auc_score(y_test, refit.raw_margin(split.test)))

    reference = auroc_with(names)
    out: dict[str, float] = {}
    for agency, members in agencies.items():
        remaining = [f for f in names if f not in set(members)]
        if remaining:
            out[agency] = auroc_with(remaining)
    return reference, out


# -- model card ---------------------------------------------------------------------------------


def _fmt_counts(info: dict[str, Any], key: str) -> str:
    part = info.get(key) or {}
    return ", ".join(f"{k} {suppress_count(v)}" for k, v in part.items()) if part else ""


def _kind_label(model: Any) -> str:
    variant = str(getattr(model, "variant_", getattr(model, "kind", "model")))
    return {
        "lightgbm": "Gradient-boosted trees (LightGBM)",
        "lightgbm_tuned": "Gradient-boosted trees (LightGBM, tuned with Optuna)",
    }.get(variant, variant)


def _heterogeneity(subgroups: list[dict[str, Any]]) -> str:
    scored = [r for r in subgroups if _finite(r.get("auroc_value")) and r["auroc"] != NOT_SHOWN]
    if len(scored) < 2:
        return "Too few admissions in the subgroups to compare them." if subgroups else ""
    low = min(scored, key=lambda r: r["auroc_value"])
    high = max(scored, key=lambda r: r["auroc_value"])
    return (
        f"Subgroup AUROC ranges from {low['auroc']} ({low['group'].lower()}: {low['level']}) to {high['auroc']} "
        f"({high['group'].lower()}: {high['level']}) over {len(scored)} groups with enough admissions; "
        "see 'For whom it works'."
    )


def model_card(
    record: RunRecord, split: ReportSplit, *, metrics_rows: list[dict[str, str]], subgroups: list[dict[str, Any]],
    specs: dict[str, Any], capacity: list[dict[str, Any]], missing_share: dict[str, float],
) -> list[dict[str, str]]:
    """The TRIPOD+AI items, each filled from the run record where it can be."""
    model = record.model
    info = dict(getattr(model, "training_info_", {}) or {})
    params = record.params
    features = list(model.feature_names_)
    by_agency: dict[str, int] = {}
    for name in features:
        agency = specs[name].agency if name in specs else "other"
        by_agency[agency] = by_agency.get(agency, 0) + 1
    config = info.get("config") or {}
    feature_config = _recorded_feature_config(info)
    horizon = label_horizon_days(model)
    min_age = feature_config.get("min_age", 65)
    min_match = feature_config.get("min_match_probability")
    split_info = {**split.info, **(info.get("split") or {})}
    split_config = dict((config.get("split") if isinstance(config, dict) else None) or {})
    for key in ("test_months", "calibration_fraction"):
        if f"split.{key}" in params:
            split_config[key] = params[f"split.{key}"]
    train_dates = split_info.get("train_index_dates") or info.get("train_index_dates") or []
    test_dates = split_info.get("test_index_dates") or info.get("test_index_dates") or []
    sources = info.get("sources") or info.get("ingest_sources")
    extract_date = info.get("extract_date")
    calibrator = getattr(model, "calibrator_", None)
    cal_scores = getattr(model, "calibration_scores_", {}) or {}
    booster = getattr(model, "booster_", None)
    model_params = getattr(model, "params", None) or {}
    auroc = next((m for m in metrics_rows if m["key"] == "auroc"), None)
    slope = next((m for m in metrics_rows if m["key"] == "calibration_slope"), None)
    subgroup_names = sorted({row["group"] for row in subgroups})
    tuned = {k: v for k, v in params.items() if k.startswith(("tuning.", "best_", "optuna"))}
    flagged = headline_capacity(capacity)

    def join(parts: Sequence[str]) -> str:
        return " ".join(p for p in parts if p)

    items = [
        ("5a", "Data sources", join([
            "Linked records of " + ", ".join(sorted(a for a in by_agency if a not in ("demographics", "linkage"))) + ","
            " with a pseudonymised population spine (demographics).",
            f"Extracts: {', '.join(sources) if isinstance(sources, list | tuple) else sources}." if sources else "",
        ]), ""),
        ("5b", "Dates of the data", join([
            f"Training index dates {_date_text(train_dates)}." if train_dates else "",
            f"Test index dates {_date_text(test_dates)}." if test_dates else "",
            f"Extract taken {extract_date}." if extract_date else "",
        ]), ""),
        ("6a", "Setting", (
            f"Everyone aged {min_age}+ in the region's population spine, scored monthly at index dates, for "
            "falls-prevention teams in health and social care."
        ), ""),
        ("6b", "Eligibility", (
            f"Aged {min_age} or over, alive and registered with a GP on the index date; events count only when "
            "known before the index date (point-in-time rule)."
            + (f" Events linked with match probability below {min_match} are left out." if min_match is not None else "")
        ), ""),
        ("7", "Data preparation", (
            "Each agency extract is validated against the extract contract and bad rows quarantined with a "
            "reason; records are linked to people (NHS number, else Splink probabilistic matching) and "
            "pseudonymised before features are derived from one feature registry."
        ), ""),
        ("8a", "Outcome", (
            f"A fall-related emergency hospital admission within {horizon_text(horizon)} after the index date"
            + ("" if horizon_text(horizon) == f"{horizon} days" else f" ({horizon} days)")
            + " (the index date excluded)."
        ), ""),
        ("9a", "Predictors", (
            f"{len(features)} predictors from the feature registry"
            + (f" (version {model.registry_version_})" if getattr(model, "registry_version_", None) else "")
            + ": " + ", ".join(f"{a} {n}" for a, n in sorted(by_agency.items(), key=lambda kv: -kv[1])) + "."
        ), ""),
        ("10", "Sample size", join([
            f"Person-months: {_fmt_counts(split_info, 'rows')}." if split_info.get("rows") else "",
            f"People: {_fmt_counts(split_info, 'persons')}." if split_info.get("persons") else "",
            f"Fall admissions: {_fmt_counts(split_info, 'events')}." if split_info.get("events") else "",
        ]), ""),
        ("11", "Missing data", (
            "Missing values are kept as missing (LightGBM learns a direction for them) and each predictor's "
            "meaning of missing is in the data dictionary."
            + (
                " Missing in the test period: " + ", ".join(
                    f"{specs[k].label if k in specs else k} {v:.0%}" for k, v in list(missing_share.items())[:5]
                ) + "."
                if missing_share else " No predictor had missing values in the test period."
            )
        ), ""),
        ("12a", "Data partitioning", join([
            (
                "Out-of-time test on the last index dates; before them, people split at random into training "
                "and a calibration slice, so nobody is on both sides."
            ),
            f"Test period {split_config['test_months']} months." if split_config.get("test_months") else "",
            f"Calibration slice {float(split_config['calibration_fraction']):.0%} of people."
            if split_config.get("calibration_fraction") else "",
            f"Gap between training and test: {split_info.get('gap_days')} days."
            if split_info.get("gap_days") is not None else "",
        ]), ""),
        ("12c", "Model type and tuning", join([
            f"{_kind_label(model)}.",
            f"{booster.num_trees()} trees." if booster is not None else "",
            ("Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(model_params.items())) + ".")
            if model_params else "",
            ("Tuning: " + ", ".join(f"{k}={v}" for k, v in sorted(tuned.items())[:8]) + ".") if tuned else "",
        ]), ""),
        ("12e", "Performance measures", (
            "AUROC, average precision, Brier score, calibration intercept and slope, expected calibration error, "
            "net benefit (decision curve) and capacity (hit rate of the top N a month); 95% intervals by "
            "person-level bootstrap."
        ), ""),
        ("12f", "Recalibration", (
            f"Calibrated with {calibrator.method} regression on the held-out calibration slice"
            + (" (cross-fitted Brier: " + ", ".join(f"{k} {v:.4f}" for k, v in cal_scores.items()) + ")" if cal_scores else "")
            + "." if calibrator is not None else "Not calibrated: probabilities are the model's own."
        ), ""),
        ("13", "Class imbalance", (
            "No resampling or re-weighting: the model is trained on the natural prevalence so that its "
            "probabilities are risks."
        ), ""),
        ("14", "Fairness", (
            "Performance reported by " + ", ".join(subgroup_names).lower() + " (see 'For whom it works')."
            if subgroup_names else ""
        ), ""),
        ("15", "Model output", (
            f"A calibrated probability of a fall-related emergency admission within {horizon_text(horizon)}, with each "
            "person's top reasons; teams see the highest-risk people up to their capacity."
        ), ""),
        ("16", "Training versus evaluation", (
            "The test period lies after every training index date: the same population followed later in time."
        ), ""),
        ("17", "Ethical approval", "", "Record the approval body and reference."),
        ("18e", "Code availability", (
            f"Code at git commit {record.tags.get('git_commit')}." if record.tags.get("git_commit") else ""
        ), "Record where the code is available."),
        ("19", "Patient and public involvement", "", "Describe any patient and public involvement."),
        ("21", "Participants and outcome events", (
            f"Test period: {suppress_count(len(split.test))} person-months of "
            f"{suppress_count(split.test['person_key'].nunique() if 'person_key' in split.test else None)} people, "
            f"{suppress_count(int(split.test['label'].sum()))} followed by a fall admission within {horizon_text(horizon)}."
        ), ""),
        ("22", "Model specification", join([
            f"Registered as {record.name} version {record.version}," if record.name else "",
            f"MLflow model {record.uri} (run {record.run_id}); the full model (trees and calibrator) is the logged artifact.",
        ]), ""),
        ("23a", "Model performance", join([
            f"AUROC {auroc['value']} (95% interval {auroc['ci']})." if auroc else "",
            f"Calibration slope {slope['value']} ({slope['ci']})." if slope else "",
            f"At {flagged['people_per_month']} people a month the hit rate is {flagged['ppv']}." if flagged else "",
        ]), ""),
        ("23b", "Heterogeneity", _heterogeneity(subgroups), ""),
        ("24", "Model updating", (
            "Recalibrated on a held-out slice before use; drift in every predictor and the score is checked "
            "against the training reference at each monthly scoring."
        ), ""),
    ]
    return [
        {"number": number, "title": title, "text": text, "missing": missing or "Not in the run record."}
        for number, title, text, missing in items
    ]


# -- the summary --------------------------------------------------------------------------------


def collect_summary(
    record: RunRecord,
    split: ReportSplit,
    *,
    people_per_month: Sequence[int] | None = None,
    explain_rows: int = 3000,
    ablation: bool = True,
    seed: int = 0,
    test_probability: np.ndarray | None = None,
) -> dict[str, Any]:
    """Everything the report shows, as plain data (see the module docstring)."""
    from falls_risk import __version__
    from falls_risk.explain import beeswarm_figure, dependence_figure, explain, explanation_summary

    model = record.model
    if getattr(model, "booster_", None) is None:
        raise ModelError(
            f"{record.uri} is a {getattr(model, 'variant_', type(model).__name__)} model: the report explains "
            "tree models with SHAP. Pass the LightGBM model (e.g. --model models:/falls-risk@champion)."
        )
    names = list(model.feature_names_)
    specs = _specs(model)
    horizon = label_horizon_days(model)
    test = split.test.reset_index(drop=True)
    if test.empty:
        raise ModelError("The test period of the feature table is empty: there is nothing to report on.")
    y = test["label"].to_numpy(dtype=int)
    p = (
        np.asarray(test_probability, dtype=float)
        if test_probability is not None
        else np.asarray(model.predict_proba(_features_only(test, names)), dtype=float)
    )
    warnings: list[str] = []

    # Explanations on a sample of the test period (no identifiers: features only, index 0..n-1).
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(test), size=min(explain_rows, len(test)), replace=False))
    explanation = explain(model, _features_only(test.iloc[pick], names), specs=specs)
    imp = explanation_summary(explanation)
    imp["label"] = [specs[n].label if n in specs else n for n in imp["feature"]]
    imp["short_label"] = [_short_label(specs[n]) if n in specs else n for n in imp["feature"]]
    short_labels = dict(zip(imp["feature"], imp["short_label"], strict=True))
    imp["colour"] = [plots.agency_colour(a) for a in imp["agency"]]

    members = explanation.agency_members()
    grouped = explanation.agency_contributions().abs().mean().sort_values(ascending=False)
    reference, without = agency_ablation(model, split, members) if ablation else (None, {})
    if not ablation:
        ablation_note = "Retraining without each agency was skipped for this report (--no-ablation)."
    elif reference is None:
        ablation_note = "Retraining without each agency was not possible: a split lacks one of the outcomes."
    else:
        registered = next(
            (m for m in metrics_table(record.metrics, y, p, horizon_days=horizon) if m["key"] == "auroc"), None
        )
        _, low, high = _metric(record.metrics, "auroc")
        ablation_note = (
            f"Reference: the same model refitted on all features scores test AUROC {reference:.3f}"
            + (f" (the registered model: {registered['value']})" if registered else "")
            + "."
            + (
                f" Changes smaller than about {(high - low) / 2:.3f} (half the width of the test AUROC's 95% "
                "interval) are within chance."
                if low is not None and high is not None else ""
            )
        )
    agency_rows = []
    total = float(grouped.sum()) or 1.0
    for agency, value in grouped.items():
        auroc_without = without.get(agency)
        agency_rows.append(
            {
                "agency": agency,
                "features": len(members[agency]),
                "mean_abs_shap": float(value),
                "share": float(value) / total,
                "auroc_without": auroc_without,
                "auroc_change": (auroc_without - reference) if auroc_without is not None and reference is not None else None,
                "colour": plots.agency_colour(agency),
            }
        )
    agency_frame = pd.DataFrame(agency_rows)
    agency_frame["auroc_drop"] = [
        (reference - r["auroc_without"]) if r["auroc_without"] is not None and reference is not None else np.nan
        for r in agency_rows
    ]

    metric_rows = metrics_table(record.metrics, y, p, horizon_days=horizon)
    auroc_value, auroc_low, auroc_high = _metric(record.metrics, "auroc")
    capacity = capacity_table(test, p, people_per_month)
    middle = headline_capacity(capacity)
    threshold = middle["threshold"]
    subgroups = subgroup_table(model, test, p, threshold)
    months = int(test["index_date"].nunique())
    prevalence = float(y.mean())

    top_features = list(imp["feature"].head(DEPENDENCE_PLOTS))
    dependence = [
        {
            "feature": f,
            "label": specs[f].label if f in specs else f,
            "uri": plots.to_data_uri(dependence_figure(explanation, f, label=short_labels.get(f))),
        }
        for f in top_features
    ]
    auroc_label = f"model (AUROC {auroc_value:.3f})" if auroc_value is not None else "model"
    figures = {
        "importance": plots.to_data_uri(plots.importance_figure(imp, top=IMPORTANCE_ROWS)),
        "beeswarm": plots.to_data_uri(
            beeswarm_figure(explanation, max_display=IMPORTANCE_ROWS, labels=short_labels)
        ),
        "agencies": plots.to_data_uri(plots.agency_figure(agency_frame)),
        "roc": plots.to_data_uri(plots.roc_figure(y, p, auroc_label)),
        "calibration": plots.to_data_uri(plots.calibration_figure(y, p, horizon_days=horizon)),
        "decision_curve": plots.to_data_uri(plots.decision_curve_figure(_decision_curve(y, p))),
    }

    missing_share = {
        n: float(v) for n, v in test[names].isna().mean().sort_values(ascending=False).items() if v > 0
    }
    card = model_card(
        record, split, metrics_rows=metric_rows, subgroups=subgroups, specs=specs, capacity=capacity,
        missing_share=missing_share,
    )

    info = dict(getattr(model, "training_info_", {}) or {})
    hash_then = info.get("feature_table_hash")
    hash_now = split.info.get("feature_table_hash")
    if hash_then and hash_now and hash_then != hash_now:
        warnings.append(
            "The workspace's feature table differs from the one the model was trained on (hash "
            f"{hash_now} vs {hash_then}): explanations and ablation use this workspace's data."
        )
    if int(y.sum()) < 50:
        warnings.append(
            f"The test period holds {suppress_count(int(y.sum()))} fall admissions: intervals are wide and subgroup "
            "figures unstable."
        )

    ppv_n = middle["people_per_month"]
    headline = (
        f"Among the {ppv_n:,} people a month with the highest predicted risk, {middle['ppv']} had a "
        f"fall-related emergency admission within {horizon_text(horizon)}, against {prevalence:.1%} of everyone "
        "aged 65+."
    )
    if auroc_value is not None:
        headline += (
            f" The model ranks a person who will be admitted above one who will not {auroc_value:.0%} of the "
            f"time (AUROC {auroc_value:.3f}"
            + (f", 95% interval {auroc_low:.3f} to {auroc_high:.3f}" if auroc_low is not None else "")
            + ")."
        )
    cards = []
    for key, label in (("auroc", "AUROC (discrimination)"), ("calibration_slope", "Calibration slope")):
        row = next((m for m in metric_rows if m["key"] == key), None)
        if row:
            cards.append({"label": label, "value": row["value"], "ci": None if row["ci"] == NOT_SHOWN else row["ci"]})
    cards.append({"label": f"Hit rate, top {ppv_n:,} a month", "value": middle["ppv"], "ci": None})
    cards.append({"label": "Person-months tested", "value": suppress_count(len(test)), "ci": None})
    cards.append(
        {"label": "… followed by a fall admission", "value": suppress_count(int(y.sum())), "ci": None}
    )

    trained_on = record.start_time or info.get("trained_at")
    kind_label = _kind_label(model)
    return {
        "title": "Falls risk model: what drives risk and how well it works",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "package_version": __version__,
        "model": {
            "name": record.name, "version": record.version, "uri": record.uri, "run_id": record.run_id,
            "kind_label": kind_label, "trained_on": str(trained_on)[:10] if trained_on else None,
        },
        "headline": headline,
        "horizon": horizon_text(horizon),
        "cards": cards,
        "warnings": warnings,
        "explained": {"rows": len(pick), "backend": explanation.backend,
                      "additivity_gap": explanation.additivity_gap},
        "importance": imp.head(IMPORTANCE_ROWS).to_dict("records"),
        "dependence": dependence,
        "agencies": agency_rows,
        "ablation_note": ablation_note,
        "metrics": metric_rows,
        "capacity": capacity,
        "subgroups": subgroups,
        "subgroup_columns": list(SUBGROUP_COLUMNS),
        "subgroup_capacity": f"{middle['people_per_month']:,}",
        "data": {
            "test_period": _date_text(test["index_date"].unique()),
            "test_months": months,
            "people_per_month": len(test) / max(months, 1),
            "events_per_month": metric_or_suppressed(y.sum() / max(months, 1), int(y.sum()), fmt="{:.1f}"),
        },
        "model_card": card,
        "figures": figures,
    }
