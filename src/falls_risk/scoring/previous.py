"""The previous run's outputs, as this run needs them: scores, features and the alertable events it saw."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import ALERT_EVENTS_SEEN, RUN_FEATURES, SCORES
from falls_risk.scoring.manifest import output_hash


@dataclass(frozen=True)
class PreviousRun:
    """The run before this one: its ledger entry and what of its outputs is still on disk."""

    entry: dict[str, Any]
    scores: pd.DataFrame | None
    features: pd.DataFrame | None
    alert_events_seen: pd.DataFrame | None
    warnings: tuple[str, ...] = ()

    @property
    def month(self) -> str:
        return str(self.entry["month"])

    @classmethod
    def read(cls, root: Path, entry: dict[str, Any]) -> PreviousRun:
        folder = root / entry["output_dir"]
        if not SCORES.exists(folder):
            return cls(entry, None, None, None, (
                (f"The previous run ({entry['month']}) is in the ledger but {folder} is missing; changes and "
                "risers are not computed."),
            ))
        warnings = []
        if output_hash(folder) != entry.get("output_hash"):
            warnings.append(
                f"The outputs in {folder} differ from what the ledger recorded for {entry['month']}; they were "
                "changed after the run. Changes since that run may be wrong."
            )
        return cls(
            entry,
            scores=SCORES.load(folder),
            features=RUN_FEATURES.load(folder) if RUN_FEATURES.exists(folder) else None,
            alert_events_seen=ALERT_EVENTS_SEEN.load(folder) if ALERT_EVENTS_SEEN.exists(folder) else None,
            warnings=tuple(warnings),
        )
