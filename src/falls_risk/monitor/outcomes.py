"""The latest extract's outcomes for a past run's as-of date.

The latest extract is ingested and linked in a working folder (identifiers stay there; it is
removed afterwards), with the Splink model the scored model was trained with, and its events are
built with that model's feature config. A run's outcome is then exactly the label ``features``
gives for the run's as-of date on that extract: a fall admission in (as-of, as-of + horizon],
people who moved away censored. While the window is still open, the label is taken over the
elapsed part of it (the horizon cut to the last day the inpatient data is complete), and the
month is marked partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from falls_risk.catalog import LINKAGE_MODEL
from falls_risk.config import FeatureConfig, LinkageConfig
from falls_risk.events import build_events
from falls_risk.features import compute_features
from falls_risk.features.compute import label_known_until
from falls_risk.ingest import IngestSummary, run_ingest
from falls_risk.linkage import run_linkage
from falls_risk.workspace import Workspace


@dataclass(frozen=True)
class OutcomeWindow:
    """How much of a run's outcome window the latest extract covers."""

    as_of: date
    horizon_days: int
    elapsed_days: int

    @property
    def complete(self) -> bool:
        return self.elapsed_days >= self.horizon_days

    @property
    def started(self) -> bool:
        return self.elapsed_days > 0

    @property
    def share(self) -> float:
        """The elapsed share of the window (1 when complete)."""
        return min(1.0, max(0, self.elapsed_days) / self.horizon_days)


def outcome_window(as_of: date, horizon_days: int, known_until: date) -> OutcomeWindow:
    return OutcomeWindow(as_of, horizon_days, min(horizon_days, (known_until - as_of).days))


@dataclass(frozen=True)
class LatestExtract:
    """The latest extract, ingested, linked and turned into events in ``ws``."""

    ws: Workspace
    extract: IngestSummary

    def known_until(self, config: FeatureConfig) -> date:
        return label_known_until(self.ws, config) or self.extract.extract_date

    def outcomes(self, window: OutcomeWindow, config: FeatureConfig) -> pd.DataFrame:
        """Everyone in the cohort at the window's as-of date: person_key, the features (for the
        subgroups) and ``label`` over the elapsed window."""
        horizon = config.model_copy(update={"label_horizon_days": max(1, window.elapsed_days)})
        return compute_features(self.ws, [window.as_of], config=horizon)


def prepare_latest_extract(
    extract_dir: Path, ws: Workspace, *, secret: bytes, feature_config: FeatureConfig,
    linkage_config: LinkageConfig, linkage_model: dict | Path | None, mapping: Path | None = None,
    extract_date: date | None = None,
) -> LatestExtract:
    """Ingest and link the latest extract in ``ws`` (with the given Splink model) and build its events."""
    extract = run_ingest(extract_dir, ws.root, mapping=mapping, extract_date=extract_date, progress=False)
    model_path = None
    if isinstance(linkage_model, dict):
        LINKAGE_MODEL.save(ws, linkage_model)
        model_path = LINKAGE_MODEL.path(ws)
    elif linkage_model is not None:
        model_path = Path(linkage_model)
    run_linkage(ws.root, config=linkage_config, secret=secret, model_path=model_path,
                retrain=model_path is None, progress=False)
    build_events(ws.root, feature_config)
    return LatestExtract(ws=ws, extract=extract)
