"""run_linkage end to end on the tiny handmade world."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.cli import main
from falls_risk.config import LinkageConfig
from falls_risk.contract import DIRECT_IDENTIFIERS, SOURCES
from falls_risk.errors import LinkageError
from falls_risk.identity import person_keys
from falls_risk.linkage import evaluate_linkage, load_secret, run_linkage
from falls_risk.linkage import model as model_spec
from falls_risk.linkage.pipeline import kept_columns


def copy_ws(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_every_record_is_linked_once_or_unlinked_with_a_reason(mini_linked: Path) -> None:
    for source in ("social_care", "ed_attendances", "gp_events"):
        ingested = pd.read_parquet(mini_linked / "ingested" / f"{source}.parquet")
        linked = pd.read_parquet(mini_linked / "linked" / f"{source}.parquet")
        assert linked["row_number"].tolist() == ingested["row_number"].tolist()
        assert set(linked["link_method"]) <= {"nhs_number", "probabilistic", "unlinked"}
        unlinked = linked["link_method"] == "unlinked"
        assert linked.loc[unlinked, "person_key"].isna().all()
        assert linked.loc[unlinked, "unlinked_reason"].notna().all()
        assert linked.loc[~unlinked, "person_key"].notna().all()
        assert (linked.loc[~unlinked, "match_probability"] >= LinkageConfig().match_threshold).all()
    social = pd.read_parquet(mini_linked / "linked" / "social_care.parquet")
    assert "record_id" in social and "client_id" not in social


def test_links_are_precise_and_people_outside_the_spine_stay_unlinked(
    mini_world: tuple[Path, Path], mini_linked: Path
) -> None:
    scores = evaluate_linkage(mini_linked, mini_world[1]).set_index("source")
    assert scores.loc["all", "precision"] >= 0.99
    assert scores.loc["all", "recall"] >= 0.95
    assert scores.loc["social_care", "recall"] >= 0.93
    # The first 10% of people are not in the spine: none of their records may link.
    truth = pd.read_parquet(mini_world[1] / "record_person.parquet")
    spine = set(pd.read_parquet(mini_world[0] / "ingested" / "population.parquet")["nhs_number"])
    outside = truth[~truth["nhs_number"].isin(spine) & (truth["source"] == "social_care")]
    linked = pd.read_parquet(mini_linked / "linked" / "social_care.parquet")
    assert len(outside) > 10
    assert linked[linked["row_number"].isin(outside["row_number"])]["person_key"].isna().all()


def test_nickname_and_swapped_day_month_records_link_to_the_right_person(
    mini_world: tuple[Path, Path], tmp_path: Path
) -> None:
    ws = copy_ws(mini_world[0], tmp_path / "ws")
    spine = pd.read_parquet(ws / "ingested" / "population.parquet")
    william = spine[
        (spine["forename"] == "william")
        & (spine["date_of_birth"].map(lambda d: d.day <= 12 and d.day != d.month))
    ].iloc[0]
    margaret = spine[spine["forename"] == "margaret"].iloc[0]
    social = pd.read_parquet(ws / "ingested" / "social_care.parquet")
    d = william["date_of_birth"]
    crafted = pd.DataFrame(
        [
            {
                "forename": "bill",
                "surname": william["surname"],
                "date_of_birth": date(d.year, d.day, d.month),
                "sex": "M",
                "postcode": william["postcode"],
                "address_line": william["address_line"],
            },
            {
                "forename": "peggy",
                "surname": margaret["surname"],
                "date_of_birth": margaret["date_of_birth"],
                "sex": None,
                "postcode": margaret["postcode"],
                "address_line": None,
            },
        ]
    )
    crafted["record_id"] = ["X1", "X2"]
    crafted["client_id"] = ["CX1", "CX2"]
    crafted["service_type"] = "telecare"
    crafted["start_date"] = date(2024, 1, 1)
    crafted["row_number"] = [len(social) + 1, len(social) + 2]
    pd.concat([social, crafted], ignore_index=True).to_parquet(ws / "ingested" / "social_care.parquet")
    run_linkage(ws, progress=False)
    linked = pd.read_parquet(ws / "linked" / "social_care.parquet").set_index("record_id")
    expected = person_keys(load_secret(), [william["nhs_number"], margaret["nhs_number"]])
    assert (
        linked.loc["X1", "person_key"] == expected[0] and linked.loc["X1", "link_method"] == "probabilistic"
    )
    assert linked.loc["X2", "person_key"] == expected[1]


def test_no_identifier_or_secret_reaches_the_linked_tables(
    mini_world: tuple[Path, Path], mini_linked: Path
) -> None:
    spine = pd.read_parquet(mini_world[0] / "ingested" / "population.parquet")
    values: set[str] = set()
    for column in ("nhs_number", "forename", "surname", "postcode", "address_line"):
        values |= {str(v) for v in spine[column].dropna()}
    values |= {d.isoformat() for d in spine["date_of_birth"].dropna()}
    for path in (mini_linked / "linked").glob("*.parquet"):
        table = pd.read_parquet(path)
        assert not set(table.columns) & DIRECT_IDENTIFIERS, path.name
        assert not [c for c in table.columns if c.endswith("_raw")]
        for column in table.columns:
            cells = {str(v) for v in table[column].dropna()}
            assert not cells & values, f"{path.name}.{column} carries identifier values"
    secret = load_secret().decode()
    for path in mini_linked.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".csv", ".parquet"):
            assert secret.encode() not in path.read_bytes(), path


def test_population_is_pseudonymised_with_birth_month_and_household(mini_linked: Path) -> None:
    pop = pd.read_parquet(mini_linked / "linked" / "population.parquet")
    assert list(pop.columns) == [
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
        "nhs_number_valid",
    ]
    assert pop["person_key"].is_unique and pop["birth_month"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert pop["wimd_rank"].notna().all() and pop["household_key"].notna().all()


def test_model_is_saved_and_reused_with_the_same_predictions(mini_linked: Path, tmp_path: Path) -> None:
    saved = json.loads((mini_linked / "linkage" / "model.json").read_text())
    assert saved["link_type"] == "link_only"
    assert tuple(c["output_column_name"] for c in saved["comparisons"]) == model_spec.COMPARISON_NAMES
    ws = copy_ws(mini_linked, tmp_path / "ws")
    summary = run_linkage(ws, progress=False)
    assert not summary.trained
    for source in ("social_care", "ed_attendances"):
        before = pd.read_parquet(mini_linked / "linked" / f"{source}.parquet")
        after = pd.read_parquet(ws / "linked" / f"{source}.parquet")
        pd.testing.assert_frame_equal(before, after)
    assert json.loads((ws / "linkage" / "model.json").read_text()) == saved


def test_clerical_review_round_trip_overrides_the_model(mini_linked: Path, tmp_path: Path) -> None:
    ws = copy_ws(mini_linked, tmp_path / "ws")
    review = pd.read_csv(ws / "reports" / "clerical_review.csv", dtype=str, keep_default_na=False)
    assert {
        "record_forename",
        "candidate_forename",
        "record_date_of_birth",
        "candidate_postcode",
        "decision",
    } <= set(review.columns)
    assert (review["decision"] == "").all()
    assert (ws / "reports" / "clerical_review.csv").stat().st_mode & 0o077 == 0  # identifiers: owner only
    linked_pair = review[review["linked_now"] == "True"].iloc[0]
    unlinked_pair = review[
        (review["linked_now"] == "False")
        & (review["match_probability"].astype(float) < LinkageConfig().match_threshold)
    ].iloc[0]
    review["decision"] = ""
    review.loc[linked_pair.name, "decision"] = "rejected"
    review.loc[unlinked_pair.name, "decision"] = "Confirmed"
    review.to_csv(ws / "linkage" / "review_decisions.csv", index=False)
    summary = run_linkage(ws, progress=False)
    assert summary.decisions_applied == 2
    # The reviewed record-person pairs: a rejected pair never links, a confirmed one always does.
    after = pd.read_csv(ws / "reports" / "clerical_review.csv", dtype=str, keep_default_na=False)
    decided = after.set_index(["review_record_key", "person_key"])["decision"]
    assert decided[(linked_pair["review_record_key"], linked_pair["person_key"])] == "rejected"
    assert decided[(unlinked_pair["review_record_key"], unlinked_pair["person_key"])] == "confirmed"
    after_pairs = after.set_index(["review_record_key", "person_key"])["linked_now"]
    assert after_pairs[(linked_pair["review_record_key"], linked_pair["person_key"])] == "False"
    assert after_pairs[(unlinked_pair["review_record_key"], unlinked_pair["person_key"])] == "True"


def test_bad_review_decisions_are_reported_with_rows(mini_linked: Path, tmp_path: Path) -> None:
    ws = copy_ws(mini_linked, tmp_path / "ws")
    review = pd.read_csv(ws / "reports" / "clerical_review.csv", dtype=str, keep_default_na=False)
    review.loc[review.index[0], "decision"] = "maybe"
    review.to_csv(ws / "linkage" / "review_decisions.csv", index=False)
    with pytest.raises(LinkageError, match=r"review_decisions.csv: column decision .*row 2: 'maybe'"):
        run_linkage(ws, progress=False)


def test_report_is_self_contained_and_free_of_identifiers(
    mini_world: tuple[Path, Path], mini_linked: Path
) -> None:
    html = (mini_linked / "reports" / "linkage.html").read_text()
    assert "cdn.jsdelivr" not in html and "<script src" not in html
    assert "vegaEmbed(" in html and "Exact match on dob" in html
    spine = pd.read_parquet(mini_world[0] / "ingested" / "population.parquet")
    for value in list(spine["nhs_number"][:50]) + list(spine["postcode"][:50]):
        assert value not in html


def test_cli_link_and_link_eval(
    mini_world: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = copy_ws(mini_world[0], tmp_path / "ws")
    assert main(["link", "--workspace", str(ws)]) == 0
    assert main(["link-eval", "--workspace", str(ws), "--truth", str(mini_world[1])]) == 0
    out = capsys.readouterr().out
    assert "social_care" in out and "precision" in out


def test_cli_without_a_secret_exits_1_with_instructions(
    mini_world: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("FALLS_RISK_SECRET")
    monkeypatch.setenv("HOME", str(tmp_path))
    ws = copy_ws(mini_world[0], tmp_path / "ws")
    assert main(["link", "--workspace", str(ws)]) == 1
    assert "FALLS_RISK_SECRET" in capsys.readouterr().err
    assert not (ws / "linked").exists()


def test_sources_with_nhs_numbers_only_need_no_model(mini_world: tuple[Path, Path], tmp_path: Path) -> None:
    ws = copy_ws(mini_world[0], tmp_path / "ws")
    (ws / "ingested" / "social_care.parquet").unlink()
    (ws / "ingested" / "ed_attendances.parquet").unlink()
    summary = run_linkage(ws, progress=False)
    assert not summary.trained and summary.stage2_identities == 0
    linked = pd.read_parquet(ws / "linked" / "gp_events.parquet")
    assert set(linked["link_method"]) == {"nhs_number", "unlinked"}
    assert set(linked.loc[linked["link_method"] == "unlinked", "unlinked_reason"]) == {"nhs_number_not_in_spine"}
    assert (ws / "reports" / "linkage.html").exists()


def test_extra_columns_stop_at_linkage_and_spine_rows_without_a_number_stay_people(
    mini_world: tuple[Path, Path], tmp_path: Path
) -> None:
    # A folder name with a quote: every path reaches DuckDB's SQL as an escaped literal.
    ws = copy_ws(mini_world[0], tmp_path / "o'brien" / "ws")
    (ws / "ingested" / "social_care.parquet").unlink()
    (ws / "ingested" / "ed_attendances.parquet").unlink()
    gp = pd.read_parquet(ws / "ingested" / "gp_events.parquet")
    # Identifiers under names no rule could guess: only contract columns travel on.
    gp["DOB"], gp["Full Name"], gp["clinic"] = "1940-02-03", "Ann Jones", "north"
    gp.to_parquet(ws / "ingested" / "gp_events.parquet", index=False)
    population = pd.read_parquet(ws / "ingested" / "population.parquet")
    population.loc[[0, 1], "nhs_number"] = None  # failed the check digit at ingest
    population.to_parquet(ws / "ingested" / "population.parquet", index=False)

    summary = run_linkage(ws, progress=False)
    assert summary.spine_rows_without_nhs_number == 2
    # Issue 19.1: still people (a demographic key), flagged, so they are scored and listed.
    assert summary.spine_people == len(population)
    assert summary.spine_rows_left_out == 0
    linked_population = pd.read_parquet(ws / "linked" / "population.parquet")
    assert (~linked_population["nhs_number_valid"]).sum() == 2
    assert linked_population["person_key"].is_unique and linked_population["person_key"].notna().all()
    linked = pd.read_parquet(ws / "linked" / "gp_events.parquet")
    assert not {"DOB", "Full Name", "clinic"} & set(linked.columns)
    assert {"event_date", "snomed_code", "person_key"} <= set(linked.columns)
    report = (ws / "reports" / "linkage.html").read_text()
    assert re.search(r"&lt;5\s+population row\(s\) have no valid NHS number", report)  # small counts hidden


def test_free_text_stops_at_linkage_like_the_identifiers() -> None:
    # Issue 19.9: a typed drug name may name someone or hold clinical detail; no feature reads it.
    columns = [*SOURCES["prescriptions"].column_names, "row_number"]
    kept = kept_columns(columns, "prescriptions")
    assert "drug_name" in columns and "drug_name" not in kept
    assert "nhs_number" not in kept and "row_number" in kept and len(kept) >= 3
