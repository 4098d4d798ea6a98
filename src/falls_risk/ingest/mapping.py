"""Mapping files: read an agency's own export unchanged.

A mapping is YAML (reference: ``docs/mapping.md``)::

    sources:
      social_care:
        file: wccis_export.xlsx        # default: <source>.csv / .parquet / .xlsx
        sheet: Episodes                # Excel only; default: the first sheet
        encoding: cp1252               # CSV only; default utf-8
        null_values: ["NULL", "N/K"]   # extra spellings of "missing"
        rename: {"Client Ref": client_id, "First Name": forename}
        date_format: "%d/%m/%Y"        # every date column of this source
        date_formats: {start_date: "%d/%m/%Y"}    # or per column (string or list)
        value_maps:
          sex: {"1": M, "2": F, "9": U}

Everything is checked against the contract before any data is read: an unknown source, a
rename onto a column the source does not have, a date format on a column that is not a date,
all raise one :class:`MappingError` that names them.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from falls_risk.contract import SOURCES, Kind
from falls_risk.errors import MappingError, format_examples


def _as_text(value: Any) -> str:
    # YAML reads 1 as an int and true as a bool; a mapping means the text as written.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise ValueError("a value map entry cannot be empty")
    return str(value)


class SourceMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = Field(None, description="File name inside the extract folder.")
    sheet: str | int | None = Field(None, description="Excel sheet name or 0-based index.")
    encoding: str | None = Field(None, description="CSV text encoding (default utf-8).")
    null_values: tuple[str, ...] = Field((), description="Extra spellings of a missing value.")
    rename: dict[str, str] = Field(default_factory=dict, description="Export column -> contract column.")
    date_format: str | None = Field(None, description="strptime format for every date column.")
    datetime_format: str | None = Field(None, description="strptime format for every datetime column.")
    date_formats: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("date_formats", mode="before")
    @classmethod
    def _formats_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("value_maps", mode="before")
    @classmethod
    def _maps_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                col: {_as_text(k): _as_text(v) for k, v in m.items()} if isinstance(m, dict) else m
                for col, m in value.items()
            }
        return value

    @field_validator("null_values", mode="before")
    @classmethod
    def _nulls_as_text(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_as_text(v) for v in value)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, cp1252, latin-1)") from None
        return value

    def formats_for(self, column: str, kind: Kind) -> tuple[str, ...]:
        if column in self.date_formats:
            return self.date_formats[column]
        default = self.date_format if kind is Kind.DATE else self.datetime_format
        return (default,) if default else ()


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    sources: dict[str, SourceMapping] = Field(default_factory=dict)

    def for_source(self, source: str) -> SourceMapping:
        return self.sources.get(source, EMPTY_SOURCE_MAPPING)


EMPTY_SOURCE_MAPPING = SourceMapping()
EMPTY_MAPPING = Mapping()


def check_against_contract(mapping: Mapping, origin: str) -> None:
    """Every source and column the mapping names must exist in the contract."""
    problems: list[str] = []
    for name, sm in mapping.sources.items():
        if name not in SOURCES:
            problems.append(f"unknown source {name!r} (the contract has: {', '.join(SOURCES)})")
            continue
        source = SOURCES[name]
        columns = set(source.column_names)
        targets: dict[str, str] = {}
        for export_col, target in sm.rename.items():
            if target not in columns:
                problems.append(
                    f"sources.{name}.rename: {export_col!r} -> unknown column {target!r} "
                    f"({name} has: {', '.join(source.column_names)})"
                )
            elif target in targets:
                problems.append(
                    f"sources.{name}.rename: both {targets[target]!r} and {export_col!r} "
                    f"are renamed to {target!r}"
                )
            targets[target] = export_col
        for col in sm.date_formats:
            if col not in columns:
                problems.append(f"sources.{name}.date_formats: unknown column {col!r}")
            elif source.column(col).kind not in (Kind.DATE, Kind.DATETIME):
                problems.append(f"sources.{name}.date_formats: {col!r} is not a date or datetime column")
        for col in sm.value_maps:
            if col not in columns:
                problems.append(
                    f"sources.{name}.value_maps: unknown column {col!r} ({name} has: "
                    f"{', '.join(source.column_names)})"
                )
        if sm.sheet is not None and sm.file is not None and not sm.file.lower().endswith(".xlsx"):
            problems.append(f"sources.{name}.sheet is only for Excel files, but file is {sm.file!r}")
    if problems:
        raise MappingError(
            f"{origin}: {format_examples(problems, limit=10)}. Fix the mapping file and re-run."
        )


def load_mapping(path: str | Path | None) -> Mapping:
    """Read and check a mapping YAML; ``None`` means the canonical contract with no mapping."""
    if path is None:
        return EMPTY_MAPPING
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found. Check the path.") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text. Save the mapping file as UTF-8.") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({exc}). Fix the file and re-run.") from None
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        ]
        raise MappingError(
            f"{path}: {format_examples(problems, limit=10)}. "
            "See docs/mapping.md for the keys a mapping may use."
        ) from None
    check_against_contract(mapping, str(path))
    return mapping
