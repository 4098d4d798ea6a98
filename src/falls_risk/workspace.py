"""Where each stage reads and writes, and how it writes safely.

A workspace is one folder that the pipeline stages fill in order::

    WS/ingested/<source>.parquet      canonical, validated rows (identifiers still present)
    WS/quarantine/<source>.parquet    rejected rows with their reason(s)
    WS/ingest_summary.json            per-source counts, file hashes, extract date
    WS/linkage/model.json             the trained Splink model, reused by later runs
    WS/linkage/review_decisions.csv   clerical-review decisions that override the model
    WS/linked/<source>.parquet        pseudonymised records: person_key, no direct identifiers
    WS/linked/population.parquet      pseudonymised spine (person_key, sex, birth_month, area)
    WS/events/events.parquet          one long event table (MEDS-like)
    WS/features/index_date=.../       one row per person per index date
    WS/reports/                       linkage report, clerical-review CSV

Every write goes to a temporary path beside the target and is renamed into place, so a failed
or interrupted run leaves the earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from falls_risk.errors import WorkspaceError


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def ingested(self) -> Path:
        return self.root / "ingested"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def ingest_summary(self) -> Path:
        return self.root / "ingest_summary.json"

    @property
    def linkage(self) -> Path:
        return self.root / "linkage"

    @property
    def linked(self) -> Path:
        return self.root / "linked"

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def ingested_table(self, source: str) -> Path:
        return self.ingested / f"{source}.parquet"

    def linked_table(self, source: str) -> Path:
        return self.linked / f"{source}.parquet"

    def require(self, path: Path, stage: str) -> Path:
        """Return ``path`` or explain which command produces it."""
        if not path.exists():
            raise WorkspaceError(
                f"{path} does not exist. Run `falls-risk {stage} --workspace {self.root}` first."
            )
        return path


def sql_path(path: str | os.PathLike[str]) -> str:
    """A path as a DuckDB string literal (quotes doubled: a folder may be called o'brien)."""
    return "'" + str(path).replace("'", "''") + "'"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], staging_dir: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` (or in ``staging_dir``, which must be on the same
    filesystem); rename it over ``target`` on success.

    Works for files and directories. On error the temporary path is removed and ``target``
    is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=staging_dir or target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if not staged.exists():
            raise RuntimeError(f"nothing was written to the staging path for {target}")
        if target.is_dir() and not target.is_symlink():
            old = tmp / (target.name + ".old")
            os.replace(target, old)
            os.replace(staged, target)
        else:
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_parquet(table: pa.Table | Any, target: str | os.PathLike[str]) -> Path:
    """Write a pyarrow Table or pandas DataFrame to ``target`` atomically."""
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with atomic_path(target) as staged:
        pq.write_table(table, staged)
    return Path(target)


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    with atomic_path(target) as staged:
        staged.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(data: Any, target: str | os.PathLike[str]) -> Path:
    return write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", target)
