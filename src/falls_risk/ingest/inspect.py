"""``falls-risk inspect EXTRACT_DIR``: profile an agency's folder before anyone writes a mapping.

Per file (per sheet of a workbook): the text encoding, the delimiter, the columns, how often each
is filled, the distinct values of short code-like columns, and the date, datetime or time formats
that read every value of a column. :mod:`falls_risk.ingest.draft` then guesses which contract
source each file holds and which contract column each export column is, and drafts the mapping
YAML for a person to finish.

Values are shown only for columns that look like codes (few distinct short values) and never for
a column that looks like an identifier (a name, NHS number, date of birth, postcode, address):
the profile is printed to a terminal, and terminals end up in logs.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from falls_risk.errors import ExtractError
from falls_risk.ingest import readers

SAMPLE_ROWS = 200_000  # enough to see every code and format; a whole year of GP events is not needed
SAMPLE_BYTES = 4 << 20
SHORT_DISTINCT = 15  # at most this many distinct values: a code list worth showing
SHORT_LENGTH = 40
DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%Y",
    "%d-%b-%Y", "%d %b %Y", "%d-%b-%y",
)
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H%M", "%H.%M")
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
    *(f"{d} {t}" for d in DATE_FORMATS[1:] for t in TIME_FORMATS[:2]),
)
# Values that mean "missing" in agency exports (compared case-folded).
NULL_TOKENS = ("null", "n/k", "not known", "unknown date", "n/a", "na", "none", "-", "?", "nk", "not recorded")
# Header words that mark a direct identifier: such a column's values are never shown.
IDENTIFIER_WORDS = ("name", "nhs", "dob", "birth", "postcode", "post_code", "address", "street", "forename",
                    "surname", "patient_id")
_TIME_SHAPE = r"\d{1,2}[:.]\d{2}([:.]\d{2})?|\d{4}"


@dataclass
class ColumnProfile:
    name: str
    filled: int
    distinct: int
    values: list[str] = field(default_factory=list)  # shown only for short, code-like columns
    date_formats: list[str] = field(default_factory=list)
    datetime_formats: list[str] = field(default_factory=list)
    time_formats: list[str] = field(default_factory=list)
    all_numeric: bool = False
    covers: list[str] = field(default_factory=list)  # formats that read every value only together
    null_spellings: list[str] = field(default_factory=list)  # NULL, N/K ... as written

    @property
    def formats_text(self) -> str:
        kinds = [("date", self.date_formats), ("datetime", self.datetime_formats), ("time", self.time_formats)]
        return "; ".join(f"{kind} {' or '.join(f)}" for kind, f in kinds if f)

    def first_format(self, kind: str) -> list[str]:
        """The formats to declare: the first of several that each read everything (day-first
        before month-first), or every one of a set that reads the values together."""
        formats = getattr(self, f"{kind}_formats")
        return formats[:1] if formats and _reads_all(self, formats[0]) else list(formats)


@dataclass
class FileProfile:
    name: str  # the file's name (and sheet, for a workbook of several)
    path: Path
    format: str
    rows: int
    columns: list[ColumnProfile]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sampled: bool = False

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class ExtractProfile:
    folder: Path
    files: list[FileProfile]
    skipped: list[str] = field(default_factory=list)


def detect_encoding(path: Path) -> str:
    """``utf-8`` (``utf-8-sig`` with a byte-order mark), else ``cp1252`` (Excel's "CSV" on Windows),
    else ``latin-1``, which reads any bytes."""
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            # A sample can end inside a multi-byte character: decode incrementally, not final.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=len(sample) < SAMPLE_BYTES)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _formats_reading_all(values: pd.Series, candidates: tuple[str, ...]) -> list[str]:
    """The formats that each read every value; else the few that together do (``08:31:10`` and
    ``23:59`` in one column), in the order to try them; else none."""
    parsed = {fmt: pd.to_datetime(values, format=fmt, errors="coerce").notna() for fmt in candidates}
    each = [fmt for fmt, ok in parsed.items() if ok.all()]
    if each:
        return each
    cover: list[str] = []
    read = pd.Series(False, index=values.index)
    for fmt, ok in parsed.items():
        if (ok & ~read).any() and len(cover) < 3:
            cover.append(fmt)
            read |= ok
    return cover if read.all() else []


def _reads_all(profile: ColumnProfile, fmt: str) -> bool:
    return fmt not in profile.covers


def looks_identifying(name: str) -> bool:
    key = "_".join(name.casefold().replace("-", " ").split())
    return any(word in key for word in IDENTIFIER_WORDS)


def profile_column(name: str, values: pd.Series) -> ColumnProfile:
    present = values.dropna()
    present = present[present.str.len() > 0]
    # Spellings of "missing" are set aside first: a date column holding NULL still has a format.
    is_null = present.str.casefold().isin(NULL_TOKENS)
    nulls = sorted(present[is_null].drop_duplicates())
    present = present[~is_null]
    distinct = present.drop_duplicates()
    profile = ColumnProfile(name=name, filled=len(present), distinct=len(distinct), null_spellings=nulls)
    if distinct.empty:
        return profile
    probe = distinct.head(500)
    profile.all_numeric = bool(pd.to_numeric(probe, errors="coerce").notna().all())
    if probe.str.len().max() <= 25:
        if probe.str.fullmatch(_TIME_SHAPE).all():
            profile.time_formats = _formats_reading_all(probe, TIME_FORMATS)
        if not profile.time_formats:
            profile.date_formats = _formats_reading_all(probe, DATE_FORMATS)
            profile.datetime_formats = _formats_reading_all(probe, DATETIME_FORMATS)
    for kind in ("date", "datetime", "time"):
        formats = getattr(profile, f"{kind}_formats")
        if len(formats) > 1 and not pd.to_datetime(probe, format=formats[0], errors="coerce").notna().all():
            profile.covers.extend(formats)
    dated = profile.date_formats or profile.datetime_formats or profile.time_formats
    if (
        not dated
        and len(distinct) <= SHORT_DISTINCT
        and distinct.str.len().max() <= SHORT_LENGTH
        and not looks_identifying(name)
        and len(distinct) < len(present)  # repeated values: codes, not ids
    ):
        profile.values = sorted(distinct.astype(str))
    return profile


def _profile_frame(name: str, path: Path, fmt: str, frame: pd.DataFrame, **extra: object) -> FileProfile:
    columns = [profile_column(str(c), frame[c].astype("str").str.strip()) for c in frame.columns]
    return FileProfile(name=name, path=path, format=fmt, rows=len(frame), columns=columns, **extra)  # type: ignore[arg-type]


def _profile_text(path: Path) -> FileProfile:
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        first = fh.readline()
    delimiter = "\t" if path.suffix.lower() == ".tsv" else readers.sniff_delimiter(first)
    try:
        frame = pd.read_csv(
            path, sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False, nrows=SAMPLE_ROWS,
            encoding_errors="replace",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ExtractError(f"{path}: cannot be read as delimited text ({str(exc).splitlines()[0][:120]}).") from None
    frame = frame.replace("", None)
    return _profile_frame(
        path.name, path, path.suffix.lower().lstrip("."), frame, encoding=encoding, delimiter=delimiter,
        sampled=len(frame) == SAMPLE_ROWS,
    )


def _profile_parquet(path: Path) -> FileProfile:
    try:
        parquet = pq.ParquetFile(path)
        first = next(parquet.iter_batches(batch_size=SAMPLE_ROWS), None)
        table = pa.Table.from_batches([first]) if first is not None else parquet.schema_arrow.empty_table()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise ExtractError(f"{path}: cannot be read as Parquet ({type(exc).__name__}).") from None
    frame = readers._to_text_frame(table, path)
    return _profile_frame(path.name, path, "parquet", frame, sampled=parquet.metadata.num_rows > len(frame))


def _profile_workbook(path: Path) -> list[FileProfile]:
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a corrupt workbook
        raise ExtractError(f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}).") from None
    profiles = []
    for sheet, raw in sheets.items():
        header, frame = readers._sheet_as_text(raw)
        if not header:
            continue
        profiles.append(_profile_frame(f"{path.name} [{sheet}]", path, "xlsx", frame, sheet=str(sheet)))
    return profiles


def profile_extract(folder: str | os.PathLike[str]) -> ExtractProfile:
    folder = Path(folder)
    if not folder.is_dir():
        raise ExtractError(f"{folder}: extract folder not found. Check the path.")
    profiles: list[FileProfile] = []
    skipped: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        suffix = path.suffix.lower()
        if suffix in readers.TEXT_SUFFIXES:
            profiles.append(_profile_text(path))
        elif suffix == ".parquet":
            profiles.append(_profile_parquet(path))
        elif suffix == ".xlsx":
            profiles.extend(_profile_workbook(path))
        else:
            skipped.append(path.name)
    return ExtractProfile(folder=folder, files=profiles, skipped=skipped)


def inspect_extract(
    folder: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, show: bool = True
) -> ExtractProfile:
    """Profile ``folder``; print the profile, and with ``out`` write a draft mapping there."""
    from falls_risk.ingest.draft import draft_mapping, print_profile
    from falls_risk.progress import console
    from falls_risk.workspace import write_text

    profile = profile_extract(folder)
    draft = draft_mapping(profile, today=dt.date.today())
    if show:
        print_profile(profile, draft, console)
    if out is not None:
        write_text(draft.yaml, out)
        if show:
            console.print(
                f"Wrote a draft mapping to {out}: check every line and fill in each TODO, then run "
                f"falls-risk ingest {profile.folder} --workspace WS --mapping {out}",
                highlight=False, soft_wrap=True,
            )
    return profile
