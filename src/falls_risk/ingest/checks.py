"""Whole-extract checks that stop an ingest loudly: an extract date the data cannot bear, and a
source whose rows are (almost) all quarantined.

Messages name rows by file, row and column, never by their values: a quarantined row may hold
a name or a date of birth, and these messages reach terminals and logs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from falls_risk.contract import SOURCES
from falls_risk.errors import format_examples
from falls_risk.ingest.readers import ReadSource, SourceFile
from falls_risk.ingest.schema import after_extract_reason
from falls_risk.ingest.validate import NormalisedSource, ValidatedSource

BULK_QUANTILE = 0.99
# Below this many dated events a percentile says little about where the data ends: the bulk
# check is left out (the check against today still holds).
BULK_MIN_EVENTS = 200
EXAMPLE_ROWS = 5
TOP_REASONS = 3


def _event_days(norm: NormalisedSource) -> np.ndarray | None:
    column = norm.source.event_date_column
    if column is None or len(norm.frame) == 0:
        return None
    return norm.frame[column].to_numpy(dtype="datetime64[s]").astype("datetime64[D]")


def day_counts(normalised: dict[str, NormalisedSource]) -> pd.Series:
    """How many events fall on each day, over every source (a few thousand days, whatever the rows)."""
    counts: list[pd.Series] = []
    for norm in normalised.values():
        days = _event_days(norm)
        if days is None:
            continue
        days = days[~np.isnat(days)]
        unique, n = np.unique(days, return_counts=True)
        counts.append(pd.Series(n, index=unique))
    if not counts:
        return pd.Series([], dtype="int64")
    return pd.concat(counts).groupby(level=0).sum().sort_index()


def bulk_end(counts: pd.Series) -> dt.date | None:
    """The date by which 99% of the extract's events happened (an actual event date); None
    for an extract too small to say."""
    total = int(counts.sum())
    if total < BULK_MIN_EVENTS:
        return None
    k = int(np.floor(BULK_QUANTILE * (total - 1)))
    position = int(np.searchsorted(counts.cumsum().to_numpy(), k, side="right"))
    return pd.Timestamp(counts.index[position]).date()


def rows_after(normalised: dict[str, NormalisedSource], day: dt.date) -> pd.DataFrame:
    """``source``, ``row_number``, ``day`` of the events dated after ``day`` (few, when asked)."""
    limit = np.datetime64(day, "D")
    frames = []
    for name, norm in normalised.items():
        days = _event_days(norm)
        if days is None:
            continue
        late = np.flatnonzero(~np.isnat(days) & (days > limit))
        frames.append(pd.DataFrame({"source": name, "row_number": late + 1, "day": days[late]}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"source": [], "row_number": [], "day": []})
    out["day"] = pd.to_datetime(out["day"]).dt.date
    return out


def name_rows(rows: pd.DataFrame, reads: dict[str, ReadSource], files: dict[str, SourceFile]) -> str:
    """``ed_attendances.csv row 17 (arrival_time 2099-03-01)``, latest first, a few of them."""
    shown = rows.sort_values(["day", "source", "row_number"], ascending=[False, True, True])
    named = [
        f"{_where(src, int(row), reads, files)} ({SOURCES[src].event_date_column} {day})"
        for src, row, day in zip(shown["source"], shown["row_number"], shown["day"], strict=True)
    ]
    return format_examples(named, limit=EXAMPLE_ROWS)


def _where(source: str, row_number: int, reads: dict[str, ReadSource], files: dict[str, SourceFile]) -> str:
    read = reads.get(source)
    if read is not None and len(read.parts) > 1:
        return read.where(row_number)
    return f"{files[source].path.name} row {row_number}"


def reason_column(source: str, reason: str) -> str | None:
    """The contract column a quarantine reason is about (the first one it names)."""
    words = re.findall(r"\w+", reason)
    columns = SOURCES[source].column_names
    return next((w for w in words if w in columns), None)


@dataclass(frozen=True)
class QuarantineBreach:
    source: str
    file: str
    read: int
    quarantined: int
    limit: float
    top: tuple[str, ...]  # "reason: N rows (e.g. file row 3, column x)"

    @property
    def share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0

    def describe(self) -> str:
        return (
            f"{self.source} ({self.file}): {self.quarantined:,} of {self.read:,} rows quarantined "
            f"({self.share:.1%}, above the {self.limit:.1%} allowed); top reasons: {'; '.join(self.top)}"
        )


def quarantine_breach(
    source: str, result: ValidatedSource, limit: float, read: ReadSource | None, file: SourceFile
) -> QuarantineBreach | None:
    """The source's breach of its quarantine limit, with its top reasons and an example row of each."""
    if result.rows == 0 or result.faulty_share <= limit:
        return None
    cut = after_extract_reason(SOURCES[source].event_date_column or "")
    reasons = sorted(
        ((r, n) for r, n in result.reasons.items() if r != cut), key=lambda kv: (-kv[1], kv[0])
    )[:TOP_REASONS]
    top = []
    for reason, count in reasons:
        row = result.first_rows[reason]
        where = read.where(row) if read is not None and len(read.parts) > 1 else f"{file.path.name} row {row}"
        column = reason_column(source, reason)
        plural = "" if count == 1 else "s"
        column_text = f", column {column}" if column else ""
        top.append(f"{reason}: {count:,} row{plural} (e.g. {where}{column_text})")
    return QuarantineBreach(source, file.name, result.rows, result.faulty, limit, tuple(top))


def breach_message(breaches: list[QuarantineBreach], workspace: str) -> str:
    listed = "\n- ".join(b.describe() for b in breaches)
    return (
        f"Too many rows quarantined, so nothing was written to {workspace}:\n- {listed}\n"
        "Usually the mapping does not fit the export (a date format, a value map, a renamed column): fix it "
        "(falls-risk inspect EXTRACT_DIR shows what the files hold) and re-run. To go on knowingly, re-run with "
        "--accept-quarantine (recorded in the ingest summary) and look at the rows in the quarantine folder."
    )
