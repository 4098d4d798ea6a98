"""The monthly command end to end on the shared small world: two months, a rerun, refusals."""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from falls_risk.contract import DIRECT_IDENTIFIERS
from falls_risk.errors import ScoringError
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring import (
    ScoringRequest,
    TierPolicy,
    read_ledger,
    run_scoring,
    runs_for_month,
    verify_ledger,
)
from falls_risk.scoring.ledger import read_lines
from falls_risk.scoring.manifest import output_hash

NOV, DEC = date(2025, 11, 1), date(2025, 12, 1)


@pytest.fixture(scope="module")
def loaded(synthetic_model):
    return RegisteredModel(model=synthetic_model, name="falls-risk", version="7", run_id="run-abc",
                           uri="models:/falls-risk@champion")


def score(extract, as_of, out, loaded=None, *, capacity=None, top_percent=None, per=None, progress=False, **kw):
    """One run as `falls-risk score` makes it: a request and, here, the model already loaded."""
    policy = TierPolicy(capacity=capacity, top_percent=top_percent, per=per or "overall")
    return run_scoring(ScoringRequest(extract, as_of, out, policy, **kw), model=loaded, progress=progress)


@pytest.fixture(scope="module")
def runs(world_dir, loaded, tmp_path_factory):
    """Two monthly runs in one output root; the first trains linkage, the second reuses it."""
    root = tmp_path_factory.mktemp("scoring") / "runs"
    extract = world_dir / "extract"
    nov = score(extract, NOV, root / "2025-11", loaded, capacity=40, keep_work=True)
    linkage_model = root.parent / "linkage_model.json"
    shutil.copy(root / ".work" / "2025-11" / "linkage" / "model.json", linkage_model)
    dec = score(extract, DEC, root / "2025-12", loaded, capacity=40, linkage_model=linkage_model)
    return {"root": root, "extract": extract, "nov": nov, "dec": dec, "linkage_model": linkage_model}


def test_outputs_of_a_month(runs, world_dir):
    out = runs["root"] / "2025-12"
    expected = {"risk_list.csv", "scores.parquet", "explanations.parquet", "summary.html", "manifest.json",
                "features.parquet", "alerts.parquet", "changes.parquet", "risers.parquet", "drift.csv",
                "alert_events_seen.parquet"}
    assert expected <= {p.name for p in out.iterdir()}
    assert not (runs["root"] / ".work" / "2025-12").exists()  # the working folder held identifiers

    scores = pd.read_parquet(out / "scores.parquet")
    assert scores["person_key"].is_unique and scores["probability"].between(0, 1).all()
    assert (scores["tier"] == "high").sum() == 40
    assert not DIRECT_IDENTIFIERS & set(scores.columns)

    explanations = pd.read_parquet(out / "explanations.parquet")
    assert set(scores.loc[scores["tier"] == "high", "person_key"]) <= set(explanations["person_key"])
    assert any(c.startswith("shap__") for c in explanations.columns)

    risk_list = pd.read_csv(out / "risk_list.csv", dtype=str)
    assert stat.S_IMODE((out / "risk_list.csv").stat().st_mode) == 0o600
    flagged = risk_list[risk_list["tier"] == "high"]
    assert len(flagged) == 40 and (flagged["reasons"].str.len() > 20).all()
    population = pd.read_csv(world_dir / "extract" / "population.csv", dtype=str)
    assert set(risk_list["nhs_number"]) <= set(population["nhs_number"].str.replace(" ", ""))
    assert risk_list["surname"].notna().all() and risk_list["address_line"].notna().all()

    # Nothing but the risk list names anyone.
    sample = set(risk_list["nhs_number"]) | set(risk_list["surname"])
    for name in ("summary.html", "manifest.json", "drift.csv"):
        text = (out / name).read_text(encoding="utf-8")
        assert not any(value in text for value in sample), name
    for name in ("scores.parquet", "explanations.parquet", "features.parquet", "alerts.parquet"):
        assert not DIRECT_IDENTIFIERS & set(pd.read_parquet(out / name).columns), name

    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: manifest["model"][k] for k in ("name", "version", "run_id")} == {
        "name": "falls-risk", "version": "7", "run_id": "run-abc"}
    assert manifest["row_counts"]["eligible"] == len(scores)
    assert set(manifest["timings_seconds"]) >= {"ingest", "linkage", "features", "scoring", "outputs"}
    assert "population.csv" in manifest["input_hashes"] and manifest["package_versions"]["lightgbm"]
    assert manifest["output_hash"] == output_hash(out)
    summary = (out / "summary.html").read_text()
    assert "Drift against the training population" in summary and "Entered the flagged tier" in summary


def test_ledger_answers_which_model_scored_whom(runs):
    entries = verify_ledger(runs["root"])
    assert [e["month"] for e in entries] == ["2025-11", "2025-12"]
    december = runs_for_month(runs["root"], "2025-12")[-1]
    assert december["model"] == {"name": "falls-risk", "version": "7", "run_id": "run-abc"}
    assert december["output_hash"] == output_hash(runs["root"] / december["output_dir"])
    lines = read_lines(runs["root"])  # each run: a pending line, then its completion after the rename
    assert [(line["month"], line["status"]) for line in lines] == [
        ("2025-11", "pending"), ("2025-11", "completed"), ("2025-12", "pending"), ("2025-12", "completed")]
    assert december["prev_hash"] == lines[1]["entry_hash"] and december["status"] == "completed"


def test_changes_risers_and_alerts_since_the_previous_run(runs):
    nov = pd.read_parquet(runs["root"] / "2025-11" / "scores.parquet")
    dec = pd.read_parquet(runs["root"] / "2025-12" / "scores.parquet")
    was = set(nov.loc[nov["tier"] == "high", "person_key"])
    now = set(dec.loc[dec["tier"] == "high", "person_key"])
    changes = pd.read_parquet(runs["root"] / "2025-12" / "changes.parquet")
    assert set(changes.loc[changes["change"] == "entered", "person_key"]) == now - was
    assert set(changes.loc[changes["change"] == "left", "person_key"]) == was - now

    risers = pd.read_parquet(runs["root"] / "2025-12" / "risers.parquet")
    assert len(risers) > 0 and (risers["rise"] > 0).all()
    assert (risers["why"].str.len() > 0).all()
    # Same model both months: the rise is all due to the person's features.
    assert risers["model_change_points"].abs().max() < 1e-6

    alerts = pd.read_parquet(runs["root"] / "2025-12" / "alerts.parquet")
    # Since November's run, or delivered late: dated earlier but not seen by November's run.
    seen = pd.read_parquet(runs["root"] / "2025-11" / "alert_events_seen.parquet")
    seen_keys = set(zip(seen["person_key"], seen["event_date"], seen["code"], strict=True))
    late = alerts[alerts["event_date"] < NOV]
    assert alerts["event_date"].max() <= date(2025, 11, 30)
    assert not {k for k in zip(late["person_key"], late["event_date"], late["code"], strict=True)} & seen_keys
    assert set(alerts["person_key"]) <= set(dec["person_key"])
    risk_list = pd.read_csv(runs["root"] / "2025-12" / "risk_list.csv", dtype=str)
    assert (risk_list["alerts"].fillna("") != "").sum() >= min(len(alerts), 1)
    # Everyone who left the flagged tier and is still eligible is named, with this month's reasons.
    still_eligible = (was - now) & set(dec["person_key"])
    left = risk_list[risk_list["listed_because"].str.contains("left the flagged tier")]
    assert len(left) == len(still_eligible) > 0
    assert (left["tier"] != "high").all() and (left["reasons"].fillna("").str.len() > 0).all()


def test_rerunning_a_month_is_idempotent_and_an_interrupted_rerun_leaves_it_intact(runs, loaded, monkeypatch):
    out = runs["root"] / "2025-12"
    before = {p.name: p.read_bytes() for p in out.iterdir()
              if p.is_file() and p.name not in ("manifest.json", "summary.html")}
    again = score(runs["extract"], DEC, out, loaded, capacity=40, linkage_model=runs["linkage_model"])
    assert not again.recorded and len(read_ledger(runs["root"])) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before

    manifest = (out / "manifest.json").read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("falls_risk.scoring.run_folder.render_summary", interrupted)
    with pytest.raises(KeyboardInterrupt):
        score(runs["extract"], DEC, out, loaded, capacity=40, linkage_model=runs["linkage_model"])
    assert (out / "manifest.json").read_bytes() == manifest
    assert len(read_ledger(runs["root"])) == 2
    assert not [p for p in runs["root"].iterdir() if p.name.endswith(".tmp")]


def test_unsafe_runs_are_refused(runs, loaded):
    root, extract = runs["root"], runs["extract"]
    with pytest.raises(ScoringError, match="in the future"):
        score(extract, date(2999, 1, 1), root / "2999-01", loaded, capacity=5)
    with pytest.raises(ScoringError, match="named for month 2025-11"):
        score(extract, DEC, root / "2025-11", loaded, capacity=5)
    stale = replace(loaded, model=_with_registry_version(loaded.model, "old-registry"))
    with pytest.raises(ScoringError, match="registry version 'old-registry'.*Retrain"):
        score(extract, date(2026, 1, 1), root / "2026-01", stale, capacity=5)
    with pytest.raises(ScoringError, match="older than the extract of the previous run"):
        score(extract, date(2026, 1, 1), root / "2026-01", loaded, capacity=5, extract_date=date(2025, 6, 30),
              linkage_model=runs["linkage_model"])
    assert not (root / "2026-01").exists() and len(read_ledger(root)) == 2


def _with_registry_version(model, version: str):
    import copy

    clone = copy.copy(model)
    clone.registry_version_ = version
    return clone


def test_the_champion_from_training_scores_with_its_own_linkage_model(world_dir, trained_model, tmp_path):
    """The real path: the model trained on the shared world, loaded from MLflow by its alias; the
    Splink model logged with its training run is reused, so linkage is not retrained."""
    root = tmp_path / "runs"
    result = score(world_dir / "extract", DEC, root / "2025-12", top_percent=5, per="local_authority",
                   model_uri=trained_model.model_uri, tracking_uri=trained_model.tracking_uri)
    assert result.manifest.model.version == str(trained_model.version)
    assert result.manifest.model.run_id == trained_model.run_id
    assert not any("linkage was trained" in w for w in result.warnings)

    scores = pd.read_parquet(root / "2025-12" / "scores.parquet")
    sizes = scores.groupby("local_authority").size()
    flagged = scores[scores["tier"] == "high"].groupby("local_authority").size().reindex(sizes.index, fill_value=0)
    assert (flagged == (sizes * 5 + 99) // 100).all()  # 5% rounded up, in each local authority
    drift = pd.read_csv(root / "2025-12" / "drift.csv")
    assert "score" in set(drift["variable"]) and drift["psi"].notna().all()
