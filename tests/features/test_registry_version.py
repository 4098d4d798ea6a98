"""REGISTRY_VERSION stays honest: one version never stands for two different computations.

Feature tables and models carry ``REGISTRY_VERSION`` and refuse code of another version. It
hashes the specs, when each source's records become known and ``COMPUTATION_REVISION``; a change
of the generated SQL alone (the point-in-time rule, a statistic, the events build) must bump the
revision. ``registry_versions.json`` pins the SQL fingerprint each version stood for.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from falls_risk.config import FeatureConfig
from falls_risk.contract import PERSON_SOURCES, SOURCES
from falls_risk.events.build import source_events_sql
from falls_risk.features import registry
from falls_risk.features.sql import code_map_sql, feature_sql

PINNED = Path(__file__).with_name("registry_versions.json")


def sql_fingerprint() -> str:
    """What computes the features: the events build of every source and the feature SQL."""
    parts = [source_events_sql(source, "linked") for source in PERSON_SOURCES]
    parts.append([code_map_sql(), feature_sql(FeatureConfig(), label_known_until=date(2025, 1, 31))])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:16]


def test_the_same_version_never_stands_for_different_sql() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    now = sql_fingerprint()
    if registry.REGISTRY_VERSION in pinned:
        assert pinned[registry.REGISTRY_VERSION] == now, (
            f"The feature SQL changed (fingerprint {now}) but REGISTRY_VERSION is still "
            f"{registry.REGISTRY_VERSION}: bump COMPUTATION_REVISION in features/registry.py and add "
            f'"<new version>": "{now}" to {PINNED.name}.'
        )
    # A fingerprint pinned under two versions is harmless (a rebuild nobody needed); one version
    # under two fingerprints is impossible in a JSON object, which is the point.


def test_when_records_become_known_is_part_of_the_version() -> None:
    spells = SOURCES["inpatient_spells"]
    before = registry.REGISTRY_VERSION
    object.__setattr__(spells, "known_from_column", None)
    try:
        assert registry._registry_hash(registry.FEATURES) != before
    finally:
        object.__setattr__(spells, "known_from_column", "discharge_date")
    assert registry._registry_hash(registry.FEATURES) == before


def test_a_new_computation_revision_is_a_new_version(monkeypatch) -> None:
    before = registry._registry_hash(registry.FEATURES)
    monkeypatch.setattr(registry, "COMPUTATION_REVISION", registry.COMPUTATION_REVISION + 1)
    assert registry._registry_hash(registry.FEATURES) != before
