"""``run_linkage``: NHS-number rules, the Splink model, one person per record, pseudonymised outputs."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from falls_risk.catalog import (
    CLERICAL_REVIEW,
    INGESTED,
    LINKAGE_MODEL,
    LINKAGE_REPORT,
    LINKAGE_SUMMARY,
    LINKED,
    POPULATION,
    REVIEW_DECISIONS,
)
from falls_risk.config import LinkageConfig, SparkConfig
from falls_risk.contract import DIRECT_IDENTIFIERS, FREE_TEXT_COLUMNS, PERSON_SOURCES, SOURCES
from falls_risk.engines import Engine
from falls_risk.engines.session import spark_session
from falls_risk.errors import LinkageError, WorkspaceError
from falls_risk.identity import key_fingerprint, keyed_hash
from falls_risk.linkage import assign, prepare, review
from falls_risk.linkage import model as model_spec
from falls_risk.linkage.engine import SplinkModel, connect, load_saved_settings
from falls_risk.linkage.names import address_key
from falls_risk.linkage.report import write_report
from falls_risk.linkage.secret import load_secret
from falls_risk.linkage.summary import LinkageSummary
from falls_risk.progress import console, progress_bar
from falls_risk.workspace import Workspace, atomic_path, private_temp_dir, sql_path

# Candidate pairs below this pairwise probability are dropped: their odds barely move the
# record-level posterior (see assign.py).
CANDIDATE_FLOOR = 0.001
LINK_METHODS = ("nhs_number", "probabilistic", "unlinked")
POPULATION_COLUMNS = (
    "person_key",
    "sex",
    "birth_month",
    "lsoa_code",
    "wimd_rank",
    "local_authority",
    "registration_date",
    "deregistration_date",
    "date_of_death",
    "household_key",
    # False for a person kept on a demographic key (no valid NHS number in the population file).
    "nhs_number_valid",
)


class _Clock:
    """Seconds per phase (a phase timed twice adds up)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._last, 2)
        self._last = now


def kept_columns(columns: list[str], source: str) -> list[str]:
    """Ingested columns of ``source`` that may travel past linkage: only its contract columns
    and ``row_number``, without free text (``FREE_TEXT_COLUMNS``). An extract's extra columns
    are ignored by every later stage, and their names cannot be trusted to reveal an identifier ("DOB", "Full Name", "NHS No")."""
    allowed = {*SOURCES[source].column_names, "row_number"}
    return [c for c in columns if c in allowed and c not in DIRECT_IDENTIFIERS | FREE_TEXT_COLUMNS]


def run_linkage(
    workspace: str | Path,
    *,
    config: LinkageConfig = LinkageConfig(),  # noqa: B008 (frozen pydantic model: safe as a default)
    secret: bytes | None = None,
    retrain: bool = False,
    model_path: Path | None = None,
    decisions_path: Path | None = None,
    progress: bool = True,
    engine: Engine = "duckdb",
    spark_config: SparkConfig | None = None,
) -> LinkageSummary:
    """Link every record of every person source to one person of the spine, or leave it unlinked.

    Writes the linked sources and the pseudonymised spine, the Splink model (reused unless
    ``retrain``), the linkage report and the clerical-review CSV (``catalog``: LINKED, POPULATION,
    LINKAGE_MODEL, LINKAGE_REPORT, CLERICAL_REVIEW). Decisions in REVIEW_DECISIONS (or
    ``decisions_path``) override the model.
    """
    started = time.perf_counter()
    ws = Workspace(workspace)
    population = INGESTED.require(ws, source="population")
    if secret is None:
        secret = load_secret(workspace=ws.root)
    check_same_key(ws, secret)
    saved_model = Path(model_path) if model_path is not None else LINKAGE_MODEL.path(ws)
    if model_path is not None and not saved_model.exists():
        raise LinkageError(
            f"--model {saved_model} does not exist. Check the path, or omit it to use the workspace model."
        )
    decisions_file = (
        Path(decisions_path) if decisions_path is not None else REVIEW_DECISIONS.path(ws)
    )
    if decisions_path is not None and not decisions_file.exists():
        raise LinkageError(f"Review decisions file {decisions_file} does not exist. Check the path.")
    decisions = review.read_decisions(decisions_file) if decisions_file.exists() else review.empty_decisions()
    if not (config.review_lower < config.review_upper):
        raise LinkageError(
            f"review_lower ({config.review_lower}) must be below review_upper ({config.review_upper}) in the "
            "linkage config."
        )

    # DuckDB spills the spine (NHS numbers, names) here: inside the workspace, mode 0700, never the
    # system temporary folder; a killed run's folder is swept by the next.
    temp_dir = private_temp_dir(ws.root, "link")
    con = connect(threads=config.threads, memory_limit=config.memory_limit, temp_directory=temp_dir)
    try:
        with progress_bar(disable=not progress) as bar:
            sources = {s: INGESTED.path(ws, source=s) for s in PERSON_SOURCES if INGESTED.exists(ws, source=s)}
            task = bar.add_task("Linking", total=len(sources) + 4)
            clock = _Clock()
            spine_size = prepare.load_spine(con, population, secret)
            without_nhs = prepare.spine_rows_without_nhs(con)
            left_out = prepare.spine_rows_left_out(con)
            stage1 = {s: prepare.stage_one(con, s, p) for s, p in sources.items()}
            clock.lap("stage 1 (NHS number)")
            bar.advance(task)

            identities = prepare.stage_two_identities(con, stage1)
            identities["record_uid"] = [f"r{i}" for i in range(len(identities))]
            identities["review_record_key"] = [
                prepare.review_record_key(secret, f) for f in identities["fingerprint"]
            ]
            identities["sources"] = _sources_per_identity(con, stage1, identities)
            records_cmp = prepare.comparison_frame(identities, identities["record_uid"])
            spine_cmp = prepare.spine_frame(con, stage1)
            prepare.mark_rare_surnames(records_cmp, spine_cmp)
            uid_to_person = dict(zip(spine_cmp["unique_id"], spine_cmp["person_key"], strict=True))

            trained = retrain or not saved_model.exists()
            settings: Any
            if trained:
                settings = model_spec.build_settings(config.expected_in_spine / spine_size)
            else:
                settings = load_saved_settings(saved_model)
            candidates = pd.DataFrame(
                {
                    "record_uid": pd.Series(dtype=str),
                    "person_key": pd.Series(dtype=str),
                    "log2_bayes_factor": pd.Series(dtype=float),
                    "splink_probability": pd.Series(dtype=float),
                }
            )
            splink_model = None
            if len(identities):
                # Splink (training, prediction) on the engine asked for; the rest runs on DuckDB.
                spark = spark_session(spark_config) if engine == "spark" else None
                splink_model = SplinkModel(con, records_cmp, spine_cmp, settings, spark=spark)
                if trained:
                    if len(identities) < 50:
                        raise LinkageError(
                            f"Only {len(identities)} records need probabilistic linkage: too few to train a model. "
                            f"Provide a trained model with --model, or link a larger extract first."
                        )
                    clock.lap("prepare stage 2")
                    splink_model.train(max_pairs=config.random_sample_pairs, seed=config.seed)
                    clock.lap("train (u sampling, EM)")
                    splink_model.save(LINKAGE_MODEL.path(ws))
                bar.advance(task)
                clock.lap("prepare stage 2")
                predicted = splink_model.predict(CANDIDATE_FLOOR)
                clock.lap("predict")
                candidates = pd.DataFrame(
                    {
                        "record_uid": predicted["record_uid"].astype(str),
                        "person_key": predicted["spine_uid"].map(uid_to_person),
                        "log2_bayes_factor": predicted["match_weight"].astype(float)
                        - splink_model.log2_prior_odds(),
                        "splink_probability": predicted["match_probability"].astype(float),
                    }
                )
                # DuckDB returns pairs in no fixed order; sums over a record's candidates must add
                # up in one order so that a re-run gives the same probabilities, bit for bit.
                candidates = candidates.sort_values(["record_uid", "person_key"], kind="stable").reset_index(
                    drop=True
                )
            else:
                trained = False  # nothing to score: no model needed
            bar.advance(task)

            decisions_keyed = _decisions_by_record(decisions, identities)
            known = decisions_keyed[decisions_keyed["record_uid"].notna()]
            kept = assign.apply_rejections(candidates, known)
            groups = pd.Series(identities["sources"].to_numpy(), index=identities["record_uid"].to_numpy())
            in_spine = assign.estimate_in_spine(
                kept, groups, spine_size=spine_size, start=config.expected_in_spine
            )
            q_per_record = groups.map(in_spine)
            kept["probability"] = assign.record_posteriors(kept, q_per_record, spine_size=spine_size)
            assignment = assign.assign_best(
                identities["record_uid"],
                kept,
                threshold=config.match_threshold,
                confirmed=known[known["decision"] == "confirmed"],
                rejected_records=set(known.loc[known["decision"] == "rejected", "record_uid"]),
            )
            # The model's view of every candidate (before decisions), for the clerical review.
            model_view = candidates.assign(
                match_probability=assign.record_posteriors(candidates, q_per_record, spine_size=spine_size)
            )
            assignment["fingerprint"] = identities["fingerprint"].to_numpy()
            con.register(
                "assignment_df",
                assignment[
                    ["fingerprint", "person_key", "match_probability", "best_probability", "unlinked_reason"]
                ],
            )
            con.execute(
                """CREATE OR REPLACE TEMP TABLE assignment AS
                   SELECT CAST(fingerprint AS VARCHAR) AS fingerprint, CAST(person_key AS VARCHAR) AS person_key,
                          CAST(match_probability AS DOUBLE) AS match_probability,
                          CAST(best_probability AS DOUBLE) AS best_probability,
                          CAST(unlinked_reason AS VARCHAR) AS unlinked_reason
                   FROM assignment_df"""
            )
            con.unregister("assignment_df")

            counts: dict[str, dict[str, Any]] = {}
            for source, path in sources.items():
                counts[source] = _write_linked(con, ws, source, path, stage1[source])
                bar.advance(task)
            _write_population(con, ws, population, secret)

            clock.lap("assign + write linked")
            review_table = review.review_pairs(
                model_view,
                identities,
                _spine_people(con),
                assignment,
                decisions,
                lower=config.review_lower,
                upper=config.review_upper,
            )
            CLERICAL_REVIEW.save(ws, review_table)

            summary = LinkageSummary(
                workspace=ws.root,
                model_path=saved_model if not trained else LINKAGE_MODEL.path(ws),
                trained=trained,
                threshold=config.match_threshold,
                spine_people=spine_size,
                stage2_identities=len(identities),
                spine_rows_without_nhs_number=without_nhs,
                spine_rows_left_out=left_out,
                sources=counts,
                decisions_applied=len(known),
                decisions_unmatched=len(decisions) - len(known),
                in_spine_estimates={k: round(v, 4) for k, v in in_spine.items()} if len(identities) else {},
                review_pairs=int((review_table["decision"] == "").sum()),
                seconds=round(time.perf_counter() - started, 1),
                timings=dict(clock.laps),
                key_fingerprint=key_fingerprint(secret),
            )
            write_report(ws, summary, splink_model, _probability_bins(con, sources), config)
            clock.lap("review + report")
            summary = replace(summary, timings=dict(clock.laps))  # the record keeps the report's time too
            summary.write(ws)
            bar.advance(task)
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
    if progress:
        _print_summary(summary)
    return summary


def _sources_per_identity(
    con: duckdb.DuckDBPyConnection, stage1: dict[str, str], identities: pd.DataFrame
) -> list[str]:
    if identities.empty:
        return []
    union = " UNION ALL ".join(
        f"SELECT DISTINCT fingerprint, '{s}' AS source FROM {t} WHERE stage1_status = 'stage2'"
        for s, t in stage1.items()
    )
    rows = con.sql(
        f"SELECT fingerprint, string_agg(source, ';' ORDER BY source) AS s FROM ({union}) GROUP BY 1"
    ).df()
    lookup = dict(zip(rows["fingerprint"], rows["s"], strict=True))
    return [lookup.get(f, "") for f in identities["fingerprint"]]


def _decisions_by_record(decisions: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    lookup = dict(zip(identities["review_record_key"], identities["record_uid"], strict=True))
    out = decisions.copy()
    out["record_uid"] = out["review_record_key"].map(lookup)
    return out


def _spine_people(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.sql(f"SELECT person_key, {', '.join(review.SHOWN)} FROM spine").df()


def _write_linked(
    con: duckdb.DuckDBPyConnection, ws: Workspace, source: str, path: Path, stage1_table: str
) -> dict[str, Any]:
    keep = kept_columns(prepare.parquet_columns(path), source)
    select = ", ".join(f'r."{c}"' for c in keep)
    query = f"""
        SELECT {select},
            CASE t.stage1_status WHEN 'nhs_number' THEN t.spine_person_key
                 WHEN 'stage2' THEN a.person_key END AS person_key,
            CASE t.stage1_status WHEN 'nhs_number' THEN 1.0
                 WHEN 'stage2' THEN a.match_probability END AS match_probability,
            CASE WHEN t.stage1_status = 'nhs_number' THEN 'nhs_number'
                 WHEN t.stage1_status = 'stage2' AND a.person_key IS NOT NULL THEN 'probabilistic'
                 ELSE 'unlinked' END AS link_method,
            CASE WHEN t.stage1_status = 'nhs_number' THEN NULL
                 WHEN t.stage1_status = 'stage2' THEN a.unlinked_reason
                 ELSE t.stage1_reason END AS unlinked_reason
        FROM read_parquet({sql_path(path)}) r
        JOIN {stage1_table} t ON t.row_number = r.row_number
        LEFT JOIN assignment a ON t.stage1_status = 'stage2' AND a.fingerprint = t.fingerprint
        ORDER BY r.row_number
    """
    target = LINKED.path(ws, source=source)
    with atomic_path(target) as staged:
        con.execute(f"COPY ({query}) TO {sql_path(staged)} (FORMAT parquet)")
    stats = (
        con.sql(
            f"""
        SELECT count(*) AS rows,
            count(*) FILTER (WHERE t.stage1_status = 'nhs_number') AS nhs_number,
            count(*) FILTER (WHERE t.stage1_status = 'stage2' AND a.person_key IS NOT NULL) AS probabilistic,
            coalesce(sum(1 - a.match_probability) FILTER (WHERE t.stage1_status = 'stage2'
                AND a.person_key IS NOT NULL), 0) AS expected_false_links,
            coalesce(sum(a.best_probability) FILTER (WHERE t.stage1_status = 'stage2'
                AND a.person_key IS NULL), 0) AS expected_missed_links,
            count(*) FILTER (WHERE t.nhs_number_refused) AS nhs_number_refused,
            count(*) FILTER (WHERE t.spine_person_key IS NOT NULL AND t.demographics_disagree)
                AS nhs_number_contradicted
        FROM {stage1_table} t
        LEFT JOIN assignment a ON t.stage1_status = 'stage2' AND a.fingerprint = t.fingerprint
        """
        )
        .df()
        .iloc[0]
    )
    reasons = con.sql(
        f"SELECT unlinked_reason, count(*) AS n FROM read_parquet({sql_path(target)}) "
        "WHERE link_method = 'unlinked' GROUP BY 1 ORDER BY 1"
    ).df()
    rows = int(stats["rows"])
    return {
        "rows": rows,
        "nhs_number": int(stats["nhs_number"]),
        "probabilistic": int(stats["probabilistic"]),
        "unlinked": rows - int(stats["nhs_number"]) - int(stats["probabilistic"]),
        "unlinked_reasons": {
            str(r): int(n) for r, n in zip(reasons["unlinked_reason"], reasons["n"], strict=True)
        },
        "expected_false_links": round(float(stats["expected_false_links"]), 2),
        "expected_missed_links": round(float(stats["expected_missed_links"]), 2),
        # Rows whose NHS number ingest refused (invalid check digit or a placeholder) ...
        "nhs_number_refused": int(stats["nhs_number_refused"]),
        # ... and rows whose valid, spine-known number contradicts the record's date of birth and
        # sex or name: not linked on the number, sent to the probabilistic stage instead.
        "nhs_number_contradicted": int(stats["nhs_number_contradicted"]),
    }


def check_same_key(ws: Workspace, secret: bytes) -> None:
    """Refuse to re-link a workspace with a secret other than the one its person keys were made with."""
    if not LINKAGE_SUMMARY.exists(ws):
        return
    try:
        recorded = LinkageSummary.read(ws).key_fingerprint
    except WorkspaceError:
        return  # an unreadable old record: linking writes it afresh
    if recorded is not None and recorded != key_fingerprint(secret):
        raise LinkageError(
            f"{ws.root} was linked with the key whose fingerprint is {recorded[:12]}, but this key's is "
            f"{key_fingerprint(secret)[:12]}. Use the key file (or FALLS_RISK_SECRET) it was linked with: person "
            "keys, household keys and review decisions are tied to the key. To start over with a new key, use a "
            "new workspace."
        )


def _write_population(con: duckdb.DuckDBPyConnection, ws: Workspace, population: Path, secret: bytes) -> None:
    deprivation = INGESTED.path(ws, source="deprivation")
    spine = con.sql(
        """SELECT person_key, sex, strftime(date_of_birth, '%Y-%m') AS birth_month, lsoa_code, local_authority,
                  registration_date, deregistration_date, date_of_death, postcode, address_line,
                  nhs_number_valid
           FROM spine ORDER BY row_number"""
    ).df()
    if deprivation.exists():
        ranks = con.sql(
            f"SELECT lsoa_code, any_value(CAST(wimd_rank AS INTEGER)) AS wimd_rank "
            f"FROM read_parquet({sql_path(deprivation)}) GROUP BY 1"
        ).df()
        spine = spine.merge(ranks, on="lsoa_code", how="left")
    else:
        spine["wimd_rank"] = pd.NA
    spine["wimd_rank"] = spine["wimd_rank"].astype("Int32")
    spine["household_key"] = [
        keyed_hash(secret, f"{str(p).upper().replace(' ', '')}|{address_key(a) or ''}", domain="household")
        if isinstance(p, str) and isinstance(a, str)
        else None
        for p, a in zip(spine["postcode"], spine["address_line"], strict=True)
    ]
    POPULATION.save(ws, spine[list(POPULATION_COLUMNS)])


def _probability_bins(con: duckdb.DuckDBPyConnection, sources: dict[str, Path]) -> pd.DataFrame:
    """Rows per source per 0.05 bin of the best candidate's probability (stage-2 rows only)."""
    parts = [
        f"SELECT '{s}' AS source, a.best_probability AS p FROM stage1_{s} t "
        "JOIN assignment a ON t.stage1_status = 'stage2' AND a.fingerprint = t.fingerprint "
        "WHERE a.best_probability IS NOT NULL"
        for s in sources
    ]
    if not parts:
        return pd.DataFrame(columns=["source", "bin", "rows"])
    return con.sql(
        f"""SELECT source, least(floor(p * 20), 19) / 20 AS bin, count(*) AS rows
            FROM ({" UNION ALL ".join(parts)}) GROUP BY 1, 2 ORDER BY 1, 2"""
    ).df()


def _print_summary(summary: LinkageSummary) -> None:
    from rich.table import Table

    model = "trained a new model" if summary.trained else f"reused {summary.model_path}"
    table = Table(
        title=f"Linked against {summary.spine_people:,} people ({model}), threshold {summary.threshold}"
    )
    for column in ("source", "rows", "nhs_number", "probabilistic", "unlinked"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source, c in summary.sources.items():
        table.add_row(source, *(f"{c[k]:,}" for k in ("rows", "nhs_number", "probabilistic", "unlinked")))
    console.print(table)
    if summary.spine_rows_without_nhs_number:
        console.print(
            f"[yellow]Warning:[/] {summary.spine_rows_without_nhs_number:,} population row(s) have no valid NHS "
            "number: they stay in the spine on a demographic key (name, date of birth, sex) and are scored, but "
            "records reach them only by probabilistic linkage"
            + (
                f", and {summary.spine_rows_left_out:,} without a name or date of birth are left out"
                if summary.spine_rows_left_out
                else ""
            )
            + f". Correct their numbers in the population extract ({INGESTED.path(summary.workspace, source='population')} "
            f"flags them in nhs_number_invalid; {POPULATION.path(summary.workspace)} in nhs_number_valid)."
        )
    console.print(
        f"Report: {LINKAGE_REPORT.path(summary.workspace)}; {summary.review_pairs} pairs to review in "
        f"{CLERICAL_REVIEW.path(summary.workspace)}"
    )
