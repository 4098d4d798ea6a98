"""The one class that runs the Splink model built in :mod:`falls_risk.linkage.model`.

``SplinkModel`` registers the prepared records and spine on a DuckDB connection (or, given a
Spark session, on Spark through Splink's ``SparkAPI``: the same settings, comparisons and saved
model), trains (u by random sampling, m by expectation maximisation) or loads a saved model,
predicts candidate pairs, and hands out the parameter tables and charts for the report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa
from splink import DuckDBAPI, Linker

from falls_risk.errors import LinkageError
from falls_risk.linkage import model as model_spec
from falls_risk.workspace import sql_path, write_text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RECORDS_TABLE = "link_records"
SPINE_TABLE = "link_spine"
SPLINK_LOG_LEVEL = logging.ERROR


def comparison_arrow(frame: pd.DataFrame) -> pa.Table:
    """The comparison columns as an Arrow table with fixed types (lists stay lists)."""
    schema = pa.schema(
        [
            ("unique_id", pa.string()),
            ("forename", pa.string()),
            ("forename_aliases", pa.list_(pa.string())),
            ("forename_alias", pa.string()),
            ("surname", pa.string()),
            ("surname_key", pa.string()),
            ("surname_first", pa.string()),
            ("surname_last", pa.string()),
            ("rare_surname_key", pa.string()),
            ("previous_surname_key", pa.string()),
            ("dob", pa.string()),
            ("dob_year", pa.int32()),
            ("dob_month", pa.int32()),
            ("dob_day", pa.int32()),
            ("sex", pa.string()),
            ("postcode", pa.string()),
            ("postcode_sector", pa.string()),
            ("postcode_district", pa.string()),
            ("previous_postcode", pa.string()),
            ("address_key", pa.string()),
            ("nhs_elsewhere", pa.string()),
        ]
    )
    columns = {}
    for field in schema:
        values = frame[field.name].tolist() if field.name in frame else [None] * len(frame)
        values = [None if _missing(v) else v for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.table(columns, schema=schema)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


class SplinkModel:
    """Records linked (link_only) against the spine with one Splink model.

    ``settings`` is a ``SettingsCreator`` (untrained) or the dict / path of a saved model.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        records: pd.DataFrame,
        spine: pd.DataFrame,
        settings: Any,
        *,
        spark: SparkSession | None = None,
    ) -> None:
        logging.getLogger("splink").setLevel(SPLINK_LOG_LEVEL)
        self._spark = spark
        self._db = DuckDBAPI(connection=con) if spark is None else _spark_api(spark)
        if spark is not None:  # a session outlives a run: the last run's input views go first
            for name in (RECORDS_TABLE, SPINE_TABLE):
                spark.catalog.dropTempView(name)
        if isinstance(settings, dict):
            settings = settings_for_dialect(settings, "duckdb" if spark is None else "spark")
        self._records = self._db.register(comparison_arrow(records), dataset_display_name=RECORDS_TABLE)
        self._spine = self._db.register(comparison_arrow(spine), dataset_display_name=SPINE_TABLE)
        self.linker = Linker([self._records, self._spine], settings, log_level=None)
        self.trained = False

    def train(self, *, max_pairs: int, seed: int) -> SplinkModel:
        """u from random record-spine pairs; m from EM over each training blocking rule.

        Every random step is seeded, and training runs on one DuckDB thread: DuckDB's seeded
        sample (``REPEATABLE``) repeats only single-threaded, and EM's sums over many threads add
        up in varying order. So the same extract gives the same model, and the same links.
        EM starts from the comparisons' fixed default m values.
        """
        with self._single_threaded(), self._errors("training the Splink model"):
            training = self.linker.training
            training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
            for rule in model_spec.training_blocking_rules():
                training.estimate_parameters_using_expectation_maximisation(rule)
        floored = model_spec.floor_m_probabilities(self.settings_dict())
        self.linker = Linker([self._records, self._spine], floored, log_level=None)
        self.trained = True
        return self

    @contextlib.contextmanager
    def _single_threaded(self) -> Iterator[None]:
        """DuckDB on one thread while training (see ``train``); Spark's sampling is its own."""
        if self._spark is not None:
            yield
            return
        con = self._db.duckdb_con
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        con.execute("SET threads = 1")
        try:
            yield
        finally:
            con.execute(f"SET threads = {int(threads)}")

    def _errors(self, doing: str) -> Any:
        """On Spark, a failure inside the JVM as one EngineError that says what to do."""
        if self._spark is None:
            return contextlib.nullcontext()
        from falls_risk.engines.session import spark_errors

        return spark_errors(doing)

    def log2_prior_odds(self) -> float:
        """log2 of the model's prior odds; match weight minus this is the pair's log2 Bayes factor."""
        prior = float(self.settings_dict()["probability_two_random_records_match"])
        return math.log2(prior / (1 - prior))

    def settings_dict(self) -> dict[str, Any]:
        return self.linker.misc.save_model_to_json()

    def save(self, path: Path) -> Path:
        return write_text(json.dumps(self.settings_dict(), indent=2) + "\n", path)

    def predict(self, floor: float) -> pd.DataFrame:
        """Candidate pairs with probability >= ``floor``: record_uid, spine_uid, match_probability."""
        with self._errors("predicting candidate pairs"):
            predictions = self.linker.inference.predict(threshold_match_probability=floor, warning_mode="never")
        query = f"""
            SELECT
                CASE WHEN source_dataset_l = '{RECORDS_TABLE}' THEN unique_id_l ELSE unique_id_r END
                    AS record_uid,
                CASE WHEN source_dataset_l = '{RECORDS_TABLE}' THEN unique_id_r ELSE unique_id_l END
                    AS spine_uid,
                match_probability,
                match_weight
            FROM {predictions.physical_name}
            """
        if self._spark is None:
            rows = self._db.duckdb_con.sql(query).df()
        else:
            with self._errors("collecting candidate pairs"):
                rows = self._spark.sql(query).toArrow().to_pandas()
        predictions.drop_table_from_database_and_remove_from_cache()
        return rows

    def parameters(self) -> pd.DataFrame:
        """m and u probabilities and match weight of every comparison level."""
        records = self.linker._settings_obj._parameters_as_detailed_records
        frame = pd.DataFrame([r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in records])
        return frame

    def chart_specs(self) -> dict[str, dict[str, Any]]:
        """Vega-Lite specs of Splink's parameter charts (no record values in them)."""
        charts = self.linker.visualisations
        return {
            "match_weights": charts.match_weights_chart().chart_dict,
            "m_u_parameters": charts.m_u_parameters_chart().chart_dict,
        }


def _spark_api(spark: SparkSession) -> Any:
    """Splink's SparkAPI on ``spark``; intermediate tables persisted (cached) rather than written
    to a checkpoint folder, which a local session does not have."""
    from splink import SparkAPI

    return SparkAPI(spark_session=spark, break_lineage_method="persist")


def settings_for_dialect(saved: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A saved model's trained parameters on comparisons rendered for ``dialect`` by Splink.

    A saved model's SQL is in the dialect it was trained on, and Splink runs it unchanged on
    another backend; SQLGlot's transpilation of it is wrong (``list_intersect`` stays DuckDB's,
    ``jaro_winkler`` becomes a function Spark lacks). So the comparisons are rebuilt from this
    code for ``dialect`` and every level takes its m, u and term-frequency settings from the saved
    model, level by level, checked by label: the same model on either engine.
    """
    if saved.get("sql_dialect", dialect) == dialect:
        return saved
    fresh = model_spec.build_settings(float(saved["probability_two_random_records_match"])).create_settings_dict(
        dialect
    )
    for built, trained in zip(fresh["comparisons"], saved["comparisons"], strict=True):
        levels = [(lv.get("label_for_charts"), tr.get("label_for_charts"))
                  for lv, tr in zip(built["comparison_levels"], trained["comparison_levels"], strict=False)]
        if len(built["comparison_levels"]) != len(trained["comparison_levels"]) or any(a != b for a, b in levels):
            raise LinkageError(
                f"The saved Splink model's comparison {trained.get('output_column_name')!r} has levels "
                f"{[b for _, b in levels]}, but this version of falls-risk builds {[a for a, _ in levels]}. "
                "Run `falls-risk link --retrain` to train a model that fits."
            )
        for level, trained_level in zip(built["comparison_levels"], trained["comparison_levels"], strict=True):
            level.update({k: v for k, v in trained_level.items() if k != "sql_condition"})
    kept = {k: v for k, v in saved.items() if k not in ("comparisons", "blocking_rules_to_generate_predictions")}
    return fresh | kept | {"sql_dialect": dialect}


def load_saved_settings(path: Path) -> dict[str, Any]:
    """A saved model, checked to fit the comparisons this code prepares columns for."""
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LinkageError(
            f"Model file {path} does not exist. Train one with `falls-risk link --retrain`."
        ) from None
    except json.JSONDecodeError as exc:
        raise LinkageError(
            f"Model file {path} is not valid JSON ({exc}). Delete it or run `falls-risk link --retrain`."
        ) from None
    names = model_spec.comparison_names_in(settings)
    if names != model_spec.COMPARISON_NAMES or settings.get("link_type") != "link_only":
        raise LinkageError(
            f"Model file {path} has comparisons {list(names)}, but this version of falls-risk expects "
            f"{list(model_spec.COMPARISON_NAMES)} (link_only). Run `falls-risk link --retrain` to train a "
            "model that fits."
        )
    return settings


def connect(*, threads: int, memory_limit: str, temp_directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with bounded threads and memory, spilling to ``temp_directory``."""
    con = duckdb.connect(database=":memory:")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = {sql_path(temp_directory)}")  # the workspace may be o'brien/
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # our own Rich bar reports progress
    return con
