import json
from datetime import date

import pytest

from falls_risk.errors import ScoringError
from falls_risk.scoring.safety import (
    check_as_of,
    check_extract_not_older,
    check_model_compatible,
    check_month_folder,
    check_output_dir,
)


def test_future_as_of_is_refused():
    check_as_of(date(2026, 3, 1), today=date(2026, 3, 1))
    with pytest.raises(ScoringError, match="future"):
        check_as_of(date(2026, 3, 2), today=date(2026, 3, 1))


def test_extract_older_than_previous_run_is_refused():
    previous = {"month": "2026-02", "extract_date": "2026-02-01"}
    check_extract_not_older(date(2026, 2, 1), previous)
    check_extract_not_older(date(2026, 1, 1), None)
    with pytest.raises(ScoringError, match="older than the extract of the previous run"):
        check_extract_not_older(date(2026, 1, 31), previous)


def test_out_folder_must_match_the_month(tmp_path):
    assert check_output_dir(tmp_path / "2026-03", date(2026, 3, 1)) == "2026-03"
    with pytest.raises(ScoringError, match="named for month 2026-02"):
        check_output_dir(tmp_path / "2026-02", date(2026, 3, 1))
    held = tmp_path / "march"
    held.mkdir()
    (held / "manifest.json").write_text(json.dumps({"month": "2026-03"}))
    with pytest.raises(ScoringError, match="holds the run for 2026-03"):
        check_output_dir(held, date(2026, 4, 1))
    other = tmp_path / "stuff"
    other.mkdir()
    (other / "x.txt").write_text("x")
    with pytest.raises(ScoringError, match="not a scoring run folder"):
        check_output_dir(other, date(2026, 4, 1))
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    with pytest.raises(ScoringError, match="is a file; give a folder"):
        check_output_dir(a_file, date(2026, 4, 1))


def test_month_goes_to_one_folder(tmp_path):
    entries = [{"month": "2026-03", "output_dir": "march", "sequence": 1}]
    check_month_folder(entries, "2026-03", tmp_path / "march")
    with pytest.raises(ScoringError, match="already scored into"):
        check_month_folder(entries, "2026-03", tmp_path / "2026-03")
    with pytest.raises(ScoringError, match="already holds month 2026-03"):
        check_month_folder(entries, "2026-04", tmp_path / "march")


def test_model_with_other_features_or_registry_version_is_refused_clearly():
    check_model_compatible(["a", "b"], "7", ["b", "a"], "7", "falls-risk v3")
    with pytest.raises(ScoringError, match="registry version '6'.*Retrain"):
        check_model_compatible(["a", "b"], "6", ["a", "b"], "7", "falls-risk v3")
    check_model_compatible(["a"], "7", ["a", "b"], "7", "falls-risk v3")  # a subset is fine
    with pytest.raises(ScoringError, match="does not compute: c"):
        check_model_compatible(["a", "c"], "7", ["a", "b"], "7", "falls-risk v3")


def test_feature_config_recorded_with_the_model_is_reused():
    from dataclasses import replace
    from types import SimpleNamespace

    from falls_risk.config import FeatureConfig
    from falls_risk.errors import ModelError
    from falls_risk.modelling.record import TrainingRecord
    from falls_risk.scoring.month import feature_config_of

    recorded = FeatureConfig(min_match_probability=0.9, arrival_lag_days={"police_incidents": 61})
    record = _training_record()
    model = SimpleNamespace(training=replace(record, data=replace(record.data, feature_config=recorded)))
    config = feature_config_of(model, FeatureConfig())
    assert config.min_match_probability == 0.9 and config.arrival_lag_days == {"police_incidents": 61}
    assert feature_config_of(SimpleNamespace(training=None), FeatureConfig(min_age=70)).min_age == 70
    # A record written by another version (an unknown feature setting) is refused with what to do.
    broken = record.to_dict()
    broken["data"]["feature_config"] = {"nonsense": 1}
    with pytest.raises(ModelError, match="Retrain"):
        TrainingRecord.from_dict(broken)


def _training_record():
    from falls_risk.config import ExperimentConfig, ModelConfig
    from falls_risk.modelling.record import DataRecord, PartCounts, SplitRecord, TrainingRecord

    counts = PartCounts(train=10, calibration=2, test=5)
    return TrainingRecord(
        experiment="e", model_name="m", model_kind="lightgbm", trained_at="2026-01-01T00:00:00+00:00",
        config=ExperimentConfig(name="e", models=[ModelConfig(kind="lightgbm")]), params={},
        split=SplitRecord(test_months=12, calibration_fraction=0.2, gap_days=0, seed=0,
                          train_index_dates=(date(2023, 1, 1),), test_index_dates=(date(2024, 1, 1),),
                          rows=counts, persons=counts, events=counts),
        data=DataRecord(workspace="ws", feature_table_hash="h", registry_version="r"), thresholds={},
    )
