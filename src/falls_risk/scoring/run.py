"""The monthly scoring run: extract -> ingest -> link -> events -> features -> scores -> outputs.

``run_scoring`` is what ``falls-risk score`` calls: a list of stage calls. It refuses unsafe runs
before doing any work (future as-of date, a model that does not match the feature registry, a
folder that holds another month, a broken ledger), builds the month's inputs in a working folder
(``scoring.work``), tiers everyone, finds what is new since the previous run, explains the people
it will name and writes every output as one unit (``scoring.run_folder``), recording the run in the
ledger write-ahead: a pending entry before the folder is renamed into place, completed after it.
The whole run holds the runs folder's lock (``work.run_lock``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from falls_risk import worklist
from falls_risk.catalog import INGESTED, RISK_LIST
from falls_risk.config import horizon_text
from falls_risk.features import wording
from falls_risk.features.registry import REGISTRY_VERSION, feature_names
from falls_risk.linkage.secret import load_secret
from falls_risk.modelling.registered import RegisteredModel, load_registered
from falls_risk.progress import console, progress_bar
from falls_risk.scoring import ledger as ledger_mod
from falls_risk.scoring.drift import drift_table, drift_warnings
from falls_risk.scoring.facts import PersonFacts, person_facts
from falls_risk.scoring.holdout import assign_holdout, check_same_percent, shown
from falls_risk.scoring.ledger import LedgerEntry
from falls_risk.scoring.manifest import AlertPeriod, ModelUsed, PreviousRunRef, RunManifest, StageTimer
from falls_risk.scoring.month import MonthInputs, build_month
from falls_risk.scoring.outputs import build_risk_list, guidance_columns, identities, reidentify
from falls_risk.scoring.previous import PreviousRun
from falls_risk.scoring.request import DEFAULT_MODEL_URI, ScoringRequest
from falls_risk.scoring.risers import explain_rises
from falls_risk.scoring.run_folder import RunOutputs, write_run_folder
from falls_risk.scoring.safety import (
    check_as_of,
    check_key_file,
    check_model_compatible,
    check_month_folder,
    check_output_dir,
)
from falls_risk.scoring.score import ScoredPopulation, explain_people, people_to_explain, tier_population
from falls_risk.scoring.since_last_run import SinceLastRun, find_since_last_run
from falls_risk.scoring.tiers import HIGH, PER_LOCAL_AUTHORITY
from falls_risk.scoring.work import run_lock, working_folder
from falls_risk.workspace import Workspace

# The progress bar's steps.
STEPS = ("Checks", "Loading model", "Ingest, linkage, events, features", "Scoring and explaining",
         "Changes and alerts", "Writing outputs")


@dataclass
class ScoringResult:
    """What a run produced; ``recorded`` is False when the run repeated an identical ledger entry."""

    request: ScoringRequest
    manifest: RunManifest
    warnings: list[str] = field(default_factory=list)
    ledger_entry: dict[str, Any] | None = None
    recorded: bool = True

    @property
    def month(self) -> str:
        return self.manifest.month

    def lines(self) -> list[str]:
        m = self.manifest
        counts = m.row_counts
        previous = m.previous_run
        changes = (
            f"Changes since {previous.month}: {counts['entered']:,} entered the flagged tier, "
            f"{counts['left']:,} left, {counts['risers']:,} biggest risers listed; "
            if previous and "entered" in counts
            else f"Previous run {previous.month}'s outputs are missing: no changes computed; "
            if previous
            else "First run in this output folder: no changes to compare; "
        )
        return [
            (f"Scored {counts['eligible']:,} eligible people as of {m.as_of} with {m.model.name} "
            f"v{m.model.version}; flagged {counts['flagged']:,} ({m.policy_text})."),
            changes + f"{counts['alerts']:,} event alerts since {m.alert_period.since}.",
            f"Outputs in {self.request.out} ({RISK_LIST.file_name} is for practitioners only, mode 600); "
            + ("recorded in the ledger." if self.recorded else "identical to the recorded run; ledger unchanged."),
        ]


def _load_model(request: ScoringRequest) -> RegisteredModel:
    from falls_risk import tracking

    tracking.configure(request.tracking_uri, existing=True)
    return load_registered(request.model_uri)


def _drift(registered: RegisteredModel, month: MonthInputs, scores: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    reference = registered.model.reference_
    if not reference:
        return pd.DataFrame(columns=["variable", "psi", "status"]), [
            "The model carries no drift reference (reference_); drift was not checked."]
    drift = drift_table(reference, month.features, probability=scores["probability"])
    return drift, drift_warnings(drift)


def _explain_news(
    registered: RegisteredModel, month: MonthInputs, news: SinceLastRun, previous: PreviousRun | None
) -> tuple[SinceLastRun, list[str]]:
    if news.risers is None or previous is None or previous.features is None:
        return news, []
    risers, warnings = explain_rises(registered.model, news.risers, month.features, previous.features)
    return news.with_risers(risers), warnings


def _facts(
    month: MonthInputs, ws: Workspace, scores: pd.DataFrame, news: SinceLastRun, request: ScoringRequest
) -> dict[str, PersonFacts]:
    """The facts of everyone this run explains (and so names), from their own records."""
    people = people_to_explain(scores, news.people_to_explain)
    rows = month.features[month.features["person_key"].isin(people)]
    return person_facts(rows, month.events_of(ws, people, request.as_of), as_of=request.as_of,
                        min_match_probability=month.feature_config.min_match_probability)


def _worklists(
    request: ScoringRequest, month_name: str, scored: ScoredPopulation, facts: dict[str, PersonFacts],
    news: SinceLastRun, named: pd.DataFrame, horizon: str,
) -> dict[str, str]:
    """Each team's worklist page (``named``: the risk list with person_key and identities)."""
    contacts = worklist.last_contacts(request.root)
    cards = worklist.build_cards(
        named, reason_items=scored.reason_items, waterfalls=scored.waterfall,
        base_probability=scored.base_probability, facts=facts, alerts=news.alerts, as_of=request.as_of,
        contacts=contacts,
    )
    return worklist.render_worklists(named, cards, month=month_name, as_of=request.as_of, horizon=horizon,
                                     min_points=request.min_reason_points, ledger_available=contacts is not None)


def _counts(month: MonthInputs, scored: ScoredPopulation, news: SinceLastRun, risk_list: pd.DataFrame) -> dict:
    scores = scored.scores
    counts = {
        "linked_people": month.linked_people,
        "eligible": len(scores),
        "flagged": int((scores["tier"] == HIGH).sum()),
        "explained": int(scores["explained"].sum()),
        "risk_list": len(risk_list),
        "alerts": len(news.alerts),
        "held_out": int(scores["holdout"].sum()) if "holdout" in scores.columns else 0,
    }
    if news.changes is not None and news.risers is not None:
        counts |= {"entered": len(news.entrants), "left": len(news.leavers), "risers": len(news.risers)}
    return counts | {f"ingested.{k}": v["accepted"] for k, v in month.extract.counts().items()}


def _manifest(
    request: ScoringRequest, registered: RegisteredModel, month_name: str, month: MonthInputs, news: SinceLastRun,
    previous: PreviousRun | None, counts: dict[str, int], drift: pd.DataFrame, warnings: list[str],
) -> RunManifest:
    """The run's manifest, but for what only writing tells: output hashes and the last timings."""
    model = registered.model
    return RunManifest(
        month=month_name,
        as_of=request.as_of.isoformat(),
        extract_date=month.extract.extract_date.isoformat(),
        extract_dir=str(request.extract_dir.absolute()),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model=ModelUsed(name=registered.name, version=registered.version, run_id=registered.run_id,
                        uri=registered.uri, kind=model.variant_, registry_version=model.registry_version_),
        policy=request.policy.to_dict(),
        policy_text=request.policy.describe(),
        alert_period=AlertPeriod(since=news.since.isoformat(), until=news.until.isoformat(),
                                 late_deliveries_from=news.alerts_from.isoformat()),
        previous_run=None if previous is None else PreviousRunRef(
            month=previous.month, sequence=previous.entry.get("sequence"),
            output_hash=previous.entry.get("output_hash")),
        input_hashes=month.input_hashes,
        row_counts=counts,
        ingest=month.extract.counts(),
        linkage={"trained_on_this_extract": bool(month.linkage.trained), "threshold": month.linkage.threshold,
                 "spine_people": month.linkage.spine_people, "sources": month.linkage.sources,
                 "key_fingerprint": month.linkage.key_fingerprint},
        timings_seconds={},
        drift=[{"variable": r.variable, "psi": None if pd.isna(r.psi) else round(float(r.psi), 5),
                "status": r.status} for r in drift.itertuples(index=False)],
        warnings=warnings,
        output_files={},
        output_hash="",
    )


def _ledger_entry(request: ScoringRequest, manifest: RunManifest) -> LedgerEntry:
    return LedgerEntry(
        month=manifest.month,
        as_of=manifest.as_of,
        extract_date=manifest.extract_date,
        model={"name": manifest.model.name, "version": manifest.model.version, "run_id": manifest.model.run_id},
        model_uri=manifest.model.uri,
        input_hashes=manifest.input_hashes,
        output_hash=manifest.output_hash,
        output_dir=request.out.name,
        policy=manifest.policy,
        counts={k: v for k, v in manifest.row_counts.items() if not k.startswith("ingested.")},
        recorded_at=manifest.created_at,
        code_commit=manifest.code_version.get("commit"),
        extra={"holdout_percent": request.holdout_percent},
    )


def _engine_scoring(request: ScoringRequest) -> tuple[Any, Any]:
    """How to predict and explain on the request's engine: here (DuckDB runs), or per partition
    on Spark (``scoring.on_spark``)."""
    if request.config.engine != "spark":
        return None, "auto"
    from falls_risk.engines.session import spark_session
    from falls_risk.scoring.on_spark import SparkContributions, predict_on_spark

    spark = spark_session(request.config.spark)
    return (lambda model, features: predict_on_spark(spark, model, features)), SparkContributions(spark)


def run_scoring(
    request: ScoringRequest, *, model: RegisteredModel | None = None, progress: bool = True
) -> ScoringResult:
    """Score everyone eligible in the request's extract as of its date; write its run folder and
    record the run. ``model`` skips the MLflow look-up of ``request.model_uri``."""
    timer = StageTimer()
    root = request.root
    with contextlib.ExitStack() as stack, progress_bar(disable=not progress) as bar:
        task = bar.add_task(STEPS[0], total=len(STEPS))

        def done(step: int) -> None:
            bar.update(task, completed=step, description=STEPS[min(step, len(STEPS) - 1)])

        with timer.stage("checks"):
            check_as_of(request.as_of, request.today)
            month_name = check_output_dir(request.out, request.as_of)
            check_key_file(request.key_file, root)
            secret = load_secret(request.key_file)
            stack.enter_context(run_lock(root, month_name))
            entries = ledger_mod.verify_runs(root, secret)
            if ledger_mod.resolve_pending(root, secret):
                entries = ledger_mod.verify_runs(root, secret)
            check_month_folder(entries, month_name, request.out)
            check_same_percent([e for e in ledger_mod.completed(entries) if e.get("month") == month_name],
                               request.holdout_percent, month_name)
            previous_entry = ledger_mod.previous_run(entries, month_name)
        done(1)
        with timer.stage("model"):
            registered = model if model is not None else _load_model(request)
            check_model_compatible(list(registered.model.feature_names_), registered.model.registry_version_,
                                   feature_names(), REGISTRY_VERSION, registered.label)
        done(2)

        with working_folder(root, month_name, keep=request.keep_work) as ws:
            month = build_month(request, registered, ws, secret, timer, previous_entry)
            done(3)
            previous = None if previous_entry is None else PreviousRun.read(root, previous_entry)
            warnings = list(month.warnings) + (list(previous.warnings) if previous else [])

            with timer.stage("scoring"):
                predict, backend = _engine_scoring(request)
                scores = tier_population(registered.model, month.features, request.policy,
                                         groups=month.local_authority, predict=predict)
                news = find_since_last_run(
                    scores, previous, lambda since, until: month.events(ws, since, until), as_of=request.as_of,
                    min_match_probability=month.feature_config.min_match_probability, n_risers=request.n_risers,
                )
                facts = _facts(month, ws, scores, news, request)
                scored = explain_people(registered.model, month.features, scores, request.policy,
                                        news.people_to_explain, top_n=request.top_n,
                                        min_points=request.min_reason_points, facts=facts, as_of=request.as_of,
                                        backend=backend)
                scored = replace(scored, scores=assign_holdout(scored.scores, secret, month_name,
                                                               request.holdout_percent))
                drift, drift_notes = _drift(registered, month, scored.scores)
                warnings += drift_notes
            done(4)

            with timer.stage("changes"):
                news, riser_notes = _explain_news(registered, month, news, previous)
                warnings += riser_notes
                listed = build_risk_list(shown(scored.scores), alerts=news.alerts, risers=news.risers,
                                         entrants=news.entrants, leavers=news.leavers,
                                         by_local_authority=request.policy.per == PER_LOCAL_AUTHORITY,
                                         previous_scores=None if previous is None else previous.scores,
                                         facts=facts)
                people = identities(INGESTED.path(ws, source="population"), secret)
                risk_list = reidentify(listed, people)
                worklists = _worklists(request, month_name, scored, facts, news, listed.merge(people, on="person_key"),
                                       horizon_text(month.feature_config.label_horizon_days))
            done(5)

            counts = _counts(month, scored, news, risk_list)
            explanations = scored.explanations.assign(
                **guidance_columns(scored.explanations["person_key"], facts)[["suggested_actions", "case_finding"]])
            outputs = RunOutputs(risk_list=risk_list, scores=scored.scores, explanations=explanations,
                                 features=month.features, news=news, drift=drift,
                                 horizon_days=month.feature_config.label_horizon_days,
                                 risk_list_notes=wording.risk_list_notes(
                                     horizon=horizon_text(month.feature_config.label_horizon_days),
                                     min_points=request.min_reason_points),
                                 worklists=worklists, drift_reference=registered.model.reference_ or None)
            current = [e for e in ledger_mod.completed(entries) if e.get("month") == month_name]
            pending: dict[str, Any] = {}

            def record_ahead(written: RunManifest) -> None:
                # Write-ahead: the run is in the ledger before its folder is in place.
                entry = _ledger_entry(request, written).to_dict()
                if not (current and ledger_mod.same_run(current[-1], entry)):
                    pending["run"] = ledger_mod.append_pending(root, secret, _ledger_entry(request, written))

            manifest = write_run_folder(
                request.out, ws.root, outputs, timer,
                _manifest(request, registered, month_name, month, news, previous, counts, drift, warnings),
                before_commit=record_ahead,
            )
            done(6)

        if "run" not in pending:
            return ScoringResult(request, manifest, warnings, current[-1], recorded=False)
        return ScoringResult(request, manifest, warnings, ledger_mod.complete(root, secret, pending["run"]),
                             recorded=True)


def print_result(result: ScoringResult) -> None:
    for line in result.lines():
        console.print(line, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False, soft_wrap=True)


__all__ = ["DEFAULT_MODEL_URI", "ScoringRequest", "ScoringResult", "print_result", "run_scoring"]
