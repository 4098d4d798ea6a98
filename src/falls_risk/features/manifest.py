"""The features manifest: what one ``falls-risk features`` run built (``catalog.FEATURES_MANIFEST``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from falls_risk.catalog import FEATURES_MANIFEST, Base
from falls_risk.config import FeatureConfig


@dataclass(frozen=True)
class IndexDateCounts:
    people: int
    labels_known: int
    labels_positive: int
    died_in_window: int


@dataclass(frozen=True)
class FeaturesManifest:
    """The feature table's record: registry version, index dates, config and counts per date."""

    registry_version: str
    feature_names: tuple[str, ...]
    index_dates: tuple[date, ...]
    rows: int
    label_known_until: date | None
    config: FeatureConfig
    per_index_date: dict[date, IndexDateCounts]
    seconds_events: float = 0.0
    seconds_total: float = 0.0

    @property
    def labels_known(self) -> int:
        return sum(c.labels_known for c in self.per_index_date.values())

    @property
    def labels_positive(self) -> int:
        return sum(c.labels_positive for c in self.per_index_date.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry_version": self.registry_version,
            "feature_names": list(self.feature_names),
            "index_dates": [d.isoformat() for d in self.index_dates],
            "rows": self.rows,
            "label_known_until": None if self.label_known_until is None else self.label_known_until.isoformat(),
            "config": self.config.model_dump(mode="json"),
            "per_index_date": {d.isoformat(): asdict(c) for d, c in self.per_index_date.items()},
            "seconds_events": self.seconds_events,
            "seconds_total": self.seconds_total,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeaturesManifest:
        until = data.get("label_known_until")
        return cls(
            registry_version=str(data["registry_version"]),
            feature_names=tuple(data["feature_names"]),
            index_dates=tuple(date.fromisoformat(d) for d in data["index_dates"]),
            rows=int(data["rows"]),
            label_known_until=None if until is None else date.fromisoformat(str(until)),
            config=FeatureConfig.model_validate(data["config"]),
            per_index_date={
                date.fromisoformat(d): IndexDateCounts(**c) for d, c in data["per_index_date"].items()
            },
            seconds_events=float(data.get("seconds_events", 0.0)),
            seconds_total=float(data.get("seconds_total", 0.0)),
        )

    def write(self, base: Base) -> None:
        FEATURES_MANIFEST.save(base, self.to_dict())

    @classmethod
    def read(cls, base: Base) -> FeaturesManifest:
        return FEATURES_MANIFEST.load_record(base, cls.from_dict)
