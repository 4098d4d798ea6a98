"""A month's outputs, written as one unit: staged in the working folder, then renamed into place.

Staged inside the working folder, so a run killed while writing leaves its half-written (named)
risk list where the next run's ``clear_abandoned_work`` removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import (
    ALERT_EVENTS_SEEN,
    ALERTS,
    CHANGES,
    DRIFT,
    EXPLANATIONS,
    RISERS,
    RISK_LIST,
    RISK_LIST_NOTES,
    RUN_FEATURES,
    RUN_SUMMARY,
    SCORES,
    WORKLIST,
    write_private_csv,
)
from falls_risk.scoring.manifest import RunManifest, StageTimer, hash_files, output_hash
from falls_risk.scoring.since_last_run import SinceLastRun
from falls_risk.scoring.summary import render_summary, summary_data
from falls_risk.worklist import page_name
from falls_risk.workspace import atomic_path


@dataclass(frozen=True)
class RunOutputs:
    """Every table a month's run writes (``risk_list`` is the one that names people)."""

    risk_list: pd.DataFrame
    scores: pd.DataFrame
    explanations: pd.DataFrame
    features: pd.DataFrame
    news: SinceLastRun
    drift: pd.DataFrame
    # The label horizon the model predicts over (what "risk" means on the summary page).
    horizon_days: int
    # The risk list's header notes, and team (local authority) -> its worklist page.
    risk_list_notes: str = ""
    worklists: Mapping[str, str] = field(default_factory=dict)
    # The model's drift reference (bins of each feature), for the summary's reference-vs-now charts.
    drift_reference: Mapping[str, Any] | None = None


def write_run_folder(
    out: Path, staging_dir: Path, outputs: RunOutputs, timer: StageTimer, manifest: RunManifest,
    before_commit: Callable[[RunManifest], None] | None = None,
) -> RunManifest:
    """Write ``outputs`` and ``manifest`` (completed with the result files' hashes and the run's
    timings) to ``out`` atomically. Returns the manifest written. ``before_commit(manifest)`` runs
    once everything is staged, just before the folder is put in place (the ledger's write-ahead
    entry); if it raises, nothing is put in place."""
    news = outputs.news
    with atomic_path(out, staging_dir=staging_dir) as staged:
        with timer.stage("outputs"):
            staged.mkdir(mode=0o750)
            write_private_csv(outputs.risk_list, RISK_LIST.path(staged))
            if outputs.risk_list_notes:
                RISK_LIST_NOTES.save(staged, outputs.risk_list_notes)
            for team, page in sorted(outputs.worklists.items()):
                WORKLIST.save(staged, page, team=page_name(team))
            for artefact, frame in (
                (SCORES, outputs.scores),
                (EXPLANATIONS, outputs.explanations),
                (RUN_FEATURES, outputs.features),
                (ALERTS, news.alerts),
                (ALERT_EVENTS_SEEN, news.seen_now),
                (CHANGES, news.changes),
                (RISERS, news.risers),
            ):
                if frame is not None:
                    frame.to_parquet(artefact.path(staged), index=False)
            outputs.drift.to_csv(DRIFT.path(staged), index=False)
        manifest = replace(
            manifest, output_hash=output_hash(staged), timings_seconds=dict(timer.seconds),
            output_files=hash_files(p for p in staged.iterdir() if p.is_file()),
        )
        summary = summary_data(manifest=manifest.to_dict(), scores=outputs.scores, drift=outputs.drift,
                               warnings=manifest.warnings, alerts=news.alerts, changes=news.changes,
                               risers=news.risers, horizon_days=outputs.horizon_days,
                               reference=outputs.drift_reference, features=outputs.features)
        RUN_SUMMARY.path(staged).write_text(render_summary(summary), encoding="utf-8")
        manifest.write_into(staged)
        if before_commit is not None:
            before_commit(manifest)
    return manifest
