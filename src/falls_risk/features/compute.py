"""Run the generated feature SQL on DuckDB; write and read the feature table.

``compute_features`` returns the table without writing (monthly scoring uses it at one as-of
date). ``build_features`` builds the events, computes every index date, and writes the feature
table (``catalog.FEATURE_TABLE``: one partition per index date) with its ``FeaturesManifest``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from falls_risk.catalog import EVENTS, FEATURE_PARTITION, FEATURE_TABLE, INGEST_SUMMARY, LINKED, POPULATION
from falls_risk.config import FeatureConfig, SparkConfig
from falls_risk.engines import Engine
from falls_risk.errors import FallsRiskError, WorkspaceError
from falls_risk.events.build import EVENT_COLUMNS, build_events, connect, events_sql
from falls_risk.features.manifest import FeaturesManifest, IndexDateCounts
from falls_risk.features.registry import FEATURES, REGISTRY_VERSION, feature_names
from falls_risk.features.sql import code_map_sql, feature_sql
from falls_risk.ingest.summary import IngestSummary
from falls_risk.progress import console, progress_bar
from falls_risk.workspace import Workspace, atomic_path, sql_path

DEFAULT_CONFIG = FeatureConfig()

OUTCOME_COLUMNS = ("label", "died_in_window")


def _ws(workspace: str | Path | Workspace) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def extract_date(ws: Workspace) -> date | None:
    """The extract date recorded by ingest, or None if the workspace has no ingest summary."""
    if not INGEST_SUMMARY.exists(ws):
        return None
    return IngestSummary.read(ws).extract_date


def label_known_until(ws: Workspace, config: FeatureConfig) -> date | None:
    """Last day the inpatient data is complete: extract date minus the inpatient arrival lag."""
    extracted = extract_date(ws)
    if extracted is None:
        return None
    return extracted - timedelta(days=config.arrival_lag_days.get("inpatient_spells", 0))


def _events_fresh(ws: Workspace) -> bool:
    """The events file exists, is newer than every linked table, and has this code's columns (an
    events table from before ``known_time`` is rebuilt, not misread)."""
    path = EVENTS.path(ws)
    if not path.exists():
        return False
    newest_linked = max((p.stat().st_mtime for p in LINKED.path(ws, source="*").parent.glob("*.parquet")),
                        default=0.0)
    if path.stat().st_mtime < newest_linked:
        return False
    return set(EVENT_COLUMNS) <= set(pq.read_schema(path).names)


def _register(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    population = POPULATION.require(ws)
    con.execute(f"CREATE VIEW population AS SELECT * FROM read_parquet({sql_path(population)})")
    if _events_fresh(ws):
        con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({sql_path(EVENTS.path(ws))})")
    else:
        # No (or stale) events file: build the events on the fly, writing nothing.
        con.execute(f"CREATE VIEW events AS {events_sql(ws)}")


def _batches(dates: list[date], people: int, config: FeatureConfig) -> list[list[date]]:
    per_query = max(1, config.max_rows_per_query // max(1, people))
    return [dates[i : i + per_query] for i in range(0, len(dates), per_query)]


def _check_dates(index_dates: list[date]) -> list[date]:
    if not index_dates:
        raise FallsRiskError("No index dates given: pass at least one (e.g. --index-dates 2023-01-01).")
    return sorted(set(index_dates))


def _run(con: duckdb.DuckDBPyConnection, sql: str, dates: list[date]) -> pa.Table:
    con.execute("DROP TABLE IF EXISTS index_dates")
    con.execute("CREATE TEMP TABLE index_dates (index_date DATE)")
    con.executemany("INSERT INTO index_dates VALUES (?)", [(d,) for d in dates])
    return con.sql(sql + " ORDER BY c.index_date, c.person_key").to_arrow_table()


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Feature table as pandas: features float64, label / died_in_window nullable Int8."""
    frame = table.to_pandas()
    frame["index_date"] = pd.to_datetime(frame["index_date"])
    for name in OUTCOME_COLUMNS:
        frame[name] = frame[name].astype("Int8")
    for name in feature_names():
        frame[name] = frame[name].astype("float64")
    return frame


def _run_batches(
    con: duckdb.DuckDBPyConnection,
    dates: list[date],
    config: FeatureConfig,
    until: date | None,
    progress: bool,
) -> Iterator[pa.Table]:
    """Run the feature query over ``dates`` on a connection with events / population views,
    yielding one table per batch of index dates (so a caller can write and forget each)."""
    sql = feature_sql(config, label_known_until=until)
    con.execute(f"CREATE OR REPLACE TEMP TABLE code_map AS {code_map_sql()}")
    people = con.execute("SELECT count(*) FROM population").fetchone()[0]
    with progress_bar(disable=not progress) as bar:
        task = bar.add_task("Computing features", total=len(dates))
        for batch in _batches(dates, people, config):
            yield _run(con, sql, batch)
            bar.advance(task, len(batch))


def _spark_feature_batches(
    ws: Workspace, dates: list[date], config: FeatureConfig, progress: bool, spark_config: SparkConfig | None
) -> Iterator[pa.Table]:
    """The same query on Spark (``features.on_spark``). Spark reads the events table, so one that
    is missing or stale is built first (on DuckDB, and written, as ``falls-risk features`` does)."""
    from falls_risk.engines.session import spark_errors, spark_session
    from falls_risk.features import on_spark

    if not _events_fresh(ws):
        build_events(ws, config)
    spark = spark_session(spark_config)
    on_spark.register_files(spark, EVENTS.path(ws), POPULATION.require(ws))
    batches = _batches(dates, on_spark.population_size(spark), config)
    with spark_errors(f"computing features for {ws.root}"), progress_bar(disable=not progress) as bar:
        task = bar.add_task("Computing features (Spark)", total=len(dates))
        for batch, table in zip(batches, on_spark.spark_feature_batches(spark, batches, config,
                                                                         label_known_until(ws, config))):
            yield table
            bar.advance(task, len(batch))


def _feature_batches(
    ws: Workspace,
    index_dates: list[date],
    config: FeatureConfig,
    progress: bool,
    engine: Engine = "duckdb",
    spark_config: SparkConfig | None = None,
) -> Iterator[pa.Table]:
    dates = _check_dates(index_dates)
    if engine == "spark":
        yield from _spark_feature_batches(ws, dates, config, progress, spark_config)
        return
    con = connect(config)
    try:
        _register(con, ws)
        yield from _run_batches(con, dates, config, label_known_until(ws, config), progress)
    except duckdb.Error as exc:
        raise WorkspaceError(
            f"Feature query failed on {ws.root}: {exc}. Check that WS/linked was written by "
            f"`falls-risk link` and the config ({config.model_dump()})."
        ) from None
    finally:
        con.close()


def compute_from_frames(
    events: pd.DataFrame,
    population: pd.DataFrame,
    index_dates: list[date],
    *,
    config: FeatureConfig = DEFAULT_CONFIG,
    label_known_until: date | None = None,
    engine: Engine = "duckdb",
    spark_config: SparkConfig | None = None,
) -> pd.DataFrame:
    """The same SQL on in-memory tables (events in the events-table format, the spine)."""
    if engine == "spark":
        from falls_risk.engines.session import spark_session
        from falls_risk.features import on_spark

        spark = spark_session(spark_config)
        on_spark.register_frames(spark, events, population)
        batches = [_check_dates(index_dates)]
        return to_frame(pa.concat_tables(list(on_spark.spark_feature_batches(spark, batches, config,
                                                                             label_known_until))))
    con = connect(config)
    try:
        con.register("events_frame", events)
        con.register("population_frame", population)
        con.execute("CREATE VIEW events AS SELECT * FROM events_frame")
        con.execute("CREATE VIEW population AS SELECT * FROM population_frame")
        tables = _run_batches(con, _check_dates(index_dates), config, label_known_until, progress=False)
        return to_frame(pa.concat_tables(list(tables)))
    finally:
        con.close()


def compute_features(
    workspace: str | Path | Workspace,
    index_dates: list[date],
    *,
    config: FeatureConfig = DEFAULT_CONFIG,
    engine: Engine = "duckdb",
    spark_config: SparkConfig | None = None,
) -> pd.DataFrame:
    """One row per cohort member per index date: person_key, index_date, features, label,
    died_in_window. Writes nothing."""
    batches = _feature_batches(_ws(workspace), index_dates, config, False, engine, spark_config)
    return to_frame(pa.concat_tables(list(batches)))


def _write_partition(base: Path, day: date, part: pa.Table) -> IndexDateCounts:
    """Write one index date's rows (possibly none) and return its counts for the manifest."""
    target = FEATURE_PARTITION.path(base, day=day.isoformat())
    target.parent.mkdir(parents=True)
    pq.write_table(part, target, compression="zstd")
    labels = part["label"]
    return IndexDateCounts(
        people=part.num_rows,
        labels_known=part.num_rows - labels.null_count,
        labels_positive=int(pc.sum(labels).as_py() or 0),
        died_in_window=int(pc.sum(part["died_in_window"]).as_py() or 0),
    )


def build_features(
    workspace: str | Path | Workspace,
    index_dates: list[date],
    *,
    config: FeatureConfig = DEFAULT_CONFIG,
    progress: bool = True,
    engine: Engine = "duckdb",
    spark_config: SparkConfig | None = None,
) -> FeaturesManifest:
    """Build events and the feature table for ``index_dates``; replace the table atomically.

    Returns its manifest: rows, people per index date, labels known / positive, timings.
    """
    ws = _ws(workspace)
    started = time.perf_counter()
    build_events(ws, config)
    events_seconds = time.perf_counter() - started
    dates = _check_dates(index_dates)
    until = label_known_until(ws, config)
    per_date: dict[date, IndexDateCounts] = {}
    rows = 0
    schema: pa.Schema | None = None
    with atomic_path(FEATURE_TABLE.path(ws)) as staged:
        # The staged folder stands in for the feature table: its parent is the workspace to name paths by.
        base = staged.parent
        # Written batch by batch: 48 monthly dates for all of Wales do not fit in memory at once.
        for table in _feature_batches(ws, dates, config, progress, engine, spark_config):
            rows += table.num_rows
            schema = table.schema
            for day in sorted(pc.unique(table["index_date"]).to_pylist()):
                part = table.filter(pc.equal(table["index_date"], pa.scalar(day, pa.date32())))
                per_date[day] = _write_partition(base, day, part)
            del table
        for day in dates:  # an index date with nobody in the cohort still gets its (empty) partition
            if day not in per_date and schema is not None:
                per_date[day] = _write_partition(base, day, schema.empty_table())
        manifest = FeaturesManifest(
            registry_version=REGISTRY_VERSION,
            feature_names=tuple(feature_names()),
            index_dates=tuple(dates),
            rows=rows,
            label_known_until=until,
            config=config,
            per_index_date=dict(sorted(per_date.items())),
            seconds_events=round(events_seconds, 2),
            seconds_total=round(time.perf_counter() - started, 2),
        )
        manifest.write(base)
    if progress:
        console.print(
            f"Features: {rows:,} rows ({len(FEATURES)} features) for {len(dates)} index date(s) "
            f"in {FEATURE_TABLE.path(ws)}; labels known for {manifest.labels_known:,}, of which "
            f"{manifest.labels_positive:,} positive."
        )
    return manifest


def read_manifest(workspace: str | Path | Workspace) -> FeaturesManifest:
    return FeaturesManifest.read(_ws(workspace))


def load_feature_table(
    workspace: str | Path | Workspace, index_dates: list[date] | None = None
) -> pd.DataFrame:
    """Read ``WS/features`` (all index dates, or those given). Refuses a table built by another
    version of the feature registry."""
    ws = _ws(workspace)
    manifest = read_manifest(ws)
    if manifest.registry_version != REGISTRY_VERSION:
        raise WorkspaceError(
            f"{FEATURE_TABLE.path(ws)}: features were built with registry version "
            f"{manifest.registry_version}, but this code has {REGISTRY_VERSION}. Re-run "
            f"`falls-risk features --workspace {ws.root} --index-dates ...`."
        )
    available = list(manifest.index_dates)
    wanted = available if index_dates is None else sorted(set(index_dates))
    missing = [d.isoformat() for d in wanted if d not in available]
    if missing:
        raise WorkspaceError(
            f"{FEATURE_TABLE.path(ws)}: no features for index date(s) {', '.join(missing)} (built: "
            f"{', '.join(d.isoformat() for d in available)}). Re-run `falls-risk features` with those dates."
        )
    tables = [FEATURE_PARTITION.load_arrow(ws, day=d.isoformat()) for d in wanted]
    return to_frame(pa.concat_tables(tables))
