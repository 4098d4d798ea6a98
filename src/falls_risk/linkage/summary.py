"""The linkage stage's record: what a run did, kept as ``catalog.LINKAGE_SUMMARY``.

``run_linkage`` builds it once, at the end of the run; the linkage report renders it and later
stages read it back with :meth:`LinkageSummary.read`. It is frozen: nothing changes it after
it is made (``dataclasses.replace`` makes an amended copy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from falls_risk.catalog import LINKAGE_SUMMARY, Base


@dataclass(frozen=True)
class LinkageSummary:
    """What a linkage run did."""

    workspace: Path
    model_path: Path
    trained: bool
    threshold: float
    spine_people: int
    stage2_identities: int
    # Population rows without a valid NHS number (ingest flags them nhs_number_invalid): kept in the
    # spine on a demographic key, except those also lacking a name or date of birth (left out).
    spine_rows_without_nhs_number: int = 0
    spine_rows_left_out: int = 0
    # Per source: rows, nhs_number, probabilistic, unlinked, unlinked_reasons, expected_* links,
    # nhs_number_refused (invalid or placeholder), nhs_number_contradicted (sent to stage 2).
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Estimated share of probabilistically linked records whose person is in the spine, by sources.
    in_spine_estimates: dict[str, float] = field(default_factory=dict)
    decisions_applied: int = 0
    decisions_unmatched: int = 0
    review_pairs: int = 0
    seconds: float = 0.0
    # Seconds per phase of the run.
    timings: dict[str, float] = field(default_factory=dict)
    # Which secret made the person keys (identity.key_fingerprint: a keyed hash of a constant, never
    # the key); re-linking the workspace with another secret is refused.
    key_fingerprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["workspace"] = str(self.workspace)
        out["model_path"] = str(self.model_path)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkageSummary:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}")
        values = dict(data)
        values["workspace"] = Path(values["workspace"])
        values["model_path"] = Path(values["model_path"])
        return cls(**values)

    def link_rate(self, source: str) -> float:
        counts = self.sources[source]
        return (counts["nhs_number"] + counts["probabilistic"]) / counts["rows"] if counts["rows"] else 0.0

    def write(self, base: Base) -> Path:
        return LINKAGE_SUMMARY.save(base, self.to_dict())

    @classmethod
    def read(cls, base: Base) -> LinkageSummary:
        return LINKAGE_SUMMARY.load_record(base, cls.from_dict)
