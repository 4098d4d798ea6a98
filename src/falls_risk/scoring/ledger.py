"""The append-only ledger of scoring runs (``catalog.LEDGER``, in the runs folder).

One JSON object per line per run: month, as-of date, extract date, model name / version / run
id, input file hashes, output hash and counts. Each entry carries ``prev_hash`` (the hash of the
entry before it) and ``entry_hash`` (sha256 of its own canonical JSON without ``entry_hash``), so
editing or deleting an earlier line breaks the chain and :func:`verify_ledger` says where.

"Which model scored whom in March?": ``runs_for_month(root, "2026-03")`` gives the model and the
output hash; ``scores.parquet`` in ``runs/2026-03`` (hash checked) lists whom.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from falls_risk.catalog import LEDGER
from falls_risk.errors import ScoringError

GENESIS = "0" * 64


def ledger_path(root: str | os.PathLike[str]) -> Path:
    return LEDGER.path(root)


def _canonical(entry: dict[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "entry_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def read_ledger(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All entries, oldest first (empty when there is no ledger yet)."""
    path = ledger_path(root)
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            raise ScoringError(
                f"{path}, line {number}: not valid JSON. The ledger is append-only; restore it from "
                "backup rather than editing it."
            ) from None
    return entries


def verify_ledger(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read the ledger and check its hash chain; raise ScoringError at the first broken line."""
    path = ledger_path(root)
    entries = read_ledger(root)
    previous = GENESIS
    for number, entry in enumerate(entries, start=1):
        if entry.get("prev_hash") != previous or entry.get("entry_hash") != entry_hash(entry):
            raise ScoringError(
                f"{path}, entry {number} (month {entry.get('month')!r}): the hash chain is broken, so "
                "the ledger was edited or lines were removed. Restore it from backup; do not score "
                "until the ledger is intact."
            )
        previous = entry["entry_hash"]
    return entries


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_entry(root: str | os.PathLike[str], entry: dict[str, Any]) -> dict[str, Any]:
    """Chain ``entry`` to the last one and append it (one line, flushed and fsynced)."""
    path = ledger_path(root)
    with _locked(path):
        entries = verify_ledger(root)
        chained = dict(entry)
        chained["sequence"] = len(entries) + 1
        chained["prev_hash"] = entries[-1]["entry_hash"] if entries else GENESIS
        chained["entry_hash"] = entry_hash(chained)
        line = json.dumps(chained, sort_keys=True, default=str) + "\n"
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    return chained


def runs_for_month(root: str | os.PathLike[str], month: str) -> list[dict[str, Any]]:
    """Every recorded run of ``month`` (YYYY-MM), oldest first; the last one is current."""
    return [e for e in read_ledger(root) if e.get("month") == month]


def previous_run(entries: list[dict[str, Any]], month: str) -> dict[str, Any] | None:
    """The latest recorded run of the latest month before ``month`` (None for the first run)."""
    earlier = [e for e in entries if e.get("month", "") < month]
    if not earlier:
        return None
    latest_month = max(e["month"] for e in earlier)
    return [e for e in earlier if e["month"] == latest_month][-1]


def same_run(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two entries record the same inputs, model and outputs (a rerun changed nothing)."""
    keys = ("month", "as_of", "extract_date", "model", "input_hashes", "output_hash", "policy")
    return all(a.get(k) == b.get(k) for k in keys)
