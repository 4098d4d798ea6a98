"""Find each source's file in an extract folder and read it as text (CSV, Parquet or Excel).

Every reader returns a pandas DataFrame whose columns are all text (pandas ``str``), with
surrounding whitespace trimmed and blank cells missing, so parsing and validation are the same
whatever the format. A file that cannot be read raises :class:`ExtractError` naming it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from falls_risk.contract import FILE_SUFFIXES
from falls_risk.errors import ExtractError, format_examples
from falls_risk.ingest.mapping import SourceMapping

ENCODING_ADVICE = (
    "Save it as UTF-8 (in Excel: Save As > 'CSV UTF-8'), or declare its encoding in the mapping file "
    "(sources.{source}.encoding, e.g. cp1252)."
)


@dataclass(frozen=True)
class SourceFile:
    source: str
    path: Path

    @property
    def format(self) -> str:
        return self.path.suffix.lower().lstrip(".")


def locate(extract_dir: Path, source: str, mapping: SourceMapping) -> SourceFile | None:
    """The file holding ``source``, or None when the extract does not include it."""
    if mapping.file is not None:
        path = extract_dir / mapping.file
        if path.suffix.lower() not in FILE_SUFFIXES:
            raise ExtractError(
                f"{path}: unsupported file type {path.suffix!r} for {source}. "
                f"Use one of {', '.join(FILE_SUFFIXES)}."
            )
        return SourceFile(source, path) if path.is_file() else None
    by_lower = {p.name.lower(): p for p in extract_dir.iterdir() if p.is_file()}
    found = [by_lower[f"{source}{suffix}"] for suffix in FILE_SUFFIXES if f"{source}{suffix}" in by_lower]
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


def read_source(file: SourceFile, mapping: SourceMapping) -> pd.DataFrame:
    """All columns as trimmed text; blank (or a mapping's null spelling) -> missing."""
    if file.format == "csv":
        frame = _read_csv(file.path, mapping, file.source)
    elif file.format == "parquet":
        frame = _read_parquet(file.path)
    else:
        frame = _read_excel(file.path, mapping)
    frame.columns = [str(c).replace("\ufeff", "").strip() for c in frame.columns]
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise ExtractError(
            f"{file.path}: column(s) {format_examples(duplicated)} appear more than once in the header. "
            "Give each column one name."
        )
    nulls = {"", *mapping.null_values}
    for col in frame.columns:
        text = frame[col].str.strip()
        frame[col] = text.where(~text.isin(nulls))
    return frame.reset_index(drop=True)


def _read_csv(path: Path, mapping: SourceMapping, source: str) -> pd.DataFrame:
    encoding = mapping.encoding or "utf-8"
    advice = ENCODING_ADVICE.format(source=source)
    try:
        with path.open(encoding=encoding, newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise ExtractError(f"{path}: the file is not valid {encoding} text. {advice}") from None
    except (OSError, csv.Error) as exc:
        raise ExtractError(f"{path}: cannot be read as CSV ({exc}).") from None
    if not header:
        raise ExtractError(f"{path}: the file is empty; a CSV extract needs a header row.")
    # Excel's "CSV UTF-8" starts with a byte-order mark, which Arrow drops from the first name: the
    # names must match Arrow's, or that column would be type-guessed (and lose its leading zeros).
    header = [name.removeprefix("\ufeff") for name in header]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
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
        bad = _first_ragged_line(path, encoding)
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


def _first_ragged_line(path: Path, encoding: str) -> tuple[int, int, int] | None:
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
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=record),
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True),
        )
    except pa.ArrowInvalid:
        pass
    return found[0] if found and found[0][0] is not None else None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ExtractError(f"{path}: cannot be read as Parquet ({exc}). Re-export the file.") from None
    return _to_text_frame(table, path)


def _to_text_frame(table: pa.Table, path: Path) -> pd.DataFrame:
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
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


def _temporal_as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Typed dates and timestamps as the ISO text a CSV would hold (a cast: fast in Arrow)."""
    if pa.types.is_date(column.type):
        return column.cast(pa.date32()).cast(pa.string())
    if column.type.tz is not None:
        column = column.cast(pa.timestamp(column.type.unit))  # wall-clock UTC
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


def _read_excel(path: Path, mapping: SourceMapping) -> pd.DataFrame:
    try:
        frame = pd.read_excel(
            path,
            sheet_name=mapping.sheet if mapping.sheet is not None else 0,
            dtype=object,
            keep_default_na=False,
            na_values=[],
            engine="openpyxl",
        )
    except ValueError as exc:  # e.g. a sheet that does not exist
        raise ExtractError(
            f"{path}: {exc}. Name an existing sheet in the mapping (sources.<source>.sheet)."
        ) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a corrupt workbook
        raise ExtractError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc})."
        ) from None
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in frame.columns:
        out[str(col)] = pd.Series([_excel_cell_as_text(v) for v in frame[col]], dtype="str")
    return out
