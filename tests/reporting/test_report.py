"""The commissioners' report: every section filled from the run record, self-contained, no identifiers."""

from __future__ import annotations

import base64
import copy
import re

import numpy as np
import pytest

from falls_risk.errors import ModelError
from falls_risk.reporting.render import render_report
from falls_risk.reporting.summary import capacity_table, collect_summary, label_horizon_days, metrics_table
from falls_risk.templating import TEMPLATE_DIR

SECTIONS = ("summary", "drivers", "agencies", "performance", "capacity", "subgroups", "model-card")


def _png(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,")
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_every_section_and_figure_is_present(report_html, report_summary):
    for section in SECTIONS:
        assert f'id="{section}"' in report_html
    for name in ("importance", "beeswarm", "agencies", "roc", "calibration", "decision_curve"):
        assert len(_png(report_summary["figures"][name])) > 5_000
    assert len(report_summary["dependence"]) == 6
    for dep in report_summary["dependence"]:
        _png(dep["uri"])
    assert report_html.count("<img ") == 6 + 6


def test_the_page_is_self_contained(report_html):
    # Nothing fetched at view time: no external scripts, styles, fonts or images.
    assert not re.search(r"""(src|href)=["'](https?:)?//""", report_html)
    assert "<script" not in report_html
    assert "<link" not in report_html
    assert "@import" not in report_html and "url(" not in report_html


def test_no_identifier_appears(report_html, report_split, report_summary):
    keys = set(report_split.test["person_key"]) | set(report_split.train["person_key"])
    assert "person_key" not in report_html
    found = [k for k in list(keys)[:2000] if k in report_html]
    assert not found
    # The summary (also written as JSON) holds no key either.
    assert not any(k in repr(report_summary) for k in list(keys)[:200])


def test_strongest_driver_leads_global_importance_and_the_agency_table(report_summary):
    assert report_summary["importance"][0]["agency"] == "ambulance service"
    agencies = report_summary["agencies"]
    assert agencies[0]["agency"] == "ambulance service"
    assert sum(a["share"] for a in agencies) == pytest.approx(1.0)
    assert {a["agency"] for a in agencies} == {
        "ambulance service", "health board", "police", "social care", "housing",  # agencies only
    }


def test_retraining_without_the_ambulance_data_costs_the_most_auroc(report_summary):
    changes = {a["agency"]: a["auroc_change"] for a in report_summary["agencies"]}
    assert changes["ambulance service"] < -0.02
    assert min(changes, key=changes.get) == "ambulance service"
    assert abs(changes["housing"]) < 0.01  # a feature with no signal adds nothing


def test_metrics_come_from_the_run_record_with_intervals(report_summary, report_record):
    auroc = next(m for m in report_summary["metrics"] if m["key"] == "auroc")
    assert auroc["value"] == f"{report_record.metrics['test_auroc']:.3f}"
    assert auroc["ci"] == (
        f"{report_record.metrics['test_auroc_ci_low']:.3f} to {report_record.metrics['test_auroc_ci_high']:.3f}"
    )
    assert auroc["value"] in report_summary["headline"]


def test_capacity_table_counts_admissions_among_the_top_n_each_month(report_split, report_model):
    test = report_split.test
    p = report_model.predict_proba(test)
    rows = capacity_table(test, p, (10, 50))
    # By hand: the top 10 per index date.
    frame = test.assign(p=p).sort_values(["index_date", "p"], ascending=[True, False])
    top = frame.groupby("index_date").head(10)
    assert int(rows[0]["admissions"].replace(",", "")) == int(top["label"].sum())
    assert rows[0]["ppv"] == f"{top['label'].mean():.1%}"
    assert int(rows[1]["admissions"].replace(",", "")) >= int(top["label"].sum())
    assert rows[0]["threshold"] >= rows[1]["threshold"]


def test_small_counts_are_suppressed_in_the_capacity_and_subgroup_tables(report_summary, report_html):
    one = next(r for r in report_summary["capacity"] if r["people_per_month"] == 1)
    assert one["admissions"] == "<5"  # top 1 a month over 6 months: a small count, hidden in the JSON too
    assert one["ppv"] == "–" and one["admissions_per_month"] == "–"
    row = re.search(r'<tr><td class="n">1</td>.*?</tr>', report_html, re.DOTALL).group(0)
    assert "&lt;5" in row
    for sub in report_summary["subgroups"]:
        for key in ("people", "events"):
            assert not re.fullmatch(r"[1-4]", sub[key])


def test_model_card_fills_every_item_the_run_record_can(report_summary):
    card = {item["number"]: item for item in report_summary["model_card"]}
    must = ("5a", "5b", "6a", "6b", "8a", "9a", "10", "11", "12a", "12c", "12e", "12f", "13", "14", "15",
            "21", "22", "23a", "23b")
    for number in must:
        assert card[number]["text"], number
    assert "2023-07-01" in card["5b"]["text"]  # the test period
    assert "365 days" in card["8a"]["text"]
    assert "10 predictors" in card["9a"]["text"]
    assert "platt" in card["12f"]["text"] or "isotonic" in card["12f"]["text"]
    assert "AUROC" in card["23a"]["text"] and "interval" in card["23a"]["text"]
    assert not card["17"]["text"]  # ethics: the run cannot know


def test_a_model_without_trees_is_refused(report_record, report_split):
    from dataclasses import replace

    from falls_risk.modelling.model import FallsRiskModel

    s = report_split
    logistic = FallsRiskModel(kind="age_sex_logistic", specs=report_record.model.specs_).fit(s.train, s.train["label"])
    with pytest.raises(ModelError, match="tree models"):
        collect_summary(replace(report_record, model=logistic), s, ablation=False)


def test_reasons_in_the_report_read_as_plain_language(report_model, report_split):
    from falls_risk.explain import explain

    test = report_split.test.reset_index(drop=True)
    exp = explain(report_model, test.iloc[:200])
    texts = exp.reasons_text()
    assert texts.str.contains("ambulance call").any()
    assert not texts.str.contains("_").any()


@pytest.mark.parametrize(("horizon_days", "said"), [(365, "12 months"), (730, "2 years"), (90, "90 days")])
def test_the_report_states_the_models_own_label_horizon(report_model, horizon_days, said):
    from dataclasses import replace

    from falls_risk.config import FeatureConfig
    from tests.scoring.test_safety import _training_record

    model = copy.copy(report_model)
    record = _training_record()
    model.training_record_ = replace(
        record, data=replace(record.data, feature_config=FeatureConfig(label_horizon_days=horizon_days)))
    assert label_horizon_days(model) == horizon_days
    y, p = np.array([0, 1] * 10), np.linspace(0.05, 0.6, 20)
    prevalence = next(m for m in metrics_table({}, y, p, horizon_days=horizon_days) if m["key"] == "prevalence")
    assert prevalence["meaning"].endswith(f"within {said}.")



def test_the_report_template_says_the_horizon_it_is_given(report_summary):
    html = render_report({**report_summary, "horizon": "2 years"})
    assert "Of each month's list, admitted for a fall within 2 years" in html
    assert "fall admission in the following 2 years" in html


def test_no_template_hard_codes_the_label_horizon():
    for template in TEMPLATE_DIR.glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"12[- ]month|365|within a year", text), template.name
