"""Validated ingest: agency extracts (CSV, Parquet, Excel) -> canonical tables + quarantine.

``run_ingest`` is the entry point. The normalisers (postcodes, names, codes) are public so
linkage and scoring apply exactly the same rules; NHS numbers follow :mod:`falls_risk.identity`.
"""

from falls_risk.ingest.mapping import Mapping, SourceMapping, load_mapping
from falls_risk.ingest.normalise import (
    normalise_code,
    normalise_name,
    normalise_postcode,
)
from falls_risk.ingest.run import run_ingest
from falls_risk.ingest.schema import build_schema
from falls_risk.ingest.summary import IngestSummary, SourceSummary
from falls_risk.ingest.validate import output_schema

__all__ = [
    "IngestSummary",
    "Mapping",
    "SourceMapping",
    "SourceSummary",
    "build_schema",
    "load_mapping",
    "normalise_code",
    "normalise_name",
    "normalise_postcode",
    "output_schema",
    "run_ingest",
]
