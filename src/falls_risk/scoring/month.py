"""The month's inputs, built in the run's working folder: ingest, link, events, features.

Each is the pipeline's own stage, run as training ran it: the feature config and the Splink
model come from the model's training record (an explicit ``--linkage-model`` overrides it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import EVENTS, LINKAGE_MODEL, POPULATION
from falls_risk.config import FeatureConfig
from falls_risk.errors import ScoringError
from falls_risk.events import build_events
from falls_risk.features import compute_features
from falls_risk.features.registry import feature_names
from falls_risk.ingest import IngestSummary, run_ingest
from falls_risk.linkage import LinkageSummary, run_linkage
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring.manifest import StageTimer, sha256_file
from falls_risk.scoring.request import ScoringRequest
from falls_risk.scoring.safety import check_extract_not_older
from falls_risk.workspace import Workspace

EVENT_COLUMNS = ["person_key", "event_time", "code", "match_probability"]


@dataclass(frozen=True)
class MonthInputs:
    """What the month's extract gave: the stage records, the eligible people's features and their
    local authority, and the recent events (for alerts)."""

    extract: IngestSummary
    linkage: LinkageSummary
    feature_config: FeatureConfig
    features: pd.DataFrame
    local_authority: pd.Series
    linked_people: int
    input_hashes: dict[str, str]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def events(self, ws: Workspace, since: date, until: date) -> pd.DataFrame:
        """The linked events in ``[since, until)``."""
        if not EVENTS.exists(ws):
            return pd.DataFrame(columns=EVENT_COLUMNS)
        return EVENTS.load(
            ws, columns=EVENT_COLUMNS,
            filters=[("event_time", ">=", pd.Timestamp(since)), ("event_time", "<", pd.Timestamp(until))],
        )

    def events_of(self, ws: Workspace, people: Iterable[str], until: date) -> pd.DataFrame:
        """Every linked event of ``people`` before ``until`` (their facts and contacts timeline)."""
        keys = sorted(set(people))
        if not keys or not EVENTS.exists(ws):
            return pd.DataFrame(columns=EVENT_COLUMNS)
        return EVENTS.load(
            ws, columns=EVENT_COLUMNS,
            filters=[("person_key", "in", keys), ("event_time", "<", pd.Timestamp(until))],
        )


def feature_config_of(registered: RegisteredModel, fallback: FeatureConfig) -> FeatureConfig:
    """The FeatureConfig the model was trained with; ``fallback`` for a model that records none."""
    training = registered.training
    if training is None or training.data.feature_config is None:
        return fallback
    return training.data.feature_config


def _linkage_model(request: ScoringRequest, registered: RegisteredModel, ws: Workspace) -> Path | None:
    """The Splink model to link with: the one given, else the one recorded with the model's training."""
    if request.linkage_model is not None:
        return request.linkage_model
    training = registered.training
    if training is None or training.data.linkage_model is None:
        return None
    LINKAGE_MODEL.save(ws, training.data.linkage_model)
    return LINKAGE_MODEL.path(ws)


def build_month(
    request: ScoringRequest, registered: RegisteredModel, ws: Workspace, secret: bytes, timer: StageTimer,
    previous: dict[str, Any] | None,
) -> MonthInputs:
    """Ingest, link, build events and features for the month; refuse an extract older than the
    previous run's (``previous``: its ledger entry) before linking anything."""
    warnings: list[str] = []
    feature_config = feature_config_of(registered, request.config.features)
    with timer.stage("ingest"):
        extract = run_ingest(request.extract_dir, ws.root, mapping=request.mapping,
                             extract_date=request.extract_date, progress=False)
        check_extract_not_older(extract.extract_date, previous)
        input_hashes = extract.input_hashes()
        if request.mapping is not None:
            input_hashes[f"mapping:{request.mapping.name}"] = sha256_file(request.mapping)
        if (request.as_of - extract.extract_date).days > 31:
            warnings.append(
                f"The extract is dated {extract.extract_date}, more than a month before --as-of {request.as_of}; "
                "recent events are missing from the features."
            )
    with timer.stage("linkage"):
        model_path = _linkage_model(request, registered, ws)
        if model_path is None:
            warnings.append(
                "The model records no linkage model, so linkage was trained on this extract; pass "
                "--linkage-model to reuse the one used in training."
            )
        linkage = run_linkage(ws.root, config=request.config.linkage, secret=secret, model_path=model_path,
                              retrain=model_path is None, progress=False, engine=request.config.engine,
                              spark_config=request.config.spark)
        input_hashes["linkage_model.json"] = sha256_file(linkage.model_path)
    with timer.stage("events"):
        build_events(ws.root, feature_config)
    with timer.stage("features"):
        features = compute_features(ws.root, [request.as_of], config=feature_config,
                                    engine=request.config.engine, spark_config=request.config.spark)
        registry = set(feature_names())
        features = features[["person_key", *[c for c in features.columns if c in registry]]].reset_index(drop=True)
        if features.empty:
            raise ScoringError(
                f"No eligible people (65+, alive, registered) in {request.extract_dir} as of {request.as_of}; check "
                "the extract and the --as-of date."
            )
        spine = POPULATION.load(ws, columns=["person_key", "local_authority"])
        local_authority = features[["person_key"]].merge(
            spine.drop_duplicates("person_key"), on="person_key", how="left"
        )["local_authority"]
    return MonthInputs(
        extract=extract, linkage=linkage, feature_config=feature_config, features=features,
        local_authority=local_authority, linked_people=len(spine), input_hashes=input_hashes,
        warnings=tuple(warnings),
    )
