"""Features, cohort and labels on the hand-built workspace, where every right answer is known."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from falls_risk.config import FeatureConfig
from falls_risk.errors import FallsRiskError, WorkspaceError
from falls_risk.events import build_events
from falls_risk.features import (
    REGISTRY_VERSION,
    build_features,
    compute_features,
    feature_names,
    load_feature_table,
)
from falls_risk.features.manifest import FeaturesManifest, IndexDateCounts
from falls_risk.features.registry import get_feature
from tests.features.features_fixtures import D, row

APRIL = date(2023, 4, 1)
JUNE = date(2023, 6, 1)  # label window ends 2024-05-31, after the extract date


@pytest.fixture(scope="module")
def table(tiny_workspace: Path) -> pd.DataFrame:
    return compute_features(tiny_workspace, [D, APRIL, JUNE])


def test_cohort_is_alive_registered_and_65_plus(table: pd.DataFrame) -> None:
    at = lambda d: sorted(table.loc[table["index_date"] == pd.Timestamp(d), "person_key"])
    # p4 turns 65 in 2023-02; p5 died in 2022; p6 registered 2023-02-01.
    assert at(D) == ["p1", "p2", "p3", "p7"]
    assert at(APRIL) == ["p1", "p2", "p3", "p4", "p6", "p7"]


def test_demographics(table: pd.DataFrame) -> None:
    p1, p2, p3, p7 = (row(table, p) for p in ("p1", "p2", "p3", "p7"))
    assert (p1["age"], p2["age"], p3["age"]) == (82, 73, 65)
    sex = get_feature("sex").categories
    assert sex[int(p1["sex"])] == "F" and sex[int(p2["sex"])] == "M" and sex[int(p7["sex"])] == "U"
    la = get_feature("local_authority").categories
    assert la[int(p1["local_authority"])] == "Cardiff"
    assert la[int(p2["local_authority"])] == "Swansea"  # given in lower case
    assert math.isnan(p7["local_authority"])  # not a Welsh council
    assert (p1["wimd_quintile"], p2["wimd_quintile"]) == (1, 5) and math.isnan(p7["wimd_quintile"])
    assert p1["lives_alone"] == 1 and p2["lives_alone"] == 0 and p3["lives_alone"] == 0
    assert math.isnan(p7["lives_alone"])  # no household key: unknown, not "lives with others"


def test_household_counts_only_the_living(table: pd.DataFrame) -> None:
    # p4 shares a household with p5, who died in 2022: p4 lives alone in April 2023.
    assert row(table, "p4", APRIL)["lives_alone"] == 1


def test_service_use_counts_and_windows(table: pd.DataFrame) -> None:
    p1 = row(table, "p1")
    # The ED attendance on the index date itself is not before it.
    assert (p1["ed_attendances_90d"], p1["ed_attendances_730d"], p1["ed_attendances_ever"]) == (1, 2, 2)
    assert p1["ed_fall_attendances_ever"] == 1
    assert p1["emergency_admissions_90d"] == 1 and p1["fall_admissions_90d"] == 1
    assert p1["hip_fracture_admissions_365d"] == 1
    assert (p1["bed_days_90d"], p1["bed_days_730d"], p1["bed_days_ever"]) == (10, 10, 12)
    assert p1["ambulance_fall_calls_90d"] == 2 and p1["ambulance_fall_not_conveyed_90d"] == 1
    assert p1["days_since_fall"] == 31 and p1["days_since_ed_attendance"] == 31
    assert p1["contacts_trend"] == 4
    # Three months later the same events have aged into the longer windows only.
    later = row(table, "p1", APRIL)
    assert later["fall_admissions_90d"] == 0 and later["fall_admissions_365d"] == 1
    assert later["days_since_emergency_admission"] == 121


def test_a_spell_still_open_at_the_index_date_counts_nowhere_until_discharge(table: pd.DataFrame) -> None:
    # p2 was admitted 5 days before the index date and discharged after it: PEDW receives a
    # spell at discharge, so at the index date neither the admission nor its days are known.
    at_d = row(table, "p2")
    assert at_d["bed_days_90d"] == 0 and at_d["emergency_admissions_90d"] == 0
    assert math.isnan(at_d["days_since_emergency_admission"])
    in_april = row(table, "p2", APRIL)  # discharged 2023-01-10: known by April, the whole stay
    assert in_april["bed_days_365d"] == 14 and in_april["emergency_admissions_365d"] == 1


def test_conditions_medicines_and_frailty(table: pd.DataFrame) -> None:
    p1 = row(table, "p1")
    assert p1["ever_dementia"] == 1 and p1["ever_fall"] == 1 and p1["ever_hypertension"] == 1
    assert p1["ever_hip_fracture"] == 1  # from the hospital diagnosis S72.0
    assert p1["ever_diabetes"] == 0
    assert p1["efi_deficits"] == 4
    assert p1["frid_hypnotics_anxiolytics_90d"] == 1 and p1["frid_antihypertensives_90d"] == 1
    assert p1["frid_antidepressants_90d"] == 0  # last issued 153 days before
    assert p1["frid_classes_90d"] == 2
    assert p1["polypharmacy_90d"] == 3  # 0401010, 0205051 (twice), 0101010
    assert p1["gp_recorded_falls_365d"] == 1
    # A diagnosis coded after the index date is not used.
    assert row(table, "p3")["ever_parkinsons"] == 0 and row(table, "p3", APRIL)["ever_parkinsons"] == 1


def test_social_care_police_housing(table: pd.DataFrame) -> None:
    p1 = row(table, "p1")
    assert p1["home_care_active"] == 1 and p1["home_care_hours_per_week"] == 7.5
    assert p1["telecare_active"] == 0  # ended in 2021
    assert p1["social_care_assessments_365d"] == 1
    assert p1["police_victim_365d"] == 1 and p1["police_fraud_scam_365d"] == 1
    assert p1["police_concern_for_welfare_365d"] == 1
    assert row(table, "p3")["adaptation_pending"] == 1 and row(table, "p3")["adaptations_completed_ever"] == 0
    assert row(table, "p3", APRIL)["adaptation_pending"] == 0
    assert row(table, "p3", APRIL)["adaptations_completed_ever"] == 1


def test_weak_links_are_excluded_and_reported(table: pd.DataFrame) -> None:
    p2 = row(table, "p2")
    assert p2["ambulance_calls_ever"] == 0  # linked at 0.85 < 0.9: left out
    assert p2["excluded_weak_links"] == 1
    assert p2["ed_attendances_365d"] == 1  # linked at 0.97: kept...
    # ...but weak: the one event used (the open spell is not known yet) is below 0.99.
    assert p2["weak_link_share"] == 1
    assert row(table, "p1")["weak_link_share"] == 0
    assert math.isnan(row(table, "p7")["weak_link_share"])


def test_lower_match_threshold_admits_more_events(tiny_workspace: Path) -> None:
    loose = compute_features(tiny_workspace, [D], config=FeatureConfig(min_match_probability=0.8))
    assert row(loose, "p2")["ambulance_calls_ever"] == 1 and row(loose, "p2")["excluded_weak_links"] == 0


def test_labels_and_deaths(table: pd.DataFrame) -> None:
    assert row(table, "p1")["label"] == 1  # fall admission 2023-06-01
    assert row(table, "p2")["label"] == 0 and row(table, "p2")["died_in_window"] == 1
    assert row(table, "p3")["label"] == 0 and row(table, "p3")["died_in_window"] == 0
    # A window the extract does not cover is missing, never negative.
    june = table[table["index_date"] == pd.Timestamp(JUNE)]
    assert june["label"].isna().all()
    assert row(table, "p2", JUNE)["died_in_window"] == 1 and pd.isna(row(table, "p3", JUNE)["died_in_window"])


def test_arrival_lag_hides_what_was_not_yet_known(tiny_workspace: Path) -> None:
    lagged = compute_features(
        tiny_workspace, [D], config=FeatureConfig(arrival_lag_days={"police_incidents": 61})
    )
    p1 = row(lagged, "p1")
    # The fraud 17 days before the index date had not reached the police extract yet.
    assert p1["police_fraud_scam_365d"] == 0 and p1["police_victim_365d"] == 0
    assert p1["police_concern_for_welfare_365d"] == 1  # 306 days before: known
    assert p1["ed_attendances_90d"] == 1  # other sources unaffected


def test_inpatient_lag_delays_label_coverage(tiny_workspace: Path) -> None:
    # Extract 2024-03-31 minus 120 days: the 2023-01-01 window (to 2024-01-01) is no longer covered.
    lagged = compute_features(
        tiny_workspace, [D], config=FeatureConfig(arrival_lag_days={"inpatient_spells": 120})
    )
    assert lagged["label"].isna().all()


def test_build_and_load_round_trip(tiny_copy: Path) -> None:
    summary = build_features(tiny_copy, [JUNE, D], progress=False)
    assert summary.index_dates == (D, JUNE)
    assert summary.per_index_date[D] == IndexDateCounts(people=4, labels_known=4, labels_positive=1, died_in_window=1)
    assert FeaturesManifest.read(tiny_copy) == summary  # what was written reads back the same
    part = tiny_copy / "features" / "index_date=2023-01-01" / "part-0.parquet"
    columns = pq.read_schema(part).names
    assert columns == ["person_key", "index_date", *feature_names(), "label", "died_in_window"]
    manifest = json.loads((tiny_copy / "features" / "manifest.json").read_text())
    assert manifest["registry_version"] == REGISTRY_VERSION and manifest["feature_names"] == feature_names()
    assert manifest["config"]["min_match_probability"] == 0.9
    loaded = load_feature_table(tiny_copy)
    direct = compute_features(tiny_copy, [D, JUNE])
    pd.testing.assert_frame_equal(loaded.reset_index(drop=True), direct.reset_index(drop=True))
    assert list(load_feature_table(tiny_copy, [JUNE])["index_date"].unique()) == [pd.Timestamp(JUNE)]
    assert (tiny_copy / "events" / "events.parquet").exists()


def test_rebuild_replaces_old_index_dates(tiny_copy: Path) -> None:
    build_features(tiny_copy, [D, JUNE], progress=False)
    build_features(tiny_copy, [APRIL], progress=False)
    dirs = sorted(p.name for p in (tiny_copy / "features").iterdir() if p.is_dir())
    assert dirs == ["index_date=2023-04-01"]


def test_load_refuses_missing_dates_and_other_registry(tiny_copy: Path) -> None:
    with pytest.raises(WorkspaceError, match="falls-risk features"):
        load_feature_table(tiny_copy)
    build_features(tiny_copy, [D], progress=False)
    with pytest.raises(WorkspaceError, match="2023-04-01"):
        load_feature_table(tiny_copy, [APRIL])
    manifest = tiny_copy / "features" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["registry_version"] = "000000000000"
    manifest.write_text(json.dumps(data))
    with pytest.raises(WorkspaceError, match="registry version 000000000000"):
        load_feature_table(tiny_copy)


def test_events_table(tiny_copy: Path) -> None:
    events = pd.read_parquet(build_events(tiny_copy))
    assert list(events.columns) == [
        "person_key",
        "event_time",
        "source",
        "code",
        "value",
        "end_time",
        "match_probability",
        "known_time",
    ]
    assert events["person_key"].notna().all()  # the unlinked spell is gone
    codes = set(events["code"])
    assert {
        "inpatient/fall_emergency",
        "inpatient/hip_fracture",
        "icd10/S720",
        "icd10/W010",
        "ambulance/fall_not_conveyed",
        "police/victim",
        "police/fraud_scam",
        "gp/52448006",
        "rx/0401010X0AAAAAA",
        "housing/completed/grab_rails",
        "social_care/home_care",
    } <= codes
    spell = events[(events["code"] == "inpatient/emergency") & (events["person_key"] == "p1")]
    assert sorted(spell["value"]) == [10, 19]  # lengths of stay
    # The fall admission after the index date is also a fall (for labels), recorded once.
    assert (events["code"] == "inpatient/fall_emergency").sum() == 2


def test_missing_spine_is_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="falls-risk link"):
        compute_features(tmp_path, [D])
    with pytest.raises(FallsRiskError, match="index date"):
        compute_features(tmp_path, [])


def test_absent_sources_give_zero_counts(tiny_copy: Path) -> None:
    (tiny_copy / "linked" / "police_incidents.parquet").unlink()
    table = compute_features(tiny_copy, [D])
    assert row(table, "p1")["police_victim_365d"] == 0 and row(table, "p1")["ed_attendances_ever"] == 2


def test_pandas_implementation_equals_sql(tiny_copy: Path) -> None:
    from falls_risk.features.compute import label_known_until
    from falls_risk.workspace import Workspace
    from tests.features.pandas_reference import events_frame, pandas_features
    from tests.features.test_point_in_time import compare_with_reference

    config = FeatureConfig(arrival_lag_days={"police_incidents": 61, "inpatient_spells": 3})
    events = events_frame(pq.read_table(build_events(tiny_copy, config)))
    population = pd.read_parquet(tiny_copy / "linked" / "population.parquet")
    until = label_known_until(Workspace(tiny_copy), config)
    for on in (D, APRIL, JUNE):
        sql = compute_features(tiny_copy, [on], config=config)
        pandas = pandas_features(events, population, on, config, label_known_until=until)
        compare_with_reference(sql, pandas.to_dict("records"))


def test_index_date_with_an_empty_cohort_still_gets_a_partition(tiny_copy: Path) -> None:
    summary = build_features(tiny_copy, [date(1990, 6, 1), D], progress=False)
    assert summary.per_index_date[date(1990, 6, 1)].people == 0
    table = load_feature_table(tiny_copy)
    assert set(table["index_date"]) == {pd.Timestamp(D)}


def test_dotted_icd10_codes_are_recognised(tiny_copy: Path) -> None:
    path = tiny_copy / "linked" / "inpatient_spells.parquet"
    spells = pq.read_table(path).to_pandas()
    spells["diagnoses"] = spells["diagnoses"].str.replace("S720;W010", "S72.0;W01.0", regex=False)
    assert (spells["diagnoses"] == "S72.0;W01.0").any()
    spells.to_parquet(path)
    events = pd.read_parquet(build_events(tiny_copy))
    p1 = set(events.loc[events["person_key"] == "p1", "code"])
    assert {"inpatient/fall_emergency", "inpatient/hip_fracture", "icd10/S720", "icd10/W010"} <= p1
