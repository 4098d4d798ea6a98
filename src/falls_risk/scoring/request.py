"""What one monthly scoring run is asked to do: the month's extract, the model, the policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from falls_risk.config import PipelineConfig
from falls_risk.scoring.tiers import TierPolicy

DEFAULT_MODEL_URI = "models:/falls-risk@champion"


@dataclass(frozen=True)
class ScoringRequest:
    """One month to score.

    ``out`` is the month's run folder (``runs/YYYY-MM``); the ledger lives in its parent.
    ``linkage_model`` overrides the Splink model recorded with the model's training run.
    ``config`` gives the linkage settings (and the feature settings when the model records none).
    ``top_n`` and ``min_reason_points``: each person's reasons, at most ``top_n`` of them, each
    moving risk by at least that many percentage points.
    ``keep_work`` keeps the working folder (it holds identifiers) for inspection.
    """

    extract_dir: Path
    as_of: date
    out: Path
    policy: TierPolicy
    model_uri: str = DEFAULT_MODEL_URI
    tracking_uri: str | None = None
    mapping: Path | None = None
    extract_date: date | None = None
    linkage_model: Path | None = None
    key_file: Path | None = None
    config: PipelineConfig = field(default_factory=PipelineConfig)
    # Each person's reasons: at most ``top_n``, each moving risk by at least ``min_reason_points``
    # percentage points (smaller ones are noise to a practitioner).
    top_n: int = 5
    min_reason_points: float = 0.5
    n_risers: int = 50
    keep_work: bool = False
    today: date | None = None
    # Share of the flagged tier withheld at random from the practitioners (0 = off; scoring/holdout.py).
    holdout_percent: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "extract_dir", Path(self.extract_dir))
        object.__setattr__(self, "out", Path(self.out).absolute())
        for name in ("mapping", "linkage_model", "key_file"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))

    @property
    def root(self) -> Path:
        """The runs folder: every month's run folder and the ledger."""
        return self.out.parent
