"""Pandera schemas generated from the contract, and their failures mapped back to rows.

``build_schema(source, extract_date)`` turns one ``contract.Source`` into a
``pandera.DataFrameSchema`` over the *normalised* frame: a dtype per column kind, required
columns non-nullable, closed vocabularies as ``isin``, unique record ids, and the cross-field
rules (date of birth not after the event, an end not before its start, no event after the
extract date). Validation is lazy: every failure of every row is collected, then
``row_reasons`` turns pandera's failure cases into one boolean mask per reason.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa
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
)

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


def row_reasons(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Validate lazily; one boolean mask (by position) per reason a row failed."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return {}
    structural = cases[cases["index"].isna()]
    if len(structural):
        # A wrong dtype or a missing column is a bug in ingest, never the data's fault.
        raise RuntimeError(f"schema {schema.name}: structural failures:\n{structural.to_string()}")
    positions = frame.index.get_indexer(cases["index"].astype("int64"))
    masks: dict[str, np.ndarray] = {}
    for (column, check), idx in pd.Series(positions).groupby(
        [cases["column"].to_numpy(), cases["check"].to_numpy()]
    ):
        if check == NOT_NULLABLE:
            reason = missing_reason(column)
        elif check == UNIQUE:
            reason = duplicate_reason(column)
        else:
            reason = check  # every other check carries its reason as its error text
        mask = masks.setdefault(reason, np.zeros(len(frame), dtype=bool))
        mask[idx.to_numpy()] = True
    return masks
