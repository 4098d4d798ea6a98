"""Parity on the shared small synthetic world: the Spark engine gives what DuckDB gives.

- features: every value of every row equal (exact for counts, flags and codes; 1e-9 for reals);
- linkage with the same saved Splink model: at least 99.9% of records assigned to the same
  person, and any that differ listed;
- a monthly scoring run: the same people, with scores and SHAP contributions equal to 1e-12.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from falls_risk import catalog
from falls_risk.config import PipelineConfig
from falls_risk.contract import PERSON_SOURCES
from falls_risk.features import compute_features, parse_index_dates
from falls_risk.features.registry import FEATURES
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
from falls_risk.workspace import Workspace
from tests.conftest import FEATURE_INDEX_DATES, copy_workspace
from tests.engines.conftest import SPARK_MARKS

pytestmark = SPARK_MARKS

REAL_VALUED = {"weak_link_share", "active_sum_value"}  # sums and ratios of doubles
KEY = ["index_date", "person_key"]


def _feature_differences(duck: pd.DataFrame, spark: pd.DataFrame) -> list[str]:
    problems = []
    for spec in FEATURES:
        a, b = duck[spec.name].to_numpy(), spark[spec.name].to_numpy()
        same_missing = np.isnan(a) == np.isnan(b)
        if spec.aggregation in REAL_VALUED:
            close = np.isclose(a, b, rtol=0, atol=1e-9, equal_nan=True)
        else:
            close = (a == b) | (np.isnan(a) & np.isnan(b))
        bad = ~(same_missing & close)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{spec.name}: {int(bad.sum())} rows differ, e.g. {duck.iloc[i][KEY].to_dict()} "
                            f"duckdb={a[i]} spark={b[i]}")
    for name in ("label", "died_in_window"):
        if not duck[name].equals(spark[name]):
            problems.append(f"{name} differs")
    return problems


def test_every_feature_of_every_row_is_equal_on_both_engines(feature_workspace: Path, spark):
    dates = parse_index_dates(FEATURE_INDEX_DATES)
    duck = compute_features(feature_workspace, dates).sort_values(KEY).reset_index(drop=True)
    on_spark = compute_features(feature_workspace, dates, engine="spark").sort_values(KEY).reset_index(drop=True)
    assert len(duck) > 10_000 and list(duck.columns) == list(on_spark.columns)
    assert duck[KEY].equals(on_spark[KEY])
    assert _feature_differences(duck, on_spark) == []


def _assignments(ws: Path) -> pd.DataFrame:
    frames = []
    for source in PERSON_SOURCES:
        if catalog.LINKED.exists(Workspace(ws), source=source):
            frame = catalog.LINKED.load(Workspace(ws), source=source,
                                        columns=["row_number", "person_key", "link_method"])
            frames.append(frame.assign(source=source))
    return pd.concat(frames, ignore_index=True).set_index(["source", "row_number"]).sort_index()


def test_linkage_with_the_same_model_assigns_the_same_people(linked_workspace: Path, tmp_path: Path, spark):
    from falls_risk.linkage import run_linkage

    ws = copy_workspace(linked_workspace, tmp_path / "ws")
    summary = run_linkage(ws, progress=False, engine="spark")
    assert not summary.trained  # the saved model, as on DuckDB
    duck, on_spark = _assignments(linked_workspace), _assignments(ws)
    assert duck.index.equals(on_spark.index)
    same = (duck["person_key"] == on_spark["person_key"]) | (duck["person_key"].isna() & on_spark["person_key"].isna())
    probabilistic = duck["link_method"] == "probabilistic"
    assert probabilistic.sum() > 100  # the world exercises Splink, not only NHS numbers
    differ = pd.concat({"duckdb": duck[~same], "spark": on_spark[~same]}, axis=1)
    print(f"linkage parity: {int(same.sum())} of {len(same)} records equal "
          f"({int(probabilistic.sum())} linked by Splink on DuckDB)")
    assert same.mean() >= 0.999, f"{(~same).sum()} of {len(same)} records differ:\n{differ.head(20)}"
    # The pseudonymised spine is the same whichever engine ran Splink.
    pd.testing.assert_frame_equal(catalog.POPULATION.load(Workspace(linked_workspace)),
                                  catalog.POPULATION.load(Workspace(ws)))


def _run(world_dir: Path, root: Path, model, linkage_model: Path, engine: str):
    request = ScoringRequest(world_dir / "extract", date(2025, 12, 1), root / "2025-12",
                             TierPolicy(capacity=40), linkage_model=linkage_model,
                             config=PipelineConfig(engine=engine))
    return run_scoring(request, model=model, progress=False)


def test_a_monthly_run_scores_and_explains_the_same_on_both_engines(
    world_dir: Path, linked_workspace: Path, synthetic_model, tmp_path: Path, spark
):
    model = RegisteredModel(model=synthetic_model, name="falls-risk", version="1", run_id="run-parity",
                            uri="models:/falls-risk@champion")
    linkage_model = tmp_path / "linkage_model.json"
    shutil.copy(catalog.LINKAGE_MODEL.path(Workspace(linked_workspace)), linkage_model)
    _run(world_dir, tmp_path / "duckdb" / "runs", model, linkage_model, "duckdb")
    _run(world_dir, tmp_path / "spark" / "runs", model, linkage_model, "spark")
    read = lambda engine, name: pd.read_parquet(tmp_path / engine / "runs" / "2025-12" / name)
    duck, on_spark = read("duckdb", "scores.parquet"), read("spark", "scores.parquet")
    assert len(duck) > 500
    assert duck["person_key"].tolist() == on_spark["person_key"].tolist()
    assert np.abs(duck["probability"].to_numpy() - on_spark["probability"].to_numpy()).max() <= 1e-12
    assert duck["tier"].tolist() == on_spark["tier"].tolist()
    duck_x, spark_x = read("duckdb", "explanations.parquet"), read("spark", "explanations.parquet")
    assert duck_x["person_key"].tolist() == spark_x["person_key"].tolist()
    shap = [c for c in duck_x.columns if c.startswith("shap__")]
    assert len(shap) > len(FEATURES) / 2
    assert np.abs(duck_x[shap].to_numpy() - spark_x[shap].to_numpy()).max() <= 1e-12
    assert duck_x["reasons"].tolist() == spark_x["reasons"].tolist()
