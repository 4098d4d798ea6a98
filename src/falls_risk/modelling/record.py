"""``TrainingRecord``: one typed record of a training run, carried by the model it produced.

``run_experiment`` writes it once (``FallsRiskModel.training_record_``, and as the run's
``config/training_record.json`` artifact); monthly scoring reads the feature config and the
linkage model from it, the commissioners' report reads the split and the data it rests on, and
the model card fills its items from it. It holds no identifiers: settings, dates, counts, hashes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from falls_risk.catalog import FEATURES_MANIFEST, INGEST_SUMMARY, LINKAGE_MODEL, LINKAGE_SUMMARY, Base
from falls_risk.config import ExperimentConfig, FeatureConfig
from falls_risk.errors import ModelError
from falls_risk.features.manifest import FeaturesManifest
from falls_risk.ingest.summary import IngestSummary
from falls_risk.linkage.summary import LinkageSummary
from falls_risk.workspace import Workspace

# Where the record is logged in the training run's MLflow artifacts, and, for people and other
# tools, the Splink model that travels inside it.
ARTIFACT_PATH = "config/training_record.json"
LINKAGE_MODEL_ARTIFACT = f"scoring/{LINKAGE_MODEL.template}"


@dataclass(frozen=True)
class PartCounts:
    train: int
    calibration: int
    test: int


@dataclass(frozen=True)
class SplitRecord:
    """How the feature table was split: settings and what each part held."""

    test_months: int
    calibration_fraction: float
    gap_days: int
    seed: int
    train_index_dates: tuple[date, ...]
    test_index_dates: tuple[date, ...]
    rows: PartCounts
    persons: PartCounts
    events: PartCounts
    unlabelled_rows_dropped: int = 0

    @property
    def index_dates(self) -> tuple[date, ...]:
        return tuple(sorted({*self.train_index_dates, *self.test_index_dates}))

    @classmethod
    def from_split_info(cls, info: dict[str, Any], *, test_months: int, calibration_fraction: float,
                        seed: int) -> SplitRecord:
        """From ``modelling.data.Split.info`` and the settings that made it."""
        return cls(
            test_months=test_months,
            calibration_fraction=calibration_fraction,
            gap_days=int(info["gap_days"]),
            seed=seed,
            train_index_dates=tuple(date.fromisoformat(d) for d in info["train_index_dates"]),
            test_index_dates=tuple(date.fromisoformat(d) for d in info["test_index_dates"]),
            rows=PartCounts(**info["rows"]),
            persons=PartCounts(**info["persons"]),
            events=PartCounts(**info["events"]),
            unlabelled_rows_dropped=int(info.get("unlabelled_rows_dropped", 0)),
        )


@dataclass(frozen=True)
class DataRecord:
    """What the run read from its workspace, and what scoring must reuse to score like it."""

    workspace: str
    feature_table_hash: str
    registry_version: str
    feature_config: FeatureConfig | None = None
    label_known_until: date | None = None
    extract_date: date | None = None
    extract_sources: tuple[str, ...] = ()
    # The Splink model (settings with m and u) that linked the training data; scoring links with it.
    linkage_model: dict[str, Any] | None = None
    linkage_threshold: float | None = None

    @classmethod
    def from_workspace(cls, ws: Base, *, feature_table_hash: str, registry_version: str) -> DataRecord:
        """Read the stage records a training run rests on (each optional: a table may come from elsewhere)."""
        workspace = Workspace(ws)
        features = FeaturesManifest.read(workspace) if FEATURES_MANIFEST.exists(workspace) else None
        ingest = IngestSummary.read(workspace) if INGEST_SUMMARY.exists(workspace) else None
        linkage = LinkageSummary.read(workspace) if LINKAGE_SUMMARY.exists(workspace) else None
        return cls(
            workspace=str(workspace.root),
            feature_table_hash=feature_table_hash,
            registry_version=registry_version,
            feature_config=None if features is None else features.config,
            label_known_until=None if features is None else features.label_known_until,
            extract_date=None if ingest is None else ingest.extract_date,
            extract_sources=() if ingest is None else tuple(ingest.sources),
            linkage_model=LINKAGE_MODEL.load(workspace) if LINKAGE_MODEL.exists(workspace) else None,
            linkage_threshold=None if linkage is None else linkage.threshold,
        )


@dataclass(frozen=True)
class TuningRecord:
    study: str
    storage: str
    n_trials: int
    best_value: float
    trials: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class TrainingRecord:
    """One training run of one model: what it was, what it read, how it split, what it found."""

    experiment: str
    model_name: str
    model_kind: str
    trained_at: str
    config: ExperimentConfig
    params: dict[str, Any]
    split: SplitRecord
    data: DataRecord
    thresholds: dict[str, float]
    tuning: TuningRecord | None = None
    # What the treated_person_months policy did: policy, treated rows and persons, rows excluded.
    treatment: dict[str, Any] | None = None

    @property
    def horizon_days(self) -> int:
        """The label horizon the model predicts over (the feature config's, else the default)."""
        return (self.data.feature_config or FeatureConfig()).label_horizon_days

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = self.config.model_dump(mode="json")
        feature_config = self.data.feature_config
        data["data"]["feature_config"] = None if feature_config is None else feature_config.model_dump(mode="json")
        return _json_ready(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingRecord:
        try:
            split = dict(data["split"])
            for key in ("rows", "persons", "events"):
                split[key] = PartCounts(**split[key])
            for key in ("train_index_dates", "test_index_dates"):
                split[key] = tuple(date.fromisoformat(d) for d in split[key])
            source = dict(data["data"])
            if source.get("feature_config") is not None:
                source["feature_config"] = FeatureConfig.model_validate(source["feature_config"])
            for key in ("label_known_until", "extract_date"):
                if source.get(key) is not None:
                    source[key] = date.fromisoformat(source[key])
            source["extract_sources"] = tuple(source.get("extract_sources") or ())
            tuning = data.get("tuning")
            return cls(
                experiment=data["experiment"],
                model_name=data["model_name"],
                model_kind=data["model_kind"],
                trained_at=data["trained_at"],
                config=ExperimentConfig.model_validate(data["config"]),
                params=dict(data["params"]),
                split=SplitRecord(**split),
                data=DataRecord(**source),
                thresholds=dict(data["thresholds"]),
                tuning=None if tuning is None else TuningRecord(**tuning),
                treatment=data.get("treatment"),
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ModelError(
                f"The training record is not one this version of falls-risk can read ({str(exc).splitlines()[0]}). "
                "Retrain the model with this version (`falls-risk train`)."
            ) from None


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
