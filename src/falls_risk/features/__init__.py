"""The feature registry, point-in-time features and labels (from the events stage's table).

Public API: :func:`compute_features`, :func:`build_features`,
:func:`load_feature_table`, :func:`parse_index_dates`; the registry is
``falls_risk.features.registry`` (``FEATURES``, ``REGISTRY_VERSION``, ``feature_names``,
``get_feature``); the words a practitioner reads about a feature are ``falls_risk.features.wording``.
"""

from falls_risk.features.compute import build_features, compute_features, load_feature_table, read_manifest
from falls_risk.features.index_dates import parse_index_dates
from falls_risk.features.registry import FEATURES, REGISTRY_VERSION, feature_names, get_feature
from falls_risk.features.spec import FeatureSpec

__all__ = [
    "FEATURES",
    "REGISTRY_VERSION",
    "FeatureSpec",
    "build_features",
    "compute_features",
    "feature_names",
    "get_feature",
    "load_feature_table",
    "parse_index_dates",
    "read_manifest",
]
