"""A delivery of new records, validated and quarantined exactly like ``falls-risk ingest``.

The delivery is the extract contract: the population spine plus any subset of the event sources,
holding only records new since the last delivery. The same mapping files apply. It is ingested
into the notify run's private working folder; nothing identifiable is kept after the run.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from falls_risk.ingest import IngestSummary, run_ingest
from falls_risk.workspace import Workspace


def ingest_delivery(delivery_dir: Path, ws: Workspace, mapping: Path | None, extract_date: date) -> IngestSummary:
    """Ingest the delivery as taken on ``extract_date``: a delivery's spine dates back years while its
    records are days old, so the date is given rather than guessed from the bulk of the dates."""
    return run_ingest(delivery_dir, ws.root, mapping=mapping, extract_date=extract_date, progress=False)
