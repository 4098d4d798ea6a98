"""``run_ingest``: read, normalise and validate every source; write the workspace atomically.

Two passes over the sources: first read and normalise all of them (file-level problems are
gathered across sources and raised once), then fix the extract date (given, or the latest event
date found) and validate each source against its schema. The outputs (``ingested/``,
``quarantine/``, ``ingest_summary.json``) are staged in a folder inside the workspace and
swapped in together, so a failed run leaves the previous ingest as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from falls_risk.catalog import INGEST_SUMMARY, INGESTED, QUARANTINE
from falls_risk.contract import FILE_SUFFIXES, SOURCES
from falls_risk.errors import ExtractError, FallsRiskError, MappingError, format_examples
from falls_risk.ingest.mapping import Mapping, load_mapping
from falls_risk.ingest.readers import SourceFile, locate, read_source, sha256
from falls_risk.ingest.summary import IngestSummary, SourceSummary, print_summary
from falls_risk.ingest.validate import NormalisedSource, normalise_source, validate_source
from falls_risk.progress import console, progress_bar
from falls_risk.workspace import Workspace

STAGING_PREFIX = ".ingest-staging-"
# What one ingest replaces as a unit: the top-level entries of the workspace it writes.
OUTPUT_NAMES = tuple(a.template.split("/")[0] for a in (INGESTED, QUARANTINE, INGEST_SUMMARY))
RESERVED_COLUMNS = ("row_number", "reasons", "nhs_number_invalid")


def _rename_columns(
    file: SourceFile, frame: pd.DataFrame, mapping: Mapping
) -> tuple[pd.DataFrame, list[str]]:
    """Apply the mapping's renames (then case-insensitive name matches); return problems found."""
    source = SOURCES[file.source]
    sm = mapping.for_source(file.source)
    problems: list[str] = []
    unknown = [c for c in sm.rename if c not in frame.columns]
    if unknown:
        problems.append(
            f"{file.path}: the mapping renames {format_examples([repr(c) for c in unknown])}, "
            f"but the file has no such column (columns found: {', '.join(map(str, frame.columns))})"
        )
    renames = {c: t for c, t in sm.rename.items() if c in frame.columns}
    frame = frame.rename(columns=renames)
    # Headers that differ from the contract only in case or spacing ("NHS Number") are accepted.
    wanted = {c.casefold(): c for c in source.column_names if c not in frame.columns}
    loose = {}
    for col in frame.columns:
        key = "_".join(str(col).split()).casefold()
        if key in wanted and col not in source.column_names:
            loose[col] = wanted.pop(key)
    frame = frame.rename(columns=loose)
    clash = [c for c in RESERVED_COLUMNS if c in frame.columns and c not in source.column_names]
    clash += [c for c in frame.columns if str(c).endswith("_raw") and str(c)[:-4] in source.column_names]
    if clash:
        problems.append(
            f"{file.path}: column(s) {', '.join(clash)} clash with names ingest adds; "
            "rename them in the mapping"
        )
    missing = [c for c in source.required_columns if c not in frame.columns]
    if missing:
        problems.append(
            f"{file.path}: missing required column(s) {', '.join(missing)} for {file.source} "
            f"(columns found: {', '.join(map(str, frame.columns))}). If the export names them differently, "
            "map them with a mapping file (--mapping, see docs/mapping.md)"
        )
    return frame, problems


def _raise_collected(problems: list[tuple[type[FallsRiskError], str]]) -> None:
    if not problems:
        return
    kinds = {kind for kind, _ in problems}
    kind = kinds.pop() if len(kinds) == 1 else ExtractError
    messages = [message for _, message in problems]
    if len(messages) == 1:
        raise kind(messages[0] + ".")
    raise kind(
        f"{len(messages)} problems with the extract:\n- " + "\n- ".join(messages) + "\nFix them and re-run."
    )


def _choose_extract_date(
    normalised: dict[str, NormalisedSource], given: dt.date | None
) -> tuple[dt.date, str, list[str]]:
    notes: list[str] = []
    if given is not None:
        return given, "given with --extract-date", notes
    latest: tuple[dt.date, str] | None = None
    for name, norm in normalised.items():
        when = norm.latest_event()
        if when is not None and (latest is None or when.date() > latest[0]):
            latest = (when.date(), f"{name}.{norm.source.event_date_column}")
    if latest is None:
        raise ExtractError(
            "The extract has no valid event dates to take the extract date from. "
            "Pass --extract-date YYYY-MM-DD."
        )
    if latest[0] > dt.date.today():
        notes.append(
            f"the extract date {latest[0]} (latest event date, in {latest[1]}) is in the future; "
            "if that date is a typo, pass --extract-date so events after the real extract date "
            "are quarantined"
        )
    return latest[0], f"latest event date in the extract ({latest[1]})", notes


def _swap_in(staging: Path, ws: Workspace) -> None:
    """Replace the three ingest outputs with the staged ones; roll back if a rename fails."""
    old = staging / ".old"
    old.mkdir()
    moved: list[str] = []
    installed: list[str] = []
    try:
        for name in OUTPUT_NAMES:
            target = ws.root / name
            if target.exists():
                os.replace(target, old / name)
                moved.append(name)
            os.replace(staging / name, target)
            installed.append(name)
    except OSError:
        for name in installed:
            os.replace(ws.root / name, staging / name)
        for name in moved:
            os.replace(old / name, ws.root / name)
        raise


def run_ingest(
    extract_dir: str | os.PathLike[str],
    workspace: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | Mapping | None = None,
    extract_date: dt.date | None = None,
    progress: bool = True,
) -> IngestSummary:
    """Validate and normalise the extract in ``extract_dir`` into ``workspace``.

    Writes ``ingested/<source>.parquet``, ``quarantine/<source>.parquet`` and
    ``ingest_summary.json``, replacing any earlier ingest in that workspace at once. With
    ``progress`` it shows a progress bar and prints the summary table.
    """
    extract_dir = Path(extract_dir)
    ws = Workspace(workspace)
    mapping_obj = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    mapping_label = None if mapping is None or isinstance(mapping, Mapping) else str(mapping)
    if not extract_dir.is_dir():
        raise ExtractError(f"{extract_dir}: extract folder not found. Check the path.")

    files: dict[str, SourceFile] = {}
    problems: list[tuple[type[FallsRiskError], str]] = []
    mapped_but_missing: list[str] = []
    for name in SOURCES:
        found = locate(extract_dir, name, mapping_obj.for_source(name))
        if found is not None:
            files[name] = found
        elif mapping_obj.for_source(name).file is not None:
            mapped_but_missing.append(f"{mapping_obj.for_source(name).file} ({name})")
    if "population" not in files:
        expected = mapping_obj.for_source("population").file or " / ".join(
            f"population{s}" for s in FILE_SUFFIXES
        )
        raise ExtractError(
            f"{extract_dir}: the population source is required (the spine of registered people) but "
            f"{expected} is not there. Add it, or name its file in the mapping (sources.population.file)."
        )
    absent = [name for name in SOURCES if name not in files]
    used = {f.path.name for f in files.values()}
    ignored = sorted(
        p.name
        for p in extract_dir.iterdir()
        if p.is_file() and p.name not in used and not p.name.startswith(".")
    )

    normalised: dict[str, NormalisedSource] = {}
    hashes: dict[str, str] = {}
    summaries: dict[str, SourceSummary] = {}
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("Ingesting", total=2 * len(files))
        for name, file in files.items():
            bar.update(task, description=f"Reading {name}")
            sm = mapping_obj.for_source(name)
            try:
                hashes[name] = sha256(file.path)  # of the bytes read, recorded for provenance
                raw = read_source(file, sm)
            except ExtractError as exc:
                problems.append((ExtractError, str(exc).rstrip(".")))
                bar.advance(task)
                continue
            raw, renaming = _rename_columns(file, raw, mapping_obj)
            if renaming:
                kind = MappingError if any("the mapping renames" in p for p in renaming) else ExtractError
                problems.extend((kind, p) for p in renaming)
                bar.advance(task)
                continue
            normalised[name] = normalise_source(SOURCES[name], raw, sm)
            bar.advance(task)
        _raise_collected(problems)
        chosen_date, date_source, notes = _choose_extract_date(normalised, extract_date)
        if mapped_but_missing:
            notes.append(
                f"the mapping names file(s) not in the extract, so those sources are absent: "
                f"{', '.join(mapped_but_missing)}"
            )

        ws.root.mkdir(parents=True, exist_ok=True)
        for stale in ws.root.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=ws.root))
        try:
            for artefact in (INGESTED, QUARANTINE):
                artefact.path(staging, source="-").parent.mkdir()
            for name in list(normalised):
                bar.update(task, description=f"Validating {name}")
                norm = normalised.pop(name)  # free each source once written
                result = validate_source(norm, chosen_date)
                pq.write_table(result.accepted, INGESTED.path(staging, source=name))
                pq.write_table(result.quarantined, QUARANTINE.path(staging, source=name))
                file = files[name]
                summaries[name] = SourceSummary(
                    source=name,
                    file=file.path.name,
                    format=file.format,
                    sha256=hashes[name],
                    read=len(norm.frame),
                    accepted=result.accepted.num_rows,
                    quarantined=result.quarantined.num_rows,
                    reasons=result.reasons,
                    nhs_number_invalid=result.nhs_number_invalid,
                    extra_columns=norm.extra_columns,
                    absent_optional_columns=norm.absent_optional_columns,
                )
                if not summaries[name].balanced:  # pragma: no cover - guarded by tests
                    raise AssertionError(f"{name}: read != accepted + quarantined")
                bar.advance(task)
            if absent:
                notes.append(
                    f"absent sources: {', '.join(absent)}; features that depend on them will be missing"
                )
            if ignored:
                notes.append(f"files in the extract folder not read as any source: {', '.join(ignored)}")
            summary = IngestSummary(
                extract_dir=str(extract_dir),
                workspace=str(ws.root),
                extract_date=chosen_date,
                extract_date_source=date_source,
                mapping=mapping_label,
                sources=summaries,
                absent_sources=absent,
                ignored_files=ignored,
                notes=notes,
            )
            summary.write(staging)
            _swap_in(staging, ws)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if progress:
        print_summary(summary, console)
    return summary
