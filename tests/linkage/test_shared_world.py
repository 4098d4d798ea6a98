"""Linkage on the shared 3,000-person synthetic world (the ``linked_workspace`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from falls_risk.contract import DIRECT_IDENTIFIERS
from falls_risk.linkage import evaluate_linkage

NO_NHS = ("social_care", "police_incidents", "housing_adaptations")


def test_link_eval_meets_the_floors(linked_workspace: Path, world_dir: Path) -> None:
    scores = evaluate_linkage(linked_workspace, world_dir / "truth").set_index("source")
    assert scores.loc["all", "precision"] >= 0.995 and scores.loc["all", "recall"] >= 0.99
    no_nhs = scores.loc["without NHS number"]
    assert no_nhs["precision"] >= 0.99 and no_nhs["recall"] >= 0.95, no_nhs.to_dict()


def test_no_identifier_columns_or_values_after_linkage(linked_workspace: Path) -> None:
    """No table in WS/linked has an identifier column, nor a spine identifier value in any cell.

    Dates of birth are checked as text in every text column and, for date columns, as a copy of
    each person's own birth date (event dates may coincide with someone's birthday by chance).
    """
    spine = pd.read_parquet(linked_workspace / "ingested" / "population.parquet")
    values: set[str] = set()
    for column in (
        "nhs_number",
        "forename",
        "surname",
        "forename_raw",
        "surname_raw",
        "postcode",
        "address_line",
    ):
        if column in spine:
            values |= {str(v) for v in spine[column].dropna()}
    values |= {str(d) for d in spine["date_of_birth"].dropna()}
    tables = sorted((linked_workspace / "linked").glob("*.parquet"))
    assert {p.stem for p in tables} >= {"population", *NO_NHS, "gp_events", "inpatient_spells"}
    for path in tables:
        table = pd.read_parquet(path)
        leaked = set(table.columns) & DIRECT_IDENTIFIERS
        assert not leaked, f"{path.name} has identifier columns {leaked}"
        assert not [c for c in table.columns if c.endswith("_raw") or c == "nhs_number_invalid"], path.name
        for column in table.columns:
            if table[column].dtype.kind in "biufmM" or str(table[column].dtype).startswith(("date", "time")):
                continue
            cells = set(table[column].dropna().astype(str).unique())
            hit = cells & values
            assert not hit, f"{path.name}.{column} carries identifier values, e.g. {sorted(hit)[:3]}"
    population = pd.read_parquet(linked_workspace / "linked" / "population.parquet")
    assert len(population) == spine["nhs_number"].nunique()
    from falls_risk.identity import person_keys
    from falls_risk.linkage import load_secret

    own = spine.assign(person_key=person_keys(load_secret(), spine["nhs_number"]))[
        ["person_key", "date_of_birth"]
    ]
    joined = population.merge(own, on="person_key")
    birth = pd.to_datetime(joined["date_of_birth"])
    for column in ("registration_date", "deregistration_date", "date_of_death"):
        assert (pd.to_datetime(joined[column]) == birth).mean() < 0.01, column


def test_records_of_people_outside_the_spine_stay_unlinked(linked_workspace: Path, world_dir: Path) -> None:
    truth = pd.read_parquet(world_dir / "truth" / "record_person.parquet")
    spine = set(pd.read_parquet(linked_workspace / "ingested" / "population.parquet")["nhs_number"])
    outside = truth[~truth["nhs_number"].isin(spine) & truth["source"].isin(NO_NHS)]
    assert len(outside) > 0
    wrongly_linked = 0
    for source, rows in outside.groupby("source"):
        linked = pd.read_parquet(linked_workspace / "linked" / f"{source}.parquet")
        wrongly_linked += linked[linked["row_number"].isin(rows["row_number"])]["person_key"].notna().sum()
    # The harder world (issue 14) puts adult children with their parent's surname, address and
    # sometimes forename in the police data, some without a birth date (then indistinguishable
    # from the parent's own records), and twins: a few of these links remain (5 of 442 here).
    assert wrongly_linked <= 0.015 * len(outside)


def test_no_record_links_to_someone_born_20_or_more_years_apart(linked_workspace: Path) -> None:
    """Issue 14: a record whose stated birth date is 20+ years from the spine person's never links."""
    births = pd.read_parquet(linked_workspace / "linked" / "population.parquet", columns=["person_key", "birth_month"])
    birth = pd.Series(pd.to_datetime(births["birth_month"] + "-01").to_numpy(), index=births["person_key"])
    checked = 0
    for path in sorted((linked_workspace / "linked").glob("*.parquet")):
        if path.name == "population.parquet":
            continue
        ingested = linked_workspace / "ingested" / path.name
        if "date_of_birth" not in pd.read_parquet(ingested).columns:
            continue
        stated = pd.read_parquet(ingested, columns=["row_number", "date_of_birth"])
        linked = pd.read_parquet(path, columns=["row_number", "person_key", "link_method"])
        rows = linked[linked["link_method"] == "probabilistic"].merge(stated, on="row_number")
        rows = rows[rows["date_of_birth"].notna() & (pd.to_datetime(rows["date_of_birth"]) != pd.Timestamp("1900-01-01"))]
        years = (pd.to_datetime(rows["date_of_birth"]) - rows["person_key"].map(birth)).dt.days.abs() / 365.25
        assert (years < 21).all(), (path.name, rows[years >= 21].head())
        checked += len(rows)
    assert checked > 1000


def test_report_and_review_are_written(linked_workspace: Path) -> None:
    html = (linked_workspace / "reports" / "linkage.html").read_text()
    assert "police_incidents" in html and "cdn.jsdelivr" not in html
    review = pd.read_csv(
        linked_workspace / "reports" / "clerical_review.csv", dtype=str, keep_default_na=False
    )
    assert (review["decision"] == "").all()
    probability = review["match_probability"].astype(float)
    assert probability.between(0.5, 0.99).all()
