"""The monthly summary page: drift shows only what moved (with a reference-vs-now chart), the
tiers are defined, and a data-quality section shows quarantine counts and link rates by source."""

from __future__ import annotations

import numpy as np
import pandas as pd

from falls_risk.modelling.drift import build_reference
from falls_risk.scoring.drift import drift_table
from falls_risk.scoring.summary import render_summary, summary_data

MANIFEST = {
    "month": "2026-03", "as_of": "2026-03-01", "extract_date": "2026-02-28",
    "model": {"name": "falls-risk", "version": "4", "run_id": "abc"}, "policy_text": "capacity 40 overall",
    "row_counts": {}, "timings_seconds": {}, "code_version": {"package": "0.1.0", "commit": None, "dirty": None},
    "ingest": {
        "police_incidents": {"read": 1000, "accepted": 990, "quarantined": 10},
        "gp_events": {"read": 5000, "accepted": 5000, "quarantined": 0},
        "population": {"read": 300, "accepted": 298, "quarantined": 2},
    },
    "linkage": {"sources": {
        "police_incidents": {"rows": 990, "nhs_number": 0, "probabilistic": 733, "unlinked": 257},
        "gp_events": {"rows": 5000, "nhs_number": 4950, "probabilistic": 0, "unlinked": 50},
    }},
}


def _page(registry_specs):
    specs = [s for s in registry_specs if s.name in ("age", "polypharmacy_90d", "lives_alone")]
    rng = np.random.default_rng(0)
    before = pd.DataFrame({"age": rng.normal(78, 6, 2000), "polypharmacy_90d": rng.poisson(3, 2000).astype(float),
                           "lives_alone": rng.integers(0, 2, 2000).astype(float)})
    now = before.copy()
    now["polypharmacy_90d"] = rng.poisson(8, 2000).astype(float)  # a change in recording
    reference = build_reference(before, specs, rng.uniform(0, 0.2, 2000))
    scores = pd.DataFrame({"person_key": [f"k{i}" for i in range(2000)], "probability": rng.uniform(0, 0.2, 2000),
                           "tier": ["high"] * 40 + ["moderate"] * 40 + ["low"] * 1920})
    drift = drift_table(reference, now, probability=scores["probability"])
    data = summary_data(manifest=MANIFEST, scores=scores, drift=drift, warnings=[],
                        alerts=pd.DataFrame(columns=["person_key", "alert", "tier"]), changes=None, risers=None,
                        horizon_days=365, reference=reference, features=now)
    return data, render_summary(data)


def test_drift_lists_only_what_moved_with_a_reference_and_current_chart(registry_specs):
    data, html = _page(registry_specs)
    assert [d["variable"] for d in data["drift"]] == ["polypharmacy_90d"]
    assert data["drift_stable"] == 3  # age, lives alone and the score
    assert data["drift"][0]["svg"].startswith("<svg") and "this month" in data["drift"][0]["svg"]
    assert "3 stable ones are not" in html and ">age<" not in html


def test_tiers_are_defined_and_data_quality_shows_each_source(registry_specs):
    data, html = _page(registry_specs)
    assert "<strong>high</strong> is the flagged tier (capacity 40 overall)" in html
    assert "<strong>moderate</strong> is the next band of the same size" in html
    quality = {q["source"]: q for q in data["data_quality"]}
    assert quality["police incidents"]["link_rate"] == 733 / 990 and quality["police incidents"]["low"]
    assert quality["gp events"]["link_rate"] == 0.99 and not quality["gp events"]["low"]
    assert quality["population"]["quarantined"] == "<5" and quality["population"]["link_rate"] is None
    assert quality["police incidents"]["quarantined_share"] == 0.01
    assert 'class="n status-warning">74.0%' in html
