"""`--engine spark` on the commands: the feature table written by Spark is the one DuckDB writes,
and a bad engine name is one clear message with exit code 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.cli import main
from tests.engines.conftest import LOOPBACK
from tests.features.features_fixtures import write_tiny_workspace

DATES = "2023-01-01:2023-04-01:quarterly"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_workspace(tmp_path_factory.mktemp("tiny_engines"))


def test_an_unknown_engine_is_one_clear_message(tiny: Path, tmp_path: Path, capsys):
    ws = Path(shutil.copytree(tiny, tmp_path / "ws"))
    assert main(["features", "--workspace", str(ws), "--index-dates", DATES, "--engine", "presto"]) == 1
    assert "--engine 'presto': expected duckdb or spark" in capsys.readouterr().err
    assert not (ws / "features").exists()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.allow_hosts(LOOPBACK)
def test_features_on_spark_writes_the_table_duckdb_writes(tiny: Path, tmp_path: Path, spark):
    on_duckdb = Path(shutil.copytree(tiny, tmp_path / "duckdb"))
    on_spark = Path(shutil.copytree(tiny, tmp_path / "spark"))
    assert main(["features", "--workspace", str(on_duckdb), "--index-dates", DATES]) == 0
    assert main(["features", "--workspace", str(on_spark), "--index-dates", DATES, "--engine", "spark"]) == 0
    for day in ("2023-01-01", "2023-04-01"):
        part = Path("features") / f"index_date={day}" / "part-0.parquet"
        a, b = pd.read_parquet(on_duckdb / part), pd.read_parquet(on_spark / part)
        pd.testing.assert_frame_equal(a, b)
        assert len(a) >= 4
