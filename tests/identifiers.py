"""Scan what a run wrote for the direct identifiers of a synthetic world's true people (tests only).

The values looked for come from the world's truth (``truth/people.parquet``): NHS numbers, names,
dates of birth, postcodes and address lines. Every file under the given folders is read the way
it can hold text: Parquet tables cell by cell (string cells; 10-digit integers; date columns made
mostly of dates of birth), SQLite databases (the MLflow and Optuna stores) row by row, and every
other file as text (binary files decoded byte for byte, so a pickled value shows too). The
identifiable artefacts of the catalog (ingested extracts, quarantine, the clerical-review file,
the risk list, the scoring work folder) are left out: they are the places identifiers may live.
"""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from falls_risk import catalog

_TEN_DIGITS = re.compile(r"(?<!\d)\d{10}(?!\d)")
_DATE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)-\d\d-\d\d(?!\d)")


@dataclass
class Identifiers:
    nhs_numbers: set[str]
    names: set[str]  # case-folded forenames and surnames: a table cell holding one is a leak
    full_names: set[str]  # case-folded "forename surname": text holding one is a leak
    dates_of_birth: set[str]
    postcodes: set[str]  # upper case, with and without the space
    addresses: set[str]  # case-folded address lines
    found: list[str] = field(default_factory=list)

    @classmethod
    def of_world(cls, truth: Path) -> Identifiers:
        people = catalog.TRUTH_PEOPLE.load(truth)
        names = set()
        for column in ("forename", "surname", "previous_surname"):
            names |= {str(v).casefold() for v in people[column].dropna() if len(str(v)) >= 3}
        full_names = {f"{f} {s}".casefold() for f, s in zip(people["forename"], people["surname"], strict=True)
                      if isinstance(f, str) and isinstance(s, str)}
        postcodes = {str(v).upper() for v in people["postcode"].dropna()}
        return cls(
            nhs_numbers=set(people["nhs_number"].dropna().astype(str)),
            names=names,
            full_names=full_names,
            dates_of_birth={str(v) for v in people["date_of_birth"].dropna()},
            postcodes=postcodes | {p.replace(" ", "") for p in postcodes},
            addresses={str(v).casefold() for v in people["address_line"].dropna() if len(str(v)) >= 8},
        )

    # --- what counts as a hit ---------------------------------------------------------------------
    def check_text(self, text: str, where: str) -> None:
        upper, folded = text.upper(), text.casefold()
        hits = {
            "NHS number": set(_TEN_DIGITS.findall(text)) & self.nhs_numbers,
            "date of birth": {m.group(0) for m in _DATE.finditer(text)} & self.dates_of_birth,
            "postcode": {p for p in self.postcodes if " " in p and p in upper},
            "name": {n for n in self.full_names if n in folded},
            "address": {a for a in self.addresses if a in folded},
        }
        shown = [f"{kind} {sorted(values)[:3]} ({len(values)})" for kind, values in hits.items() if values]
        if shown:
            self.found.append(f"{where}: {'; '.join(shown)}")

    def check_table(self, table: pa.Table, where: str) -> None:
        self.check_text(" ".join(table.column_names), f"{where} (column names)")
        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = column.type
            if pa.types.is_dictionary(kind):
                column, kind = column.cast(kind.value_type), kind.value_type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                values = {v for v in column.to_pylist() if v}
                self.check_text("\n".join(sorted(values)), f"{where} column {name}")
                self.check_cells(values, f"{where} column {name}")
            elif pa.types.is_integer(kind):
                values = {str(v) for v in column.to_pylist() if v is not None and 10**9 <= v < 10**10}
                if values & self.nhs_numbers:
                    self.found.append(f"{where} column {name}: NHS numbers as integers")
            elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
                values = [v.date() if hasattr(v, "date") else v for v in column.to_pylist() if v is not None]
                days = [v.isoformat() for v in values if isinstance(v, date)]
                if days and sum(d in self.dates_of_birth for d in days) > len(days) / 2:
                    self.found.append(f"{where} column {name}: mostly dates of birth")

    def check_cells(self, values: Iterable[object], where: str) -> None:
        """Table cells that are a true person's forename or surname (a leaked name column)."""
        named = {str(v).strip().casefold() for v in values} & self.names
        if len(named) >= 3:  # one or two coincidences (a code 'may') are not a column of names
            self.found.append(f"{where}: names {sorted(named)[:3]} ({len(named)})")

    def check_file(self, path: Path, where: str) -> None:
        if path.suffix == ".parquet":
            self.check_table(pq.read_table(path), where)
        elif path.suffix in {".db", ".sqlite"} or path.read_bytes()[:16] == b"SQLite format 3\x00":
            self.check_sqlite(path, where)
        else:
            self.check_text(path.read_bytes().decode("utf-8", errors="replace"), where)

    def check_sqlite(self, path: Path, where: str) -> None:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for table in tables:
                rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
                cells = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c)
                         for row in rows for c in row if c is not None]
                self.check_text("\n".join(cells), f"{where} table {table}")
                self.check_cells(cells, f"{where} table {table}")
        finally:
            con.close()


def _identifiable_patterns() -> list[tuple[str, ...]]:
    return [tuple(re.sub(r"\{[^}]+\}", "*", a.template).split("/")) for a in catalog.ARTEFACTS
            if a.identifiable and a.root is not catalog.Root.TRUTH]


def _identifiable(parts: tuple[str, ...], patterns: list[tuple[str, ...]]) -> bool:
    """Some run of the path's parts is an identifiable artefact (the file itself, or a folder it is in)."""
    for pattern in patterns:
        k = len(pattern)
        for i in range(len(parts) - k + 1):
            if all(fnmatch.fnmatchcase(parts[i + m], pattern[m]) for m in range(k)):
                return True
    return False


def files_to_scan(roots: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Every file under ``roots`` but the identifiable artefacts (at any depth: a run folder
    sits inside the runs folder)."""
    patterns = _identifiable_patterns()
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and not _identifiable(path.relative_to(root).parts, patterns):
                yield path, f"{Path(root).name}/{path.relative_to(root)}"


def scan(roots: Iterable[Path], truth: Path, extra_text: dict[str, str] | None = None) -> tuple[list[str], int]:
    """Hits (file and what was found) and the number of files scanned."""
    ids = Identifiers.of_world(truth)
    count = 0
    for path, where in files_to_scan(roots):
        ids.check_file(path, where)
        count += 1
    for where, text in (extra_text or {}).items():
        ids.check_text(text, where)
    return ids.found, count
