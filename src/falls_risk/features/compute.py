"""Run the generated feature SQL on DuckDB; write and read the feature table.

``compute_features`` returns the table without writing (monthly scoring uses it at one as-of
date). ``build_features`` builds the events, computes every index date, and writes
``WS/features/index_date=YYYY-MM-DD/part-0.parquet`` plus ``WS/features/manifest.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from falls_risk.config import FeatureConfig
from falls_risk.errors import FallsRiskError, WorkspaceError
from falls_risk.events.build import build_events, connect, events_sql, require_linked
from falls_risk.features.registry import FEATURES, REGISTRY_VERSION, feature_names
from falls_risk.features.sql import code_map_sql, feature_sql
from falls_risk.progress import console, progress_bar
from falls_risk.workspace import Workspace, atomic_path, sql_path, write_json

DEFAULT_CONFIG = FeatureConfig()

OUTCOME_COLUMNS = ("label", "died_in_window")
MANIFEST = "manifest.json"


def _ws(workspace: str | Path | Workspace) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def extract_date(ws: Workspace) -> date | None:
    """The extract date recorded by ingest, or None if the workspace has no ingest summary."""
    if not ws.ingest_summary.exists():
        return None
    try:
        value = json.loads(ws.ingest_summary.read_text(encoding="utf-8")).get("extract_date")
        return None if value is None else date.fromisoformat(str(value)[:10])
    except (ValueError, json.JSONDecodeError) as exc:
        raise WorkspaceError(
            f"{ws.ingest_summary}: cannot read extract_date ({exc}). Re-run `falls-risk ingest`."
        ) from None


def label_known_until(ws: Workspace, config: FeatureConfig) -> date | None:
    """Last day the inpatient data is complete: extract date minus the inpatient arrival lag."""
    extracted = extract_date(ws)
    if extracted is None:
        return None
    return extracted - timedelta(days=config.arrival_lag_days.get("inpatient_spells", 0))


def _events_fresh(ws: Workspace) -> bool:
    path = ws.events / "events.parquet"
    if not path.exists():
        return False
    newest_linked = max((p.stat().st_mtime for p in ws.linked.glob("*.parquet")), default=0.0)
    return path.stat().st_mtime >= newest_linked


def _register(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    require_linked(ws)
    con.execute(
        f"CREATE VIEW population AS SELECT * FROM read_parquet({sql_path(ws.linked_table('population'))})"
    )
    if _events_fresh(ws):
        con.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet({sql_path(ws.events / 'events.parquet')})"
        )
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


def _feature_batches(
    ws: Workspace, index_dates: list[date], config: FeatureConfig, progress: bool
) -> Iterator[pa.Table]:
    dates = _check_dates(index_dates)
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
) -> pd.DataFrame:
    """The same SQL on in-memory tables (events in the events-table format, the spine)."""
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
    workspace: str | Path | Workspace, index_dates: list[date], *, config: FeatureConfig = DEFAULT_CONFIG
) -> pd.DataFrame:
    """One row per cohort member per index date: person_key, index_date, features, label,
    died_in_window. Writes nothing."""
    return to_frame(
        pa.concat_tables(list(_feature_batches(_ws(workspace), index_dates, config, progress=False)))
    )


def partition_dir(root: Path, day: date) -> Path:
    return root / f"index_date={day.isoformat()}"


def _write_partition(root: Path, day: date, part: pa.Table) -> dict[str, int]:
    """Write one index date's rows (possibly none) and return its counts for the manifest."""
    target = partition_dir(root, day) / "part-0.parquet"
    target.parent.mkdir(parents=True)
    pq.write_table(part, target, compression="zstd")
    labels = part["label"]
    return {
        "people": part.num_rows,
        "labels_known": part.num_rows - labels.null_count,
        "labels_positive": int(pc.sum(labels).as_py() or 0),
        "died_in_window": int(pc.sum(part["died_in_window"]).as_py() or 0),
    }


def build_features(
    workspace: str | Path | Workspace,
    index_dates: list[date],
    *,
    config: FeatureConfig = DEFAULT_CONFIG,
    progress: bool = True,
) -> dict[str, Any]:
    """Build events and the feature table for ``index_dates``; replace ``WS/features`` atomically.

    Returns a summary: rows, people per index date, labels known / positive, timings.
    """
    ws = _ws(workspace)
    started = time.perf_counter()
    build_events(ws, config)
    events_seconds = time.perf_counter() - started
    dates = _check_dates(index_dates)
    until = label_known_until(ws, config)
    per_date: dict[str, dict[str, int]] = {}
    rows = 0
    schema: pa.Schema | None = None
    with atomic_path(ws.features) as staged:
        # Written batch by batch: 48 monthly dates for all of Wales do not fit in memory at once.
        for table in _feature_batches(ws, dates, config, progress):
            rows += table.num_rows
            schema = table.schema
            for day in sorted(pc.unique(table["index_date"]).to_pylist()):
                part = table.filter(pc.equal(table["index_date"], pa.scalar(day, pa.date32())))
                per_date[day.isoformat()] = _write_partition(staged, day, part)
            del table
        for day in dates:  # an index date with nobody in the cohort still gets its (empty) partition
            if day.isoformat() not in per_date and schema is not None:
                per_date[day.isoformat()] = _write_partition(staged, day, schema.empty_table())
        summary = {
            "registry_version": REGISTRY_VERSION,
            "feature_names": feature_names(),
            "index_dates": [d.isoformat() for d in dates],
            "rows": rows,
            "label_known_until": None if until is None else until.isoformat(),
            "config": config.model_dump(),
            "per_index_date": per_date,
            "seconds_events": round(events_seconds, 2),
            "seconds_total": round(time.perf_counter() - started, 2),
        }
        write_json(summary, staged / MANIFEST)
    if progress:
        known = sum(v["labels_known"] for v in per_date.values())
        positive = sum(v["labels_positive"] for v in per_date.values())
        console.print(
            f"Features: {rows:,} rows ({len(FEATURES)} features) for {len(dates)} index date(s) "
            f"in {ws.features}; labels known for {known:,}, of which {positive:,} positive."
        )
    return summary


def read_manifest(workspace: str | Path | Workspace) -> dict[str, Any]:
    ws = _ws(workspace)
    path = ws.require(ws.features / MANIFEST, "features")
    return json.loads(path.read_text(encoding="utf-8"))


def load_feature_table(
    workspace: str | Path | Workspace, index_dates: list[date] | None = None
) -> pd.DataFrame:
    """Read ``WS/features`` (all index dates, or those given). Refuses a table built by another
    version of the feature registry."""
    ws = _ws(workspace)
    manifest = read_manifest(ws)
    if manifest.get("registry_version") != REGISTRY_VERSION:
        raise WorkspaceError(
            f"{ws.features / MANIFEST}: features were built with registry version "
            f"{manifest.get('registry_version')}, but this code has {REGISTRY_VERSION}. Re-run "
            f"`falls-risk features --workspace {ws.root} --index-dates ...`."
        )
    available = [date.fromisoformat(d) for d in manifest["index_dates"]]
    wanted = available if index_dates is None else sorted(set(index_dates))
    missing = [d.isoformat() for d in wanted if d not in available]
    if missing:
        raise WorkspaceError(
            f"{ws.features}: no features for index date(s) {', '.join(missing)} (built: "
            f"{', '.join(manifest['index_dates'])}). Re-run `falls-risk features` with those dates."
        )
    tables = [pq.read_table(partition_dir(ws.features, d) / "part-0.parquet") for d in wanted]
    return to_frame(pa.concat_tables(tables))
