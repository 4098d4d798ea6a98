"""Configs are strict: a typo is an error that names the file and the key."""

import pytest

from falls_risk.config import FeatureConfig, PipelineConfig, horizon_text, load_pipeline_config
from falls_risk.errors import ConfigError


def test_defaults_without_a_file():
    assert load_pipeline_config(None) == PipelineConfig()


def test_file_overrides_defaults(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("features:\n  arrival_lag_days: {police_incidents: 61}\n")
    config = load_pipeline_config(path)
    assert config.features.arrival_lag_days == {"police_incidents": 61}


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("linkage:\n  match_treshold: 0.9\n")
    with pytest.raises(ConfigError) as excinfo:
        load_pipeline_config(path)
    assert "pipeline.yaml" in str(excinfo.value)
    assert "linkage.match_treshold" in str(excinfo.value)


def test_out_of_range_value_is_rejected(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("linkage:\n  match_threshold: 1.5\n")
    with pytest.raises(ConfigError, match="match_threshold"):
        load_pipeline_config(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_pipeline_config(tmp_path / "nope.yaml")


def test_a_memory_limit_duckdb_cannot_read_is_refused_when_the_file_is_read(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("features:\n  duckdb_memory_limit: 6XB\n")
    with pytest.raises(ConfigError, match="duckdb_memory_limit"):
        load_pipeline_config(path)


@pytest.mark.parametrize(
    ("days", "said"), [(365, "12 months"), (730, "2 years"), (1095, "3 years"), (90, "90 days"), (1, "1 day")]
)
def test_the_label_horizon_is_said_as_people_say_it(days, said):
    assert horizon_text(days) == said
    assert FeatureConfig(label_horizon_days=days).horizon_text == said
