"""Find each source's file(s) in an extract folder and read them as text (CSV/TSV, Parquet, Excel).

Every reader returns a pandas DataFrame whose columns are all text (pandas ``str``), with
surrounding whitespace trimmed and blank cells missing, so parsing and validation are the same
whatever the format. A source may come in several files (yearly PEDW files) or several sheets of
one workbook: they are read in order and stacked, and :class:`ReadSource` remembers which rows came
from which part. A file that cannot be read raises :class:`ExtractError` naming it.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from falls_risk.contract import FILE_SUFFIXES
from falls_risk.errors import ExtractError, format_examples
from falls_risk.ingest.mapping import SourceMapping

# The contract's suffixes, plus delimited text as agencies often send it (tab or pipe).
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
READABLE_SUFFIXES = tuple(dict.fromkeys((*FILE_SUFFIXES, ".tsv", ".txt")))
# A typed timestamp with a time zone is read as the wall-clock time (and date) here.
EXTRACT_TIME_ZONE = "Europe/London"
SNIFFED_DELIMITERS = (",", "\t", "|", ";")

ENCODING_ADVICE = (
    "Save it as UTF-8 (in Excel: Save As > 'CSV UTF-8'), or declare its encoding in the mapping file "
    "(sources.{source}.encoding, e.g. cp1252)."
)
HeaderTest = Callable[[list[str]], bool]


@dataclass(frozen=True)
class SourceFile:
    """The file(s) holding one source, in the order they are read."""

    source: str
    paths: tuple[Path, ...]

    def __init__(self, source: str, paths: Path | Sequence[Path]) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "paths", (paths,) if isinstance(paths, Path) else tuple(paths))

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def name(self) -> str:
        return ", ".join(p.name for p in self.paths)

    @property
    def format(self) -> str:
        formats = dict.fromkeys(p.suffix.lower().lstrip(".") for p in self.paths)
        return "+".join(formats)


@dataclass(frozen=True)
class Part:
    """One file, or one sheet of a workbook, and how many data rows it gave."""

    label: str
    rows: int


@dataclass
class ReadSource:
    frame: pd.DataFrame
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def where(self, row_number: int) -> str:
        """Where a 1-based row of the stacked source is: ``file.csv row 12``."""
        first = 1
        for part in self.parts:
            if row_number < first + part.rows:
                return f"{part.label} row {row_number - first + 1}"
            first += part.rows
        return f"row {row_number}"


def _check_suffix(path: Path, source: str) -> None:
    if path.suffix.lower() not in READABLE_SUFFIXES:
        raise ExtractError(
            f"{path}: unsupported file type {path.suffix!r} for {source}. "
            f"Use one of {', '.join(READABLE_SUFFIXES)}."
        )


def locate(extract_dir: Path, source: str, mapping: SourceMapping) -> SourceFile | None:
    """The file(s) holding ``source``, or None when the extract does not include it."""
    if mapping.file is not None:
        found: list[Path] = []
        for name in mapping.file:
            if glob.has_magic(name):
                matches = sorted(p for p in extract_dir.glob(name) if p.is_file())
                for path in matches:
                    _check_suffix(path, source)
                found.extend(matches)
            else:
                path = extract_dir / name
                _check_suffix(path, source)
                if path.is_file():
                    found.append(path)
                elif len(mapping.file) > 1:
                    raise ExtractError(
                        f"{path}: named in the mapping for {source} (sources.{source}.file) but not in the "
                        "extract. Add it, or take it out of the list."
                    )
        found = list(dict.fromkeys(found))
        return SourceFile(source, found) if found else None
    by_lower = {p.name.lower(): p for p in extract_dir.iterdir() if p.is_file()}
    found = [by_lower[f"{source}{s}"] for s in READABLE_SUFFIXES if f"{source}{s}" in by_lower]
    if len(found) > 1:
        raise ExtractError(
            f"{extract_dir}: {source} is given twice ({', '.join(p.name for p in found)}). "
            "Keep one file per source."
        )
    return SourceFile(source, found[0]) if found else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ExtractError(
            f"{path}: cannot be read ({exc.strerror}). Check the file and its permissions."
        ) from None
    return digest.hexdigest()


def _clean_header(names: Sequence[object]) -> list[str]:
    return [str(c).replace("\ufeff", "").strip() for c in names]


def refuse_duplicate_header(label: object, names: Sequence[str]) -> None:
    """A header naming a column twice would keep only one of them: refuse it, naming both."""
    seen: set[str] = set()
    duplicated = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if duplicated:
        raise ExtractError(
            f"{label}: column(s) {format_examples(sorted(set(duplicated)))} appear more than once in the header. "
            "Give each column one name (rename one in the export), then rerun."
        )


def read_source(file: SourceFile, mapping: SourceMapping, header_test: HeaderTest | None = None) -> ReadSource:
    """All columns as trimmed text (``.frame``); blank (or a mapping's null spelling) -> missing.
    Several files (or sheets) are stacked in order; they must have the same columns, and
    ``.parts`` says which rows came from which."""
    frames: list[pd.DataFrame] = []
    result = ReadSource(frame=pd.DataFrame())
    for path in file.paths:
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            parts = [(path.name, _read_text(path, mapping, file.source))]
        elif suffix == ".parquet":
            parts = [(path.name, _read_parquet(path))]
        else:
            parts, notes = _read_excel(path, mapping, header_test)
            result.notes.extend(notes)
        for label, frame in parts:
            frames.append(frame)
            result.parts.append(Part(label, len(frame)))
    if len(frames) > 1:
        first = set(frames[0].columns)
        for part, frame in zip(result.parts[1:], frames[1:], strict=True):
            if set(frame.columns) != first:
                extra = sorted(set(frame.columns) - first)
                lacking = sorted(first - set(frame.columns))
                raise ExtractError(
                    f"{file.source}: {part.label} does not have the columns of {result.parts[0].label} "
                    f"(extra: {', '.join(extra) or '-'}; lacking: {', '.join(lacking) or '-'}). The files of "
                    "one source must share one header: re-export them alike, or map them as separate runs."
                )
        frame = pd.concat([f[frames[0].columns] for f in frames], ignore_index=True)
    else:
        frame = frames[0]
    nulls = {"", *mapping.null_values}
    for col in frame.columns:
        text = frame[col].str.strip()
        frame[col] = text.where(~text.isin(nulls))
    result.frame = frame.reset_index(drop=True)
    return result


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of comma, tab, pipe and semicolon in a header line (comma if none)."""
    counts = {d: header_line.count(d) for d in SNIFFED_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def text_delimiter(path: Path, mapping: SourceMapping, encoding: str) -> str:
    if mapping.delimiter is not None:
        return mapping.delimiter
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return "\t"
    if suffix == ".txt":
        with path.open(encoding=encoding, newline="") as fh:
            return sniff_delimiter(fh.readline())
    return ","


def _read_text(path: Path, mapping: SourceMapping, source: str) -> pd.DataFrame:
    encoding = mapping.encoding or "utf-8"
    advice = ENCODING_ADVICE.format(source=source)
    try:
        delimiter = text_delimiter(path, mapping, encoding)
        with path.open(encoding=encoding, newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise ExtractError(f"{path}: the file is not valid {encoding} text. {advice}") from None
    except (OSError, csv.Error) as exc:
        raise ExtractError(f"{path}: cannot be read as CSV ({exc}).") from None
    if not header:
        raise ExtractError(f"{path}: the file is empty; a CSV extract needs a header row.")
    # Excel's "CSV UTF-8" starts with a byte-order mark, which Arrow drops from the first name: the
    # names must match Arrow's, or that column would be type-guessed (and lose its leading zeros).
    header = [name.removeprefix("\ufeff") for name in header]
    # Arrow keeps both columns of a repeated name, but a dict of them (below) would keep one.
    refuse_duplicate_header(path, _clean_header(header))
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "utf8" in message.lower() or "utf-8" in message.lower():
            raise ExtractError(f"{path}: the file is not valid {encoding} text. {advice}") from None
        bad = _first_ragged_line(path, encoding, delimiter)
        if bad is not None:
            line, fields, expected = bad
            raise ExtractError(
                f"{path}, line {line}: {fields} field(s) where the header has {expected}. Fix that row (a "
                "missing or extra delimiter, or an unclosed quote above it), then rerun."
            ) from None
        # Arrow's message can quote a whole row; only its first clause, which names no one, is kept.
        raise ExtractError(
            f"{path}: cannot be read as CSV ({message.splitlines()[0].split(':')[0][:200]}). "
            "Check the quoting and that every row has as many fields as the header."
        ) from None
    return _to_text_frame(table, path)


def _first_ragged_line(path: Path, encoding: str, delimiter: str) -> tuple[int, int, int] | None:
    """(line number, fields, header fields) of the first row whose field count is wrong, if any.
    Single-threaded, so Arrow knows line numbers: only run once a read has failed."""
    found: list[tuple[int, int, int]] = []

    def record(row: pacsv.InvalidRow) -> str:
        found.append((row.number, row.actual_columns, row.expected_columns))
        return "error"

    try:
        pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=record
            ),
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True),
        )
    except pa.ArrowInvalid:
        pass
    return found[0] if found and found[0][0] is not None else None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        refuse_duplicate_header(path, _clean_header(pq.read_schema(path).names))
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ExtractError(f"{path}: cannot be read as Parquet ({exc}). Re-export the file.") from None
    return _to_text_frame(table, path)


def _to_text_frame(table: pa.Table, path: Path) -> pd.DataFrame:
    refuse_duplicate_header(path, _clean_header(table.column_names))
    columns = {}
    for name, column in zip(_clean_header(table.column_names), table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = column
        elif pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
            text = _temporal_as_text(column)
        else:
            try:
                text = column.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ExtractError(
                    f"{path}: column {name!r} has type {column.type}, which cannot be read as text. "
                    "Export it as plain values."
                ) from None
        columns[name] = text.to_pandas().astype("str")
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _zoned_as_text(column: pa.ChunkedArray) -> pa.Array:
    """A time-zone-aware timestamp as the extract's wall clock (Europe/London).

    A column of midnights (in London, or in the time zone it was written in) holds dates: it
    becomes those dates; any other column becomes London date-times."""
    values = column.to_pandas()
    local = values.dt.tz_convert(EXTRACT_TIME_ZONE).dt.tz_localize(None)
    present = local.notna()
    if (local[present] == local[present].dt.normalize()).all():
        text = local.dt.strftime("%Y-%m-%d")
    elif (values[present] == values[present].dt.normalize()).all():
        text = values.dt.tz_localize(None).dt.strftime("%Y-%m-%d")
    else:
        text = local.dt.floor("s").dt.strftime("%Y-%m-%d %H:%M:%S")
    return pa.array(text.where(present, None), type=pa.string())


def _temporal_as_text(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Typed dates and timestamps as the ISO text a CSV would hold (a cast: fast in Arrow)."""
    if pa.types.is_date(column.type):
        return column.cast(pa.date32()).cast(pa.string())
    if column.type.tz is not None:
        return _zoned_as_text(column)
    return column.cast(pa.timestamp("s"), safe=False).cast(pa.string())


def _excel_cell_as_text(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sheet_as_text(raw: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """A sheet read without a header: its first non-empty row is the header."""
    blank = raw.map(lambda v: v is None or (isinstance(v, str) and not v.strip()))
    raw = raw.mask(blank).dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        return [], pd.DataFrame()
    header = _clean_header(["" if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in raw.iloc[0]])
    body = raw.iloc[1:]
    out = pd.DataFrame(index=pd.RangeIndex(len(body)))
    for position, name in enumerate(header):
        out[f"\x00{position}"] = pd.Series([_excel_cell_as_text(v) for v in body.iloc[:, position]], dtype="str")
    out.columns = header
    return header, out


def _read_excel(
    path: Path, mapping: SourceMapping, header_test: HeaderTest | None
) -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    """The sheets holding the source: those the mapping names, else every sheet with its header."""
    try:
        sheets = pd.read_excel(
            path, sheet_name=None, header=None, dtype=object, keep_default_na=False, na_values=[], engine="openpyxl"
        )
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a corrupt workbook
        raise ExtractError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc})."
        ) from None
    names = list(sheets)
    if mapping.sheet is not None:
        chosen = []
        for sheet in mapping.sheet:
            # A mapping's text "2" names sheet "2" if there is one, else the third sheet.
            position = int(sheet) if str(sheet).isdigit() and str(sheet) not in sheets else None
            name = names[position] if position is not None and position < len(names) else sheet
            if name not in sheets:
                raise ExtractError(
                    f"{path}: Worksheet named {sheet!r} not found (the workbook has: {', '.join(map(repr, names))}). "
                    "Name an existing sheet in the mapping (sources.<source>.sheet)."
                )
            chosen.append(str(name))
        skipped: list[str] = []
    else:
        headers = {name: _sheet_as_text(sheets[name])[0] for name in names}
        filled = [name for name in names if headers[name]]
        matching = [name for name in filled if header_test is None or header_test(headers[name])]
        if not filled:
            chosen = names[:1]
        elif len(filled) == 1:
            chosen = filled
        elif not matching:
            if len({tuple(headers[n]) for n in filled}) == 1:
                chosen = filled
            else:
                raise ExtractError(
                    f"{path}: none of the sheets {', '.join(map(repr, filled))} has the columns this source needs, "
                    "and their headers differ. Name the sheet(s) to read in the mapping (sources.<source>.sheet)."
                )
        else:
            chosen = matching
        if len({frozenset(headers[n]) for n in chosen}) > 1:
            raise ExtractError(
                f"{path}: sheets {', '.join(map(repr, chosen))} all look like this source but their headers differ. "
                "Make their headers alike, or name the sheet(s) to read in the mapping (sources.<source>.sheet)."
            )
        skipped = [n for n in filled if n not in chosen]
    parts = []
    for name in chosen:
        header, frame = _sheet_as_text(sheets[name])
        refuse_duplicate_header(f"{path}, sheet {name!r}", header)
        parts.append((f"{path.name} sheet {name!r}", frame))
    notes = []
    if len(parts) > 1:
        notes.append(
            f"{path.name}: read sheets {', '.join(f'{n!r} ({len(f):,} rows)' for n, (_, f) in zip(chosen, parts, strict=True))}"
        )
    if skipped:
        notes.append(f"{path.name}: sheet(s) {', '.join(map(repr, skipped))} skipped (not this source's columns)")
    return parts, notes
