"""Collect everything the commissioners' report shows into one plain dict (kedro/skrub style).

``collect_summary(record, split)`` is pure: it takes the training run's record (``RunRecord``:
the model, its registry entry, metrics, params, tags) and the out-of-time split of the feature
table, and returns data only (numbers, text, figures as ``data:`` URIs). A template renders it
(``render.render_report``). Counts go through the one suppression helper (1-4 -> ``<5``); person
keys and other identifiers never enter the dict: the explained rows are re-indexed 0..n-1 and only
features, labels and index dates are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.config import FeatureConfig, horizon_text
from falls_risk.disclosure import NOT_SHOWN, is_small, metric_or_suppressed, suppress_count
from falls_risk.errors import ModelError
from falls_risk.features import wording
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.reporting import plots
from falls_risk.reporting.capacity import capacity_table, headline_capacity
from falls_risk.reporting.inputs import ReportSplit, RunRecord, date_text, finite, out_of_time_metric
from falls_risk.reporting.model_card import kind_label, model_card

DEPENDENCE_PLOTS = 6
IMPORTANCE_ROWS = 15
# Feature groups that are not an agency's data.
NOT_AGENCIES = ("demographics", "linkage")


# -- small helpers ------------------------------------------------------------------------------


_WINDOW_SHORT = {"ever": "ever", "in the last 12 months": "12 months"}


def _short_label(spec: Any, limit: int = 46) -> str:
    """A figure label: the description cut to fit, but always with its window, so that the same
    measure over different windows stays distinguishable."""
    window = wording.window_text(spec)
    text = spec.description
    text = wording.short_text(text, limit)
    if window in ("", "on the index date"):
        return text
    short = _WINDOW_SHORT.get(window, window.removeprefix("in the last ").removeprefix("over the last "))
    return f"{text} ({short})"


def _specs(model: FallsRiskModel) -> dict[str, Any]:
    return {s.name: s for s in model.specs_}


def label_horizon_days(model: FallsRiskModel) -> int:
    """The label horizon of the feature table the model was trained on (the default if unrecorded)."""
    training = model.training_record_
    return training.horizon_days if training else FeatureConfig().label_horizon_days


# -- performance --------------------------------------------------------------------------------


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
        value, low, high = out_of_time_metric(source, key)
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


Z95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score 95% interval of the proportion ``k / n``."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def observed_expected_interval(observed: int, expected: float) -> tuple[float, float]:
    """Exact (Poisson, Garwood) 95% interval of observed / expected, as for a standardised ratio."""
    from scipy.stats import chi2

    if not finite(expected) or expected <= 0:
        return float("nan"), float("nan")
    low = chi2.ppf(0.025, 2 * observed) / 2 if observed > 0 else 0.0
    high = chi2.ppf(0.975, 2 * (observed + 1)) / 2
    return float(low / expected), float(high / expected)


def auroc_interval(auroc: float, positives: int, negatives: int, z: float = Z95) -> tuple[float, float]:
    """Hanley-McNeil 95% interval of an AUROC from its numbers of admitted and not admitted."""
    if not finite(auroc) or positives < 1 or negatives < 1:
        return float("nan"), float("nan")
    a = float(auroc)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives)
    half = z * np.sqrt(max(var, 0.0))
    return max(0.0, a - half), min(1.0, a + half)


def _finite_or_none(value: float) -> float | None:
    return float(value) if finite(value) else None


def _with_interval(value: float, interval: tuple[float, float], fmt: str) -> str:
    """ "0.51 (0.28 to 0.86)"; the value alone when the interval cannot be computed."""
    text = metric_or_suppressed(value, fmt=fmt)
    low, high = interval
    if text == NOT_SHOWN or not (finite(low) and finite(high)):
        return text
    return f"{text} ({fmt.format(low)} to {fmt.format(high)})"


def subgroup_table(
    model: FallsRiskModel, test: pd.DataFrame, probability: np.ndarray, threshold: float | None
) -> list[dict[str, Any]]:
    """Per subgroup (the modelling stage's fairlearn MetricFrame): people, admissions, AUROC,
    observed/expected, and the share of admissions missed at the capacity threshold.

    Counts of 1-4 are suppressed, and so is every metric of a group with 1-4 (or no) admissions
    or with 1-4 people who were not admitted.
    """
    from falls_risk.modelling.fairness import subgroup_columns, subgroup_metrics

    groups = subgroup_columns(test, model.specs_, model.roles_)
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
        auroc_ci = auroc_interval(rec.auroc, e, n - e)
        oe_ci = observed_expected_interval(e, e / rec.observed_expected if rec.observed_expected else float("nan"))
        missed = round(rec.false_negative_rate * e) if finite(rec.false_negative_rate) else None
        fnr_ci = wilson_interval(missed, e) if missed is not None else (float("nan"), float("nan"))
        rows.append(
            {
                "group": _ATTRIBUTE_LABELS.get(rec.attribute, str(rec.attribute)),
                "level": level,
                "people": suppress_count(n),
                "events": suppress_count(e),
                "auroc": NOT_SHOWN if shaky else _with_interval(rec.auroc, auroc_ci, "{:.3f}"),
                "auroc_value": None if shaky or not finite(rec.auroc) else float(rec.auroc),
                "oe": NOT_SHOWN if shaky else _with_interval(rec.observed_expected, oe_ci, "{:.2f}"),
                "oe_low": None if shaky else _finite_or_none(oe_ci[0]),
                "oe_high": None if shaky else _finite_or_none(oe_ci[1]),
                "fnr": NOT_SHOWN if shaky else _with_interval(rec.false_negative_rate, fnr_ci, "{:.0%}"),
            }
        )
    return rows


SUBGROUP_COLUMNS = (
    {"key": "group", "label": "Grouped by", "numeric": False},
    {"key": "level", "label": "Group", "numeric": False},
    {"key": "people", "label": "Person-months", "numeric": True},
    {"key": "events", "label": "Fall admissions", "numeric": True},
    {"key": "auroc", "label": "AUROC (95% interval)", "numeric": True},
    {"key": "oe", "label": "Observed / expected (95% interval)", "numeric": True},
    {"key": "fnr", "label": "Admissions not on the list (95% interval)", "numeric": True},
)


# -- explanations and agencies ------------------------------------------------------------------


def _features_only(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The model's feature columns with a plain 0..n-1 index: no key column survives."""
    return frame.loc[:, list(names)].reset_index(drop=True)


def agency_ablation(
    model: FallsRiskModel, split: ReportSplit, agencies: dict[str, list[str]]
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
            split.train, None, kind=model.kind, params=dict(model.params or {}), specs=model.specs_,
            features=features, roles=model.roles, seed=model.random_state,
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
    if model.booster_ is None:
        raise ModelError(
            f"{record.uri} is a {model.variant_} model: the report explains "
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
    imp["label"] = [wording.label(specs[n]) if n in specs else n for n in imp["feature"]]
    imp["short_label"] = [_short_label(specs[n]) if n in specs else n for n in imp["feature"]]
    short_labels = dict(zip(imp["feature"], imp["short_label"], strict=True))
    imp["colour"] = [plots.agency_colour(a) for a in imp["agency"]]

    # Demographics (age, sex, area) and linkage quality are not an agency's data: left out of the
    # agency view (and its retraining), and said so.
    all_members = explanation.agency_members()
    members = {a: m for a, m in all_members.items() if a not in NOT_AGENCIES}
    contributions = explanation.agency_contributions().abs().mean()
    grouped = contributions.drop([a for a in contributions.index if a in NOT_AGENCIES]).sort_values(ascending=False)
    not_agencies = [
        {"name": a, "features": len(all_members[a]), "mean_abs_shap": float(contributions[a])}
        for a in NOT_AGENCIES if a in all_members
    ]
    reference, without = agency_ablation(model, split, members) if ablation else (None, {})
    if not ablation:
        ablation_note = "Retraining without each agency was skipped for this report (--no-ablation)."
    elif reference is None:
        ablation_note = "Retraining without each agency was not possible: a split lacks one of the outcomes."
    else:
        registered = next(
            (m for m in metrics_table(record.metrics, y, p, horizon_days=horizon) if m["key"] == "auroc"), None
        )
        _, low, high = out_of_time_metric(record.metrics, "auroc")
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
    auroc_value, auroc_low, auroc_high = out_of_time_metric(record.metrics, "auroc")
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
            "label": wording.label(specs[f]) if f in specs else f,
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

    training = model.training_record_
    hash_then = training.data.feature_table_hash if training else None
    hash_now = split.feature_table_hash
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

    trained_on = record.start_time or (training.trained_at if training else None)
    model_kind = kind_label(model)
    return {
        "title": "Falls risk model: what drives risk and how well it works",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "package_version": __version__,
        "model": {
            "name": record.name, "version": record.version, "uri": record.uri, "run_id": record.run_id,
            "kind_label": model_kind, "trained_on": str(trained_on)[:10] if trained_on else None,
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
        "not_agencies": not_agencies,
        "ablation_note": ablation_note,
        "metrics": metric_rows,
        "capacity": capacity,
        "subgroups": subgroups,
        "subgroup_columns": list(SUBGROUP_COLUMNS),
        "subgroup_capacity": f"{middle['people_per_month']:,}",
        "data": {
            "test_period": date_text(test["index_date"].unique()),
            "test_months": months,
            "people_per_month": len(test) / max(months, 1),
            "events_per_month": metric_or_suppressed(y.sum() / max(months, 1), int(y.sum()), fmt="{:.1f}"),
        },
        "model_card": card,
        "figures": figures,
    }
