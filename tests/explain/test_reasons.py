"""Reasons: each person's largest contributions, ranked, grouped, and told in plain language."""

from __future__ import annotations

import numpy as np
import pytest

from falls_risk.errors import FallsRiskError
from falls_risk.explain import compute_contributions, explain, explanation_summary
from tests.explain.explain_fixtures import SPECS


def test_a_person_seen_at_two_index_dates_gets_the_reasons_of_each_row(model, data):
    X, _ = data
    rows = X.iloc[:6].copy()
    rows.index = ["pk-a", "pk-a", "pk-b", "pk-b", "pk-c", "pk-c"]  # one person, several dates
    texts = explain(model, rows, specs=SPECS).reasons_text()
    alone = explain(model, X.iloc[:6].reset_index(drop=True), specs=SPECS).reasons_text()
    assert list(texts.index) == list(rows.index)
    assert texts.tolist() == alone.tolist()


def test_top_reason_names_the_persons_own_ambulance_calls(model, data):
    X, _ = data
    frame = X.iloc[:300].copy()
    frame.loc[frame.index[0], ["amb_nc_365d", "amb_nc_ever"]] = [2.0, 2.0]
    exp = explain(model, frame, specs=SPECS, top_n=3)
    reasons = exp.reasons()
    first = reasons[(reasons["row"] == frame.index[0]) & (reasons["rank"] == 1)].iloc[0]
    assert first["agency"] == "ambulance service"
    assert first["direction"] == "raises"
    assert first["contribution"] > 0
    assert "2 ambulance calls for a fall where they were not taken to hospital" in first["text"]
    text = exp.reasons_text().loc[frame.index[0]]
    assert text.startswith("Ambulance service: 2 ambulance calls for a fall")
    assert "raises risk by" in text


def test_reasons_are_ranked_by_size_and_lowering_reasons_are_available(explanation):
    raises = explanation.reasons(top_n=3)
    lowers = explanation.reasons(top_n=3, direction="lowers")
    assert (raises["contribution"] > 0).all() and (raises["direction"] == "raises").all()
    assert (lowers["contribution"] < 0).all() and (lowers["direction"] == "lowers").all()
    assert lowers["text"].str.len().gt(0).all()
    for _, group in raises.groupby("row"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["contribution"].is_monotonic_decreasing
    assert raises.groupby("row").size().max() == 3


def test_window_families_make_one_reason_with_their_summed_contribution(explanation):
    grouped = explanation.reasons(top_n=10, direction=None)
    per_row = grouped.groupby("row")["text"].apply(lambda t: t.str.contains("ambulance calls").sum())
    assert per_row.max() <= 1
    ungrouped = explanation.reasons(top_n=10, direction=None, group_windows=False)
    row = ungrouped["row"].iloc[0]
    fam = explanation.contributions.loc[row, ["amb_nc_365d", "amb_nc_ever"]].sum()
    amb = grouped[(grouped["row"] == row) & (grouped["agency"] == "ambulance service")]
    if len(amb):
        assert amb["contribution"].iloc[0] == pytest.approx(fam)


def test_reasons_text_groups_reasons_under_each_agency_once(explanation):
    texts = explanation.reasons_text(top_n=4, direction=None)
    assert len(texts) == 300
    for text in texts:
        for agency in ("Ambulance service:", "Social care:", "Police:", "Demographics:", "Housing:"):
            assert text.count(agency) <= 1


def test_agency_contributions_add_up_to_the_persons_total(explanation):
    by_agency = explanation.agency_contributions()
    assert set(by_agency.columns) == {"demographics", "housing", "ambulance service", "social care",
                                      "health board", "police"}
    np.testing.assert_allclose(by_agency.sum(axis=1), explanation.contributions.sum(axis=1))


def test_bad_parameters_name_the_parameter(explanation, model, data):
    with pytest.raises(FallsRiskError, match="top_n"):
        explanation.reasons(top_n=0)
    with pytest.raises(FallsRiskError, match="direction"):
        explanation.reasons(direction="up")
    with pytest.raises(FallsRiskError, match="backend"):
        compute_contributions(model, data[0], backend="kernel")


def test_global_importance_puts_the_strongest_driver_on_top(model, data):
    X, _ = data
    exp = explain(model, X, specs=SPECS)
    table = explanation_summary(exp)
    assert table["feature"].iloc[0] in {"amb_nc_365d", "amb_nc_ever", "tenure", "age"}
    assert table["mean_abs_shap"].is_monotonic_decreasing


def test_no_rows_gives_no_reasons(model, data):
    X, _ = data
    exp = explain(model, X.iloc[:0], specs=SPECS)
    assert exp.reasons().empty
    assert exp.reasons_text().empty
