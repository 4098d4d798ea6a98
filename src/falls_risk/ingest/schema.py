"""Pandera schemas generated from the contract, and their failures mapped back to rows.

``build_schema(source, extract_date)`` turns one ``contract.Source`` into a
``pandera.DataFrameSchema`` over the *normalised* frame: a dtype per column kind, required
columns non-nullable, closed vocabularies as ``isin``, unique record ids, and the cross-field
rules (date of birth not after the event nor before 1900, an end not before its start, a death
not before the birth, no event after the extract date). Validation is lazy: every failure of every row is collected, then
``row_reasons`` turns pandera's failure cases into one boolean mask per reason.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from falls_risk.contract import Kind, Source

# pandas dtype of each kind once normalised.
DTYPES: dict[Kind, str] = {
    Kind.ID: "str",
    Kind.TEXT: "str",
    Kind.NAME: "str",
    Kind.NHS_NUMBER: "str",
    Kind.POSTCODE: "str",
    Kind.DATE: "datetime64[s]",
    Kind.DATETIME: "datetime64[s]",
    Kind.SEX: "str",
    Kind.CODE: "str",
    Kind.CODE_LIST: "str",
    Kind.SNOMED: "str",
    Kind.BNF: "str",
    Kind.BOOL: "boolean",
    Kind.NUMBER: "float64",
    Kind.INT: "Int64",
}

# Pairs (start, end) where the end may not come before the start, when both are given.
DATE_ORDER: tuple[tuple[str, str], ...] = (
    ("admission_date", "discharge_date"),
    ("start_date", "end_date"),
    ("application_date", "completed_date"),
    ("registration_date", "deregistration_date"),
    ("date_of_birth", "date_of_death"),
)
# No one alive in the data was born before this: an earlier date of birth is a typo or a placeholder.
EARLIEST_BIRTH = dt.date(1900, 1, 1)

NOT_NULLABLE = "not_nullable"
UNIQUE = "field_uniqueness"


def missing_reason(column: str) -> str:
    return f"missing {column}"


def duplicate_reason(column: str) -> str:
    return f"duplicate {column}"


def vocabulary_reason(column: str, vocabulary: tuple[str, ...]) -> str:
    return f"{column} not one of {'/'.join(vocabulary)}"


def after_extract_reason(column: str) -> str:
    return f"{column} after the extract date"


def dob_after_reason(event_column: str) -> str:
    return f"date_of_birth after {event_column}"


def dob_too_early_reason() -> str:
    return f"date_of_birth before {EARLIEST_BIRTH.year}"


def order_reason(start: str, end: str) -> str:
    return f"{end} before {start}"


def _day(series: pd.Series) -> pd.Series:
    return series.dt.floor("D")


def build_schema(source: Source, extract_date: dt.date | None) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {}
    for col in source.columns:
        checks = []
        vocab = col.vocabulary
        if vocab:
            checks.append(pa.Check.isin(list(vocab), error=vocabulary_reason(col.name, vocab)))
        unique = col.name == source.id_column and source.id_unique
        columns[col.name] = pa.Column(
            DTYPES[col.kind],
            checks=checks,
            nullable=not col.required,
            unique=unique,
            report_duplicates="exclude_first",
            required=True,
        )
    if "nhs_number" in source.column_names:
        columns["nhs_number_invalid"] = pa.Column("bool", nullable=False)

    frame_checks = []
    event = source.event_date_column
    names = set(source.column_names)
    if event and "date_of_birth" in names and event != "date_of_birth":
        frame_checks.append(
            pa.Check(
                lambda df, e=event: ~(df["date_of_birth"] > _day(df[e])),
                error=dob_after_reason(event),
            )
        )
    if "date_of_birth" in names:
        earliest = pd.Timestamp(EARLIEST_BIRTH)
        frame_checks.append(
            pa.Check(lambda df: ~(df["date_of_birth"] < earliest), error=dob_too_early_reason())
        )
    for start, end in DATE_ORDER:
        if start in names and end in names:
            frame_checks.append(
                pa.Check(lambda df, s=start, e=end: ~(df[e] < df[s]), error=order_reason(start, end))
            )
    if event and extract_date is not None:
        limit = pd.Timestamp(extract_date)
        frame_checks.append(
            pa.Check(lambda df, e=event: ~(_day(df[e]) > limit), error=after_extract_reason(event))
        )
    return pa.DataFrameSchema(
        columns, checks=frame_checks, strict=False, coerce=False, name=source.name, unique_column_names=True
    )


def _reason_for(column: str, check: str) -> str:
    if check == NOT_NULLABLE:
        return missing_reason(column)
    if check == UNIQUE:
        return duplicate_reason(column)
    return check  # every other check carries its reason as its error text


def _structural_validation(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> None:
    """Columns present with the schema's dtypes; a failure here is a bug in ingest, never the data's."""
    # On an empty slice: the columns and dtypes are the frame's, and no per-row work is done.
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            schema.validate(frame.iloc[:0], lazy=True)
    except SchemaErrors as exc:
        raise RuntimeError(
            f"schema {schema.name}: structural failures:\n{exc.failure_cases.to_string()}"
        ) from None


def _failing(output: object, index: pd.Index) -> np.ndarray:
    """Rows a check failed. Pandera leaves out the rows it skipped (nulls, with ``ignore_na``)."""
    if isinstance(output, pd.DataFrame):  # an element-wise check on a frame: a row fails if any cell does
        output = output.all(axis=1)
    if not isinstance(output, pd.Series):
        raise TypeError(f"ingest checks must be vectorised (one result per row), got {type(output).__name__}")
    passed = output.reindex(index, fill_value=True).astype("boolean").fillna(True)
    return ~passed.to_numpy(dtype=bool)


def row_reasons(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every failure of every row, as one boolean mask (by position) per reason.

    Pandera validates the structure (columns and dtypes, at SCHEMA_ONLY depth); the row-level
    rules are the same schema's own components (``nullable``, ``unique``, each ``Check``),
    evaluated to boolean masks. Lazy ``validate`` would give the same failures (see
    ``row_reasons_from_failure_cases``, which the tests compare against), but it materialises a
    failure case per failing value, about 15 us each: minutes and gigabytes when a whole column
    fails, e.g. a mistyped ``--extract-date`` on millions of GP events.
    """
    _structural_validation(schema, frame)
    masks: dict[str, np.ndarray] = {}

    def add(reason: str, failed: np.ndarray) -> None:
        if failed.any():
            masks[reason] = masks.get(reason, np.zeros(len(frame), dtype=bool)) | failed

    for name, column in schema.columns.items():
        series = frame[name]
        if not column.nullable:
            add(missing_reason(name), series.isna().to_numpy(dtype=bool))
        if column.unique:
            keep = "first" if column.report_duplicates == "exclude_first" else False
            add(duplicate_reason(name), (series.duplicated(keep=keep) & series.notna()).to_numpy(dtype=bool))
        for check in column.checks:
            add(_reason_for(name, check.error), _failing(check(series).check_output, frame.index))
    for check in schema.checks:
        add(check.error, _failing(check(frame).check_output, frame.index))
    return masks


def row_reasons_from_failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Reference: pandera's lazy validation, its failure cases mapped back to rows (slow when many fail)."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return {}
    if cases["index"].isna().any():
        raise RuntimeError(f"schema {schema.name}: structural failures:\n{cases.to_string()}")
    positions = frame.index.get_indexer(cases["index"].astype("int64"))
    masks: dict[str, np.ndarray] = {}
    for (column, check), idx in pd.Series(positions).groupby(
        [cases["column"].to_numpy(), cases["check"].to_numpy()]
    ):
        reason = _reason_for(column, check)
        mask = masks.setdefault(reason, np.zeros(len(frame), dtype=bool))
        mask[idx.to_numpy()] = True
    return masks
