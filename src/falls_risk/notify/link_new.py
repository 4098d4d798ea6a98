"""Link a delivery's records to the spine with the Splink model the champion was trained with.

Linkage's own stage runs on the delivery's working folder: NHS-number matches first, then the
saved Splink model predicts the remaining records against the spine (the delivery's records are
one table, the spine the other), never retraining. Only the delivery's records are compared, so
the work grows with the delivery; what grows with the spine is reading and keying it.
"""

from __future__ import annotations

from pathlib import Path

from falls_risk.config import LinkageConfig
from falls_risk.linkage import LinkageSummary, run_linkage
from falls_risk.workspace import Workspace


def link_delivery(ws: Workspace, model_path: Path, config: LinkageConfig, secret: bytes) -> LinkageSummary:
    return run_linkage(ws.root, config=config, secret=secret, model_path=model_path, retrain=False, progress=False)
