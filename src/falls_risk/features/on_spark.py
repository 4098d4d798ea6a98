"""The feature query on Spark: the same registry SQL, rendered for Spark (``engines.render``).

The events and the spine are read by Spark (from the workspace's Parquet files, or from frames);
the code map and the feature query are the DuckDB runner's, checked for portability and
transpiled. Results come back in the DuckDB runner's exact Arrow schema and row order, so
everything downstream (partitions, manifest, training, scoring) is the same whichever engine ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from falls_risk.config import FeatureConfig
from falls_risk.engines.render import render
from falls_risk.features.registry import FEATURES
from falls_risk.features.sql import code_map_sql, feature_sql

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ORDER_BY = " ORDER BY c.index_date, c.person_key"


def feature_schema() -> pa.Schema:
    """The feature table's columns and types, as the DuckDB runner writes them."""
    return pa.schema(
        [("person_key", pa.string()), ("index_date", pa.date32())]
        + [(spec.name, pa.float64()) for spec in FEATURES]
        + [("label", pa.int8()), ("died_in_window", pa.int8())]
    )


def register_files(spark: SparkSession, events: Path, population: Path) -> None:
    """``events`` and ``population`` as Spark views over the workspace's Parquet files."""
    spark.read.parquet(str(population)).createOrReplaceTempView("population")
    spark.read.parquet(str(events)).createOrReplaceTempView("events")


def register_frames(spark: SparkSession, events: pd.DataFrame, population: pd.DataFrame) -> None:
    """``events`` and ``population`` as Spark views over in-memory frames (the spec tests)."""
    spark.createDataFrame(events).createOrReplaceTempView("events")
    spark.createDataFrame(population).createOrReplaceTempView("population")


def _to_arrow(frame) -> pa.Table:
    table = frame.toArrow()
    schema = feature_schema()
    return pa.table([table[name].cast(field.type) for name, field in zip(schema.names, schema)], schema=schema)


def spark_feature_batches(
    spark: SparkSession,
    batches: list[list[date]],
    config: FeatureConfig,
    until: date | None,
) -> Iterator[pa.Table]:
    """Run the rendered feature query over each batch of index dates on registered views."""
    code_map = spark.sql(render(code_map_sql(), "spark", what="code map")).cache()
    code_map.createOrReplaceTempView("code_map")
    sql = render(feature_sql(config, label_known_until=until) + ORDER_BY, "spark", what="feature")
    try:
        for batch in batches:
            spark.createDataFrame([(d,) for d in batch], "index_date DATE").createOrReplaceTempView("index_dates")
            yield _to_arrow(spark.sql(sql))
    finally:
        code_map.unpersist()


def population_size(spark: SparkSession) -> int:
    return spark.table("population").count()
