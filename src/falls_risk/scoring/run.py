"""The monthly scoring run: extract -> ingest -> link -> events -> features -> scores -> outputs.

``run_scoring`` is what ``falls-risk score`` calls. It refuses unsafe runs before doing any work
(future as-of date, a model that does not match the feature registry, a folder that holds another
month, a broken ledger), builds the intermediates in a working folder beside the outputs
(``<root>/.work/<month>``, removed afterwards unless ``keep_work``; one left by a run that was
killed is removed by the next run, as it holds identifiers), writes every output into a
temporary folder that is renamed into place, and only then records the run in the ledger.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from falls_risk.config import FeatureConfig, PipelineConfig
from falls_risk.errors import ScoringError
from falls_risk.progress import console, progress_bar
from falls_risk.scoring import ledger as ledger_mod
from falls_risk.scoring.alerts import LATE_ARRIVAL_LOOKBACK_DAYS, alertable_events, event_alerts
from falls_risk.scoring.changes import biggest_risers, explain_risers, tier_changes
from falls_risk.scoring.drift import drift_table, drift_warnings
from falls_risk.scoring.manifest import (
    StageTimer,
    code_version,
    hash_files,
    output_hash,
    package_versions,
    sha256_file,
)
from falls_risk.scoring.outputs import (
    RISK_LIST_NAME,
    build_risk_list,
    identities,
    reidentify,
    write_private_csv,
)
from falls_risk.scoring.safety import (
    check_as_of,
    check_extract_not_older,
    check_model_compatible,
    check_month_folder,
    check_output_dir,
)
from falls_risk.scoring.score import score_people
from falls_risk.scoring.summary import render_summary, summary_data
from falls_risk.scoring.tiers import HIGH, OVERALL, PER_LOCAL_AUTHORITY, TierPolicy
from falls_risk.workspace import Workspace, atomic_path

DEFAULT_MODEL_URI = "models:/falls-risk@champion"
WORK_FOLDER = ".work"
# The process id of the run using a working folder; gone once the run has finished with it.
WORK_OWNER = "owner.pid"
STAGES = ("checks", "model", "ingest", "linkage", "events", "features", "scoring", "changes", "outputs")


@dataclass
class ScoringResult:
    """What a run produced; ``recorded`` is False when the run repeated an identical ledger entry."""

    out_dir: Path
    month: str
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    ledger_entry: dict[str, Any] | None = None
    recorded: bool = True

    def lines(self) -> list[str]:
        m = self.manifest
        counts = m["row_counts"]
        return [
            (
                f"Scored {counts['eligible']:,} eligible people as of {m['as_of']} with {m['model']['name']} "
                f"v{m['model']['version']}; flagged {counts['flagged']:,} ({m['policy_text']})."
            ),
            (
                f"Changes since {m['previous_run']['month']}: {counts['entered']:,} entered the flagged tier, "
                f"{counts['left']:,} left, {counts['risers']:,} biggest risers listed; "
                if m["previous_run"] and "entered" in counts
                else f"Previous run {m['previous_run']['month']}'s outputs are missing: no changes computed; "
                if m["previous_run"]
                else "First run in this output folder: no changes to compare; "
            )
            + f"{counts['alerts']:,} event alerts since {m['alert_period']['since']}.",
            (
                f"Outputs in {self.out_dir} (risk_list.csv is for practitioners only, mode 600); "
                + ("recorded in the ledger." if self.recorded else "identical to the recorded run; ledger unchanged.")
            ),
        ]


# -- the model and its training context -------------------------------------------------------------


def _load(model_uri: str, tracking_uri: str | None) -> Any:
    from falls_risk import tracking

    tracking.configure(tracking_uri)
    return tracking.load_model(model_uri)


def _feature_config(model: Any, fallback: FeatureConfig) -> FeatureConfig:
    """The FeatureConfig the model was trained with (``training_info_["feature_config"]``)."""
    recorded = (getattr(model, "training_info_", None) or {}).get("feature_config")
    if not recorded:
        return fallback
    try:
        return FeatureConfig.model_validate(recorded)
    except ValueError as exc:
        raise ScoringError(
            f"The feature config recorded with the model is not valid for this code ({exc}); retrain the model."
        ) from None


def _recorded_linkage_model(loaded: Any, work: Path, from_mlflow: bool) -> Path | None:
    """The Splink model logged with the training run (``scoring/linkage/model.json``), or the
    path recorded in ``training_info_`` if it still exists; None when neither is available."""
    if from_mlflow and loaded.run_id:
        from falls_risk import tracking

        try:
            folder = tracking.download_artifact(loaded.run_id, "scoring/linkage", work / "training_linkage")
        except Exception:  # noqa: BLE001 - a run logged without it is handled below
            folder = None
        if folder is not None and (folder / "model.json").exists():
            return folder / "model.json"
    recorded = (getattr(loaded.model, "training_info_", None) or {}).get("linkage_model")
    if isinstance(recorded, str) and Path(recorded).is_file():
        return Path(recorded)
    return None


# -- stage helpers ------------------------------------------------------------------------------------


def _ingest_inputs(ws: Workspace) -> tuple[date, dict[str, str], dict[str, Any]]:
    summary = json.loads(ws.require(ws.ingest_summary, "ingest").read_text(encoding="utf-8"))
    extract_date = date.fromisoformat(str(summary["extract_date"])[:10])
    hashes = {s["file"].split("/")[-1]: s["sha256"] for s in summary["sources"].values()}
    counts = {
        name: {"read": s["read"], "accepted": s["accepted"], "quarantined": s["quarantined"]}
        for name, s in summary["sources"].items()
    }
    return extract_date, hashes, counts


def _previous_outputs(root: Path, previous: dict[str, Any] | None, warnings: list[str]) -> dict[str, pd.DataFrame]:
    if previous is None:
        return {}
    folder = root / previous["output_dir"]
    if not (folder / "scores.parquet").exists():
        warnings.append(
            f"The previous run ({previous['month']}) is in the ledger but {folder} is missing; changes and "
            "risers are not computed."
        )
        return {}
    if output_hash(folder) != previous.get("output_hash"):
        warnings.append(
            f"The outputs in {folder} differ from what the ledger recorded for {previous['month']}; they were "
            "changed after the run. Changes since that run may be wrong."
        )
    out = {"scores": pd.read_parquet(folder / "scores.parquet")}
    if (folder / "features.parquet").exists():
        out["features"] = pd.read_parquet(folder / "features.parquet")
    if (folder / "alert_events_seen.parquet").exists():
        out["alert_events_seen"] = pd.read_parquet(folder / "alert_events_seen.parquet")
    return out


def _read_events(ws: Workspace, since: date, until: date) -> pd.DataFrame:
    path = ws.events / "events.parquet"
    if not path.exists():
        return pd.DataFrame(columns=["person_key", "event_time", "code", "match_probability"])
    table = pq.read_table(
        path,
        columns=["person_key", "event_time", "code", "match_probability"],
        filters=[("event_time", ">=", pd.Timestamp(since)), ("event_time", "<", pd.Timestamp(until))],
    )
    return table.to_pandas()


def _riser_describer(specs: dict[str, Any]) -> Callable[[str, object, object], str]:
    from falls_risk.explain import describe_value

    def describe(feature: str, before: object, now: object) -> str:
        spec = specs.get(feature)
        if spec is None:
            return f"{feature}: {before} → {now}"
        now_text, before_text = describe_value(spec, now), describe_value(spec, before)
        if now_text == before_text:
            # Same value, but in a tree model it can weigh more alongside the person's other changes.
            return f"{now_text} (unchanged, but counts for more alongside the other changes)"
        return f"{now_text} (was: {before_text})"

    return describe


def _explain_rises(model: Any, risers: pd.DataFrame, features: pd.DataFrame, previous_features: pd.DataFrame,
                   warnings: list[str]) -> pd.DataFrame:
    from falls_risk.explain import compute_contributions
    from falls_risk.features.registry import FEATURES

    names = list(model.feature_names_)
    if risers.empty:
        return risers.assign(why=pd.Series(dtype="string"))
    lacking = [f for f in names if f not in previous_features.columns]
    if lacking:
        warnings.append(
            f"The previous run's features lack {len(lacking)} of this model's features; risers are listed "
            "without reasons."
        )
        return risers.assign(why="")
    keys = list(risers["person_key"])
    now = features.set_index("person_key").loc[keys, names]
    before = previous_features.set_index("person_key").loc[keys, names]
    contrib_now, _ = compute_contributions(model, now)
    contrib_before, _ = compute_contributions(model, before)
    on_before = pd.Series(model.predict_proba(before), index=before.index)
    return explain_risers(
        risers, contrib_now, contrib_before, now, before, _riser_describer({s.name: s for s in FEATURES}),
        probability_on_before=on_before,
    )


# -- the run --------------------------------------------------------------------------------------------


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        pass
    return True


def clear_abandoned_work(root: Path) -> list[Path]:
    """Remove working folders whose run died before cleaning up (killed, power cut): they hold
    the month's ingested extracts, names and addresses included. A folder whose run is still
    going, or that was kept on purpose (``keep_work``), stays."""
    removed = []
    for folder in sorted((Path(root) / WORK_FOLDER).glob("*")):
        try:
            owner = int((folder / WORK_OWNER).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if owner != os.getpid() and _running(owner):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def run_scoring(
    extract_dir: str | Path,
    as_of: date,
    out: str | Path,
    *,
    model_uri: str = DEFAULT_MODEL_URI,
    capacity: int | dict[str, int] | None = None,
    top_percent: float | None = None,
    per_local_authority: bool = False,
    mapping: str | Path | None = None,
    extract_date: date | None = None,
    tracking_uri: str | None = None,
    loaded_model: Any | None = None,
    linkage_model: str | Path | None = None,
    key_file: str | Path | None = None,
    config: PipelineConfig | None = None,
    top_n: int = 3,
    n_risers: int = 50,
    keep_work: bool = False,
    today: date | None = None,
    progress: bool = True,
) -> ScoringResult:
    """Score everyone eligible in the extract as of ``as_of``; write ``out`` and record the run.

    ``loaded_model`` (a ``tracking.LoadedModel``) skips the MLflow look-up of ``model_uri``.
    ``linkage_model`` overrides the Splink model logged with the model's training run.
    ``config`` gives the linkage settings (and the feature settings when the model records none).
    """
    from falls_risk.features import build_events, compute_features
    from falls_risk.features.registry import REGISTRY_VERSION, feature_names
    from falls_risk.ingest import run_ingest
    from falls_risk.linkage import run_linkage
    from falls_risk.linkage.secret import load_secret

    out = Path(out).absolute()
    root = out.parent
    timer = StageTimer()
    warnings: list[str] = []
    policy = TierPolicy(capacity=capacity, top_percent=top_percent,
                        per=PER_LOCAL_AUTHORITY if per_local_authority else OVERALL)

    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("Checks", total=len(STAGES))

        def step(name: str) -> None:
            bar.update(task, description=name.capitalize())

        # -- refuse unsafe runs before any work --
        with timer.stage("checks"):
            step("checks")
            check_as_of(as_of, today)
            month = check_output_dir(out, as_of)
            entries = ledger_mod.verify_ledger(root)
            check_month_folder(entries, month, out)
            previous = ledger_mod.previous_run(entries, month)
            secret = load_secret(key_file)
        bar.advance(task)

        with timer.stage("model"):
            step("loading model")
            loaded = loaded_model if loaded_model is not None else _load(model_uri, tracking_uri)
            model = loaded.model
            label = f"{loaded.name or loaded.uri} v{loaded.version}"
            check_model_compatible(
                list(model.feature_names_), getattr(model, "registry_version_", None),
                feature_names(), REGISTRY_VERSION, label,
            )
            pipeline = config or PipelineConfig()
            feature_config = _feature_config(model, pipeline.features)
        bar.advance(task)

        clear_abandoned_work(root)
        work = root / WORK_FOLDER / month
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True, mode=0o700)
        (work / WORK_OWNER).write_text(str(os.getpid()), encoding="utf-8")
        ws = Workspace(work)
        try:
            with timer.stage("ingest"):
                step("ingest")
                run_ingest(extract_dir, ws.root, mapping=mapping, extract_date=extract_date, progress=False)
                extract_day, input_hashes, ingest_counts = _ingest_inputs(ws)
                if mapping is not None:
                    input_hashes[f"mapping:{Path(mapping).name}"] = sha256_file(mapping)
                check_extract_not_older(extract_day, previous)
                if (as_of - extract_day).days > 31:
                    warnings.append(
                        f"The extract is dated {extract_day}, more than a month before --as-of {as_of}; "
                        "recent events are missing from the features."
                    )
            bar.advance(task)

            with timer.stage("linkage"):
                step("linkage")
                model_path = Path(linkage_model) if linkage_model else None
                if model_path is None:
                    model_path = _recorded_linkage_model(loaded, work, from_mlflow=loaded_model is None)
                if model_path is None:
                    warnings.append(
                        "The model records no linkage model, so linkage was trained on this extract; pass "
                        "--linkage-model to reuse the one used in training."
                    )
                linkage = run_linkage(ws.root, config=pipeline.linkage, secret=secret, model_path=model_path,
                                      retrain=model_path is None, progress=False)
                input_hashes["linkage_model.json"] = sha256_file(linkage.model_path)
                linkage_info = {"trained_on_this_extract": bool(linkage.trained), "threshold": linkage.threshold,
                                "spine_people": linkage.spine_people, "sources": linkage.sources}
            bar.advance(task)

            with timer.stage("events"):
                step("events")
                build_events(ws.root, feature_config)
            bar.advance(task)

            with timer.stage("features"):
                step("features")
                features = compute_features(ws.root, [as_of], config=feature_config)
                feature_cols = [c for c in features.columns if c in set(feature_names())]
                features = features[["person_key", *feature_cols]].reset_index(drop=True)
                if features.empty:
                    raise ScoringError(
                        f"No eligible people (65+, alive, registered) in {extract_dir} as of {as_of}; check the "
                        "extract and the --as-of date."
                    )
                spine = pd.read_parquet(ws.linked_table("population"), columns=["person_key", "local_authority"])
                groups = features[["person_key"]].merge(
                    spine.drop_duplicates("person_key"), on="person_key", how="left"
                )["local_authority"]
            bar.advance(task)

            since = date.fromisoformat(previous["as_of"]) if previous else (pd.Timestamp(as_of) - pd.DateOffset(months=1)).date()
            prev_out = _previous_outputs(root, previous, warnings)
            # Late deliveries: look back before the last run, and leave out what it had already seen.
            lookback = timedelta(days=LATE_ARRIVAL_LOOKBACK_DAYS)
            seen_before = prev_out.get("alert_events_seen")
            alerts_from = since - lookback if seen_before is not None else since
            events = _read_events(ws, since - lookback, as_of)
            seen_now = alertable_events(events, since=as_of - lookback, until=as_of,
                                        min_match_probability=feature_config.min_match_probability)
            # Alerts, tier changes and risers, found once on the tiered scores: the people they name
            # are explained too.
            found: dict[str, pd.DataFrame] = {}

            def extra_people(scored: pd.DataFrame) -> set[str]:
                found["alerts"] = event_alerts(events, scored, since=alerts_from, until=as_of, already_seen=seen_before,
                                               min_match_probability=feature_config.min_match_probability)
                keys = set(found["alerts"]["person_key"])
                if "scores" in prev_out:
                    found["changes"] = tier_changes(scored, prev_out["scores"])
                    found["risers"] = biggest_risers(scored, prev_out["scores"], n_risers)
                    left = found["changes"]["change"] == "left"
                    keys |= set(found["risers"]["person_key"]) | set(found["changes"].loc[left, "person_key"])
                return keys

            with timer.stage("scoring"):
                step("scoring and explaining")
                scored = score_people(model, features, policy, groups=groups, also_explain=extra_people, top_n=top_n)
                scores = scored.scores
                reference = getattr(model, "reference_", None) or {}
                if reference:
                    drift = drift_table(reference, features, probability=scores["probability"])
                else:
                    drift = pd.DataFrame(columns=["variable", "psi", "status"])
                    warnings.append("The model carries no drift reference (reference_); drift was not checked.")
                warnings.extend(drift_warnings(drift))
            bar.advance(task)

            with timer.stage("changes"):
                step("changes and alerts")
                alerts, changes, risers = found["alerts"], found.get("changes"), found.get("risers")
                if risers is not None and "features" in prev_out:
                    risers = _explain_rises(model, risers, features, prev_out["features"], warnings)
                def changed(kind: str) -> set[str]:
                    return set(changes.loc[changes["change"] == kind, "person_key"]) if changes is not None else set()

                listed = build_risk_list(scores, alerts=alerts, risers=risers, entrants=changed("entered"),
                                         leavers=changed("left"), by_local_authority=per_local_authority)
                people = identities(ws.ingested_table("population"), secret)
                risk_list = reidentify(listed, people)
            bar.advance(task)

            counts = {
                "linked_people": len(spine),
                "eligible": len(scores),
                "flagged": int((scores["tier"] == HIGH).sum()),
                "explained": int(scores["explained"].sum()),
                "risk_list": len(risk_list),
                "alerts": len(alerts),
            }
            if changes is not None and risers is not None:
                counts |= {"entered": int((changes["change"] == "entered").sum()),
                           "left": int((changes["change"] == "left").sum()),
                           "risers": len(risers)}
            counts |= {f"ingested.{k}": v["accepted"] for k, v in ingest_counts.items()}

            step("writing outputs")
            # Staged inside the working folder: if the run is killed here, the next run's
            # clear_abandoned_work removes the half-written (named) risk list with it.
            with atomic_path(out, staging_dir=work) as staged:
                with timer.stage("outputs"):
                    staged.mkdir(mode=0o750)
                    write_private_csv(risk_list, staged / RISK_LIST_NAME)
                    scores.to_parquet(staged / "scores.parquet", index=False)
                    scored.explanations.to_parquet(staged / "explanations.parquet", index=False)
                    features.to_parquet(staged / "features.parquet", index=False)
                    alerts.to_parquet(staged / "alerts.parquet", index=False)
                    seen_now.drop(columns="alert").to_parquet(staged / "alert_events_seen.parquet", index=False)
                    if changes is not None and risers is not None:
                        changes.to_parquet(staged / "changes.parquet", index=False)
                        risers.to_parquet(staged / "risers.parquet", index=False)
                    drift.to_csv(staged / "drift.csv", index=False)
                    result_hash = output_hash(staged)
                    output_files = hash_files(p for p in staged.iterdir() if p.is_file())
                manifest = {
                    "month": month,
                    "as_of": as_of.isoformat(),
                    "extract_date": extract_day.isoformat(),
                    "extract_dir": str(Path(extract_dir).absolute()),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "model": {"name": loaded.name, "version": loaded.version, "run_id": loaded.run_id,
                              "uri": loaded.uri, "kind": getattr(model, "variant_", None),
                              "registry_version": getattr(model, "registry_version_", None)},
                    "policy": policy.to_dict(),
                    "policy_text": policy.describe(),
                    "alert_period": {"since": since.isoformat(), "until": as_of.isoformat(),
                                     "late_deliveries_from": alerts_from.isoformat()},
                    "previous_run": None if previous is None else {
                        "month": previous["month"], "sequence": previous.get("sequence"),
                        "output_hash": previous.get("output_hash")},
                    "input_hashes": input_hashes,
                    "row_counts": counts,
                    "ingest": ingest_counts,
                    "linkage": linkage_info,
                    "timings_seconds": dict(timer.seconds),
                    "package_versions": package_versions(),
                    "code_version": code_version(),
                    "drift": [
                        {"variable": r.variable, "psi": None if pd.isna(r.psi) else round(float(r.psi), 5),
                         "status": r.status} for r in drift.itertuples(index=False)
                    ],
                    "warnings": warnings,
                    "output_files": output_files,
                    "output_hash": result_hash,
                }
                summary = summary_data(manifest=manifest, scores=scores, drift=drift, warnings=warnings,
                                       alerts=alerts, changes=changes, risers=risers,
                                       horizon_days=feature_config.label_horizon_days)
                (staged / "summary.html").write_text(render_summary(summary), encoding="utf-8")
                (staged / "manifest.json").write_text(
                    json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
            bar.advance(task)
        finally:
            if keep_work:
                (work / WORK_OWNER).unlink(missing_ok=True)  # kept on purpose, not abandoned
            else:
                shutil.rmtree(work, ignore_errors=True)

    entry = {
        "month": month,
        "as_of": as_of.isoformat(),
        "extract_date": extract_day.isoformat(),
        "model": {"name": loaded.name, "version": loaded.version, "run_id": loaded.run_id},
        "model_uri": loaded.uri,
        "input_hashes": input_hashes,
        "output_hash": result_hash,
        "output_dir": out.name,
        "policy": policy.to_dict(),
        "counts": {k: v for k, v in counts.items() if not k.startswith("ingested.")},
        "recorded_at": manifest["created_at"],
        "code_commit": manifest["code_version"].get("commit"),
    }
    current = ledger_mod.runs_for_month(root, month)
    if current and ledger_mod.same_run(current[-1], entry):
        return ScoringResult(out, month, manifest, warnings, current[-1], recorded=False)
    recorded = ledger_mod.append_entry(root, entry)
    return ScoringResult(out, month, manifest, warnings, recorded, recorded=True)


def print_result(result: ScoringResult) -> None:
    for line in result.lines():
        console.print(line, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False, soft_wrap=True)


__all__ = ["DEFAULT_MODEL_URI", "ScoringResult", "print_result", "run_scoring"]
