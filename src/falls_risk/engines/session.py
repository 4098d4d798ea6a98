"""The one Spark session factory.

Local mode (``local[2]``) binds the driver to 127.0.0.1 and disables the UI, so nothing listens
beyond loopback; on a cluster ``SparkConfig.master`` names it (or is null, and spark-submit or
Databricks supplies it). Splink's similarity UDF jar (jaro_winkler and friends) is put on the
class path here, since it must be there before the JVM starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from falls_risk.config import SparkConfig
from falls_risk.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "falls-risk"
JAVA_HINT = (
    "Spark needs Java 17 or later: install Debian's openjdk-17-jre-headless "
    "(`make java`, or `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
)


def java_available() -> bool:
    """True when a ``java`` binary is on JAVA_HOME or the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def session_settings(config: SparkConfig) -> dict[str, str]:
    """Every Spark setting the session is built with (data, so tests and docs can read it)."""
    from splink.backends.spark import similarity_jar_location

    settings = {
        "spark.app.name": APP_NAME,
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.driver.memory": config.driver_memory,
        "spark.jars": similarity_jar_location(),
        # Dates and timestamps are wall-clock UTC, as DuckDB reads them from Parquet.
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Arrow for pandas <-> Spark (createDataFrame, toPandas, mapInPandas).
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
        "spark.sql.ansi.enabled": "true",
    }
    if config.master and config.master.startswith("local"):
        settings |= {
            "spark.master": config.master,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
        }
    elif config.master:
        settings["spark.master"] = config.master
    return settings | dict(config.conf)


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """The Spark session (created once per process; later calls return the same one)."""
    config = config or SparkConfig()
    if not java_available():
        raise EngineError(JAVA_HINT)
    try:
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a dependency
        raise EngineError("PySpark is not installed: run `make setup`.") from None
    # Python workers (mapInPandas) run this interpreter, where falls_risk and LightGBM import;
    # PySpark reads the variable, not a setting, when the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in session_settings(config).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except (PySparkException, OSError) as exc:  # the JVM failed to start: its message says why
        raise EngineError(f"Spark could not start ({exc}). {JAVA_HINT}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def spark_errors(doing: str) -> Iterator[None]:
    """Turn a failure inside Spark into one EngineError that says what to do (the JVM's stack
    trace is useless to an analyst; ``--debug`` still shows it through ``__cause__``)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except (Py4JError, PySparkException) as exc:
        text = str(exc)
        if "OutOfMemoryError" in text:
            raise EngineError(
                f"Spark ran out of memory while {doing}. Give it more: `spark: {{driver_memory: 8g}}` in "
                "the pipeline config (local mode), or executor memory via `spark: {conf: "
                "{spark.executor.memory: 8g}}` on a cluster."
            ) from exc
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise EngineError(f"Spark failed while {doing}: {first[:300]}. Re-run with --debug for the trace.") from exc
