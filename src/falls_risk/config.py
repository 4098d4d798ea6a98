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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from falls_risk.errors import ConfigError


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkageConfig(StrictModel):
    # Chosen for precision: a false link puts someone else's falls in a person's history.
    match_threshold: float = Field(0.95, gt=0.0, lt=1.0)
    # Pairs with a probability between these bounds go to the clerical-review CSV.
    review_lower: float = Field(0.5, gt=0.0, lt=1.0)
    review_upper: float = Field(0.99, gt=0.0, le=1.0)
    random_sample_pairs: int = Field(2_000_000, gt=0)
    seed: int = 42


class FeatureConfig(StrictModel):
    # Events linked below this probability are left out of features.
    min_match_probability: float = Field(0.95, ge=0.0, le=1.0)
    label_horizon_days: int = Field(365, gt=0)
    min_age: int = Field(65, ge=0)
    # Days after the fact until a source's data is complete (e.g. police: 61).
    arrival_lag_days: dict[str, int] = Field(default_factory=dict)


class PipelineConfig(StrictModel):
    linkage: LinkageConfig = LinkageConfig()
    features: FeatureConfig = FeatureConfig()


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


def load_pipeline_config(path: str | Path | None) -> PipelineConfig:
    return PipelineConfig() if path is None else load_yaml_model(path, PipelineConfig)
