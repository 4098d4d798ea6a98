"""The Spark session factory: local mode stays on loopback with the UI off, and runs SQL."""

from __future__ import annotations

import socket

import pytest

from falls_risk.config import PipelineConfig, SparkConfig, load_pipeline_config
from falls_risk.engines.session import session_settings
from falls_risk.errors import ConfigError
from tests.engines.conftest import LOOPBACK


def test_local_session_binds_to_loopback_with_the_ui_disabled():
    settings = session_settings(SparkConfig())
    assert settings["spark.master"] == "local[2]"
    assert settings["spark.driver.host"] == "127.0.0.1"
    assert settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert settings["spark.ui.enabled"] == "false"
    assert settings["spark.sql.shuffle.partitions"] == "4"
    assert settings["spark.jars"].endswith(".jar")


def test_a_cluster_master_is_not_pinned_to_loopback_and_extra_conf_passes_through():
    settings = session_settings(SparkConfig(master="spark://cluster:7077", conf={"spark.executor.memory": "8g"}))
    assert settings["spark.master"] == "spark://cluster:7077"
    assert "spark.driver.bindAddress" not in settings
    assert settings["spark.executor.memory"] == "8g"
    assert "spark.master" not in session_settings(SparkConfig(master=None))  # spark-submit decides


def test_engine_is_duckdb_by_default_and_spark_by_config(tmp_path):
    assert PipelineConfig().engine == "duckdb"
    path = tmp_path / "pipeline.yaml"
    path.write_text("engine: spark\nspark:\n  shuffle_partitions: 8\n")
    config = load_pipeline_config(path)
    assert config.engine == "spark" and config.spark.shuffle_partitions == 8
    path.write_text("engine: sparky\n")
    with pytest.raises(ConfigError, match="engine"):
        load_pipeline_config(path)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.allow_hosts(LOOPBACK)
def test_spark_local_runs_sql_and_has_splinks_similarity_functions(spark):
    from splink import SparkAPI

    SparkAPI(spark_session=spark)  # registers jaro_winkler & co. from the jar the session loaded
    row = spark.sql("SELECT datediff(DATE '2024-03-01', DATE '2024-01-01') AS days, "
                    "jaro_winkler('martha', 'marhta') AS jw").collect()[0]
    assert row.days == 60
    assert row.jw == pytest.approx(0.9611, abs=1e-4)
    # The socket guard is still on for anything but loopback.
    with pytest.raises(Exception, match="(?i)socket|host"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_a_failure_inside_spark_is_one_message_that_says_what_to_do():
    from py4j.protocol import Py4JError

    from falls_risk.engines.session import spark_errors
    from falls_risk.errors import EngineError

    oom = "An error occurred while calling o121.persist.\n: java.lang.OutOfMemoryError: Java heap space"
    with pytest.raises(EngineError, match=r"ran out of memory while linking.*driver_memory") as caught, \
            spark_errors("linking"):
        raise Py4JError(oom)
    assert isinstance(caught.value.__cause__, Py4JError)  # --debug still shows the JVM's trace
    with pytest.raises(EngineError, match=r"Spark failed while scoring: boom\. Re-run with --debug"), \
            spark_errors("scoring"):
        raise Py4JError("boom\n\tat org.apache.spark...")
