"""A feature spec: how its value reads, and which of its fields the registry version covers."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from falls_risk.errors import FallsRiskError
from falls_risk.features.registry import (
    AGGREGATIONS,
    FEATURES,
    REGISTRY_VERSION,
    _registry_hash,
    validate_specs,
)
from falls_risk.features.spec import AGGREGATION_READINGS, COMPUTATION_FIELDS, FeatureSpec, Reading


def test_every_registry_aggregation_declares_how_it_reads():
    assert set(AGGREGATIONS) == set(AGGREGATION_READINGS)
    assert {spec.reading for spec in FEATURES} == set(Reading)


def test_reading_follows_the_kind_then_the_aggregation():
    assert FeatureSpec("x", "x", "police", kind="categorical", categories=("a",)).reading is Reading.CATEGORY
    assert FeatureSpec("x", "x", "police", aggregation="count", kind="binary").reading is Reading.FLAG
    assert FeatureSpec("x", "x", "police", aggregation="days_since").reading is Reading.RECENCY
    assert FeatureSpec("x", "x", "police", aggregation="weak_link_share").reading is Reading.SHARE
    assert FeatureSpec("x", "x", "police", aggregation="median").reading is Reading.MEASURE


def _changed(value: object) -> object:
    if isinstance(value, tuple):
        return (*value, "changed")
    if isinstance(value, str):
        return value + " changed"
    return 30 if value != 30 else 31  # window_days (None or int), window_label None


@pytest.mark.parametrize("field", [f.name for f in fields(FeatureSpec)])
def test_the_registry_version_covers_what_computes_a_feature_and_nothing_else(field):
    """Rewording a feature never forces a feature rebuild or a retrain; changing what it counts does."""
    sex = next(i for i, s in enumerate(FEATURES) if s.name == "sex")
    spec = FEATURES[sex]
    changed = (*FEATURES[:sex], replace(spec, **{field: _changed(getattr(spec, field))}), *FEATURES[sex + 1:])
    assert _registry_hash(FEATURES) == REGISTRY_VERSION
    if field in COMPUTATION_FIELDS:
        assert _registry_hash(changed) != REGISTRY_VERSION
    else:
        assert _registry_hash(changed) == REGISTRY_VERSION


def test_registry_wording_mistakes_are_refused():
    with pytest.raises(FallsRiskError, match="visits: a count needs its singular"):
        validate_specs([FeatureSpec("visits", "home visits", "social care", window_days=90)])
    with pytest.raises(FallsRiskError, match="category_labels"):
        validate_specs([FeatureSpec("s", "sex", "demographics", aggregation="sex_code", kind="categorical",
                                    categories=("M", "F"), category_labels=("male",))])
