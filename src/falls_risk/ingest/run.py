"""``run_ingest``: read, normalise and validate every source; write the workspace atomically.

Two passes over the sources: first read and normalise all of them (file-level problems are
gathered across sources and raised once), then fix the extract date (given, or the latest event
date found) and validate each source against its schema. The outputs (``ingested/``,
``quarantine/``, ``ingest_summary.json``) are staged in a folder inside the workspace and
swapped in together, so a failed run leaves the previous ingest as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from falls_risk.catalog import INGEST_SUMMARY, INGESTED, QUARANTINE
from falls_risk.config import IngestConfig
from falls_risk.contract import FILE_SUFFIXES, SOURCES
from falls_risk.errors import ExtractError, FallsRiskError, MappingError, format_examples
from falls_risk.ingest import checks
from falls_risk.ingest.mapping import Mapping, SourceMapping, load_mappings
from falls_risk.ingest.readers import HeaderTest, ReadSource, SourceFile, locate, read_source, sha256
from falls_risk.ingest.summary import IngestSummary, SourceSummary, print_summary
from falls_risk.ingest.validate import NormalisedSource, ValidatedSource, normalise_source, validate_source
from falls_risk.progress import console, progress_bar
from falls_risk.workspace import Workspace

STAGING_PREFIX = ".ingest-staging-"
# What one ingest replaces as a unit: the top-level entries of the workspace it writes.
OUTPUT_NAMES = tuple(a.template.split("/")[0] for a in (INGESTED, QUARANTINE, INGEST_SUMMARY))
RESERVED_COLUMNS = ("row_number", "reasons", "nhs_number_invalid")


def _contract_renames(source_name: str, columns: list[str], sm: SourceMapping) -> dict[str, str]:
    """Export column -> contract column: the mapping's renames, then headers that differ from the
    contract only in case or spacing ("NHS Number")."""
    source = SOURCES[source_name]
    renames = {c: t for c, t in sm.rename.items() if c in columns}
    named = {renames.get(c, c) for c in columns} | set(sm.combine)
    wanted = {c.casefold(): c for c in source.column_names if c not in named}
    for col in columns:
        key = "_".join(str(col).split()).casefold()
        if col not in renames and key in wanted and col not in source.column_names:
            renames[col] = wanted.pop(key)
    return renames


def has_source_header(source_name: str, sm: SourceMapping) -> HeaderTest:
    """Whether a header (of an Excel sheet) holds the source's required columns once mapped."""

    def test(columns: list[str]) -> bool:
        renames = _contract_renames(source_name, columns, sm)
        names = {renames.get(c, c) for c in columns} | set(sm.combine)
        return set(SOURCES[source_name].required_columns) <= names

    return test


def _combine_columns(file: SourceFile, frame: pd.DataFrame, sm: SourceMapping) -> tuple[pd.DataFrame, list[str]]:
    """A date and a time held in two export columns become one contract column ("date time")."""
    problems: list[str] = []
    for target, (date_col, time_col) in sm.combine.items():
        lacking = [c for c in (date_col, time_col) if c not in frame.columns]
        if lacking:
            problems.append(
                f"{file.path}: the mapping combines {date_col!r} and {time_col!r} into {target}, but the file has "
                f"no column {format_examples([repr(c) for c in lacking])} (columns found: "
                f"{', '.join(map(str, frame.columns))})"
            )
            continue
        date, time = frame[date_col], frame[time_col]
        joined = (date + " " + time).where(time.notna(), date)
        frame = frame.drop(columns=[date_col, time_col]).assign(**{target: joined})
    return frame, problems


def _rename_columns(
    file: SourceFile, frame: pd.DataFrame, mapping: Mapping
) -> tuple[pd.DataFrame, list[str]]:
    """Apply the mapping's combines and renames (then case-insensitive name matches); return problems found."""
    source = SOURCES[file.source]
    sm = mapping.for_source(file.source)
    problems: list[str] = []
    unknown = [c for c in sm.rename if c not in frame.columns]
    if unknown:
        problems.append(
            f"{file.path}: the mapping renames {format_examples([repr(c) for c in unknown])}, "
            f"but the file has no such column (columns found: {', '.join(map(str, frame.columns))})"
        )
    frame, combining = _combine_columns(file, frame, sm)
    problems.extend(combining)
    frame = frame.rename(columns=_contract_renames(file.source, list(frame.columns), sm))
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
    normalised: dict[str, NormalisedSource], reads: dict[str, ReadSource], files: dict[str, SourceFile],
    given: dt.date | None, config: IngestConfig,
) -> tuple[dt.date, str]:
    """The extract date given, else the latest event date; an inferred date after today, or far
    past the bulk of the data, is refused naming the rows that make it."""
    today = dt.date.today()
    if given is not None:
        if given > today:
            raise ExtractError(
                f"--extract-date {given} is after today ({today}): an extract cannot be taken in the future. "
                "Pass the day the agencies took the extract."
            )
        return given, "given with --extract-date"
    counts = checks.day_counts(normalised)
    if counts.empty:
        raise ExtractError(
            "The extract has no valid event dates to take the extract date from. "
            "Pass --extract-date YYYY-MM-DD."
        )
    latest = pd.Timestamp(counts.index[-1]).date()
    bulk = checks.bulk_end(counts)
    if latest > today:
        late, why = checks.rows_after(normalised, today), f"after today ({today})"
    elif bulk is not None and (latest - bulk).days > config.max_days_past_bulk:
        late = checks.rows_after(normalised, bulk + dt.timedelta(days=config.max_days_past_bulk))
        why = (f"more than {config.max_days_past_bulk} days after the bulk of the data "
               f"(99% of event dates are on or before {bulk})")
    else:
        source = checks.rows_after(normalised, latest - dt.timedelta(days=1))["source"].iloc[0]
        return latest, f"latest event date in the extract ({source}.{SOURCES[source].event_date_column})"
    named = checks.name_rows(late, reads, files)
    raise ExtractError(
        f"The extract date would be {latest} (the latest event date), but {len(late):,} row(s) are dated {why}: "
        f"{named}. Correct those rows in the extract, or pass --extract-date YYYY-MM-DD (the day the extract "
        "was taken) so that rows after it are quarantined."
    )


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


def _private_parquet(table: object, path: Path) -> None:
    """Ingested and quarantined rows hold full identifiers: readable by their owner only."""
    pq.write_table(table, path)
    os.chmod(path, 0o600)


def _file_hashes(file: SourceFile, hashes: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The source's sha256 (of its one file, or of its files' names and hashes) and each file's."""
    if len(file.paths) == 1:
        return hashes[file.path.name], {}
    by_file = {p.name: hashes[p.name] for p in file.paths}
    combined = hashlib.sha256("".join(f"{n}:{h}\n" for n, h in by_file.items()).encode()).hexdigest()
    return combined, by_file


def _parts_note(name: str, read: ReadSource) -> str | None:
    if len(read.parts) < 2:
        return None
    first, spans = 1, []
    for part in read.parts:
        spans.append(f"rows {first:,}-{first + part.rows - 1:,} from {part.label}")
        first += part.rows
    return f"{name} read from {len(read.parts)} parts: {'; '.join(spans)}"


def run_ingest(
    extract_dir: str | os.PathLike[str],
    workspace: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Mapping | None = None,
    extract_date: dt.date | None = None,
    config: IngestConfig | None = None,
    accept_quarantine: bool = False,
    progress: bool = True,
) -> IngestSummary:
    """Validate and normalise the extract in ``extract_dir`` into ``workspace``.

    Writes ``ingested/<source>.parquet``, ``quarantine/<source>.parquet`` and
    ``ingest_summary.json``, replacing any earlier ingest in that workspace at once. A source with
    more than its share of rows quarantined (``config.max_quarantine_share``, or the mapping's) stops
    the ingest unless ``accept_quarantine``. With ``progress`` it shows a progress bar and prints the
    summary table.
    """
    extract_dir = Path(extract_dir)
    config = config or IngestConfig()
    ws = Workspace(workspace)
    mapping_obj = mapping if isinstance(mapping, Mapping) else load_mappings(mapping)
    if mapping is None or isinstance(mapping, Mapping):
        mapping_label = None
    elif isinstance(mapping, str | os.PathLike):
        mapping_label = str(mapping)
    else:
        mapping_label = ", ".join(str(m) for m in mapping)
    if not extract_dir.is_dir():
        raise ExtractError(f"{extract_dir}: extract folder not found. Check the path.")
    if extract_date is not None and extract_date > dt.date.today():
        raise ExtractError(
            f"--extract-date {extract_date} is after today ({dt.date.today()}): an extract cannot be taken in "
            "the future. Pass the day the agencies took the extract."
        )

    files: dict[str, SourceFile] = {}
    problems: list[tuple[type[FallsRiskError], str]] = []
    mapped_but_missing: list[str] = []
    for name in SOURCES:
        found = locate(extract_dir, name, mapping_obj.for_source(name))
        if found is not None:
            files[name] = found
        elif mapping_obj.for_source(name).file is not None:
            mapped_but_missing.append(f"{', '.join(mapping_obj.for_source(name).file)} ({name})")
    if "population" not in files:
        named = mapping_obj.for_source("population").file
        expected = ", ".join(named) if named else " / ".join(f"population{s}" for s in FILE_SUFFIXES)
        raise ExtractError(
            f"{extract_dir}: the population source is required (the spine of registered people) but "
            f"{expected} is not there. Add it, or name its file in the mapping (sources.population.file)."
        )
    absent = [name for name in SOURCES if name not in files]
    used = {p.name for f in files.values() for p in f.paths}
    ignored = sorted(
        p.name
        for p in extract_dir.iterdir()
        if p.is_file() and p.name not in used and not p.name.startswith(".")
    )

    normalised: dict[str, NormalisedSource] = {}
    reads: dict[str, ReadSource] = {}
    hashes: dict[str, str] = {}
    summaries: dict[str, SourceSummary] = {}
    notes: list[str] = []
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("Ingesting", total=2 * len(files))
        for name, file in files.items():
            bar.update(task, description=f"Reading {name}")
            sm = mapping_obj.for_source(name)
            try:
                for path in file.paths:
                    hashes[path.name] = sha256(path)  # of the bytes read, recorded for provenance
                read = read_source(file, sm, has_source_header(name, sm))
            except ExtractError as exc:
                problems.append((ExtractError, str(exc).rstrip(".")))
                bar.advance(task)
                continue
            if name == "population" and len(read.frame) == 0:
                problems.append((ExtractError, (
                    f"{file.name}: the population file has a header but no rows; the spine of registered "
                    "people cannot be empty. Ask the health board for the full population extract"
                )))
            notes.extend(read.notes)
            raw, renaming = _rename_columns(file, read.frame, mapping_obj)
            if renaming:
                kind = MappingError if any("the mapping" in p for p in renaming) else ExtractError
                problems.extend((kind, p) for p in renaming)
                bar.advance(task)
                continue
            reads[name] = ReadSource(frame=pd.DataFrame(), parts=read.parts)  # the parts, not the rows
            normalised[name] = normalise_source(SOURCES[name], raw, sm)
            bar.advance(task)
        _raise_collected(problems)
        chosen_date, date_source = _choose_extract_date(normalised, reads, files, extract_date, config)
        if mapped_but_missing:
            notes.append(
                f"the mapping names file(s) not in the extract, so those sources are absent: "
                f"{', '.join(mapped_but_missing)}"
            )
        notes.extend(note for name in normalised if (note := _parts_note(name, reads[name])))

        ws.root.mkdir(parents=True, exist_ok=True)
        for stale in ws.root.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=ws.root))  # mode 0700
        breaches: list[checks.QuarantineBreach] = []
        try:
            for artefact in (INGESTED, QUARANTINE):
                folder = artefact.path(staging, source="-").parent
                folder.mkdir(mode=0o700)
                folder.chmod(0o700)  # whatever the umask
            for name in list(normalised):
                bar.update(task, description=f"Validating {name}")
                norm = normalised.pop(name)  # free each source once written
                result: ValidatedSource = validate_source(norm, chosen_date)
                _private_parquet(result.accepted, INGESTED.path(staging, source=name))
                _private_parquet(result.quarantined, QUARANTINE.path(staging, source=name))
                file = files[name]
                limit = mapping_obj.for_source(name).max_quarantine_share
                limit = config.max_quarantine_share if limit is None else limit
                breach = checks.quarantine_breach(name, result, limit, reads[name], file)
                if breach is not None:
                    breaches.append(breach)
                digest, by_file = _file_hashes(file, hashes)
                summaries[name] = SourceSummary(
                    source=name,
                    file=file.name,
                    format=file.format,
                    sha256=digest,
                    read=len(norm.frame),
                    accepted=result.accepted.num_rows,
                    quarantined=result.quarantined.num_rows,
                    reasons=result.reasons,
                    nhs_number_invalid=result.nhs_number_invalid,
                    extra_columns=norm.extra_columns,
                    absent_optional_columns=norm.absent_optional_columns,
                    file_hashes=by_file,
                    max_quarantine_share=limit,
                )
                if not summaries[name].balanced:  # pragma: no cover - guarded by tests
                    raise AssertionError(f"{name}: read != accepted + quarantined")
                bar.advance(task)
            if breaches and not accept_quarantine:
                raise ExtractError(checks.breach_message(breaches, str(ws.root)))
            if breaches:
                notes.append(
                    "--accept-quarantine: went on although "
                    + "; ".join(f"{b.source} has {b.share:.1%} of its rows quarantined" for b in breaches)
                )
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
                quarantine_accepted={b.source: round(b.share, 6) for b in breaches},
            )
            summary.write(staging)
            _swap_in(staging, ws)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    if progress:
        print_summary(summary, console)
    return summary
