"""Features and labels on the shared synthetic world, checked against its ground truth."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from falls_risk import catalog
from falls_risk.config import FeatureConfig
from falls_risk.features import compute_features, feature_names, load_feature_table
from falls_risk.features.compute import label_known_until
from falls_risk.identity import person_keys
from falls_risk.linkage.secret import load_secret
from falls_risk.workspace import Workspace
from tests.features.reference import reference_features
from tests.features.test_point_in_time import compare_with_reference


@pytest.fixture(scope="module")
def features(feature_workspace: Path) -> pd.DataFrame:
    return load_feature_table(feature_workspace)


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["person_key"] = person_keys(load_secret(), frame["nhs_number"])
    return frame


def test_feature_table_layout(feature_workspace: Path, features: pd.DataFrame) -> None:
    manifest = json.loads((feature_workspace / "features" / "manifest.json").read_text())
    parts = sorted(p.name for p in (feature_workspace / "features").glob("index_date=*"))
    assert parts == [f"index_date={d}" for d in manifest["index_dates"]]
    assert list(features.columns) == ["person_key", "index_date", *feature_names(), "label", "died_in_window"]
    assert not features.duplicated(["person_key", "index_date"]).any()
    assert (features["age"] >= 65).all()
    # No direct identifier can be in the table: only the pseudonymous key identifies a row.
    assert not {"nhs_number", "forename", "surname", "date_of_birth", "postcode"} & set(features.columns)


def test_labels_agree_with_the_synthetic_truth(world_dir: Path, features: pd.DataFrame) -> None:
    falls = _keyed(pd.read_parquet(world_dir / "truth" / "fall_admissions.parquet"))
    falls["admission_date"] = pd.to_datetime(falls["admission_date"])
    pairs = features[["person_key", "index_date"]].merge(falls[["person_key", "admission_date"]], how="left")
    days = (pairs["admission_date"] - pairs["index_date"]).dt.days
    pairs["hit"] = days.between(1, 365)
    truth = pairs.groupby(["person_key", "index_date"])["hit"].any().astype(int).rename("truth")
    joined = features.set_index(["person_key", "index_date"]).join(truth)
    known = joined[joined["label"].notna()]
    assert len(known) > 0
    positives = known["truth"] == 1
    assert positives.sum() >= 50
    # Every label 1 is a true fall admission; nearly all true ones are found (linkage is not perfect).
    assert (known.loc[known["label"] == 1, "truth"] == 1).mean() >= 0.99
    assert (known.loc[positives, "label"] == 1).mean() >= 0.95


def test_gp_coded_conditions_agree_with_truth(world_dir: Path, features: pd.DataFrame) -> None:
    people = _keyed(pd.read_parquet(world_dir / "truth" / "people.parquet"))
    coded = pd.to_datetime(people.set_index("person_key")["coded_dementia"])
    at = features[["person_key", "index_date", "ever_dementia"]].copy()
    at["coded"] = at["person_key"].map(coded)
    truly = at["coded"] < at["index_date"]
    assert truly.sum() >= 20
    # Coded by the GP before the index date -> the feature sees it, unless the GP record's NHS
    # number was too dirty to link (GP records carry no name to match on): a few per cent.
    assert (at.loc[truly, "ever_dementia"] == 1).mean() >= 0.93


def test_sql_equals_reference_on_a_sample(feature_workspace: Path) -> None:
    ws = Workspace(feature_workspace)
    config = FeatureConfig(arrival_lag_days={"police_incidents": 61})
    population = catalog.POPULATION.load(ws)
    sample = set(random.Random(4).sample(sorted(population["person_key"]), 150))
    events = catalog.EVENTS.load(ws)
    events = events[events["person_key"].isin(sample)].astype(object)
    population = population[population["person_key"].isin(sample)]
    dates = [date(2022, 1, 1), date(2024, 7, 1)]
    # The SQL runs on the whole world; households need everyone, so compare features of the sample.
    sql = compute_features(ws, dates, config=config)
    sql = sql[sql["person_key"].isin(sample)]
    ref = reference_features(
        events.where(events.notna(), None).to_dict("records"),
        population.astype(object).where(population.notna(), None).to_dict("records"),
        dates,
        config,
        label_known_until=label_known_until(ws, config),
    )
    assert len(sql) >= 100
    compare_with_reference(sql, ref, skip=("lives_alone",))


def test_a_move_away_in_the_label_window_gives_a_missing_label_that_training_drops(
    feature_workspace: Path, features: pd.DataFrame
) -> None:
    from falls_risk.modelling.data import load_features, temporal_split

    ws = Workspace(feature_workspace)
    spine = catalog.POPULATION.load(ws).set_index("person_key")
    until = pd.Timestamp(label_known_until(ws, FeatureConfig()))
    rows = features[features["index_date"] + pd.Timedelta(days=365) <= until].copy()
    moved = pd.to_datetime(rows["person_key"].map(spine["deregistration_date"]))
    died = pd.to_datetime(rows["person_key"].map(spine["date_of_death"]))
    after = (moved - rows["index_date"]).dt.days
    moved_away = after.between(1, 365) & (died.isna() | (died > moved))
    assert moved_away.sum() >= 5  # the world has people leaving the region
    # Censored, never "no fall": missing unless a fall admission came before the move.
    assert rows.loc[moved_away, "label"].isna().mean() >= 0.8
    assert not (rows.loc[moved_away, "label"] == 0).any()
    # A death is not a move: who died in the window keeps a known label.
    died_in = (died - rows["index_date"]).dt.days.between(1, 365) & ~moved_away
    assert died_in.sum() >= 5 and rows.loc[died_in, "label"].notna().all()
    # Training excludes the missing labels and counts them in its record.
    split = temporal_split(load_features(ws), test_months=12)
    used = pd.concat([split.train, split.calibration, split.test])
    assert used["label"].notna().all() and len(used) + features["label"].isna().sum() == len(features)
    assert split.info["unlabelled_rows_dropped"] == int(features["label"].isna().sum())
    censored = rows.loc[moved_away & rows["label"].isna(), ["person_key", "index_date"]]
    used_keys = set(zip(used["person_key"], pd.to_datetime(used["index_date"]), strict=True))
    assert not any(key in used_keys for key in zip(censored["person_key"], censored["index_date"], strict=True))
