"""``falls-risk actions import``: validate an actions file, quarantine its bad rows, append the rest.

Nothing is lost: every row read is either in the ledger (pseudonymised) or in the import's
quarantine file (``catalog.ACTIONS_QUARANTINE``, raw values with the reasons, mode 0600 because it
holds NHS numbers), and the ledger line records both counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from falls_risk.actions.ledger import append_import, read_actions, read_imports
from falls_risk.actions.validate import validate_actions
from falls_risk.catalog import ACTIONS_QUARANTINE
from falls_risk.errors import ExtractError
from falls_risk.ingest.readers import sha256
from falls_risk.linkage.secret import load_secret


@dataclass(frozen=True)
class ActionsImport:
    """What one import did."""

    file: str
    sha256: str
    sequence: int
    read: int
    accepted: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    quarantine_file: Path | None = None

    def lines(self) -> list[str]:
        out = [f"Imported {self.accepted:,} of {self.read:,} actions from {self.file} (import {self.sequence})."]
        if self.quarantined:
            why = "; ".join(f"{reason}: {n:,}" for reason, n in sorted(self.reasons.items(), key=lambda x: -x[1]))
            out.append(f"{self.quarantined:,} row(s) quarantined in {self.quarantine_file} ({why}). Fix them and "
                       "import them again.")
        return out


def import_actions(
    file: Path, runs_dir: Path, *, key_file: Path | None = None, today: dt.date | None = None,
    secret: bytes | None = None,
) -> ActionsImport:
    """Validate ``file`` and append its actions to the runs folder's actions ledger."""
    file, runs_dir = Path(file), Path(runs_dir)
    if not file.is_file():
        raise ExtractError(f"{file} does not exist. Give the actions file (CSV, Parquet or Excel).")
    digest = sha256(file)
    for entry in read_imports(runs_dir):
        if entry["sha256"] == digest:
            raise ExtractError(
                f"{file} was already imported (import {entry['sequence']}, {entry['imported_at']}, as "
                f"{entry['file']}). Import only new files; nothing was changed."
            )
    secret = load_secret(key_file) if secret is None else secret
    recorded = read_actions(runs_dir)
    keys = set(zip(recorded["person_key"], recorded["action_date"].astype(str), recorded["action"],
                   recorded["team"].fillna(""), strict=True))
    validated = validate_actions(file, secret, today=today or dt.date.today(), recorded=keys)
    sequence = len(read_imports(runs_dir)) + 1
    quarantine_file = None
    if len(validated.quarantined):
        ACTIONS_QUARANTINE.path(runs_dir, sequence=sequence).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        quarantine_file = ACTIONS_QUARANTINE.save(runs_dir, validated.quarantined, sequence=sequence)
    entry = append_import(runs_dir, {
        "file": file.name,
        "sha256": digest,
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "read": validated.read,
        "accepted": len(validated.accepted),
        "quarantined": len(validated.quarantined),
        "reasons": validated.reasons,
        "actions": validated.accepted.to_dict(orient="records"),
    })
    return ActionsImport(file=file.name, sha256=digest, sequence=entry["sequence"], read=validated.read,
                         accepted=len(validated.accepted), quarantined=len(validated.quarantined),
                         reasons=validated.reasons, quarantine_file=quarantine_file)
