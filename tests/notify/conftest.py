"""Notify fixtures: the champion trained on the shared world scores December; deliveries are cut
from the same world."""

from __future__ import annotations

from datetime import date

import pytest

DEC = date(2025, 12, 1)


@pytest.fixture(scope="session")
def scored_runs(world_dir, trained_model, tmp_path_factory):
    """A runs folder holding December's run by the champion (loaded from MLflow by its alias)."""
    from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring

    root = tmp_path_factory.mktemp("notify_runs") / "runs"
    run_scoring(ScoringRequest(world_dir / "extract", DEC, root / "2025-12", TierPolicy(top_percent=10),
                               model_uri=trained_model.model_uri, tracking_uri=trained_model.tracking_uri),
                progress=False)
    return root


@pytest.fixture(scope="session")
def december_delivery(world_dir, tmp_path_factory):
    """The records new from October to December 2025 as one delivery (enough events for precision
    and recall to mean something), with its truth."""
    from falls_risk.synth.deliveries import cut_delivery

    out = tmp_path_factory.mktemp("delivery_dec")
    cut_delivery(world_dir, out, date(2025, 10, 1), date(2025, 12, 31))
    return out
