"""Treatment-aware training: when teams prevent falls among the people they act on, a naive retrain
learns that such people are at lower risk; excluding the treated person-months does not."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from falls_risk.config import ExperimentConfig
from falls_risk.modelling import run_experiment
from falls_risk.modelling.data import apply_treatment_policy, temporal_split, treated_person_months
from falls_risk.modelling.train import train_model
from falls_risk.reporting.model_card import treatment_text
from tests.modelling.modelling_fixtures import SPECS, make_feature_frame

HORIZON = 365
PREVENTED = 0.6  # share of the acted-on people's fall admissions the intervention prevents


def acted_on_world(people: int = 4000, seed: int = 11):
    """The synthetic table after two years of acting on the list: at each index date the top 10% by
    true risk is listed; half of the people (those whose team acts) are assessed 10 days later, and
    60% of their fall admissions in the following year do not happen. Returns the observed table
    (with ``untreated_label``, the label had nobody acted) and the actions ledger's rows."""
    frame = make_feature_frame(people=people, seed=seed)
    rng = np.random.default_rng([seed, 2])  # not the table's own stream (that drew ages first)
    team_acts = pd.Series(rng.random(people) < 0.5, index=[f"p{i:06d}" for i in range(people)])
    cut = frame.groupby("index_date")["true_risk"].transform(lambda r: r.quantile(0.9))
    listed = frame["true_risk"] >= cut
    acted = listed & frame["person_key"].map(team_acts).to_numpy()
    actions = pd.DataFrame({"person_key": frame.loc[acted, "person_key"],
                            "action_date": frame.loc[acted, "index_date"] + timedelta(days=10),
                            "action": "assessed"})
    treated = treated_person_months(frame, actions, HORIZON)
    frame["untreated_label"] = frame["label"]
    prevented = treated & (frame["label"] == 1).to_numpy() & (rng.random(len(frame)) < PREVENTED)
    frame.loc[prevented, "label"] = 0
    return frame, actions, treated


@pytest.fixture(scope="module")
def world():
    return acted_on_world()


def calibration_of_the_acted_on_kind(frame: pd.DataFrame, actions: pd.DataFrame | None, policy: str) -> float:
    """Predicted / true risk (had nobody acted) in the test period, among the top decile of true risk."""
    used, _ = apply_treatment_policy(frame, actions, HORIZON, policy)
    split = temporal_split(used, test_months=12, calibration_fraction=0.2, seed=1)
    model = train_model(split.train, split.calibration, kind="logistic", specs=SPECS, seed=1)
    test = frame[frame["index_date"].isin(split.test["index_date"].unique())]
    high = test[test["true_risk"] >= test["true_risk"].quantile(0.9)]
    return float(model.predict_proba(high).mean() / high["true_risk"].mean())


def test_a_naive_retrain_underestimates_the_acted_on_and_a_treatment_aware_one_does_not(world):
    frame, actions, treated = world
    assert 0.03 < treated.mean() < 0.15  # the acted-on are a minority of person-months
    # The same model trained on the outcomes had nobody acted: what an unbiased retrain achieves.
    untreated = calibration_of_the_acted_on_kind(frame.assign(label=frame["untreated_label"]), None, "include")
    naive = calibration_of_the_acted_on_kind(frame, actions, "include")
    aware = calibration_of_the_acted_on_kind(frame, actions, "exclude")
    print(f"predicted / true risk, top decile: no intervention {untreated:.3f}, naive {naive:.3f}, "
          f"treatment-aware {aware:.3f}")
    assert naive < untreated - 0.1  # learnt the teams' effect as lower risk
    assert abs(aware - untreated) < 0.06


def test_the_policy_and_its_counts_are_in_the_training_record_and_the_model_card(world, tmp_path):
    from falls_risk.actions.ledger import append_import

    frame, actions, treated = world
    runs = tmp_path / "runs"
    append_import(runs, {"file": "a.csv", "sha256": "x", "imported_at": "2025-01-01", "read": len(actions),
                         "accepted": len(actions), "quarantined": 0, "reasons": {},
                         "actions": [{"person_key": k, "action_date": d.isoformat(), "action": a, "team": None,
                                      "notification_id": None, "list_month": None, "row_number": i + 1,
                                      "has_note": False}
                                     for i, (k, d, a) in enumerate(actions.itertuples(index=False))]})
    config = ExperimentConfig.model_validate({
        "name": "treatment", "seed": 1, "models": [{"kind": "logistic"}], "evaluation": {"bootstrap": 0},
        "data": {"actions_runs": str(runs), "treated_person_months": "exclude"},
        "tracking": {"experiment": "treatment-tests", "register_model": False},
    })
    [result] = run_experiment(config, workspace=tmp_path / "ws", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                              specs=SPECS, registry_version="synthetic",
                              frame=frame.drop(columns=["untreated_label"]), progress=False)
    record = result.model.training_record_.treatment
    assert record == {"policy": "exclude", "actions_recorded": True, "actions": len(actions),
                      "treated_rows": int(treated.sum()),
                      "treated_persons": int(frame.loc[treated, "person_key"].nunique()),
                      "rows_excluded": int(treated.sum())}
    split = result.model.training_record_.split
    assert split.rows.train + split.rows.calibration + split.rows.test == len(frame) - treated.sum()
    assert "excluded from training (treated_person_months: exclude)" in treatment_text(record)
    assert "No actions ledger" in treatment_text(None)
