"""Normalisers for identifiers, codes and dates: scalar reference versions and vectorised ones.

The scalar functions (``normalise_postcode``, ``normalise_name``) are the readable definition;
linkage and scoring reuse them. NHS numbers follow the one rule in :mod:`falls_risk.identity`.
The vectorised versions work on pandas Series and compute each distinct value once (extracts
repeat values heavily: a few thousand dates and NHS numbers across millions of GP events), so
ingest never loops over rows in Python.

Every vectorised parser returns ``(values, failed)``: ``failed`` is True where a value was
present but could not be parsed; a missing value is never a failure here (whether it is allowed
is the schema's business).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from falls_risk.identity import normalise_nhs_numbers

_POSTCODE_COMPACT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_ICD10 = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,2}$")
_SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")
_BNF = re.compile(r"^[0-9]{7}[0-9A-Z]{0,8}$")
ISO_DATE = "%Y-%m-%d"
ISO_DATETIMES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
# What a typed date becomes in a Parquet timestamp or a spreadsheet: the date at midnight.
ISO_MIDNIGHTS = ("%Y-%m-%d 00:00:00", "%Y-%m-%dT00:00:00")


# --- scalar reference versions -------------------------------------------------------------


def normalise_postcode(value: str | None) -> str | None:
    """Upper case, one space before the inward code (``cf101aa`` -> ``CF10 1AA``).

    A value that is not shaped like a UK postcode is upper-cased with its spaces removed, so it
    never matches a real postcode by accident. Blank -> None.
    """
    if value is None:
        return None
    compact = re.sub(r"\s+", "", value).upper()
    if not compact:
        return None
    if _POSTCODE_COMPACT.match(compact):
        return f"{compact[:-3]} {compact[-3:]}"
    return compact


def normalise_name(value: str | None) -> str | None:
    """Case-folded, accents stripped, inner whitespace collapsed (``  José  O'Néill`` -> ``jose o'neill``)."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = " ".join(stripped.casefold().split())
    return folded or None


def normalise_code(value: str | None) -> str | None:
    """Codes are case-insensitive: lower case, spaces and hyphens become underscores."""
    if value is None:
        return None
    out = re.sub(r"[\s-]+", "_", value.strip()).casefold()
    return out or None


# --- vectorised helpers ---------------------------------------------------------------------


def _map_uniques(series: pd.Series, scalar: Callable[[str], object], dtype: str) -> pd.Series:
    """Vectorise a scalar normaliser by applying it to the distinct values only."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = pd.array([scalar(u) for u in uniques], dtype=dtype)
    if len(mapped) == 0:
        return pd.Series(pd.array([None] * len(series), dtype=dtype), index=series.index)
    taken = mapped.take(np.where(codes >= 0, codes, 0))
    out = pd.Series(taken, index=series.index, dtype=dtype)
    out[codes < 0] = None
    return out


def present(series: pd.Series) -> np.ndarray:
    return series.notna().to_numpy(dtype=bool)


def parse_nhs_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Returns (normalised NHS numbers, invalid flag). Invalid -> missing, flagged True.

    The rule is :func:`falls_risk.identity.normalise_nhs_number`; ingest applies it once, so
    every later stage reads 10 valid digits or nothing.
    """
    clean = normalise_nhs_numbers(raw)
    invalid = pd.Series(present(raw) & ~present(clean), index=raw.index)
    return clean, invalid


def parse_postcodes(raw: pd.Series) -> pd.Series:
    return _map_uniques(raw, normalise_postcode, "str")


def parse_names(raw: pd.Series) -> pd.Series:
    return _map_uniques(raw, normalise_name, "str")


def parse_codes(raw: pd.Series, upper: bool = False) -> pd.Series:
    out = _map_uniques(raw, normalise_code, "str")
    return out.str.upper() if upper else out


def _parse_with_formats(raw: pd.Series, formats: Sequence[str]) -> pd.Series:
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    values = pd.Series(uniques, dtype="str")
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    for fmt in formats:
        todo = parsed.isna()
        if not todo.any():
            break
        attempt = pd.to_datetime(values[todo], format=fmt, errors="coerce")
        parsed[todo] = attempt.astype("datetime64[s]")
    arr = parsed.to_numpy(dtype="datetime64[s]")
    if len(arr) == 0:
        return pd.Series(np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[s]"), index=raw.index)
    out = arr[np.where(codes >= 0, codes, 0)]
    out[codes < 0] = np.datetime64("NaT")
    return pd.Series(out, index=raw.index)


def parse_dates(raw: pd.Series, formats: Sequence[str] = ()) -> tuple[pd.Series, pd.Series]:
    """Dates as ``datetime64[s]`` at midnight. Declared formats first, ISO always as a fallback
    (a date, or a date at midnight as typed timestamps export)."""
    fmts = [*formats, *[f for f in (ISO_DATE, *ISO_MIDNIGHTS) if f not in formats]]
    parsed = _parse_with_formats(raw, fmts)
    failed = pd.Series(present(raw) & parsed.isna().to_numpy(), index=raw.index)
    return parsed, failed


def parse_datetimes(raw: pd.Series, formats: Sequence[str] = ()) -> tuple[pd.Series, pd.Series]:
    """ISO datetimes with ``T`` or a space (seconds optional), or an ISO date alone (midnight, as a
    spreadsheet shows a midnight time); declared formats first."""
    text = raw.str.replace("T", " ", n=1, regex=False) if not formats else raw
    fmts = [*formats, *ISO_DATETIMES, ISO_DATE]
    parsed = _parse_with_formats(text, fmts)
    if formats:  # the ISO fallback on the T-less text
        todo = parsed.isna() & raw.notna()
        if todo.any():
            parsed[todo] = _parse_with_formats(
                raw[todo].str.replace("T", " ", n=1, regex=False), (*ISO_DATETIMES, ISO_DATE)
            )
    failed = pd.Series(present(raw) & parsed.isna().to_numpy(), index=raw.index)
    return parsed, failed


def parse_icd10_lists(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``s72.0; w01.0`` -> ``S720;W010``. Any part that is not an ICD-10 code fails the row."""

    def one(value: str) -> str | None:
        parts = [re.sub(r"[\s.]", "", p).upper() for p in value.split(";")]
        parts = [p for p in parts if p]
        if not parts or not all(_ICD10.match(p) for p in parts):
            return None
        return ";".join(parts)

    parsed = _map_uniques(raw, one, "str")
    return parsed, pd.Series(present(raw) & ~present(parsed), index=raw.index)


def _pattern_parser(
    pattern: re.Pattern[str], upper: bool
) -> Callable[[pd.Series], tuple[pd.Series, pd.Series]]:
    def parse(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
        def one(value: str) -> str | None:
            text = re.sub(r"\s+", "", value)
            text = text.upper() if upper else text
            return text if pattern.match(text) else None

        parsed = _map_uniques(raw, one, "str")
        return parsed, pd.Series(present(raw) & ~present(parsed), index=raw.index)

    return parse


parse_snomed = _pattern_parser(_SNOMED, upper=False)
parse_bnf = _pattern_parser(_BNF, upper=True)


def parse_bools(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    lookup = {"true": True, "false": False}
    parsed = _map_uniques(raw, lambda v: lookup.get(v.strip().casefold()), "boolean")
    return parsed, pd.Series(present(raw) & ~present(parsed), index=raw.index)


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Non-negative finite decimals (``inf`` and ``-1`` fail: hours and counts are neither)."""
    parsed = pd.to_numeric(raw, errors="coerce").astype("float64")
    parsed[(parsed < 0) | ~np.isfinite(parsed)] = np.nan
    return parsed, pd.Series(present(raw) & parsed.isna().to_numpy(), index=raw.index)


def parse_ints(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Non-negative whole numbers (``12`` or ``12.0``): ranks and counts."""
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    whole = numbers.notna() & (numbers == np.floor(numbers)) & (numbers >= 0) & (numbers < 2**53)
    parsed = pd.Series(pd.array([None] * len(raw), dtype="Int64"), index=raw.index)
    parsed[whole] = numbers[whole].astype("int64")
    return parsed, pd.Series(present(raw) & ~whole.to_numpy(), index=raw.index)
