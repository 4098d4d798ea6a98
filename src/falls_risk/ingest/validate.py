"""Per-source normalisation and validation: raw text frame in, accepted and quarantined rows out.

``normalise_source`` parses every contract column according to its kind (after the mapping's
value maps) and records which present values failed to parse. ``validate_source`` runs the
pandera schema generated from the contract, merges its failures with the parse failures into one
set of reasons per row, and splits the rows. All of it is vectorised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from falls_risk.contract import Kind, Source
from falls_risk.ingest import normalise as nz
from falls_risk.ingest.mapping import CATCH_ALL, SourceMapping
from falls_risk.ingest.schema import after_extract_reason, build_schema, missing_reason, row_reasons

ROW_NUMBER = "row_number"
REASONS = "reasons"
NHS_INVALID = "nhs_number_invalid"
REASON_SEPARATOR = "; "

ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.DATE: pa.date32(),
    Kind.DATETIME: pa.timestamp("s"),
    Kind.BOOL: pa.bool_(),
    Kind.NUMBER: pa.float64(),
    Kind.INT: pa.int64(),
}


def raw_name(column: str) -> str:
    return f"{column}_raw"


def parse_failure_reason(column: str, kind: Kind) -> str:
    return {
        Kind.DATE: f"unparseable date in {column}",
        Kind.DATETIME: f"unparseable datetime in {column}",
        Kind.CODE_LIST: f"invalid ICD-10 code in {column}",
        Kind.SNOMED: f"invalid SNOMED CT code in {column}",
        Kind.BNF: f"invalid BNF code in {column}",
        Kind.BOOL: f"{column} not true/false",
        Kind.NUMBER: f"{column} not a non-negative number",
        Kind.INT: f"{column} not a non-negative whole number",
    }[kind]


@dataclass
class NormalisedSource:
    source: Source
    raw: pd.DataFrame  # as read, after renames; all text
    frame: pd.DataFrame  # normalised contract columns (+ *_raw, nhs_number_invalid), then extras
    parse_failures: dict[str, np.ndarray] = field(default_factory=dict)  # reason -> mask
    failed_columns: dict[str, np.ndarray] = field(default_factory=dict)  # column -> mask
    extra_columns: list[str] = field(default_factory=list)
    absent_optional_columns: list[str] = field(default_factory=list)

    def latest_event(self) -> pd.Timestamp | None:
        column = self.source.event_date_column
        if column is None or len(self.frame) == 0:
            return None
        latest = self.frame[column].max()
        return None if pd.isna(latest) else latest


def apply_value_map(raw: pd.Series, value_map: dict[str, str]) -> pd.Series:
    """Replace values case-insensitively; values not in the map pass through unchanged, unless
    the map has a catch-all (``"*": other``), which every other present value becomes."""
    folded = {k.strip().casefold(): v for k, v in value_map.items() if k != CATCH_ALL}
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    if len(uniques) == 0:
        return raw
    otherwise = value_map.get(CATCH_ALL)
    mapped = pd.array(
        [folded.get(str(u).strip().casefold(), u if otherwise is None else otherwise) for u in uniques], dtype="str"
    )
    out = pd.Series(mapped.take(np.where(codes >= 0, codes, 0)), index=raw.index, dtype="str")
    out[codes < 0] = None
    return out


def normalise_source(source: Source, raw: pd.DataFrame, mapping: SourceMapping) -> NormalisedSource:
    n = len(raw)
    out: dict[str, pd.Series] = {}
    result = NormalisedSource(source=source, raw=raw, frame=pd.DataFrame())
    empty = pd.Series(pd.array([None] * n, dtype="str"), index=raw.index)
    for col in source.columns:
        if col.name in raw.columns:
            values = raw[col.name]
        else:
            values = empty
            result.absent_optional_columns.append(col.name)
        if col.name in mapping.value_maps:
            values = apply_value_map(values, mapping.value_maps[col.name])
        kind = col.kind
        failed: pd.Series | None = None
        if kind in (Kind.ID, Kind.TEXT):
            out[col.name] = values
        elif kind is Kind.NAME:
            out[col.name] = nz.parse_names(values)
            out[raw_name(col.name)] = values
        elif kind is Kind.NHS_NUMBER:
            out[col.name], out[NHS_INVALID] = nz.parse_nhs_numbers(values)
        elif kind is Kind.POSTCODE:
            out[col.name] = nz.parse_postcodes(values)
        elif kind is Kind.DATE:
            out[col.name], failed = nz.parse_dates(values, mapping.formats_for(col.name, kind))
        elif kind is Kind.DATETIME:
            out[col.name], failed = nz.parse_datetimes(values, mapping.formats_for(col.name, kind))
        elif kind is Kind.SEX:
            out[col.name] = nz.parse_codes(values, upper=True)
        elif kind is Kind.CODE:
            out[col.name] = nz.parse_codes(values)
        elif kind is Kind.CODE_LIST:
            out[col.name], failed = nz.parse_icd10_lists(values)
        elif kind is Kind.SNOMED:
            out[col.name], failed = nz.parse_snomed(values)
        elif kind is Kind.BNF:
            out[col.name], failed = nz.parse_bnf(values)
        elif kind is Kind.BOOL:
            out[col.name], failed = nz.parse_bools(values)
        elif kind is Kind.NUMBER:
            out[col.name], failed = nz.parse_numbers(values)
        elif kind is Kind.INT:
            out[col.name], failed = nz.parse_ints(values)
        else:  # pragma: no cover - every Kind is handled above
            raise AssertionError(f"no normaliser for {kind}")
        if failed is not None and failed.any():
            mask = failed.to_numpy(dtype=bool)
            result.parse_failures[parse_failure_reason(col.name, kind)] = mask
            result.failed_columns[col.name] = mask
    contract = set(source.column_names)
    result.extra_columns = [c for c in raw.columns if c not in contract]
    for extra in result.extra_columns:
        out[extra] = raw[extra]
    result.frame = pd.DataFrame(out, index=raw.index)
    return result


@dataclass
class ValidatedSource:
    accepted: pa.Table
    quarantined: pa.Table
    reasons: dict[str, int]
    nhs_number_invalid: int | None
    first_rows: dict[str, int] = field(default_factory=dict)  # reason -> its first row_number
    # Rows quarantined for something besides falling after the extract date (a cut the analyst
    # asked for with --extract-date, not a fault of the data).
    faulty: int = 0

    @property
    def rows(self) -> int:
        return self.accepted.num_rows + self.quarantined.num_rows

    @property
    def faulty_share(self) -> float:
        return self.faulty / self.rows if self.rows else 0.0


def _compose_reasons(masks: dict[str, np.ndarray], bad: np.ndarray) -> pa.Array:
    """The ``; ``-joined reasons of each bad row, built once per distinct combination of reasons."""
    names = list(masks)
    # A source has a few dozen possible reasons at most (a handful per column): one bit each.
    if len(names) > 62:  # pragma: no cover
        raise AssertionError(f"too many distinct reasons to encode: {len(names)}")
    combo = np.zeros(int(bad.sum()), dtype=np.int64)
    for bit, name in enumerate(names):
        combo |= masks[name][bad].astype(np.int64) << bit
    distinct, codes = np.unique(combo, return_inverse=True)
    text = [REASON_SEPARATOR.join(n for bit, n in enumerate(names) if (int(c) >> bit) & 1) for c in distinct]
    return pa.array(text, type=pa.string()).take(pa.array(codes.astype(np.int64)))


def validate_source(norm: NormalisedSource, extract_date: dt.date | None) -> ValidatedSource:
    source, frame = norm.source, norm.frame
    schema = build_schema(source, extract_date)
    masks = dict(norm.parse_failures)
    for reason, mask in row_reasons(schema, frame).items():
        masks[reason] = masks.get(reason, np.zeros(len(frame), dtype=bool)) | mask
    # "Missing" is only a reason when the value was absent as given: an unparseable value has
    # its own reason, and an NHS number failing its check is flagged, not rejected.
    for col in source.required_columns:
        reason = missing_reason(col)
        if reason not in masks:
            continue
        if col in norm.failed_columns:
            masks[reason] &= ~norm.failed_columns[col]
        if source.column(col).kind is Kind.NHS_NUMBER:
            masks[reason] &= ~frame[NHS_INVALID].to_numpy(dtype=bool)
    masks = {reason: mask for reason, mask in masks.items() if mask.any()}

    n = len(frame)
    bad = np.zeros(n, dtype=bool)
    faulty = np.zeros(n, dtype=bool)
    cut = after_extract_reason(source.event_date_column) if source.event_date_column else None
    for reason, mask in masks.items():
        bad |= mask
        if reason != cut:
            faulty |= mask
    row_numbers = np.arange(1, n + 1, dtype=np.int64)

    accepted = to_arrow(source, frame.loc[~bad], row_numbers[~bad])
    quarantined_raw = norm.raw.loc[bad]
    q_columns = {ROW_NUMBER: pa.array(row_numbers[bad])}
    for col in quarantined_raw.columns:
        q_columns[col] = _string_array(quarantined_raw[col])
    q_columns[REASONS] = _compose_reasons(masks, bad)
    quarantined = pa.table(q_columns)
    nhs_invalid = int(frame.loc[~bad, NHS_INVALID].sum()) if NHS_INVALID in frame.columns else None
    return ValidatedSource(
        accepted=accepted,
        quarantined=quarantined,
        reasons={reason: int(mask.sum()) for reason, mask in masks.items()},
        nhs_number_invalid=nhs_invalid,
        first_rows={reason: int(np.argmax(mask)) + 1 for reason, mask in masks.items()},
        faulty=int(faulty.sum()),
    )


def arrow_type(kind: Kind) -> pa.DataType:
    return ARROW_TYPES.get(kind, pa.string())


def output_schema(source: Source, extra_columns: list[str] = ()) -> pa.Schema:
    """The Arrow schema of ``WS/ingested/<source>.parquet``."""
    fields = [pa.field(ROW_NUMBER, pa.int64(), nullable=False)]
    for col in source.columns:
        fields.append(pa.field(col.name, arrow_type(col.kind)))
        if col.kind is Kind.NAME:
            fields.append(pa.field(raw_name(col.name), pa.string()))
    if "nhs_number" in source.column_names:
        fields.append(pa.field(NHS_INVALID, pa.bool_(), nullable=False))
    fields.extend(pa.field(name, pa.string()) for name in extra_columns)
    return pa.schema(fields)


def _string_array(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    arr = pa.array(series.array) if isinstance(series.dtype, pd.StringDtype) else None
    if arr is None:
        arr = pa.array(series.to_numpy(dtype=object, na_value=None), type=pa.string())
    return arr.cast(pa.string())


def to_arrow(source: Source, frame: pd.DataFrame, row_numbers: np.ndarray) -> pa.Table:
    extras = [c for c in frame.columns if c not in set(output_schema(source).names)]
    schema = output_schema(source, extras)
    arrays = [pa.array(row_numbers, type=pa.int64())]
    for fld in schema:
        if fld.name == ROW_NUMBER:
            continue
        series = frame[fld.name]
        if pa.types.is_date32(fld.type):
            arr = pa.array(series.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s")).cast(pa.date32())
        elif pa.types.is_timestamp(fld.type):
            arr = pa.array(series.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
        elif pa.types.is_string(fld.type):
            arr = _string_array(series)
        else:
            arr = pa.Array.from_pandas(series, type=fld.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)
