"""The model card: the TRIPOD+AI items, each filled from the training record where it can be."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from falls_risk.config import FeatureConfig, horizon_text
from falls_risk.disclosure import NOT_SHOWN, suppress_count
from falls_risk.features import wording
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.record import PartCounts
from falls_risk.reporting.capacity import headline_capacity
from falls_risk.reporting.inputs import ReportSplit, RunRecord, date_text, finite


def _fmt_counts(counts: PartCounts) -> str:
    return ", ".join(f"{k} {suppress_count(v)}" for k, v in asdict(counts).items())


def kind_label(model: FallsRiskModel) -> str:
    variant = model.variant_
    return {
        "lightgbm": "Gradient-boosted trees (LightGBM)",
        "lightgbm_tuned": "Gradient-boosted trees (LightGBM, tuned with Optuna)",
    }.get(variant, variant)


def _heterogeneity(subgroups: list[dict[str, Any]]) -> str:
    scored = [r for r in subgroups if finite(r.get("auroc_value")) and r["auroc"] != NOT_SHOWN]
    if len(scored) < 2:
        return "Too few admissions in the subgroups to compare them." if subgroups else ""
    low = min(scored, key=lambda r: r["auroc_value"])
    high = max(scored, key=lambda r: r["auroc_value"])
    return (
        f"Subgroup AUROC ranges from {low['auroc']} ({low['group'].lower()}: {low['level']}) to {high['auroc']} "
        f"({high['group'].lower()}: {high['level']}) over {len(scored)} groups with enough admissions; "
        "see 'For whom it works'."
    )


def treatment_text(treatment: dict[str, Any] | None) -> str:
    """What training did with person-months that followed a recorded intervention (actions ledger)."""
    if not treatment or not treatment.get("actions_recorded"):
        return "No actions ledger was read: outcomes may include the effect of teams acting on earlier lists."
    done = ("excluded from training" if treatment["policy"] == "exclude" else "kept, as if untreated")
    return (f"Person-months whose outcome followed a recorded intervention: {suppress_count(treatment['treated_rows'])} "
            f"of {suppress_count(treatment['treated_persons'])} people, {done} (treated_person_months: "
            f"{treatment['policy']}).")


def model_card(
    record: RunRecord, split: ReportSplit, *, metrics_rows: list[dict[str, str]], subgroups: list[dict[str, Any]],
    specs: dict[str, Any], capacity: list[dict[str, Any]], missing_share: dict[str, float],
) -> list[dict[str, str]]:
    """The TRIPOD+AI items, each filled from the run record where it can be."""
    model = record.model
    training = model.training_record_
    params = record.params
    features = list(model.feature_names_)
    by_agency: dict[str, int] = {}
    for name in features:
        agency = specs[name].agency if name in specs else "other"
        by_agency[agency] = by_agency.get(agency, 0) + 1
    feature_config = (training.data.feature_config if training else None) or FeatureConfig()
    horizon = feature_config.label_horizon_days
    min_age = feature_config.min_age
    min_match = feature_config.min_match_probability
    # The split as training recorded it; for a model fitted outside `falls-risk train`, as reproduced here.
    split_record = training.split if training else split.record
    sources = training.data.extract_sources if training else ()
    extract_date = training.data.extract_date if training else None
    calibrator = model.calibrator_
    cal_scores = model.calibration_scores_
    booster = model.booster_
    model_params = model.params or {}
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
            f"Extracts: {', '.join(sources)}." if sources else "",
        ]), ""),
        ("5b", "Dates of the data", join([
            f"Training index dates {date_text(split_record.train_index_dates)}.",
            f"Test index dates {date_text(split_record.test_index_dates)}.",
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
            + f" (version {model.registry_version_})"
            + ": " + ", ".join(f"{a} {n}" for a, n in sorted(by_agency.items(), key=lambda kv: -kv[1])) + "."
        ), ""),
        ("10", "Sample size", join([
            f"Person-months: {_fmt_counts(split_record.rows)}.",
            f"People: {_fmt_counts(split_record.persons)}.",
            f"Fall admissions: {_fmt_counts(split_record.events)}.",
            treatment_text(training.treatment if training else None),
        ]), ""),
        ("11", "Missing data", (
            "Missing values are kept as missing (LightGBM learns a direction for them) and each predictor's "
            "meaning of missing is in the data dictionary."
            + (
                " Missing in the test period: " + ", ".join(
                    f"{wording.label(specs[k]) if k in specs else k} {v:.0%}" for k, v in list(missing_share.items())[:5]
                ) + "."
                if missing_share else " No predictor had missing values in the test period."
            )
        ), ""),
        ("12a", "Data partitioning", join([
            (
                "Out-of-time test on the last index dates; before them, people split at random into training "
                "and a calibration slice, so nobody is on both sides."
            ),
            f"Test period {split_record.test_months} months.",
            f"Calibration slice {split_record.calibration_fraction:.0%} of people.",
            f"Gap between training and test: {split_record.gap_days} days.",
        ]), ""),
        ("12c", "Model type and tuning", join([
            f"{kind_label(model)}.",
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


