"""Inputs of linkage, read from the workspace into DuckDB: the spine, stage 1, the stage-2 records.

Stage 1 (deterministic) is one SQL query per source: a valid NHS number present in the spine
links, unless two of date of birth, sex, forename initial and surname disagree with the spine (a
likely mis-keyed number, or a spouse's: "William Williams, M" on Ann Williams's number; "Gladys
Brown" on Christine Edwards's): such a record goes to stage 2, where the whole identity decides. Placeholder numbers (``0000000000``...) never get
here: the one NHS-number rule (:mod:`falls_risk.identity`) refuses them at ingest.
Rows not linked there that carry enough identifiers go to stage 2; they are collapsed to their
distinct identities (the same name, birth date, sex and address written the same way), so each
identity is scored once, however many records carry it.

NHS numbers are compared as ingest wrote them: normalised once there by the rule in
:mod:`falls_risk.identity` (10 valid digits, or missing), so no SQL here re-implements it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from falls_risk.errors import LinkageError
from falls_risk.identity import DEMOGRAPHIC_COLUMNS, keyed_hash, normalise_nhs_numbers, spine_person_keys
from falls_risk.linkage import names
from falls_risk.workspace import sql_path

IDENTITY_COLUMNS: tuple[str, ...] = (
    "forename",
    "surname",
    "date_of_birth",
    "sex",
    "postcode",
    "address_line",
    # 'Y' when the row carries a valid NHS number that is nobody's in the spine.
    "nhs_elsewhere",
)
# Dates of birth systems type for "unknown": compared as missing.
PLACEHOLDER_BIRTH_DATES = ("1900-01-01",)

# Why a record is left unlinked (``unlinked_reason``).
REASON_NOT_IN_SPINE = "nhs_number_not_in_spine"
REASON_NO_IDENTIFIERS = "no_usable_identifiers"
REASON_DISAGREE = "nhs_number_demographics_disagree"


def parquet_columns(path: Path) -> list[str]:
    return list(pq.read_schema(path).names)


def _col(columns: list[str], name: str, cast: str | None = None) -> str:
    if name not in columns:
        return f"CAST(NULL AS {cast or 'VARCHAR'})"
    return f"CAST(r.{name} AS {cast})" if cast else f"r.{name}"


def _nhs_sql(expr: str) -> str:
    # Ingest wrote the NHS number normalised (falls_risk.identity): 10 valid digits or NULL.
    return f"CAST({expr} AS VARCHAR)"


def load_spine(con: duckdb.DuckDBPyConnection, population: Path, secret: bytes) -> int:
    """Create table ``spine`` (one row per person) with ``person_key``; return its size.

    A row with a valid NHS number is keyed on it (first row per number). A row without one
    (missing, invalid or a placeholder; ingest flags ``nhs_number_invalid``) is still a person,
    keyed on its demographics (:func:`falls_risk.identity.spine_person_keys`); ``nhs_number_valid``
    tells them apart. Records reach such a person through stage 2 only.
    """
    columns = parquet_columns(population)
    missing = [c for c in ("nhs_number", "date_of_birth", "sex") if c not in columns]
    if missing:
        raise LinkageError(
            f"{population} lacks column(s) {missing}; re-run `falls-risk ingest` so the spine has them."
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE spine_raw AS
        SELECT {_nhs_sql("r.nhs_number")} AS nhs, r.*
        FROM read_parquet({sql_path(population)}) r
        """
    )
    frame = con.sql("SELECT nhs FROM spine_raw WHERE nhs IS NOT NULL GROUP BY nhs").df()
    not_normalised = int((normalise_nhs_numbers(frame["nhs"]) != frame["nhs"]).fillna(True).sum())
    if not_normalised:
        raise LinkageError(
            f"{population} holds {not_normalised} NHS number(s) that ingest did not normalise; it must "
            "be the population table that `falls-risk ingest` wrote. Re-run ingest, then link."
        )
    demographic = [c for c in DEMOGRAPHIC_COLUMNS if c in columns]
    rows = con.sql(
        f"SELECT row_number, nhs AS nhs_number, {', '.join(demographic)} FROM spine_raw ORDER BY row_number"
    ).df()
    rows["person_key"] = spine_person_keys(secret, rows)
    con.register("spine_keys_df", rows[["row_number", "person_key"]])
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE spine AS
        SELECT s.*, k.person_key, s.nhs IS NOT NULL AS nhs_number_valid,
               's' || CAST(s.row_number AS VARCHAR) AS spine_uid
        FROM spine_raw s JOIN spine_keys_df k USING (row_number)
        WHERE k.person_key IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY k.person_key ORDER BY s.row_number) = 1
        """
    )
    con.unregister("spine_keys_df")
    n = con.execute("SELECT count(*) FROM spine").fetchall()[0][0]
    if n == 0:
        raise LinkageError(
            f"{population} has no rows with an NHS number or a name and date of birth; the spine is empty."
        )
    return int(n)


def spine_rows_without_nhs(con: duckdb.DuckDBPyConnection) -> int:
    """Population rows without a valid NHS number (kept on a demographic key where they can be)."""
    return int(con.execute("SELECT count(*) FROM spine_raw WHERE nhs IS NULL").fetchall()[0][0])


def spine_rows_left_out(con: duckdb.DuckDBPyConnection) -> int:
    """Population rows with neither a valid NHS number nor a name and date of birth to key them on."""
    return int(
        con.execute(
            "SELECT count(*) FROM spine_raw s WHERE s.nhs IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM spine p WHERE p.row_number = s.row_number)"
        ).fetchall()[0][0]
    )


def _dob_disagrees(columns: list[str]) -> str:
    if "date_of_birth" not in columns:
        return "FALSE"
    # A day/month swap is a typing slip, not a different person.
    r, s = "CAST(r.date_of_birth AS DATE)", "CAST(s.date_of_birth AS DATE)"
    return f"""({r} IS NOT NULL AND {s} IS NOT NULL AND {r} <> {s}
               AND NOT (year({r}) = year({s}) AND month({r}) = day({s}) AND day({r}) = month({s})))"""


def _name_disagreements(columns: list[str]) -> str:
    """0, 1 or 2: another forename initial, another surname (letters only)."""
    if "forename" not in columns or "surname" not in columns:
        return "0"
    forename = """(r.forename IS NOT NULL AND s.forename IS NOT NULL
        AND substr(lower(trim(r.forename)), 1, 1) <> substr(lower(trim(s.forename)), 1, 1))"""
    surname = """(r.surname IS NOT NULL AND s.surname IS NOT NULL
        AND regexp_replace(lower(r.surname), '[^a-z]', '', 'g') <> regexp_replace(lower(s.surname), '[^a-z]', '', 'g'))"""
    return f"(coalesce(({forename})::INT, 0) + coalesce(({surname})::INT, 0))"


def _sex_disagrees(columns: list[str]) -> str:
    if "sex" not in columns:
        return "FALSE"
    return "(r.sex IN ('M', 'F') AND s.sex IN ('M', 'F') AND r.sex <> s.sex)"


def stage_one(con: duckdb.DuckDBPyConnection, source: str, path: Path) -> str:
    """Create ``stage1_<source>``: per row, the NHS-number decision and the identity columns."""
    columns = parquet_columns(path)
    if "row_number" not in columns:
        raise LinkageError(f"{path} lacks the row_number column; re-run `falls-risk ingest`.")
    nhs = _nhs_sql("r.nhs_number") if "nhs_number" in columns else "CAST(NULL AS VARCHAR)"
    present = [
        f"({_col(columns, c)} IS NOT NULL)::INT" for c in ("forename", "surname", "date_of_birth", "postcode")
    ]
    key_present = f"({_col(columns, 'surname')} IS NOT NULL OR {_col(columns, 'date_of_birth')} IS NOT NULL)"
    table = f"stage1_{source}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        WITH joined AS (
            SELECT
                r.row_number,
                {nhs} AS nhs,
                s.person_key AS spine_person_key,
                coalesce(({_dob_disagrees(columns)})::INT, 0) + coalesce(({_sex_disagrees(columns)})::INT, 0)
                    + {_name_disagreements(columns)} >= 2 AS demographics_disagree,
                {"r.nhs_number_invalid" if "nhs_number_invalid" in columns else "FALSE"} AS nhs_number_refused,
                ({" + ".join(present)}) >= 2 AND {key_present} AS has_identifiers,
                {_col(columns, "forename", "VARCHAR")} AS forename,
                {_col(columns, "surname", "VARCHAR")} AS surname,
                {_col(columns, "date_of_birth", "DATE")} AS date_of_birth,
                CASE WHEN {_col(columns, "sex", "VARCHAR")} IN ('M', 'F') THEN {_col(columns, "sex", "VARCHAR")} END
                    AS sex,
                {_col(columns, "postcode", "VARCHAR")} AS postcode,
                {_col(columns, "address_line", "VARCHAR")} AS address_line,
                CASE WHEN {nhs} IS NOT NULL AND s.person_key IS NULL THEN 'Y' END AS nhs_elsewhere
            FROM read_parquet({sql_path(path)}) r
            LEFT JOIN spine s ON s.nhs = {nhs}
        )
        SELECT
            *,
            CASE
                WHEN spine_person_key IS NOT NULL AND NOT demographics_disagree THEN 'nhs_number'
                WHEN has_identifiers THEN 'stage2'
                ELSE 'unlinked'
            END AS stage1_status,
            CASE
                WHEN spine_person_key IS NOT NULL AND NOT demographics_disagree THEN NULL
                WHEN has_identifiers THEN NULL
                WHEN spine_person_key IS NOT NULL THEN '{REASON_DISAGREE}'
                WHEN nhs IS NOT NULL THEN '{REASON_NOT_IN_SPINE}'
                ELSE '{REASON_NO_IDENTIFIERS}'
            END AS stage1_reason,
            concat_ws('|', coalesce(forename, ''), coalesce(surname, ''),
                      coalesce(CAST(date_of_birth AS VARCHAR), ''), coalesce(sex, ''),
                      coalesce(postcode, ''), coalesce(lower(trim(address_line)), ''))
                || CASE WHEN nhs_elsewhere IS NOT NULL THEN '|nhs-elsewhere' ELSE '' END AS fingerprint
        FROM joined
        """
    )
    return table


def stage_two_identities(con: duckdb.DuckDBPyConnection, stage1_tables: dict[str, str]) -> pd.DataFrame:
    """Distinct identities of the rows that go to stage 2, with how many rows carry each."""
    if not stage1_tables:
        return pd.DataFrame(columns=["fingerprint", *IDENTITY_COLUMNS, "n_rows"])
    union = " UNION ALL ".join(
        f"SELECT fingerprint, {', '.join(IDENTITY_COLUMNS)} FROM {t} WHERE stage1_status = 'stage2'"
        for t in stage1_tables.values()
    )
    frame = con.sql(
        f"""
        SELECT fingerprint, {", ".join(f"min({c}) AS {c}" for c in IDENTITY_COLUMNS)},
               count(*) AS n_rows
        FROM ({union}) GROUP BY fingerprint ORDER BY fingerprint
        """
    ).df()
    return frame


def comparison_frame(frame: pd.DataFrame, uid: pd.Series) -> pd.DataFrame:
    """The comparison columns of :mod:`falls_risk.linkage.model` from identity columns."""
    out = pd.DataFrame({"unique_id": uid.astype(str).to_numpy()})
    forename = frame["forename"].astype("string").str.strip().str.lower()
    surname = frame["surname"].astype("string").str.strip().str.lower()
    out["forename"] = forename.to_numpy()
    aliases = [names.forename_alias_list(v) if isinstance(v, str) else None for v in forename]
    out["forename_aliases"] = aliases
    out["forename_alias"] = [a[0] if a else None for a in aliases]
    out["surname"] = surname.to_numpy()
    out["surname_key"] = [names.surname_key(v) if isinstance(v, str) else None for v in surname]
    parts = [names.surname_parts(v) if isinstance(v, str) else (None, None) for v in surname]
    out["surname_first"] = [p[0] for p in parts]
    out["surname_last"] = [p[1] for p in parts]
    dob = pd.to_datetime(frame["date_of_birth"], errors="coerce")
    dob = dob.where(~dob.isin(pd.to_datetime(list(PLACEHOLDER_BIRTH_DATES))))
    out["dob"] = dob.dt.strftime("%Y-%m-%d").to_numpy()
    out["dob_year"] = dob.dt.year.astype("Int32").to_numpy()
    out["dob_month"] = dob.dt.month.astype("Int32").to_numpy()
    out["dob_day"] = dob.dt.day.astype("Int32").to_numpy()
    sex = frame["sex"].astype("string")
    out["sex"] = sex.where(sex.isin(["M", "F"])).to_numpy()
    postcode = frame["postcode"].astype("string").str.upper().str.strip()
    out["postcode"] = postcode.to_numpy()
    sector, district = names.postcode_parts(postcode)
    out["postcode_sector"] = sector.to_numpy()
    out["postcode_district"] = district.to_numpy()
    out["address_key"] = [names.address_key(v) if isinstance(v, str) else None for v in frame["address_line"]]
    out["previous_surname_key"] = None
    out["previous_postcode"] = None
    out["nhs_elsewhere"] = frame["nhs_elsewhere"].to_numpy() if "nhs_elsewhere" in frame else None
    return out


def spine_frame(con: duckdb.DuckDBPyConnection, stage1_tables: dict[str, str]) -> pd.DataFrame:
    """The spine's comparison columns, with a previous surname and postcode where records show one.

    NHS-number links (stage 1) whose birth date agrees with the spine show the surnames and
    postcodes a person was known by before: these help stage 2 find movers and people whose
    surname changed. The most frequent earlier value is kept.
    """
    spine = con.sql(
        f"SELECT spine_uid, person_key, {', '.join(c for c in IDENTITY_COLUMNS if c != 'nhs_elsewhere')} "
        "FROM spine ORDER BY spine_uid"
    ).df()
    out = comparison_frame(spine, spine["spine_uid"])
    out["person_key"] = spine["person_key"].to_numpy()
    history = _stage_one_history(con, stage1_tables)
    if not history.empty:
        current = dict(
            zip(out["person_key"], zip(out["surname_key"], out["postcode"], strict=True), strict=True)
        )
        surnames: dict[str, Counter[str]] = {}
        postcodes: dict[str, Counter[str]] = {}
        for key, surname, postcode in history.itertuples(index=False):
            cur_surname, cur_postcode = current.get(key, (None, None))
            skey = names.surname_key(surname) if isinstance(surname, str) else None
            if skey and skey != cur_surname:
                surnames.setdefault(key, Counter())[skey] += 1
            if isinstance(postcode, str) and postcode and postcode != cur_postcode:
                postcodes.setdefault(key, Counter())[postcode] += 1
        out["previous_surname_key"] = [
            surnames[k].most_common(1)[0][0] if k in surnames else None for k in out["person_key"]
        ]
        out["previous_postcode"] = [
            postcodes[k].most_common(1)[0][0] if k in postcodes else None for k in out["person_key"]
        ]
    return out


# A surname held by at most this share of the spine is "rare": names alone may then block.
RARE_SURNAME_SHARE = 0.005


def mark_rare_surnames(records: pd.DataFrame, spine: pd.DataFrame) -> None:
    """Set ``rare_surname_key`` (in place) where the surname is rare in the spine."""
    share = spine["surname_key"].value_counts(normalize=True)
    rare = set(share[share <= RARE_SURNAME_SHARE].index)
    for frame in (records, spine):
        frame["rare_surname_key"] = frame["surname_key"].where(frame["surname_key"].isin(rare))


def _stage_one_history(con: duckdb.DuckDBPyConnection, stage1_tables: dict[str, str]) -> pd.DataFrame:
    parts = [
        f"""SELECT t.spine_person_key AS person_key, t.surname, t.postcode FROM {table} t
            JOIN spine s ON s.person_key = t.spine_person_key
            WHERE t.stage1_status = 'nhs_number' AND (t.surname IS NOT NULL OR t.postcode IS NOT NULL)
              AND (t.date_of_birth IS NULL OR t.date_of_birth = s.date_of_birth)"""
        for table in stage1_tables.values()
    ]
    if not parts:
        return pd.DataFrame(columns=["person_key", "surname", "postcode"])
    # Sorted, so that the most frequent earlier value is chosen the same way in every run (a tie
    # goes to the value seen first; DuckDB returns the union in no fixed order).
    return con.sql(f"SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY ALL NULLS FIRST").df()


def sources_present(ingested: Path, person_sources: tuple[str, ...]) -> dict[str, Path]:
    return {s: ingested / f"{s}.parquet" for s in person_sources if (ingested / f"{s}.parquet").exists()}


def review_record_key(secret: bytes, fingerprint: str) -> str:
    """A stable key for a stage-2 identity in the clerical review (no identifier in clear)."""
    return keyed_hash(secret, fingerprint, domain="review-record")
