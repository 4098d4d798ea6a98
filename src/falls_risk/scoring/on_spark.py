"""Scoring on Spark: the champion's probabilities and LightGBM's ``pred_contrib`` (TreeSHAP)
computed per partition with ``mapInPandas``, the model broadcast once to every executor.

Everything else in the monthly run (tiers, changes, alerts, reasons, outputs) is unchanged: it
works on the probabilities and contributions these return, which are the same numbers the
driver would compute (the same model object and booster, unpickled on each executor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from falls_risk.engines.session import spark_errors

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROW = "_row"  # each feature row's position, so results come back in the caller's order


def _spark_frame(spark: SparkSession, features: pd.DataFrame, names: list[str]) -> DataFrame:
    frame = features.loc[:, names].astype("float64").reset_index(drop=True)
    frame.insert(0, ROW, np.arange(len(frame), dtype="int64"))
    return spark.createDataFrame(frame)


def _collect(result: DataFrame, n: int) -> pd.DataFrame:
    out = result.toArrow().to_pandas().sort_values(ROW)
    if len(out) != n or not np.array_equal(out[ROW].to_numpy(), np.arange(n)):
        raise RuntimeError(f"Spark returned {len(out)} scored rows for {n} people")
    return out.reset_index(drop=True)


def predict_on_spark(spark: SparkSession, model: Any, features: pd.DataFrame) -> np.ndarray:
    """``model.predict_proba`` of every row of ``features``, computed per partition on Spark."""
    names = list(model.feature_names_)
    if len(features) == 0:
        return np.empty(0)
    shared = spark.sparkContext.broadcast(model)

    def score(batches):
        scorer = shared.value
        for batch in batches:
            probability = np.asarray(scorer.predict_proba(batch[names]), dtype=float).reshape(-1)
            yield pd.DataFrame({ROW: batch[ROW].to_numpy(), "probability": probability})

    try:
        with spark_errors("scoring on Spark"):
            frame = _spark_frame(spark, features, names)
            out = _collect(frame.mapInPandas(score, f"{ROW} long, probability double"), len(features))
    finally:
        shared.unpersist()
    return out["probability"].to_numpy()


class SparkContributions:
    """A contributions backend for ``falls_risk.explain``: ``pred_contrib`` per partition on Spark."""

    name = "pred_contrib (Spark)"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def __call__(self, booster: Any, features: pd.DataFrame) -> tuple[np.ndarray, float]:
        names = list(features.columns)
        width = len(names) + 1  # one column per feature, then the expected value (bias)
        shared = self.spark.sparkContext.broadcast(booster)
        columns = [f"c{i}" for i in range(width)]

        def contrib(batches):
            tree = shared.value
            for batch in batches:
                values = np.asarray(tree.predict(batch[names], pred_contrib=True), dtype=float)
                out = pd.DataFrame(values, columns=columns)
                out.insert(0, ROW, batch[ROW].to_numpy())
                yield out

        schema = ", ".join([f"{ROW} long", *(f"{c} double" for c in columns)])
        try:
            with spark_errors("explaining on Spark"):
                frame = _spark_frame(self.spark, features, names)
                out = _collect(frame.mapInPandas(contrib, schema), len(features))
        finally:
            shared.unpersist()
        values = out[columns].to_numpy()
        return values[:, :-1], float(values[0, -1]) if len(values) else float("nan")
