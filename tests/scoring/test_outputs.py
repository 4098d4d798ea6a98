import re
import stat

import pandas as pd
import pytest

from falls_risk.catalog import write_private_csv
from falls_risk.errors import ScoringError
from falls_risk.identity import person_keys
from falls_risk.scoring.outputs import build_risk_list, identities, reidentify
from falls_risk.scoring.summary import render_summary, summary_data

SECRET = b"test-secret-not-for-real-use"
NHS = ["9434765919", "9434765870", "9434765838"]


@pytest.fixture
def spine_file(tmp_path):
    spine = pd.DataFrame(
        {
            "row_number": [1, 2, 3, 4],
            "nhs_number": NHS + [NHS[0]],  # a repeated NHS number: the first row wins, as in linkage
            "forename": ["ann", "bob", "cai", "zed"],
            "forename_raw": ["Ann", "Bob", "Cai", "Zed"],
            "surname": ["jones", "evans", "lloyd", "other"],
            "surname_raw": ["Jones", "Evans", "Lloyd", "Other"],
            "date_of_birth": pd.to_datetime(["1940-01-02", "1945-03-04", "1950-05-06", "1960-01-01"]).date,
            "postcode": ["CF10 1AA", "NP20 2BB", "LL57 3CC", "CF10 1AA"],
            "address_line": ["1 High St", "2 Low Rd", "3 Mid Ln", "9 Elsewhere"],
        }
    )
    path = tmp_path / "population.parquet"
    spine.to_parquet(path)
    return path


def _scores():
    keys = person_keys(SECRET, NHS)
    return pd.DataFrame(
        {
            "person_key": keys,
            "local_authority": ["Cardiff", "Newport", "Gwynedd"],
            "probability": [0.41, 0.22, 0.05],
            "rank": [1, 1, 1],
            "tier": pd.Categorical(["high", "moderate", "low"], categories=["high", "moderate", "low"]),
            "explained": [True, True, False],
            "reasons": ["Ambulance service: 2 ambulance calls ...", "Police: ...", ""],
        }
    )


def test_risk_list_names_flagged_and_alerted_people_with_reasons(spine_file, tmp_path):
    scores = _scores()
    alerts = pd.DataFrame(
        {
            "person_key": [scores.loc[1, "person_key"]],
            "event_date": [pd.Timestamp("2026-02-10").date()],
            "code": ["police/concern_for_welfare"],
            "alert": ["police concern-for-welfare incident"],
            "probability": [0.22],
            "tier": ["moderate"],
            "rank": [1],
        }
    )
    listed = build_risk_list(scores, alerts=alerts, risers=None, entrants={scores.loc[0, "person_key"]})
    people = identities(spine_file, SECRET)
    risk_list = reidentify(listed, people)
    assert list(risk_list["surname"]) == ["Jones", "Evans"]  # flagged first, then the alerted person
    assert risk_list.loc[0, "address_line"] == "1 High St"  # first spine row per NHS number
    assert risk_list.loc[0, "listed_because"] == "flagged tier" and bool(risk_list.loc[0, "new_to_flagged_tier"])
    assert "concern-for-welfare" in risk_list.loc[1, "alerts"] and risk_list.loc[1, "listed_because"] == "new event"
    assert "person_key" not in risk_list.columns
    assert (risk_list["reasons"].str.len() > 0).all()

    path = write_private_csv(risk_list, tmp_path / "risk_list.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pd.read_csv(path, dtype=str)["nhs_number"].tolist() == NHS[:2]


def test_someone_who_left_the_flagged_tier_is_listed_for_their_team_to_review(spine_file):
    scores = _scores()
    scores["reasons"] = ["Ambulance service: 2 ambulance calls ...", "Police: ...", "GP: a fall recorded ..."]
    leaver, gone = scores.loc[2, "person_key"], "f" * 32  # gone: died or moved away, so not scored
    listed = build_risk_list(scores, alerts=pd.DataFrame(columns=["person_key", "alert", "event_date"]),
                             risers=None, entrants=set(), leavers={leaver, gone})
    risk_list = reidentify(listed, identities(spine_file, SECRET))
    assert list(risk_list["surname"]) == ["Jones", "Lloyd"]
    row = risk_list.iloc[1]
    assert row["listed_because"] == "left the flagged tier" and row["tier"] == "low"
    assert row["risk_percent"] == 5.0 and row["reasons"].startswith("GP:")


def test_a_listed_person_missing_from_the_spine_is_an_error(spine_file):
    scores = _scores()
    scores.loc[0, "person_key"] = "0" * 32
    listed = build_risk_list(scores, alerts=pd.DataFrame(columns=["person_key", "alert", "event_date"]),
                             risers=None, entrants=set())
    with pytest.raises(ScoringError, match="secret"):
        reidentify(listed, identities(spine_file, SECRET))


def test_summary_shows_counts_without_identifiers_and_suppresses_small_numbers():
    scores = pd.concat([_scores()] * 4, ignore_index=True)
    scores["person_key"] = [f"key{i}" for i in range(len(scores))]
    drift = pd.DataFrame({"variable": ["age", "score"], "psi": [0.31, 0.01], "status": ["warning", "stable"]})
    manifest = {
        "month": "2026-03", "as_of": "2026-03-01", "extract_date": "2026-02-28",
        "model": {"name": "falls-risk", "version": "4", "run_id": "abc"},
        "policy_text": "capacity 4 overall", "row_counts": {"eligible": 12, "flagged": 3}, "timings_seconds": {"scoring": 1.5},
        "code_version": {"package": "0.1.0", "commit": None, "dirty": None},
    }
    html = render_summary(summary_data(
        manifest=manifest, scores=scores, drift=drift, warnings=["Drift: feature 'age' has PSI 0.31"],
        alerts=pd.DataFrame(columns=["person_key", "alert", "tier"]), changes=None, risers=None, horizon_days=365,
    ))
    assert "Falls risk scoring — 2026-03" in html
    assert "Drift: feature &#39;age&#39; has PSI 0.31" in html
    assert "&lt;5" in html  # 4 flagged in Cardiff shows as <5
    # The run table too: 3 flagged is <5 there, while the manifest keeps the exact count.
    assert re.search(r"Rows: flagged</th><td[^>]*>&lt;5<", html) and "Rows: eligible</th><td class=\"n\">12<" in html
    assert "key0" not in html and "Jones" not in html
    assert "first run" in html


@pytest.mark.parametrize(("horizon_days", "said"), [(365, "12 months"), (730, "2 years"), (90, "90 days")])
def test_summary_states_risks_over_the_models_label_horizon(horizon_days: int, said: str):
    html = render_summary(summary_data(
        manifest={
            "month": "2026-03", "as_of": "2026-03-01", "extract_date": "2026-02-28",
            "model": {"name": "falls-risk", "version": "4", "run_id": "abc"}, "policy_text": "capacity 4 overall",
            "row_counts": {}, "timings_seconds": {}, "code_version": {"package": "0.1.0", "commit": None, "dirty": None},
        },
        scores=_scores(), drift=pd.DataFrame(columns=["variable", "psi", "status"]), warnings=[],
        alerts=pd.DataFrame(columns=["person_key", "alert", "tier"]), changes=None, risers=None,
        horizon_days=horizon_days,
    ))
    assert f"Mean risk within {said}, everyone" in html and f"Risk within {said}" in html
    assert ("12 months" in html) == (horizon_days == 365)
