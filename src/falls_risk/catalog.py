"""Every artefact one stage writes and a later one reads, named once (kedro's DataCatalog).

An artefact knows where it lives (a path template under its root: a workspace, a monthly run
folder, the runs folder or a report folder), which module writes it, which modules read it, which
command makes it, and whether it holds direct identifiers. It has one typed load and one save:
Parquet tables load as pandas (or Arrow) and save atomically; JSON records load as plain data for
the record types that own them (``IngestSummary.read``, ``LinkageSummary.read`` ...); text and
CSV files likewise. No other module spells an artefact's file name: ``docs/architecture.md``'s
table of artefacts is generated from :data:`ARTEFACTS` (``artefact_table``), and a test checks
that the two agree.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from falls_risk.errors import WorkspaceError
from falls_risk.spreadsheet import neutralise_frame
from falls_risk.workspace import Workspace, atomic_path, write_json, write_parquet, write_text

Base = Workspace | str | os.PathLike[str]
R = TypeVar("R")


class Root(StrEnum):
    """What an artefact's path is relative to."""

    WORKSPACE = "WS"  # one workspace (falls-risk ingest / link / features)
    RUN = "RUN"  # one monthly scoring run folder, e.g. runs/2026-03
    RUNS = "RUNS"  # the folder holding every monthly run (the ledger lives here)
    REPORT = "REPORT"  # the commissioners' report folder (falls-risk report --out)
    TRUTH = "TRUTH"  # a synthetic world's ground truth (falls-risk synth --out DIR: DIR/truth)
    MONITOR = "MONITOR"  # the monitoring folder (falls-risk monitor --out)
    OUTBOX = "OUTBOX"  # the notification outbox (default RUNS/notifications/outbox; notify's outbox_dir)


def _base_path(base: Base) -> Path:
    return base.root if isinstance(base, Workspace) else Path(base)


@dataclass(frozen=True)
class Artefact:
    """One named artefact. ``template`` may hold ``{source}``-style fields, filled by ``parts``."""

    key: str
    template: str
    root: Root
    writer: str
    readers: tuple[str, ...]
    command: str
    description: str
    identifiable: bool = False
    # Modules that only name the artefact's path to a person (a message, help text, the demo's list).
    mentioned_by: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    @property
    def file_name(self) -> str:
        """The last path component of the template (what a user sees in a folder listing)."""
        return self.template.rsplit("/", 1)[-1]

    def path(self, base: Base, **parts: object) -> Path:
        missing = [f for f in self.fields if f not in parts]
        if missing:
            raise TypeError(f"artefact {self.key!r} needs {missing} to name its path")
        return _base_path(base) / self.template.format(**{k: str(v) for k, v in parts.items()})

    def exists(self, base: Base, **parts: object) -> bool:
        return self.path(base, **parts).exists()

    def require(self, base: Base, **parts: object) -> Path:
        """The path, or an error that names the command producing it."""
        path = self.path(base, **parts)
        if not path.exists():
            where = f" --workspace {_base_path(base)}" if self.root is Root.WORKSPACE else ""
            raise WorkspaceError(f"{path} does not exist. Run `falls-risk {self.command}{where}` first.")
        return path


@dataclass(frozen=True)
class ParquetArtefact(Artefact):
    def load(
        self, base: Base, *, columns: list[str] | None = None, filters: Any = None, **parts: object
    ) -> pd.DataFrame:
        return self.load_arrow(base, columns=columns, filters=filters, **parts).to_pandas()

    def load_arrow(
        self, base: Base, *, columns: list[str] | None = None, filters: Any = None, **parts: object
    ) -> pa.Table:
        return pq.read_table(self.require(base, **parts), columns=columns, filters=filters)

    def columns(self, base: Base, **parts: object) -> list[str]:
        return list(pq.read_schema(self.require(base, **parts)).names)

    def save(self, base: Base, table: pa.Table | pd.DataFrame, **parts: object) -> Path:
        return write_parquet(table, self.path(base, **parts))


@dataclass(frozen=True)
class JsonArtefact(Artefact):
    def load(self, base: Base, **parts: object) -> Any:
        path = self.require(base, **parts)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise WorkspaceError(
                f"{path}: not valid JSON ({exc}). Re-run `falls-risk {self.command}` to write it again."
            ) from None

    def save(self, base: Base, data: Any, **parts: object) -> Path:
        return write_json(data, self.path(base, **parts))

    def load_record(self, base: Base, parse: Callable[[Any], R], **parts: object) -> R:
        """``parse(data)`` of the JSON, or an error that says to make it again with this version."""
        data = self.load(base, **parts)
        try:
            return parse(data)
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise WorkspaceError(
                f"{self.path(base, **parts)}: not a {self.key.replace('_', ' ')} this version of falls-risk can "
                f"read ({str(exc).splitlines()[0]}). Re-run `falls-risk {self.command}` to write it again."
            ) from None


@dataclass(frozen=True)
class TextArtefact(Artefact):
    def load(self, base: Base, **parts: object) -> str:
        return self.require(base, **parts).read_text(encoding="utf-8")

    def save(self, base: Base, text: str, **parts: object) -> Path:
        return write_text(text, self.path(base, **parts))


@dataclass(frozen=True)
class PrivateCsvArtefact(Artefact):
    """A CSV that names people: written readable by its owner only (mode 0600 from creation)."""

    def load(self, base: Base, **parts: object) -> pd.DataFrame:
        return pd.read_csv(self.require(base, **parts), dtype=str, keep_default_na=False)

    def save(self, base: Base, frame: pd.DataFrame, **parts: object) -> Path:
        target = self.path(base, **parts)
        with atomic_path(target) as staged:
            write_private_csv(frame, staged)
        return target


@dataclass(frozen=True)
class PrivateTextArtefact(Artefact):
    """A page that names people: written readable by its owner only (0600), its folder 0700."""

    def load(self, base: Base, **parts: object) -> str:
        return self.require(base, **parts).read_text(encoding="utf-8")

    def save(self, base: Base, text: str, **parts: object) -> Path:
        target = self.path(base, **parts)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(target, 0o600)
        return target


@dataclass(frozen=True)
class FolderArtefact(Artefact):
    """A folder written as one unit (staged, then renamed into place)."""


def write_private_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV readable by the owner only (mode 0600 from creation), every text cell
    a spreadsheet would run as a formula neutralised (:mod:`falls_risk.spreadsheet`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        # CRLF rows (RFC 4180): a value holding a lone carriage return is then quoted, not split.
        neutralise_frame(frame).to_csv(handle, index=False, lineterminator="\r\n")
    os.chmod(path, 0o600)
    return path


_INGEST = "falls_risk.ingest.run"
_LINK = "falls_risk.linkage.pipeline"
_EVENTS = "falls_risk.events.build"
_FEATURES = "falls_risk.features.compute"
_SCORING = "falls_risk.scoring.run"

# -- the workspace ---------------------------------------------------------------------------------
INGESTED = ParquetArtefact(
    "ingested", "ingested/{source}.parquet", Root.WORKSPACE, _INGEST, ("falls_risk.linkage.pipeline", "falls_risk.scoring.run", "falls_risk.notify.run"),
    "ingest", "Accepted rows of one source, normalised to the contract (plus row_number).", identifiable=True,
    mentioned_by=("falls_risk.ingest.summary",),
)
QUARANTINE = ParquetArtefact(
    "quarantine", "quarantine/{source}.parquet", Root.WORKSPACE, _INGEST, (),
    "ingest", "Rejected rows of one source: raw values as text, row_number and reasons.", identifiable=True,
    mentioned_by=("falls_risk.ingest.summary", "falls_risk.demo"),
)
INGEST_SUMMARY = JsonArtefact(
    "ingest_summary", "ingest_summary.json", Root.WORKSPACE, "falls_risk.ingest.summary", ("falls_risk.features.compute", "falls_risk.modelling.record"),
    "ingest", "IngestSummary: extract date, per-source file hash and read/accepted/quarantined counts.",
    mentioned_by=("falls_risk.ingest.run",),
)
LINKAGE_MODEL = JsonArtefact(
    "linkage_model", "linkage/model.json", Root.WORKSPACE, _LINK, ("falls_risk.modelling.record", "falls_risk.scoring.month", "falls_risk.monitor.outcomes", "falls_risk.notify.latest"),
    "link", "The trained Splink model (settings with m and u), reused by later runs.",
    mentioned_by=("falls_risk.cli",),
)
REVIEW_DECISIONS = PrivateCsvArtefact(
    "review_decisions", "linkage/review_decisions.csv", Root.WORKSPACE, "people (clerical reviewers)", ("falls_risk.linkage.pipeline",),
    "link", "Clerical-review decisions (confirmed / rejected) that override the model.",
    mentioned_by=("falls_risk.cli",),
)
LINKAGE_SUMMARY = JsonArtefact(
    "linkage_summary", "linkage/summary.json", Root.WORKSPACE, "falls_risk.linkage.summary", ("falls_risk.linkage.pipeline", "falls_risk.modelling.record"),
    "link", "LinkageSummary: threshold, spine size, links per source and method, timings.",
)
LINKED = ParquetArtefact(
    "linked", "linked/{source}.parquet", Root.WORKSPACE, _LINK, ("falls_risk.events.build", "falls_risk.features.compute", "falls_risk.linkage.evaluate", "falls_risk.exploration", "falls_risk.notify.candidates"),
    "link", "Pseudonymised records of one person source: person_key, match_probability, link_method.",
)
POPULATION = ParquetArtefact(
    "population", "linked/population.parquet", Root.WORKSPACE, _LINK, ("falls_risk.events.build", "falls_risk.features.compute", "falls_risk.linkage.evaluate", "falls_risk.scoring.month", "falls_risk.notify.candidates"),
    "link", "The pseudonymised spine: person_key, sex, birth_month, area, registration, household_key.",
)
LINKAGE_REPORT = TextArtefact(
    "linkage_report", "reports/linkage.html", Root.WORKSPACE, "falls_risk.linkage.report", ("people (linkage analysts)",),
    "link", "Linkage quality report (counts, rates, the model's parameters); no record values.",
    mentioned_by=("falls_risk.linkage.pipeline", "falls_risk.demo"),
)
CLERICAL_REVIEW = PrivateCsvArtefact(
    "clerical_review", "reports/clerical_review.csv", Root.WORKSPACE, _LINK, ("people (clerical reviewers)",),
    "link", "Borderline record-person pairs side by side, for a person to confirm or reject.", identifiable=True,
    mentioned_by=("falls_risk.linkage.review", "falls_risk.demo"),
)
EVENTS = ParquetArtefact(
    "events", "events/events.parquet", Root.WORKSPACE, _EVENTS, ("falls_risk.features.compute", "falls_risk.scoring.month", "falls_risk.exploration"),
    "features", "One long event table (MEDS-like): person_key, event_time, source, code, value, end_time, known_time.",
)
FEATURE_TABLE = FolderArtefact(
    "feature_table", "features", Root.WORKSPACE, _FEATURES, ("falls_risk.reporting.report",),
    "features", "The feature table: one Parquet partition per index date, and its manifest.",
    mentioned_by=("falls_risk.modelling.train", "falls_risk.demo"),
)
FEATURE_PARTITION = ParquetArtefact(
    "feature_partition", "features/index_date={day}/part-0.parquet", Root.WORKSPACE, _FEATURES, ("falls_risk.features.compute (load_feature_table)",),
    "features", "One index date's rows: person_key, index_date, every registry feature, label, died_in_window.",
)
FEATURES_MANIFEST = JsonArtefact(
    "features_manifest", "features/manifest.json", Root.WORKSPACE, "falls_risk.features.manifest", ("falls_risk.modelling.record", "falls_risk.modelling.train"),
    "features", "FeaturesManifest: registry version, index dates, feature config, counts per index date.",
)

# -- monthly scoring ------------------------------------------------------------------------------
LEDGER = TextArtefact(
    "ledger", "ledger.jsonl", Root.RUNS, "falls_risk.scoring.ledger", ("falls_risk.scoring.ledger",),
    "score", "Append-only record of every scoring run: keyed (HMAC) hash chain, write-ahead pending and completed lines.",
    mentioned_by=("falls_risk.demo",),
)
SCORING_WORK = FolderArtefact(
    "scoring_work", ".work/{month}", Root.RUNS, "falls_risk.scoring.work", ("falls_risk.scoring.work",),
    "score", "A run's working workspace (ingested extract with identifiers); removed after the run.",
    identifiable=True,
)
RISK_LIST = PrivateCsvArtefact(
    "risk_list", "risk_list.csv", Root.RUN, "falls_risk.scoring.run_folder", ("practitioners",),
    "score", "The practitioners' list: flagged tier, alerts, risers, leavers, named, with reasons.",
    identifiable=True,
    mentioned_by=("falls_risk.scoring.run", "falls_risk.demo"),
)
RISK_LIST_NOTES = TextArtefact(
    "risk_list_notes", "risk_list_notes.txt", Root.RUN, "falls_risk.scoring.run_folder", ("practitioners",),
    "score", "The risk list's header notes: what each column means, what a point is, where the guidance comes from.",
)
WORKLIST = PrivateTextArtefact(
    "worklist", "worklist/{team}.html", Root.RUN, "falls_risk.scoring.run_folder", ("practitioners",),
    "score", "One offline page per team (local authority): a card per listed person with charts, reasons, actions.",
    identifiable=True,
)
SCORES = ParquetArtefact(
    "scores", "scores.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("falls_risk.scoring.previous", "falls_risk.actions.summary", "falls_risk.notify.latest"),
    "score", "Everyone eligible: person_key, probability, rank, tier, reasons (pseudonymised).",
)
EXPLANATIONS = ParquetArtefact(
    "explanations", "explanations.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts)", "falls_risk.notify.latest"),
    "score", "Everyone explained: SHAP contributions per feature, raw margin, reasons (pseudonymised).",
)
RUN_FEATURES = ParquetArtefact(
    "run_features", "features.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("falls_risk.scoring.previous", "falls_risk.notify.latest"),
    "score", "The features scored this month (the next run explains risers from them).",
)
ALERTS = ParquetArtefact(
    "alerts", "alerts.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts)",),
    "score", "Alerting events new to this run, with the person's current risk (pseudonymised).",
)
ALERT_EVENTS_SEEN = ParquetArtefact(
    "alert_events_seen", "alert_events_seen.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("falls_risk.scoring.previous",),
    "score", "Every alertable event of this run's look-back window, so the next run alerts only on new ones.",
)
CHANGES = ParquetArtefact(
    "changes", "changes.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts)",),
    "score", "Who entered or left the flagged tier since the previous run.",
)
RISERS = ParquetArtefact(
    "risers", "risers.parquet", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts)",),
    "score", "The biggest risers since the previous run, with why (feature and model change points).",
)
DRIFT = TextArtefact(
    "drift", "drift.csv", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts)",),
    "score", "Population stability index of every feature and of the score against the model's reference.",
)
RUN_SUMMARY = TextArtefact(
    "run_summary", "summary.html", Root.RUN, "falls_risk.scoring.run_folder", ("people (analysts, commissioners)",),
    "score", "Counts, distribution, drift and alerts for the month; no identifiers, small counts as <5.",
    mentioned_by=("falls_risk.scoring.drift", "falls_risk.demo"),
)
RUN_MANIFEST = JsonArtefact(
    "run_manifest", "manifest.json", Root.RUN, "falls_risk.scoring.manifest", ("falls_risk.scoring.safety", "falls_risk.scoring.ledger"),
    "score", "RunManifest: inputs and their hashes, model, policy, counts, timings, versions, output hash.",
)

# -- what teams did, and how the model does as outcomes mature -------------------------------------
ACTIONS_LEDGER = TextArtefact(
    "actions_ledger", "actions_ledger.jsonl", Root.RUNS, "falls_risk.actions.ledger", ("falls_risk.actions.ledger", "falls_risk.actions.summary"),
    "actions import", "Append-only, hash-chained imports of what teams did (pseudonymised; no notes).",
)
ACTIONS_QUARANTINE = PrivateCsvArtefact(
    "actions_quarantine", "actions_quarantine/{sequence}.csv", Root.RUNS, "falls_risk.actions.importer",
    ("people (the team that fixes and re-sends the rows)",),
    "actions import", "An actions import's rejected rows: raw values, row_number and reasons.", identifiable=True,
)

MONITOR_JSON = JsonArtefact(
    "monitor_json", "monitor.json", Root.MONITOR, "falls_risk.monitor.page", ("people (analysts, audit)", "tests"),
    "monitor", "Every scored month against its outcomes: counts, AUROC, calibration, subgroups, by action.",
    mentioned_by=("falls_risk.cli",),
)
MONITOR_PAGE = TextArtefact(
    "monitor_page", "monitor.html", Root.MONITOR, "falls_risk.monitor.page", ("people (analysts, commissioners)",),
    "monitor", "How the model performs in use, month by month, with intervals; no identifiers, small counts <5.",
    mentioned_by=("falls_risk.cli", "falls_risk.demo"),
)

# -- the notification service (falls-risk notify) ------------------------------------------------
NOTIFY_STATE = Artefact(
    "notify_state", "notifications/state.sqlite", Root.RUNS, "falls_risk.notify.state", ("falls_risk.notify.state",),
    "notify", "SQLite: deliveries, events, notifications, delivery attempts, acknowledgements (pseudonymised).",
)
NOTIFY_OUTBOX_DIR = FolderArtefact(
    "notify_outbox_dir", "notifications/outbox", Root.RUNS, "falls_risk.notify.run", ("falls_risk.notify.run",),
    "notify", "The default outbox folder: one folder per local-authority team.", identifiable=True,
    mentioned_by=("falls_risk.demo",),
)
NOTIFY_OUTBOX = PrivateCsvArtefact(
    "notify_outbox", "{local_authority}/{batch}.csv", Root.OUTBOX, "falls_risk.notify.channels",
    ("people (local-authority teams)", "falls_risk.notify.channels"),
    "notify", "One batch of a team's notifications, named: who, the event(s), risk, tier, reasons.",
    identifiable=True,
)

# -- the commissioners' report --------------------------------------------------------------------
MODEL_REPORT = TextArtefact(
    "model_report", "model_report.html", Root.REPORT, "falls_risk.reporting.report", ("commissioners",),
    "report", "The commissioners' report: what drives risk, what each agency adds, performance, model card.",
    mentioned_by=("falls_risk.cli",),
)
MODEL_REPORT_SUMMARY = JsonArtefact(
    "model_report_summary", "model_report_summary.json", Root.REPORT, "falls_risk.reporting.report",
    ("people (audit)", "tests"),
    "report", "The report's numbers and texts without its figures, for audit.",
)

# -- a synthetic world's ground truth (never read by the pipeline, only by evaluation and tests) ----
_SYNTH = "falls_risk.synth.world"
TRUTH_RECORD_PERSON = ParquetArtefact(
    "truth_record_person", "record_person.parquet", Root.TRUTH, _SYNTH, ("falls_risk.linkage.evaluate", "falls_risk.synth.deliveries", "bench"),
    "synth", "Each extract row's true person: source, row_number, record_id, nhs_number (and who they are).",
    identifiable=True,
)
TRUTH_PEOPLE = ParquetArtefact(
    "truth_people", "people.parquet", Root.TRUTH, _SYNTH, ("tests",),
    "synth", "Every simulated person (spine or not) with their true attributes and condition dates.",
    identifiable=True,
)
TRUTH_FALL_ADMISSIONS = ParquetArtefact(
    "truth_fall_admissions", "fall_admissions.parquet", Root.TRUTH, _SYNTH, ("tests",),
    "synth", "Every true fall admission: nhs_number, spell_id, admission_date, hip_fracture, in_spine.",
    identifiable=True,
)
TRUTH_MONTHLY_HAZARD = ParquetArtefact(
    "truth_monthly_hazard", "monthly_hazard.parquet", Root.TRUTH, _SYNTH, ("bench", "tests"),
    "synth", "Each spine person's true monthly probability of a fall admission.", identifiable=True,
)

ARTEFACTS: tuple[Artefact, ...] = (
    INGESTED, QUARANTINE, INGEST_SUMMARY,
    LINKAGE_MODEL, REVIEW_DECISIONS, LINKAGE_SUMMARY, LINKED, POPULATION, LINKAGE_REPORT, CLERICAL_REVIEW,
    EVENTS, FEATURE_TABLE, FEATURE_PARTITION, FEATURES_MANIFEST,
    LEDGER, SCORING_WORK, RISK_LIST, RISK_LIST_NOTES, WORKLIST, SCORES, EXPLANATIONS, RUN_FEATURES, ALERTS, ALERT_EVENTS_SEEN, CHANGES,
    RISERS, DRIFT, RUN_SUMMARY, RUN_MANIFEST,
    ACTIONS_LEDGER, ACTIONS_QUARANTINE, MONITOR_JSON, MONITOR_PAGE,
    MODEL_REPORT, MODEL_REPORT_SUMMARY,
    NOTIFY_STATE, NOTIFY_OUTBOX_DIR, NOTIFY_OUTBOX,
    TRUTH_RECORD_PERSON, TRUTH_PEOPLE, TRUTH_FALL_ADMISSIONS, TRUTH_MONTHLY_HAZARD,
)

# The result files of a run: their contents are what the run decided (the manifest and summary
# also hold timings, so they differ between identical re-runs).
RUN_RESULTS: tuple[Artefact, ...] = (RISK_LIST, SCORES, EXPLANATIONS, RUN_FEATURES)


def by_key(key: str) -> Artefact:
    for artefact in ARTEFACTS:
        if artefact.key == key:
            return artefact
    raise KeyError(f"no artefact {key!r}; known: {', '.join(a.key for a in ARTEFACTS)}")


def partitions(base: Base) -> Iterator[Path]:
    """The feature table's partition folders, oldest index date first."""
    yield from sorted(FEATURE_TABLE.path(base).glob("index_date=*"))


def artefact_table() -> str:
    """The Markdown table of every artefact: path, who writes it, who reads it (docs/architecture.md)."""
    lines = [
        "| artefact | path | written by | read by | identifiers |",
        "|---|---|---|---|---|",
    ]
    for a in ARTEFACTS:
        readers = ", ".join(f"`{r}`" if r.startswith("falls_risk") else r for r in a.readers) or "-"
        writer = f"`{a.writer}`" if a.writer.startswith("falls_risk") else a.writer
        lines.append(
            f"| `{a.key}` | `{a.root.value}/{a.template}` | {writer} | {readers} | "
            f"{'yes (mode 0600 or 0700)' if a.identifiable else 'no'} |"
        )
    return "\n".join(lines)
