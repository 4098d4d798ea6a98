"""Typed configuration. Unknown keys are an error, so a typo never silently falls back.

``PipelineConfig`` tunes the data stages (linkage, features); it has safe defaults and can be
overridden by a YAML file passed with ``--config``. Experiment configs for training live in
``experiments/*.yaml`` and are parsed by ``ExperimentConfig`` (defined below by the modelling
stage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from falls_risk.engines import Engine
from falls_risk.errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkageConfig(StrictModel):
    # Chosen for precision: a false link puts someone else's falls in a person's history.
    # It applies to the record-level probability (see linkage/assign.py). Measured on a 70,000-person
    # world (bench/bench_linkage.py), sources without NHS numbers: 0.95 -> precision 0.9995,
    # recall 0.964; 0.9 -> 0.9993, 0.970; 0.8 -> 0.9989, 0.972.
    match_threshold: float = Field(0.9, gt=0.0, lt=1.0)
    # Pairs with a probability between these bounds go to the clerical-review CSV.
    review_lower: float = Field(0.5, gt=0.0, lt=1.0)
    review_upper: float = Field(0.99, gt=0.0, le=1.0)
    random_sample_pairs: int = Field(2_000_000, gt=0)
    seed: int = 42
    # Share of the records of person sources whose person is in the spine (the model's prior).
    expected_in_spine: float = Field(0.95, gt=0.0, le=1.0)
    # DuckDB resources for linkage (the benchmark target is 2 cores and 6 GB).
    threads: int = Field(2, ge=1)
    memory_limit: str = Field("4GB", pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$")


def horizon_text(days: int) -> str:
    """A label horizon as readers say it: 365 -> "12 months", 730 -> "2 years", 90 -> "90 days"."""
    if days % 365 == 0:
        years = days // 365
        return "12 months" if years == 1 else f"{years} years"
    return "1 day" if days == 1 else f"{days} days"


class FeatureConfig(StrictModel):
    # Events linked below this probability are left out of features.
    min_match_probability: float = Field(0.9, ge=0.0, le=1.0)
    # The label: a fall admission in (index date, index date + label_horizon_days]. Every text
    # about the outcome says it with `horizon_text`, never a fixed "12 months".
    label_horizon_days: int = Field(365, gt=0)
    min_age: int = Field(65, ge=0)
    # Days after the fact until a source's data is complete (e.g. police: 61).
    arrival_lag_days: dict[str, int] = Field(default_factory=dict)
    # Events linked below this probability (but kept) count as weak links in `weak_link_share`.
    weak_link_probability: float = Field(0.99, ge=0.0, le=1.0)
    # LSOAs ranked by the Welsh Index of Multiple Deprivation 2019 (quintile = rank band of 1/5).
    wimd_lsoa_count: int = Field(1909, gt=0)
    # People x index dates per DuckDB query: several index dates share a query while they fit, but
    # per-row cost grows with query size (700k people, 2 dates per query: 18.8 s a date; one date
    # per query: 8.7 s; `bench/bench_features.py`), so the default keeps Wales at one date a query.
    max_rows_per_query: int = Field(1_000_000, gt=0)
    duckdb_threads: int = Field(2, gt=0)
    duckdb_memory_limit: str = Field("6GB", pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$")

    @property
    def horizon_text(self) -> str:
        return horizon_text(self.label_horizon_days)

    @field_validator("arrival_lag_days")
    @classmethod
    def _known_sources(cls, value: dict[str, int]) -> dict[str, int]:
        from falls_risk.contract import PERSON_SOURCES

        unknown = sorted(set(value) - set(PERSON_SOURCES))
        negative = sorted(k for k, v in value.items() if v < 0)
        if unknown or negative:
            raise ValueError(
                f"arrival_lag_days: sources must be among {', '.join(PERSON_SOURCES)} "
                f"(unknown: {unknown}) and lags >= 0 days (negative: {negative})"
            )
        return value


class IngestConfig(StrictModel):
    """How much quarantine stops an ingest, and how far an inferred extract date may run past the data."""

    # Above this share of a source's rows quarantined, ingest exits 1 (a mapping may set its own
    # per source); --accept-quarantine goes on knowingly.
    max_quarantine_share: float = Field(0.05, ge=0.0, le=1.0)
    # An inferred extract date more than this many days after the bulk (99th percentile) of the
    # event dates is a typo until shown otherwise.
    max_days_past_bulk: int = Field(92, gt=0)


class SparkConfig(StrictModel):
    """The Spark session for ``engine: spark`` (falls_risk.engines.session). Local mode by default;
    on a cluster set ``master`` (or leave it to spark-submit / Databricks: ``master: null``)."""

    master: str | None = "local[2]"
    # Few shuffle partitions: the default 200 costs more in task overhead than it saves below 10^7 rows.
    shuffle_partitions: int = Field(4, gt=0)
    # The driver's heap (in local mode the executor's too): 2g runs out on 70,000 people's linkage.
    driver_memory: str = Field("4g", pattern=r"^\d+[mMgG]$")
    # Anything else, passed as given (e.g. {"spark.executor.memory": "8g"}).
    conf: dict[str, str] = Field(default_factory=dict)


class PipelineConfig(StrictModel):
    linkage: LinkageConfig = LinkageConfig()
    features: FeatureConfig = FeatureConfig()
    ingest: IngestConfig = IngestConfig()
    # The engine that runs linkage, features and scoring; DuckDB on one machine, Spark on a cluster.
    engine: Engine = "duckdb"
    spark: SparkConfig = SparkConfig()


def load_yaml_model(path: str | Path, model: type[StrictModel]) -> Any:
    """Parse a YAML file into ``model``, turning every problem into one clear ConfigError."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found. Check the path.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}). Fix the file and re-run.") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}. Fix these keys and re-run.") from None


def load_pipeline_config(path: str | Path | None, engine: str | None = None) -> PipelineConfig:
    """The pipeline config from ``path`` (defaults otherwise); ``engine`` (``--engine``) overrides its engine."""
    config = PipelineConfig() if path is None else load_yaml_model(path, PipelineConfig)
    if engine is None:
        return config
    try:
        return PipelineConfig.model_validate(config.model_dump() | {"engine": engine})
    except ValidationError:
        raise ConfigError(f"--engine {engine!r}: expected duckdb or spark.") from None


# --- Experiments (modelling stage: `falls-risk train experiments/X.yaml`) --------------------------
# Imports local to this section so the sections above stay untouched.
from datetime import date as _date
from typing import Literal

from pydantic import field_validator, model_validator

ModelKind = Literal[
    "age_sex_logistic", "previous_fall_rule", "deficit_score", "logistic", "lightgbm", "lightgbm_tuned"
]


class ExperimentData(StrictModel):
    # Workspace holding WS/features/ (relative paths are taken from the current directory).
    workspace: Path = Path("workspace")
    # Index dates to use; None = every index date in the feature table.
    index_dates: list[_date] | None = None
    # The runs folder whose actions ledger records what teams did (falls-risk actions import);
    # None: no actions recorded, every person-month is used as it is.
    actions_runs: Path | None = None
    # Person-months whose outcome window follows a recorded intervention: excluded from training
    # (the model learns risk without the teams' actions, Liley et al. 2021), or included as if untreated.
    treated_person_months: Literal["exclude", "include"] = "exclude"


class SplitConfig(StrictModel):
    # Out-of-time test: the last `test_months` of index dates whose labels are known.
    test_months: int = Field(12, gt=0)
    # Share of persons (before the test period) held out to fit the calibrator.
    calibration_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    # Days between the last training index date and the first test index date; set it to the
    # label horizon (features.label_horizon_days) so that no training label window overlaps the
    # test period.
    gap_days: int = Field(0, ge=0)
    # Person-grouped cross-validation folds inside training (used by tuning).
    cv_folds: int = Field(3, ge=2, le=10)


class ModelConfig(StrictModel):
    kind: ModelKind
    # Run name in MLflow; defaults to the kind.
    name: str | None = None
    # LightGBM parameters (+ num_boost_round) or `C` for the logistic models.
    params: dict[str, Any] = Field(default_factory=dict)
    # Use only these features (default: the whole registry).
    features: list[str] | None = Field(None, min_length=1)


class TuningConfig(StrictModel):
    n_trials: int = Field(30, ge=1)
    timeout_minutes: float | None = Field(None, gt=0)
    # SQLite file for the Optuna study (resumable); relative to the current directory.
    storage: Path = Path("optuna.db")
    max_boost_rounds: int = Field(1000, ge=10)
    early_stopping_rounds: int = Field(50, ge=1)
    # A fixed learning rate (early stopping then picks the rounds); null searches it too. Fixed, the
    # median pruner compares trials that learn at the same pace, instead of pruning slow learners
    # for being slow.
    learning_rate: float | None = Field(None, gt=0, le=1)
    # Person-grouped folds evaluated per trial (1 = a single grouped hold-out: fastest).
    folds_per_trial: int = Field(1, ge=1, le=10)
    # Times a failed or crashed trial is re-queued with the same parameters.
    max_retries: int = Field(2, ge=0)
    # Seconds between trial heartbeats; a RUNNING trial silent for 2x this is taken as crashed.
    heartbeat_seconds: int = Field(30, ge=1)


class CalibrationConfig(StrictModel):
    methods: list[Literal["isotonic", "platt"]] = Field(default_factory=lambda: ["isotonic", "platt"])

    @field_validator("methods")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one of isotonic, platt")
        return value


class EvaluationConfig(StrictModel):
    bootstrap: int = Field(200, ge=0)
    # Shares of the cohort flagged at each index date (capacity).
    capacities: list[float] = Field(default_factory=lambda: [0.01, 0.02, 0.05])
    # Capacity whose threshold is used for subgroup false-negative rates.
    fairness_capacity: float = Field(0.02, gt=0.0, lt=1.0)
    # Risk thresholds of the decision curve.
    decision_thresholds: list[float] = Field(
        default_factory=lambda: [round(0.01 * i, 2) for i in range(1, 31)]
    )

    @field_validator("capacities", "decision_thresholds")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        bad = [v for v in value if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"every value must be between 0 and 1 (exclusive); got {bad}")
        return value


class FeatureRolesConfig(StrictModel):
    # Which registry features are age, sex, area, fall history and deficits; None = by convention.
    age: str | None = None
    sex: str | None = None
    wimd_quintile: str | None = None
    local_authority: str | None = None
    falls: list[str] | None = None
    deficits: list[str] | None = None


class TrackingConfig(StrictModel):
    experiment: str = "falls-risk"
    # None: MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db.
    tracking_uri: str | None = None
    register_model: bool = True


class ExperimentConfig(StrictModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 42
    data: ExperimentData = ExperimentData()
    split: SplitConfig = SplitConfig()
    models: list[ModelConfig] = Field(min_length=1)
    tuning: TuningConfig = TuningConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    features: FeatureRolesConfig = FeatureRolesConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> ExperimentConfig:
        names = [m.name or m.kind for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; give `name:` to the repeated {dupes}")
        return self


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    return load_yaml_model(path, ExperimentConfig)
