"""A synthetic delivery notified end to end with the champion's own linkage model; precision and
recall of the notified (person, event) pairs against the world's truth; re-runs; privacy."""

from __future__ import annotations

import shutil
import stat

import pandas as pd
import pytest

from falls_risk.catalog import NOTIFY_STATE, TRUTH_RECORD_PERSON
from falls_risk.identity import person_keys
from falls_risk.linkage.secret import load_secret
from falls_risk.notify import NotifyConfig, NotifyRequest, run_notify
from falls_risk.notify import channels as channels_mod
from falls_risk.notify.channels import OUTBOX_COLUMNS
from falls_risk.notify.state import open_state
from falls_risk.scoring.work import RUN_LOCK

NOTIFIED_TIERS = ("high", "moderate")
# Three months' events in one delivery: the cap (tested in test_state) is lifted so all go out.
UNCAPPED = NotifyConfig(daily_cap=10_000)


def _outbox_files(outbox) -> pd.DataFrame:
    files = sorted(outbox.rglob("*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)


def _outbox(request: NotifyRequest) -> pd.DataFrame:
    return _outbox_files(request.outbox)


def _pairs(outbox: pd.DataFrame) -> pd.DataFrame:
    """One row per notified event: source, record_id, the NHS number notified."""
    rows = []
    for r in outbox.itertuples(index=False):
        for source, record in zip(r.source.split(";"), r.record_id.split(";"), strict=True):
            rows.append({"source": source, "record_id": record, "notified_nhs": r.nhs_number})
    return pd.DataFrame(rows).drop_duplicates()


def _alertable(extract) -> pd.DataFrame:
    """The oracle: the delivery's records that should notify under the default rules, read from
    the raw files (not through the pipeline)."""
    def read(name):
        path = extract / f"{name}.csv"
        return pd.read_csv(path, dtype=str, keep_default_na=False) if path.exists() else pd.DataFrame()

    out = []
    amb = read("ambulance_calls")
    no = amb["conveyed"].str.lower().isin(["false", "0", "n", "no"])
    out.append(amb.loc[(amb["chief_complaint"].str.lower() == "fall") & no, "call_id"].rename("record_id")
               .to_frame().assign(source="ambulance_calls"))
    ed = read("ed_attendances")
    out.append(ed.loc[ed["presenting_complaint"].str.lower() == "fall", "attendance_id"].rename("record_id")
               .to_frame().assign(source="ed_attendances"))
    spells = read("inpatient_spells")  # every delivered spell was discharged: a discharge notifies
    out.append(spells["spell_id"].rename("record_id").to_frame().assign(source="inpatient_spells"))
    police = read("police_incidents")
    hit = police["incident_type"].str.lower().isin(["concern_for_welfare", "fraud_scam"]) | (
        police["person_role"].str.lower() == "victim")
    out.append(police.loc[hit, "incident_id"].rename("record_id").to_frame().assign(source="police_incidents"))
    housing = read("housing_adaptations")
    out.append(housing["application_id"].rename("record_id").to_frame().assign(source="housing_adaptations"))
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="module")
def notified(scored_runs, december_delivery, trained_model, tmp_path_factory):
    runs = tmp_path_factory.mktemp("notify_e2e") / "runs"
    shutil.copytree(scored_runs, runs)
    request = NotifyRequest(december_delivery / "extract", runs, config=UNCAPPED,
                            tracking_uri=trained_model.tracking_uri)
    first = run_notify(request)
    return {"request": request, "first": first, "outbox": _outbox(request)}


def test_a_delivery_is_notified_to_each_team_named_with_risk_tier_and_reasons(notified):
    request, result, outbox = notified["request"], notified["first"], notified["outbox"]
    assert result.absorbed.new_notifications == len(outbox) > 5
    assert tuple(outbox.columns) == OUTBOX_COLUMNS
    assert set(outbox["tier"]) <= {*NOTIFIED_TIERS, "not yet scored"}
    assert (outbox["nhs_number"].str.len() == 10).all() and (outbox["surname"] != "").all()
    high = outbox[outbox["tier"] == "high"]
    assert len(high) and (high["reasons"].str.contains("raises risk")).all()
    # The run explained its flagged tier only; notify explains the moderate tier it notifies.
    moderate = outbox[outbox["tier"] == "moderate"]
    assert len(moderate) and (moderate["reasons"].str.contains("risk by")).all()
    assert {p.parent.name for p in result.written} == set(outbox["local_authority"])
    for path in result.written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    merged = outbox[outbox["source"].str.contains(";")]
    for r in merged.itertuples():  # each merged event traceable: the same number of each field
        assert len(r.source.split(";")) == len(r.record_id.split(";")) == len(r.event_date.split(";"))
    # The delivery's identifiable working files are gone; only the runs folder's empty lock file stays.
    work = request.runs / ".work"
    assert not work.exists() or {p.name for p in work.iterdir()} <= {RUN_LOCK}


def test_precision_and_recall_of_notified_events_against_the_synthetic_truth(notified, december_delivery):
    request, outbox = notified["request"], notified["outbox"]
    truth = TRUTH_RECORD_PERSON.load(december_delivery / "truth")[["source", "record_id", "nhs_number"]]
    pairs = _pairs(outbox).merge(truth, on=["source", "record_id"], how="left")
    precision = (pairs["notified_nhs"] == pairs["nhs_number"]).mean()
    assert precision >= 0.99, pairs[pairs["notified_nhs"] != pairs["nhs_number"]]

    scores = pd.read_parquet(request.runs / "2025-12" / "scores.parquet", columns=["person_key", "tier"])
    should = _alertable(december_delivery / "extract").merge(truth, on=["source", "record_id"], how="inner")
    should = should[should["nhs_number"].notna()]
    should["person_key"] = person_keys(load_secret(), should["nhs_number"])
    should = should.merge(scores, on="person_key", how="inner")
    should = should[should["tier"].astype(str).isin(NOTIFIED_TIERS)]
    assert len(should) >= 10
    found = should.merge(pairs, on=["source", "record_id", "nhs_number"], how="left")
    recall = (found["notified_nhs"] == found["nhs_number"]).mean()
    assert recall >= 0.95, found[found["notified_nhs"] != found["nhs_number"]]
    print(f"notified pairs {len(pairs)}, precision {precision:.4f}; alertable in tiers {len(should)}, "
          f"recall {recall:.4f}")


def test_a_rerun_of_the_same_delivery_sends_nothing_again(notified, trained_model):
    request = notified["request"]
    before = len(list(request.outbox.rglob("*.csv")))
    again = run_notify(request)
    assert again.times_received == 2
    assert again.absorbed.new_notifications == 0 and again.absorbed.repeated > 0
    assert again.written == [] and len(list(request.outbox.rglob("*.csv"))) == before


def test_the_state_and_the_output_hold_no_identifier_beyond_the_outbox(notified, december_delivery, capsys):
    request = notified["request"]
    population = pd.read_csv(december_delivery / "extract" / "population.csv", dtype=str, keep_default_na=False)
    identifiers = {v for c in ("nhs_number", "surname", "date_of_birth", "postcode", "address_line")
                   for v in population[c] if len(v) >= 6}
    with open_state(request.runs) as state:
        cells = {str(v) for t in ("notifications", "events", "deliveries", "batches", "attempts")
                 for v in state.table(t).to_numpy().ravel()}
    assert not cells & identifiers
    printed = "\n".join(notified["first"].lines())
    assert not [i for i in identifiers if i in printed]
    assert stat.S_IMODE(NOTIFY_STATE.path(request.runs).stat().st_mode) == 0o600


def test_a_run_killed_after_its_batches_were_chosen_writes_the_same_batch_on_the_next_run(
        scored_runs, december_delivery, trained_model, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    shutil.copytree(scored_runs, runs)
    request = NotifyRequest(december_delivery / "extract", runs, config=UNCAPPED,
                            tracking_uri=trained_model.tracking_uri)
    real = channels_mod.write_outbox

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(channels_mod, "write_outbox", killed)
    with pytest.raises(KeyboardInterrupt):
        run_notify(request)
    monkeypatch.setattr(channels_mod, "write_outbox", real)
    assert not request.outbox.exists() or not list(request.outbox.rglob("*.csv"))
    result = run_notify(request)
    outbox = _outbox(request)
    assert result.absorbed.new_notifications == 0 and len(outbox) > 5
    assert outbox["notification_id"].is_unique
