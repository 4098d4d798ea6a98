"""Stage 1: a valid NHS number in the spine links unless date of birth and sex, or date of birth and
name, disagree (then stage 2 decides); a placeholder number never links."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from falls_risk.errors import LinkageError
from falls_risk.identity import normalise_nhs_numbers, person_keys
from falls_risk.linkage import prepare

SECRET = b"unit-test-secret-0123456789"


def run_stage_one(tmp_path: Path, records: list[dict]) -> pd.DataFrame:
    population = pd.DataFrame(
        {
            "nhs_number": ["9434765919", "4010232137"],
            "forename": ["margaret", "william"],
            "surname": ["jones", "davies"],
            "date_of_birth": [date(1940, 3, 7), date(1938, 11, 2)],
            "sex": ["F", "M"],
            "postcode": ["CF10 1AB", "CF5 2XY"],
            "address_line": ["1 high street", "2 mill lane"],
            "row_number": [1, 2],
        }
    )
    population.to_parquet(tmp_path / "population.parquet")
    frame = pd.DataFrame(records)
    frame["nhs_number"] = normalise_nhs_numbers(frame["nhs_number"])  # as ingest writes it
    frame["row_number"] = range(1, len(frame) + 1)
    frame.to_parquet(tmp_path / "ed_attendances.parquet")
    con = duckdb.connect()
    prepare.load_spine(con, tmp_path / "population.parquet", SECRET)
    table = prepare.stage_one(con, "ed_attendances", tmp_path / "ed_attendances.parquet")
    return con.sql(f"SELECT * FROM {table} ORDER BY row_number").df()


def record(nhs: str | None, dob: date | None, sex: str | None, forename: str = "margaret") -> dict:
    return {
        "nhs_number": nhs,
        "forename": forename,
        "surname": "jones",
        "date_of_birth": dob,
        "sex": sex,
        "postcode": "CF10 1AB",
    }


def test_valid_nhs_number_in_spine_links(tmp_path: Path) -> None:
    out = run_stage_one(
        tmp_path, [record("9434765919", date(1940, 3, 7), "F"), record("943 476 5919", None, None)]
    )
    assert out["stage1_status"].tolist() == ["nhs_number", "nhs_number"]
    assert out["spine_person_key"].tolist() == person_keys(SECRET, ["9434765919"] * 2)


def test_mis_keyed_number_with_dob_and_sex_disagreeing_goes_to_stage_two(tmp_path: Path) -> None:
    # The number belongs to William Davies (M, 1938) but the record is a woman born in 1940.
    out = run_stage_one(tmp_path, [record("4010232137", date(1940, 3, 7), "F")])
    assert out.loc[0, "stage1_status"] == "stage2"


def test_a_number_whose_name_and_date_of_birth_disagree_goes_to_stage_two(tmp_path: Path) -> None:
    # Issue 19.3: Margaret Jones's number on a record of Susan Price born in 1952 (same sex).
    other = {**record("9434765919", date(1952, 6, 1), "F", forename="susan"), "surname": "price"}
    same_initial = record("9434765919", date(1952, 6, 1), "F", forename="maggie")  # dob typo + nickname
    out = run_stage_one(tmp_path, [other, same_initial])
    assert out["stage1_status"].tolist() == ["stage2", "nhs_number"]
    assert out["demographics_disagree"].tolist() == [True, False]


def test_a_spouses_number_with_sex_and_name_disagreeing_goes_to_stage_two(tmp_path: Path) -> None:
    # William Davies's number on a record of a woman called Ann Jones, birth date missing.
    out = run_stage_one(tmp_path, [record("4010232137", None, "F", forename="ann")])
    assert out.loc[0, "stage1_status"] == "stage2"


def test_another_womans_number_on_a_record_with_a_wholly_different_name_goes_to_stage_two(tmp_path: Path) -> None:
    # Margaret Jones's number on Gladys Brown's record, no birth date: forename and surname differ.
    other = {**record("9434765919", None, "F", forename="gladys"), "surname": "brown"}
    married = {**record("9434765919", None, "F"), "surname": "price"}  # a new surname alone still links
    out = run_stage_one(tmp_path, [other, married])
    assert out["stage1_status"].tolist() == ["stage2", "nhs_number"]


def test_a_placeholder_number_never_links_on_the_number(tmp_path: Path) -> None:
    # 0000000000 passes modulus 11; ingest's one rule refuses it, so stage 1 never sees it.
    out = run_stage_one(tmp_path, [record("0000000000", date(1940, 3, 7), "F")])
    assert out.loc[0, "nhs"] is None or pd.isna(out.loc[0, "nhs"])
    assert out.loc[0, "stage1_status"] == "stage2"


def test_one_disagreement_or_a_swapped_date_still_links(tmp_path: Path) -> None:
    out = run_stage_one(
        tmp_path,
        [
            record("9434765919", date(1941, 3, 7), "F"),  # dob typo only
            record("9434765919", date(1940, 3, 7), "M"),  # sex wrong only
            record("9434765919", date(1940, 7, 3), "M"),  # day/month swapped + sex wrong
        ],
    )
    assert out["stage1_status"].tolist() == ["nhs_number"] * 3


def test_records_without_a_usable_number_go_to_stage_two_or_say_why_not(tmp_path: Path) -> None:
    out = run_stage_one(
        tmp_path,
        [
            record(None, date(1940, 3, 7), "F"),  # names + dob: stage 2
            {
                "nhs_number": "4857773457",
                "forename": None,
                "surname": None,
                "date_of_birth": None,
                "sex": None,
                "postcode": "CF10 1AB",
            },  # number not in spine, nothing else
            {
                "nhs_number": None,
                "forename": None,
                "surname": None,
                "date_of_birth": None,
                "sex": "F",
                "postcode": "CF10 1AB",
            },
        ],
    )
    assert out["stage1_status"].tolist() == ["stage2", "unlinked", "unlinked"]
    assert out["stage1_reason"].tolist()[1:] == [prepare.REASON_NOT_IN_SPINE, prepare.REASON_NO_IDENTIFIERS]


def test_a_population_table_not_written_by_ingest_is_refused(tmp_path: Path) -> None:
    # Linkage reads NHS numbers as ingest normalised them; a spaced one means ingest was skipped.
    pd.DataFrame(
        {"nhs_number": ["943 476 5919"], "date_of_birth": [date(1940, 3, 7)], "sex": ["F"], "row_number": [1]}
    ).to_parquet(tmp_path / "population.parquet")
    with pytest.raises(LinkageError, match="Re-run ingest"):
        prepare.load_spine(duckdb.connect(), tmp_path / "population.parquet", SECRET)
