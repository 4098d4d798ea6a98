"""The commissioners' report reads right: whole-word labels, agencies that are agencies, a
capacity table that does not mix totals with monthly counts, subgroups with intervals, and a
beeswarm that says its dots are person-months."""

from __future__ import annotations

import re

import pytest

from falls_risk.features.wording import short_text
from falls_risk.reporting.summary import auroc_interval, observed_expected_interval, wilson_interval


def test_labels_are_cut_at_word_boundaries():
    text = "days since their last emergency department attendance for a fall"
    cut = short_text(text, 30)
    assert cut == "days since their last…" and len(cut) <= 30
    assert short_text("short", 30) == "short"


def test_importance_labels_are_whole_words(report_summary):
    for row in report_summary["importance"]:
        label = row["short_label"] if isinstance(row, dict) else row
        head = label.split(" (")[0]
        if head.endswith("…"):
            words = head[:-1].split()
            assert words[-1] in row["label"].split() or words[-1].rstrip(",") in row["label"], label


def test_the_agency_view_shows_agencies_only(report_summary, report_html):
    agencies = {row["agency"] for row in report_summary["agencies"]}
    assert agencies and not agencies & {"demographics", "linkage"}
    assert {g["name"] for g in report_summary["not_agencies"]} <= {"demographics", "linkage"}
    assert "Not agencies, so not shown here" in report_html


def test_capacity_table_says_per_month_and_totals_apart(report_summary, report_html):
    months = report_summary["data"]["test_months"]
    for row in report_summary["capacity"]:
        assert row["listed_total"] == row["people_per_month"] * months
    assert f"All {months} monthly lists together: admitted of listed" in report_html
    assert re.search(r"<td class=\"n\">[^<]* of 10</td>", report_html)


def test_subgroup_results_carry_95_percent_intervals(report_summary):
    shown = [r for r in report_summary["subgroups"] if r["oe"] not in ("–", "<5")]
    assert shown
    for row in shown:
        assert re.fullmatch(r"\d\.\d\d \(\d\.\d\d to \d+\.\d\d\)", row["oe"]), row["oe"]
        assert row["oe_low"] <= float(row["oe"].split()[0]) <= row["oe_high"]
        assert re.fullmatch(r"0\.\d{3} \(0\.\d{3} to [01]\.\d{3}\)", row["auroc"]), row["auroc"]


def test_interval_formulas_match_known_values():
    # Wilson 3/14 and the exact Poisson interval for 14 observed (Garwood: 7.65 to 23.49).
    assert wilson_interval(3, 14) == pytest.approx((0.0757, 0.4759), abs=1e-4)
    low, high = observed_expected_interval(14, 14 / 0.51)
    assert (low, high) == pytest.approx((7.654 * 0.51 / 14, 23.490 * 0.51 / 14), abs=1e-3)
    assert auroc_interval(0.75, 50, 1000) == pytest.approx((0.670, 0.830), abs=1e-3)


def test_the_beeswarm_says_its_dots_are_person_months(report_html):
    caption = re.search(r'<figure data-figure="beeswarm">.*?</figure>', report_html, re.DOTALL).group(0)
    assert "person-month" in caption and "Each dot is one person:" not in caption
