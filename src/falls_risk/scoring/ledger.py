"""The append-only, keyed ledger of scoring runs (``catalog.LEDGER``, in the runs folder).

One JSON object per line. A run is recorded write-ahead: a **pending** line with the whole
:class:`LedgerEntry` (month, as-of date, extract date, model, input hashes, output hash, counts)
is appended *before* the month's folder is renamed into place, and a **completed** line after it.
A run killed between the two leaves a pending line; the next ``score`` looks at the month's
folder: if it holds the pending line's outputs the run is completed (``recovered``), otherwise
it is marked ``abandoned`` (the old outputs are still in place). So no month is ever in place
without a ledger line naming its output hash.

Every line carries ``sequence`` (its line number), ``prev_hash`` (the line before's hash) and
``entry_hash``: HMAC-SHA256 of its canonical JSON under a key derived from the pseudonymisation
secret (:func:`falls_risk.identity.derived_key`). Without the secret nobody can edit a line and
recompute the chain. Each line also carries the secret's fingerprint
(:func:`falls_risk.identity.key_fingerprint`), so scoring with another key is refused with a
message that says so, before the chain is checked.

:func:`verify_ledger` checks the chain and every month's folder against it: a run folder that
the ledger does not record (lines removed, ledger deleted), or whose outputs are not the ones the
ledger last recorded, is named. ``falls-risk ledger verify RUNS_DIR`` runs it; ``score`` refuses
to run on a ledger that does not verify.

"Which model scored whom in March?": ``runs_for_month(root, "2026-03")`` gives the model and the
output hash; ``scores.parquet`` in ``runs/2026-03`` (hash checked) lists whom.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from falls_risk.catalog import LEDGER, RUN_MANIFEST
from falls_risk.errors import FallsRiskError, ScoringError
from falls_risk.identity import derived_key, key_fingerprint, mac, macs_equal
from falls_risk.scoring.manifest import output_hash

GENESIS = "0" * 64
LEDGER_KEY_PURPOSE = "scoring ledger v1"
PENDING, COMPLETED, ABANDONED = "pending", "completed", "abandoned"
# Fields of a line that are the chain itself, not what the line records.
_CHAIN = ("sequence", "prev_hash", "entry_hash")


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger records about one run. ``extra`` holds optional fields a feature adds
    (e.g. a holdout's size); they are written beside the others and covered by the chain."""

    month: str
    as_of: str
    extract_date: str
    model: Mapping[str, Any]
    output_hash: str
    output_dir: str
    input_hashes: Mapping[str, str] = field(default_factory=dict)
    model_uri: str | None = None
    policy: Mapping[str, Any] = field(default_factory=dict)
    counts: Mapping[str, Any] = field(default_factory=dict)
    recorded_at: str = ""
    code_commit: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        clash = set(extra) & set(data) | set(extra) & {*_CHAIN, "status", "key_fingerprint", "completes"}
        if clash:
            raise ValueError(f"ledger entry extra fields {sorted(clash)} clash with the entry's own")
        return data | extra


def ledger_path(root: str | os.PathLike[str]) -> Path:
    return LEDGER.path(root)


def ledger_key(secret: bytes) -> bytes:
    return derived_key(secret, LEDGER_KEY_PURPOSE)


def _canonical(line: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in line.items() if k != "entry_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def entry_mac(key: bytes, line: Mapping[str, Any]) -> str:
    """HMAC-SHA256 (hex) of a line's canonical JSON without its own ``entry_hash``."""
    return mac(key, _canonical(line))


def _secret(secret: bytes | None) -> bytes:
    if secret is not None:
        return secret
    from falls_risk.linkage.secret import load_secret

    return load_secret()


# --- reading ----------------------------------------------------------------------------------


def read_lines(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every line of the ledger as written, oldest first (empty when there is no ledger)."""
    path = ledger_path(root)
    if not path.exists():
        return []
    lines = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            line = None
        if not isinstance(line, dict):
            raise ScoringError(
                f"{path}, line {number}: not a ledger entry (invalid JSON). The ledger is append-only; restore it "
                "from backup rather than editing it."
            )
        lines.append(line)
    return lines


def _runs(lines: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """One record per run: its pending line with the status its later line gave it."""
    runs: dict[int, dict[str, Any]] = {}
    for line in lines:
        status = line.get("status", COMPLETED)
        if status == PENDING or "completes" not in line:
            runs[line.get("sequence")] = dict(line) | {"status": PENDING if status == PENDING else status}
            continue
        run = runs.get(line["completes"])
        if run is None or run["status"] != PENDING:
            raise ScoringError(
                f"{path}, entry {line.get('sequence')}: it {status} run entry {line['completes']!r}, which is not a "
                "pending run. Restore the ledger from backup."
            )
        run["status"] = status
        run["completed_at"] = line.get("recorded_at")
        if line.get("recovered"):
            run["recovered"] = True
    return list(runs.values())


def read_runs(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every run the ledger records, oldest first, with its ``status`` (pending / completed /
    abandoned); not verified (see :func:`verify_runs`)."""
    return _runs(read_lines(root), ledger_path(root))


def read_ledger(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The completed runs, oldest first (what "the runs so far" means to every reader); not verified."""
    return completed(read_runs(root))


def completed(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("status") == COMPLETED]


def runs_for_month(root: str | os.PathLike[str], month: str) -> list[dict[str, Any]]:
    """Every completed run of ``month`` (YYYY-MM), oldest first; the last one is current."""
    return [e for e in read_ledger(root) if e.get("month") == month]


def previous_run(entries: list[dict[str, Any]], month: str) -> dict[str, Any] | None:
    """The latest completed run of the latest month before ``month`` (None for the first run)."""
    earlier = [e for e in completed(entries) if e.get("month", "") < month]
    if not earlier:
        return None
    latest_month = max(e["month"] for e in earlier)
    return [e for e in earlier if e["month"] == latest_month][-1]


def same_run(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two entries record the same inputs, model and outputs (a rerun changed nothing)."""
    keys = ("month", "as_of", "extract_date", "model", "input_hashes", "output_hash", "policy")
    return all(a.get(k) == b.get(k) for k in keys)


# --- verifying --------------------------------------------------------------------------------


def run_folders(root: str | os.PathLike[str]) -> dict[str, str | None]:
    """Each month's run folder in ``root`` (a folder with a run manifest): folder name -> its month."""
    out: dict[str, str | None] = {}
    base = Path(root)
    if not base.is_dir():
        return out
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if RUN_MANIFEST.exists(folder):
            try:
                out[folder.name] = str(RUN_MANIFEST.load(folder)["month"])
            except (FallsRiskError, KeyError, TypeError):
                out[folder.name] = None
    return out


def _check_chain(path: Path, lines: list[dict[str, Any]], secret: bytes) -> None:
    fingerprint = key_fingerprint(secret)
    recorded = lines[0].get("key_fingerprint")
    if recorded != fingerprint:
        raise ScoringError(
            f"{path} was written with the key whose fingerprint is {str(recorded)[:12]}, but the key given has "
            f"fingerprint {fingerprint[:12]}. Use the key file (or FALLS_RISK_SECRET) that earlier months were "
            "scored with: under another key every person gets a new key, so everyone would look new to the "
            "flagged tier, old alerts would fire again and leavers would be lost."
        )
    key = ledger_key(secret)
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        if (line.get("sequence") != number or line.get("prev_hash") != previous
                or not macs_equal(str(line.get("entry_hash", "")), entry_mac(key, line))):
            raise ScoringError(
                f"{path}, entry {number} (month {line.get('month')!r}): its keyed hash does not match, so the ledger "
                "was edited, or lines were removed or reordered, after it was written. Restore the ledger from "
                "backup; do not score until `falls-risk ledger verify` passes."
            )
        previous = line["entry_hash"]


def _check_folders(root: Path, runs: list[dict[str, Any]]) -> None:
    path = ledger_path(root)
    folders = run_folders(root)
    for name, month in folders.items():
        of_folder = [r for r in runs if r.get("output_dir") == name and r["status"] != ABANDONED]
        current = [i for i, r in enumerate(of_folder) if r["status"] == COMPLETED]
        # The last completed run, or a later pending one (killed after its rename): either may be in place.
        candidates = of_folder[current[-1]:] if current else of_folder
        if not candidates:
            raise ScoringError(
                f"Month {month or name} is missing from the ledger: {root / name} holds a run, but "
                + (f"{path} does not exist" if not path.exists() else f"{path} records no run into it")
                + ". Ledger lines (or the whole ledger) were removed. Restore the ledger from backup; do not score "
                "until `falls-risk ledger verify` passes."
            )
        actual = output_hash(root / name)
        if actual not in {r.get("output_hash") for r in candidates}:
            last = candidates[-1]
            raise ScoringError(
                f"{root / name}: its outputs (hash {actual[:12]}) are not the ones the ledger last recorded for "
                f"month {last.get('month')} (entry {last.get('sequence')}, hash {str(last.get('output_hash'))[:12]}): "
                "the last ledger lines were removed, or the folder's files were changed after the run. Restore "
                "the ledger or the folder from backup."
            )
    for run in completed(runs):
        latest = [r for r in completed(runs) if r.get("output_dir") == run.get("output_dir")][-1]
        if run is latest and run.get("output_dir") not in folders:
            raise ScoringError(
                f"Month {run.get('month')} is missing: the ledger records its run (entry {run.get('sequence')}) "
                f"into {root / str(run.get('output_dir'))}, which no longer holds it. Restore the folder from backup."
            )


def verify_ledger(root: str | os.PathLike[str], secret: bytes | None = None) -> list[dict[str, Any]]:
    """:func:`verify_runs`, returning the completed runs only (as :func:`read_ledger`)."""
    return completed(verify_runs(root, secret))


def verify_runs(root: str | os.PathLike[str], secret: bytes | None = None) -> list[dict[str, Any]]:
    """Check the ledger's keyed chain and every month folder against it; return every run (as
    :func:`read_runs`, pending and abandoned ones included). Raise ScoringError naming the first
    bad entry or missing month. ``secret`` defaults to the configured pseudonymisation secret."""
    root = Path(root)
    path = ledger_path(root)
    lines = read_lines(root)
    runs: list[dict[str, Any]] = []
    if lines:
        _check_chain(path, lines, _secret(secret))
        runs = _runs(lines, path)
    _check_folders(root, runs)
    return runs


# --- writing ----------------------------------------------------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _append(root: Path, secret: bytes, body: Mapping[str, Any]) -> dict[str, Any]:
    path = ledger_path(root)
    with _locked(path):
        lines = read_lines(root)
        if lines:
            _check_chain(path, lines, secret)
        line = dict(body) | {"key_fingerprint": key_fingerprint(secret), "sequence": len(lines) + 1,
                             "prev_hash": lines[-1]["entry_hash"] if lines else GENESIS}
        line["entry_hash"] = entry_mac(ledger_key(secret), line)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return line


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def append_pending(root: str | os.PathLike[str], secret: bytes, entry: LedgerEntry | Mapping[str, Any]) -> dict[str, Any]:
    """Record a run before its folder is renamed into place (write-ahead). ``entry`` is a
    :class:`LedgerEntry` (a plain mapping is accepted for tests that fake a run)."""
    body = entry.to_dict() if isinstance(entry, LedgerEntry) else dict(entry)
    return _append(Path(root), secret, body | {"status": PENDING})


def _close(root: Path, secret: bytes, pending: Mapping[str, Any], status: str, **more: Any) -> dict[str, Any]:
    body = {"status": status, "completes": pending["sequence"], "month": pending.get("month"),
            "output_dir": pending.get("output_dir"), "output_hash": pending.get("output_hash"),
            "recorded_at": _now()} | more
    _append(root, secret, body)
    return dict(pending) | {"status": status, "completed_at": body["recorded_at"]} | more


def complete(root: str | os.PathLike[str], secret: bytes, pending: Mapping[str, Any]) -> dict[str, Any]:
    """Mark a pending run completed, once its folder is in place; return the run's record."""
    return _close(Path(root), secret, pending, COMPLETED)


def append_entry(
    root: str | os.PathLike[str], entry: LedgerEntry | Mapping[str, Any], secret: bytes | None = None
) -> dict[str, Any]:
    """Record a run whose folder is already in place (pending and completed at once)."""
    secret = _secret(secret)
    return complete(root, secret, append_pending(root, secret, entry))


def resolve_pending(root: str | os.PathLike[str], secret: bytes) -> list[dict[str, Any]]:
    """Settle the runs a kill left pending: completed if their folder holds their outputs (the
    kill came after the rename), abandoned otherwise. Returns the runs settled."""
    root = Path(root)
    settled = []
    for run in read_runs(root):
        if run["status"] != PENDING:
            continue
        folder = root / str(run.get("output_dir"))
        in_place = RUN_MANIFEST.exists(folder) and output_hash(folder) == run.get("output_hash")
        if in_place:
            settled.append(_close(root, secret, run, COMPLETED, recovered=True))
        else:
            settled.append(_close(root, secret, run, ABANDONED))
    return settled


def verify_summary(root: str | os.PathLike[str], secret: bytes | None = None) -> list[str]:
    """What ``falls-risk ledger verify`` prints when the ledger verifies."""
    root = Path(root)
    runs = verify_runs(root, secret)
    months = sorted({r["month"] for r in completed(runs)})
    pending = [r for r in runs if r["status"] == PENDING]
    lines = [
        f"{ledger_path(root)}: {len(read_lines(root))} entries, keyed hash chain intact; "
        f"{len(completed(runs))} completed runs of {len(months)} months"
        + (f" ({months[0]} to {months[-1]})" if months else "") + "; every month folder matches its entry."
    ]
    if pending:
        lines.append(
            f"{len(pending)} run(s) interrupted before being marked complete (entries "
            f"{', '.join(str(r['sequence']) for r in pending)}); the next `falls-risk score` settles them."
        )
    return lines


def verify_runs_dir(runs_dir: str | os.PathLike[str], key_file: str | os.PathLike[str] | None = None) -> list[str]:
    """``falls-risk ledger verify RUNS_DIR``: :func:`verify_summary` with the secret from ``key_file``."""
    from falls_risk.linkage.secret import load_secret

    root = Path(runs_dir)
    if not root.is_dir():
        raise ScoringError(f"{root} is not a folder; give the runs folder (the parent of each month's run folder).")
    return verify_summary(root, load_secret(key_file))
