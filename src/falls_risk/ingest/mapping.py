"""Mapping files: read an agency's own export unchanged.

A mapping is YAML (reference: ``docs/mapping.md``)::

    defaults:                          # shared by every source (each source may override)
      date_format: "%d/%m/%Y"
      value_maps:
        sex: {"1": M, "2": F, "9": U, "*": U}   # "*": every other value
    sources:
      social_care:
        file: wccis_export.xlsx        # default: <source>.csv / .parquet / .xlsx / .tsv / .txt
        sheet: Episodes                # Excel only; default: every sheet with the source's header
        encoding: cp1252               # text files only; default utf-8
        delimiter: "|"                 # text files only; default "," (.tsv: tab; .txt: guessed)
        null_values: ["NULL", "N/K"]   # extra spellings of "missing"
        rename: {"Client Ref": client_id, "First Name": forename}
        combine: {start_date: ["Start Day", "Start Time"]}   # one contract column from two
        date_format: "%d/%m/%Y"        # every date column of this source
        date_formats: {start_date: "%d/%m/%Y"}    # or per column (string or list)
        value_maps:
          sex: {"1": M, "2": F, "9": U}
      inpatient_spells:
        file: ["PEDW_2023.csv", "PEDW_2024.csv"]  # several files (or a glob: "PEDW_*.csv")

Everything is checked against the contract before any data is read: an unknown key, an unknown
source, a rename onto a column the source does not have, a date format on a column that is not a
date, all raise one :class:`MappingError` that names them (with the nearest valid name).
"""

from __future__ import annotations

import codecs
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from falls_risk.contract import SOURCES, Kind
from falls_risk.errors import MappingError, format_examples

# The value-map key that stands for "every other value" (missing values stay missing).
CATCH_ALL = "*"
DELIMITER_NAMES = {"comma": ",", "tab": "\t", "pipe": "|", "semicolon": ";", "\\t": "\t"}


def _as_text(value: Any) -> str:
    # YAML reads 1 as an int and true as a bool; a mapping means the text as written.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        raise ValueError("a value map entry cannot be empty")
    return str(value)


def suggestion(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, or nothing."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Shared(BaseModel):
    """Keys a source mapping and the shared defaults have in common."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = Field(None, description="Text file encoding (default utf-8).")
    delimiter: str | None = Field(None, description="Text file field separator: one character, or tab/pipe/comma.")
    null_values: tuple[str, ...] = Field((), description="Extra spellings of a missing value.")
    date_format: str | None = Field(None, description="strptime format for every date column.")
    datetime_format: str | None = Field(None, description="strptime format for every datetime column.")
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    max_quarantine_share: float | None = Field(
        None, ge=0.0, le=1.0, description="Above this share of quarantined rows ingest stops (default 0.05)."
    )

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

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = DELIMITER_NAMES.get(value.casefold(), value)
        if len(value) != 1 or value in "\"\r\n":
            raise ValueError(f"a delimiter is one character (or tab, pipe, comma, semicolon), got {value!r}")
        return value


class Defaults(_Shared):
    """What every source of the mapping shares (``defaults:``); a source's own keys win."""


class SourceMapping(_Shared):
    file: tuple[str, ...] | None = Field(
        None, description="File name(s) inside the extract folder: a name, a glob (PEDW_*.csv) or a list."
    )
    sheet: tuple[str | int, ...] | None = Field(None, description="Excel sheet name(s) or 0-based index.")
    rename: dict[str, str] = Field(default_factory=dict, description="Export column -> contract column.")
    combine: dict[str, tuple[str, str]] = Field(
        default_factory=dict, description="Contract column <- [date column, time column] of the export."
    )
    date_formats: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("file", "sheet", mode="before")
    @classmethod
    def _as_tuple(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str | int) and not isinstance(value, bool) else value

    @field_validator("date_formats", mode="before")
    @classmethod
    def _formats_as_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    def formats_for(self, column: str, kind: Kind) -> tuple[str, ...]:
        if column in self.date_formats:
            return self.date_formats[column]
        default = self.date_format if kind is Kind.DATE else self.datetime_format
        return (default,) if default else ()

    def with_defaults(self, defaults: Defaults) -> SourceMapping:
        """This source's mapping with the shared defaults filled in where it says nothing."""
        merged: dict[str, Any] = {}
        for key in ("encoding", "delimiter", "date_format", "datetime_format", "max_quarantine_share"):
            if getattr(self, key) is None and getattr(defaults, key) is not None:
                merged[key] = getattr(defaults, key)
        if defaults.null_values:
            merged["null_values"] = tuple(dict.fromkeys((*defaults.null_values, *self.null_values)))
        if defaults.value_maps:
            maps = {col: dict(m) for col, m in defaults.value_maps.items()}
            for col, m in self.value_maps.items():
                maps[col] = {**maps.get(col, {}), **m}
            merged["value_maps"] = maps
        return self.model_copy(update=merged) if merged else self


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    defaults: Defaults = Field(default_factory=Defaults)
    sources: dict[str, SourceMapping] = Field(default_factory=dict)

    def for_source(self, source: str) -> SourceMapping:
        own = self.sources.get(source, EMPTY_SOURCE_MAPPING)
        if self.defaults == EMPTY_DEFAULTS:
            return own
        # Shared value maps apply only to columns the source has (sex, conveyed ...).
        columns = set(SOURCES[source].column_names) if source in SOURCES else set()
        shared = self.defaults.model_copy(
            update={"value_maps": {c: m for c, m in self.defaults.value_maps.items() if c in columns}}
        )
        return own.with_defaults(shared)


EMPTY_SOURCE_MAPPING = SourceMapping()
EMPTY_DEFAULTS = Defaults()
EMPTY_MAPPING = Mapping()

_ALL_COLUMNS = sorted({c for s in SOURCES.values() for c in s.column_names})


def _check_columns(where: str, name: str, cols: Iterable[str], problems: list[str]) -> None:
    source = SOURCES[name]
    for col in cols:
        if col not in source.column_names:
            problems.append(
                f"{where}: unknown column {col!r}{suggestion(col, source.column_names)} "
                f"({name} has: {', '.join(source.column_names)})"
            )


def check_against_contract(mapping: Mapping, origin: str) -> None:
    """Every source and column the mapping names must exist in the contract."""
    problems: list[str] = []
    for col in mapping.defaults.value_maps:
        if col not in _ALL_COLUMNS:
            problems.append(f"defaults.value_maps: unknown column {col!r}{suggestion(col, _ALL_COLUMNS)}")
    for name, sm in mapping.sources.items():
        if name not in SOURCES:
            problems.append(
                f"unknown source {name!r}{suggestion(name, SOURCES)} (the contract has: {', '.join(SOURCES)})"
            )
            continue
        source = SOURCES[name]
        columns = set(source.column_names)
        targets: dict[str, str] = {}
        for export_col, target in sm.rename.items():
            if target not in columns:
                problems.append(
                    f"sources.{name}.rename: {export_col!r} -> unknown column {target!r}"
                    f"{suggestion(target, source.column_names)} ({name} has: {', '.join(source.column_names)})"
                )
            elif target in targets:
                problems.append(
                    f"sources.{name}.rename: both {targets[target]!r} and {export_col!r} "
                    f"are renamed to {target!r}"
                )
            targets[target] = export_col
        for col in sm.date_formats:
            if col not in columns:
                problems.append(
                    f"sources.{name}.date_formats: unknown column {col!r}{suggestion(col, source.column_names)}"
                )
            elif source.column(col).kind not in (Kind.DATE, Kind.DATETIME):
                problems.append(f"sources.{name}.date_formats: {col!r} is not a date or datetime column")
        _check_columns(f"sources.{name}.value_maps", name, sm.value_maps, problems)
        _check_columns(f"sources.{name}.combine", name, sm.combine, problems)
        for col in sm.combine:
            if col in targets:
                problems.append(
                    f"sources.{name}: {col!r} is both combined from two columns and renamed from {targets[col]!r}"
                )
        if sm.sheet is not None and sm.file is not None and not all(f.lower().endswith(".xlsx") for f in sm.file):
            problems.append(f"sources.{name}.sheet is only for Excel files, but file is {', '.join(sm.file)!r}")
    if problems:
        raise MappingError(
            f"{origin}: {format_examples(problems, limit=10)}. Fix the mapping file and re-run."
        )


def _describe(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden" and loc:
        parent: type[BaseModel] = Mapping
        if loc[:1] == ["defaults"]:
            parent = Defaults
        elif loc[:1] == ["sources"] and len(loc) == 3:
            parent = SourceMapping
        return f"{where}: unknown key {loc[-1]!r}{suggestion(loc[-1], parent.model_fields)}. Extra inputs are not permitted"
    return f"{where}: {err['msg']}"


def load_mapping(path: str | Path | None) -> Mapping:
    """Read and check a mapping YAML; ``None`` means the canonical contract with no mapping."""
    if path is None:
        return EMPTY_MAPPING
    path = Path(path)
    try:
        # Every scalar as the text written: a code 01 stays "01" (YAML would read 1), Y stays "Y".
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found. Check the path.") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not UTF-8 text. Save the mapping file as UTF-8.") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({exc}). Fix the file and re-run.") from None
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()]
        raise MappingError(
            f"{path}: {format_examples(problems, limit=10)}. "
            "See docs/mapping.md for the keys a mapping may use."
        ) from None
    check_against_contract(mapping, str(path))
    return mapping


def load_mappings(paths: str | Path | list[str | Path] | tuple[str | Path, ...] | None) -> Mapping:
    """One mapping from several files (``--mapping pedw.yaml --mapping wast.yaml``): each file's
    defaults apply to its own sources only, and no source may be mapped twice."""
    if paths is None or isinstance(paths, str | Path):
        return load_mapping(paths)
    if len(paths) == 1:
        return load_mapping(paths[0])
    sources: dict[str, SourceMapping] = {}
    origin: dict[str, str] = {}
    for path in paths:
        mapping = load_mapping(path)
        for name in mapping.sources:
            if name in sources:
                raise MappingError(
                    f"{path}: sources.{name} is also mapped in {origin[name]}. Map each source in one file."
                )
            sources[name] = mapping.for_source(name)
            origin[name] = str(path)
    return Mapping(description="; ".join(str(p) for p in paths), sources=sources)
