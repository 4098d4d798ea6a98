"""A registered falls-risk model, loaded from MLflow and checked to be one (typed for its users)."""

from __future__ import annotations

from dataclasses import dataclass

from falls_risk import tracking
from falls_risk.errors import ModelError
from falls_risk.modelling.model import FallsRiskModel
from falls_risk.modelling.record import TrainingRecord


@dataclass(frozen=True)
class RegisteredModel:
    """A FallsRiskModel with where it came from in the registry."""

    model: FallsRiskModel
    uri: str
    name: str | None = None
    version: str | None = None
    run_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name or self.uri} v{self.version}"

    @property
    def training(self) -> TrainingRecord | None:
        return self.model.training_record_


def load_registered(uri: str) -> RegisteredModel:
    """Load ``uri`` from the configured MLflow store; refuse anything but a fitted FallsRiskModel."""
    loaded = tracking.load_model(uri)
    if not isinstance(loaded.model, FallsRiskModel):
        raise ModelError(
            f"{uri} holds a {type(loaded.model).__name__}, not a falls-risk model. Pass the URI of a model "
            "registered by `falls-risk train`."
        )
    return RegisteredModel(model=loaded.model, uri=loaded.uri, name=loaded.name, version=loaded.version,
                           run_id=loaded.run_id)
