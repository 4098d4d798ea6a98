"""The actions ledger (``catalog.ACTIONS_LEDGER``), beside the run ledger in the runs folder.

One JSON line per import: the file's name and sha256, when, the read / accepted / quarantined
counts with the reasons, and the accepted actions themselves (pseudonymised: person_key, date,
action, team, notification id, list month; no note). Lines are hash-chained as the run ledger's
are (``prev_hash``, ``entry_hash``), so an edited or deleted import is found by
:func:`read_actions_ledger`, and the same file is never imported twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.actions.validate import LEDGER_COLUMNS
from falls_risk.catalog import ACTIONS_LEDGER
from falls_risk.errors import ScoringError

GENESIS = "0" * 64


def _hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "entry_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def read_imports(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every import, oldest first; a broken hash chain is an error naming the line."""
    path = ACTIONS_LEDGER.path(root)
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = []
    previous = GENESIS
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = {}
        if entry.get("prev_hash") != previous or entry.get("entry_hash") != _hash(entry):
            raise ScoringError(
                f"{path}, line {number}: the actions ledger's hash chain is broken (the line was edited, or lines "
                "were removed). Restore the file from backup; it is append-only."
            )
        previous = entry["entry_hash"]
        entries.append(entry)
    return entries


def append_import(root: str | os.PathLike[str], entry: dict[str, Any]) -> dict[str, Any]:
    """Chain ``entry`` to the last import and append it as one line (flushed, fsynced, under a lock)."""
    path = ACTIONS_LEDGER.path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(f"{path}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = read_imports(root)
        chained = dict(entry, sequence=len(entries) + 1,
                       prev_hash=entries[-1]["entry_hash"] if entries else GENESIS)
        chained["entry_hash"] = _hash(chained)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(chained, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return chained


def read_actions(root: str | os.PathLike[str]) -> pd.DataFrame:
    """Every recorded action (pseudonymised), with ``import_sequence``; ``action_date`` as a date."""
    rows = [dict(action, import_sequence=entry["sequence"]) for entry in read_imports(root)
            for action in entry.get("actions", [])]
    frame = pd.DataFrame(rows, columns=[*LEDGER_COLUMNS, "import_sequence"])
    frame["action_date"] = pd.to_datetime(frame["action_date"]).dt.date
    return frame
